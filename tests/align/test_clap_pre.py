"""The seed's CLAP-pre: a CLAP checkpoint as it is, checked against a tiny ``ClapModel`` the test writes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf
import torch

pytest.importorskip("transformers")

from safetensors.torch import load_file  # noqa: E402
from transformers import ClapModel, ClapProcessor  # noqa: E402
from typer.testing import CliRunner  # noqa: E402

from songalign.align.commands import models_app  # noqa: E402
from songalign.align.data import window_features  # noqa: E402
from songalign.align.losses import get_loss  # noqa: E402
from songalign.align.model import AlignModel, FreezePolicy  # noqa: E402
from songalign.align.pretrained import PRETRAINED, build_pretrained, clap_pre  # noqa: E402
from songalign.align.train import build_model, load_recipe  # noqa: E402
from songalign.audio.cache import FeatureCache  # noqa: E402
from songalign.audio.io import load_audio  # noqa: E402
from songalign.audio.windows import fit_length  # noqa: E402
from songalign.checkpoint import WEIGHTS_FILE, read_card, read_config, trained_songs, unknown_training  # noqa: E402
from songalign.errors import SongalignError  # noqa: E402
from songalign.towers.testing import (  # noqa: E402
    TINY_AUDIO_SCALE,
    TINY_CLIP_SECONDS,
    TINY_PROJECTION_DIM,
    TINY_SAMPLE_RATE,
    TINY_TEXT_SCALE,
    features_tensor,
    write_tiny_clap,
)

TEXTS = ["a calm song", "tears in the rain at night", "dance!"]  # each within the 38 tokens of the tiny model


@pytest.fixture(scope="module")
def checkpoint(tmp_path_factory):
    return write_tiny_clap(tmp_path_factory.mktemp("tiny-clap") / "clap")


@pytest.fixture(scope="module")
def reference(checkpoint):
    return ClapModel.from_pretrained(checkpoint).eval(), ClapProcessor.from_pretrained(checkpoint)


@pytest.fixture(scope="module")
def model(checkpoint):
    return clap_pre(checkpoint)


def clips(count: int = 3) -> list[np.ndarray]:
    """Distinct clips of exactly the checkpoint's clip length (one window, no crop, no padding)."""
    rng = np.random.default_rng(7)
    samples = TINY_SAMPLE_RATE * TINY_CLIP_SECONDS
    return [(0.05 * (i + 1) * rng.standard_normal(samples)).astype(np.float32) for i in range(count)]


def clap_features(reference, audio: list[np.ndarray], texts: list[str]):
    """``(audio, text, logits_per_audio)`` of the reference ClapModel: its own normalised features."""
    clap, processor = reference
    audio_inputs = processor.feature_extractor(audio, sampling_rate=TINY_SAMPLE_RATE, return_tensors="pt")
    text_inputs = processor.tokenizer(texts, padding=True, return_tensors="pt")
    with torch.no_grad():
        audio_features = features_tensor(clap.get_audio_features(**audio_inputs))
        text_features = features_tensor(clap.get_text_features(**text_inputs))
        logits = clap(**text_inputs, **audio_inputs).logits_per_audio
    return audio_features.numpy(), text_features.numpy(), logits.numpy()


def clap_audio_embedding(reference, clip: np.ndarray) -> np.ndarray:
    """``get_audio_features`` ``(D,)`` of one clip, through the checkpoint's own extractor (its padding)."""
    clap, processor = reference
    inputs = processor.feature_extractor(clip, sampling_rate=TINY_SAMPLE_RATE, return_tensors="pt")
    with torch.no_grad():
        return features_tensor(clap.get_audio_features(**inputs))[0].numpy()


def noise(seconds: float, seed: int) -> np.ndarray:
    """Noise growing 10× louder from start to end, so that windows at different offsets differ."""
    samples = int(seconds * TINY_SAMPLE_RATE)
    loudness = np.geomspace(0.02, 0.2, samples)
    return (loudness * np.random.default_rng(seed).standard_normal(samples)).astype(np.float32)


