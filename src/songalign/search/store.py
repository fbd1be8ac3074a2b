"""The segment vector store: one LanceDB table on disk, one row per song segment.

A search database is a folder (``--db DIR``) holding a LanceDB database with one table,
``segments``, and a small JSON file that says which model wrote the vectors::

    DIR/segments.lance/        the LanceDB table (Lance format: versioned, every append is one commit)
    DIR/songalign-index.json   model name, version (hash of its weights) and path; corpora indexed

Each row carries the segment's *audio* vector (``vector``, the model's audio embedding of the
segment window, ``(D,)`` float32, unit length) and the *text* vector of its lyrics
(``text_vector``, the model's text embedding, ``(D,)``), plus what a result shows: song id, title,
artist, language, start/end (seconds in the song's audio file), lyrics, emotion description,
labels (JSON) and the audio path the clip endpoint reads.

Queries are cosine nearest-neighbour searches on one of the two vector columns, optionally
filtered by SQL predicates built here (values are always quoted, never pasted in raw). Which ANN
index answers them, how it is built and how many partitions a query probes is
:mod:`songalign.search.ann`'s business; the store decides *when* to build it
(:meth:`SegmentStore.finish`) and records the choice in ``songalign-index.json`` under ``"index"``.

Rows are sharded by song: ``shard`` = :func:`shard_of` ``(song_id, S)`` (the first 8 bytes of the
song id's SHA-1 as an unsigned integer, modulo the database's shard count ``S``, recorded in
``songalign-index.json`` as ``"shards"``), so that the distributed indexer
(:mod:`songalign.search.ray_engine`) can commit and resume a shard at a time. The column is
filled by the store itself (:meth:`SegmentStore.add`, :func:`with_shard_column`); a table written
before it existed has no ``shard`` column and is opened, searched and appended to as it is.

Readers see the last committed version: the table is opened with a read-consistency interval
(:data:`READ_CONSISTENCY_SECONDS`), so a long-running service picks up another process's commits
(new rows, a rebuilt index) within that interval, and re-reads the index record with them.

LanceDB's synchronous API costs several thread hops per query; this module drives LanceDB's
asynchronous API from one private event-loop thread instead (one hop per call), which roughly
halves the fixed cost of a query.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import os
import tempfile
import threading
import time
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import pyarrow as pa

from songalign.errors import MissingDependencyError, SongalignError
from songalign.search.ann import (
    AnnSettings,
    IndexPlan,
    TuneTarget,
    VectorBuilder,
    build_indexes,
    columns_to_build,
    nearest_query,
    tune_index,
)

TABLE_NAME = "segments"
META_FILE = "songalign-index.json"
META_FORMAT = 1

READ_CONSISTENCY_SECONDS = 1.0
"""How stale an open store may be (seconds): a reader checks for newer commits at most this often
(0: on every query, at the cost of a manifest read per query)."""

VectorColumn = Literal["vector", "text_vector"]
VECTOR_COLUMNS: tuple[str, ...] = ("vector", "text_vector")

RESULT_COLUMNS = [
    "id",
    "song_id",
    "title",
    "artist",
    "language",
    "start",
    "end",
    "lyrics",
    "description",
    "labels",
    "audio_path",
    "split",
]
"""The columns a query returns (never the vectors: they are large and results do not need them)."""

SHARD_COLUMN = "shard"
DEFAULT_SHARDS = 256
"""Shards of a new database: at 10⁸ segments about 4·10⁵ rows (0.8 GB of vectors) a shard, few enough
commits (one per shard) for the table's manifest to stay small, many enough to spread over workers."""

T = TypeVar("T")


def shard_of(song_id: str, shards: int) -> int:
    """The shard of a song: the first 8 bytes of the SHA-1 of its id (UTF-8), big-endian, modulo ``shards``.

    Stable across processes, machines and Python versions (unlike the salted built-in ``hash``).
    """
    return int.from_bytes(hashlib.sha1(song_id.encode("utf-8")).digest()[:8], "big") % shards


def shards_of(song_ids: pa.Array | pa.ChunkedArray | Sequence[str], shards: int) -> pa.Array:
    """:func:`shard_of` of every song id, an int32 array; each distinct id is hashed once."""
    encoded = pa.chunked_array([pa.array(song_ids, pa.string())] if isinstance(song_ids, list | tuple) else [song_ids])
    encoded = encoded.cast(pa.string()).combine_chunks().dictionary_encode()
    values = [shard_of(song_id, shards) for song_id in encoded.dictionary.to_pylist()]
    return pa.array(np.asarray(values, np.int32)[encoded.indices.to_numpy(zero_copy_only=False)], pa.int32())


