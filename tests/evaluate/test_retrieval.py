"""Retrieval metrics by hand, with their pool size and chance levels; P@k and mAP@10 against torchmetrics
where no score ties, and at chance where every score does."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torchmetrics.functional.retrieval import retrieval_average_precision, retrieval_precision

from songalign.evaluate.retrieval import both_directions, relevance, retrieval_metrics


def test_retrieval_metrics_by_hand():
    # audio 0 ranks texts [1, 0, 2]; audio 1 ranks [1, ...]; audio 2 ranks [2, ...]
    text = np.eye(3)
    audio = np.array([[0.5, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    metrics = both_directions(audio, text, ["a", "b", "c"])["audio_to_text"]
    assert metrics["R@1"] == pytest.approx(200 / 3)
    assert metrics["MRR"] == pytest.approx((0.5 + 1 + 1) / 3)
    assert metrics["median_rank"] == 1.0
    assert metrics["P@1"] == pytest.approx(200 / 3) and metrics["R@5"] == 100.0
    assert metrics["pool"] == 3.0 and metrics["chance_R@1"] == pytest.approx(100 / 3)
    assert metrics["chance_MRR"] == pytest.approx((1 + 1 / 2 + 1 / 3) / 3) and metrics["chance_median_rank"] == 2.0


def test_negative_similarities_still_rank():
    # every cosine negative: the best is -0.1 (item 1 for query 0); rank 1 → MRR 1 for that query
    text = np.array([[1.0, 0.0], [0.0, 1.0]])
    audio = np.array([[-1.0, -0.1], [-0.1, -1.0]])
    metrics = both_directions(audio, text, ["a", "b"])["audio_to_text"]
    assert metrics["MRR"] == pytest.approx(0.5) and metrics["median_rank"] == 2.0
    assert metrics["mAP@10"] == pytest.approx(0.5)


def test_zero_audio_is_chance_in_both_directions():
    text = np.random.default_rng(0).standard_normal((30, 8))
    texts = [f"t{i}" for i in range(30)]
    for direction, metrics in both_directions(np.zeros((30, 8)), text, texts).items():
        assert metrics["R@1"] == pytest.approx(100 / 30), direction
        assert metrics["R@5"] == pytest.approx(metrics["chance_R@5"]) == pytest.approx(500 / 30)
        assert metrics["MRR"] == pytest.approx(metrics["chance_MRR"])


def test_repeated_texts_are_relevant_to_each_other_and_raise_chance():
    text = np.eye(4)
    audio = np.array([[0.0, 1.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0], [0.0, 0.0, 1.0, 0.0], [0.0, 0.0, 0.0, 1.0]])
    metrics = both_directions(audio, text, ["chorus", "chorus", "x", "y"])["audio_to_text"]
    assert metrics["R@1"] == 100.0  # query 0 finds text 1, a copy of its own
    assert metrics["chance_R@1"] == pytest.approx(100 * (2 / 4 + 2 / 4 + 1 / 4 + 1 / 4) / 4)


def test_zero_audio_with_repeated_texts_scores_the_tie_shared_chance():
    # texts a, a, b, c, d: with every score tied, P@1 is each query's relevant share, (2 + 2 + 1 + 1 + 1) / 25;
    # (a topk-based P@1 credits whichever item topk happens to put first instead)
    text = np.random.default_rng(1).standard_normal((5, 8))
    metrics = both_directions(np.zeros((5, 8)), text, ["a", "a", "b", "c", "d"])
    for direction, figures in metrics.items():
        assert figures["P@1"] == pytest.approx(28.0) == pytest.approx(figures["chance_P@1"]), direction
        assert figures["P@5"] == pytest.approx(100 * 7 / 25), direction  # the whole pool: every relevant item
        assert figures["mAP@10"] == pytest.approx(figures["chance_mAP@10"]), direction
        assert figures["R@1"] == pytest.approx(figures["chance_R@1"]), direction
    # mAP@10 at chance, by hand: a singleton text's AP is E[1 / its rank] = (1 + 1/2 + ... + 1/5) / 5;
    # a repeated text's two copies land on ranks i < j of 5 uniformly: AP = (1/i + 2/j) / 2
    singleton = sum(1 / rank for rank in range(1, 6)) / 5
    pairs = [(1 / i + 2 / j) / 2 for i in range(1, 6) for j in range(i + 1, 6)]
    expected = (2 * np.mean(pairs) + 3 * singleton) / 5
    assert metrics["audio_to_text"]["chance_mAP@10"] == pytest.approx(expected)


def test_precision_and_map_equal_torchmetrics_without_ties():
    rng = np.random.default_rng(2)
    texts = [f"t{i}" for i in rng.integers(0, 6, size=24)]  # repeated texts: several relevant items per query
    queries, items = rng.standard_normal((24, 8)), rng.standard_normal((24, 8))
    relevant = relevance(texts)
    metrics = retrieval_metrics(queries, items, relevant)
    cosines = (queries @ items.T) / np.outer(np.linalg.norm(queries, axis=1), np.linalg.norm(items, axis=1))
    scores = torch.as_tensor((cosines + 1.0) / 2.0 + 1e-6)  # torchmetrics counts a score <= 0 as not retrieved
    assert all(len(set(row.tolist())) == len(row) for row in scores)  # no ties, so one order only
    targets = torch.as_tensor(relevant)
    for k in (1, 5, 10):
        expected = np.mean([float(retrieval_precision(s, t, top_k=k)) for s, t in zip(scores, targets, strict=True)])
        assert metrics[f"P@{k}"] == pytest.approx(100 * expected, abs=1e-6)
    # torchmetrics divides AP@10 by the relevant items found in the top 10; ours by min(R, 10)
    rescaled = [
        float(retrieval_average_precision(s, t, top_k=10)) * float(t[s.topk(10).indices].sum()) / min(int(t.sum()), 10)
        for s, t in zip(scores, targets, strict=True)
    ]
    assert metrics["mAP@10"] == pytest.approx(np.mean(rescaled), abs=1e-6)
    assert any(int(t.sum()) > 1 for t in targets)  # otherwise the normalisations could not differ


def test_a_relevant_copy_outside_the_top_10_counts_against_map():
    # 12 items; query 0's text has two copies: one ranked first, one ranked last → AP@10 = (1/1) / 2
    items = np.eye(12)
    query = np.linspace(1.0, 0.0, 12)[None, :]  # strictly decreasing similarity to items 0..11
    relevant = np.zeros((1, 12), dtype=bool)
    relevant[0, [0, 11]] = True
    metrics = retrieval_metrics(query, items, relevant)
    assert metrics["mAP@10"] == pytest.approx(0.5) and metrics["P@10"] == pytest.approx(10.0)
