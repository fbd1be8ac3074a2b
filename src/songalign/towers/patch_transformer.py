"""``ast``: an AST-style patch transformer over log-mel (the audio encoder of seed 000).

Architecture (AST, Gong et al. 2021, scaled down by default)::

    log-mel (B, 128, T)           16 kHz, n_fft 400 (25 ms), hop 160 (10 ms), 128 mel bands
      → BatchNorm over mel bands
      → 16×16 patches (Conv2d, stride ``patch_stride``, default 16 = no overlap; AST used 10)
        → (B, F'·T', dim) tokens, F' = (n_mels − 16) // stride_f + 1, T' = (T − 16) // stride_t + 1
      → + learned positional embedding (one per patch position), [CLS] token prepended
      → ``depth`` pre-norm Transformer encoder layers (dim 192, 3 heads, MLP 4×, GELU)
      → LayerNorm → [CLS] → (optional Linear) → embedding (B, embedding_dim)

Defaults: dim 192, depth 4, heads 3: 1,925,056 parameters, 1.81 GFLOPs per 10 s clip (496 patches). The positional table covers
``max_frames`` (default 1001 frames = 10 s); shorter inputs use its first columns, longer ones a
linear interpolation of it along time. Clips shorter than one patch (16 frames) are padded with
zeros after normalisation.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch import nn
from torch.nn import functional as F

from songalign.audio.features import LogMelConfig
from songalign.towers.logmel import LogMelAudioTower

AST_LOG_MEL = LogMelConfig(sample_rate=16000, n_fft=400, hop_length=160, n_mels=128)
"""AST's front end: 25 ms windows every 10 ms, 128 mel bands, 16 kHz."""


def _pair(value: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(value, int):
        return value, value
    first, second = value
    return int(first), int(second)


class AstAudioTower(LogMelAudioTower):
    """Patch transformer on log-mel: ``(B, n_mels, frames)`` → ``(B, embedding_dim)`` from [CLS].

    Options: ``dim`` (192), ``depth`` (4), ``heads`` (3), ``patch_size`` (16), ``patch_stride``
    (16, or ``(freq, time)``), ``max_frames`` (1001), ``dropout`` (0.0), ``embedding_dim`` (None =
    ``dim``, else a Linear head), ``log_mel_config`` (default :data:`AST_LOG_MEL`).
    """

    name = "ast"

    def __init__(
        self,
        dim: int = 192,
        depth: int = 4,
        heads: int = 3,
        patch_size: int | Sequence[int] = 16,
        patch_stride: int | Sequence[int] = 16,
        max_frames: int = 1001,
        dropout: float = 0.0,
        embedding_dim: int | None = None,
        log_mel_config: LogMelConfig | dict[str, Any] | None = None,
    ):
        super().__init__(log_mel_config or AST_LOG_MEL)
        self.dim, self.depth, self.heads = int(dim), int(depth), int(heads)
        self.patch_size, self.patch_stride = _pair(patch_size), _pair(patch_stride)
        self.max_frames, self.dropout = int(max_frames), float(dropout)
        n_mels = self.log_mel_config.n_mels
        if n_mels < self.patch_size[0]:
            raise ValueError(f"n_mels ({n_mels}) must be at least the patch height ({self.patch_size[0]})")
        self.freq_patches = self._patches(n_mels, 0)
        self.max_time_patches = self._patches(max(self.max_frames, self.patch_size[1]), 1)
        self.patch_embed = nn.Conv2d(1, self.dim, kernel_size=self.patch_size, stride=self.patch_stride)
        self.position = nn.Parameter(torch.zeros(1, self.dim, self.freq_patches, self.max_time_patches))
        self.cls_token = nn.Parameter(torch.zeros(1, 1, self.dim))
        self.cls_position = nn.Parameter(torch.zeros(1, 1, self.dim))
        nn.init.trunc_normal_(self.position, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        nn.init.trunc_normal_(self.cls_position, std=0.02)
        layer = nn.TransformerEncoderLayer(
            self.dim,
            self.heads,
            4 * self.dim,
            dropout=self.dropout,
            activation="gelu",
            batch_first=True,
            norm_first=True,
        )
        self.encoder = nn.TransformerEncoder(layer, self.depth, enable_nested_tensor=False)
        self.norm = nn.LayerNorm(self.dim)
        self._embedding_option = embedding_dim
        self.embedding_dim = int(embedding_dim or self.dim)
        self.head = nn.Identity() if embedding_dim in (None, self.dim) else nn.Linear(self.dim, self.embedding_dim)
        self.sequence_dim = self.dim

    def _patches(self, length: int, axis: int) -> int:
        return (length - self.patch_size[axis]) // self.patch_stride[axis] + 1

    def _tokens(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, n_mels, T)`` → ``(B, 1 + F'·T', dim)`` encoded tokens ([CLS] first), after the final LayerNorm."""
        x = self._normalised(features).unsqueeze(1)  # (B, 1, n_mels, T)
        if x.shape[-1] < self.patch_size[1]:
            x = F.pad(x, (0, self.patch_size[1] - x.shape[-1]))
        patches = self.patch_embed(x)  # (B, dim, F', T')
        time_patches = patches.shape[-1]
        position = self.position
        if time_patches <= self.max_time_patches:
            position = position[..., :time_patches]
        else:
            position = F.interpolate(position, size=(self.freq_patches, time_patches), mode="bilinear")
        # time-major token order: all frequency patches of time step 0, then time step 1, ...
        tokens = (patches + position).permute(0, 3, 2, 1).flatten(1, 2)  # (B, T'·F', dim)
        cls = (self.cls_token + self.cls_position).expand(len(tokens), -1, -1)
        return self.norm(self.encoder(torch.cat([cls, tokens], dim=1)))

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, n_mels, frames)`` → ``(B, embedding_dim)``: the [CLS] output."""
        return self.head(self._tokens(features)[:, 0])

    def forward_sequence(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, n_mels, frames)`` → patch tokens ``(B, T'·F', dim)`` in time-major order (all
        ``F'`` frequency patches of the first time step, then the next; one time step per
        ``patch_stride[1]`` log-mel hops), without [CLS]."""
        return self._tokens(features)[:, 1:]

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "dim": self.dim,
            "depth": self.depth,
            "heads": self.heads,
            "patch_size": list(self.patch_size),
            "patch_stride": list(self.patch_stride),
            "max_frames": self.max_frames,
            "dropout": self.dropout,
            "embedding_dim": self._embedding_option,
            "log_mel_config": self._log_mel_options(),
        }
