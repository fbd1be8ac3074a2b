"""Queries against a search database: by text, by audio clip, by song ("more like this").

=====================  ==========================  =====================================
query                  query vector                searched column
=====================  ==========================  =====================================
text → segments        text tower (mood/lyrics)    ``vector`` (segment audio)
text → lyric lines     text tower                  ``text_vector`` (segment lyrics)
audio → lyric lines    audio tower (the clip)      ``text_vector``
audio → similar audio  audio tower                 ``vector``
song → more like this  mean of the song's vectors  ``vector``, other songs only
=====================  ==========================  =====================================

Every result carries its score — the cosine similarity of the query vector and the row's
vector, in [-1, 1] — and the segment's timestamps (seconds in the song's audio file).

**Grouped by song** (``group="song"``, the default): ``k`` means ``k`` songs. Each result is the
best-scoring segment of its song, with the song's other matching segments folded under it
(:attr:`SegmentMatch.other_segments`, best first). The query fetches the
``k × CANDIDATES_PER_SONG`` nearest segments; while they hold fewer than ``k`` songs and the
table has more, it fetches four times as many, up to :data:`MAX_CANDIDATES`. A song's folded
segments are its other segments among those candidates. ``group="segment"`` gives the ``k``
nearest segments as they are, several of one song possibly.

**Audio-only segments** (no lyrics: songs read without a lyrics file) are searched by their
sound like any other (``target="audio"``). A ``target="lyrics"`` query leaves them out by a
``lyrics != ''`` filter on the ``lyrics`` column (never the text vector, which is zero for
them); :meth:`SongSearch.without_lyrics` counts what such a query left out, for the caller to say so.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Sequence
from concurrent.futures import Future
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

import numpy as np

from songalign.align.model import AlignModel
from songalign.align.onnx import OnnxAlignModel, open_runtime
from songalign.errors import SongalignError
from songalign.search.ann import AnnSettings
from songalign.search.indexer import model_identity, torch_threads
from songalign.search.store import Filters, SegmentStore

Target = Literal["audio", "lyrics"]
"""What a query is matched against: the segments' audio vectors or their lyrics' text vectors."""

Group = Literal["song", "segment"]
"""How results are given: one per song with its other segments folded under it, or plain segments."""

MAX_K = 1000
CANDIDATES_PER_SONG = 4
"""Segments fetched per wanted song by a grouped query at first (``k × 4``), before any widening."""
MAX_CANDIDATES = 4 * MAX_K
"""The most segments a grouped query fetches; with fewer than ``k`` songs among them it returns fewer."""
HAS_LYRICS = "lyrics != ''"
"""The predicate of segments with lyrics; a lyrics-targeted query searches only those."""
WITHOUT_LYRICS = "(lyrics = '' OR lyrics IS NULL)"


class UnknownSongError(SongalignError):
    """A "more like this" query named a song that is not in the index at ``path``."""

    def __init__(self, song_id: str, path: Path | str):
        self.song_id = song_id
        super().__init__(f"no song with id {song_id!r} in {path}; take an id from a search result")


@dataclass
class OtherSegment:
    """Another matching segment of a result's song, folded under the song's best segment.

    ``score``: cosine similarity as for the result; ``start``/``end``: seconds in the song's audio file.
    """

    segment_id: str
    start: float
    end: float
    score: float


@dataclass
class SegmentMatch:
    """One result as anyone may see it: a song segment, its score and its timestamps.

    ``score``: cosine similarity of query and segment vectors, in [-1, 1] (higher is closer);
    ``start``/``end``: seconds from the start of the song's audio file; ``labels``: the
    segment's labels (emotion, valence, ...); ``lyrics`` is ``""`` for an audio-only segment.
    ``other_segments``: in results grouped by song, the song's other matching segments, best
    first (empty for plain segments). The service's response model
    (:class:`songalign.search.service.Result`) is these fields and a clip URL.
    """

    segment_id: str
    song_id: str
    title: str
    artist: str
    language: str
    start: float
    end: float
    lyrics: str
    description: str
    score: float
    labels: dict[str, Any] = field(default_factory=dict)
    other_segments: list[OtherSegment] = field(default_factory=list)

    def match_fields(self) -> dict[str, Any]:
        """The :class:`SegmentMatch` fields only (for a :class:`Hit`: all but ``audio_path``)."""
        return {f.name: getattr(self, f.name) for f in fields(SegmentMatch)}


@dataclass
class Hit(SegmentMatch):
    """One result with ``audio_path``, where its audio is on the machine that built the index.

    The path serves this process (clips, tests); the HTTP service never sends it.
    """

    audio_path: str = ""

    @classmethod
    def from_row(cls, row: dict[str, Any]) -> Hit:
        return cls(
            segment_id=row["id"],
            song_id=row["song_id"],
            title=row["title"] or "",
            artist=row["artist"] or "",
            language=row["language"] or "",
            start=float(row["start"]),
            end=float(row["end"]),
            lyrics=row["lyrics"] or "",
            description=row["description"] or "",
            score=float(1.0 - row["_distance"]) if "_distance" in row else 1.0,
            labels=json.loads(row["labels"]) if row.get("labels") else {},
            audio_path=row.get("audio_path") or "",
        )

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def fold(self, other: Hit) -> None:
        """Fold ``other``, a lower-scoring segment of the same song, under this result."""
        self.other_segments.append(OtherSegment(other.segment_id, other.start, other.end, other.score))


def group_by_song(hits: Sequence[Hit], k: int) -> list[Hit]:
    """The first ``k`` songs of ``hits`` (best first): each song's best hit with its others folded under it."""
    best: dict[str, Hit] = {}
    for hit in hits:
        if hit.song_id in best:
            best[hit.song_id].fold(hit)
        else:
            best[hit.song_id] = hit
    return list(best.values())[:k]


