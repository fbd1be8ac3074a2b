"""Rankings with ties shared fairly: the first relevant item's rank, and relevance by position.

When scores tie, no order among the tied items is more right than another, so every ranking
metric is taken as its expectation under a uniformly random tie-break, computed exactly:

- :func:`first_relevant_rank` gives the distribution of the first relevant item's rank, from
  which lyric-choice top-k, retrieval R@k, MRR and median rank, and zero-shot accuracy follow;
- :func:`relevance_by_position` gives, per position, the chance that it holds a relevant item
  and the expected relevant count above it, from which P@k and AP@k follow by linearity.

A model that scores every candidate alike (constant, zero or collapsed embeddings) therefore
gets exactly chance — ``k / n`` for top-k among ``n`` candidates with one relevant — and never
the credit a stable sort (or ``topk``) would hand to whichever candidate happens to come first.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class FirstRelevantRank:
    """The distribution of the first relevant item's 0-based rank under a random tie-break.

    ``above`` items score strictly higher than the best relevant item; the best-scoring tied group
    that holds a relevant item comes next, and ``probabilities[x]`` is the chance that ``x``
    irrelevant items of that group precede its first relevant one, i.e. that the rank is ``above + x``.
    """

    above: int
    probabilities: np.ndarray

    def hit_at(self, k: int) -> float:
        """P(rank < k): the expected top-k hit, in [0, 1]."""
        return float(self.probabilities[: max(k - self.above, 0)].sum())

    def reciprocal_rank(self) -> float:
        """E[1 / (rank + 1)], the expected reciprocal of the 1-based rank."""
        ranks = self.above + 1 + np.arange(len(self.probabilities))
        return float(np.sum(self.probabilities / ranks))

    def expected_rank(self) -> float:
        """E[rank + 1], the expected 1-based rank."""
        ranks = self.above + 1 + np.arange(len(self.probabilities))
        return float(np.sum(self.probabilities * ranks))


def first_relevant_rank(scores: np.ndarray, relevant: np.ndarray) -> FirstRelevantRank:
    """The rank distribution of the first ``relevant (n,)`` item when ranking by ``scores (n,)``, higher first.

    Scores that are equal as floats are ties. At least one item must be relevant.
    """
    scores, relevant = np.asarray(scores, dtype=np.float64), np.asarray(relevant, dtype=bool)
    if not relevant.any():
        raise ValueError("at least one item must be relevant")
    best = scores[relevant].max()
    above = int(np.sum(scores > best))
    tied = scores == best
    tied_relevant = int(np.sum(tied & relevant))
    tied_other = int(np.sum(tied & ~relevant))
    # P(the first x tied items are all irrelevant) = C(o, x) / C(o + r, x) = Π_{i<x} (o − i) / (o + r − i)
    steps = (tied_other - np.arange(tied_other)) / (tied_other + tied_relevant - np.arange(tied_other))
    survival = np.concatenate([[1.0], np.cumprod(steps)])  # P(X ≥ x), x = 0..o
    probabilities = survival - np.concatenate([survival[1:], [0.0]])
    return FirstRelevantRank(above, probabilities)


def chance_rank(relevant: np.ndarray) -> FirstRelevantRank:
    """The rank distribution of a model that knows nothing: every item tied."""
    return first_relevant_rank(np.zeros(len(relevant)), relevant)


@dataclass(frozen=True)
class RelevanceByPosition:
    """What a ranking holds at each 1-based position ``i`` under a uniformly random tie-break.

    ``relevant[i − 1]`` is P(the item at position ``i`` is relevant); ``found_if_relevant[i − 1]``
    is E[relevant items in the top ``i`` | the item at ``i`` is relevant]. Both are ``(n,)``.
    ``total_relevant`` is the number of relevant items ``R``. Precision-type metrics are linear in
    these, so their expectations over the tie-break are exact (no sampling).
    """

    relevant: np.ndarray
    found_if_relevant: np.ndarray
    total_relevant: int

    def precision_at(self, k: int) -> float:
        """E[P@k] = E[relevant items in the top k] / k, in [0, 1] (k fixed even when fewer than k items)."""
        return float(self.relevant[:k].sum() / k)

    def average_precision_at(self, k: int) -> float:
        """E[AP@k] = (1 / min(R, k)) · Σ_{i ≤ k} E[rel_i · P@i], in [0, 1].

        The normalisation is ``min(R, k)``, the most relevant items the top ``k`` can hold, so a
        perfect ranking scores 1 and a relevant item left out of the top ``k`` counts against it.
        """
        depth = min(self.total_relevant, k)
        positions = np.arange(1, len(self.relevant) + 1)[:k]
        return float(np.sum(self.relevant[:k] * self.found_if_relevant[:k] / positions) / depth)


def relevance_by_position(scores: np.ndarray, relevant: np.ndarray) -> RelevanceByPosition:
    """:class:`RelevanceByPosition` of ranking ``scores (n,)``, higher first, with ``relevant (n,)`` items.

    Items with equal scores form a tied group that fills its positions in a uniformly random
    order: its ``j``-th slot (1-based) of a group of ``m`` items with ``r`` relevant, ``A``
    relevant items above the group, is relevant with probability ``r / m``, and then the top
    holds ``A + 1 + (j − 1)(r − 1)/(m − 1)`` relevant items in expectation (the other ``j − 1``
    slots are drawn from the group's remaining ``m − 1`` items, ``r − 1`` of them relevant).
    At least one item must be relevant.
    """
    scores, relevant = np.asarray(scores, dtype=np.float64), np.asarray(relevant, dtype=bool)
    if not relevant.any():
        raise ValueError("at least one item must be relevant")
    order = np.argsort(-scores, kind="stable")
    ranked_scores, ranked_relevant = scores[order], relevant[order].astype(np.int64)
    starts = np.flatnonzero(np.concatenate([[True], ranked_scores[1:] != ranked_scores[:-1]]))
    sizes = np.diff(np.concatenate([starts, [len(scores)]]))
    relevant_in_group = np.add.reduceat(ranked_relevant, starts)
    relevant_above = np.cumsum(relevant_in_group) - relevant_in_group
    group = np.repeat(np.arange(len(starts)), sizes)  # the tied group of each position
    slot = np.arange(len(scores)) - starts[group]  # 0-based slot inside the group: j − 1
    m, r = sizes[group], relevant_in_group[group]
    before_in_group = slot * np.maximum(r - 1, 0) / np.maximum(m - 1, 1)  # m = 1 has only slot 0
    return RelevanceByPosition(r / m, relevant_above[group] + 1 + before_in_group, int(relevant.sum()))


def chance_relevance(relevant: np.ndarray) -> RelevanceByPosition:
    """:class:`RelevanceByPosition` of a model that knows nothing: every item tied."""
    return relevance_by_position(np.zeros(len(relevant)), relevant)