def segment_schema(dim: int) -> pa.Schema:
    """Arrow schema of the rows a caller gives the ``segments`` table, vectors of ``dim`` dimensions.

    The table itself also stores ``shard`` (:func:`table_schema`), which the store computes.
    """
    vector = pa.list_(pa.float32(), dim)
    return pa.schema(
        [
            ("id", pa.string()),
            ("song_id", pa.string()),
            ("title", pa.string()),
            ("artist", pa.string()),
            ("language", pa.string()),
            ("start", pa.float64()),
            ("end", pa.float64()),
            ("lyrics", pa.string()),
            ("description", pa.string()),
            ("labels", pa.string()),
            ("label_tags", pa.list_(pa.string())),
            ("audio_path", pa.string()),
            ("split", pa.string()),
            ("model_name", pa.string()),
            ("model_version", pa.string()),
            ("vector", vector),
            ("text_vector", vector),
        ]
    )


def table_schema(dim: int) -> pa.Schema:
    """Arrow schema of the ``segments`` table as stored: :func:`segment_schema` with ``shard`` (int32)
    after ``song_id``."""
    schema = segment_schema(dim)
    return schema.insert(schema.get_field_index("song_id") + 1, pa.field(SHARD_COLUMN, pa.int32()))


def with_shard_column(rows: pa.Table, shards: int) -> pa.Table:
    """``rows`` with their ``shard`` column (:func:`shards_of` of ``song_id``) where they have none."""
    if SHARD_COLUMN in rows.column_names:
        return rows
    return rows.add_column(rows.column_names.index("song_id") + 1, SHARD_COLUMN, shards_of(rows["song_id"], shards))


def _lancedb() -> Any:
    """The ``lancedb`` module, or a clear error saying how to install it."""
    try:
        import lancedb
    except ImportError as error:
        raise MissingDependencyError("lancedb", "song search", extra="search") from error
    return lancedb


# -- one private event loop for LanceDB's async API --------------------------------------------------
_loop: asyncio.AbstractEventLoop | None = None
_loop_lock = threading.Lock()


def run_async(coroutine: Coroutine[Any, Any, T], timeout: float | None = None) -> T:
    """Run ``coroutine`` on the store's event-loop thread and wait for its result (thread-safe)."""
    global _loop
    with _loop_lock:
        if _loop is None:
            _loop = asyncio.new_event_loop()
            threading.Thread(target=_loop.run_forever, name="songalign-lancedb", daemon=True).start()
    return asyncio.run_coroutine_threadsafe(coroutine, _loop).result(timeout)


# -- ANN index settings and the two table operations the benchmark shares --------------------------
# -- SQL predicates ----------------------------------------------------------------------------------
def sql_string(value: str) -> str:
    """``value`` as a SQL string literal (single quotes doubled); the only way values enter a filter."""
    return "'" + str(value).replace("'", "''") + "'"


def label_tags(labels: dict[str, Any]) -> list[str]:
    """Filterable ``key=value`` tags of a segment's categorical labels (strings, booleans, lists of them).

    Numeric labels (valence, arousal, ...) are left out: filters match exact values.
    """
    tags = []
    for key, value in sorted(labels.items()):
        values = value if isinstance(value, list | tuple) else [value]
        for item in values:
            if isinstance(item, bool):
                tags.append(f"{key}={str(item).lower()}")
            elif isinstance(item, str) and item:
                tags.append(f"{key}={item}")
    return tags


@dataclass(frozen=True)
class Filters:
    """Restrictions on which segments a query may return.

    ``language``: exact language name as the corpus gives it (e.g. ``English``); ``song_id``:
    only segments of this song; ``exclude_song_id``: no segment of this song; ``labels``:
    ``key=value`` tags every returned segment must carry (e.g. ``emotion=joy``).
    """

    language: str | None = None
    song_id: str | None = None
    exclude_song_id: str | None = None
    labels: tuple[str, ...] = ()

    def where(self) -> str | None:
        """The SQL predicate, or ``None`` when nothing is filtered."""
        parts = []
        if self.language:
            parts.append(f"language = {sql_string(self.language)}")
        if self.song_id:
            parts.append(f"song_id = {sql_string(self.song_id)}")
        if self.exclude_song_id:
            parts.append(f"song_id != {sql_string(self.exclude_song_id)}")
        for tag in self.labels:
            if "=" not in tag:
                raise SongalignError(f"label filter '{tag}' must look like key=value, e.g. emotion=joy")
            parts.append(f"array_has(label_tags, {sql_string(tag)})")
        return " AND ".join(parts) or None