def _check_group(group: str) -> str:
    if group not in ("song", "segment"):
        raise SongalignError(f"group must be 'song' (one result per song) or 'segment', got {group!r}")
    return group


def _and(*predicates: str | None) -> str | None:
    parts = [p for p in predicates if p]
    return " AND ".join(f"({p})" for p in parts) or None


def _check_k(k: int) -> int:
    if not isinstance(k, int) or not 1 <= k <= MAX_K:
        raise SongalignError(f"k must be a whole number of results from 1 to {MAX_K}, got {k!r}")
    return k


def _column(target: Target) -> str:
    if target not in ("audio", "lyrics"):
        raise SongalignError(f"target must be 'audio' or 'lyrics', got {target!r}")
    return "vector" if target == "audio" else "text_vector"


class _Batcher:
    """Coalesces concurrent calls ``fn([x]) -> (1, D)`` into one ``fn([x1, ..., xn])`` while the model is busy.

    Each caller queues its item and then takes the model lock; whoever holds it embeds every
    item queued so far. Under load (many clients searching at once) the model then runs a few
    large batches instead of many single items, which is several times faster on a CPU.
    """

    def __init__(self, fn: Callable[[list[Any]], np.ndarray], lock: threading.Lock, max_batch: int = 64):
        self.fn, self.lock, self.max_batch = fn, lock, max_batch
        self._queue: list[tuple[Any, Future]] = []
        self._queue_lock = threading.Lock()

    def __call__(self, item: Any) -> np.ndarray:
        future: Future = Future()
        with self._queue_lock:
            self._queue.append((item, future))
        while not future.done():
            with self.lock:
                with self._queue_lock:
                    batch, self._queue = self._queue[: self.max_batch], self._queue[self.max_batch :]
                if not batch:
                    continue
                try:
                    vectors = self.fn([queued for queued, _ in batch])
                except BaseException as error:  # every caller in the batch gets the error (none waits forever)
                    for _, waiting in batch:
                        waiting.set_exception(error)
                    if not isinstance(error, Exception):
                        raise
                else:
                    for (_, waiting), vector in zip(batch, vectors, strict=True):
                        waiting.set_result(vector)
        return future.result()


