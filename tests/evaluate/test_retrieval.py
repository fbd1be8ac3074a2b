"""Retrieval metrics by hand, with their pool size and chance levels."""

from __future__ import annotations

import numpy as np
import pytest

from songalign.evaluate.retrieval import both_directions


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
