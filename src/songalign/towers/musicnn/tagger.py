"""The musicnn taggers: :class:`MusicnnTagger` (tags of mono 16 kHz audio per 3 s patch, a :class:`Taggram`)
and its named factories, open-unmix style: ``msd_musicnn()``, ``mtt_musicnn()``, ``msd_vgg()``,
``mtt_vgg()`` (or ``musicnn_tagger(name)``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import nn

from songalign.towers.musicnn.network import (
    DEFAULT_MODEL,
    MODELS,
    SAMPLE_RATE,
    build_network,
    cut_patches,
    hop_frames,
    musicnn_log_mel,
    patch_times,
)
from songalign.towers.musicnn.port import load_network


@dataclass
class Taggram:
    """Tags over time for one input: ``probabilities`` (P, 50) per patch, centred at ``times`` (P,) seconds."""

    labels: tuple[str, ...]
    times: np.ndarray
    probabilities: np.ndarray

    def song(self) -> np.ndarray:
        """``(50,)``: the mean over patches (musicnn's ``top_tags``)."""
        return self.probabilities.mean(axis=0)

    def top(self, k: int = 5) -> list[tuple[str, float]]:
        """The ``k`` most likely tags of the whole input, with their mean probability."""
        song = self.song()
        return [(self.labels[i], float(song[i])) for i in np.argsort(-song, kind="stable")[:k]]


class MusicnnTagger(nn.Module):
    """A ported musicnn model: ``tag(waveform)`` gives a :class:`Taggram`; ``forward`` runs patches.

    ``model``: one of :data:`MODELS`; ``weights``: a checkpoint folder (default: the musicnn
    wheel's); ``pretrained=False`` leaves the network randomly initialised (tests, shapes).
    """

    def __init__(self, model: str = DEFAULT_MODEL, weights: str | Path | None = None, pretrained: bool = True):
        super().__init__()
        self.model_name = model
        self.labels = MODELS[model][1] if model in MODELS else ()
        self.network = load_network(model, weights) if pretrained else build_network(model).eval()
        self.sample_rate = SAMPLE_RATE

    def forward(self, patches: torch.Tensor) -> dict[str, torch.Tensor]:
        """``(B, 187, 96)`` patches → the network's outputs plus ``tags`` (B, 50) = sigmoid(logits)."""
        outputs = self.network(patches.to(next(self.network.parameters()).device, torch.float32))
        return {**outputs, "tags": torch.sigmoid(outputs["logits"])}

    @torch.no_grad()
    def tag(self, waveform: np.ndarray, hop_seconds: float | None = None, batch_size: int = 16) -> Taggram:
        """Tags of mono 16 kHz audio per 3 s patch, one patch every ``hop_seconds`` (default 3 s: no overlap)."""
        return taggram_of(waveform, lambda patches: self(patches)["tags"], self.labels, hop_seconds, batch_size)


def taggram_of(
    waveform: np.ndarray,
    tags: Callable[[torch.Tensor], torch.Tensor],
    labels: tuple[str, ...],
    hop_seconds: float | None = None,
    batch_size: int = 16,
) -> Taggram:
    """The :class:`Taggram` of mono 16 kHz audio: its musicnn log-mel cut into 3 s patches, one every
    ``hop_seconds`` (default 3 s: no overlap), through ``tags`` (``(b, 187, 96)`` patches → ``(b, 50)``
    probabilities: the torch tagger's or its ONNX graph's), ``batch_size`` patches at a time."""
    mel = torch.from_numpy(musicnn_log_mel(waveform))
    hop = hop_frames(hop_seconds)
    patches = cut_patches(mel.unsqueeze(0), hop)[0]
    rows = torch.cat([torch.as_tensor(tags(patches[i : i + batch_size])) for i in range(0, len(patches), batch_size)])
    return Taggram(labels, patch_times(mel.shape[0], hop), rows.cpu().numpy())


def musicnn_tagger(name: str = DEFAULT_MODEL, weights: str | Path | None = None, device: str = "cpu") -> MusicnnTagger:
    """A pretrained musicnn tagger by name (``MSD_musicnn``, ``MTT_musicnn``, ``MSD_vgg``, ``MTT_vgg``)."""
    return MusicnnTagger(name, weights).to(device)


def msd_musicnn(weights: str | Path | None = None, device: str = "cpu") -> MusicnnTagger:
    """musicnn trained on the Million Song Dataset's 50 Last.fm tags (genres, moods, eras)."""
    return musicnn_tagger("MSD_musicnn", weights, device)


def mtt_musicnn(weights: str | Path | None = None, device: str = "cpu") -> MusicnnTagger:
    """musicnn trained on MagnaTagATune's 50 tags (instruments, voice, tempo, genres)."""
    return musicnn_tagger("MTT_musicnn", weights, device)


def msd_vgg(weights: str | Path | None = None, device: str = "cpu") -> MusicnnTagger:
    """musicnn's VGG baseline trained on the Million Song Dataset."""
    return musicnn_tagger("MSD_vgg", weights, device)


def mtt_vgg(weights: str | Path | None = None, device: str = "cpu") -> MusicnnTagger:
    """musicnn's VGG baseline trained on MagnaTagATune."""
    return musicnn_tagger("MTT_vgg", weights, device)
