"""Summary statistics of a prepared corpus (``songalign corpus info``)."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from songalign.corpus.manifest import CorpusManifest


@dataclass
class CorpusStats:
    songs: int
    segments: int
    hours: float
    lyric_hours: float
    languages: Counter[str]
    splits: Counter[str]
    segment_durations: np.ndarray = field(repr=False)

    @property
    def mean_segment_duration(self) -> float:
        return float(self.segment_durations.mean()) if len(self.segment_durations) else 0.0

    def histogram(self, bin_width: float = 2.0) -> list[tuple[float, float, int]]:
        """Segment durations in bins of ``bin_width`` seconds: ``(low, high, count)`` rows."""
        if not len(self.segment_durations):
            return []
        top = bin_width * (np.floor(self.segment_durations.max() / bin_width) + 1)
        edges = np.arange(0.0, top + bin_width / 2, bin_width)
        counts, _ = np.histogram(self.segment_durations, bins=edges)
        return [(float(lo), float(hi), int(n)) for lo, hi, n in zip(edges[:-1], edges[1:], counts, strict=True)]


def corpus_stats(manifest: CorpusManifest) -> CorpusStats:
    durations = np.array([s.duration for s in manifest.segments], dtype=float)
    return CorpusStats(
        songs=len(manifest.songs),
        segments=len(manifest.segments),
        hours=sum(s.duration or 0.0 for s in manifest.songs) / 3600.0,
        lyric_hours=float(durations.sum()) / 3600.0,
        languages=Counter(s.language or "unknown" for s in manifest.songs),
        splits=Counter(s.split for s in manifest.segments),
        segment_durations=durations,
    )
