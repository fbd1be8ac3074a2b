"""Figures for reports: t-SNE maps of embeddings and a top-k bar chart across model variants."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
from sklearn.manifold import TSNE  # noqa: E402

from songalign.evaluate.threads import one_thread  # noqa: E402


def tsne_map(embeddings: np.ndarray, seed: int = 0) -> np.ndarray:
    """2-D t-SNE coordinates ``(N, 2)`` of ``embeddings (N, D)`` (cosine metric, seeded)."""
    perplexity = float(min(30.0, max(2.0, (len(embeddings) - 1) / 3)))
    tsne = TSNE(n_components=2, perplexity=perplexity, metric="cosine", init="pca", random_state=seed)
    with one_thread():  # a few hundred points: a thread pool only slows it (songalign.evaluate.threads)
        return tsne.fit_transform(embeddings)


def plot_tsne(points: np.ndarray, colour_by: Mapping[str, Sequence[str]], title: str, out: Path) -> Path:
    """One scatter panel per labelling in ``colour_by`` (e.g. emotion, song) of ``points (N, 2)``."""
    panels = len(colour_by)
    figure, axes = plt.subplots(1, panels, figsize=(5.5 * panels, 4.8), squeeze=False)
    for axis, (name, labels) in zip(axes[0], colour_by.items(), strict=True):
        values = sorted(set(labels))
        colours = plt.get_cmap("tab10" if len(values) <= 10 else "tab20", max(len(values), 1))
        for index, value in enumerate(values):
            mask = np.array([label == value for label in labels])
            axis.scatter(points[mask, 0], points[mask, 1], s=14, color=colours(index % colours.N), label=value)
        axis.set_title(f"{title}: by {name}")
        axis.set_xticks([])
        axis.set_yticks([])
        if len(values) <= 12:
            axis.legend(fontsize=7, loc="best", frameon=False)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


def plot_top_k(top_k: Mapping[str, Mapping[int, float]], out: Path, title: str = "Lyric choice top-k") -> Path:
    """Grouped bars: for each variant, top-k accuracy (%) for each k."""
    variants = list(top_k)
    ks = sorted({int(k) for values in top_k.values() for k in values})
    width = 0.8 / max(len(variants), 1)
    figure, axis = plt.subplots(figsize=(7, 4))
    for index, variant in enumerate(variants):
        heights = [top_k[variant].get(k, top_k[variant].get(str(k), 0.0)) for k in ks]
        axis.bar(np.arange(len(ks)) + index * width, heights, width, label=variant)
    axis.set_xticks(np.arange(len(ks)) + width * (len(variants) - 1) / 2, [f"top-{k}" for k in ks])
    axis.set_ylabel("accuracy (%)")
    axis.set_title(title)
    axis.legend(frameon=False)
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out
