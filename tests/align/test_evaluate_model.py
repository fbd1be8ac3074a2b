"""Evaluating a real (untrained) model on a real small corpus: the probe never sees held-out songs,
the page states pools, chance levels and interval counts, and broken embeddings are one error."""

from __future__ import annotations

import shutil

import numpy as np
import pytest
import torch

from songalign.align.evaluate import evaluate_model, evaluate_splits, to_markdown
from songalign.align.model import AlignModel, ModelConfig, TowerSpec
from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.prepare import prepare_corpus
from songalign.corpus.segmenter import SplitConfig
from songalign.corpus.synth import ensure_synthetic_corpus
from songalign.describe import DescriberConfig, describe_corpus
from songalign.errors import SongalignError
from songalign.evaluate.classify import DEFAULT_TEMPLATES, zero_shot
from songalign.evaluate.protocol import lyric_choice, lyric_choice_from_scores
from songalign.evaluate.tables import lyric_choice_table, significant

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


def test_zero_shot_prompts_are_embedded_once_per_model_and_score_as_when_embedded_afresh(model, corpus):
    manifest = CorpusManifest.load(corpus)
    vocabularies = {
        "emotion": sorted({s.labels["ref_emotion"] for s in manifest.segments}),
        "genre": sorted({song.genre for song in manifest.songs}),
    }
    prompts = {
        t.format(label=label) for vocabulary in vocabularies.values() for label in vocabulary for t in DEFAULT_TEMPLATES
    }
    encoded: list[str] = []
    encode = model.text_tower.encode  # the real tower, counted: every text it embeds is recorded

    def counted(texts):
        encoded.extend(texts)
        return encode(texts)

    model.text_tower.encode = counted
    try:
        results, everything = evaluate_splits(model, corpus, ("test", "val"), pool=4, draws=2)
    finally:
        del model.text_tower.encode
    assert len(vocabularies["emotion"]) > 1 and len(vocabularies["genre"]) > 1
    # both splits score both tasks; before the cache each split embedded every prompt again
    assert sorted(t for t in encoded if t in prompts) == sorted(prompts)
    for split in ("test", "val"):
        embedded = everything.select({s.id for s in manifest.split(split)})
        truth = {
            "emotion": [s.labels["ref_emotion"] for s in embedded.segments],
            "genre": [manifest.song(s.song_id).genre for s in embedded.segments],
        }
        for task, vocabulary in vocabularies.items():
            afresh = zero_shot(embedded.audio, truth[task], vocabulary, model.embed_text)
            figures = {k: v for k, v in results[split]["zero_shot"][task].items() if k != "label_source"}
            assert figures == afresh


def test_the_page_states_pool_chance_and_interval(results, model):
    test = results["test"]
    page = to_markdown(test)
    kl_columns = [f"KL {direction} ({s})" for direction in ("audio‖lyric", "lyric‖audio") for s in ("s = 1", "model's s")]
    for column in ("pool", *kl_columns, "chance top-1/2/4/8 %", "queries × draws", "R@1 % (chance)"):
        assert column in page
    assert f"| {test['lyric_choice']['pool_4']['queries']} × 2 |" in page
    assert "fitted on" in page and "of train" in page
    # an untrained model's scale means nothing: its "model's s" column is the s = 1 figure, marked so
    assert not model.config.logit_scale_trained and test["lyric_choice"]["pool_4"]["kl_model_scale"] is None
    assert test["lyric_choice"]["pool_4"]["kl_lyric_audio_model_scale"] is None
    assert test["lyric_choice"]["pool_4"]["kl_lyric_audio"]["count"] == test["lyric_choice"]["pool_4"]["queries"]
    assert "(s = 1: no trained scale)" in page
    assert test["retrieval"]["lyrics"]["audio_to_text"]["pool"] == test["segments"]


def test_non_finite_audio_embeddings_are_one_error_naming_the_model(corpus):
    broken = tiny_model()
    with torch.no_grad():
        for parameter in broken.audio_projection.parameters():
            parameter.fill_(np.nan)
    with pytest.raises(SongalignError, match="^broken-model gives non-finite"):
        evaluate_model(broken, corpus, model_name="broken-model")


def test_an_in_memory_model_without_trained_songs_has_its_probe_marked_held_out_unknown(results):
    test = results["test"]
    probe = test["probe"]["emotion"]
    assert test["songs_in_model_training"] is None and probe["held_out_from_model"] is None
    assert probe["note"].startswith("held-out status unknown") and "accuracy" in probe  # reported, with the note
    page = to_markdown(test)
    assert "Held-out status unknown" in page and "held-out status unknown (the model's training songs are not" in page


