"""Ranks with ties shared fairly: hand-computed distributions of the first relevant item's rank."""

from __future__ import annotations

import numpy as np
import pytest

from songalign.evaluate.ranking import chance_rank, first_relevant_rank


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
