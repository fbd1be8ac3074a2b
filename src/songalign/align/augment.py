"""Training-time augmentation of log-mel batches (SpecAugment-style), deterministic per step.

Our corpora are small (the synthetic one has ~100 training segments), so a model trained from
scratch memorises them; masking and shifting the spectrogram is the standard remedy
(Park et al., 2019). Every random draw comes from a generator seeded with ``(seed, step)``, so a
resumed run augments exactly as an uninterrupted one. Inference never augments.

The masks are defined on a log-mel spectrogram ``(B, n_mels, frames)``, i.e. on towers whose
``feature_kind`` is ``"log_mel"`` (:data:`AugmentSettings.feature_kinds`). Other features — the
CLAP feature extractor's ``(B, channels, frames, n_mels)`` — are not augmented: training with
augmentation on and such a tower stops before any work with one sentence saying to set
``train.augment`` to null (:func:`require_handled`), rather than silently training unaugmented
under a recipe that says otherwise.
"""

from __future__ import annotations

import math
from typing import ClassVar

import torch
from pydantic import BaseModel, Field

from songalign.errors import SongalignError


class AugmentSettings(BaseModel):
    """Masks and shifts applied to ``(B, n_mels, frames)`` log-mel batches; 0 disables each."""

    feature_kinds: ClassVar[tuple[str, ...]] = ("log_mel",)
    """The towers' ``feature_kind`` values these settings can augment."""

    time_masks: int = Field(2, ge=0, description="number of time masks per example")
    time_mask_share: float = Field(0.1, ge=0, le=1, description="longest time mask, as a share of the frames")
    freq_masks: int = Field(2, ge=0)
    freq_mask_bands: int = Field(8, ge=0, description="widest frequency mask, in mel bands")
    max_shift_share: float = Field(0.25, ge=0, le=1, description="largest circular time shift, as a share of frames")
    gain_db: float = Field(6.0, ge=0, description="largest level change, ± dB")


def require_handled(settings: AugmentSettings | None, tower_name: str, feature_kind: str) -> None:
    """Nothing when augmentation is off or handles ``feature_kind``; one clear error otherwise.

    Called when training starts, so a recipe never trains unaugmented while saying it augments.
    """
    if settings is None or feature_kind in settings.feature_kinds:
        return
    raise SongalignError(
        f"train.augment masks {' or '.join(settings.feature_kinds)} features (B, n_mels, frames), but the audio "
        f"tower {tower_name!r} makes {feature_kind!r} features; set train.augment to null in the recipe "
        "(--set train.augment=null) to train without augmentation"
    )


def augment_log_mel(batch: torch.Tensor, settings: AugmentSettings, generator: torch.Generator) -> torch.Tensor:
    """An augmented copy of ``batch`` ``(B, n_mels, frames)`` (natural-log mel energies).

    Per example: a circular shift in time by up to ``max_shift_share`` of the frames, a gain of
    ±``gain_db`` (``+ gain_db · ln(10)/10`` in the log domain, as mel energies are powers), then
    time and frequency masks set to the example's mean value. Any other shape is a ``ValueError``
    (check the tower with :func:`require_handled` first).
    """
    if batch.dim() != 3:
        raise ValueError(f"augment_log_mel takes (B, n_mels, frames) log-mel batches; got shape {tuple(batch.shape)}")
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
