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
filtered by SQL predicates built here (values are always quoted, never pasted in raw). Below
:attr:`AnnSettings.min_rows` rows a query scans every vector (exact and fast at that size);
from there on an IVF index (``IVF_FLAT`` by default: full vectors in partitions of about
4,096, two partitions probed) answers it — see ``benchmarks/search_latency.py`` for the figures.

LanceDB's synchronous API costs several thread hops per query; this module drives LanceDB's
asynchronous API from one private event-loop thread instead (one hop per call), which roughly
halves the fixed cost of a query.
"""

from __future__ import annotations

import asyncio
import json
import os
import tempfile
import threading
from collections.abc import Coroutine, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, Literal, TypeVar

import numpy as np
import pyarrow as pa

from songalign.errors import MissingDependencyError, SongalignError

TABLE_NAME = "segments"
META_FILE = "songalign-index.json"
META_FORMAT = 1

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

T = TypeVar("T")


def segment_schema(dim: int) -> pa.Schema:
    """Arrow schema of the ``segments`` table for vectors of ``dim`` dimensions."""
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
@dataclass(frozen=True)
class AnnSettings:
    """How the approximate index is built and queried.

    ``index_type``: a LanceDB IVF index. ``IVF_FLAT`` (default) keeps the full vectors per
    partition: exact distances inside the probed partitions (recall@10 ≈ 0.99 at 10⁶ clustered
    vectors, 2 probes), about 30 s to build per 10⁶ vectors on 2 cores, and an index as large as
    the vectors (1 GiB per 10⁶ × 256 per column). ``IVF_SQ`` stores 8-bit scalar-quantised vectors
    instead: a quarter of the memory, about the same speed, recall@10 ≈ 0.96 (the quantisation
    reorders close neighbours). ``target_partition_size``: vectors per IVF partition.
    ``nprobes``: partitions a query scans (more: higher recall, slower). ``refine_factor``: when
    set, ``k × refine_factor`` candidates are re-ranked with the full-precision vectors (costs a
    random read per candidate). ``min_rows``: the table size from which an index is built;
    below it, exact search over every vector is fast enough. ``max_iterations``: k-means
    iterations when training the partitions.
    """

    index_type: Literal["IVF_FLAT", "IVF_SQ", "IVF_PQ", "IVF_HNSW_SQ"] = "IVF_FLAT"
    target_partition_size: int = 4096
    nprobes: int = 2
    refine_factor: int | None = None
    min_rows: int = 5_000
    max_iterations: int = 20

    def partitions(self, rows: int) -> int:
        """IVF partitions for a table of ``rows`` vectors: about ``rows / target_partition_size``, at least 1."""
        return max(1, round(rows / self.target_partition_size))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _index_config(settings: AnnSettings, rows: int) -> Any:
    from lancedb.index import IvfFlat, IvfHnswSq, IvfPq, IvfSq

    common = {"distance_type": "cosine", "num_partitions": settings.partitions(rows)}
    if settings.index_type == "IVF_SQ":
        return IvfSq(**common, max_iterations=settings.max_iterations)
    if settings.index_type == "IVF_FLAT":
        return IvfFlat(**common, max_iterations=settings.max_iterations)
    if settings.index_type == "IVF_PQ":
        return IvfPq(**common, max_iterations=settings.max_iterations)
    return IvfHnswSq(**common)


async def create_vector_index(table: Any, column: str, settings: AnnSettings, rows: int) -> None:
    """Build (or replace) the ANN index of ``column`` on an async LanceDB ``table`` of ``rows`` rows."""
    await table.create_index(column, config=_index_config(settings, rows), replace=True)


def nearest_query(
    table: Any,
    vector: np.ndarray,
    column: str,
    k: int,
    settings: AnnSettings,
    where: str | None = None,
    columns: Sequence[str] | None = None,
) -> Any:
    """The LanceDB async query for the ``k`` rows of ``table`` nearest to ``vector`` ``(D,)`` by cosine
    distance on ``column``; ``await`` its ``to_arrow()`` for the rows, or its ``analyze_plan()``.

    Selects ``columns`` plus ``_distance`` (cosine distance, 1 − cos), nearest first. With a
    ``where`` filter the query keeps probing partitions until it has ``k`` rows (or none are
    left), so a narrow filter does not return fewer results than exist.
    """
    query = (
        table.query()
        .nearest_to(np.asarray(vector, dtype=np.float32))
        .column(column)
        .distance_type("cosine")
        .limit(k)
        .nprobes(settings.nprobes)
    )
    if settings.refine_factor:
        query = query.refine_factor(settings.refine_factor)
    if where:
        query = query.where(where).maximum_nprobes(0)
    return query.select([*(columns or ["id"]), "_distance"])


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
    """

    def __init__(self, path: Path, table: Any, meta: dict[str, Any], ann: AnnSettings | None = None):
        self.path = path
        self._table = table
        self.meta = meta
        self.ann = ann or AnnSettings(**meta.get("ann", {}))

    # -- opening ---------------------------------------------------------------------------------
    @classmethod
    def open(cls, db: str | Path, ann: AnnSettings | None = None) -> SegmentStore:
        """Open the database in folder ``db``; a clear error when it is not one."""
        path = Path(db)
        meta_path = path / META_FILE
        if not meta_path.is_file():
            raise SongalignError(
                f"{path} is not a songalign search database (no {META_FILE}); "
                "build one with `songalign index CHECKPOINT CORPUS --db DIR`"
            )
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        table = run_async(cls._open_table(path))
        if table is None:
            raise SongalignError(f"{path} has no '{TABLE_NAME}' table; re-run `songalign index` into it")
        return cls(path, table, meta, ann)

    @staticmethod
    async def _open_table(path: Path) -> Any:
        connection = await _lancedb().connect_async(str(path))
        if TABLE_NAME not in (await connection.list_tables()).tables:
            return None
        return await connection.open_table(TABLE_NAME)

    @classmethod
    def create(cls, db: str | Path, meta: dict[str, Any], ann: AnnSettings | None = None) -> SegmentStore:
        """Open database ``db`` for writing vectors described by ``meta``, creating it if needed.

        ``meta`` must hold ``model_name``, ``model_version`` and ``embedding_dim``. An existing
        database written by another model version is refused: its vectors would not be comparable.
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
            corpora = list(dict.fromkeys([*old.get("corpora", []), *meta.get("corpora", [])]))
            meta = {**old, **meta, "corpora": corpora}
        ann = ann or AnnSettings()
        meta = {"format": META_FORMAT, **meta, "table": TABLE_NAME, "ann": ann.to_dict()}
        table = run_async(cls._create_table(path, segment_schema(int(meta["embedding_dim"]))))
        _write_json_atomic(meta_path, meta)
        return cls(path, table, meta, ann)

    @staticmethod
    async def _create_table(path: Path, schema: pa.Schema) -> Any:
        connection = await _lancedb().connect_async(str(path))
        return await connection.create_table(TABLE_NAME, schema=schema, exist_ok=True)

    # -- writing ---------------------------------------------------------------------------------
    def add(self, rows: pa.Table) -> None:
        """Append ``rows`` (matching :func:`segment_schema`) in one atomic commit."""
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

    def finish(self, added: int) -> bool:
        """After an indexing run: build the ANN indexes once the table is large enough, else fold new rows in.

        Builds ``vector`` and ``text_vector`` indexes (and scalar indexes on ``id``, ``song_id``,
        ``language`` and ``label_tags``) when the table first reaches :attr:`AnnSettings.min_rows`.
        Later runs add their rows to the existing indexes and compact the table's files; once the
        table has doubled since the partitions were trained, the indexes are rebuilt (retrained).
        Returns whether the vector columns are indexed.
        """
        if added:
            run_async(self._table.optimize())  # compact the batches' small files; add new rows to existing indexes
        rows = self.count()
        indexed = self.vector_indexed_columns()
        missing = [c for c in VECTOR_COLUMNS if c not in indexed]
        trained_on = int(self.meta.get("ann_rows") or 0)
        if not missing and trained_on and rows > 2 * trained_on:
            missing = list(VECTOR_COLUMNS)  # the partitions no longer fit the data: retrain them
        if missing and rows >= self.ann.min_rows:
            run_async(self._build_indexes(missing, rows))
            self.meta["ann_rows"] = rows
            _write_json_atomic(self.path / META_FILE, self.meta)
            return True
        return rows > 0 and not missing

    async def _build_indexes(self, columns: list[str], rows: int) -> None:
        from lancedb.index import Bitmap, BTree, LabelList

        for column in columns:
            await create_vector_index(self._table, column, self.ann, rows)
        await self._table.create_index("id", config=BTree(), replace=True)
        await self._table.create_index("song_id", config=BTree(), replace=True)
        await self._table.create_index("language", config=Bitmap(), replace=True)
        await self._table.create_index("label_tags", config=LabelList(), replace=True)

    # -- reading ---------------------------------------------------------------------------------
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
        return run_async(
            nearest_query(self._table, vector, column, k, self.ann, where, RESULT_COLUMNS).to_arrow()
        ).to_pylist()
