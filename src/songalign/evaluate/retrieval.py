"""Cross-modal retrieval metrics (MusCALL / CLAP style), in both directions.

Queries are rows of one modality, items the rows of the other; query ``i``'s relevant items are
every item whose text equals item ``i``'s text (so a repeated chorus is not counted as a miss,
as in :mod:`songalign.evaluate.protocol`). Every query ranks the whole ``pool`` of items by
cosine similarity. Per query:

- ``R@k``: 1 if a relevant item is in the top k (CLIP's "recall at k" = hit rate), in %;
- ``MRR``: 1 / rank of the first relevant item; ``median rank``: median over queries of the
  1-based rank of the first relevant item;
- ``P@k``: relevant items in the top k / k, in %;
- ``mAP@10``: average precision over the top 10, ``(1 / min(R, 10)) · Σ_{i ≤ 10} rel_i · P@i``
  with ``R`` the query's relevant items (the usual AP@k; torchmetrics instead divides by the
  relevant items found in the top 10, which rewards finding one of many copies).

Every figure is its expectation under a uniformly random order of tied items
(:mod:`songalign.evaluate.ranking`), so a model that scores every item alike gets exactly its
chance level, reported beside it (``chance_R@k``, ``chance_P@k``, ``chance_mAP@10``, ...) for
the same pool and the same repeated texts. torchmetrics serves only as the tie-free cross-check
of P@k and AP@k in the tests: its ``topk`` breaks ties by position, which credits a collapsed
model with whatever order the items happen to be in.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from songalign.evaluate.protocol import normalise
from songalign.evaluate.ranking import (
    FirstRelevantRank,
    RelevanceByPosition,
    chance_rank,
    chance_relevance,
    first_relevant_rank,
    relevance_by_position,
)

KS = (1, 5, 10)
AP_DEPTH = 10
"""The depth of mAP@10."""


def relevance(texts: Sequence[str]) -> np.ndarray:
    """``(N, N)`` bool: item ``j`` is relevant to query ``i`` when their texts are equal."""
    ids = np.unique(np.asarray(texts), return_inverse=True)[1]
    return ids[:, None] == ids[None, :]


def _rank_metrics(
    ranks: list[FirstRelevantRank], positions: list[RelevanceByPosition], ks: tuple[int, ...], prefix: str = ""
) -> dict[str, float]:
    """The module docstring's metrics, averaged over queries, from each query's tie-shared ranking."""
    result = {f"{prefix}R@{k}": 100.0 * float(np.mean([r.hit_at(k) for r in ranks])) for k in ks}
    result[f"{prefix}MRR"] = float(np.mean([r.reciprocal_rank() for r in ranks]))
    result[f"{prefix}median_rank"] = float(np.median([r.expected_rank() for r in ranks]))
    result |= {f"{prefix}P@{k}": 100.0 * float(np.mean([p.precision_at(k) for p in positions])) for k in ks}
    result[f"{prefix}mAP@{AP_DEPTH}"] = float(np.mean([p.average_precision_at(AP_DEPTH) for p in positions]))
    return result


def retrieval_metrics(
    queries: np.ndarray, items: np.ndarray, relevant: np.ndarray, ks: tuple[int, ...] = KS
) -> dict[str, float]:
    """Metrics of ranking ``items (N_i, D)`` by cosine similarity to each of ``queries (N_q, D)``.

    ``relevant`` is ``(N_q, N_i)`` bool (a NumPy array or a CPU tensor), at least one relevant
    item per query. Returns the metrics of the module docstring, their ``chance_`` levels,
    ``pool`` (= ``N_i``) and ``queries`` (= ``N_q``).
    """
    similarities = normalise(queries) @ normalise(items).T
    relevant_rows = np.asarray(relevant, dtype=bool)
    ranks = [first_relevant_rank(row, target) for row, target in zip(similarities, relevant_rows, strict=True)]
    positions = [relevance_by_position(row, target) for row, target in zip(similarities, relevant_rows, strict=True)]
    result = _rank_metrics(ranks, positions, ks)
    result |= _rank_metrics(
        [chance_rank(row) for row in relevant_rows], [chance_relevance(row) for row in relevant_rows], ks, "chance_"
    )
    return result | {"pool": float(len(items)), "queries": float(len(queries))}


def both_directions(audio: np.ndarray, text: np.ndarray, texts: list[str]) -> dict[str, dict[str, float]]:
    """Audio→text and text→audio metrics for paired embeddings (row ``i`` of each is one segment)."""
    relevant = relevance(texts)
    return {
        "audio_to_text": retrieval_metrics(audio, text, relevant),
        "text_to_audio": retrieval_metrics(text, audio, relevant.T),
    }
