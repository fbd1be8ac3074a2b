"""The two networks of the seed's lyrics transcriber: PitchOnsetCRNN and LyricsCRNN (seed 001, first paper).

Both read a log-mel spectrogram of two channels, ``(B, C=2, F=80, T)`` (16 ms frames), and share
one building block, :class:`ResidualConvBlock`. :class:`PitchOnsetCRNN` gives per-frame pitch
logits over 129 classes (MIDI 0–127 and "no pitch", index 128) and an onset logit; its
probabilities are joined to :class:`LyricsCRNN`'s features at half the frame rate, and the lyrics
network gives CTC logits over :data:`~songalign.transcribe.symbols.SYMBOLS` (blank first) at 32 ms.

Where the authors' code differs from the paper, both are offered (``NetworkConfig``):

=====================  ==================================================  ===========================================
option                 the paper's (default)                               the authors' code
=====================  ==================================================  ===========================================
``join``               ``"pool"``: CNN features and pitch/onset             ``"interpolate"``: the CNN output max-pooled
                       probabilities concatenated per frame, then max-      3×3 with stride 2 (time and frequency), the
                       pooled over time to T/2                              probabilities resized to T/2 by nearest
                                                                            interpolation, then concatenated
``pitch_head``         ``"linear"``: BiLSTM (hidden ``pitch_hidden``) →     ``"summed"``: BiLSTM with hidden 130 whose two
                       FC → 129 pitch + 1 onset logits                      directions are summed into the 130 logits
``lyrics_head``        ``"linear"``: FC → symbols                           ``"two_layer"``: FC 2H → H, ReLU, FC → symbols
=====================  ==================================================  ===========================================

The code also starts each CNN with a plain convolution before five residual blocks, and its instance
norms have no affine parameters; here all six blocks are residual, with affine norms (a block's input
can then be the raw two-channel spectrogram). The code keeps only training clips whose notes cover more
than 10% of the window; the paper says nothing of it, so every clip is kept unless the recipe's
``data.min_sung_share`` says otherwise (``configs/alt_small.yaml``: 0.1, as the code).

The code's 34-symbol output (blank first) carries five symbols that never occur in normalised
English lyrics; the paper's 29 (:mod:`songalign.transcribe.symbols`) are used either way. A model folder
declares what its lyrics network writes in ``network.symbols``: ``characters`` (the paper's) or ``phonemes``
(:mod:`songalign.transcribe.phonemes`, with ``keep_stress`` / ``keep_length`` saying which marks its targets
kept), and :func:`output_symbols` gives the classes.
"""

from __future__ import annotations

from typing import Literal

import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field, model_validator
from torch import nn

from songalign.transcribe.symbols import NO_PITCH, PITCH_CLASSES, SYMBOLS

__all__ = [
    "NO_PITCH",
    "PITCH_CLASSES",
    "LyricsCRNN",
    "NetworkConfig",
    "PitchOnsetCRNN",
    "output_frames",
    "output_symbols",
]


