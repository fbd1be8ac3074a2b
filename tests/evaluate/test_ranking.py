"""Ranks with ties shared fairly: hand-computed distributions of the first relevant item's rank."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from songalign.evaluate.ranking import chance_rank, chance_relevance, first_relevant_rank, relevance_by_position


def test_no_tie_is_a_plain_rank():
    rank = first_relevant_rank(np.array([0.2, 0.9, 0.5, 0.1]), np.array([False, False, True, False]))
    assert rank.above == 1 and rank.probabilities.tolist() == [1.0]
    assert [rank.hit_at(k) for k in (1, 2, 3)] == [0.0, 1.0, 1.0]
    assert rank.reciprocal_rank() == pytest.approx(1 / 2) and rank.expected_rank() == 2.0


def test_one_relevant_tied_with_two_others_behind_one_better_item():
    # item 1 beats everything; items 0, 2, 3 tie; 0 is relevant: ranks 2, 3, 4 (1-based) each with chance 1/3
    rank = first_relevant_rank(np.array([0.5, 0.9, 0.5, 0.5, 0.1]), np.array([True, False, False, False, False]))
    assert rank.above == 1
    np.testing.assert_allclose(rank.probabilities, [1 / 3, 1 / 3, 1 / 3])
    assert [rank.hit_at(k) for k in (1, 2, 3, 4)] == pytest.approx([0.0, 1 / 3, 2 / 3, 1.0])
    assert rank.reciprocal_rank() == pytest.approx((1 / 2 + 1 / 3 + 1 / 4) / 3)
    assert rank.expected_rank() == pytest.approx(3.0)


def test_two_relevant_among_four_tied():
    # P(first tied item irrelevant) = 2/4; P(first two irrelevant) = 2/4 · 1/3 = 1/6
    rank = first_relevant_rank(np.zeros(4), np.array([True, False, True, False]))
    np.testing.assert_allclose(rank.probabilities, [1 / 2, 1 / 3, 1 / 6])
    assert rank.hit_at(1) == pytest.approx(0.5) and rank.hit_at(2) == pytest.approx(5 / 6)


def test_chance_is_k_over_n_with_one_relevant():
    rank = chance_rank(np.eye(10, dtype=bool)[3])
    assert [rank.hit_at(k) for k in (1, 2, 4, 8, 12)] == pytest.approx([0.1, 0.2, 0.4, 0.8, 1.0])
    assert rank.expected_rank() == pytest.approx(5.5)


def test_a_better_relevant_item_wins_over_a_tied_one():
    # relevant items 0 (0.3) and 2 (0.8): the best one, 2, is tied with the irrelevant item 1
    rank = first_relevant_rank(np.array([0.3, 0.8, 0.8]), np.array([True, False, True]))
    assert rank.above == 0 and rank.hit_at(1) == pytest.approx(0.5) and rank.hit_at(2) == pytest.approx(1.0)


def brute_force_precision(scores: np.ndarray, relevant: np.ndarray, k: int) -> tuple[float, float]:
    """Mean P@k and AP@k (normalised by min(R, k)) over every order of the items that the scores allow."""
    total_relevant = int(relevant.sum())
    precisions, average_precisions = [], []
    for order in itertools.permutations(range(len(scores))):
        if any(scores[a] < scores[b] for a, b in itertools.pairwise(order)):
            continue  # not a ranking of these scores
        hits = relevant[list(order)][:k].astype(float)
        precisions.append(hits.sum() / k)
        precision_at = np.cumsum(hits) / np.arange(1, len(hits) + 1)
        average_precisions.append(float(np.sum(hits * precision_at)) / min(total_relevant, k))
    return float(np.mean(precisions)), float(np.mean(average_precisions))


def test_relevance_by_position_by_hand():
    # item 0 alone on top (irrelevant); items 1, 2, 3 tie, two of them relevant; item 4 last, relevant
    scores = np.array([0.9, 0.5, 0.5, 0.5, 0.1])
    positions = relevance_by_position(scores, np.array([False, True, False, True, True]))
    np.testing.assert_allclose(positions.relevant, [0, 2 / 3, 2 / 3, 2 / 3, 1])
    # slot j of the tied group, given it is relevant: 1 + (j − 1)(2 − 1)/(3 − 1) relevant in the top
    np.testing.assert_allclose(positions.found_if_relevant[1:], [1.0, 1.5, 2.0, 3.0])
    assert positions.precision_at(2) == pytest.approx((0 + 2 / 3) / 2)
    # AP@3 = (1 / min(3, 3)) · (2/3 · 1/2 + 2/3 · 1.5/3)
    assert positions.average_precision_at(3) == pytest.approx((2 / 3 * 1 / 2 + 2 / 3 * 1.5 / 3) / 3)


@pytest.mark.parametrize("seed", range(6))
def test_precision_and_average_precision_match_every_tie_break(seed):
    rng = np.random.default_rng(seed)
    scores = rng.integers(0, 3, size=7).astype(float)  # three score levels: ties everywhere
    relevant = rng.random(7) < 0.4
    relevant[rng.integers(7)] = True
    positions = relevance_by_position(scores, relevant)
    for k in (1, 2, 3, 5, 10):
        precision, average_precision = brute_force_precision(scores, relevant, k)
        assert positions.precision_at(k) == pytest.approx(precision, abs=1e-12)
        assert positions.average_precision_at(k) == pytest.approx(average_precision, abs=1e-12)


def test_chance_precision_is_the_relevant_share():
    positions = chance_relevance(np.array([True, True, False, False, False]))
    assert [positions.precision_at(k) for k in (1, 3, 5)] == pytest.approx([0.4, 0.4, 0.4])
    # AP@5 of two relevant among five tied, by enumerating the C(5, 2) = 10 placements of the two
    placements = itertools.combinations(range(1, 6), 2)
    expected = np.mean([(1 / first + 2 / second) / 2 for first, second in placements])
    assert positions.average_precision_at(5) == pytest.approx(expected)
