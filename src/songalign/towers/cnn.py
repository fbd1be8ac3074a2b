"""``cnn``: the default audio tower — a small, CPU-fast CNN on log-mel spectrograms.

Architecture (defaults)::

    log-mel (B, 64, T)            16 kHz, n_fft 1024, hop 320 (20 ms), 64 mel bands, natural log
      → BatchNorm over mel bands  (B, 1, 64, T)
      → 5 conv blocks, each Conv3×3 (no bias) + BatchNorm + ReLU, channels 16, 32, 64, 128, 256;
        blocks 1–4 end with 2×2 max pooling (ceil mode)            → (B, 256, 4, ⌈T/16⌉)
      → mean over the 4 frequency rows                             → sequence (B, ⌈T/16⌉, 256), 0.32 s per step
      → [mean over time ‖ max over time] (512) → Linear → embedding (B, 256)

Size and cost (measured with ``torch.utils.flop_counter.FlopCounterMode``, which counts a
multiply-accumulate as 2 FLOPs): **524,272 parameters**; **0.308 GFLOPs per 10 s clip** (16 kHz,
501 frames), 0.307 G of them in the five convolutions. HF CLAP's HTSAT-tiny audio tower (28.2 M
parameters) needs 11.8 GFLOPs per 10 s clip counted the same way (38× more), plus its 48 kHz
feature extraction; ``benchmarks/embed_throughput.py`` measures both pipelines end to end.

Any number of frames ≥ 1 works (ceil-mode pooling, no padding), and the embedding pools over all
frames; clips are cut to one fixed length so that they can be batched (``AlignModel`` does this).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn

from songalign.audio.features import LogMelConfig
from songalign.towers.logmel import LogMelAudioTower

DEFAULT_CHANNELS = (16, 32, 64, 128, 256)


class ConvBlock(nn.Sequential):
    """Conv3×3 (no bias) → BatchNorm → ReLU, then 2×2 max pooling when ``pool``."""

    def __init__(self, in_channels: int, out_channels: int, pool: bool):
        layers: list[nn.Module] = [
            nn.Conv2d(in_channels, out_channels, kernel_size=3, padding=1, bias=False),
            nn.BatchNorm2d(out_channels),
            nn.ReLU(inplace=True),
        ]
        if pool:
            layers.append(nn.MaxPool2d(kernel_size=2, ceil_mode=True))
        super().__init__(*layers)


class CnnAudioTower(LogMelAudioTower):
    """Small CNN over log-mel: ``(B, n_mels, frames)`` → ``(B, embedding_dim)``.

    Options: ``channels`` per conv block (default 16, 32, 64, 128, 256; every block but the last
    halves frequency and time), ``embedding_dim`` (default 256), ``log_mel_config`` (a
    :class:`~songalign.audio.features.LogMelConfig` or its dict; default 16 kHz, hop 320 = 20 ms,
    64 mels). ``n_mels`` should be divisible by ``2 ** (len(channels) - 1)``.
    """

    name = "cnn"

    def __init__(
        self,
        channels: Sequence[int] = DEFAULT_CHANNELS,
        embedding_dim: int = 256,
        log_mel_config: LogMelConfig | dict[str, Any] | None = None,
    ):
        super().__init__(log_mel_config)
        self.channels = tuple(int(c) for c in channels)
        if not self.channels:
            raise ValueError("the cnn tower needs at least one conv block")
        self.embedding_dim = int(embedding_dim)
        self.sequence_dim = self.channels[-1]
        pools = len(self.channels) - 1
        self.blocks = nn.Sequential(
            *(
                ConvBlock(c_in, c_out, pool=i < pools)
                for i, (c_in, c_out) in enumerate(zip((1, *self.channels[:-1]), self.channels, strict=True))
            )
        )
        self.head = nn.Linear(2 * self.sequence_dim, self.embedding_dim)
        # channels-last convolutions are about 2.5× faster on a CPU (oneDNN's preferred layout) and equal
        # to within float rounding; saved weights are made contiguous by the model folder
        self.blocks.to(memory_format=torch.channels_last)

    def forward_sequence(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, n_mels, frames)`` → ``(B, ⌈frames / 2^(blocks−1)⌉, channels[-1])``, one step per
        ``2^(blocks−1)`` log-mel hops (0.32 s by default), before the embedding head."""
        maps = self.blocks(self._normalised(features).unsqueeze(1).contiguous(memory_format=torch.channels_last))
        return maps.mean(dim=2).transpose(1, 2)  # maps: (B, C, F', T')

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, n_mels, frames)`` → ``(B, embedding_dim)``."""
        sequence = self.forward_sequence(features)  # (B, T', C)
        pooled = torch.cat([sequence.mean(dim=1), sequence.amax(dim=1)], dim=-1)
        return self.head(pooled)

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "channels": list(self.channels),
            "embedding_dim": self.embedding_dim,
            "log_mel_config": self._log_mel_options(),
        }
