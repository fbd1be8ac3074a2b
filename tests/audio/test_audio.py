from __future__ import annotations

import shutil

import librosa
import numpy as np
import pytest
import soundfile as sf
import soxr
import torch

from songalign.audio.cache import FeatureCache
from songalign.audio.features import LogMelConfig, log_mel
from songalign.audio.io import load_audio, mix_to_mono, probe_audio
from songalign.corpus.testing import write_audio
from songalign.errors import BadInputError


@pytest.mark.parametrize("suffix", [".wav", ".flac", ".ogg", ".mp3"])
def test_formats_decode_to_mono_at_the_requested_rate(tmp_path, suffix):
    path = write_audio(tmp_path / f"a{suffix}", 3.0, sample_rate=22050, channels=2)
    audio, rate = load_audio(path, sample_rate=16000)
    assert rate == 16000 and audio.ndim == 1 and audio.dtype == np.float32
    assert abs(len(audio) - 48000) <= 0.06 * 16000  # mp3 may add a few ms of padding
    info = probe_audio(path)
    assert info.channels == 2 and info.sample_rate == 22050 and info.duration == pytest.approx(3.0, abs=0.06)


def test_a_window_is_read_by_seeking_and_matches_the_full_decode(tmp_path):
    rate = 8000
    t = np.arange(5 * rate) / rate
    signal = (0.5 * np.sin(2 * np.pi * 3.0 * t) * np.sin(2 * np.pi * 440 * t)).astype(np.float32)
    sf.write(tmp_path / "w.wav", signal, rate, subtype="FLOAT")
    window, _ = load_audio(tmp_path / "w.wav", offset=1.25, duration=2.0)
    np.testing.assert_allclose(window, signal[int(1.25 * rate) : int(3.25 * rate)], atol=1e-7)
    tail, _ = load_audio(tmp_path / "w.wav", offset=4.5, duration=2.0)
    assert len(tail) == rate // 2  # shorter at the end, never padded
    with pytest.raises(BadInputError, match="window starts at 6.000 s"):
        load_audio(tmp_path / "w.wav", offset=6.0)


def test_stereo_is_averaged(tmp_path):
    left = np.full(800, 0.5, dtype=np.float32)
    sf.write(tmp_path / "s.wav", np.stack([left, -0.25 * np.ones(800, np.float32)], axis=1), 8000, subtype="FLOAT")
    mono, _ = load_audio(tmp_path / "s.wav")
    np.testing.assert_allclose(mono, 0.125)
    both, _ = load_audio(tmp_path / "s.wav", mono=False)
    assert both.shape == (2, 800)


@pytest.mark.parametrize("channels", [2, 3, 6])
def test_the_mono_mix_has_the_bits_of_the_channel_mean(tmp_path, channels):
    # column-by-column adding, then one division: numpy's mean over up to 7 channels adds in that order too
    rng = np.random.default_rng(channels)
    frames = (0.3 * rng.standard_normal((22050, channels))).astype(np.float32)
    sf.write(tmp_path / "m.wav", frames, 22050, subtype="FLOAT")
    np.testing.assert_array_equal(mix_to_mono(frames), frames.mean(axis=1))
    window, _ = load_audio(tmp_path / "m.wav", sample_rate=16000, offset=0.25, duration=0.5)  # frames 5512 on
    expected = soxr.resample(frames[5512 : 5512 + 11025].mean(axis=1), 22050, 16000, quality="HQ")
    np.testing.assert_array_equal(window, expected)


def test_the_mono_mix_of_many_channels_is_the_mean_to_float_rounding():
    # from 8 channels on numpy sums pairwise: another order of additions, each rounding by at most eps/2
    frames = np.random.default_rng(9).uniform(-1, 1, (4000, 9)).astype(np.float32)
    exact = frames.astype(np.float64).mean(axis=1)
    bound = 9 * np.finfo(np.float32).eps * np.abs(frames).max(axis=1)  # 8 additions and a division, relative to |x|max
    assert np.all(np.abs(mix_to_mono(frames) - exact) <= bound)
    assert np.all(np.abs(frames.mean(axis=1) - exact) <= bound)
    assert mix_to_mono(frames[:, :1]).base is None  # one channel: a copy, never a view the caller could alter


