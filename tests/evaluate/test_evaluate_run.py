"""Evaluating a real (untrained) model on a real small corpus: the probe never sees held-out songs,
the page states pools, chance levels and interval counts, and broken embeddings are one error."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from songalign.align.model import AlignModel, ModelConfig, TowerSpec
from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.prepare import prepare_corpus
from songalign.corpus.segmenter import SplitConfig
from songalign.corpus.synth import ensure_synthetic_corpus
from songalign.describe import DescriberConfig, describe_corpus
from songalign.errors import SongalignError
from songalign.evaluate.run import evaluate_model, evaluate_splits, to_markdown

SPLITS = ("test", "val", "train")


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("evaluate")
    ensure_synthetic_corpus(root / "raw", n_songs=12, seed=2)
    split = SplitConfig(train=0.5, val=0.25, test=0.25, seed=0)
    prepare_corpus("jamendo", root / "raw", root / "corpus", split=split, progress=False)
    describe_corpus(root / "corpus", "lexicon", config=DescriberConfig(seed=0), progress=False)
    return root / "corpus"


def tiny_model() -> AlignModel:
    torch.manual_seed(0)
    tower = TowerSpec(name="cnn", options={"channels": [8, 16], "embedding_dim": 32})
    return AlignModel(ModelConfig(audio_tower=tower, embedding_dim=16, clip_seconds=4.0))


@pytest.fixture(scope="module")
def model():
    return tiny_model()


@pytest.fixture(scope="module")
def results(model, corpus):
    return evaluate_splits(model, corpus, SPLITS, pool=4, draws=2)[0]


def test_the_probe_is_fitted_on_train_songs_and_scored_on_others(results, corpus):
    manifest = CorpusManifest.load(corpus)
    songs = {split: {s.song_id for s in manifest.split(split)} for split in SPLITS}
    for split in ("test", "val"):
        probe = results[split]["probe"]["emotion"]
        assert probe["fitted"]["songs"] == len(songs["train"]) and probe["fitted"]["split"] == "train"
        assert probe["fitted"]["segments"] == len(manifest.split("train"))
        assert probe["scored"] == {"segments": len(manifest.split(split)), "songs": len(songs[split])}
    assert "train split the probe is fitted on" in results["train"]["probe"]["emotion"]["not_reported"]


def test_scrambling_test_labels_leaves_the_fitted_probe_unchanged(results, model, corpus, tmp_path):
    scrambled = tmp_path / "scrambled"
    shutil.copytree(corpus, scrambled)
    manifest = CorpusManifest.load(scrambled)
    vocabulary = sorted({s.labels["ref_emotion"] for s in manifest.segments})
    for segment in manifest.segments:
        if segment.split == "test":  # every test label moves to another one
            label = vocabulary[(vocabulary.index(segment.labels["ref_emotion"]) + 1) % len(vocabulary)]
            segment.labels.update(ref_emotion=label, emotion=label)
    manifest.save_segments(scrambled)
    again = evaluate_splits(model, scrambled, SPLITS, pool=4, draws=2)[0]
    assert again["val"]["probe"] == results["val"]["probe"]  # the same probe (C, weights) scores val alike
    assert again["test"]["probe"]["emotion"]["fitted"] == results["test"]["probe"]["emotion"]["fitted"]
    assert again["test"]["probe"]["emotion"]["accuracy"] != results["test"]["probe"]["emotion"]["accuracy"]


def test_zero_shot_chooses_among_every_label_of_the_corpus(results, corpus):
    labels = {s.labels["ref_emotion"] for s in CorpusManifest.load(corpus).segments}
    test_labels = {s.labels["ref_emotion"] for s in CorpusManifest.load(corpus).split("test")}
    assert len(labels) > len(test_labels)  # otherwise this test shows nothing
    assert results["test"]["zero_shot"]["emotion"]["chance_accuracy"] == pytest.approx(100 / len(labels))


def test_the_page_states_pool_chance_and_interval(results):
    test = results["test"]
    page = to_markdown(test)
    for column in ("pool", "KL (s = 1)", "KL (model's s)", "chance top-1/2/4/8 %", "queries × draws", "R@1 % (chance)"):
        assert column in page
    assert f"| {test['lyric_choice']['pool_4']['queries']} × 2 |" in page
    assert "fitted on" in page and "of train" in page
    assert test["lyric_choice"]["pool_4"]["kl_model_scale"] is not None  # the tiny model has a logit scale
    assert test["retrieval"]["lyrics"]["audio_to_text"]["pool"] == test["segments"]


def test_non_finite_audio_embeddings_are_one_error_naming_the_model(corpus):
    broken = tiny_model()
    with torch.no_grad():
        for parameter in broken.audio_projection.parameters():
            parameter.fill_(np.nan)
    with pytest.raises(SongalignError, match="^broken-model gives non-finite"):
        evaluate_model(broken, corpus, model_name="broken-model")
