"""The ported musicnn equals the original: preprocessing, tags and features against stored TensorFlow outputs.

``musicnn_reference.npz`` was made by ``make_musicnn_reference.py`` (beside this file) with musicnn's
own code under TensorFlow, in an environment of its own; the clips are regenerated here by the
same function. The tolerances come from the numerics, so that the test holds on any CPU:

- musicnn's log-mel is float16 (``log10(10000·mel + 1)`` computed in float16). Another CPU's FFT and
  BLAS kernels move the float32 mel in its last bits, and a value lying near a float16 rounding
  boundary then rounds to the neighbouring float16 — one float16 step (2^-10 relative) of ``mel``,
  up to two of the float16 product ``10000·mel``. After the log that is at most ``log10(1 + 2^-9)``,
  plus the log's own float16 rounding (one step of the result). Such boundary cases are rare: most
  probes must be equal to the bit.
- The network's input can thus move by 2^-10 of its size, so no output can be trusted beyond
  2^-10 of its largest value; and reordered float32 sums (another BLAS) leave the typical element
  within a few float32 steps (2^-23 relative): the median difference must stay below 1e-5 of the
  largest value. A wrong weight, layer or order breaks both by orders of magnitude.
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from songalign.errors import BadInputError, SongalignError
from songalign.towers import build_audio_tower
from songalign.towers import musicnn as M
from songalign.towers.musicnn import port
from songalign.towers.tf_checkpoint import read_index, read_tf_checkpoint

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE))
from make_musicnn_reference import SEQUENCE_STRIDE, fixed_clips, mel_probe_positions  # noqa: E402

REFERENCE = np.load(HERE / "musicnn_reference.npz")
CLIPS = fixed_clips()
pytestmark = pytest.mark.usefixtures("musicnn_installed")

FLOAT16_STEP = 2.0**-10
"""One float16 step, relative: the precision of musicnn's input (module docstring)."""
MEL_MOVE = np.log10(1 + 2 * FLOAT16_STEP)
"""How far the log-mel moves when ``10000·mel`` moves by two float16 steps (before the log's own rounding)."""
BOUNDARY_SHARE = 0.01
"""The share of probes allowed to sit on a float16 rounding boundary (one seen in 6,000 here)."""
TYPICAL = 1e-5
"""The median difference allowed, relative to the output's largest value: a few float32 steps (2^-23)."""


def assert_port_matches(ours: np.ndarray, original: np.ndarray, what: str) -> None:
    """``ours`` equals the original's ``original`` within what the numerics allow (module docstring)."""
    scale = float(np.abs(original).max())
    difference = np.abs(ours.astype(np.float64) - original.astype(np.float64))
    assert difference.max() <= FLOAT16_STEP * scale, f"{what}: {difference.max():.3g} of largest {scale:.3g}"
    assert np.median(difference) <= TYPICAL * scale, f"{what}: median {np.median(difference):.3g} of {scale:.3g}"


def test_the_clips_are_the_ones_the_reference_heard():
    for name, clip in CLIPS.items():
        assert float(np.sum(clip, dtype=np.float64)) == pytest.approx(float(REFERENCE[f"{name}/samples_sum"]), abs=1e-6)


@pytest.mark.parametrize("index,name", list(enumerate(CLIPS)))
def test_log_mel_equals_musicnns_batch_data(index, name):
    mel = M.musicnn_log_mel(CLIPS[name])
    assert mel.shape == tuple(REFERENCE[f"{name}/mel_shape"])
    frames, bands = mel_probe_positions(*mel.shape, seed=index)
    ours, original = mel[frames, bands], REFERENCE[f"{name}/mel_probes"]
    moved = ours != original
    assert moved.mean() <= BOUNDARY_SHARE, f"{moved.sum()} of {moved.size} probes differ"
    # each moved probe: two float16 steps of 10000·mel through the log, plus one float16 step of the result
    bound = MEL_MOVE + np.spacing(original[moved].astype(np.float16)).astype(np.float64)
    assert (np.abs(ours[moved].astype(np.float64) - original[moved]) <= bound).all()


def _outputs(tagger: M.MusicnnTagger, clip: np.ndarray, hop: int = M.PATCH_FRAMES) -> dict[str, np.ndarray]:
    mel = torch.from_numpy(M.musicnn_log_mel(clip))
    with torch.no_grad():
        out = tagger(M.cut_patches(mel[None], hop)[0])
    return {key: value.numpy() for key, value in out.items()}


