"""The captioner's default music encoder: musicnn's pretrained MSD tagger, frozen, its mid-end sequence cached;
and the shuffle test of the comparison."""

from __future__ import annotations

import numpy as np
import torch

from songalign.align.model import TowerSpec
from songalign.audio.cache import FeatureCache
from songalign.caption.data import CaptionItem
from songalign.caption.music import (
    MusicEncoderConfig,
    audio_file_features,
    build_music_encoder,
    encoder_key,
    excerpt_samples,
    excerpt_window,
    music_features,
)
from songalign.caption.study import other_song_order
from songalign.checkpoint import module_digest
from songalign.corpus.testing import write_audio
from songalign.errors import SkipReport

EXCERPT = 6.0
"""Seconds: 6 s at 16 kHz are 376 frames of 16 ms, two whole 3 s patches (374 frames), 46 steps of 8 frames."""


def test_the_default_music_encoder_is_musicnn_frozen_with_its_pretrained_weights(musicnn_installed):
    from songalign.towers.musicnn import MusicnnAudioTower

    config = MusicEncoderConfig(excerpt_seconds=EXCERPT)
    assert config.tower == TowerSpec(name="musicnn", options={"model": "MSD_musicnn", "sequence_stride": 8})
    tower = build_music_encoder(config)
    assert isinstance(tower, MusicnnAudioTower) and tower.model_name == "MSD_musicnn" and tower.sequence_stride == 8
    assert not tower.training and not any(p.requires_grad for p in tower.parameters())
    tower.train()  # a frozen musicnn tower stays in eval mode (its batch norms keep musicnn's statistics)
    assert not tower.training
    random = MusicnnAudioTower(pretrained=False)
    assert module_digest(tower) != module_digest(random)  # the wheel's weights, not an initialisation
    assert build_music_encoder(MusicEncoderConfig(excerpt_seconds=EXCERPT)) is tower  # built once, shared


def test_the_cached_musicnn_sequence_has_l_m_steps_of_753_and_follows_the_music(musicnn_installed, tmp_path):
    low = write_audio(tmp_path / "low.wav", 8.0, frequency=110.0)
    high = write_audio(tmp_path / "high.wav", 8.0, frequency=1760.0)
    items = [
        CaptionItem("low", "la la", "a deep hum", audio_path=str(low)),
        CaptionItem("high", "la la", "a high whistle", audio_path=str(high)),
    ]
    config = MusicEncoderConfig(excerpt_seconds=EXCERPT)
    report = SkipReport()
    features = music_features(items, config, tmp_path / "cache", report, progress=False)
    steps = (int(EXCERPT * 16000) // 256 + 1) // 187 * 187 // 8
    assert steps == 46
    assert {song: array.shape for song, array in features.items()} == {"low": (46, 753), "high": (46, 753)}
    assert features["low"].dtype == np.float32 and report.summary() == "kept 2, skipped 0"
    # the music matters: another sound gives other features, far more than numerical noise
    difference = np.abs(features["low"] - features["high"]).mean()
    assert difference > 0.05 * np.abs(features["low"]).mean()
    # the cached sequence is the one computed directly from the file's excerpt
    tower = build_music_encoder(config)
    np.testing.assert_allclose(features["low"], audio_file_features(low, config, tower), atol=1e-5)
    # and it is read back from the cache under the encoder's key, without computing again
    offset, duration = excerpt_window(8.0, str(low), EXCERPT)

    def must_not_run(audio: np.ndarray) -> np.ndarray:
        raise AssertionError("the music features were computed again instead of read from the cache")

    key, samples = encoder_key(config, tower), excerpt_samples(config, tower)
    cached = FeatureCache(tmp_path / "cache").features(low, 16000, key, must_not_run, offset, duration, samples)
    np.testing.assert_array_equal(cached, features["low"])


def test_the_cache_key_tells_musicnn_models_strides_and_towers_apart(musicnn_installed, tmp_path):
    song = write_audio(tmp_path / "song.wav", 4.0, frequency=440.0)
    items = [CaptionItem("song", "la", "a tone", audio_path=str(song))]
    configs = {
        "msd": MusicEncoderConfig(excerpt_seconds=3.5),
        "mtt": MusicEncoderConfig(excerpt_seconds=3.5, tower=TowerSpec(name="musicnn", options={"model": "MTT_musicnn", "sequence_stride": 8})),
        "stride4": MusicEncoderConfig(excerpt_seconds=3.5, tower=TowerSpec(name="musicnn", options={"sequence_stride": 4})),
        "cnn": MusicEncoderConfig(excerpt_seconds=3.5, tower=TowerSpec(name="cnn", options={"channels": [8], "embedding_dim": 16})),
    }  # fmt: skip
    keys = {name: encoder_key(config, build_music_encoder(config)) for name, config in configs.items()}
    assert len(set(keys.values())) == len(keys)
    cache = tmp_path / "cache"  # one cache for all: each encoder reads its own features
    features = {name: music_features(items, config, cache, progress=False)["song"] for name, config in configs.items()}
    assert features["msd"].shape == features["mtt"].shape == (187 // 8, 753)
    assert features["stride4"].shape == (187 // 4, 753)
    assert not np.allclose(features["msd"], features["mtt"])  # same architecture, other weights: other features
    np.testing.assert_allclose(features["stride4"][:22].reshape(11, 2, 753).mean(1), features["msd"][:11], atol=1e-5)


def test_other_song_order_gives_every_row_another_song_where_the_batch_allows():
    generator = torch.Generator().manual_seed(0)
    for songs in ([0, 0, 0, 1, 1, 2], [0, 1, 2, 3], [5, 5, 7, 7, 7, 7, 8, 9], [3, 3, 4]):
        songs = torch.tensor(songs)
        for _ in range(20):
            order = other_song_order(songs, generator)
            assert sorted(order.tolist()) == list(range(len(songs)))  # a permutation
            moved = int((songs[order] != songs).sum())
            # every row moves when no song holds more than half the batch; of [3, 3, 4] at most two rows can
            assert moved == (2 if songs.tolist() == [3, 3, 4] else len(songs)), (songs, order)
