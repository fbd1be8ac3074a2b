"""musicnn (Pons & Serra, 2019) in PyTorch: the MagnaTagATune and Million Song Dataset taggers.

The weights are the ones the ``musicnn`` wheel ships (``MTT_musicnn``, ``MSD_musicnn``,
``MTT_vgg``, ``MSD_vgg``: TensorFlow 1 checkpoints), read without TensorFlow
(:mod:`songalign.towers.tf_checkpoint`) and cached as safetensors in the user's cache, keyed by a
digest of the checkpoint files. Install the wheel without its dependencies (its metadata asks
for TensorFlow and numpy < 1.17, neither of which is used)::

    pip install --no-deps musicnn==0.1.0

Named factories (open-unmix style) give the taggers: ``msd_musicnn()``, ``mtt_musicnn()``,
``msd_vgg()``, ``mtt_vgg()`` (or ``musicnn_tagger(name)``); the ``musicnn`` audio tower
(:class:`MusicnnAudioTower`) puts one in the tower registry.

**Preprocessing, exactly as musicnn's ``extractor.batch_data``** (checked against it to 1e-4
by ``tests/towers/test_musicnn_port.py``): mono audio at 16 kHz → librosa's mel power
spectrogram (``n_fft`` 512, hop 256 = 16 ms, 96 bands, Slaney filters, centred frames) → cast to
float16 → ``log10(10000·mel + 1)`` computed in float16 → patches of 187 frames (3 s), one every
187 frames by default (musicnn's ``input_overlap=False``) or every ``hop`` frames. One change:
where ``10000·mel`` overflows float16 (mel > 6.55, loud low notes) the original feeds ``inf`` to
the network and gets meaningless tags; here it saturates at float16's largest value. Audio
shorter than one patch is repeat-padded to it (musicnn's training ``pad_short``), where the
original fails.

**musicnn** (``*_musicnn``), shapes for a batch of ``B`` patches of ``T = 187`` frames::

    x (B, T, 96) → BatchNorm (one scalar)
      front end: timbral Conv(7 × 38) and Conv(7 × 67), 204 filters each, on 3-frame-padded input;
                 temporal Conv(128 × 1), (64 × 1), (32 × 1), 51 filters each, TF "same" padding;
                 each ReLU → BatchNorm → max over frequency              → (B, T, 561)
      mid end:   three Conv1d(7, 64) over time with padding 3, ReLU → BatchNorm, the 2nd and 3rd residual
                 → dense concatenation [front end, cnn1, cnn2, cnn3]      → (B, T, 753)
      back end:  [max over time, mean over time] interleaved (1506) → BatchNorm → Dense(200) ReLU →
                 BatchNorm = penultimate (B, 200) → Dense(50) = tag logits (B, 50)

**vgg** (``*_vgg``): five Conv(3 × 3, 128) + ReLU + BatchNorm + max-pooling blocks → pool5 ``(B, 256)``
→ Dense(50). BatchNorm is TensorFlow's inference form with ε = 0.001; dropout is off.
"""

from __future__ import annotations

import hashlib
import importlib.util
import os
import tempfile
import threading
from collections import OrderedDict
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from songalign.checkpoint import module_digest
from songalign.errors import BadInputError, SongalignError
from songalign.towers.base import AudioTower, FrozenByDefault, as_waveform_batch
from songalign.towers.tf_checkpoint import read_tf_checkpoint

SAMPLE_RATE = 16000
"""Hz: musicnn's models hear 16 kHz audio."""
N_FFT = 512
HOP = 256
"""Samples between frames: 16 ms at 16 kHz."""
N_MELS = 96
PATCH_FRAMES = 187
"""Frames per patch: musicnn's 3 s input, ``librosa.time_to_frames(3, sr=16000, n_fft=512, hop_length=256) + 1``."""
FRAME_SECONDS = HOP / SAMPLE_RATE
TF_BATCHNORM_EPS = 1e-3
FLOAT16_MAX = float(np.finfo(np.float16).max)