# -- the store ---------------------------------------------------------------------------------------
def _write_json_atomic(path: Path, data: dict[str, Any]) -> None:
    with tempfile.NamedTemporaryFile("w", dir=path.parent, suffix=".tmp", delete=False, encoding="utf-8") as handle:
        json.dump(data, handle, indent=2, ensure_ascii=False)
        handle.write("\n")
    os.replace(handle.name, path)


class SegmentStore:
    """The ``segments`` table of one search database folder.

    Open an existing database with :meth:`open`; :meth:`create` makes a new one (or opens it if
    it exists with the same vector size). All methods are blocking and thread-safe.

    An open store reads the last committed version of the table: it checks for commits made by
    other processes (another indexing run, a rebuilt index) at most every
    ``read_consistency_seconds`` (0: before every read), and re-reads ``songalign-index.json``
    when it changed, so that queries use the index record (nprobes, refine factor) of the index
    they run on.
    """

    def __init__(
        self,
        path: Path,
        table: Any,
        meta: dict[str, Any],
        ann: AnnSettings | None = None,
        read_consistency_seconds: float = READ_CONSISTENCY_SECONDS,
    ):
        self.path = path
        self._table = table
        self.meta = meta
        self._explicit_ann = ann is not None
        self.ann = ann or AnnSettings.from_dict(meta.get("ann", {}))
        self.read_consistency_seconds = read_consistency_seconds
        self._meta_checked = time.monotonic()
        self._meta_stamp = self._meta_file_stamp()
        self._meta_lock = threading.Lock()
        self._has_shard_column: bool | None = None

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(
        cls,
        db: str | Path,
        ann: AnnSettings | None = None,
        read_consistency_seconds: float = READ_CONSISTENCY_SECONDS,
    ) -> SegmentStore:
        """Open the database in folder ``db``; a clear error when it is not one.

        ``read_consistency_seconds``: how often (at most) the open store checks for newer commits.
        """
        path = Path(db)
        meta_path = path / META_FILE
        if not meta_path.is_file():
            raise SongalignError(
                f"{path} is not a songalign search database (no {META_FILE}); "
                "build one with `songalign index CHECKPOINT CORPUS --db DIR`"
            )
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        table = run_async(cls._open_table(path, read_consistency_seconds))
        if table is None:
            raise SongalignError(f"{path} has no '{TABLE_NAME}' table; re-run `songalign index` into it")
        return cls(path, table, meta, ann, read_consistency_seconds)

    @staticmethod
    async def _connect(path: Path, read_consistency_seconds: float) -> Any:
        interval = timedelta(seconds=max(0.0, read_consistency_seconds))
        return await _lancedb().connect_async(str(path), read_consistency_interval=interval)

    @staticmethod
    async def _open_table(path: Path, read_consistency_seconds: float) -> Any:
        connection = await SegmentStore._connect(path, read_consistency_seconds)
        if TABLE_NAME not in (await connection.list_tables()).tables:
            return None
        return await connection.open_table(TABLE_NAME)

    @classmethod
    def create(cls, db: str | Path, meta: dict[str, Any], ann: AnnSettings | None = None) -> SegmentStore:
        """Open database ``db`` for writing vectors described by ``meta``, creating it if needed.

        ``meta`` must hold ``model_name``, ``model_version`` and ``embedding_dim``; its ``shards``
        (the shard count, default: the existing database's, else :data:`DEFAULT_SHARDS`) is recorded.
        An existing database written by another model version, or by another runtime (``meta["runtime"]``,
        default ``torch``: an int8 export's vectors differ from the model's), is refused: its vectors would not be
        comparable; so is another shard count: its rows' shards would not be the ones computed now.
        """
        path = Path(db)
        path.mkdir(parents=True, exist_ok=True)
        meta_path = path / META_FILE
        if meta_path.is_file():
            old = json.loads(meta_path.read_text(encoding="utf-8"))
            if old.get("model_version") != meta["model_version"] or old.get("embedding_dim") != meta["embedding_dim"]:
                raise SongalignError(
                    f"{path} holds vectors of model {old.get('model_name')!r} (version {old.get('model_version')}), "
                    f"not of {meta['model_name']!r} (version {meta['model_version']}); index into another --db, "
                    "or delete the folder to rebuild it"
                )
            before, now = old.get("runtime", "torch"), meta.get("runtime", "torch")
            if before != now:
                raise SongalignError(
                    f"{path} holds vectors embedded with --runtime {before}, not {now}; index with --runtime "
                    f"{before}, or into another --db"
                )
            corpora = list(dict.fromkeys([*old.get("corpora", []), *meta.get("corpora", [])]))
            if meta.get("shards") and old.get("shards") and int(meta["shards"]) != int(old["shards"]):
                raise SongalignError(
                    f"{path} is sharded into {old['shards']} shards, not {meta['shards']}; index with "
                    f"--shards {old['shards']} (or leave it out), or into another --db"
                )
            meta = {**old, **meta, "corpora": corpora, "shards": meta.get("shards") or old.get("shards")}
        ann = ann or AnnSettings()
        meta = {"format": META_FORMAT, **meta, "table": TABLE_NAME, "ann": ann.to_dict()}
        meta["shards"] = int(meta.get("shards") or DEFAULT_SHARDS)
        table = run_async(cls._create_table(path, table_schema(int(meta["embedding_dim"]))))
        _write_json_atomic(meta_path, meta)
        return cls(path, table, meta, ann)

    @staticmethod
    async def _create_table(path: Path, schema: pa.Schema) -> Any:
        """The table, created with ``schema`` if missing; an existing one as it is (perhaps without ``shard``)."""
        connection = await SegmentStore._connect(path, READ_CONSISTENCY_SECONDS)
        if TABLE_NAME in (await connection.list_tables()).tables:
            return await connection.open_table(TABLE_NAME)
        return await connection.create_table(TABLE_NAME, schema=schema)

    # -- shards ----------------------------------------------------------------------------------
    @property
    def shards(self) -> int:
        """The database's shard count ``S`` (``DEFAULT_SHARDS`` for a database from before shards)."""
        return int(self.meta.get("shards") or DEFAULT_SHARDS)

    @property
    def uri(self) -> str:
        """Where the table's Lance dataset lies (for pylance and Ray Data)."""
        return str(self.path / f"{TABLE_NAME}.lance")

    def has_shard_column(self) -> bool:
        """Whether the table stores ``shard`` (tables written before shards existed do not)."""
        if self._has_shard_column is None:
            self._has_shard_column = SHARD_COLUMN in run_async(self._table.schema()).names
        return self._has_shard_column

    def present_shards(self) -> list[int]:
        """The distinct ``shard`` values of the table's rows, sorted (a scan of one int32 column)."""
        if not self.has_shard_column():
            return []
        table = run_async(self._table.query().select([SHARD_COLUMN]).to_arrow())
        return sorted(v for v in set(table.column(SHARD_COLUMN).to_pylist()) if v is not None)

    def refresh(self) -> None:
        """Read the last committed version now (after another process, or pylance, committed)."""
        run_async(self._table.checkout_latest())

    # -- writing ---------------------------------------------------------------------------------
    def add(self, rows: pa.Table) -> None:
        """Append ``rows`` (matching :func:`segment_schema`) in one atomic commit.

        Their ``shard`` is computed here (:func:`with_shard_column`); a table without the column gets none.
        """
        if self.has_shard_column():
            rows = with_shard_column(rows, self.shards)
        elif SHARD_COLUMN in rows.column_names:
            rows = rows.drop_columns([SHARD_COLUMN])
        run_async(self._table.add(rows))

    def prewarm(self) -> list[str]:
        """Ask LanceDB to load the vector indexes into memory now (a server does this at start-up).

        Without it the first queries that reach each IVF partition read it from disk. Returns the
        names of the indexes asked for; the loading itself may finish in the background.
        """
        indices = run_async(self._table.list_indices())
        names = [index.name for index in indices if set(index.columns) & set(VECTOR_COLUMNS)]
        for name in names:
            run_async(self._table.prewarm_index(name))
        return names

    def vector_indexed_columns(self) -> set[str]:
        """The columns that have an ANN index."""
        indices = run_async(self._table.list_indices())
        scalar = ("BTree", "Bitmap", "LabelList")
        return {column for index in indices if index.index_type not in scalar for column in index.columns}

    def has_vector_index(self, column: str = "vector") -> bool:
        """Whether ``column`` has an ANN index."""
        return column in self.vector_indexed_columns()

    def finish(self, added: int, builder: VectorBuilder | None = None) -> bool:
        """After an indexing run: build the ANN indexes once the table is large enough, else fold new rows in.

        Builds ``vector`` and ``text_vector`` indexes (and scalar indexes on ``id``, ``song_id``,
        ``language`` and ``label_tags``) when the table first reaches :attr:`AnnSettings.min_rows`,
        of the kind :meth:`AnnSettings.plan` chooses for its size, and records the choice in
        ``songalign-index.json`` (``"index"``: type, partitions, sub-vectors, nprobes, refine
        factor, rows and build seconds). Later runs add their rows to the existing indexes and
        compact the table's files; the indexes are rebuilt when :func:`~songalign.search.ann.columns_to_build`
        says so (the table has doubled since the partitions were trained, or its size calls for
        another kind of index). Returns whether the vector columns are indexed. ``builder``: how
        IVF_PQ indexes of tables from :attr:`AnnSettings.distributed_min_rows` rows are built (e.g. on
        Ray; default: LanceDB's ``create_index`` in this process).
        """
        if added:
            run_async(self._table.optimize())  # compact the batches' small files; add new rows to existing indexes
        rows = self.count()
        trained_on = int(self.meta.get("ann_rows") or 0)
        missing = columns_to_build(
            VECTOR_COLUMNS, self.vector_indexed_columns(), rows, self.ann, trained_on, self.index_plan()
        )
        if missing and rows >= self.ann.min_rows:
            dim = int(self.meta["embedding_dim"])
            plan = run_async(build_indexes(self._table, missing, self.ann, rows, dim, builder=builder))
            self.meta["ann_rows"] = rows
            self._record_plan(plan)
            return True
        return rows > 0 and not missing

    def tune(
        self,
        target: TuneTarget,
        build: bool = False,
        builder: VectorBuilder | None = None,
        text_queries: np.ndarray | None = None,
    ) -> IndexPlan:
        """Tune the ANN indexes to ``target`` (:func:`~songalign.search.ann.tune_index`): measure recall@k
        against exact search on held-out rows and single-query latency over a grid of nprobes and refine
        factors — with ``build``, also rebuilding with more sub-vectors or partitions while the target is
        not met — and record the frontier and the choice in ``songalign-index.json`` (``"index"``:
        ``nprobes``, ``refine_factor``, ``tuning``), which queries then use. Returns the recorded plan;
        ``plan.tuning["met"]`` says whether the target was met (``"message"``: the sentence). The caller
        holds the writer lock (:func:`~songalign.search.lock.writer_lock`). ``text_queries`` ``(E, D)``: text
        embeddings searched beside the held-out rows (where text searches land).
        """
        plan = self.index_plan()
        if plan is None or not self.has_vector_index("vector"):
            raise SongalignError(
                f"{self.path} has no ANN index to tune (below {self.ann.min_rows} rows every query is exact: "
                "recall 1); index more segments, or lower --ann-min-rows"
            )
        columns = [c for c in VECTOR_COLUMNS if c in self.vector_indexed_columns()]
        plan = tune_index(
            self._table, columns, self.ann, plan, target, run_async, build=build, builder=builder,
            extra_queries=text_queries, extra_source="text embeddings of mood phrases",
        )  # fmt: skip
        self._record_plan(plan)
        return plan

    def _record_plan(self, plan: IndexPlan) -> None:
        self.meta["index"] = plan.to_dict()
        _write_json_atomic(self.path / META_FILE, self.meta)
        self._meta_stamp = self._meta_file_stamp()

    # -- the index record and the last committed version ---------------------------------------
    def index_plan(self) -> IndexPlan | None:
        """The recorded choice of ANN index (``None`` before one is built, or in a database from
        before the choice was recorded)."""
        self._refresh_meta()
        record = self.meta.get("index")
        return IndexPlan.from_dict(record) if record else None

    def query_settings(self) -> AnnSettings:
        """The settings queries run with: the built index's nprobes and refine factor, unless the
        store was opened with explicit ones."""
        return self.ann.for_queries(self.index_plan())

    def index_info(self) -> dict[str, Any] | None:
        """What :meth:`index_plan` records, plus the nprobes and refine factor queries use now."""
        plan = self.index_plan()
        if plan is None:
            return None
        used = self.query_settings()
        return {**plan.to_dict(), "query_nprobes": used.nprobes, "query_refine_factor": used.refine_factor}

    def _meta_file_stamp(self) -> tuple[int, int] | None:
        try:
            stat = (self.path / META_FILE).stat()
        except OSError:
            return None
        return stat.st_mtime_ns, stat.st_size

    def _refresh_meta(self) -> None:
        """Re-read ``songalign-index.json`` if another process rewrote it (checked at most every
        ``read_consistency_seconds``; a stat, no read, when unchanged)."""
        now = time.monotonic()
        if now - self._meta_checked < self.read_consistency_seconds:
            return
        with self._meta_lock:
            self._meta_checked = now
            stamp = self._meta_file_stamp()
            if stamp is None or stamp == self._meta_stamp:
                return
            try:
                meta = json.loads((self.path / META_FILE).read_text(encoding="utf-8"))
            except (OSError, ValueError):
                return  # being replaced right now: keep the old record, look again next time
            self.meta, self._meta_stamp = meta, stamp
            if not self._explicit_ann:
                self.ann = AnnSettings.from_dict(meta.get("ann", {}))

    # -- reading ---------------------------------------------------------------------------------
    def revision(self) -> tuple[int, tuple[int, int] | None]:
        """``(table version, index record's file stamp)`` as this reader sees them now.

        Both follow other processes' commits within ``read_consistency_seconds``; anything computed from
        the table (counts, distinct values) holds while the revision is the same. Cheap: a manifest check
        at most every ``read_consistency_seconds``, and a stat.
        """
        self._refresh_meta()
        return int(run_async(self._table.version())), self._meta_stamp

    def count(self, where: str | None = None) -> int:
        """Rows in the table (matching ``where`` when given)."""
        return int(run_async(self._table.count_rows(where)))

    def ids(self) -> pa.Array:
        """Every segment id in the table (an Arrow string array: about 50 bytes per row)."""
        table = run_async(self._table.query().select(["id"]).to_arrow())
        return table.column("id").combine_chunks() if table.num_rows else pa.array([], pa.string())

    def rows(self, where: str | None, columns: Iterable[str] = RESULT_COLUMNS, limit: int | None = None) -> list[dict]:
        """Rows matching ``where`` as dictionaries (``limit`` of them at most)."""
        query = self._table.query().select(list(columns))
        if where:
            query = query.where(where)
        if limit is not None:
            query = query.limit(limit)
        return run_async(query.to_arrow()).to_pylist()

    def get(self, segment_id: str) -> dict | None:
        """The row of segment ``segment_id`` (result columns), or ``None``."""
        found = self.rows(f"id = {sql_string(segment_id)}", limit=1)
        return found[0] if found else None

    def vectors(self, where: str, column: VectorColumn = "vector") -> np.ndarray:
        """``(N, D)`` float32 vectors of the rows matching ``where``."""
        table = run_async(self._table.query().where(where).select([column]).to_arrow())
        if not table.num_rows:
            return np.zeros((0, int(self.meta["embedding_dim"])), np.float32)
        flat = table.column(column).combine_chunks().flatten().to_numpy(zero_copy_only=False)
        return flat.reshape(table.num_rows, -1).astype(np.float32)

    def distinct(self, column: str, limit: int = 1000) -> list[str]:
        """Distinct non-empty values of a string ``column`` (``limit`` at most), sorted."""
        table = run_async(self._table.query().select([column]).to_arrow())
        values = {v for v in table.column(column).to_pylist() if v}
        return sorted(values)[:limit]

    def nearest(
        self, vector: np.ndarray, column: VectorColumn, k: int, where: str | None = None
    ) -> list[dict[str, Any]]:
        """The ``k`` rows nearest to ``vector`` ``(D,)`` on ``column``, each with ``_distance``, nearest first."""
        if column not in VECTOR_COLUMNS:
            raise ValueError(f"column must be one of {VECTOR_COLUMNS}, got {column!r}")
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        if vector.shape[0] != int(self.meta["embedding_dim"]):
            raise SongalignError(
                f"the query vector has {vector.shape[0]} dimensions but {self.path} holds "
                f"{self.meta['embedding_dim']}-dimensional vectors; use the model the index was built with"
            )
        settings = self.query_settings()
        return run_async(
            nearest_query(self._table, vector, column, k, settings, where, RESULT_COLUMNS).to_arrow()
        ).to_pylist()