@pytest.mark.parametrize("model", list(M.MODELS))
def test_tags_and_features_equal_the_originals(model):
    tagger = M.musicnn_tagger(model)
    for name, clip in CLIPS.items():
        out = _outputs(tagger, clip)
        prefix = f"{model}/{name}"
        assert_port_matches(out["tags"], REFERENCE[f"{prefix}/taggram"], f"{prefix} tags")
        penultimate = REFERENCE[f"{prefix}/pool5" if "vgg" in model else f"{prefix}/penultimate"]
        assert_port_matches(out["penultimate"], penultimate, f"{prefix} penultimate")
        if "vgg" in model:
            continue
        for key in ("mean_pool", "max_pool"):
            assert_port_matches(out[key], REFERENCE[f"{prefix}/{key}"], f"{prefix} {key}")
        cnn3 = out["sequence"][:, ::SEQUENCE_STRIDE, -64:]  # the last 64 mid-end features are cnn3
        assert_port_matches(cnn3, REFERENCE[f"{prefix}/cnn3"], f"{prefix} cnn3")


def test_overlapping_patches_follow_musicnns_input_overlap():
    tagger = M.msd_musicnn()
    hop = M.hop_frames(1.0)
    assert hop == int(REFERENCE["overlap_frames"]) == 61
    taggram = tagger.tag(CLIPS["chord"], hop_seconds=1.0)
    assert_port_matches(taggram.probabilities, REFERENCE["MSD_musicnn/chord_overlap/taggram"], "overlapping patches")
    # patches start every 61 frames; each timestamp is its patch's centre
    np.testing.assert_allclose(taggram.times, (np.arange(5) * 61 + 93) * M.FRAME_SECONDS)


def test_loud_input_saturates_instead_of_overflowing():
    loud = (0.9 * CLIPS["chord"] / np.abs(CLIPS["chord"]).max()).astype(np.float32)
    mel = M.musicnn_log_mel(loud)
    assert np.isfinite(mel).all() and mel.max() == pytest.approx(np.log10(65504.0), abs=1e-3)
    tags = M.msd_musicnn().tag(loud).probabilities
    assert np.isfinite(tags).all()


def test_short_audio_is_repeat_padded_to_one_patch():
    short = CLIPS["sweep"][: M.SAMPLE_RATE]  # 1 s: 63 frames
    taggram = M.msd_musicnn().tag(short)
    assert taggram.probabilities.shape == (1, 50) and np.isfinite(taggram.probabilities).all()


def test_the_reader_sees_every_variable_the_graph_restores():
    folder = M.checkpoint_folder("MSD_musicnn")
    entries = read_index(folder / ".index")
    assert entries.pop("")["shards"] == 1
    weights = read_tf_checkpoint(str(folder) + "/")
    assert weights["conv2d/kernel"].shape == (7, 38, 1, 204) and weights["dense_1/bias"].shape == (50,)
    assert set(weights) == set(entries)
    # the network's own variables, Adam's slots aside: 11 batch norms × 4, 8 convs × 2, 2 dense × 2
    own = [name for name in weights if "Adam" not in name and not name.endswith("_power")]
    assert len(own) == 11 * 4 + 8 * 2 + 2 * 2


def test_converted_weights_are_cached_by_checkpoint_digest(tmp_path, monkeypatch):
    monkeypatch.setenv("SONGALIGN_CACHE", str(tmp_path))
    port._state.cache_clear()
    first = M.musicnn_tagger("MTT_vgg")
    cached = list((tmp_path / "musicnn").glob("MTT_vgg-*.safetensors"))
    assert len(cached) == 1 and M.checkpoint_digest(M.checkpoint_folder("MTT_vgg")) in cached[0].name
    written = cached[0].stat().st_mtime_ns
    port._state.cache_clear()
    second = M.musicnn_tagger("MTT_vgg")  # read back from the cache, not converted again
    assert cached[0].stat().st_mtime_ns == written
    for a, b in zip(first.state_dict().values(), second.state_dict().values(), strict=True):
        torch.testing.assert_close(a, b, rtol=0, atol=0)


def test_bad_checkpoint_folders_and_names_get_one_sentence(tmp_path):
    with pytest.raises(BadInputError, match="holds no TensorFlow checkpoint"):
        M.checkpoint_folder("MSD_musicnn", tmp_path)
    (tmp_path / ".index").write_bytes(b"not a table at all, and long enough to hold a footer of 48 bytes.")
    with pytest.raises(BadInputError, match="not a TensorFlow checkpoint index"):
        read_tf_checkpoint(str(tmp_path) + "/")
    with pytest.raises(SongalignError, match="unknown musicnn model"):
        M.build_network("MSD_resnet")


def test_tower_embeddings_are_deterministic_patch_means():
    tower = build_audio_tower("musicnn", output="tags")
    assert tower.embedding_dim == 50 and tower.sample_rate == 16000 and not tower.trainable
    clip = np.concatenate([CLIPS["chord"], CLIPS["drums"]])[: 6 * 16000]  # 6 s: patches at 0 and 187
    features = tower.features(clip)
    tower.train()  # frozen: stays in eval mode
    assert not tower.training and not any(p.requires_grad for p in tower.parameters())
    embedding = tower(features[None])
    expected = M.msd_musicnn().tag(clip).probabilities.mean(axis=0)
    np.testing.assert_allclose(embedding[0].numpy(), expected, atol=1e-6)
    np.testing.assert_array_equal(tower(features[None]).numpy(), embedding.numpy())
    sequence = tower.forward_sequence(features[None])
    assert sequence.shape == (1, 2 * 187, 753)
    strided = build_audio_tower("musicnn", sequence_stride=4).forward_sequence(features[None])
    torch.testing.assert_close(strided[0, 1], sequence[0, 4:8].mean(0), rtol=1e-5, atol=1e-5)


