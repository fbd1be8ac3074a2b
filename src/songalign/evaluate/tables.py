"""Markdown tables of evaluation figures, each figure beside its chance level, pool and interval.

Used by every report: an alignment model's evaluation page (:func:`songalign.align.evaluate.to_markdown`),
the quickstarts' reports and the transcriber's lyric-selection table. Each table takes ``rows``: the
label cells of a row (e.g. ``("CLAP-emo", "lyrics")``) → that row's figures, as the metric functions
of this package return them (``to_dict()`` of a lyric-choice result, a retrieval metrics dict, a
zero-shot or probe dict). The ``*_NOTE`` strings say, under each table, how to read it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

Rows = Mapping[tuple[str, ...], Mapping[str, Any]]
"""Table rows: the label cells of a row (e.g. ``("CLAP-emo", "lyrics")``) → that row's figures."""

LYRIC_CHOICE_NOTE = (
    "KL audio‖lyric = D_KL(P(k|q_audio) ‖ P(k|q_lyric)), the formula as seed 000 writes it; KL lyric‖audio = "
    "D_KL(P(k|q_lyric) ‖ P(k|q_audio)), what its prose (the lyric–lyric distribution as the ground truth) and its "
    "authors' code compute (KL is not symmetric, so both are given); each in nats (3 significant digits), at s = 1 "
    "for every model (comparable) "
    "and at the model's own logit scale (s = 1 for a model without a trained scale); top-k in %, tied candidates "
    "sharing their ranks; chance = a model that scores every candidate alike; ± is a 95% interval over the "
    "queries (each query's mean over the draws)."
)
RETRIEVAL_NOTE = (
    "Each query ranks the whole pool; chance levels (a model that scores every item alike) in brackets; "
    "identical texts count as the same item; mAP@10 divides by min(relevant items, 10)."
)
CLASSIFICATION_NOTE = (
    "Chance in brackets, what a model that knows nothing scores. Zero-shot: 100 / labels (embeddings that tie "
    "every label) and the split's majority share (a collapsed embedding picks one label for every clip and scores "
    "that label's share, at most this). Probe: the larger of the scored split's share of train's most frequent "
    "label (what a probe on constant embeddings scores) and Σ train share · scored share (guessing labels as often "
    "as they occur in train). Macro ROC-AUC is 0.5 at chance. The probe is fitted on train-split songs only."
)


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    return [
        "| " + " | ".join(headers) + " |",
        "|" + "---|" * len(headers),
        *("| " + " | ".join(row) + " |" for row in rows),
    ]


def _estimate(estimate: Mapping[str, float], digits: int) -> str:
    """``mean ± ci95`` with ``digits`` decimals."""
    return f"{estimate['mean']:.{digits}f} ± {estimate['ci95']:.{digits}f}"


def significant(value: float, digits: int) -> str:
    """``value`` with ``digits`` significant digits: ``0.0241``, ``1.29``; ``1.23e-4`` below 0.001 or from ``10^digits``.

    The bounds apply to the rounded value, so ``999.9`` at 3 digits is ``1.00e3`` like ``1000``.
    KL at s = 1 is often ~1e-4 nats, where fixed decimals would print ``0.0001 ± 0.0000``.
    """
    if not math.isfinite(value) or value == 0:
        return f"{value:g}"
    mantissa, exponent = f"{value:.{digits - 1}e}".split("e")  # rounded to ``digits`` first
    if -3 <= int(exponent) < digits:
        return f"{value:#.{digits}g}".rstrip(".")  # the same rounding, so the same exponent: fixed notation
    return f"{mantissa}e{int(exponent)}"


def _kl(estimate: Mapping[str, float] | None) -> str:
    """A KL estimate: its mean to 3 significant digits ± its interval to 2 ("—" for a method without one)."""
    if estimate is None:
        return "—"
    return f"{significant(estimate['mean'], 3)} ± {significant(estimate['ci95'], 2)}"


def _kl_cells(result: Mapping[str, Any], key: str) -> list[str]:
    """The cells of the KL ``key`` (``kl``: audio‖lyric, ``kl_lyric_audio``: lyric‖audio) at s = 1 and at the model's s.

    The second cell is the s = 1 figure, marked so, for a model without a trained scale, and "—" for a
    method without embeddings (or a result written before ``kl_lyric_audio`` existed).
    """
    at_one, at_model = result.get(key), result.get(f"{key}_model_scale")
    if at_model:
        return [_kl(at_one), f"{_kl(at_model)} (s = {result['model_scale']:.2f})"]
    return [_kl(at_one), f"{_kl(at_one)} (s = 1: no trained scale)" if at_one else "—"]


