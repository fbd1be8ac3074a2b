"""Training-time augmentation of log-mel batches (SpecAugment-style), deterministic per step.

Our corpora are small (the synthetic one has ~100 training segments), so a model trained from
scratch memorises them; masking and shifting the spectrogram is the standard remedy
(Park et al., 2019). Every random draw comes from a generator seeded with ``(seed, step)``, so a
resumed run augments exactly as an uninterrupted one. Inference never augments.
"""

from __future__ import annotations

import math

import torch
from pydantic import BaseModel, Field


class AugmentSettings(BaseModel):
    """Masks and shifts applied to ``(B, n_mels, frames)`` log-mel batches; 0 disables each."""

    time_masks: int = Field(2, ge=0, description="number of time masks per example")
    time_mask_share: float = Field(0.1, ge=0, le=1, description="longest time mask, as a share of the frames")
    freq_masks: int = Field(2, ge=0)
    freq_mask_bands: int = Field(8, ge=0, description="widest frequency mask, in mel bands")
    max_shift_share: float = Field(0.25, ge=0, le=1, description="largest circular time shift, as a share of frames")
    gain_db: float = Field(6.0, ge=0, description="largest level change, ± dB")


def augment_log_mel(batch: torch.Tensor, settings: AugmentSettings, generator: torch.Generator) -> torch.Tensor:
    """An augmented copy of ``batch`` ``(B, n_mels, frames)`` (natural-log mel energies).

    Per example: a circular shift in time by up to ``max_shift_share`` of the frames, a gain of
    ±``gain_db`` (``+ gain_db · ln(10)/10`` in the log domain, as mel energies are powers), then
    time and frequency masks set to the example's mean value.
    """
    if batch.dim() != 3:
        return batch
    out = batch.clone()
    size, bands, frames = out.shape

    def draw(high: float) -> float:
        return float(torch.rand((), generator=generator)) * high

    for i in range(size):
        if settings.max_shift_share:
            out[i] = torch.roll(out[i], int(draw(settings.max_shift_share * frames)), dims=-1)
        if settings.gain_db:
            out[i] += (2 * draw(1.0) - 1) * settings.gain_db * math.log(10) / 10
        fill = out[i].mean()
        for _ in range(settings.time_masks):
            width = int(draw(settings.time_mask_share * frames))
            start = int(draw(max(frames - width, 1)))
            out[i, :, start : start + width] = fill
        for _ in range(settings.freq_masks):
            width = int(draw(settings.freq_mask_bands))
            start = int(draw(max(bands - width, 1)))
            out[i, start : start + width, :] = fill
    return out
