"""The Hugging Face CLAP towers, loaded by path from tiny random checkpoints written here (no download)."""

from __future__ import annotations

import math
import shutil

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

pytest.importorskip("transformers")

import transformers  # noqa: E402
from transformers import ClapAudioModelWithProjection, ClapModel, ClapProcessor  # noqa: E402

from songalign.corpus.testing import tone  # noqa: E402
from songalign.errors import SongalignError  # noqa: E402
from songalign.towers import build_audio_tower, build_text_tower  # noqa: E402
from songalign.towers.hf_clap import crop_to, read_clap_checkpoint  # noqa: E402
from songalign.towers.testing import (  # noqa: E402
    TINY_AUDIO_HIDDEN,
    TINY_AUDIO_SCALE,
    TINY_PROJECTION_DIM,
    TINY_TEXT_SCALE,
    features_tensor,
    write_tiny_clap,
)

RATE = 16000  # the tiny checkpoint's extractor: 16 kHz, 1 s clips, hop 160, 16 mels


@pytest.fixture(scope="module")
def clap_dir(tmp_path_factory):
    return write_tiny_clap(tmp_path_factory.mktemp("tiny_clap"))


@pytest.fixture(scope="module")
def reference(clap_dir):
    return ClapModel.from_pretrained(clap_dir).eval(), ClapProcessor.from_pretrained(clap_dir)


@pytest.fixture(scope="module")
def audio_tower(clap_dir):
    return build_audio_tower("hf_clap_audio", model=str(clap_dir))


@pytest.fixture(scope="module")
def text_tower(clap_dir):
    return build_text_tower("hf_clap_text", model=str(clap_dir))


def test_audio_tower_loads_by_path_and_embeds(audio_tower):
    tower = audio_tower
    assert (tower.name, tower.feature_kind, tower.sample_rate) == ("hf_clap_audio", "clap", RATE)
    assert (tower.embedding_dim, tower.sequence_dim) == (TINY_PROJECTION_DIM, TINY_AUDIO_HIDDEN)
    audio = np.stack([tone(1.0, RATE, 220.0), tone(1.0, RATE, 440.0), tone(1.0, RATE, 880.0)])
    features = tower.features(audio)
    assert features.shape == (3, 1, 101, 16) and features.dtype == torch.float32
    with torch.no_grad():
        assert tower(features).shape == (3, TINY_PROJECTION_DIM)
        assert tower.forward_sequence(features).shape == (3, 64, TINY_AUDIO_HIDDEN)


def test_audio_embedding_is_clap_model_s_own(audio_tower, reference):
    model, processor = reference
    audio = tone(0.6, RATE, 330.0)  # shorter than 1 s: the extractor's own repeat-padding
    inputs = processor.feature_extractor(audio, sampling_rate=RATE, return_tensors="pt")
    with torch.no_grad():
        expected = features_tensor(model.get_audio_features(**inputs))  # normalised projection
        ours = torch.nn.functional.normalize(audio_tower(audio_tower.features(audio)[None]), dim=-1)
    torch.testing.assert_close(ours, expected, atol=1e-6, rtol=1e-5)
    assert audio_tower.fits_length_itself  # so AlignModel does not zero-pad the 0.6 s first


