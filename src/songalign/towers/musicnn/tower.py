"""The ``musicnn`` audio tower: a pretrained musicnn tagger, frozen by default, in the tower registry."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from typing import Any, Literal

import numpy as np
import torch

from songalign.checkpoint import module_digest
from songalign.errors import SongalignError
from songalign.towers.base import AudioTower, FrozenByDefault, as_waveform_batch
from songalign.towers.musicnn.network import (
    DEFAULT_MODEL,
    MODELS,
    N_MELS,
    PATCH_FRAMES,
    SAMPLE_RATE,
    MusicnnNet,
    cut_patches,
    hop_frames,
    musicnn_log_mel,
)
from songalign.towers.musicnn.tagger import MusicnnTagger


class ClipMemo:
    """A bounded in-memory map (least recently used out first) of clip key → a frozen tower's outputs."""

    def __init__(self, capacity: int = 8192):
        self.capacity = capacity
        self._rows: OrderedDict[tuple[str, ...], torch.Tensor] = OrderedDict()
        self._lock = threading.Lock()  # a service and an indexer may share it from several threads

    def get(self, key: tuple[str, ...]) -> torch.Tensor | None:
        with self._lock:
            row = self._rows.get(key)
            if row is not None:
                self._rows.move_to_end(key)
            return row

    def put(self, key: tuple[str, ...], row: torch.Tensor) -> None:
        with self._lock:
            self._rows[key] = row
            self._rows.move_to_end(key)
            while len(self._rows) > self.capacity:
                self._rows.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._rows.clear()


CLIP_MEMO = ClipMemo()
"""The frozen musicnn towers' per-clip outputs of this process (about 7 KB a clip: 8192 clips ≈ 60 MB)."""


def musicnn_features(waveform: np.ndarray | torch.Tensor) -> torch.Tensor:
    """musicnn's input of mono 16 kHz audio (:func:`musicnn_log_mel`): ``(samples,)`` → ``(frames, 96)``,
    ``(B, samples)`` → ``(B, frames, 96)`` float32, ``frames = samples // 256 + 1`` (16 ms each)."""
    signal, single = as_waveform_batch(waveform)
    result = torch.stack([torch.from_numpy(musicnn_log_mel(row.numpy())) for row in signal])
    return result[0] if single else result


Output = Literal["penultimate", "tags", "logits", "pool"]
OUTPUTS: tuple[str, ...] = ("penultimate", "tags", "logits", "pool")


