"""Shared base of the towers that read songalign's own log-mel spectrogram."""

from __future__ import annotations

from typing import Any

import numpy as np
import torch
from torch import nn

from songalign.audio.features import LogMelConfig, log_mel
from songalign.towers.base import AudioTower, as_waveform_batch


class LogMelAudioTower(AudioTower):
    """An audio tower whose features are :func:`songalign.audio.features.log_mel` of the waveform.

    Features: ``(n_mels, frames)`` for one clip or ``(B, n_mels, frames)`` for a batch, natural-log
    mel power, ``frames = samples // hop_length + 1``; ``log_mel_config`` holds every parameter.
    Inputs are normalised by a BatchNorm over mel bands (learned per-band mean and scale), so no
    dataset statistics are needed.
    """

    feature_kind = "log_mel"

    def __init__(self, log_mel_config: LogMelConfig | dict[str, Any] | None = None):
        super().__init__()
        if isinstance(log_mel_config, dict):
            log_mel_config = LogMelConfig(**log_mel_config)
        self.log_mel_config: LogMelConfig = log_mel_config or LogMelConfig()
        self.sample_rate = self.log_mel_config.sample_rate
        self.input_norm = nn.BatchNorm1d(self.log_mel_config.n_mels)

    def features(self, waveform: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Log-mel of mono audio at ``sample_rate`` Hz: ``(samples,)`` → ``(n_mels, frames)``,
        ``(B, samples)`` → ``(B, n_mels, frames)``, float32 on the CPU."""
        signal, single = as_waveform_batch(waveform)
        if not torch.isfinite(signal).all():
            raise ValueError("the waveform holds NaN or infinite samples")
        result = log_mel(signal, self.log_mel_config)
        return result[0] if single else result

    def _normalised(self, features: torch.Tensor) -> torch.Tensor:
        """Check ``(B, n_mels, frames)`` and apply the per-band input normalisation."""
        n_mels = self.log_mel_config.n_mels
        if features.dim() != 3 or features.shape[1] != n_mels:
            raise ValueError(
                f"{self.name} tower expects log-mel features (B, {n_mels}, frames); got {tuple(features.shape)}"
                " (use tower.features(waveform) and stack clips into a batch)"
            )
        return self.input_norm(features.to(self.device, torch.float32))

    def _log_mel_options(self) -> dict[str, Any]:
        return self.log_mel_config.model_dump()
