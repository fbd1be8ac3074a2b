"""SpecAugment-style augmentation: deterministic per generator, log-mel only, and it says so."""

from __future__ import annotations

import math

import pytest
import torch

from songalign.align.augment import AugmentSettings, augment_log_mel, require_handled
from songalign.errors import SongalignError
from songalign.towers import build_audio_tower

NOTHING = {"time_masks": 0, "freq_masks": 0, "max_shift_share": 0.0, "gain_db": 0.0}


def batch(seed: int = 0) -> torch.Tensor:
    return torch.randn(3, 16, 40, generator=torch.Generator().manual_seed(seed))


def test_augmentation_is_deterministic_per_generator_and_leaves_its_input_alone():
    features = batch()
    original = features.clone()
    settings = AugmentSettings()
    first = augment_log_mel(features, settings, torch.Generator().manual_seed(5))
    again = augment_log_mel(features, settings, torch.Generator().manual_seed(5))
    other = augment_log_mel(features, settings, torch.Generator().manual_seed(6))
    torch.testing.assert_close(first, again)
    assert first.shape == features.shape and not torch.allclose(first, other)
    torch.testing.assert_close(features, original)


def test_each_transform_does_what_it_says():
    features = batch(1)
    gain = augment_log_mel(features, AugmentSettings(**NOTHING | {"gain_db": 6.0}), torch.Generator().manual_seed(0))
    offsets = (gain - features).flatten(1)
    torch.testing.assert_close(offsets, offsets[:, :1].expand_as(offsets))  # one level change per example
    assert offsets.abs().max() <= 6.0 * math.log(10) / 10 + 1e-6  # ±6 dB on log powers
    shift = augment_log_mel(features, AugmentSettings(**NOTHING | {"max_shift_share": 0.5}), torch.Generator())
    for augmented, source in zip(shift, features, strict=True):  # a circular shift in time of each example
        assert any(torch.equal(augmented, torch.roll(source, k, dims=-1)) for k in range(features.shape[-1]))
    masked = augment_log_mel(
        features, AugmentSettings(**NOTHING | {"freq_masks": 1, "freq_mask_bands": 8}), torch.Generator().manual_seed(3)
    )
    bands_masked = 0
    for augmented, source in zip(masked, features, strict=True):
        changed = (augmented != source).any(dim=-1)  # (n_mels,): whole bands are masked
        assert changed.sum() <= 8
        assert torch.allclose(augmented[changed], source.mean().expand_as(augmented[changed]))
        bands_masked += int(changed.sum())
    assert bands_masked > 0


def test_augmentation_declares_the_feature_kinds_it_handles():
    assert AugmentSettings.feature_kinds == ("log_mel",)
    assert build_audio_tower("cnn").feature_kind in AugmentSettings.feature_kinds
    require_handled(AugmentSettings(), "cnn", "log_mel")
    require_handled(None, "hf_clap_audio", "clap")  # augmentation off: nothing to check
    with pytest.raises(SongalignError, match="tower 'hf_clap_audio' makes 'clap' features; set train.augment to null"):
        require_handled(AugmentSettings(), "hf_clap_audio", "clap")
    clap_batch = torch.zeros(2, 1, 40, 16)  # (B, C, frames, n_mels): not silently passed through any more
    with pytest.raises(ValueError, match="n_mels, frames"):
        augment_log_mel(clap_batch, AugmentSettings(), torch.Generator())
