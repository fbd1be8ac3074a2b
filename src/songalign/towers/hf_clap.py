"""Hugging Face CLAP towers: ``hf_clap_audio`` (HTSAT) and ``hf_clap_text`` (RoBERTa).

Both load with ``from_pretrained(model)`` where ``model`` is a Hugging Face id (default
``laion/clap-htsat-unfused``; offline it must already be in the local Hugging Face cache) or a
local folder holding a ``ClapModel`` checkpoint (``config.json`` + weights) with its processor
files (``preprocessor_config.json`` for audio, tokenizer files for text). Only the half that is
needed is loaded (``ClapAudioModelWithProjection`` / ``ClapTextModelWithProjection`` read the
matching weights of a full ``ClapModel`` checkpoint), through :func:`songalign.hub.load_pretrained`
(local files first, one clear error). With ``use_projection`` (the default) each tower includes
CLAP's own projection into its shared space, so the pair of towers *is* the checkpoint's model:
:func:`songalign.align.pretrained.clap_pre` joins them with no head of ours and with the logit
scale :func:`read_clap_checkpoint` reads.

Determinism. ``ClapFeatureExtractor`` crops clips longer than its ``max_length_s`` at a *random*
offset (``rand_trunc``), or stacks random crops (``fusion``), and with ``fusion`` marks a random
clip of a batch as "longer". This tower never lets it: it cuts every waveform to at most the
extractor's ``nb_max_samples`` itself — the centre window by default, or the first window
(``crop="start"``) — before calling the extractor, and passes ``is_longer = False`` to the model.
Shorter clips are padded by the extractor's own deterministic rule (``repeatpad`` for LAION's
checkpoints). The tower says so (``fits_length_itself``), so :class:`~songalign.align.model.AlignModel`
and the feature cache hand it clips as they are, never zero-padded or cut first. Long songs are
handled upstream by fixed windows (``AlignModel.embed_audio``).

Transformers 4.40 and 5 both work: the towers call the half-models' ``audio_model`` /
``text_model`` and projections, whose outputs are the same in both.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch

from songalign.errors import MissingDependencyError, SongalignError
from songalign.hub import load_pretrained
from songalign.towers.base import AudioTower, TextTower, as_waveform_batch, resolve_overlap
from songalign.towers.chunking import chunk_text

DEFAULT_CLAP = "laion/clap-htsat-unfused"
CROPS = ("centre", "start")


def _transformers() -> Any:
    try:
        import transformers
    except ImportError as error:
        raise MissingDependencyError("transformers", "the Hugging Face CLAP towers") from error
    return transformers


@dataclass(frozen=True)
class ClapCheckpoint:
    """What a ``ClapModel`` checkpoint says about itself, beyond its two towers.

    ``logit_scale_audio`` / ``logit_scale_text`` are its ``logit_scale_a`` / ``logit_scale_t``
    (logs of the scales). ``ClapModel.forward`` multiplies ``audio @ text.T`` by
    ``exp(logit_scale_a)`` for ``logits_per_audio`` (audio queries ranking texts) and
    ``text @ audio.T`` by ``exp(logit_scale_t)`` for ``logits_per_text``. LAION's training loss
    uses ``logit_scale_a`` for both directions (``logit_scale_t`` only scales its optional MLP
    features), so ``logit_scale_a`` is the trained one.
    """

    source: str
    sample_rate: int
    clip_seconds: float
    projection_dim: int
    logit_scale_audio: float
    logit_scale_text: float


CLAP_WEIGHT_FILES = ("model.safetensors", "pytorch_model.bin")
"""Where a ``ClapModel`` checkpoint keeps its weights, in the order they are looked for."""
CLAP_SCALES = ("logit_scale_a", "logit_scale_t")


def _weights_file(source: str, local_files_only: bool = False) -> str:
    """The path of a checkpoint's weights file (safetensors first): in its folder, the HF cache, or downloaded.

    Shaped as a loader for :func:`songalign.hub.load_pretrained` (``OSError`` when there is none).
    """
    from transformers.utils import cached_file

    missing: list[str] = []
    for name in CLAP_WEIGHT_FILES:
        try:
            found = cached_file(source, name, local_files_only=local_files_only)
        except OSError as error:
            missing.append(f"{name}: {(str(error).splitlines() or [''])[0]}")
            continue
        if found:
            return str(found)
    raise OSError("; ".join(missing) or f"none of {', '.join(CLAP_WEIGHT_FILES)}")


def _read_scalars(weights: str, names: tuple[str, ...], source: str) -> dict[str, float]:
    """The 0-d tensors ``names`` of a weights file, without reading the rest (safetensors) or building a model."""
    if weights.endswith(".safetensors"):
        from safetensors import safe_open

        with safe_open(weights, framework="pt") as handle:
            present = set(handle.keys())
            values = {name: float(handle.get_tensor(name)) for name in names if name in present}
    else:
        state = torch.load(weights, map_location="cpu", weights_only=True, mmap=True)
        values = {name: float(state[name]) for name in names if name in state}
    absent = [name for name in names if name not in values]
    if absent:
        raise SongalignError(
            f"{source}: its weights ({Path(weights).name}) hold no {' or '.join(absent)}, so it is not a whole "
            "ClapModel checkpoint; give one saved from ClapModel (both towers and their logit scales)"
        )
    return values


def read_clap_checkpoint(model: str = DEFAULT_CLAP) -> ClapCheckpoint:
    """Sample rate, clip length, shared-space size and logit scales of a CLAP checkpoint (HF id or folder).

    Reads ``config.json``, the feature extractor's config and the two logit-scale scalars of the
    weights file (local files first, :func:`songalign.hub.load_pretrained`); no model is built.
    """
    transformers = _transformers()
    config = load_pretrained(transformers.ClapConfig, model, "CLAP checkpoint config")
    extractor = load_pretrained(transformers.ClapFeatureExtractor, model, "CLAP feature extractor")
    weights = load_pretrained(_weights_file, model, "CLAP checkpoint weights")
    scales = _read_scalars(weights, CLAP_SCALES, str(model))
    return ClapCheckpoint(
        source=str(model),
        sample_rate=int(extractor.sampling_rate),
        clip_seconds=float(extractor.nb_max_samples) / float(extractor.sampling_rate),
        projection_dim=int(config.projection_dim),
        logit_scale_audio=scales["logit_scale_a"],
        logit_scale_text=scales["logit_scale_t"],
    )


def crop_to(waveform: np.ndarray, samples: int, crop: str = "centre") -> np.ndarray:
    """The ``samples``-long window of ``waveform`` (centre or start); shorter waveforms are returned as is."""
    if len(waveform) <= samples:
        return waveform
    offset = (len(waveform) - samples) // 2 if crop == "centre" else 0
    return waveform[offset : offset + samples]


def clap_features(extractor: Any, waveform: np.ndarray | torch.Tensor, crop: str = "centre") -> torch.Tensor:
    """A ``ClapFeatureExtractor``'s features of mono audio at its ``sampling_rate``, each clip first cut to at most
    its ``nb_max_samples`` (:func:`crop_to`), so that none is cropped at random: ``(samples,)`` →
    ``(C, frames, n_mels)``, ``(B, samples)`` → ``(B, C, frames, n_mels)`` float32 (dB)."""
    signal, single = as_waveform_batch(waveform)
    clips = [crop_to(row.numpy(), int(extractor.nb_max_samples), crop).astype(np.float64) for row in signal]
    extracted = extractor(clips, sampling_rate=int(extractor.sampling_rate), return_tensors="np")
    result = torch.from_numpy(np.asarray(extracted["input_features"], dtype=np.float32))
    return result[0] if single else result


class HfClapAudioTower(AudioTower):
    """CLAP's HTSAT audio encoder (+ its audio projection) as an audio tower.

    Features (``feature_kind = "clap"``): the checkpoint's ``ClapFeatureExtractor`` output for one
    clip, ``(C, frames, n_mels)`` float32 — ``C = 1`` for ``rand_trunc`` checkpoints such as
    ``laion/clap-htsat-unfused`` (1001 frames × 64 mels for 10 s at 48 kHz, hop 10 ms, dB scale),
    ``C = 4`` for ``fusion`` ones; a batch is ``(B, C, frames, n_mels)``.

    Options: ``model`` (HF id or folder, default ``laion/clap-htsat-unfused``), ``use_projection``
    (True: embeddings are the 512-d ``audio_projection`` output; False: the pooled 768-d HTSAT
    output), ``crop`` (``"centre"`` or ``"start"``: which window of a too-long clip to keep).
    Embeddings are not normalised (``ClapModel.get_audio_features`` normalises them afterwards).
    """

    name = "hf_clap_audio"
    feature_kind = "clap"
    loads_pretrained_weights = True  # rebuilt from its options, so a frozen copy need not be stored
    fits_length_itself = True  # repeat-pads short clips (the extractor) and crops long ones (crop_to)

    def __init__(self, model: str = DEFAULT_CLAP, use_projection: bool = True, crop: str = "centre"):
        super().__init__()
        if crop not in CROPS:
            raise SongalignError(f"crop must be one of {', '.join(CROPS)}; got {crop!r}")
        transformers = _transformers()
        self.model_name, self.use_projection, self.crop = str(model), bool(use_projection), crop
        self.model = load_pretrained(transformers.ClapAudioModelWithProjection, self.model_name, "CLAP checkpoint")
        self.extractor = load_pretrained(transformers.ClapFeatureExtractor, self.model_name, "CLAP feature extractor")
        config = self.model.config
        self.sample_rate = int(self.extractor.sampling_rate)
        self.max_samples = int(self.extractor.nb_max_samples)
        self.sequence_dim = int(config.hidden_size)
        self.embedding_dim = int(config.projection_dim if self.use_projection else config.hidden_size)

    def features(self, waveform: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Extractor features of mono audio at ``sample_rate`` Hz (48 kHz for LAION's checkpoints):
        ``(samples,)`` → ``(C, frames, n_mels)``, ``(B, samples)`` → ``(B, C, frames, n_mels)``."""
        return clap_features(self.extractor, waveform, self.crop)

    def _encode(self, features: torch.Tensor) -> Any:
        if features.dim() != 4:
            raise ValueError(
                f"hf_clap_audio expects features (B, C, frames, n_mels); got {tuple(features.shape)} "
                "(use tower.features(waveform) and stack clips into a batch)"
            )
        features = features.to(self.device, torch.float32)
        is_longer = torch.zeros(len(features), 1, dtype=torch.bool, device=features.device)
        return self.model.audio_model(input_features=features, is_longer=is_longer)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, C, frames, n_mels)`` → ``(B, embedding_dim)``."""
        pooled = self._encode(features).pooler_output  # (B, hidden_size)
        return self.model.audio_projection(pooled) if self.use_projection else pooled

    def forward_sequence(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, C, frames, n_mels)`` → ``(B, T, hidden_size)``: HTSAT's last feature map averaged over
        its frequency rows, in time order (32 steps of 0.3125 s for a 10 s clip with the LAION config)."""
        last = self._encode(features).last_hidden_state  # (B, hidden, freq_bins, time) after HTSAT's regrouping
        return last.mean(dim=2).transpose(1, 2)

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "model": self.model_name, "use_projection": self.use_projection, "crop": self.crop}