class NetworkConfig(BaseModel):
    """Sizes of the two CRNNs; the defaults are the paper's (``configs/alt.yaml``)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    pitch_network: str = Field("pitch_onset_crnn", description="registered name (songalign.transcribe.NETWORKS)")
    lyrics_network: str = Field("lyrics_crnn", description="registered name (songalign.transcribe.NETWORKS)")
    n_mels: int = Field(80, gt=0)
    frequency_pool: int = Field(
        1, ge=1, description="max-pool the mel bins by this factor before the CNNs (1 = the paper's; 2 halves the cost)"
    )
    in_channels: int = Field(2, ge=1, description="input channels: mix and vocals")
    pitch_channels: tuple[int, ...] = (64, 32, 32, 32, 32, 1)
    pitch_kernels: tuple[int, ...] = (5, 5, 3, 3, 3, 1)
    pitch_hidden: int = Field(256, gt=0, description="units per direction of the pitch/onset BiLSTM ('linear' head)")
    pitch_head: Literal["linear", "summed"] = "linear"
    lyrics_channels: tuple[int, ...] = (64, 32, 32, 32, 32, 16)
    lyrics_kernels: tuple[int, ...] = (5, 5, 3, 3, 3, 3)
    lyrics_hidden: int = Field(512, gt=0, description="units per direction of each lyrics BiLSTM")
    lyrics_layers: int = Field(3, ge=1)
    dropout: float = Field(0.2, ge=0, lt=1, description="dropout of the lyrics network")
    pitch_dropout: float = Field(
        0.0, ge=0, lt=1, description="dropout of the pitch/onset network (0 in paper and code)"
    )
    join: Literal["pool", "interpolate"] = "pool"
    detach_conditioning: bool = Field(
        False,
        description="multitask: the lyrics network reads the pitch/onset probabilities without passing CTC's "
        "gradient back into the pitch network (which then learns from its own losses only)",
    )
    lyrics_head: Literal["linear", "two_layer"] = "linear"
    symbols: Literal["characters", "phonemes"] = Field(
        "characters",
        description="what the lyrics network writes: 'characters' (blank, space, apostrophe, a-z) or 'phonemes' "
        "(blank and the IPA inventory every language shares, songalign.transcribe.phonemes)",
    )
    keep_stress: bool = Field(False, description="phonemes: stress marks are symbols of the targets (else folded)")
    keep_length: bool = Field(False, description="phonemes: length marks are symbols of the targets (else folded)")

    @model_validator(mode="after")
    def _matching_lengths(self) -> NetworkConfig:
        for channels, kernels, name in (
            (self.pitch_channels, self.pitch_kernels, "pitch"),
            (self.lyrics_channels, self.lyrics_kernels, "lyrics"),
        ):
            if len(channels) != len(kernels) or not channels:
                raise ValueError(f"{name}_channels and {name}_kernels must list one value per CNN block, alike")
            if any(k % 2 == 0 for k in kernels):
                raise ValueError(f"{name}_kernels must be odd (the blocks keep the frame count)")
        return self


def output_symbols(config: NetworkConfig) -> tuple[str, ...]:
    """The lyrics network's output classes, blank first: :data:`~songalign.transcribe.symbols.SYMBOLS` or
    :data:`~songalign.transcribe.phonemes.PHONEME_SYMBOLS`, as ``config.symbols`` says."""
    from songalign.transcribe.phonemes import PHONEME_SYMBOLS

    return PHONEME_SYMBOLS if config.symbols == "phonemes" else SYMBOLS


class ResidualConvBlock(nn.Module):
    """Instance norm → (1×1 projection when the channels change) → ReLU → dropout → k×k conv, plus the projection.

    ``(B, C_in, F, T)`` → ``(B, C_out, F, T)``: frames and bins are kept ("same" padding).
    """

    def __init__(self, in_channels: int, out_channels: int, kernel: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.InstanceNorm2d(in_channels, affine=True)
        self.project = nn.Identity() if in_channels == out_channels else nn.Conv2d(in_channels, out_channels, 1)
        self.dropout = nn.Dropout2d(dropout)
        self.conv = nn.Conv2d(out_channels, out_channels, kernel, padding=kernel // 2)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip = self.project(self.norm(x))
        return self.conv(self.dropout(F.relu(skip))) + skip


def conv_stack(in_channels: int, channels: tuple[int, ...], kernels: tuple[int, ...], dropout: float) -> nn.Sequential:
    """The residual CNN of one CRNN: one :class:`ResidualConvBlock` per (channels, kernel)."""
    blocks, previous = [], in_channels
    for out_channels, kernel in zip(channels, kernels, strict=True):
        blocks.append(ResidualConvBlock(previous, out_channels, kernel, dropout))
        previous = out_channels
    return nn.Sequential(*blocks)


class NormalisedBiLSTM(nn.Module):
    """Layer norm → BiLSTM → dropout; ``(B, T, D)`` → ``(B, T, 2·hidden)``."""

    def __init__(self, size: int, hidden: int, dropout: float) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(size)
        self.lstm = nn.LSTM(size, hidden, batch_first=True, bidirectional=True)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.lstm(self.norm(x))[0])


def _frames_first(features: torch.Tensor) -> torch.Tensor:
    """``(B, C, F, T)`` → ``(B, T, C·F)``."""
    batch, channels, bins, frames = features.shape
    return features.reshape(batch, channels * bins, frames).transpose(1, 2)


def pooled_bins(config: NetworkConfig) -> int:
    """Mel bins the CNNs see: ``ceil(n_mels / frequency_pool)``."""
    return -(-config.n_mels // config.frequency_pool)


def pool_frequency(mel: torch.Tensor, config: NetworkConfig) -> torch.Tensor:
    """``(B, C, F, T)`` → ``(B, C, ceil(F / frequency_pool), T)`` by max-pooling adjacent bins."""
    if config.frequency_pool == 1:
        return mel
    return F.max_pool2d(mel, (config.frequency_pool, 1), ceil_mode=True)


class PitchOnsetCRNN(nn.Module):
    """Per-frame pitch and onset: ``(B, C, F, T)`` log-mel → ``(B, T, 129)`` pitch logits, ``(B, T)`` onset logits."""

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        self.cnn = conv_stack(config.in_channels, config.pitch_channels, config.pitch_kernels, config.pitch_dropout)
        size = config.pitch_channels[-1] * pooled_bins(config)
        if config.pitch_head == "summed":  # the code's: hidden 130, the two directions summed, no FC
            self.rnn = NormalisedBiLSTM(size, PITCH_CLASSES + 1, 0.0)
            self.head = None
        else:
            self.rnn = NormalisedBiLSTM(size, config.pitch_hidden, 0.0)
            self.head = nn.Linear(2 * config.pitch_hidden, PITCH_CLASSES + 1)

    def forward(self, mel: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = self.rnn(_frames_first(self.cnn(pool_frequency(mel, self.config))))
        if self.head is None:
            logits = hidden[..., : PITCH_CLASSES + 1] + hidden[..., PITCH_CLASSES + 1 :]
        else:
            logits = self.head(hidden)
        return logits[..., :PITCH_CLASSES], logits[..., PITCH_CLASSES]


class LyricsCRNN(nn.Module):
    """CTC logits from log-mel and pitch/onset probabilities.

    ``mel`` ``(B, C, F, T)``, ``pitch`` ``(B, T, 129)`` and ``onset`` ``(B, T)`` probabilities →
    ``(B, T2, V)`` logits, ``T2 = output_frames(T) = ceil(T / 2)``, ``V = len(output_symbols(config))`` (29
    characters, or the phoneme inventory with its blank).
    """

    def __init__(self, config: NetworkConfig) -> None:
        super().__init__()
        self.config = config
        self.cnn = conv_stack(config.in_channels, config.lyrics_channels, config.lyrics_kernels, config.dropout)
        bins = pooled_bins(config) if config.join == "pool" else (pooled_bins(config) + 1) // 2
        size = config.lyrics_channels[-1] * bins + PITCH_CLASSES + 1
        layers, hidden = [], config.lyrics_hidden
        for index in range(config.lyrics_layers):
            layers.append(NormalisedBiLSTM(size if index == 0 else 2 * hidden, hidden, config.dropout))
        self.rnn = nn.Sequential(*layers)
        classes = len(output_symbols(config))
        if config.lyrics_head == "two_layer":
            self.head = nn.Sequential(nn.Linear(2 * hidden, hidden), nn.ReLU(), nn.Linear(hidden, classes))
        else:
            self.head = nn.Linear(2 * hidden, classes)

    def forward(self, mel: torch.Tensor, pitch: torch.Tensor, onset: torch.Tensor) -> torch.Tensor:
        features = self.cnn(pool_frequency(mel, self.config))
        conditioning = torch.cat([pitch, onset.unsqueeze(-1)], dim=-1)  # (B, T, 130)
        if self.config.join == "pool":  # the paper's: join per frame, then max-pool over time to T/2
            joined = torch.cat([_frames_first(features), conditioning], dim=-1)
            joined = F.max_pool1d(joined.transpose(1, 2), 2, 2, ceil_mode=True).transpose(1, 2)
        else:  # the code's: pool the CNN output 3×3 / 2, resize the probabilities by nearest interpolation
            pooled = _frames_first(F.max_pool2d(features, 3, 2, padding=1))
            resized = F.interpolate(conditioning.transpose(1, 2), size=pooled.shape[1], mode="nearest")
            joined = torch.cat([pooled, resized.transpose(1, 2)], dim=-1)
        return self.head(self.rnn(joined))


def output_frames(frames: int | torch.Tensor) -> int | torch.Tensor:
    """Emission frames of :class:`LyricsCRNN` for ``frames`` input frames: ``ceil(frames / 2)``."""
    return (frames + 1) // 2