def test_errors_name_the_file(tmp_path):
    with pytest.raises(BadInputError, match="not found"):
        load_audio(tmp_path / "none.wav")
    (tmp_path / "junk.wav").write_bytes(b"RIFF....garbage")
    with pytest.raises(BadInputError, match="junk.wav: audio cannot be decoded"):
        probe_audio(tmp_path / "junk.wav")


def test_log_mel_matches_librosa_and_has_the_documented_shape():
    config = LogMelConfig(sample_rate=16000, n_fft=512, hop_length=160, n_mels=40)
    audio = np.random.default_rng(0).standard_normal(16000).astype(np.float32) * 0.1
    ours = log_mel(audio, config).numpy()
    reference = librosa.feature.melspectrogram(
        y=audio,
        sr=16000,
        n_fft=512,
        hop_length=160,
        n_mels=40,
        power=2.0,
        center=True,
        pad_mode="reflect",
        norm="slaney",
    )
    assert ours.shape == (40, config.frames(16000)) == reference.shape
    np.testing.assert_allclose(ours, np.log(np.maximum(reference, config.floor)), atol=1e-3)
    batch = log_mel(torch.from_numpy(np.stack([audio, audio])), config)
    assert batch.shape == (2, 40, 101)
    torch.testing.assert_close(batch[1], torch.from_numpy(ours))


def test_a_sine_lights_the_mel_band_of_its_frequency():
    config = LogMelConfig(n_mels=64)
    t = np.arange(16000) / 16000
    mel = log_mel(np.sin(2 * np.pi * 1000 * t), config).mean(dim=1)
    centres = librosa.mel_frequencies(n_mels=66, fmin=0, fmax=8000)[1:-1]
    assert abs(centres[int(mel.argmax())] - 1000) < 80


def test_feature_cache_hits_follow_content_and_parameters(tmp_path):
    path = write_audio(tmp_path / "a.wav", 2.0)
    cache = FeatureCache(tmp_path / "cache")
    config = LogMelConfig()
    first = cache.log_mel(path, config, offset=0.5, duration=1.0)
    assert (cache.hits, cache.misses) == (0, 1)
    moved = tmp_path / "moved.wav"
    shutil.copy(path, moved)
    np.testing.assert_array_equal(cache.log_mel(moved, config, offset=0.5, duration=1.0), first)
    assert cache.hits == 1  # same bytes elsewhere: same entry
    cache.log_mel(path, LogMelConfig(n_mels=32), offset=0.5, duration=1.0)
    cache.log_mel(path, config, offset=0.0, duration=1.0)
    assert cache.misses == 3
    assert not list((tmp_path / "cache").rglob("*.tmp"))
    fresh = FeatureCache(tmp_path / "cache")  # a new process finds the entries on disk
    fresh.log_mel(path, config, offset=0.5, duration=1.0)
    assert (fresh.hits, fresh.misses) == (1, 0)


def test_the_feature_cache_turns_a_file_it_cannot_read_into_a_bad_input(tmp_path):
    cache = FeatureCache(tmp_path / "cache")
    # the key needs the file's bytes, so a missing file fails there, before any decoding: as a skip, not a crash
    with pytest.raises(BadInputError, match=r"none\.wav: audio file cannot be read \(No such file"):
        cache.log_mel(tmp_path / "none.wav", LogMelConfig())
    with pytest.raises(BadInputError, match=r"^\(no audio path\): audio file cannot be read"):
        cache.log_mel("", LogMelConfig())  # a lyrics-only segment's empty audio_path
    assert cache.misses == 0 and not (tmp_path / "cache").exists()