def test_embeddings_and_scale_are_the_checkpoint_s_own(model, reference):
    audio, texts = clips(), TEXTS
    expected_audio, expected_text, expected_logits = clap_features(reference, audio, texts)
    ours_audio, ours_text = model.embed_audio(audio), model.embed_text(texts)
    assert ours_audio.shape == (3, TINY_PROJECTION_DIM) and ours_text.shape == (3, TINY_PROJECTION_DIM)
    np.testing.assert_allclose(ours_audio, expected_audio, atol=1e-5)
    np.testing.assert_allclose(ours_text, expected_text, atol=1e-5)
    # the scale is CLAP's logit_scale_a (audio queries ranking texts), not logit_scale_t
    assert float(model.scale.detach()) == pytest.approx(TINY_AUDIO_SCALE, rel=1e-6)
    assert float(model.scale.detach()) == pytest.approx(float(reference[0].logit_scale_a.detach().exp()), rel=1e-6)
    assert abs(float(model.scale.detach()) - TINY_TEXT_SCALE) > 1
    np.testing.assert_allclose(float(model.scale.detach()) * ours_audio @ ours_text.T, expected_logits, atol=1e-4)


@pytest.mark.parametrize("seconds", [0.3, 1.0, 1.7, 3.3])
def test_clips_of_any_length_embed_as_the_checkpoint_does(model, reference, checkpoint, seconds):
    # Short clips (0.3 s) must reach CLAP's extractor as they are, so that its repeatpad runs; a clip
    # of the checkpoint's 1 s needs neither; long ones (1.7 s, 3.3 s) are cropped to the centre 1 s
    # window. CLAP's extractor would crop those at a random offset (rand_trunc), so the reference is
    # its get_audio_features of the same centre window, and crop="start" is checked against the first.
    clip, window = noise(seconds, seed=int(seconds * 10)), TINY_SAMPLE_RATE * TINY_CLIP_SECONDS
    centre = clip[(len(clip) - window) // 2 :][:window] if len(clip) > window else clip
    ours = model.embed_clips([clip])[0]
    np.testing.assert_allclose(ours, clap_audio_embedding(reference, centre), atol=1e-5)
    if seconds > TINY_CLIP_SECONDS:
        start = clap_pre(checkpoint, crop="start").embed_clips([clip])[0]
        np.testing.assert_allclose(start, clap_audio_embedding(reference, clip[:window]), atol=1e-5)
        # the crop takes effect: 10× the tolerance (the tiny random model's embeddings vary little)
        assert np.abs(start - ours).max() > 1e-4
    if seconds < TINY_CLIP_SECONDS:  # zero-padding first (what fit_length did) is measurably another input
        zero_padded = clap_audio_embedding(reference, fit_length(clip, window))
        assert np.abs(ours - zero_padded).max() > 1e-4
        np.testing.assert_allclose(model.embed_audio([clip])[0], ours, atol=1e-6)  # one window: the same


def test_a_short_segment_s_cached_features_are_repeat_padded_too(model, reference, tmp_path):
    path = tmp_path / "short.wav"
    sf.write(str(path), noise(0.3, seed=5), TINY_SAMPLE_RATE)
    audio, _ = load_audio(path, TINY_SAMPLE_RATE)
    cache = FeatureCache(tmp_path / "cache")
    for _ in range(2):  # computed, then read from the cache
        features = torch.as_tensor(window_features(model, str(path), 0.0, 0.3, cache))
        with torch.no_grad():
            ours = model.project_audio(features[None])[0].numpy()
        np.testing.assert_allclose(ours, clap_audio_embedding(reference, audio), atol=1e-5)
    assert (cache.misses, cache.hits) == (1, 1)


def test_nothing_is_added_and_nothing_trains(model, reference):
    clap = reference[0]
    ours = sum(p.numel() for p in model.parameters())
    theirs = sum(p.numel() for p in clap.parameters())
    assert ours == theirs - 1  # all of CLAP but logit_scale_t; no projection heads of ours
    assert model.config.projection == "none" and model.config.embedding_dim == TINY_PROJECTION_DIM
    assert isinstance(model.audio_projection, torch.nn.Identity) and isinstance(
        model.text_projection, torch.nn.Identity
    )
    assert model.config.clip_seconds == TINY_CLIP_SECONDS
    trainable = [name for name, p in model.named_parameters() if p.requires_grad and name != "logit_scale.logit_scale"]
    assert trainable == []


def test_saved_folder_references_the_checkpoint_and_loads_back(model, checkpoint, tmp_path):
    folder = build_pretrained("clap-pre", tmp_path / "clap-pre", source=str(checkpoint))
    # the frozen towers are referenced, not copied
    assert list(load_file(folder / WEIGHTS_FILE)) == ["logit_scale.logit_scale"]
    config = read_config(folder)
    assert config["audio_tower"]["options"]["model"] == str(checkpoint.resolve())
    assert config["text_tower"]["options"]["model"] == str(checkpoint.resolve())
    card = read_card(folder)
    assert card["kind"] == "align" and card["name"] == "clap-pre"
    # LAION's training songs are unknown, not "none": a leak check cannot pass on them
    assert card["data"]["trained_songs"] is None and trained_songs(card) is None
    assert unknown_training(card) == ["clap-pre"]
    assert str(checkpoint.resolve()) in card["provenance"]["training_data"]
    assert "external" in card["provenance"]["training_data"]
    assert read_config(folder)["logit_scale_trained"]  # CLAP learned its scale
    assert "frozen, weights not stored here" in (folder / "README.md").read_text()
    loaded = AlignModel.from_pretrained(folder)
    audio = clips(2)
    np.testing.assert_allclose(loaded.embed_audio(audio), model.embed_audio(audio), atol=1e-6)
    np.testing.assert_allclose(loaded.embed_text(TEXTS), model.embed_text(TEXTS), atol=1e-6)
    assert float(loaded.scale.detach()) == pytest.approx(float(model.scale.detach()))


def test_models_build_command_writes_a_folder(checkpoint, tmp_path):
    command = ["build", "clap-pre", "--source", str(checkpoint), "--out", str(tmp_path / "m"), "--option", "crop=start"]
    result = CliRunner().invoke(models_app, command)
    assert result.exit_code == 0, result.output
    assert read_card(tmp_path / "m")["name"] == "clap-pre"
    assert read_config(tmp_path / "m")["audio_tower"]["options"]["crop"] == "start"
    listed = CliRunner().invoke(models_app, ["list"])
    assert "clap-pre" in listed.output.split() and "clap-pre" in PRETRAINED.names()
    unknown = CliRunner().invoke(models_app, ["build", "clap-post", "--out", str(tmp_path / "x")])
    assert unknown.exit_code == 2 and "'clap-post' is not one of 'clap-pre'" in unknown.output  # the registry's names
    with pytest.raises(SongalignError, match="unknown pretrained model 'clap-post'; choose one of: clap-pre"):
        build_pretrained("clap-post", tmp_path / "x")


def test_fine_tuning_from_clap_pre_keeps_its_text_tower_frozen(checkpoint, tmp_path):
    folder = build_pretrained("clap-pre", tmp_path / "clap-pre", source=str(checkpoint))
    recipe = load_recipe("configs/clap_lyr.yaml", [f"init_from={folder}", f"data.corpus={tmp_path}"])
    model = build_model(recipe)
    assert model.config.freeze.text_tower and not model.config.freeze.audio_tower
    assert all(not p.requires_grad for p in model.text_tower.parameters())  # RoBERTa and CLAP's text projection
    assert all(p.requires_grad for p in model.audio_tower.parameters())
    text_before = {k: v.clone() for k, v in model.text_tower.state_dict().items()}
    audio_before = {k: v.clone() for k, v in model.audio_tower.state_dict().items()}
    features = torch.stack([model.audio_features(c) for c in clips(4)])
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    model.train()
    loss = get_loss("symmetric_infonce")(
        model.project_audio(features), model.project_text(model.text_tower.encode(TEXTS + ["x"])), scale=model.scale
    )
    loss.backward()
    optimizer.step()
    state = model.text_tower.state_dict()
    assert all(torch.equal(state[k], v) for k, v in text_before.items())
    assert any(not torch.equal(model.audio_tower.state_dict()[k], v) for k, v in audio_before.items())
    saved = model.save_pretrained(tmp_path / "lyr", {"name": "lyr"})
    keys = list(load_file(saved / WEIGHTS_FILE))
    assert any(k.startswith("audio_tower.") for k in keys) and not any(k.startswith("text_tower.") for k in keys)
    reloaded = AlignModel.from_pretrained(saved)
    model.eval()
    np.testing.assert_allclose(reloaded.embed_audio(clips(2)), model.embed_audio(clips(2)), atol=1e-5)


def test_an_overridden_policy_still_loads_a_folder_saved_without_towers(checkpoint, tmp_path):
    folder = build_pretrained("clap-pre", tmp_path / "clap-pre", source=str(checkpoint))
    model = AlignModel.from_pretrained(folder, freeze=FreezePolicy(audio_tower=False, text_tower=False))
    assert all(p.requires_grad for p in model.text_tower.parameters())
    assert math.isclose(float(model.scale.detach()), TINY_AUDIO_SCALE, rel_tol=1e-6)


def test_clap_pre_errors_name_the_source(tmp_path):
    with pytest.raises(SongalignError, match="folder not found"):
        clap_pre(tmp_path / "no-such-clap")
    with pytest.raises(SongalignError, match="crop must be one of"):
        clap_pre(tmp_path, crop="middle")
