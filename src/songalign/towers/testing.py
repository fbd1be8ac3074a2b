"""Build tiny, randomly initialised Hugging Face CLAP checkpoints for tests and examples (no download).

``write_tiny_clap(folder)`` writes what ``ClapModel.from_pretrained`` / ``ClapProcessor.from_pretrained``
read from a hub checkpoint — ``config.json``, weights, ``preprocessor_config.json``, tokenizer files —
for a model small enough to build and run in well under a second. The tokenizer is a byte-level BPE
(RoBERTa) tokenizer over the 256 byte symbols plus a handful of merges, so it tokenises any text.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

TINY_SAMPLE_RATE = 16000
TINY_CLIP_SECONDS = 1
TINY_PROJECTION_DIM = 24
TINY_AUDIO_HIDDEN = 32
TINY_TEXT_POSITIONS = 40  # RoBERTa positions start after the pad index: 40 − 1 − 1 = 38 usable tokens
TINY_AUDIO_SCALE = 21.0
"""exp(logit_scale_a) of the tiny checkpoint: differs from TINY_TEXT_SCALE so that swapping the two fails a test."""
TINY_TEXT_SCALE = 6.5
"""exp(logit_scale_t) of the tiny checkpoint."""


def features_tensor(output: Any) -> Any:
    """The tensor ``ClapModel.get_audio_features`` / ``get_text_features`` give, ``(B, projection_dim)``
    normalised: transformers 4 returns it, transformers 5 an output holding it as ``pooler_output``."""
    return getattr(output, "pooler_output", output)


def byte_symbols() -> list[str]:
    """The 256 printable stand-ins byte-level BPE uses for bytes (GPT-2's ``bytes_to_unicode`` order)."""
    printable = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1))
    printable += list(range(ord("®"), ord("ÿ") + 1))
    codes, extra = [], 0
    for byte in range(256):
        if byte in printable:
            codes.append(byte)
        else:
            codes.append(256 + extra)
            extra += 1
    return [chr(code) for code in codes]


def tiny_clap_tokenizer() -> Any:
    """A RoBERTa tokenizer with special tokens ``<s>=0 <pad>=1 </s>=2 <unk>=3 <mask>=4``, 256 bytes, 4 merges."""
    import json
    import tempfile

    from transformers import RobertaTokenizer

    vocab = {"<s>": 0, "<pad>": 1, "</s>": 2, "<unk>": 3, "<mask>": 4}
    for symbol in byte_symbols():
        vocab.setdefault(symbol, len(vocab))
    merges = [("Ġ", "t"), ("h", "e"), ("Ġt", "he"), ("o", "u")]
    for left, right in merges:
        vocab.setdefault(left + right, len(vocab))
    # from files: the one constructor transformers 4 (vocab_file, merges_file) and 5 (vocab, merges) share
    with tempfile.TemporaryDirectory() as folder:
        (Path(folder) / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
        lines = "".join(f"{left} {right}\n" for left, right in merges)
        (Path(folder) / "merges.txt").write_text("#version: 0.2\n" + lines, encoding="utf-8")
        return RobertaTokenizer.from_pretrained(folder)


def tiny_clap_config(vocab_size: int, enable_fusion: bool = False) -> Any:
    """A ``ClapConfig`` with 2-layer, 32-wide towers (as in transformers' own CLAP tests)."""
    from transformers import ClapConfig

    text = {
        "vocab_size": vocab_size,
        "hidden_size": 32,
        "num_hidden_layers": 2,
        "num_attention_heads": 4,
        "intermediate_size": 37,
        "max_position_embeddings": TINY_TEXT_POSITIONS,
        "pad_token_id": 1,
        "bos_token_id": 0,
        "eos_token_id": 2,
    }
    audio = {
        "num_mel_bins": 16,
        "spec_size": 64,
        "window_size": 4,
        "patch_size": 2,
        "patch_stride": 2,
        "hidden_size": TINY_AUDIO_HIDDEN,
        "patch_embeds_hidden_size": 16,
        "depths": [2, 2],
        "num_attention_heads": [2, 2],
        "num_hidden_layers": 2,
        "enable_fusion": enable_fusion,
        "fusion_type": "aff_2d" if enable_fusion else None,
    }
    return ClapConfig(text_config=text, audio_config=audio, projection_dim=TINY_PROJECTION_DIM)


def write_tiny_clap(
    folder: str | Path,
    seed: int = 0,
    enable_fusion: bool = False,
    audio_scale: float = TINY_AUDIO_SCALE,
    text_scale: float = TINY_TEXT_SCALE,
) -> Path:
    """Write a tiny random ``ClapModel`` with its processor (16 kHz, 1 s clips, 16 mels) to ``folder``.

    Its logit scales are set to ``exp(logit_scale_a) = audio_scale`` and ``exp(logit_scale_t) =
    text_scale`` (not the shared initial 1/0.07), as a trained checkpoint's would be.
    """
    import math

    import torch
    from transformers import ClapFeatureExtractor, ClapModel, ClapProcessor

    folder = Path(folder)
    tokenizer = tiny_clap_tokenizer()
    extractor = ClapFeatureExtractor(
        feature_size=16,
        sampling_rate=TINY_SAMPLE_RATE,
        hop_length=160,
        max_length_s=TINY_CLIP_SECONDS,
        fft_window_size=400,
        frequency_min=50,
        frequency_max=8000,
        truncation="fusion" if enable_fusion else "rand_trunc",
        padding="repeatpad",
    )
    tokenizer.model_max_length = 512
    torch.manual_seed(seed)
    model = ClapModel(tiny_clap_config(len(tokenizer), enable_fusion)).eval()
    with torch.no_grad():
        model.logit_scale_a.fill_(math.log(audio_scale))
        model.logit_scale_t.fill_(math.log(text_scale))
    model.save_pretrained(folder)
    ClapProcessor(feature_extractor=extractor, tokenizer=tokenizer).save_pretrained(folder)
    return folder