def test_long_audio_is_cropped_deterministically(audio_tower, reference):
    _, processor = reference
    rng = np.random.default_rng(0)
    audio = (0.1 * rng.standard_normal(int(3.3 * RATE))).astype(np.float32)  # longer than the 1 s the model takes
    first, second = audio_tower.features(audio), audio_tower.features(audio)
    assert torch.equal(first, second)  # the extractor alone would crop at a random offset
    centre = audio[(len(audio) - RATE) // 2 :][:RATE]
    expected = processor.feature_extractor(centre, sampling_rate=RATE, return_tensors="np")["input_features"][0]
    np.testing.assert_allclose(first.numpy(), expected, rtol=1e-6, atol=1e-5)
    with torch.no_grad():
        assert torch.equal(audio_tower(first[None]), audio_tower(second[None]))
    assert np.array_equal(crop_to(audio, RATE, "start"), audio[:RATE])
    start = build_audio_tower("hf_clap_audio", model=audio_tower.model_name, crop="start")
    assert not torch.equal(start.features(audio), first)


def test_fused_checkpoint_features_are_deterministic(tmp_path):
    folder = write_tiny_clap(tmp_path / "fused", enable_fusion=True)
    tower = build_audio_tower("hf_clap_audio", model=str(folder), use_projection=False)
    assert tower.embedding_dim == TINY_AUDIO_HIDDEN
    audio = np.stack([tone(2.5, RATE, 220.0), tone(2.5, RATE, 330.0)])
    features = tower.features(audio)
    assert features.shape == (2, 4, 101, 16)  # "fusion" stacks 4 spectrograms
    assert torch.equal(features, tower.features(audio))
    with torch.no_grad():
        assert torch.equal(tower(features), tower(features))
        assert tower(features).shape == (2, TINY_AUDIO_HIDDEN)


def test_text_tower_loads_by_path_and_matches_clap_model(text_tower, reference):
    model, processor = reference
    tower = text_tower
    assert tower.name == "hf_clap_text" and tower.embedding_dim == TINY_PROJECTION_DIM
    assert tower.max_tokens == 38  # 40 positions − pad index 1 − 1
    assert not tower.trainable and not tower.training
    texts = ["the sound of a cat", "a sad song about the sea"]
    inputs = processor.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        expected = features_tensor(model.get_text_features(**inputs))
    ours = tower.encode(texts)
    assert ours.shape == (2, TINY_PROJECTION_DIM) and not ours.requires_grad
    torch.testing.assert_close(ours, expected, atol=1e-6, rtol=1e-5)
    assert torch.equal(ours, tower.encode(texts))


def test_text_tower_chunks_long_text_instead_of_truncating(text_tower):
    tower = text_tower
    long = " ".join(["you left me standing in the rain"] * 12)  # ≈ 380 byte-level tokens, limit 36 + 2
    chunks = tower.chunks(long)
    assert len(chunks) > 1
    for chunk in chunks:
        assert len(tower.tokenizer(chunk, add_special_tokens=False)["input_ids"]) <= tower.budget
        assert chunk in long
    embedded = tower.encode([long])[0]
    expected = torch.nn.functional.normalize(tower.encode(chunks).mean(dim=0), dim=-1)
    torch.testing.assert_close(embedded, expected, atol=1e-6, rtol=1e-5)
    assert not torch.allclose(embedded, tower.encode(chunks[:1])[0], atol=1e-3)


def test_config_rebuilds_the_hf_towers(audio_tower, text_tower):
    for build, tower in ((build_audio_tower, audio_tower), (build_text_tower, text_tower)):
        assert build(**tower.config()).config() == tower.config()


def test_missing_checkpoint_is_one_clear_error(tmp_path):
    with pytest.raises(SongalignError, match="CLAP checkpoint folder not found"):
        build_audio_tower("hf_clap_audio", model=str(tmp_path / "nowhere"))
    with pytest.raises(SongalignError, match="cannot load the CLAP"):
        build_text_tower("hf_clap_text", model=str(tmp_path))  # a folder, but no checkpoint in it
    with pytest.raises(
        SongalignError,
        match="cannot load the CLAP checkpoint .songalign-tests.no-such-model. .*not in the local Hugging Face cache and HF_HUB_OFFLINE is set",
    ):
        build_audio_tower("hf_clap_audio", model="songalign-tests/no-such-model")


def test_reading_a_checkpoint_s_scales_builds_no_model(clap_dir, tmp_path, monkeypatch):
    def no_model(*args, **kwargs):
        raise AssertionError("read_clap_checkpoint must not load a ClapModel")

    monkeypatch.setattr(transformers.ClapModel, "from_pretrained", no_model)
    info = read_clap_checkpoint(str(clap_dir))
    assert (info.sample_rate, info.clip_seconds, info.projection_dim) == (RATE, 1.0, TINY_PROJECTION_DIM)
    assert info.logit_scale_audio == pytest.approx(math.log(TINY_AUDIO_SCALE), abs=1e-6)
    assert info.logit_scale_text == pytest.approx(math.log(TINY_TEXT_SCALE), abs=1e-6)
    # a checkpoint saved as pytorch_model.bin reads the same
    monkeypatch.undo()
    legacy = shutil.copytree(clap_dir, tmp_path / "bin")
    torch.save(load_file(legacy / "model.safetensors"), legacy / "pytorch_model.bin")
    (legacy / "model.safetensors").unlink()
    assert read_clap_checkpoint(str(legacy)).logit_scale_audio == pytest.approx(info.logit_scale_audio)


def test_a_half_checkpoint_without_scales_is_one_clear_error(clap_dir, tmp_path):
    half = tmp_path / "audio-half"
    ClapAudioModelWithProjection.from_pretrained(clap_dir).save_pretrained(half)
    ClapProcessor.from_pretrained(clap_dir).save_pretrained(half)
    with pytest.raises(SongalignError, match="hold no logit_scale_a or logit_scale_t, so it is not a whole ClapModel"):
        read_clap_checkpoint(str(half))
