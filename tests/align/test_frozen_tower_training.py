"""Training on a frozen pretrained tower (musicnn): its outputs are computed once and cached, only the heads
train, the saved folder references the tower instead of copying it, and evaluation reads the same outputs."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from safetensors.torch import load_file

from songalign.align.data import build_pairs, frozen_tower_key, frozen_tower_outputs, segment_features
from songalign.align.evaluate import embed_segments
from songalign.align.model import AlignModel
from songalign.align.train import load_recipe, train
from songalign.audio.cache import FeatureCache
from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.prepare import prepare_corpus
from songalign.corpus.testing import FakeSong, regular_lines, write_jamendo_corpus
from songalign.errors import SkipReport
from songalign.runs import recipe_path
from songalign.towers import musicnn as M

pytestmark = pytest.mark.usefixtures("musicnn_installed")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("frozen")
    songs = [
        FakeSong(f"Artist_{i}_-_Song_{i}", [regular_lines(3, start=1.0, length=2.5, gap=0.3, text=f"word{i} line")])
        for i in range(6)
    ]
    write_jamendo_corpus(root / "raw", songs)
    prepare_corpus("jamendo", root / "raw", root / "prepared", progress=False)
    return root / "prepared"


def musicnn_recipe(corpus, out, **extra):
    overrides = [f"data.corpus={corpus}", f"out={out}", "data.target=lyrics", "data.train_split=all"]
    overrides += ["model.clip_seconds=4.0", "train.epochs=2", "train.batch_size=4", "train.checkpoint_every=1"]
    return load_recipe(recipe_path("clap_musicnn"), overrides + [f"{k}={v}" for k, v in extra.items()])


def test_the_recipe_trains_only_the_heads_on_outputs_computed_once(corpus, tmp_path):
    recipe = musicnn_recipe(corpus, tmp_path / "run")
    model = AlignModel(recipe.model)
    assert frozen_tower_key(model) is not None
    pairs = build_pairs(model, CorpusManifest.load(corpus), "all", "lyrics", tmp_path / "cache", progress=False)
    assert pairs.tower_outputs and pairs.features.shape == (len(pairs), 200)
    # the cached outputs are what the tower gives for the segments' features
    _, features = segment_features(model, pairs.segments, FeatureCache(tmp_path / "cache"), SkipReport(), False)
    M.CLIP_MEMO.clear()
    with torch.no_grad():
        direct = model.audio_tower(features)
    torch.testing.assert_close(pairs.features, direct, rtol=1e-5, atol=1e-5)

    folder = train(recipe, progress=False)
    saved = load_file(folder / "model.safetensors")
    assert not any(key.startswith(("audio_tower.", "text_tower.")) for key in saved)  # referenced, not copied
    trained = AlignModel.from_pretrained(folder)
    heads_changed = any(
        not torch.equal(saved[key], AlignModel(recipe.model).state_dict()[key]) for key in saved if "projection" in key
    )
    assert heads_changed
    embedded = embed_segments(trained, pairs.segments, corpus / ".cache" / "features")
    M.CLIP_MEMO.clear()
    with torch.no_grad():
        expected = trained.project_audio(features).numpy()
    np.testing.assert_allclose(embedded.audio, expected, atol=1e-5)


def test_a_changed_tower_never_reads_another_towers_outputs(corpus, tmp_path):
    recipe = musicnn_recipe(corpus, tmp_path / "run")
    msd = AlignModel(recipe.model)
    mtt = AlignModel(
        recipe.model.model_copy(
            update={"audio_tower": recipe.model.audio_tower.model_copy(update={"options": {"model": "MTT_musicnn"}})}
        )
    )
    assert frozen_tower_key(msd) != frozen_tower_key(mtt)
    segments = CorpusManifest.load(corpus).segments[:2]
    cache = FeatureCache(tmp_path / "cache")
    _, first = frozen_tower_outputs(msd, segments, cache, SkipReport(), progress=False)
    _, second = frozen_tower_outputs(mtt, segments, cache, SkipReport(), progress=False)
    assert not torch.allclose(first, second)
    trainable = AlignModel(
        recipe.model.model_copy(update={"freeze": recipe.model.freeze.model_copy(update={"audio_tower": False})})
    )
    assert frozen_tower_key(trainable) is None


def test_a_policy_that_trains_the_tower_fine_tunes_musicnn(corpus, tmp_path):
    recipe = musicnn_recipe(corpus, tmp_path / "run")
    policy = recipe.model.freeze.model_copy(update={"audio_tower": False})
    model = AlignModel(recipe.model.model_copy(update={"freeze": policy}))
    assert model.audio_tower.trainable and all(p.requires_grad for p in model.audio_tower.parameters())
    model.train()
    noise = np.random.default_rng(0).standard_normal((2, 4 * 16000)).astype(np.float32) * 0.05
    features = model.audio_tower.features(noise)  # two clips: BatchNorm trains on batch statistics
    model.project_audio(features).sum().backward()
    network = model.audio_tower.tagger.network
    assert network.dense.weight.grad.abs().sum() > 0 and network.frontend[0].conv.weight.grad.abs().sum() > 0
    assert not network.classifier.weight.grad.any()  # the embedding is the penultimate layer: no tag gradient