MTT_LABELS = (
    "guitar", "classical", "slow", "techno", "strings", "drums", "electronic", "rock", "fast", "piano",
    "ambient", "beat", "violin", "vocal", "synth", "female", "indian", "opera", "male", "singing", "vocals",
    "no vocals", "harpsichord", "loud", "quiet", "flute", "woman", "male vocal", "no vocal", "pop", "soft",
    "sitar", "solo", "man", "classic", "choir", "voice", "new age", "dance", "male voice", "female vocal",
    "beats", "harp", "cello", "no voice", "weird", "country", "metal", "female voice", "choral",
)  # fmt: skip
"""The 50 MagnaTagATune tags of the MTT models, in their output order (musicnn's ``configuration.py``)."""
MSD_LABELS = (
    "rock", "pop", "alternative", "indie", "electronic", "female vocalists", "dance", "00s", "alternative rock",
    "jazz", "beautiful", "metal", "chillout", "male vocalists", "classic rock", "soul", "indie rock", "Mellow",
    "electronica", "80s", "folk", "90s", "chill", "instrumental", "punk", "oldies", "blues", "hard rock",
    "ambient", "acoustic", "experimental", "female vocalist", "guitar", "Hip-Hop", "70s", "party", "country",
    "easy listening", "sexy", "catchy", "funk", "electro", "heavy metal", "Progressive rock", "60s", "rnb",
    "indie pop", "sad", "House", "happy",
)  # fmt: skip
"""The 50 Million Song Dataset (Last.fm) tags of the MSD models, in their output order."""

MODELS: dict[str, tuple[str, tuple[str, ...]]] = {
    "MTT_musicnn": ("musicnn", MTT_LABELS),
    "MSD_musicnn": ("musicnn", MSD_LABELS),
    "MTT_vgg": ("vgg", MTT_LABELS),
    "MSD_vgg": ("vgg", MSD_LABELS),
}
"""The ported checkpoints: name → (architecture, tag names)."""
DEFAULT_MODEL = "MSD_musicnn"
INSTALL = "pip install --no-deps musicnn==0.1.0"


# -- preprocessing ---------------------------------------------------------------------------------------
def musicnn_log_mel(waveform: np.ndarray) -> np.ndarray:
    """musicnn's input representation of mono audio at 16 kHz: ``(samples,)`` → ``(frames, 96)`` float32.

    ``frames = samples // 256 + 1``; the values are float16 numbers (``log10(10000·mel + 1)``
    computed in float16, as musicnn does), saturated where the original overflows.
    """
    import librosa

    audio = np.asarray(waveform, dtype=np.float32)
    if audio.ndim != 1 or audio.size == 0:
        raise ValueError(f"musicnn hears mono audio (samples,); got shape {audio.shape}")
    if not np.isfinite(audio).all():
        raise ValueError("the waveform holds NaN or infinite samples")
    mel = librosa.feature.melspectrogram(y=audio, sr=SAMPLE_RATE, hop_length=HOP, n_fft=N_FFT, n_mels=N_MELS).T
    mel16 = mel.astype(np.float16)
    with np.errstate(over="ignore"):
        scaled = np.float16(10000) * mel16  # float16 × float16 → float16, as musicnn's `10000 * audio_rep`
    scaled[np.isinf(scaled)] = FLOAT16_MAX  # the one change: saturate instead of feeding inf to the network
    return np.log10(scaled + np.float16(1)).astype(np.float32)


def patch_starts(frames: int, hop: int = PATCH_FRAMES, patch: int = PATCH_FRAMES) -> list[int]:
    """First frames of the patches musicnn cuts from ``frames`` frames: ``range(0, frames - patch + 1, hop)``
    (the tail after the last whole patch is not heard, as in musicnn); ``[0]`` when shorter than a patch."""
    if hop <= 0:
        raise ValueError(f"the patch hop must be a positive number of frames; got {hop}")
    return list(range(0, max(frames - patch, 0) + 1, hop))


