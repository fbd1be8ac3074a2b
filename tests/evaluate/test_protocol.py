"""The seed-000 lyric-choice protocol and the retrieval/classification metrics on hand-built embeddings."""

from __future__ import annotations

import math

import numpy as np
import pytest

from songalign.evaluate.classify import linear_probe, score_metrics
from songalign.evaluate.protocol import lyric_choice, query_scores
from songalign.evaluate.retrieval import both_directions

E = math.e


def test_kl_is_zero_and_top1_perfect_when_audio_equals_lyrics():
    lyrics = np.eye(3)
    result = lyric_choice(lyrics.copy(), lyrics, ["a", "b", "c"], pool="all")
    assert result.kl.mean == pytest.approx(0.0, abs=1e-12)
    assert result.top_k[1].mean == 100.0 and result.pool == "all" and result.scale_source == "none (s = 1)"


def test_hand_computed_kl_for_a_swapped_query():
    # q_audio points at the other lyric: P_a = [1, e]/(1+e), P_l = [e, 1]/(1+e) (s = 1)
    # KL = P_a0 ln(P_a0/P_l0) + P_a1 ln(P_a1/P_l1) = (1/(1+e))(-1) + (e/(1+e))(+1) = (e-1)/(e+1)
    kl, rank = query_scores(np.array([0.0, 1.0]), np.array([1.0, 0.0]), np.eye(2), np.array([True, False]), 1.0)
    assert kl == pytest.approx((E - 1) / (E + 1))
    assert rank == 1  # own lyric second: a top-2 hit, a top-1 miss


def test_scale_sharpens_both_distributions():
    # with s = 2 the logits are [0, 2] vs [2, 0]: KL = (e^2 - 1)/(e^2 + 1) * 2
    kl, _ = query_scores(np.array([0.0, 1.0]), np.array([1.0, 0.0]), np.eye(2), np.array([True, False]), 2.0)
    assert kl == pytest.approx(2 * (E**2 - 1) / (E**2 + 1))


def test_top_k_over_a_pool_and_repeated_lyrics_count_as_own():
    # 4 segments; audio of 0 is closest to lyric 1, whose text equals lyric 0's (a repeated chorus)
    lyrics = np.eye(4)
    audio = np.array([[0.1, 1.0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]])
    result = lyric_choice(audio, lyrics, ["chorus", "chorus", "x", "y"], pool="all", scale=10.0)
    assert result.top_k[1].mean == 100.0 and result.scale == 10.0
    distinct = lyric_choice(audio, lyrics, ["c0", "c1", "x", "y"], pool="all", scale=10.0)
    assert distinct.top_k[1].mean == 75.0 and distinct.top_k[2].mean == 100.0


def test_pool_draws_are_seeded_and_sized():
    rng = np.random.default_rng(0)
    audio, lyrics = rng.standard_normal((30, 8)), rng.standard_normal((30, 8))
    texts = [str(i) for i in range(30)]
    first = lyric_choice(audio, lyrics, texts, pool=10, draws=3, seed=1)
    assert first.to_dict() == lyric_choice(audio, lyrics, texts, pool=10, draws=3, seed=1).to_dict()
    assert first.kl.count == 90 and first.pool == 10
    assert first.to_dict() != lyric_choice(audio, lyrics, texts, pool=10, draws=3, seed=2).to_dict()
    # random embeddings: top-1 near 10-way chance, top-8 near 80 %
    assert 0 <= first.top_k[1].mean <= 30 and 55 <= first.top_k[8].mean <= 100


def test_retrieval_metrics_by_hand():
    # audio 0 ranks texts [1, 0, 2]; audio 1 ranks [1, ...]; audio 2 ranks [2, ...]
    text = np.eye(3)
    audio = np.array([[0.5, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    metrics = both_directions(audio, text, ["a", "b", "c"])["audio_to_text"]
    assert metrics["R@1"] == pytest.approx(200 / 3)
    assert metrics["MRR"] == pytest.approx((0.5 + 1 + 1) / 3)
    assert metrics["median_rank"] == 1.0
    assert metrics["P@1"] == pytest.approx(200 / 3) and metrics["R@5"] == 100.0


def test_negative_similarities_still_rank():
    # every cosine negative: the best is -0.1 (item 1 for query 0); rank 1 → MRR 1 for that query
    text = np.array([[1.0, 0.0], [0.0, 1.0]])
    audio = np.array([[-1.0, -0.1], [-0.1, -1.0]])
    metrics = both_directions(audio, text, ["a", "b"])["audio_to_text"]
    assert (
        metrics["MRR"] == pytest.approx(0.5)
        and metrics["median_rank"] == 2.0
        and metrics["mAP@10"] == pytest.approx(0.5)
    )


def test_score_metrics_and_probe():
    scores = np.array([[0.9, 0.1], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    metrics = score_metrics(scores, ["x", "y", "y", "y"], ["x", "y"])
    assert metrics["accuracy"] == 75.0
    # x scores: 0.9 (x) vs 0.2, 0.6, 0.3 (y): x ranked above all → AUC 1 for x; y column: 0.8, 0.4, 0.7 vs 0.1 → 1
    assert metrics["roc_auc_macro"] == pytest.approx(1.0)
    rng = np.random.default_rng(0)
    labels = ["a", "b"] * 20
    embeddings = rng.standard_normal((40, 4)) + np.array(
        [[3, 0, 0, 0] if lab == "a" else [-3, 0, 0, 0] for lab in labels]
    )
    probe = linear_probe(embeddings, labels, [f"song{i // 2}" for i in range(40)])
    assert probe["accuracy"] == 100.0 and probe["folds"] == 5
