"""Zero-shot and probe metrics: hand cases, chance for a model that knows nothing, folds grouped by song."""

from __future__ import annotations

import numpy as np
import pytest

from songalign.evaluate.classify import LabelPrompts, fit_probe, probe_unavailable, score_metrics, zero_shot

LABELS = ("anger", "calm", "joy", "sadness")


def test_score_metrics_by_hand():
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    metrics = score_metrics(scores, ["x", "y", "y", "y"], ["x", "y"])
    assert metrics["accuracy"] == 75.0
    # x scores: 0.9 (x) vs 0.2, 0.6, 0.3 (y): x ranked above all → AUC 1 for x; y column: 0.8, 0.4, 0.7 vs 0.1 → 1
    assert metrics["roc_auc_macro"] == pytest.approx(1.0)


def test_tied_top_scores_share_the_accuracy():
    # item 0: x and y tie for the top (credit 1/2); item 1: z alone on top and true (credit 1); item 2: miss
    scores = np.array([[0.5, 0.5, 0.1], [0.0, 0.2, 0.9], [0.9, 0.0, 0.0]])
    assert score_metrics(scores, ["x", "z", "y"], ["x", "y", "z"])["accuracy"] == pytest.approx(100 * 1.5 / 3)


def test_zero_shot_with_zero_audio_is_chance():
    rng = np.random.default_rng(0)
    prompts = {label: rng.standard_normal(8) for label in LABELS}

    def embed_text(texts: list[str]) -> np.ndarray:  # a fixed vector per label, whatever the template
        return np.stack([next(v for k, v in prompts.items() if k in text) for text in texts])

    labels = [LABELS[i % 4] for i in range(40)]
    result = zero_shot(np.zeros((40, 8)), labels, LABELS, embed_text)
    assert result["accuracy"] == pytest.approx(25.0) and result["chance_accuracy"] == 25.0


def test_label_prompts_embed_each_vocabulary_once_and_score_as_afresh():
    rng = np.random.default_rng(3)
    vectors = {label: rng.standard_normal(8) for label in LABELS}
    asked: list[str] = []

    def embed_text(texts: list[str]) -> np.ndarray:  # a label's vector, shifted per template (no two alike)
        asked.extend(texts)
        return np.stack([next(v for k, v in vectors.items() if k in t) + 0.1 * len(t) for t in texts])

    audio, labels = rng.standard_normal((12, 8)), [LABELS[i % 4] for i in range(12)]
    prompts = LabelPrompts(embed_text)
    first = zero_shot(audio, labels, LABELS, prompts)
    assert len(asked) == 4 * 3  # every label's three templates, once
    second = zero_shot(audio[::-1], labels[::-1], LABELS, prompts)
    assert len(asked) == 12  # read back, not embedded again
    assert first == zero_shot(audio, labels, LABELS, embed_text)
    assert second == zero_shot(audio[::-1], labels[::-1], LABELS, embed_text)
    before = len(asked)
    zero_shot(audio, labels, LABELS, prompts, templates=("{label}",))
    assert asked[before:] == list(LABELS)  # other templates are other prompts
    with pytest.raises(ValueError, match="read-only"):
        prompts(LABELS)[0, 0] = 1.0


def songs_and_labels(n_songs: int, per_song: int, seed: int) -> tuple[list[str], list[str]]:
    """Song ids and one label per song (every segment of a song shares it), balanced over LABELS."""
    rng = np.random.default_rng(seed)
    song_labels = rng.permutation([LABELS[i % 4] for i in range(n_songs)])
    songs = [f"s{seed}_{i}" for i in range(n_songs) for _ in range(per_song)]
    return songs, [str(song_labels[i]) for i in range(n_songs) for _ in range(per_song)]


def test_a_probe_on_random_embeddings_is_at_chance_on_held_out_songs():
    rng = np.random.default_rng(1)
    train_songs, train_labels = songs_and_labels(60, 5, seed=1)
    test_songs, test_labels = songs_and_labels(60, 5, seed=2)
    probe = fit_probe(rng.standard_normal((300, 16)), train_labels, train_songs)
    scored = probe.score(rng.standard_normal((300, 16)), test_labels)
    assert abs(scored["accuracy"] - 25.0) <= 8.0 and scored["chance_accuracy"] == pytest.approx(25.0)
    assert scored["majority_baseline"] == pytest.approx(25.0)
    assert probe.segments == 300 and probe.songs == 60 and probe.folds == 5