def cut_patches(mel: torch.Tensor, hop: int = PATCH_FRAMES) -> torch.Tensor:
    """``(B, frames, 96)`` log-mel → ``(B, P, 187, 96)`` patches; a too-short input is repeat-padded first."""
    frames = mel.shape[1]
    if frames < PATCH_FRAMES:
        mel = mel.repeat(1, -(-PATCH_FRAMES // frames), 1)[:, :PATCH_FRAMES]
        frames = PATCH_FRAMES
    starts = patch_starts(frames, hop)
    return torch.stack([mel[:, s : s + PATCH_FRAMES] for s in starts], dim=1)


def patch_times(frames: int, hop: int = PATCH_FRAMES) -> np.ndarray:
    """Centre of each patch in seconds (HEAR's timestamps): ``(P,)`` for an input of ``frames`` frames."""
    starts = np.asarray(patch_starts(max(frames, PATCH_FRAMES), hop), dtype=np.float64)
    return (starts + (PATCH_FRAMES - 1) / 2) * FRAME_SECONDS


# -- networks ------------------------------------------------------------------------------------------
def _bn(channels: int) -> nn.BatchNorm1d:
    return nn.BatchNorm1d(channels, eps=TF_BATCHNORM_EPS)


class _FrontendBranch(nn.Module):
    """Conv2d over (time, frequency) → ReLU → BatchNorm → max over frequency: ``(B, 1, T, F)`` → ``(B, C, T)``.

    ``time_padding`` is (before, after), TensorFlow's: "valid" after padding 3 and 3, or "same" for a
    kernel of k frames, (k − 1) // 2 and k // 2. The conv pads k // 2 on both sides and drops the
    first output frame when that is one more than TF's. Computed in the cheaper, equal order: the
    max (or, for a channel whose BatchNorm scale is negative, the min) over frequency of the conv
    output first, then ReLU and BatchNorm on the small ``(B, C, T)`` map — ReLU and an affine map with
    a positive scale are increasing, so they commute with the max and pick the same element. That holds
    for BatchNorm's running statistics (eval mode); in train mode (fine-tuning) the original order is
    used, so that batch statistics are taken over every time-frequency cell as musicnn's were.
    """

    def __init__(self, filters: int, kernel: tuple[int, int], time_padding: tuple[int, int]):
        super().__init__()
        before, after = time_padding
        self.drop_first = after - before
        self.conv = nn.Conv2d(1, filters, kernel, padding=(after, 0))
        self.norm = nn.BatchNorm1d(filters, eps=TF_BATCHNORM_EPS)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        maps = self.conv(x)[:, :, self.drop_first :]  # (B, C, T, F')
        if self.training:  # batch statistics over every (time, frequency) cell, as musicnn trained
            batch, channels, frames, bands = maps.shape
            normed = self.norm(F.relu(maps).reshape(batch, channels, frames * bands))
            return normed.view(batch, channels, frames, bands).amax(dim=3)
        low, high = maps.aminmax(dim=3)  # (B, C, T) each
        increasing = (self.norm.weight >= 0)[None, :, None]
        return self.norm(F.relu(torch.where(increasing, high, low)))


class MusicnnNet(nn.Module):
    """The musicnn tagger: ``(B, 187, 96)`` log-mel patches → the outputs of :meth:`forward`."""

    architecture = "musicnn"

    def __init__(self, classes: int = 50, midend_filters: int = 64, backend_units: int = 200):
        super().__init__()
        self.input_norm = nn.BatchNorm2d(1, eps=TF_BATCHNORM_EPS)
        timbral = int(1.6 * 128)
        temporal = int(1.6 * 32)
        self.frontend = nn.ModuleList(
            [
                _FrontendBranch(timbral, (7, int(0.4 * N_MELS)), (3, 3)),
                _FrontendBranch(timbral, (7, int(0.7 * N_MELS)), (3, 3)),
                # TensorFlow's "same" padding for an even kernel k puts (k - 1) // 2 before, the rest after
                *(_FrontendBranch(temporal, (k, 1), ((k - 1) // 2, k // 2)) for k in (128, 64, 32)),
            ]
        )
        frontend_dim = 2 * timbral + 3 * temporal
        self.midend = nn.ModuleList(
            [nn.Conv1d(frontend_dim, midend_filters, 7, padding=3)]
            + [nn.Conv1d(midend_filters, midend_filters, 7, padding=3) for _ in range(2)]
        )
        self.midend_norms = nn.ModuleList([_bn(midend_filters) for _ in range(3)])
        self.sequence_dim = frontend_dim + 3 * midend_filters
        self.pool_norm = _bn(2 * self.sequence_dim)
        self.dense = nn.Linear(2 * self.sequence_dim, backend_units)
        self.dense_norm = _bn(backend_units)
        self.classifier = nn.Linear(backend_units, classes)
        self.penultimate_dim = backend_units

    def midend_sequence(self, x: torch.Tensor) -> torch.Tensor:
        """``(B, 187, 96)`` → ``(B, 753, 187)``: [front end (561), cnn1, cnn2, cnn3 (64 each)] per frame."""
        x = self.input_norm(x.unsqueeze(1))  # (B, 1, T, F)
        front = torch.cat([branch(x) for branch in self.frontend], dim=1)  # (B, 561, T)
        layers, h = [front], front
        for index, (conv, norm) in enumerate(zip(self.midend, self.midend_norms, strict=True)):
            out = norm(F.relu(conv(h)))
            h = out if index == 0 else out + h
            layers.append(h)
        return torch.cat(layers, dim=1)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        """``(B, 187, 96)`` → ``logits`` (B, 50), ``penultimate`` (B, 200), ``mean_pool`` / ``max_pool``
        (B, 753), ``sequence`` (B, 187, 753): the mid-end features per frame (16 ms)."""
        sequence = self.midend_sequence(x)  # (B, D, T)
        max_pool, mean_pool = sequence.amax(dim=2), sequence.mean(dim=2)
        pooled = torch.stack([max_pool, mean_pool], dim=2).flatten(1)  # TF's [max_0, mean_0, max_1, ...]
        penultimate = self.dense_norm(F.relu(self.dense(self.pool_norm(pooled))))
        return {
            "logits": self.classifier(penultimate),
            "penultimate": penultimate,
            "mean_pool": mean_pool,
            "max_pool": max_pool,
            "sequence": sequence.transpose(1, 2),
        }

    def load_tf(self, tf: dict[str, np.ndarray]) -> None:
        """Copy the variables of a musicnn TensorFlow checkpoint (names as TF 1's layers gave them)."""
        bns = [self.input_norm, *(b.norm for b in self.frontend), *self.midend_norms, self.pool_norm, self.dense_norm]
        for index, norm in enumerate(bns):
            _copy_bn(norm, tf, "batch_normalization" + (f"_{index}" if index else ""))
        convs = [b.conv for b in self.frontend] + list(self.midend)
        for index, conv in enumerate(convs):
            kernel = tf[f"conv2d{f'_{index}' if index else ''}/kernel"]  # (kh, kw, in, out)
            if isinstance(conv, nn.Conv1d):  # a (7, D, 1, 64) kernel spans every feature: a Conv1d over time
                kernel = kernel[:, :, 0, :].transpose(2, 1, 0)
            else:
                kernel = kernel.transpose(3, 2, 0, 1)
            _copy(conv.weight, kernel)
            _copy(conv.bias, tf[f"conv2d{f'_{index}' if index else ''}/bias"])
        _copy_dense(self.dense, tf, "dense")
        _copy_dense(self.classifier, tf, "dense_1")


class VggNet(nn.Module):
    """musicnn's VGG baseline: ``(B, 187, 96)`` → ``logits`` (B, 50) and ``pool5`` (B, 256)."""

    architecture = "vgg"
    POOLS = ((4, 1, 2, 2), (2, 2, 2, 2), (2, 2, 2, 2), (2, 2, 2, 2), (4, 4, 4, 4))
    """Each block's max pooling: (kernel time, kernel freq, stride time, stride freq), TF "valid"."""

    def __init__(self, classes: int = 50, filters: int = 128):
        super().__init__()
        self.input_norm = nn.BatchNorm2d(1, eps=TF_BATCHNORM_EPS)
        self.convs = nn.ModuleList([nn.Conv2d(1 if i == 0 else filters, filters, 3, padding=1) for i in range(5)])
        self.norms = nn.ModuleList([nn.BatchNorm2d(filters, eps=TF_BATCHNORM_EPS) for _ in range(5)])
        self.penultimate_dim = filters * 2  # pool5 is (2 time × 1 freq) for a 187 × 96 patch
        self.classifier = nn.Linear(self.penultimate_dim, classes)
        self.sequence_dim = filters

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        h = self.input_norm(x.unsqueeze(1))
        for conv, norm, (kt, kf, st, sf) in zip(self.convs, self.norms, self.POOLS, strict=True):
            h = F.max_pool2d(norm(F.relu(conv(h))), (kt, kf), (st, sf))
        sequence = h.mean(dim=3).transpose(1, 2)  # (B, 2, 128): coarse, but in time order
        pool5 = h.permute(0, 2, 3, 1).flatten(1)  # TF flattens NHWC
        return {"logits": self.classifier(pool5), "penultimate": pool5, "sequence": sequence}

    def load_tf(self, tf: dict[str, np.ndarray]) -> None:
        """Copy the variables of a musicnn VGG TensorFlow checkpoint."""
        for index, norm in enumerate([self.input_norm, *self.norms]):
            _copy_bn(norm, tf, "batch_normalization" + (f"_{index}" if index else ""))
        for index, conv in enumerate(self.convs, start=1):
            _copy(conv.weight, tf[f"{index}CNN/kernel"].transpose(3, 2, 0, 1))
            _copy(conv.bias, tf[f"{index}CNN/bias"])
        _copy_dense(self.classifier, tf, "dense")


def _copy(target: torch.Tensor, value: np.ndarray) -> None:
    if tuple(target.shape) != value.shape:
        raise SongalignError(
            f"a musicnn checkpoint variable has shape {value.shape}, the port expects {tuple(target.shape)}"
        )
    with torch.no_grad():
        target.copy_(torch.from_numpy(np.ascontiguousarray(value)))


def _copy_bn(norm: nn.Module, tf: dict[str, np.ndarray], name: str) -> None:
    _copy(norm.weight, tf[f"{name}/gamma"])
    _copy(norm.bias, tf[f"{name}/beta"])
    _copy(norm.running_mean, tf[f"{name}/moving_mean"])
    _copy(norm.running_var, tf[f"{name}/moving_variance"])


def _copy_dense(layer: nn.Linear, tf: dict[str, np.ndarray], name: str) -> None:
    _copy(layer.weight, tf[f"{name}/kernel"].T)
    _copy(layer.bias, tf[f"{name}/bias"])


# -- weights ---------------------------------------------------------------------------------------------
def checkpoint_folder(model: str, weights: str | Path | None = None) -> Path:
    """The folder of ``model``'s TensorFlow checkpoint: ``weights`` when given (a folder holding
    ``.index`` and ``.data-00000-of-00001``, such as ``musicnn/MSD_musicnn`` of a musicnn checkout),
    else the installed ``musicnn`` wheel's, found without importing it (its code imports TensorFlow)."""
    if weights is not None:
        folder = Path(weights).expanduser()
        if not (folder / ".index").is_file():
            raise BadInputError(
                folder, f"holds no TensorFlow checkpoint (.index); give the folder of musicnn's {model}"
            )
        return folder
    spec = importlib.util.find_spec("musicnn")
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        folder = Path(location) / model
        if (folder / ".index").is_file():
            return folder
    raise SongalignError(
        f"musicnn's {model} weights come from the musicnn wheel, which is not installed; install it with: {INSTALL} "
        "(without its dependencies: TensorFlow is not used)"
    )


def musicnn_available() -> bool:
    """Whether the musicnn wheel (its checkpoints) is installed."""
    return importlib.util.find_spec("musicnn") is not None


def checkpoint_digest(folder: Path) -> str:
    """16 hex digits of SHA-256 over the checkpoint's index and data files: the cache key."""
    digest = hashlib.sha256()
    for name in (".index", ".data-00000-of-00001"):
        with open(folder / name, "rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha256").digest())
    return digest.hexdigest()[:16]


def cache_root() -> Path:
    """Where converted weights are cached: ``$SONGALIGN_CACHE`` or ``$XDG_CACHE_HOME/songalign`` (``~/.cache/songalign``)."""
    if os.environ.get("SONGALIGN_CACHE"):
        return Path(os.environ["SONGALIGN_CACHE"]).expanduser()
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache").expanduser() / "songalign"


def build_network(model: str) -> MusicnnNet | VggNet:
    """The untrained network of ``model`` (one of :data:`MODELS`)."""
    if model not in MODELS:
        raise SongalignError(f"unknown musicnn model {model!r}; choose one of {', '.join(MODELS)}")
    architecture, labels = MODELS[model]
    return MusicnnNet(len(labels)) if architecture == "musicnn" else VggNet(len(labels))


@lru_cache(maxsize=8)
def _state(model: str, folder: str, digest: str) -> dict[str, torch.Tensor]:
    from safetensors import SafetensorError
    from safetensors.torch import load_file, save_file

    cached = cache_root() / "musicnn" / f"{model}-{digest}.safetensors"
    if cached.is_file():
        try:
            return load_file(cached)
        except (SafetensorError, OSError):
            pass  # a damaged cache entry: convert again below and replace it
    network = build_network(model)
    network.load_tf(read_tf_checkpoint(folder + "/"))
    state = {k: v.contiguous() for k, v in network.state_dict().items()}
    if not all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()):
        raise BadInputError(folder, f"holds NaN or infinite weights for {model}; reinstall the musicnn wheel")
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=cached.parent, suffix=".partial", delete=False) as handle:
            partial = Path(handle.name)
        save_file(state, str(partial), metadata={"source": f"musicnn {model}", "checkpoint_sha256": digest})
        partial.replace(cached)  # atomic: a reader never sees half a file, two writers never share one
    except OSError:
        pass  # a read-only cache only costs converting again next time
    return state


def load_network(model: str = DEFAULT_MODEL, weights: str | Path | None = None) -> MusicnnNet | VggNet:
    """``model``'s network with the musicnn checkpoint's weights, in eval mode, gradients off; its
    ``checkpoint`` attribute is :func:`checkpoint_digest` of the files the weights came from."""
    network = build_network(model)  # an unknown name fails here, before any file is looked for
    folder = checkpoint_folder(model, weights)
    digest = checkpoint_digest(folder)
    network.load_state_dict(_state(model, str(folder), digest))
    network.checkpoint = digest
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    return network.eval()


# -- the tagger --------------------------------------------------------------------------------------------
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
        mel = torch.from_numpy(musicnn_log_mel(waveform))
        hop = hop_frames(hop_seconds)
        patches = cut_patches(mel.unsqueeze(0), hop)[0]
        tags = torch.cat([self(patches[i : i + batch_size])["tags"] for i in range(0, len(patches), batch_size)])
        return Taggram(self.labels, patch_times(mel.shape[0], hop), tags.cpu().numpy())


def hop_frames(hop_seconds: float | None) -> int:
    """Frames between patch starts for a hop in seconds, as musicnn converts ``input_overlap``
    (``librosa.time_to_frames``: ``(seconds·16000 − 256) // 256``); ``None`` → one patch (187 frames)."""
    if hop_seconds is None:
        return PATCH_FRAMES
    frames = int((hop_seconds * SAMPLE_RATE - N_FFT // 2) // HOP)
    if frames < 1:
        raise SongalignError(f"a patch hop of {hop_seconds} s is less than one frame; give at least 0.032 s")
    return frames


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


# -- the audio tower ---------------------------------------------------------------------------------------
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
    ``checkpoint`` (the :func:`checkpoint_digest` the tower must find; ``config()`` records it, so a saved
    model refuses weights other than those it was built on).
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
        signal, single = as_waveform_batch(waveform)
        result = torch.stack([torch.from_numpy(musicnn_log_mel(row.numpy())) for row in signal])
        return result[0] if single else result

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

    def _clip_outputs(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, frames, 96)`` → ``(B, W)``: every output of :meth:`_parts`, each averaged over the clip's patches.

        A frozen tower remembers these rows per clip (:data:`CLIP_MEMO`, keyed by the features' bytes), so
        towers that read different outputs of one model (the tag bridge's ``tags``, a CLAP head's
        ``penultimate``) share one pass of the network.
        """
        patches, count = self._patches(features)
        # only a frozen tower with the checkpoint's own weights gives the same rows every time
        memo = CLIP_MEMO if self.memoised else None
        weights = module_digest(self.tagger.network) if memo is not None else ""  # the weights as they are now: 3 ms
        keys = [self._memo_key(clip, weights) for clip in features] if memo is not None else []
        rows: dict[int, torch.Tensor] = {}
        for i, key in enumerate(keys):
            remembered = memo.get(key) if memo is not None else None
            if remembered is not None:
                rows[i] = remembered.to(features.device)
        missing = [i for i in range(len(features)) if i not in rows]
        if missing:
            wanted = patches.view(len(features), count, *patches.shape[1:])[missing].flatten(0, 1)
            outputs = self._run(wanted)
            joined = torch.cat([outputs[name] for name in self._parts()], dim=-1)
            for position, row in zip(missing, joined.view(len(missing), count, -1).mean(dim=1), strict=True):
                rows[position] = row
                if memo is not None:
                    memo.put(keys[position], row.detach().cpu())
        return torch.stack([rows[i] for i in range(len(features))])

    @property
    def memoised(self) -> bool:
        """Whether clip outputs go through :data:`CLIP_MEMO`: a frozen tower whose weights are a checkpoint's."""
        return self.pretrained and not self.trainable and not self.training

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
