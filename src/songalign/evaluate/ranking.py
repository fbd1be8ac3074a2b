"""Where the first relevant item lands in a ranking, with ties shared fairly.

Every ranking metric of :mod:`songalign.evaluate` (lyric-choice top-k, retrieval R@k, MRR and
median rank, zero-shot accuracy) is a function of one number per query: the 0-based rank of the
first relevant item. When scores tie, no order among the tied items is more right than another,
so the rank is a random variable under a uniformly random tie-break, and each metric is its
expectation. A model that scores every candidate alike (constant, zero or collapsed embeddings)
therefore gets exactly chance — ``k / n`` for top-k among ``n`` candidates with one relevant —
and never the credit a stable sort would hand to whichever candidate happens to come first.
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
