"""Cross-modal retrieval metrics (MusCALL / CLAP style), in both directions.

Queries are rows of one modality, items the rows of the other; query ``i``'s relevant items are
every item whose text equals item ``i``'s text (so a repeated chorus is not counted as a miss).
Per query, from torchmetrics' retrieval functions:

- ``R@k``: 1 if a relevant item is in the top k (CLIP's "recall at k" = hit rate), in %;
- ``P@k``: relevant items in the top k / k, in %;
- ``mAP@10``: average precision over the top 10; ``MRR``: 1 / rank of the first relevant item;
- ``median rank``: median over queries of the 1-based rank of the first relevant item.
"""

from __future__ import annotations

import numpy as np
import torch
from torchmetrics.functional.retrieval import (
    retrieval_average_precision,
    retrieval_hit_rate,
    retrieval_precision,
    retrieval_reciprocal_rank,
)

KS = (1, 5, 10)


def relevance(texts: list[str]) -> torch.Tensor:
    """``(N, N)`` bool: item ``j`` is relevant to query ``i`` when their texts are equal."""
    ids = torch.as_tensor(np.unique(np.asarray(texts), return_inverse=True)[1])
    return ids[:, None] == ids[None, :]


def retrieval_metrics(
    queries: np.ndarray, items: np.ndarray, relevant: torch.Tensor, ks: tuple[int, ...] = KS
) -> dict[str, float]:
    """Metrics of ranking ``items (N_i, D)`` by cosine similarity to each of ``queries (N_q, D)``."""
    q = torch.nn.functional.normalize(torch.as_tensor(queries, dtype=torch.float32), dim=-1)
    x = torch.nn.functional.normalize(torch.as_tensor(items, dtype=torch.float32), dim=-1)
    # torchmetrics treats a score <= 0 as "not retrieved", so cosines in [-1, 1] are mapped to (0, 1] first
    scores = (q @ x.T + 1.0) / 2.0 + 1e-6
    per_query: dict[str, list[float]] = {f"R@{k}": [] for k in ks} | {f"P@{k}": [] for k in ks}
    per_query |= {"mAP@10": [], "MRR": []}
    first_ranks = []
    for row, target in zip(scores, relevant, strict=True):
        for k in ks:
            per_query[f"R@{k}"].append(100.0 * float(retrieval_hit_rate(row, target, top_k=k)))
            per_query[f"P@{k}"].append(100.0 * float(retrieval_precision(row, target, top_k=k)))
        per_query["mAP@10"].append(float(retrieval_average_precision(row, target, top_k=10)))
        per_query["MRR"].append(float(retrieval_reciprocal_rank(row, target)))
        order = torch.argsort(row, descending=True, stable=True)
        first_ranks.append(int(torch.nonzero(target[order])[0]) + 1)
    result = {name: float(np.mean(values)) for name, values in per_query.items()}
    result["median_rank"] = float(np.median(first_ranks))
    result["queries"] = float(len(first_ranks))
    return result


def both_directions(audio: np.ndarray, text: np.ndarray, texts: list[str]) -> dict[str, dict[str, float]]:
    """Audio→text and text→audio metrics for paired embeddings (row ``i`` of each is one segment)."""
    relevant = relevance(texts)
    return {
        "audio_to_text": retrieval_metrics(audio, text, relevant),
        "text_to_audio": retrieval_metrics(text, audio, relevant.T),
    }