class SongSearch:
    """A search database with the model that wrote it.

    ``SongSearch.open(db)`` loads the model recorded in the database (or ``model``: a folder or
    an already loaded :class:`AlignModel`, which must be that same model). Methods are
    thread-safe: the model runs one batch at a time (concurrent text queries are embedded
    together); the store serves queries concurrently.
    """

    def __init__(self, store: SegmentStore, model: AlignModel | OnnxAlignModel):
        self.store = store
        self.model = model
        self._model_lock = threading.Lock()
        self._texts = _Batcher(lambda texts: self.model.embed_text(texts), self._model_lock)
        self._counts_lock = threading.Lock()
        self._without_lyrics: dict[tuple[str | None, int], int] = {}
        self._info: tuple[tuple[int, Any], dict[str, Any]] | None = None  # (store revision, info at it)

    @classmethod
    def open(
        cls,
        db: str | Path,
        model: str | Path | AlignModel | OnnxAlignModel | None = None,
        ann: AnnSettings | None = None,
        runtime: str = "torch",
        export_dir: str | Path | None = None,
        threads: int | None = None,
    ) -> SongSearch:
        """The database ``db`` with its model, run by ``runtime`` (``torch``, or its ONNX export ``export_dir``,
        default ``MODEL/onnx``: ``onnx`` or ``onnx-int8`` with ``threads`` threads; :func:`open_runtime`)."""
        store = SegmentStore.open(db, ann)
        if isinstance(model, AlignModel | OnnxAlignModel):
            return cls(store, model)
        folder = Path(model) if model is not None else Path(store.meta.get("model_path", ""))
        if model is None and not folder.is_dir():
            raise SongalignError(
                f"the model {store.meta.get('model_name')!r} that built {db} is no longer at {folder}; "
                "pass the model folder with --model"
            )
        _, version = model_identity(folder)
        if version != store.meta.get("model_version"):
            raise SongalignError(
                f"the model in {folder} (version {version}) did not build {db} (version "
                f"{store.meta.get('model_version')}, {store.meta.get('model_name')!r}); pass that model with "
                "--model or re-index with this one"
            )
        return cls(store, open_runtime(folder, runtime, export_dir, threads))

    # -- embedding -------------------------------------------------------------------------------
    def embed_text(self, text: str) -> np.ndarray:
        """Query vector ``(D,)`` of a mood description or lyrics (the model's text tower)."""
        if not text or not text.strip():
            raise SongalignError("the text query is empty; give a mood description or some lyrics")
        return self._texts(text)

    def embed_audio(self, audio: str | Path | np.ndarray, sample_rate: int | None = None) -> np.ndarray:
        """Query vector ``(D,)`` of an audio clip: a file, or a mono array at ``sample_rate`` Hz.

        A clip longer than the model's ``clip_seconds`` is cut into fixed windows whose
        embeddings are averaged (:meth:`AlignModel.embed_audio`).
        """
        with self._model_lock, torch_threads(1):  # a few small clips: more threads only contend
            return self.model.embed_audio([audio], sample_rate=sample_rate)[0]

    # -- queries ---------------------------------------------------------------------------------
    def by_vector(
        self,
        vector: np.ndarray,
        target: Target = "audio",
        k: int = 10,
        filters: Filters | None = None,
        group: Group = "song",
    ) -> list[Hit]:
        """The ``k`` songs (``group="song"``) or segments (``"segment"``) nearest to ``vector`` ``(D,)`` on ``target``.

        Grouped results are each song's best segment with its other candidate segments folded
        under it (see the module docstring for how many candidates are fetched). A ``lyrics``
        target searches only segments with lyrics.
        """
        _check_k(k)
        _check_group(group)
        column = _column(target)
        where = _and((filters or Filters()).where(), HAS_LYRICS if target == "lyrics" else None)
        if group == "segment":
            return [Hit.from_row(r) for r in self.store.nearest(vector, column, k, where)]
        limit = min(k * CANDIDATES_PER_SONG, MAX_CANDIDATES)
        while True:  # widen the candidate pool until k songs are found, the table is exhausted or the cap is hit
            rows = self.store.nearest(vector, column, limit, where)
            songs = group_by_song([Hit.from_row(r) for r in rows], k)
            if len(songs) >= k or len(rows) < limit or limit >= MAX_CANDIDATES:
                return songs
            limit = min(limit * 4, MAX_CANDIDATES)

    def by_text(
        self,
        text: str,
        k: int = 10,
        target: Target = "audio",
        filters: Filters | None = None,
        group: Group = "song",
    ) -> list[Hit]:
        """Segments for a mood description or lyrics: whose audio matches (``audio``) or whose lyrics do (``lyrics``).

        ``lyrics`` leaves out audio-only segments; :meth:`without_lyrics` says how many.
        """
        return self.by_vector(self.embed_text(text), target, k, filters, group)

    def by_audio(
        self,
        audio: str | Path | np.ndarray,
        k: int = 10,
        target: Target = "lyrics",
        filters: Filters | None = None,
        sample_rate: int | None = None,
        group: Group = "song",
    ) -> list[Hit]:
        """Segments for an audio clip: matching lyric lines (``lyrics``) or similar-sounding segments (``audio``)."""
        return self.by_vector(self.embed_audio(audio, sample_rate), target, k, filters, group)

    def by_song(self, song_id: str, k: int = 10, filters: Filters | None = None, group: Group = "song") -> list[Hit]:
        """ "More like this": the *other* songs (or their segments) nearest to the mean audio vector of ``song_id``."""
        _check_group(group)
        vectors = self.store.vectors(Filters(song_id=song_id).where() or "", "vector")
        if not len(vectors):
            raise UnknownSongError(song_id, self.store.path)
        centre = vectors.mean(axis=0)
        centre /= max(float(np.linalg.norm(centre)), 1e-12)
        base = filters or Filters()
        scoped = Filters(base.language, base.song_id, song_id, base.labels)
        return self.by_vector(centre, "audio", k, scoped, group)

    def without_lyrics(self, filters: Filters | None = None) -> int:
        """How many segments passing ``filters`` have no lyrics: what a ``lyrics``-targeted query leaves out.

        Counted once per filter and table size (the count scans the ``lyrics`` column), then remembered.
        """
        where = _and((filters or Filters()).where(), WITHOUT_LYRICS)
        key = (where, self.store.count())
        with self._counts_lock:
            if key not in self._without_lyrics:
                if len(self._without_lyrics) >= 256:
                    self._without_lyrics.clear()
                self._without_lyrics[key] = self.store.count(where)
            return self._without_lyrics[key]

    def segment(self, segment_id: str) -> Hit | None:
        """The indexed segment ``segment_id`` (score 1), or ``None``."""
        row = self.store.get(segment_id)
        return Hit.from_row(row) if row else None

    def info(self) -> dict[str, Any]:
        """What the database holds: rows, languages, model name/version, whether ANN-indexed, and the
        recorded index choice (``index``: type, partitions, sub-vectors, nprobes, refine factor, rows
        and seconds at build time; ``None`` before one is built).

        Computed once per store revision (the languages scan a column) and so current within the store's
        read-consistency interval: another process's commit shows as soon as the store sees it.
        """
        revision = self.store.revision()
        with self._counts_lock:
            if self._info is not None and self._info[0] == revision:
                return dict(self._info[1])
        info = {
            "segments": self.store.count(),
            "languages": self.store.distinct("language"),
            "model_name": self.store.meta.get("model_name", ""),
            "model_version": self.store.meta.get("model_version", ""),
            "embedding_dim": int(self.store.meta.get("embedding_dim", 0)),
            "ann_index": self.store.has_vector_index("vector"),
            "index": self.store.index_info(),
        }
        with self._counts_lock:
            self._info = (revision, info)
        return dict(info)