def test_the_songs_a_model_trained_on_keep_the_probe_off_those_splits(model, corpus):
    manifest = CorpusManifest.load(corpus)
    test_songs = {s.song_id for s in manifest.split("test")}
    results = evaluate_splits(model, corpus, ("test", "val"), pool=4, draws=2, trained_songs=test_songs)[0]
    assert results["test"]["songs_in_model_training"] == len(test_songs)
    assert "the model was trained on" in results["test"]["probe"]["emotion"]["not_reported"]
    assert "Warning: the model was trained on" in to_markdown(results["test"])
    val = results["val"]
    assert val["songs_in_model_training"] == 0 and val["probe"]["emotion"]["held_out_from_model"] is True
    assert "note" not in val["probe"]["emotion"] and "held-out status unknown" not in to_markdown(val)


def test_a_pool_of_one_is_refused_before_any_embedding(model, corpus):
    with pytest.raises(SongalignError, match=r"^pool=1 .*--pool"):
        evaluate_model(model, corpus, pool=1)


def test_kl_is_printed_to_significant_digits_and_a_missing_scale_says_s_is_one():
    # audio a small turn away from its lyric: KL at s = 1 of order 1e-4 nats, which 4 decimals would print as 0.0001
    lyrics = np.eye(6)
    audio = lyrics + 0.05 * np.roll(np.eye(6), 1, axis=1)
    result = lyric_choice(audio, lyrics, [f"l{i}" for i in range(6)], pool="all").to_dict()
    assert 1e-5 < result["kl"]["mean"] < 1e-3
    row = lyric_choice_table({("untrained",): result}, ("model",))[2]
    kl = f"{significant(result['kl']['mean'], 3)} ± {significant(result['kl']['ci95'], 2)}"
    assert f"| {kl} | {kl} (s = 1: no trained scale) |" in row and "e-4" in kl
    # the lyric‖audio direction follows in the next two columns, printed alike
    reverse = f"{significant(result['kl_lyric_audio']['mean'], 3)} ± {significant(result['kl_lyric_audio']['ci95'], 2)}"
    assert f"| {kl} (s = 1: no trained scale) | {reverse} | {reverse} (s = 1: no trained scale) |" in row
    assert reverse != kl and "e-4" in reverse


def test_a_method_without_embeddings_has_a_dash_for_every_kl():
    result = lyric_choice_from_scores(np.eye(4), [f"l{i}" for i in range(4)], pool="all").to_dict()
    row = lyric_choice_table({("CTC likelihood",): result}, ("method",))[2]
    assert row.startswith("| CTC likelihood | all (4) | — | — | — | — | 100.0 ± 0.0 |")


@pytest.mark.parametrize(
    ("value", "digits", "text"),
    [
        (1.234e-4, 3, "1.23e-4"),
        (2.13e-5, 2, "2.1e-5"),
        (0.0241, 3, "0.0241"),
        (1.294, 3, "1.29"),
        (3.4, 3, "3.40"),
        (0.0, 2, "0"),
        (1234.5, 3, "1.23e3"),
        (999.9, 3, "1.00e3"),  # rounds up to 10^digits: the same notation as 1000
        (99.96, 2, "1.0e2"),
        (-999.9, 3, "-1.00e3"),
        (999.4, 3, "999"),
        (0.00099996, 3, "0.00100"),  # rounds up to 0.001: fixed, like 0.001 itself
        (0.000999, 3, "9.99e-4"),
    ],
)
def test_significant_digits(value, digits, text):
    assert significant(value, digits) == text


def test_a_card_whose_lineage_records_its_songs_only_in_part_says_so(model, corpus, tmp_path):
    # fine-tuned here on the val split's songs, from a checkpoint pretrained elsewhere (no songs recorded)
    manifest = CorpusManifest.load(corpus)
    val_songs = sorted({s.song_id for s in manifest.split("val")})
    parent = {"folder": "clap-pretrained-elsewhere", "name": "CLAP"}
    folder = model.save_pretrained(
        tmp_path / "fine", card={"data": {"trained_songs": val_songs}, "provenance": {"init_from": parent}}
    )
    results = evaluate_splits(folder, corpus, ("test", "val"), pool=4, draws=2)[0]
    assert "the model was trained on" in results["val"]["probe"]["emotion"]["not_reported"]
    test = results["test"]
    assert test["songs_in_model_training"] == 0 and test["training_songs_unknown_for"] == ["clap-pretrained-elsewhere"]
    probe = test["probe"]["emotion"]
    assert probe["held_out_from_model"] is None and probe["note"].startswith("held-out status partly unknown")
    assert "Held-out status partly unknown: clap-pretrained-elsewhere" in to_markdown(test)
