"""Figures of the captioning studies: training curves, cross-attention heat maps, the α sweep."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from songalign.runs import Curve, plot_curves, pyplot

CAPTION_CURVES = (
    Curve("train/caption", "caption loss"),
    Curve("train/contrast", "contrastive loss", ":", omit_if_zero=True),  # α = 0 (BART-fusion) logs zeros
    Curve("val/loss", "val caption loss", "o-"),
)
"""What a captioner's ``loss.png`` shows: caption and contrastive loss per step, validation caption loss per epoch."""


def plot_training(logs: Path, out: Path, title: str = "") -> Path | None:
    """The captioner's training curves (:data:`CAPTION_CURVES`) from Lightning's CSV logs, as a PNG."""
    return plot_curves(logs, out, CAPTION_CURVES, title)


def plot_attention_grid(
    maps: dict[str, list[dict[str, Any]]],
    out: Path,
    frame_seconds: float,
    titles: Sequence[str] | None = None,
    max_tokens: int = 40,
) -> Path:
    """Cross-attention heat maps: one row per model, one column per song (text tokens × music frames).

    ``maps`` is ``{model name: CaptionModel.attention_maps(...)}`` (same songs, same order); each
    map shows the last fusion layer, the first ``max_tokens`` lyrics tokens (rows) against the
    music frames (columns, ``frame_seconds`` apart).
    """
    plt = pyplot()
    names = list(maps)
    columns = max(len(v) for v in maps.values())
    figure, axes = plt.subplots(len(names), columns, figsize=(3.6 * columns, 3.4 * len(names)), squeeze=False)
    for row, name in enumerate(names):
        for column in range(columns):
            axis = axes[row][column]
            if column >= len(maps[name]):
                axis.axis("off")
                continue
            entry = maps[name][column]
            layer = max(entry["weights"])
            weights = np.asarray(entry["weights"][layer])[:max_tokens]
            tokens = entry["tokens"][:max_tokens]
            frames = weights.shape[1]
            axis.imshow(weights, aspect="auto", cmap="viridis", interpolation="nearest",
                        extent=(0, frames * frame_seconds, len(tokens) - 0.5, -0.5))  # fmt: skip
            axis.set_yticks(range(len(tokens)))
            axis.set_yticklabels(tokens, fontsize=5)
            axis.set_xlabel("music (s)", fontsize=7)
            axis.tick_params(axis="x", labelsize=6)
            heading = f"{name} — layer {layer}"
            if titles and column < len(titles):
                heading += f"\n{titles[column][:40]}"
            axis.set_title(heading, fontsize=7)
    figure.tight_layout()
    figure.savefig(out, dpi=130)
    plt.close(figure)
    return out


def attention_entropy(maps: list[dict[str, Any]]) -> float:
    """Mean entropy (nats) of each lyrics token's attention over the music frames, last fusion layer.

    Lower means attention concentrated on fewer frames; ``log(l_m)`` is the uniform maximum.
    """
    values = []
    for entry in maps:
        weights = np.asarray(entry["weights"][max(entry["weights"])], dtype=np.float64)
        values.append(float(np.mean(-(weights * np.log(np.clip(weights, 1e-12, None))).sum(axis=1))))
    return float(np.mean(values)) if values else float("nan")


def plot_alpha_sweep(rows: list[dict[str, Any]], out: Path, metrics: Sequence[str] = ("rougeL", "meteor")) -> Path:
    """Scores against the contrastive weight α (log axis; α = 0 drawn at the left edge)."""
    plt = pyplot()
    alphas = [float(r["alpha"]) for r in rows]
    positive = [a for a in alphas if a > 0]
    floor = min(positive) / 10 if positive else 1e-3
    x = [a if a > 0 else floor for a in alphas]
    figure, axis = plt.subplots(figsize=(6, 3.8))
    for metric in metrics:
        key = metric if any(metric in r for r in rows) else f"{metric}_nosyn"
        values = [r.get(key) for r in rows]
        if any(v is not None for v in values):
            axis.plot(x, [np.nan if v is None else v for v in values], "o-", label=key)
    axis.set_xscale("log")
    axis.set_xlabel("α (contrastive weight; leftmost point is α = 0)" if 0 in alphas else "α (contrastive weight)")
    axis.set_ylabel("score")
    axis.legend()
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out
