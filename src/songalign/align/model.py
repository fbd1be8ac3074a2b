"""The dual-tower alignment model of seed 000 (CLAP-pre / CLAP-lyr / CLAP-emo).

    audio --features--> audio tower --(B, d_a)--> audio projection --> L2 norm --> a (B, D)
    text  -------------> text tower  --(B, d_t)--> text projection  --> L2 norm --> t (B, D)

Towers come from the registries in :mod:`songalign.towers`; a per-part freeze policy decides
what trains (seed 000 fine-tunes only the audio side: the frozen sentence embedding is the
gold label). ``save_pretrained(dir)`` writes ``model.safetensors`` + ``config.json`` + a model
card ``README.md``; weights of a frozen text tower are not copied (the config names it).
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, Field
from safetensors.torch import load_file, save_file
from torch import nn

from songalign.audio.io import load_audio
from songalign.audio.windows import fit_length, song_windows
from songalign.errors import SongalignError
from songalign.towers import build_audio_tower, build_text_tower

WEIGHTS_FILE = "model.safetensors"
CONFIG_FILE = "config.json"
CARD_FILE = "README.md"


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
    audio_tower: TowerSpec = Field(default_factory=lambda: TowerSpec(name="cnn"))
    text_tower: TowerSpec = Field(default_factory=lambda: TowerSpec(name="sentence_transformers"))
    embedding_dim: int = Field(256, gt=0, description="size D of the shared space")
    clip_seconds: float = Field(10.0, gt=0, description="audio input length; longer audio is windowed")
    logit_scale_init: float = Field(math.log(1 / 0.07), description="log of the initial logit scale s")
    learn_logit_scale: bool = True
    logit_scale_trained: bool = Field(True, description="False when the training loss had no logit scale")
    freeze: FreezePolicy = Field(default_factory=FreezePolicy)


class Projection(nn.Module):
    """Two-layer MLP head into the shared space (as CLAP's): ``(B, d_in) -> (B, d_out)``."""

    def __init__(self, d_in: int, d_out: int):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(d_in, d_out), nn.GELU(), nn.Linear(d_out, d_out))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.net(x)


def require_model_folder(directory: str | Path) -> Path:
    """``directory`` as a Path when it holds a saved model (config and weights); one clear error otherwise."""
    directory = Path(directory)
    if not (directory / CONFIG_FILE).is_file() or not (directory / WEIGHTS_FILE).is_file():
        raise SongalignError(
            f"{directory} is not a songalign model folder (it needs {CONFIG_FILE} and {WEIGHTS_FILE}); "
            "train one with `songalign train` or give the right path"
        )
    return directory