class HfClapTextTower(TextTower):
    """CLAP's RoBERTa text encoder (+ its text projection) as a text tower.

    Options: ``model`` (HF id or folder), ``use_projection`` (True: the 512-d projection; False:
    the 768-d pooled output), ``normalize`` (True: unit-length outputs, as
    ``ClapModel.get_text_features``), ``trainable`` (False), ``max_tokens`` (None = the tokenizer's
    limit, capped by the model's position table; LAION trained with 77), ``overlap`` (None = an
    eighth of a window),
    ``batch_size``. Longer text is split into overlapping windows whose embeddings are averaged
    (and renormalised when ``normalize``) — the same rule as the sentence-transformers tower.
    """

    name = "hf_clap_text"
    loads_pretrained_weights = True

    def __init__(
        self,
        model: str = DEFAULT_CLAP,
        use_projection: bool = True,
        normalize: bool = True,
        trainable: bool = False,
        max_tokens: int | None = None,
        overlap: int | None = None,
        batch_size: int = 32,
    ):
        super().__init__()
        transformers = _transformers()
        self.model_name, self.use_projection, self.normalized = str(model), bool(use_projection), bool(normalize)
        self.model = load_pretrained(transformers.ClapTextModelWithProjection, self.model_name, "CLAP checkpoint")
        self.tokenizer = load_pretrained(transformers.AutoTokenizer, self.model_name, "CLAP tokenizer")
        config = self.model.config
        # RoBERTa positions start after the padding index, so the table holds max_position_embeddings − pad − 1 tokens
        positions = int(config.max_position_embeddings) - int(config.pad_token_id or 0) - 1
        limit = min(int(self.tokenizer.model_max_length), positions)
        self.max_tokens = min(int(max_tokens), limit) if max_tokens else limit
        self.batch_size = int(batch_size)
        self.budget = self.max_tokens - self.tokenizer.num_special_tokens_to_add(pair=False)
        self.overlap = resolve_overlap(overlap, self.budget)
        self.embedding_dim = int(config.projection_dim if self.use_projection else config.hidden_size)
        self.trainable = trainable

    def chunks(self, text: str) -> list[str]:
        """``text`` itself, or the overlapping windows it is split into when longer than ``max_tokens``."""
        return chunk_text(self.tokenizer, text, self.budget, self.overlap)

    def _embed(self, pieces: list[str]) -> torch.Tensor:
        out = []
        for i in range(0, len(pieces), self.batch_size):
            inputs = self.tokenizer(
                pieces[i : i + self.batch_size],
                padding=True,
                truncation=True,
                max_length=self.max_tokens,
                return_tensors="pt",
            ).to(self.device)
            out.append(self.embed_tokens(inputs["input_ids"], inputs["attention_mask"]))
        return torch.cat(out).float()

    def embed_tokens(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """``(B, tokens)`` ids and mask of texts that fit ``max_tokens`` (the tokenizer's, padded) →
        ``(B, embedding_dim)``: RoBERTa's first-token pooler, CLAP's projection, unit length when ``normalize``."""
        pooled = self.model.text_model(input_ids=input_ids, attention_mask=attention_mask).pooler_output
        embedding = self.model.text_projection(pooled) if self.use_projection else pooled
        return torch.nn.functional.normalize(embedding, dim=-1) if self.normalized else embedding

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model_name,
            "use_projection": self.use_projection,
            "normalize": self.normalized,
            "trainable": self.trainable,
            "max_tokens": self.max_tokens,
            "overlap": self.overlap,
        }