def lyric_choice_table(
    rows: Rows, headers: Sequence[str], extra_columns: Mapping[str, Mapping[tuple[str, ...], str]] | None = None
) -> list[str]:
    """Markdown lines of a lyric-choice table: one row per result (``LyricChoiceResult.to_dict()``).

    Columns: the row labels (``headers``), the pool (``all (N)`` for the whole split), KL audio‖lyric
    then KL lyric‖audio, each at s = 1 and at the model's scale (the s = 1 figure, marked so, for a
    model without a trained scale; "—" for a method that ranks without embeddings, such as CTC
    likelihood), top-k ± interval, the chance top-k, the interval's query and draw counts, then
    ``extra_columns`` (header → row labels → cell, "—" where missing).
    """
    extra_columns = extra_columns or {}
    ks = sorted({int(k) for result in rows.values() for k in result["top_k"]})
    cells = []
    for labels, result in rows.items():
        top_k = {int(k): v for k, v in result["top_k"].items()}
        chance = {int(k): v for k, v in result["chance_top_k"].items()}
        pool = f"all ({result['queries']})" if result["pool"] == "all" else str(result["pool"])
        cells.append(
            [
                *labels,
                pool,
                *_kl_cells(result, "kl"),
                *_kl_cells(result, "kl_lyric_audio"),
                *(_estimate(top_k[k], 1) for k in ks),
                " / ".join(f"{chance[k]:.1f}" for k in ks),
                f"{result['queries']} × {result['draws']}",
                *(column.get(labels, "—") for column in extra_columns.values()),
            ]
        )
    header = [
        *headers,
        "pool",
        "KL audio‖lyric (s = 1)",
        "KL audio‖lyric (model's s)",
        "KL lyric‖audio (s = 1)",
        "KL lyric‖audio (model's s)",
        *(f"top-{k} %" for k in ks),
        "chance top-" + "/".join(map(str, ks)) + " %",
        "queries × draws",
        *extra_columns,
    ]
    return _table(header, cells)


def retrieval_table(rows: Rows, headers: Sequence[str]) -> list[str]:
    """Markdown lines of a retrieval table, one row per metrics dict of :func:`~.retrieval.retrieval_metrics`.

    Each rank figure has its chance level in brackets beside it, and the pool size has a column.
    """
    ks = sorted(int(name[2:]) for name in next(iter(rows.values()), {}) if name.startswith("R@"))
    cells = []
    for labels, m in rows.items():
        figures = [f"{m[f'R@{k}']:.1f} ({m[f'chance_R@{k}']:.1f})" for k in ks]
        figures += [
            f"{m['MRR']:.3f} ({m['chance_MRR']:.3f})",
            f"{m['median_rank']:.1f} ({m['chance_median_rank']:.1f})",
        ]
        cells.append([*labels, f"{m['pool']:.0f}", *figures, f"{m['mAP@10']:.3f} ({m['chance_mAP@10']:.3f})"])
    header = [
        *headers,
        "pool",
        *(f"R@{k} % (chance)" for k in ks),
        "MRR (chance)",
        "median rank (chance)",
        "mAP@10 (chance)",
    ]
    return _table(header, cells)


def classification_table(rows: Rows, headers: Sequence[str]) -> list[str]:
    """Markdown lines of a zero-shot / probe table (figures of :func:`zero_shot` or a probe, or ``not_reported``).

    The accuracy's bracket holds its chance levels (see :data:`CLASSIFICATION_NOTE`); a probe whose
    held-out status is unknown says so in its data cell.
    """
    cells = []
    for labels, m in rows.items():
        if "not_reported" in m:
            cells.append([*labels, "not reported", "—", "—", m["not_reported"]])
            continue
        chance = f"{m['chance_accuracy']:.1f}"
        if "majority_share" in m:
            chance += f"; majority {m['majority_share']:.1f}"
        if "fitted" in m:
            fitted, scored = m["fitted"], m["scored"]
            data = (
                f"fitted on {fitted['segments']} segments / {fitted['songs']} songs of train (C = {fitted['C']:g}), "
                f"scored on {scored['segments']} segments / {scored['songs']} other songs"
            )
            if m.get("held_out_from_model") is None:
                data += "; held-out status unknown (the model's training songs are not all recorded)"
        else:
            data = f"{m['items']:.0f} segments"
        cells.append(
            [
                *labels,
                f"{m['accuracy']:.1f} ({chance})",
                f"{m.get('roc_auc_macro', float('nan')):.3f}",
                f"{m.get('pr_auc_macro', float('nan')):.3f}",
                data,
            ]
        )
    return _table([*headers, "accuracy % (chance)", "macro ROC-AUC", "macro PR-AUC", "data"], cells)
