"""The dual-tower alignment model of seed 000 (CLAP-pre / CLAP-lyr / CLAP-emo).

    audio --features--> audio tower --(B, d_a)--> audio projection --> L2 norm --> a (B, D)
    text  -------------> text tower  --(B, d_t)--> text projection  --> L2 norm --> t (B, D)

Towers come from the registries in :mod:`songalign.towers`; a per-part freeze policy decides
what trains (seed 000 fine-tunes only the audio side: the frozen sentence embedding is the
gold label). The projections are two-layer MLP heads (``projection: mlp``, the default) or
nothing at all (``projection: none``: the towers' outputs already share one space, as a
pretrained CLAP's towers with their own projections do; see :mod:`songalign.align.pretrained`).

``save_pretrained(dir)`` writes a model folder (:mod:`songalign.checkpoint`: ``model.safetensors``,
``config.json``, the model card ``README.md`` + ``card.json``). A frozen tower that loads its
weights from its options (a pretrained one: ``loads_pretrained_weights``) is referenced by the
config, not copied.

The logit scale ``s`` of the InfoNCE losses is a :class:`~songalign.align.losses.LogitScale`
(``model.logit_scale``: ``init_temperature``, ``learnable``, ``max_scale``, as a captioner's);
``config.logit_scale_trained`` says whether ``s`` means anything (False until training with a
loss that uses it, or a pretrained factory, sets it). Clips are fitted to ``clip_seconds`` by
zero-padding or cutting, except for a tower that pads and crops them itself (``fits_length_itself``).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, Literal, Protocol

import numpy as np
import torch
from pydantic import BaseModel, ConfigDict, Field
from torch import nn

from songalign.align.losses import LogitScale, LogitScaleSettings
from songalign.audio.io import load_audio
from songalign.audio.windows import fit_length, song_windows
from songalign.checkpoint import PretrainedModel
from songalign.errors import BadInputError, SongalignError
from songalign.towers import build_audio_tower, build_text_tower

TOWER_PARTS = ("audio_tower", "text_tower")


class TowerSpec(BaseModel):
    """A tower by registry name, with its options (e.g. a Hugging Face id or a local folder)."""

    name: str
    options: dict[str, Any] = Field(default_factory=dict)


class FreezePolicy(BaseModel):
    """Which parts do not train."""

    audio_tower: bool = False
    text_tower: bool = True
    audio_projection: bool = False
    text_projection: bool = False


class ModelConfig(BaseModel):
    """What an :class:`AlignModel` is built from: a recipe's ``model`` section, a folder's ``config.json``.

    Unknown fields are refused rather than ignored: a misspelt recipe setting, or a folder written
    by another version (such as one with the old ``logit_scale_init``), would otherwise build a
    different model without a word.
    """

    model_config = ConfigDict(extra="forbid")

    audio_tower: TowerSpec = Field(default_factory=lambda: TowerSpec(name="cnn"))
    text_tower: TowerSpec = Field(default_factory=lambda: TowerSpec(name="sentence_transformers"))
    embedding_dim: int = Field(256, gt=0, description="size D of the shared space")
    projection: Literal["mlp", "none"] = Field(
        "mlp", description="heads into the shared space: two-layer MLPs, or none (the towers' outputs, of size D)"
    )
    clip_seconds: float = Field(10.0, gt=0, description="audio input length; longer audio is windowed")
    logit_scale: LogitScaleSettings = Field(
        default_factory=LogitScaleSettings, description="the InfoNCE losses' s: init_temperature, learnable, max_scale"
    )
    logit_scale_trained: bool = Field(
        False,
        description="whether s means something: set by training with a loss that uses it, or by a pretrained factory",
    )
    freeze: FreezePolicy = Field(default_factory=FreezePolicy)


class Projection(nn.Module):
    """Two-layer MLP head into the shared space (as CLAP's): ``(B, d_in) -> (B, d_out)``."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, d_out), nn.GELU(), nn.Linear(d_out, d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def _projections(config: ModelConfig, audio_dim: int, text_dim: int) -> tuple[nn.Module, nn.Module]:
    """The audio and text heads into the ``embedding_dim`` space the config asks for."""
    dim = config.embedding_dim
    if config.projection == "mlp":
        return Projection(audio_dim, dim), Projection(text_dim, dim)
    if audio_dim != text_dim:
        raise SongalignError(
            f"model.projection is 'none' but the towers' outputs differ in size (audio {audio_dim}, text {text_dim}); "
            "use projection: mlp or towers that share one space"
        )
    if dim != audio_dim:
        raise SongalignError(
            f"model.projection is 'none', so model.embedding_dim must be the towers' size {audio_dim}; got {dim}, "
            f"set embedding_dim: {audio_dim}"
        )
    return nn.Identity(), nn.Identity()


class AlignModel(PretrainedModel):
    """Audio and text towers with projections into one ``embedding_dim`` space.

    ``AlignModel.from_pretrained(path, **overrides)`` loads a model folder (``overrides`` replace
    config fields, e.g. ``freeze``); ``model.save_pretrained(path, card=None)`` writes one (the
    card's ``kind`` defaults to ``"align"``).
    """

    folder_kind = "align"
    config_class = ModelConfig
    card_title = "songalign model"
    config: ModelConfig

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        self.config = config or ModelConfig()
        self.audio_tower = build_audio_tower(self.config.audio_tower.name, **self.config.audio_tower.options)
        self._pin_tower_options()
        self.text_tower = build_text_tower(self.config.text_tower.name, **self.config.text_tower.options)
        self.audio_projection, self.text_projection = _projections(
            self.config, self.audio_tower.embedding_dim, self.text_tower.embedding_dim
        )
        self.logit_scale = LogitScale.from_settings(self.config.logit_scale)
        self.apply_freeze_policy()

    # -- training surface -------------------------------------------------------------------------
    def _pin_tower_options(self) -> None:
        """Record what the audio tower pins (musicnn: its checkpoint's digest, so that a saved model refuses
        other weights) and its own default of being frozen, unless the config says otherwise."""
        spec, tower = self.config.audio_tower, self.audio_tower
        pinned = getattr(tower, "pinned_options", dict)()
        update: dict[str, Any] = {}
        if any(spec.options.get(key) != value for key, value in pinned.items()):
            update["audio_tower"] = spec.model_copy(update={"options": {**spec.options, **pinned}})
        freeze = self.config.freeze
        if "audio_tower" not in freeze.model_fields_set and getattr(tower, "trainable", True) is False:
            update["freeze"] = freeze.model_copy(update={"audio_tower": True})  # musicnn is frozen by default
        if update:
            self.config = self.config.model_copy(update=update)

    def apply_freeze_policy(self) -> None:
        policy = self.config.freeze
        for part, frozen in (
            (self.audio_tower, policy.audio_tower),
            (self.text_tower, policy.text_tower),
            (self.audio_projection, policy.audio_projection),
            (self.text_projection, policy.text_projection),
        ):
            for parameter in part.parameters():
                parameter.requires_grad_(not frozen)
        if hasattr(self.text_tower, "trainable"):
            self.text_tower.trainable = not policy.text_tower
        if hasattr(self.audio_tower, "trainable"):  # a tower frozen by default (musicnn) trains when the policy says so
            self.audio_tower.trainable = not policy.audio_tower

    def train(self, mode: bool = True) -> AlignModel:
        super().train(mode)
        if self.config.freeze.text_tower:
            self.text_tower.eval()  # a frozen tower keeps dropout off and batch statistics fixed
        if self.config.freeze.audio_tower:
            self.audio_tower.eval()
        return self

    def project_audio(self, features: torch.Tensor) -> torch.Tensor:
        """Normalised audio embeddings ``(B, D)`` from a batch of tower features."""
        return self.project_tower_outputs(self.audio_tower(features))

    def project_tower_outputs(self, outputs: torch.Tensor) -> torch.Tensor:
        """Normalised audio embeddings ``(B, D)`` from audio-tower outputs ``(B, d_a)`` (a frozen tower's, computed once)."""
        return nn.functional.normalize(self.audio_projection(outputs), dim=-1)

    def project_audio_inputs(self, audio: torch.Tensor, tower_outputs: bool) -> torch.Tensor:
        """:meth:`project_tower_outputs` of ``audio`` when it holds tower outputs, else :meth:`project_audio`."""
        return self.project_tower_outputs(audio) if tower_outputs else self.project_audio(audio)

    def project_text(self, tower_embeddings: torch.Tensor) -> torch.Tensor:
        """Normalised text embeddings ``(B, D)`` from text-tower outputs ``(B, d_t)``."""
        return nn.functional.normalize(self.text_projection(tower_embeddings), dim=-1)

    @property
    def scale(self) -> torch.Tensor:
        """The logit scale s (0-d): ``self.logit_scale()``, clamped to at most ``model.logit_scale.max_scale``."""
        return self.logit_scale()

    # -- embedding API ------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.logit_scale.logit_scale.device

    @property
    def sample_rate(self) -> int:
        """Hz of the audio the model hears: its audio tower's rate."""
        return int(self.audio_tower.sample_rate)

    @property
    def clip_samples(self) -> int | None:
        """Samples a clip is zero-padded or cut to before the tower's ``features``: ``clip_seconds`` at the
        tower's rate, or None for a tower that pads and crops clips itself (``fits_length_itself``:
        CLAP's extractor repeat-pads short clips and crops long ones as the checkpoint expects)."""
        if self.audio_tower.fits_length_itself:
            return None
        return int(round(self.config.clip_seconds * self.audio_tower.sample_rate))

    @property
    def clip_seconds(self) -> float:
        """Seconds of audio one clip (a window of a song) holds: the config's ``clip_seconds``."""
        return float(self.config.clip_seconds)

    @property
    def embedding_dim(self) -> int:
        """D, the size of the shared space."""
        return int(self.config.embedding_dim)

    @property
    def feature_key(self) -> str:
        """What the audio tower's ``features`` depend on, as a feature cache's extractor key: the tower's name and
        a digest of its options (not of its weights: the features are computed before the network)."""
        return feature_key(self.audio_tower)

    def tower_features(self, clips: np.ndarray) -> torch.Tensor:
        """The audio tower's ``features`` of clips already fitted (:attr:`clip_samples`): ``(samples,)`` → one
        clip's, ``(B, samples)`` → a batch's."""
        return torch.as_tensor(self.audio_tower.features(clips))

    @torch.no_grad()
    def embed_features(self, features: torch.Tensor) -> np.ndarray:
        """``(B, …)`` tower features → ``(B, D)`` float32 unit embeddings (:meth:`project_audio`, in eval mode on
        the model's device)."""
        self.eval()
        return self.project_audio(torch.as_tensor(features).to(self.device)).cpu().numpy().astype(np.float32)

    def audio_features(self, audio: np.ndarray) -> torch.Tensor:
        """Tower features of one clip of mono audio at the tower's sample rate, fitted to ``clip_seconds``
        (by zero-padding or cutting, unless the tower fits clips itself: :attr:`clip_samples`)."""
        samples = self.clip_samples
        return torch.as_tensor(self.audio_tower.features(audio if samples is None else fit_length(audio, samples)))

    @torch.no_grad()
    def embed_clips(self, clips: Sequence[np.ndarray], batch_size: int = 16) -> np.ndarray:
        """Embeddings ``(N, D)`` of clips (mono arrays at the tower's rate, each fitted as :meth:`audio_features` says)."""
        self.eval()
        out = []
        for i in range(0, len(clips), batch_size):
            batch = torch.stack([self.audio_features(c) for c in clips[i : i + batch_size]]).to(self.device)
            out.append(self.project_audio(batch).cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, self.config.embedding_dim), np.float32)

    @torch.no_grad()
    def embed_audio(
        self, items: Sequence[str | Path | np.ndarray], sample_rate: int | None = None, hop_seconds: float | None = None
    ) -> np.ndarray:
        """Whole-item embeddings ``(N, D)`` of audio files or arrays, identical across calls.

        Each item is cut into fixed windows of ``clip_seconds`` (every ``hop_seconds``, default
        no overlap); window embeddings are averaged and renormalised (:func:`embed_audio_items`).
        Arrays are mono at ``sample_rate`` Hz (default: the tower's rate).
        """
        return embed_audio_items(
            items, self.embed_clips, self.audio_tower.sample_rate, self.config.clip_seconds, sample_rate, hop_seconds
        )

    @torch.no_grad()
    def embed_text(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Normalised text embeddings ``(N, D)``."""
        self.eval()
        out = []
        for i in range(0, len(texts), batch_size):
            tower = self.text_tower.encode(list(texts[i : i + batch_size])).to(self.device)
            out.append(self.project_text(tower).cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, self.config.embedding_dim), np.float32)

    # -- persistence (the model folder of songalign.checkpoint.PretrainedModel) ------------------------
    def referenced_parts(self, freeze: FreezePolicy | None = None) -> list[str]:
        """Towers whose weights a saved folder leaves out: frozen (under ``freeze``, default the
        config's) and loaded from their options (``loads_pretrained_weights``), so the config
        references them."""
        freeze = freeze or self.config.freeze
        return [
            part
            for part in TOWER_PARTS
            if getattr(freeze, part) and getattr(getattr(self, part), "loads_pretrained_weights", False)
        ]

    def _stored_elsewhere(self, config: ModelConfig) -> tuple[str, ...]:
        return tuple(f"{part}." for part in self.referenced_parts(config.freeze))

    @classmethod
    def _from_saved_config(cls, directory: Path, config: ModelConfig, **overrides: Any) -> AlignModel:
        """The saved model with ``overrides`` replacing config fields (e.g. ``freeze``): ``from_pretrained(path,
        **overrides)``. A musicnn tower checks its checkpoint's digest against the saved one as it is built."""
        return cls(config.model_copy(update=overrides))

    def architecture(self) -> list[str]:
        """The model card's architecture bullets: towers, heads, shared space, logit scale, frozen parts."""
        config, referenced = self.config, self.referenced_parts()
        towers = [
            f"{part.replace('_', ' ')}: `{spec.name}` {json.dumps(spec.options)}"
            + (" (frozen, weights not stored here)" if part in referenced else "")
            for part, spec in (("audio_tower", config.audio_tower), ("text_tower", config.text_tower))
        ]
        heads = (
            "projections: two-layer MLP heads" if config.projection == "mlp" else "projections: none (the towers' own)"
        )
        return [
            *towers,
            f"{heads}; shared space of {config.embedding_dim} dimensions; audio clips of {config.clip_seconds} s",
            f"logit scale s = {float(self.scale.detach()):.4g}"
            + ("" if config.logit_scale_trained else " (not meaningful: no training loss has used it)"),
            f"frozen parts: {', '.join(k for k, v in config.freeze.model_dump().items() if v) or 'none'}",
        ]

    @classmethod
    def load(cls, source: str | Path | AlignModel) -> AlignModel:
        return source if isinstance(source, AlignModel) else cls.from_pretrained(source)


def feature_key(tower: Any) -> str:
    """``name:digest`` of an audio tower's options (``tower.config()``): the feature cache's extractor key."""
    options = json.dumps(tower.config(), sort_keys=True, default=str).encode()
    return f"{tower.name}:{hashlib.sha1(options).hexdigest()[:16]}"


class EmbeddingRuntime(Protocol):
    """What embeds segments for an index: :class:`AlignModel`, or its ONNX export run by onnxruntime
    (:class:`songalign.align.onnx.OnnxAlignModel`). Audio is mono at :attr:`sample_rate` Hz, cut into clips of
    :attr:`clip_seconds` s fitted to :attr:`clip_samples` samples (None: the tower fits them itself); features
    are the tower's input, the same bits under either runtime (:attr:`feature_key` names them)."""

    sample_rate: int
    clip_seconds: float
    clip_samples: int | None
    embedding_dim: int
    feature_key: str

    def tower_features(self, clips: np.ndarray) -> torch.Tensor: ...

    def embed_features(self, features: torch.Tensor) -> np.ndarray: ...

    def embed_text(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray: ...


def embed_audio_items(
    items: Sequence[str | Path | np.ndarray],
    embed_clips: Callable[[list[np.ndarray]], np.ndarray],
    rate: int,
    clip_seconds: float,
    sample_rate: int | None = None,
    hop_seconds: float | None = None,
) -> np.ndarray:
    """Whole-item embeddings ``(N, D)`` float32 of audio files or mono arrays, through ``embed_clips`` (clips of
    mono audio at ``rate`` Hz → ``(n, D)`` unit rows; the torch model's or an ONNX export's).

    Each item is decoded (files) or resampled (arrays at ``sample_rate`` Hz, default ``rate``) to ``rate``,
    cut into fixed windows of ``clip_seconds`` every ``hop_seconds`` (default: no overlap), and its window
    embeddings averaged and renormalised to unit length.
    """
    results = []
    for item in items:
        if isinstance(item, np.ndarray):
            audio = item if not sample_rate or sample_rate == rate else _resample(item, sample_rate, rate)
        else:
            audio, _ = load_audio(item, rate)
        if audio.size == 0:
            raise SongalignError(f"{item if not isinstance(item, np.ndarray) else 'an array'} holds no audio")
        if not np.isfinite(audio).all():  # a float WAV may hold them; a tower would only raise a ValueError
            raise BadInputError(
                item if not isinstance(item, np.ndarray) else "the audio array",
                "it holds NaN or infinite samples; re-encode it with finite samples (e.g. as 16-bit PCM)",
            )
        windows = song_windows(len(audio) / rate, clip_seconds, hop_seconds)
        clips = [audio[int(round(o * rate)) : int(round((o + d) * rate))] for o, d in windows]
        pooled = embed_clips(clips).mean(axis=0)
        results.append(pooled / max(np.linalg.norm(pooled), 1e-12))
    return np.stack(results).astype(np.float32)


def _resample(audio: np.ndarray, source: int, target: int) -> np.ndarray:
    import soxr

    return soxr.resample(audio, source, target, quality="HQ").astype(np.float32)