class MusicnnAudioTower(FrozenByDefault, AudioTower):
    """A pretrained musicnn tagger as an audio tower, frozen by default.

    Features (``feature_kind = "musicnn_mel"``): :func:`musicnn_log_mel` of a clip, ``(frames, 96)``;
    a batch is ``(B, frames, 96)``. The clip is cut into 3 s patches every ``hop_seconds``
    (deterministic, none random) and the patch outputs are averaged: ``output`` picks which —
    ``penultimate`` (200-d for musicnn, pool5's 256 for vgg; the default), ``tags`` (50 sigmoid
    probabilities), ``logits`` (50) or ``pool`` (musicnn's [mean ‖ max] over time of the mid-end, 1506).
    ``forward_sequence`` gives the mid-end features per 16 ms frame, ``(B, P·187 / sequence_stride, 753)``
    for musicnn (patches back to back), each ``sequence_stride`` frames averaged.

    Options: ``model`` (:data:`MODELS`), ``output``, ``hop_seconds`` (None: patches back to back),
    ``sequence_stride`` (1), ``weights`` (a checkpoint folder; default the musicnn wheel's),
    ``trainable`` (False: eval mode and no gradients even inside a model put in train mode; a model's
    freeze policy sets it when it names the tower), ``pretrained`` (True; False only for tests of shapes),
    ``checkpoint`` (the :func:`~songalign.towers.musicnn.port.checkpoint_digest` the tower must find;
    ``config()`` records it, so a saved model refuses weights other than those it was built on).
    """

    name = "musicnn"
    feature_kind = "musicnn_mel"

    def __init__(
        self,
        model: str = DEFAULT_MODEL,
        output: str = "penultimate",
        hop_seconds: float | None = None,
        sequence_stride: int = 1,
        weights: str | None = None,
        trainable: bool = False,
        pretrained: bool = True,
        checkpoint: str | None = None,
    ):
        super().__init__()
        if output not in OUTPUTS:
            raise SongalignError(f"the musicnn tower's output must be one of {', '.join(OUTPUTS)}; got {output!r}")
        if model in MODELS and MODELS[model][0] == "vgg" and output == "pool":
            raise SongalignError(
                "output 'pool' is musicnn's mid-end pooling; the vgg models have none: use penultimate"
            )
        if sequence_stride < 1:
            raise SongalignError(f"sequence_stride must be at least 1 frame; got {sequence_stride}")
        self.model_name, self.output, self.hop_seconds = model, output, hop_seconds
        self.sequence_stride, self.weights, self.pretrained = int(sequence_stride), weights, bool(pretrained)
        self.tagger = MusicnnTagger(model, weights, pretrained)
        network = self.tagger.network
        found = getattr(network, "checkpoint", None)
        if checkpoint is not None and found is not None and checkpoint != found:
            raise SongalignError(
                f"this model was built on the {model} checkpoint {checkpoint}, but the weights found now are {found} "
                "(another musicnn wheel or weights folder); install the one it was built on or rebuild the model"
            )
        # rebuilt from the checkpoint, so a frozen copy need not be stored; random weights must be
        self.loads_pretrained_weights = self.pretrained
        self.labels = self.tagger.labels
        self.sample_rate = SAMPLE_RATE
        self.embedding_dim = {
            "penultimate": network.penultimate_dim,
            "tags": len(self.labels),
            "logits": len(self.labels),
            "pool": 2 * network.sequence_dim,
        }[output]
        self.sequence_dim = network.sequence_dim
        self.trainable = bool(trainable)

    def features(self, waveform: np.ndarray | torch.Tensor) -> torch.Tensor:
        """musicnn log-mel of mono 16 kHz audio: ``(samples,)`` → ``(frames, 96)``, ``(B, samples)`` → ``(B, frames, 96)``."""
        return musicnn_features(waveform)

    def _patches(self, features: torch.Tensor) -> tuple[torch.Tensor, int]:
        if features.dim() != 3 or features.shape[2] != N_MELS:
            raise ValueError(
                f"the musicnn tower expects features (B, frames, {N_MELS}); got {tuple(features.shape)} "
                "(use tower.features(waveform) and stack clips into a batch)"
            )
        patches = cut_patches(features, hop_frames(self.hop_seconds))  # (B, P, 187, 96)
        return patches.flatten(0, 1), patches.shape[1]

    def _run(self, patches: torch.Tensor) -> dict[str, torch.Tensor]:
        with torch.set_grad_enabled(self.trainable and torch.is_grad_enabled()):
            return self.tagger(patches)

    def _parts(self) -> dict[str, tuple[int, int]]:
        """Where each output sits in :meth:`_clip_outputs`' rows: name → (start, end)."""
        network, classes = self.tagger.network, len(self.labels)
        sizes = {"penultimate": network.penultimate_dim, "logits": classes, "tags": classes}
        if isinstance(network, MusicnnNet):
            sizes |= {"mean_pool": network.sequence_dim, "max_pool": network.sequence_dim}
        bounds, start = {}, 0
        for name, size in sizes.items():
            bounds[name], start = (start, start + size), start + size
        return bounds

    def _joined(self, patches: torch.Tensor) -> torch.Tensor:
        """``(N, 187, 96)`` patches → ``(N, W)``: the outputs of :meth:`_parts` side by side, per patch."""
        outputs = self._run(patches)
        return torch.cat([outputs[name] for name in self._parts()], dim=-1)

    def _clip_outputs(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, frames, 96)`` → ``(B, W)``: every output of :meth:`_parts`, each averaged over the clip's patches.

        A frozen tower remembers these rows per clip (:data:`CLIP_MEMO`, keyed by the features' bytes), so
        towers that read different outputs of one model (the tag bridge's ``tags``, a CLAP head's
        ``penultimate``) share one pass of the network.
        """
        patches, count = self._patches(features)
        if not self.memoised:  # every clip through the network at once, in tensor operations alone (exportable)
            return self._joined(patches).unflatten(0, (-1, count)).mean(dim=1)
        # only a frozen tower with the checkpoint's own weights gives the same rows every time
        memo = CLIP_MEMO
        weights = module_digest(self.tagger.network)  # the weights as they are now: 3 ms
        keys = [self._memo_key(clip, weights) for clip in features]
        rows: dict[int, torch.Tensor] = {}
        for i, key in enumerate(keys):
            remembered = memo.get(key)
            if remembered is not None:
                rows[i] = remembered.to(features.device)
        missing = [i for i in range(len(features)) if i not in rows]
        if missing:
            wanted = patches.view(len(features), count, *patches.shape[1:])[missing].flatten(0, 1)
            joined = self._joined(wanted)
            for position, row in zip(missing, joined.view(len(missing), count, -1).mean(dim=1), strict=True):
                rows[position] = row
                memo.put(keys[position], row.detach().cpu())
        return torch.stack([rows[i] for i in range(len(features))])

    @property
    def memoised(self) -> bool:
        """Whether clip outputs go through :data:`CLIP_MEMO`: a frozen tower whose weights are a checkpoint's,
        outside an ONNX export (which must record the network, not a remembered row)."""
        exporting = torch.onnx.is_in_onnx_export() or torch.jit.is_tracing()
        return self.pretrained and not self.trainable and not self.training and not exporting

    def _memo_key(self, clip: torch.Tensor, weights: str) -> tuple[str, ...]:
        data = clip.detach().cpu().contiguous()
        content = hashlib.sha1(data.numpy().tobytes()).hexdigest()
        return (self.model_name, weights, str(self.hop_seconds), str(data.dtype), str(tuple(data.shape)), content)

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, frames, 96)`` → ``(B, embedding_dim)``: the chosen output averaged over the clip's patches
        (``tags``: the mean of the patches' probabilities, as musicnn's ``top_tags``)."""
        joined, parts = self._clip_outputs(features), self._parts()
        if self.output == "pool":
            mean, maximum = parts["mean_pool"], parts["max_pool"]
            return torch.cat([joined[:, mean[0] : mean[1]], joined[:, maximum[0] : maximum[1]]], dim=-1)
        start, end = parts[self.output]
        return joined[:, start:end]

    def forward_sequence(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, frames, 96)`` → ``(B, T, sequence_dim)``: mid-end features of back-to-back patches, in time
        order, ``T = P·187 // sequence_stride`` (16 ms × ``sequence_stride`` per step)."""
        if features.dim() != 3:
            raise ValueError(f"the musicnn tower expects features (B, frames, {N_MELS}); got {tuple(features.shape)}")
        patches = cut_patches(features, PATCH_FRAMES)  # (B, P, 187, 96): the sequence never repeats a frame
        batch, count = patches.shape[:2]
        sequence = self._run(patches.flatten(0, 1))["sequence"]  # (B·P, T, D)
        sequence = sequence.reshape(batch, count * sequence.shape[1], -1)
        if self.sequence_stride > 1:
            steps = sequence.shape[1] // self.sequence_stride
            sequence = sequence[:, : steps * self.sequence_stride].unflatten(1, (steps, self.sequence_stride)).mean(2)
        return sequence

    def pinned_options(self) -> dict[str, Any]:
        """Options a model folder records beside the ones it was given: the checkpoint's digest."""
        return {"checkpoint": self.tagger.network.checkpoint} if self.pretrained else {}

    def config(self) -> dict[str, Any]:
        config: dict[str, Any] = {
            "name": self.name,
            "model": self.model_name,
            "output": self.output,
            "hop_seconds": self.hop_seconds,
            "sequence_stride": self.sequence_stride,
            "weights": self.weights,
            "trainable": self.trainable,
        }
        if not self.pretrained:
            config["pretrained"] = False
        else:
            config["checkpoint"] = self.tagger.network.checkpoint  # a saved model refuses other weights
        return config