def test_a_probe_on_embeddings_that_encode_the_label_scores_well():
    rng = np.random.default_rng(2)

    def embed(labels: list[str]) -> np.ndarray:
        return rng.standard_normal((len(labels), 16)) + 3.0 * np.eye(16)[[LABELS.index(label) for label in labels]]

    train_songs, train_labels = songs_and_labels(40, 5, seed=3)
    test_songs, test_labels = songs_and_labels(20, 5, seed=4)
    probe = fit_probe(embed(train_labels), train_labels, train_songs)
    assert probe.score(embed(test_labels), test_labels)["accuracy"] >= 90.0
    assert set(probe.cv_accuracy) == {0.01, 0.1, 1.0, 10.0} and probe.c in probe.cv_accuracy


def test_model_selection_folds_are_grouped_by_song():
    # embeddings identify the song, not the label: folds that split a song would score ~100 %,
    # folds grouped by song score chance, and so must every C's cross-validated accuracy
    rng = np.random.default_rng(3)
    songs, labels = songs_and_labels(40, 6, seed=5)
    song_vectors = {song: 4.0 * rng.standard_normal(16) for song in sorted(set(songs))}
    embeddings = np.stack([song_vectors[song] + 0.1 * rng.standard_normal(16) for song in songs])
    probe = fit_probe(embeddings, labels, songs)
    assert max(probe.cv_accuracy.values()) <= 50.0


def test_the_probes_chance_is_the_larger_of_majority_and_prior_guessing():
    # train: 3 joy, 1 calm; held out: 1 joy, 3 sadness → prior guessing 3/4 · 1/4 = 18.75 %, majority (joy) 25 %
    embeddings = np.random.default_rng(4).standard_normal((4, 3))
    probe = fit_probe(embeddings, ["joy", "joy", "joy", "calm"], ["a", "b", "c", "d"])
    scored = probe.score(embeddings, ["joy", "sadness", "sadness", "sadness"])
    assert scored["prior_guess_accuracy"] == pytest.approx(18.75) and scored["majority_baseline"] == pytest.approx(25.0)
    assert scored["chance_accuracy"] == pytest.approx(25.0)
    # held out: 1 joy, 3 calm → majority (joy) 25 %, prior guessing 3/4 · 1/4 + 1/4 · 3/4 = 37.5 %
    scored = probe.score(embeddings, ["joy", "calm", "calm", "calm"])
    assert scored["majority_baseline"] == pytest.approx(25.0) and scored["chance_accuracy"] == pytest.approx(37.5)


def test_a_probe_on_zero_embeddings_scores_exactly_its_chance():
    # labels 60 / 20 / 20 in train and held out: the probe can only predict train's majority (joy), scoring 60 %;
    # prior guessing would score 0.6² + 0.2² + 0.2² = 44 %, below what this know-nothing probe gets
    songs = [f"s{i}" for i in range(20) for _ in range(2)]
    labels = [("joy", "joy", "joy", "calm", "sadness")[i % 5] for i in range(20) for _ in range(2)]
    probe = fit_probe(np.zeros((40, 8)), labels, songs)
    scored = probe.score(np.zeros((40, 8)), labels)
    assert scored["accuracy"] == pytest.approx(60.0) == pytest.approx(scored["chance_accuracy"])
    assert scored["majority_baseline"] == pytest.approx(60.0) and scored["prior_guess_accuracy"] == pytest.approx(44.0)


def test_zero_shot_on_a_collapsed_embedding_scores_a_label_share_not_one_over_c():
    # every clip has the same non-zero embedding, the prompt vector of "calm": every clip is called calm
    prompts = dict(zip(LABELS, np.eye(4), strict=True))

    def embed_text(texts: list[str]) -> np.ndarray:
        return np.stack([next(v for k, v in prompts.items() if k in text) for text in texts])

    labels = ["calm"] * 5 + ["joy"] * 3 + ["anger"] * 2  # 50 / 30 / 20 / 0 %
    collapsed = np.tile(prompts["calm"] + 0.1, (10, 1))
    result = zero_shot(collapsed, labels, LABELS, embed_text)
    assert result["accuracy"] == pytest.approx(50.0) == pytest.approx(result["majority_share"])
    assert result["chance_accuracy"] == 25.0
    collapsed_elsewhere = zero_shot(np.tile(prompts["joy"], (10, 1)), labels, LABELS, embed_text)
    assert collapsed_elsewhere["accuracy"] == pytest.approx(30.0) and collapsed_elsewhere["majority_share"] == 50.0


def test_a_probe_needs_two_labels_and_two_songs():
    assert "1 distinct label" in probe_unavailable(["joy", "joy"], ["a", "b"])
    assert "1 song" in probe_unavailable(["joy", "calm"], ["a", "a"])
    assert probe_unavailable(["joy", "calm"], ["a", "b"]) is None
    with pytest.raises(ValueError, match="distinct label"):
        fit_probe(np.zeros((2, 3)), ["joy", "joy"], ["a", "b"])
