"""The musicnn networks (Pons & Serra, 2019) in PyTorch and their input: log-mel patches of 16 kHz audio.

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

The weights come from :mod:`songalign.towers.musicnn.port`; this module knows nothing of TensorFlow.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn
from torch.nn import functional as F

from songalign.errors import SongalignError

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


def hop_frames(hop_seconds: float | None) -> int:
    """Frames between patch starts for a hop in seconds, as musicnn converts ``input_overlap``
    (``librosa.time_to_frames``: ``(seconds·16000 − 256) // 256``); ``None`` → one patch (187 frames)."""
    if hop_seconds is None:
        return PATCH_FRAMES
    frames = int((hop_seconds * SAMPLE_RATE - N_FFT // 2) // HOP)
    if frames < 1:
        raise SongalignError(f"a patch hop of {hop_seconds} s is less than one frame; give at least 0.032 s")
    return frames


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


def build_network(model: str) -> MusicnnNet | VggNet:
    """The untrained network of ``model`` (one of :data:`MODELS`)."""
    if model not in MODELS:
        raise SongalignError(f"unknown musicnn model {model!r}; choose one of {', '.join(MODELS)}")
    architecture, labels = MODELS[model]
    return MusicnnNet(len(labels)) if architecture == "musicnn" else VggNet(len(labels))
