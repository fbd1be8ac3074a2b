"""Cross-modal retrieval metrics (MusCALL / CLAP style), in both directions.

Queries are rows of one modality, items the rows of the other; query ``i``'s relevant items are
every item whose text equals item ``i``'s text (so a repeated chorus is not counted as a miss,
as in :mod:`songalign.evaluate.protocol`). Every query ranks the whole ``pool`` of items by
cosine similarity. Per query:

- ``R@k``: 1 if a relevant item is in the top k (CLIP's "recall at k" = hit rate), in %;
- ``MRR``: 1 / rank of the first relevant item; ``median rank``: median over queries of the
  1-based rank of the first relevant item;
- ``P@k``: relevant items in the top k / k, in %; ``mAP@10``: average precision over the top 10
  (these two from torchmetrics).

``R@k``, ``MRR`` and ``median rank`` share tied ranks fairly (:mod:`songalign.evaluate.ranking`),
and each comes with its chance level (``chance_R@k``, ...): the figure of a model that scores
every item alike, for the same pool and the same repeated texts.
"""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics.functional.retrieval import retrieval_average_precision, retrieval_precision

from songalign.evaluate.ranking import FirstRelevantRank, chance_rank, first_relevant_rank

KS = (1, 5, 10)


def relevance(texts: list[str]) -> torch.Tensor:
    """``(N, N)`` bool: item ``j`` is relevant to query ``i`` when their texts are equal."""
    ids = torch.as_tensor(np.unique(np.asarray(texts), return_inverse=True)[1])
    return ids[:, None] == ids[None, :]


def _rank_metrics(ranks: list[FirstRelevantRank], ks: tuple[int, ...], prefix: str = "") -> dict[str, float]:
    result = {f"{prefix}R@{k}": 100.0 * float(np.mean([r.hit_at(k) for r in ranks])) for k in ks}
    result[f"{prefix}MRR"] = float(np.mean([r.reciprocal_rank() for r in ranks]))
    result[f"{prefix}median_rank"] = float(np.median([r.expected_rank() for r in ranks]))
    return result


def retrieval_metrics(
    queries: np.ndarray, items: np.ndarray, relevant: torch.Tensor, ks: tuple[int, ...] = KS
) -> dict[str, float]:
    """Metrics of ranking ``items (N_i, D)`` by cosine similarity to each of ``queries (N_q, D)``.

    ``relevant`` is ``(N_q, N_i)`` bool. Returns the metrics of the module docstring, their
    ``chance_`` levels, ``pool`` (= ``N_i``) and ``queries`` (= ``N_q``).
    """
    q = torch.nn.functional.normalize(torch.as_tensor(queries, dtype=torch.float32), dim=-1)
    x = torch.nn.functional.normalize(torch.as_tensor(items, dtype=torch.float32), dim=-1)
    similarities = q @ x.T
    relevant_rows = relevant.numpy().astype(bool)
    ranks = [first_relevant_rank(row, target) for row, target in zip(similarities.numpy(), relevant_rows, strict=True)]
    result = _rank_metrics(ranks, ks) | _rank_metrics([chance_rank(r) for r in relevant_rows], ks, prefix="chance_")
    # torchmetrics treats a score <= 0 as "not retrieved", so cosines in [-1, 1] are mapped to (0, 1] first
    pairs = list(zip((similarities + 1.0) / 2.0 + 1e-6, relevant, strict=True))
    for k in ks:
        result[f"P@{k}"] = 100.0 * float(np.mean([float(retrieval_precision(s, t, top_k=k)) for s, t in pairs]))
    result["mAP@10"] = float(np.mean([float(retrieval_average_precision(s, t, top_k=10)) for s, t in pairs]))
    result["pool"] = float(len(x))
    result["queries"] = float(len(q))
    return result


def both_directions(audio: np.ndarray, text: np.ndarray, texts: list[str]) -> dict[str, dict[str, float]]:
    """Audio→text and text→audio metrics for paired embeddings (row ``i`` of each is one segment)."""
    relevant = relevance(texts)
    return {
        "audio_to_text": retrieval_metrics(audio, text, relevant),
        "text_to_audio": retrieval_metrics(text, audio, relevant.T),
    }
