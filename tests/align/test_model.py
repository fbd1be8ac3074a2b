"""AlignModel's folder: what it stores and references, its card, and the ``projection`` option."""

from __future__ import annotations

import json

import numpy as np
import pytest
from safetensors.torch import load_file

from songalign.align.model import AlignModel, FreezePolicy, ModelConfig, TowerSpec
from songalign.checkpoint import WEIGHTS_FILE, read_card
from songalign.errors import SongalignError

SMALL_CNN = TowerSpec(name="cnn", options={"channels": [4, 8], "embedding_dim": 12})


def small_config(**changes) -> ModelConfig:
    return ModelConfig(audio_tower=SMALL_CNN, embedding_dim=8, clip_seconds=2.0).model_copy(update=changes)


@pytest.fixture(scope="module")
def model():
    return AlignModel(small_config(freeze=FreezePolicy(audio_tower=True, text_tower=True)))


def test_a_frozen_pretrained_tower_is_referenced_and_a_frozen_random_one_is_stored(model, tmp_path):
    # the sentence tower loads its weights from its options; the frozen CNN's random weights exist only here
    assert model.referenced_parts() == ["text_tower"]
    folder = model.save_pretrained(tmp_path / "m", {"name": "small"})
    keys = set(load_file(folder / WEIGHTS_FILE))
    assert any(k.startswith("audio_tower.") for k in keys)
    assert not any(k.startswith("text_tower.") for k in keys)
    assert {"logit_scale.logit_scale", "audio_projection.net.0.weight", "text_projection.net.2.bias"} <= keys
    card = read_card(folder)
    assert (card["name"], card["kind"]) == ("small", "align")
    readme = (folder / "README.md").read_text()
    assert "text tower: `sentence_transformers`" in readme and "(frozen, weights not stored here)" in readme
    assert "two-layer MLP heads; shared space of 8 dimensions; audio clips of 2.0 s" in readme
    loaded = AlignModel.from_pretrained(folder)
    rng = np.random.default_rng(1)
    clip = (0.1 * rng.standard_normal(2 * model.audio_tower.sample_rate)).astype(np.float32)
    np.testing.assert_allclose(loaded.embed_audio([clip]), model.embed_audio([clip]), atol=1e-6)
    np.testing.assert_allclose(loaded.embed_text(["la la"]), model.embed_text(["la la"]), atol=1e-6)


def test_a_folder_from_another_model_is_one_clear_error(model, tmp_path):
    folder = model.save_pretrained(tmp_path / "m")
    (folder / "config.json").write_text(small_config(embedding_dim=16).model_dump_json())
    with pytest.raises(SongalignError, match=r"does not match .*config.json \(of another shape \['audio_projection"):
        AlignModel.from_pretrained(folder)


def test_no_projection_needs_towers_of_one_size_equal_to_the_space():
    with pytest.raises(SongalignError, match="towers' outputs differ in size \\(audio 12, text 384\\)"):
        AlignModel(small_config(projection="none"))
    matched = TowerSpec(name="cnn", options={"channels": [4, 8], "embedding_dim": 384})
    with pytest.raises(SongalignError, match="embedding_dim must be the towers' size 384; got 8"):
        AlignModel(small_config(audio_tower=matched, projection="none"))
    model = AlignModel(small_config(audio_tower=matched, projection="none", embedding_dim=384))
    assert sum(p.numel() for p in model.audio_projection.parameters()) == 0
    # with no heads, the text embedding is the (unit-length) sentence embedding itself
    raw = model.text_tower.encode(["quiet rain"]).numpy()
    np.testing.assert_allclose(model.embed_text(["quiet rain"]), raw / np.linalg.norm(raw), atol=1e-6)


def test_a_folder_with_the_old_scale_fields_is_one_clear_error(model, tmp_path):
    folder = model.save_pretrained(tmp_path / "m")
    config = small_config().model_dump(mode="json")
    del config["logit_scale"]
    config |= {"logit_scale_init": 2.659, "learn_logit_scale": True}  # written before the scale's fields were renamed
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(SongalignError) as raised:
        AlignModel.from_pretrained(folder)
    message = str(raised.value)
    assert message.startswith(f"{folder / 'config.json'} does not fit this version of songalign (field ")
    assert "'logit_scale_init'" in message and message.endswith("build or train the model again")
    # no fix that cannot work (the weights' key was renamed too, so editing config.json is no cure), no pydantic prefix
    assert "instead" not in message and "Value error" not in message


def test_a_fresh_model_s_scale_is_not_meaningful_until_a_loss_uses_it(model, tmp_path):
    assert not model.config.logit_scale_trained
    assert float(model.scale.detach()) == pytest.approx(1 / 0.07, rel=1e-6)  # CLIP's start, which nobody learnt
    readme = (model.save_pretrained(tmp_path / "m") / "README.md").read_text()
    assert "logit scale s = 14.29 (not meaningful: no training loss has used it)" in readme