def test_tower_config_rebuilds_it():
    tower = build_audio_tower("musicnn", model="MTT_musicnn", output="pool", hop_seconds=1.5)
    again = build_audio_tower(**tower.config())
    assert again.config() == tower.config() and again.embedding_dim == 1506


def test_missing_wheel_says_how_to_install(monkeypatch):
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None)
    with pytest.raises(SongalignError, match="pip install --no-deps musicnn"):
        M.checkpoint_folder("MSD_musicnn")


def test_towers_reading_different_outputs_share_one_pass_of_the_network():
    M.CLIP_MEMO.clear()
    clip = np.tile(CLIPS["drums"], 2)[: 9 * 16000]
    features = M.MusicnnAudioTower(output="penultimate").features(clip)[None]
    penultimate_tower, tags_tower = (build_audio_tower("musicnn", output=o) for o in ("penultimate", "tags"))
    calls = []
    tags_tower.tagger.network.register_forward_hook(lambda *args: calls.append(1))
    penultimate = penultimate_tower(features)
    tags = tags_tower(features)  # from the memo: the network does not run again
    assert calls == []
    expected = M.msd_musicnn().tag(clip)
    np.testing.assert_allclose(tags[0].numpy(), expected.song(), atol=1e-6)
    M.CLIP_MEMO.clear()
    torch.testing.assert_close(tags_tower(features), tags)
    torch.testing.assert_close(penultimate_tower(features), penultimate)
    assert calls == [1]


def test_the_memo_never_mixes_models_hops_weights_or_trained_towers():
    M.CLIP_MEMO.clear()
    clip = np.tile(CLIPS["chord"], 2)[: 9 * 16000]
    features = M.MusicnnAudioTower(output="tags").features(clip)[None]
    msd = build_audio_tower("musicnn", output="tags")
    outputs = {
        "msd": msd(features),
        "mtt": build_audio_tower("musicnn", model="MTT_musicnn", output="tags")(features),
        "hop": build_audio_tower("musicnn", output="tags", hop_seconds=1.0)(features),
    }
    assert not torch.allclose(outputs["msd"], outputs["mtt"]) and not torch.allclose(outputs["msd"], outputs["hop"])
    changed = build_audio_tower("musicnn", output="tags")
    with torch.no_grad():
        changed.tagger.network.classifier.bias += 1.0  # other weights, same options: must not read msd's rows
    assert not torch.allclose(changed(features), outputs["msd"])
    random = build_audio_tower("musicnn", output="tags", pretrained=False)
    assert not random.memoised and not random.loads_pretrained_weights
    trainable = build_audio_tower("musicnn", output="tags", trainable=True)
    assert not trainable.memoised


def test_a_model_on_musicnn_is_frozen_by_default_and_pins_its_checkpoint(tmp_path):
    from songalign.align.data import frozen_tower_key
    from songalign.align.model import AlignModel, ModelConfig, TowerSpec

    model = AlignModel(ModelConfig(audio_tower=TowerSpec(name="musicnn")))
    assert model.config.freeze.audio_tower and frozen_tower_key(model) is not None
    digest = M.checkpoint_digest(M.checkpoint_folder("MSD_musicnn"))
    assert model.config.audio_tower.options["checkpoint"] == digest
    folder = model.save_pretrained(tmp_path / "model")
    assert AlignModel.from_pretrained(folder).config.audio_tower.options["checkpoint"] == digest
    with pytest.raises(SongalignError, match="built on the MSD_musicnn checkpoint"):
        build_audio_tower("musicnn", checkpoint="0123456789abcdef")
    trains = AlignModel(ModelConfig(audio_tower=TowerSpec(name="musicnn"), freeze={"audio_tower": False}))
    assert trains.audio_tower.trainable and frozen_tower_key(trains) is None


def test_an_unknown_model_name_is_named_as_such():
    with pytest.raises(SongalignError, match="unknown musicnn model 'MSD_resnet'"):
        M.load_network("MSD_resnet")


def test_converting_draws_no_random_numbers_from_the_caller(tmp_path, monkeypatch):
    # a run that converts the weights (no cache yet) must train the same heads as one that reads the cache
    monkeypatch.setenv("SONGALIGN_CACHE", str(tmp_path))
    port._state.cache_clear()
    folder = M.checkpoint_folder("MSD_musicnn")
    torch.manual_seed(7)
    port._state("MSD_musicnn", str(folder), port.checkpoint_digest(folder))  # converts: the cache is empty
    after_converting = torch.rand(4)
    torch.manual_seed(7)
    assert torch.equal(after_converting, torch.rand(4))
    port._state.cache_clear()