class AlignModel(nn.Module):
    """Audio and text towers with projections into one ``embedding_dim`` space."""

    def __init__(self, config: ModelConfig | None = None):
        super().__init__()
        self.config = config or ModelConfig()
        self.audio_tower = build_audio_tower(self.config.audio_tower.name, **self.config.audio_tower.options)
        self.text_tower = build_text_tower(self.config.text_tower.name, **self.config.text_tower.options)
        dim = self.config.embedding_dim
        self.audio_projection = Projection(self.audio_tower.embedding_dim, dim)
        self.text_projection = Projection(self.text_tower.embedding_dim, dim)
        self.logit_scale = nn.Parameter(
            torch.tensor(float(self.config.logit_scale_init)), requires_grad=self.config.learn_logit_scale
        )
        self.apply_freeze_policy()

    # -- training surface -------------------------------------------------------------------------
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

    def train(self, mode: bool = True) -> AlignModel:
        super().train(mode)
        if self.config.freeze.text_tower:
            self.text_tower.eval()  # a frozen tower keeps dropout off and batch statistics fixed
        if self.config.freeze.audio_tower:
            self.audio_tower.eval()
        return self

    def project_audio(self, features: torch.Tensor) -> torch.Tensor:
        """Normalised audio embeddings ``(B, D)`` from a batch of tower features."""
        return nn.functional.normalize(self.audio_projection(self.audio_tower(features)), dim=-1)

    def project_text(self, tower_embeddings: torch.Tensor) -> torch.Tensor:
        """Normalised text embeddings ``(B, D)`` from text-tower outputs ``(B, d_t)``."""
        return nn.functional.normalize(self.text_projection(tower_embeddings), dim=-1)

    @property
    def scale(self) -> torch.Tensor:
        """The logit scale s = exp(logit_scale), clamped to at most 100 as in CLIP."""
        return self.logit_scale.clamp(max=math.log(100.0)).exp()

    # -- embedding API ------------------------------------------------------------------------------
    @property
    def device(self) -> torch.device:
        return self.logit_scale.device

    def audio_features(self, audio: np.ndarray) -> torch.Tensor:
        """Tower features of one clip of mono audio at the tower's sample rate, fitted to ``clip_seconds``."""
        samples = int(round(self.config.clip_seconds * self.audio_tower.sample_rate))
        return torch.as_tensor(self.audio_tower.features(fit_length(audio, samples)))

    @torch.no_grad()
    def embed_clips(self, clips: Sequence[np.ndarray], batch_size: int = 16) -> np.ndarray:
        """Embeddings ``(N, D)`` of clips (mono arrays at the tower's rate, each fitted to ``clip_seconds``)."""
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
        no overlap); window embeddings are averaged and renormalised. Arrays are mono at
        ``sample_rate`` Hz (default: the tower's rate).
        """
        rate = self.audio_tower.sample_rate
        results = []
        for item in items:
            if isinstance(item, np.ndarray):
                audio = item if not sample_rate or sample_rate == rate else _resample(item, sample_rate, rate)
            else:
                audio, _ = load_audio(item, rate)
            if audio.size == 0:
                raise SongalignError(f"{item if not isinstance(item, np.ndarray) else 'an array'} holds no audio")
            windows = song_windows(len(audio) / rate, self.config.clip_seconds, hop_seconds)
            clips = [audio[int(round(o * rate)) : int(round((o + d) * rate))] for o, d in windows]
            pooled = self.embed_clips(clips).mean(axis=0)
            results.append(pooled / max(np.linalg.norm(pooled), 1e-12))
        return np.stack(results).astype(np.float32)

    @torch.no_grad()
    def embed_text(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Normalised text embeddings ``(N, D)``."""
        self.eval()
        out = []
        for i in range(0, len(texts), batch_size):
            tower = self.text_tower.encode(list(texts[i : i + batch_size])).to(self.device)
            out.append(self.project_text(tower).cpu())
        return torch.cat(out).numpy() if out else np.zeros((0, self.config.embedding_dim), np.float32)

    # -- persistence --------------------------------------------------------------------------------
    def _saved_state(self) -> dict[str, torch.Tensor]:
        state = self.state_dict()
        if self.config.freeze.text_tower:
            state = {k: v for k, v in state.items() if not k.startswith("text_tower.")}
        return {k: v.detach().cpu().contiguous() for k, v in state.items()}

    def save_pretrained(self, directory: str | Path, card: dict[str, Any] | None = None) -> Path:
        """Write weights (safetensors), ``config.json`` and a model card into ``directory``."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        save_file(self._saved_state(), directory / WEIGHTS_FILE)
        (directory / CONFIG_FILE).write_text(self.config.model_dump_json(indent=2) + "\n", encoding="utf-8")
        (directory / CARD_FILE).write_text(model_card(self.config, card or {}), encoding="utf-8")
        if card is not None:
            (directory / "card.json").write_text(json.dumps(card, indent=2, default=str) + "\n", encoding="utf-8")
        return directory

    @classmethod
    def from_pretrained(cls, directory: str | Path, **overrides: Any) -> AlignModel:
        """Load a folder written by :meth:`save_pretrained`."""
        directory = require_model_folder(directory)
        config = ModelConfig.model_validate_json((directory / CONFIG_FILE).read_text(encoding="utf-8"))
        config = config.model_copy(update=overrides)
        model = cls(config)
        missing, unexpected = model.load_state_dict(load_file(directory / WEIGHTS_FILE), strict=False)
        missing = [k for k in missing if not (config.freeze.text_tower and k.startswith("text_tower."))]
        if missing or unexpected:
            raise SongalignError(
                f"{directory / WEIGHTS_FILE} does not match its config (missing {missing[:3]}, unexpected "
                f"{unexpected[:3]}); it was written by another version or edited"
            )
        return model

    @classmethod
    def load(cls, source: str | Path | AlignModel) -> AlignModel:
        return source if isinstance(source, AlignModel) else cls.from_pretrained(source)


def _resample(audio: np.ndarray, source: int, target: int) -> np.ndarray:
    import soxr

    return soxr.resample(audio, source, target, quality="HQ").astype(np.float32)


def model_card(config: ModelConfig, card: dict[str, Any]) -> str:
    """A Markdown model card: what the model is, what it was trained on and how, and its figures."""
    lines = [
        f"# songalign model: {card.get('name', 'unnamed')}",
        "",
        "Dual-tower audio–text alignment model (seed 000 design) written by songalign.",
        "",
        "## Architecture",
        f"- audio tower: `{config.audio_tower.name}` {json.dumps(config.audio_tower.options)}",
        f"- text tower: `{config.text_tower.name}` {json.dumps(config.text_tower.options)}"
        + (" (frozen, weights not stored here)" if config.freeze.text_tower else ""),
        f"- shared space: {config.embedding_dim} dimensions; audio clips of {config.clip_seconds} s",
        f"- frozen parts: {', '.join(k for k, v in config.freeze.model_dump().items() if v) or 'none'}",
    ]
    for title, key in (("Training data", "data"), ("Recipe", "recipe"), ("Evaluation", "evaluation")):
        if card.get(key):
            lines += ["", f"## {title}", "", "```json", json.dumps(card[key], indent=2, default=str), "```"]
    return "\n".join(lines) + "\n"
