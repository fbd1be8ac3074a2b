"""The ``wav2vec2`` acoustic backend: transformers' ``Wav2Vec2ForCTC`` and its processor, a CTC backend.

The model and processor load from a folder (``save_pretrained``'s) or a Hugging Face id already in the local
cache (MMS, a wav2vec2 fine-tuned on lyrics); nothing is downloaded at run time. It hears one channel (the
vocals; the mix when the vocal channel is a copy) at 16 kHz, in chunks of :data:`CHUNK_SECONDS` whose
log-probabilities are joined (frames of ``inputs_to_logits_ratio`` samples, 20 ms for the usual
convolutions). Its vocabulary is mapped onto songalign's symbols (:class:`~songalign.transcribe.backends.CtcVocabulary`:
the pad token is the blank, the word delimiter ``|`` the space, letters in either case), so alignment is our
Viterbi (:func:`~songalign.transcribe.trust.align_scored`) and scores are CTC log-likelihoods
(:func:`~songalign.transcribe.rank.ctc_log_likelihoods`) — the same code as ``crnn``'s.
The languages are the model's: ``language`` in its config when it says, else ``("english",)``, the letters
it maps.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from songalign.errors import SongalignError
from songalign.transcribe.backends import CtcBackend, CtcVocabulary, Sound
from songalign.transcribe.symbols import SAMPLE_RATE

CHUNK_SECONDS = 20.0
"""Seconds of audio the model hears at once (self-attention's memory grows with the square of the length)."""


class Wav2Vec2Backend(CtcBackend):
    """A ``Wav2Vec2ForCTC`` (module docstring) from ``model`` (a folder or a cached id) on ``device``."""

    name = "wav2vec2"

    def __init__(self, model: str | Path | None = None, device: str = "cpu") -> None:
        if model is None:
            raise SongalignError(
                "the wav2vec2 backend needs a model; give --model a Wav2Vec2ForCTC folder or a cached Hugging Face id"
            )
        from transformers import Wav2Vec2ForCTC, Wav2Vec2Processor

        source = str(Path(model).expanduser()) if Path(str(model)).expanduser().is_dir() else str(model)
        try:
            self.processor = Wav2Vec2Processor.from_pretrained(source, local_files_only=True)
            self.model = Wav2Vec2ForCTC.from_pretrained(source, local_files_only=True).to(device).eval()
        except (OSError, ValueError):  # not there; a path that is no folder is no valid id either
            raise SongalignError(
                f"the wav2vec2 model {model} is neither a Wav2Vec2ForCTC folder with its processor nor in the local "
                f"Hugging Face cache (nothing is downloaded at run time); fetch it with `huggingface-cli download "
                f"{model}` or give a folder"
            ) from None
        self.model_name = str(model)
        self.device = device
        tokenizer = self.processor.tokenizer
        self.vocabulary = CtcVocabulary(
            tokenizer.get_vocab(), blank=tokenizer.pad_token, word_delimiter=tokenizer.word_delimiter_token or "|"
        )
        language = getattr(self.model.config, "language", None)
        self.languages = (language,) if isinstance(language, str) else ("english",)
        self.samples_per_frame = int(self.model.config.inputs_to_logits_ratio)
        self.activity_seconds = self.samples_per_frame / SAMPLE_RATE
        self.digest = _digest(Path(source)) if Path(source).is_dir() else ""

    def describe(self) -> str:
        return f"wav2vec2 {self.model_name}"

    def model_log_probs(self, sound: Sound) -> np.ndarray:
        """The model's own log-probabilities ``(T, V_model)`` (log-softmax of its logits), float32."""
        import torch

        voice = sound.at(SAMPLE_RATE).voice.astype(np.float32)
        chunk = int(CHUNK_SECONDS * SAMPLE_RATE) // self.samples_per_frame * self.samples_per_frame
        pieces = []
        with torch.inference_mode():
            for start in range(0, max(len(voice), 1), chunk):
                inputs = self.processor(voice[start : start + chunk], sampling_rate=SAMPLE_RATE, return_tensors="pt")
                logits = self.model(inputs.input_values.to(self.device)).logits[0]
                pieces.append(torch.log_softmax(logits.float(), dim=-1).cpu().numpy())
        return np.concatenate(pieces)

    def emissions(self, sound: Sound) -> tuple[np.ndarray, float]:
        return self.vocabulary.emissions(self.model_log_probs(sound)), self.activity_seconds


def _digest(folder: Path) -> str:
    """:func:`~songalign.checkpoint.files_digest` of the folder's weight files (safetensors, else bin)."""
    from songalign.checkpoint import files_digest

    weights = sorted(folder.glob("*.safetensors")) or sorted(folder.glob("*.bin"))
    return files_digest(weights) if weights else ""
