"""Summary statistics of a prepared corpus (``songalign corpus info``).

Durations count only segments with audio: a lyrics-only segment (an untimed song without audio,
``start = end = 0``) has no span, so it is counted apart (:attr:`CorpusStats.lyrics_only`) rather
than pulling the mean segment length towards 0 s.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from songalign.corpus.manifest import CorpusManifest


@dataclass
class CorpusStats:
    """Songs, hours (of song audio and of segments), languages, segments per split, segment durations.

    ``segments`` counts every segment; ``lyrics_only`` those without audio, which
    ``segment_durations`` (seconds, one per segment with audio) and ``lyric_hours`` leave out.
    """

    songs: int
    segments: int
    hours: float
    lyric_hours: float
    languages: Counter[str]
    splits: Counter[str]
    segment_durations: np.ndarray = field(repr=False)
    lyrics_only: int = 0

    @property
    def mean_segment_duration(self) -> float:
        """Mean length in seconds of the segments with audio (0 when there is none)."""
        return float(self.segment_durations.mean()) if len(self.segment_durations) else 0.0

    def histogram(self, bin_width: float = 2.0) -> list[tuple[float, float, int]]:
        """Durations of the segments with audio in bins of ``bin_width`` seconds: ``(low, high, count)`` rows."""
        if not len(self.segment_durations):
            return []
        top = bin_width * (np.floor(self.segment_durations.max() / bin_width) + 1)
        edges = np.arange(0.0, top + bin_width / 2, bin_width)
        counts, _ = np.histogram(self.segment_durations, bins=edges)
        return [(float(lo), float(hi), int(n)) for lo, hi, n in zip(edges[:-1], edges[1:], counts, strict=True)]


def corpus_stats(manifest: CorpusManifest) -> CorpusStats:
    """The :class:`CorpusStats` of a loaded corpus."""
    with_audio = [s for s in manifest.segments if s.audio_path]
    durations = np.array([s.duration for s in with_audio], dtype=float)
    return CorpusStats(
        songs=len(manifest.songs),
        segments=len(manifest.segments),
        hours=sum(s.duration or 0.0 for s in manifest.songs) / 3600.0,
        lyric_hours=float(durations.sum()) / 3600.0,
        languages=Counter(s.language or "unknown" for s in manifest.songs),
        splits=Counter(s.split for s in manifest.segments),
        segment_durations=durations,
        lyrics_only=len(manifest.segments) - len(with_audio),
    )