TUNING_PHRASES = (
    "a sad slow song about loss",
    "happy upbeat dance music",
    "angry loud guitars",
    "calm peaceful acoustic music",
    "a romantic love song",
    "dark tense electronic music",
    "energetic rock with drums",
    "a gentle piano ballad",
    "a lonely song for a rainy night",
    "a joyful summer anthem",
    "fearful haunting music",
    "a hopeful song about a new start",
)
"""Mood phrases whose text embeddings the tuner adds to its held-out rows (``songalign index
--target-recall``): a search by text lands where these do, not on a segment."""


def tuning_text_queries(db: str | Path) -> np.ndarray | None:
    """Text embeddings ``(len(TUNING_PHRASES), D)`` of :data:`TUNING_PHRASES` by the model that built ``db``,
    or ``None`` when that model is no longer where the database says (the tuner then uses rows only)."""
    try:
        search = SongSearch.open(db)
    except SongalignError:
        return None
    return np.stack([search.embed_text(phrase) for phrase in TUNING_PHRASES])


def without_lyrics_note(count: int) -> str:
    """The sentence saying that a lyrics-targeted search left out ``count`` audio-only segments ("" for none)."""
    if count <= 0:
        return ""
    if count == 1:
        return "1 audio-only segment has no lyrics and was not searched"
    return f"{count} audio-only segments have no lyrics and were not searched"


def parse_label_filters(labels: Sequence[str] | None) -> tuple[str, ...]:
    """Validate ``key=value`` label filters (a clear error naming the bad one)."""
    out = []
    for item in labels or ():
        key, sep, value = item.partition("=")
        if not sep or not key.strip() or not value.strip():
            raise SongalignError(f"label filter {item!r} must look like key=value, e.g. emotion=joy")
        out.append(f"{key.strip()}={value.strip()}")
    return tuple(out)
