"""The approximate-nearest-neighbour index of the ``segments`` table: which kind, how it is built and queried.

Below :attr:`AnnSettings.min_rows` rows a query scans every vector (exact and fast at that size);
from there on an IVF index answers it, its kind chosen by the table's size (:meth:`AnnSettings.plan`):
``IVF_FLAT`` (full vectors in partitions of about 4,096, two partitions probed) up to
:attr:`AnnSettings.pq_min_rows` rows, ``IVF_PQ`` with refinement (product-quantised codes, the
candidates re-ranked with the full vectors) from there on. The chosen :class:`IndexPlan` is
recorded in ``songalign-index.json`` under ``"index"`` by the store
(:meth:`songalign.search.store.SegmentStore.finish`), and queries take their nprobes and refine
factor from it (:meth:`AnnSettings.for_queries`) — see ``docs/scale.md`` and
``benchmarks/search_latency.py`` for the figures.

This module knows LanceDB's async table only through the calls it makes on it (``create_index``,
``query().nearest_to``, ``to_lance``); it imports nothing from :mod:`songalign.search.store`,
which builds on it.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Awaitable, Callable, Coroutine, Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal, Self

import numpy as np
import pyarrow as pa

from songalign.errors import MissingDependencyError, SongalignError

IndexType = Literal["auto", "IVF_FLAT", "IVF_SQ", "IVF_PQ", "IVF_HNSW_SQ"]

def index_bytes_per_vector(index_type: str, dim: int, num_sub_vectors: int | None = None, num_bits: int = 8) -> int:
    """Bytes an IVF index holds per vector of ``dim`` float32 dimensions (codes plus the 8-byte row id).

    ``IVF_FLAT``: the full vector (4·D); ``IVF_SQ`` and ``IVF_HNSW_SQ``: one byte per dimension
    (the HNSW graph's links not counted); ``IVF_PQ``: ``num_sub_vectors × num_bits / 8``. The
    partition centroids (``partitions × D × 4``) and PQ codebooks (``2^bits × D × 4``) come on
    top, once per index. Refinement reads the full vectors from the table's data files (4·D bytes
    per candidate, not resident).
    """
    if index_type == "IVF_FLAT":
        code = 4 * dim
    elif index_type in ("IVF_SQ", "IVF_HNSW_SQ"):
        code = dim
    elif index_type == "IVF_PQ":
        code = math.ceil((num_sub_vectors or max(1, dim // 16)) * num_bits / 8)
    else:
        raise ValueError(f"unknown index type {index_type!r}")
    return code + 8


class _Recorded:
    """``to_dict`` / ``from_dict`` of the dataclasses ``songalign-index.json`` records (``"ann"``, ``"index"``)."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Self:
        """The record as :meth:`to_dict` wrote it (keys this version does not know are ignored: older
        or newer songalign may have written it)."""
        names = {f.name for f in fields(cls)}
        return cls(**{key: value for key, value in data.items() if key in names})


@dataclass(frozen=True)
class IndexPlan(_Recorded):
    """The ANN index chosen for a table of ``rows`` vectors of ``dim`` dimensions, as built and queried.

    ``num_sub_vectors`` and ``num_bits`` apply to ``IVF_PQ`` only (``None`` otherwise);
    ``refine_factor``: ``k × refine_factor`` candidates re-ranked with the full vectors (``None``:
    no refinement); ``bytes_per_vector``: the index's size per vector
    (:func:`index_bytes_per_vector`); ``build_seconds``: how long building the vector indexes
    took (``None`` until built).
    """

    index_type: str
    num_partitions: int
    nprobes: int
    refine_factor: int | None
    num_sub_vectors: int | None
    num_bits: int | None
    rows: int
    dim: int
    bytes_per_vector: int
    build_seconds: float | None = None
    tuning: dict[str, Any] | None = None
    """What the tuner measured and chose (:meth:`Tuning.to_dict`), or ``None`` when the settings are the rule's."""

    def with_build(self, num_partitions: int, num_sub_vectors: int | None) -> IndexPlan:
        """This plan with other partitions / sub-vectors (the index's size per vector follows)."""
        size = (
            index_bytes_per_vector(self.index_type, self.dim, num_sub_vectors, self.num_bits or 8)
            if self.index_type != "IVF_HNSW_SQ"
            else self.bytes_per_vector
        )
        return replace(self, num_partitions=num_partitions, num_sub_vectors=num_sub_vectors, bytes_per_vector=size)


@dataclass(frozen=True)
class AnnSettings(_Recorded):
    """How the approximate index is chosen, built and queried.

    ``index_type``: ``auto`` (default) picks by size — ``IVF_FLAT`` below ``pq_min_rows`` rows,
    ``IVF_PQ`` with refinement from there on — or name one LanceDB IVF index. ``IVF_FLAT``
    keeps the full vectors per partition: exact distances inside the probed partitions
    (recall@10 ≈ 0.99 at 10⁶ clustered vectors, 2 probes), about 30 s to build per 10⁶ vectors
    on 2 cores, and an index as large as the vectors (1,032 bytes per 256-d vector, per column).
    ``IVF_SQ`` stores 8-bit scalar-quantised vectors instead: a quarter of the memory, about the
    same speed, recall@10 ≈ 0.96 (the quantisation reorders close neighbours). ``IVF_PQ``
    stores ``D / pq_dims_per_sub_vector`` one-byte codes (40 bytes per 256-d vector with 8
    dimensions a sub-vector) and re-ranks ``k × refine_factor`` candidates with the full vectors
    read from the table.

    ``target_partition_size``: vectors per IVF_FLAT/IVF_SQ partition; ``pq_partition_size``: per
    IVF_PQ partition (4× larger: scanning 32-byte codes is cheap, and the build's cost grows with
    rows × partitions — 610 partitions at 10⁷ rows keep it within minutes on 2 cores).
    ``nprobes`` / ``refine_factor``: partitions a query scans and the re-ranking factor; ``None``
    takes the chosen index type's default (IVF_PQ: ``pq_nprobes`` 24 and ``pq_refine_factor``
    40, which gave recall@10 0.971 and p99 19 ms at 10⁶ clustered vectors on a loaded 2-core
    machine — PQ codes alone reorder near neighbours, refinement restores them; others: 2
    probes, no refinement); ``refine_factor`` 0 turns refinement off. ``min_rows``: the table size from which an index is built; below it,
    exact search over every vector is fast enough. ``pq_min_rows``: where ``auto`` switches to
    IVF_PQ — at 3·10⁶ rows the two IVF_FLAT indexes (``vector`` and ``text_vector``) would hold
    about 6 GiB, a quarter of a 24 GiB machine, against 0.24 GiB as IVF_PQ.
    ``max_iterations``: k-means iterations when training the partitions. ``accelerator``:
    ``"cuda"`` trains IVF_PQ partitions on a GPU through pylance (``songalign[scale]``).
    ``distributed_min_rows``: the table size from which a distributed builder
    (:data:`VectorBuilder`, ``songalign index --engine ray``) builds IVF_PQ indexes; smaller
    tables are built in one process, where the workers' start-up would cost more than it saves.
    """

    index_type: IndexType = "auto"
    target_partition_size: int = 4096
    nprobes: int | None = None
    refine_factor: int | None = None
    min_rows: int = 5_000
    max_iterations: int = 20
    pq_min_rows: int = 3_000_000
    pq_partition_size: int = 16384
    pq_dims_per_sub_vector: int = 8
    pq_num_bits: int = 8
    pq_nprobes: int = 24
    pq_refine_factor: int = 40
    accelerator: str | None = None
    distributed_min_rows: int = 1_000_000

    def chosen_type(self, rows: int) -> str:
        """The index type for a table of ``rows`` vectors."""
        if self.index_type != "auto":
            return self.index_type
        return "IVF_PQ" if rows >= self.pq_min_rows else "IVF_FLAT"

    def partitions(self, rows: int) -> int:
        """IVF partitions for a table of ``rows`` vectors: about ``rows / partition size``, at least 1."""
        size = self.pq_partition_size if self.chosen_type(rows) == "IVF_PQ" else self.target_partition_size
        return max(1, round(rows / size))

    def sub_vectors(self, dim: int) -> int:
        """PQ sub-vectors for ``dim`` dimensions: ``dim / pq_dims_per_sub_vector`` when it divides, else
        ``dim / 16`` or ``dim / 8`` (LanceDB's SIMD-friendly sizes), else 1."""
        for dims in (self.pq_dims_per_sub_vector, 16, 8):
            if dims > 0 and dim % dims == 0 and dim >= dims:
                return dim // dims
        return 1

    def plan(self, rows: int, dim: int) -> IndexPlan:
        """The index to build (and how to query it) for ``rows`` vectors of ``dim`` dimensions."""
        kind = self.chosen_type(rows)
        pq = kind == "IVF_PQ"
        nprobes = self.nprobes if self.nprobes is not None else (self.pq_nprobes if pq else 2)
        refine = self.refine_factor if self.refine_factor is not None else (self.pq_refine_factor if pq else None)
        sub_vectors = self.sub_vectors(dim) if pq else None
        return IndexPlan(
            index_type=kind,
            num_partitions=self.partitions(rows),
            nprobes=nprobes,
            refine_factor=refine or None,
            num_sub_vectors=sub_vectors,
            num_bits=self.pq_num_bits if pq else None,
            rows=rows,
            dim=dim,
            bytes_per_vector=index_bytes_per_vector(kind, dim, sub_vectors, self.pq_num_bits)
            if kind != "IVF_HNSW_SQ"
            else dim + 8,
        )

    def for_queries(self, plan: IndexPlan | None) -> AnnSettings:
        """These settings with ``nprobes`` and ``refine_factor`` resolved from the built ``plan``
        (explicitly set values win; without a plan: 2 probes, no refinement)."""
        nprobes = self.nprobes if self.nprobes is not None else (plan.nprobes if plan else 2)
        refine = self.refine_factor if self.refine_factor is not None else (plan.refine_factor if plan else None)
        return replace(self, nprobes=nprobes, refine_factor=refine or None)


def _index_config(plan: IndexPlan, settings: AnnSettings) -> Any:
    from lancedb.index import IvfFlat, IvfHnswSq, IvfPq, IvfSq

    common = {"distance_type": "cosine", "num_partitions": plan.num_partitions}
    if plan.index_type == "IVF_SQ":
        return IvfSq(**common, max_iterations=settings.max_iterations)
    if plan.index_type == "IVF_FLAT":
        return IvfFlat(**common, max_iterations=settings.max_iterations)
    if plan.index_type == "IVF_PQ":
        return IvfPq(
            **common,
            num_sub_vectors=plan.num_sub_vectors,
            num_bits=plan.num_bits or 8,
            max_iterations=settings.max_iterations,
        )
    return IvfHnswSq(**common)


VectorBuilder = Callable[[Any, str, IndexPlan, "AnnSettings"], Awaitable[None]]
"""Builds one column's ANN index by other means than LanceDB's own ``create_index`` (e.g. on Ray,
:func:`songalign.search.ray_index.ray_vector_builder`): ``await builder(table, column, plan, settings)``
writes and commits the index of ``plan`` on ``column`` of the async LanceDB ``table``."""


async def create_vector_index(
    table: Any,
    column: str,
    settings: AnnSettings,
    rows: int,
    dim: int = 0,
    plan: IndexPlan | None = None,
    builder: VectorBuilder | None = None,
) -> IndexPlan:
    """Build (or replace) the ANN index of ``column`` on an async LanceDB ``table`` of ``rows`` rows
    of ``dim``-dimensional vectors (``0``: read from the schema); returns the plan, timed.

    ``plan``: the index to build (default :meth:`AnnSettings.plan` of the table's size);
    ``builder``: how to build it (default LanceDB's ``create_index``, or pylance on
    :attr:`AnnSettings.accelerator`).
    """
    if not dim:
        dim = (await table.schema()).field(column).type.list_size
    plan = plan or settings.plan(rows, dim)
    started = time.perf_counter()
    if builder is not None:
        await builder(table, column, plan, settings)
        await table.checkout_latest()
    elif settings.accelerator and plan.index_type == "IVF_PQ":
        try:
            dataset = await table.to_lance()
        except ImportError as error:
            raise MissingDependencyError("pylance", "GPU index builds", extra="scale") from error
        await asyncio.to_thread(_create_index_on_accelerator, dataset, column, plan, settings.accelerator)
        await table.checkout_latest()
    else:
        await table.create_index(column, config=_index_config(plan, settings), replace=True)
    return replace(plan, build_seconds=round(time.perf_counter() - started, 3))


def _create_index_on_accelerator(dataset: Any, column: str, plan: IndexPlan, accelerator: str) -> None:
    """Train and write an IVF_PQ index on a pylance ``dataset`` with ``accelerator`` (``"cuda"``, ``"mps"``).

    LanceDB's async ``create_index`` has no accelerator path (its synchronous API hands such
    builds to pylance, as this does); pylance needs torch with that device.
    """
    dataset.create_index(
        column,
        index_type="IVF_PQ",
        metric="cosine",
        num_partitions=plan.num_partitions,
        num_sub_vectors=plan.num_sub_vectors,
        num_bits=plan.num_bits or 8,
        accelerator=accelerator,
        replace=True,
    )


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
        .nprobes(settings.nprobes if settings.nprobes is not None else 2)
    )
    if settings.refine_factor:
        query = query.refine_factor(settings.refine_factor)
    if where:
        query = query.where(where).maximum_nprobes(0)
    return query.select([*(columns or ["id"]), "_distance"])



def columns_to_build(
    vector_columns: Sequence[str],
    indexed: set[str],
    rows: int,
    settings: AnnSettings,
    trained_on: int,
    built: IndexPlan | None,
) -> list[str]:
    """The vector columns whose ANN index is missing or due to be rebuilt, for a table of ``rows`` rows.

    ``indexed``: the columns that have an index now; ``trained_on``: the rows its partitions were
    trained on (0: unknown); ``built``: the recorded plan of the index there is. Every column is
    rebuilt (retrained) once the table has more than doubled since training, or when its size
    calls for another kind of index (e.g. ``IVF_FLAT`` → ``IVF_PQ`` at
    :attr:`AnnSettings.pq_min_rows`). Whether the table is large enough to index at all
    (:attr:`AnnSettings.min_rows`) is the caller's decision.
    """
    missing = [column for column in vector_columns if column not in indexed]
    if not missing and trained_on and rows > 2 * trained_on:
        return list(vector_columns)  # the partitions no longer fit the data: retrain them
    if not missing and built and built.index_type != settings.chosen_type(rows):
        return list(vector_columns)  # grown into another kind of index
    return missing


async def build_indexes(
    table: Any,
    columns: Sequence[str],
    settings: AnnSettings,
    rows: int,
    dim: int,
    plan: IndexPlan | None = None,
    builder: VectorBuilder | None = None,
) -> IndexPlan:
    """Build the ANN indexes of ``columns`` on an async LanceDB ``table`` of ``rows`` rows of
    ``dim``-dimensional vectors, and the scalar indexes its filters and look-ups use (``id``,
    ``song_id``, ``language``, ``label_tags``); returns the plan with the vector builds' total seconds.

    ``plan`` and ``builder`` as for :func:`create_vector_index` (the builder is used for IVF_PQ only)."""
    from lancedb.index import Bitmap, BTree, LabelList

    seconds = 0.0
    plan = plan or settings.plan(rows, dim)
    builder = _builder_for(plan, settings, builder)
    for column in columns:
        plan = await create_vector_index(table, column, settings, rows, dim, plan, builder)
        seconds += plan.build_seconds or 0.0
    await table.create_index("id", config=BTree(), replace=True)
    await table.create_index("song_id", config=BTree(), replace=True)
    await table.create_index("language", config=Bitmap(), replace=True)
    await table.create_index("label_tags", config=LabelList(), replace=True)
    return replace(plan, build_seconds=round(seconds, 3))


# -- exact neighbours, the tuner's and the benchmarks' ground truth -----------------------------------
class RunningTopK:
    """Exact top-k (largest cosine) of ``queries`` ``(Q, D)`` over vectors seen chunk by chunk.

    ``update(chunk, ids)`` scores one chunk ``(m, D)`` of unit vectors whose rows are named by
    ``ids`` ``(m,)`` (any dtype: row numbers, segment ids) and keeps the best ``k`` so far;
    ``result()`` gives the ids ``(Q, k)``, best first. Memory: ``Q × (k + m)`` scores, never the table.
    """

    def __init__(self, queries: np.ndarray, k: int):
        self.queries, self.k = np.asarray(queries, np.float32), k
        self.scores = np.full((len(queries), k), -np.inf, dtype=np.float32)
        self.ids: np.ndarray | None = None

    def update(self, chunk: np.ndarray, ids: np.ndarray) -> None:
        ids = np.asarray(ids)
        if self.ids is None:
            fill = -1 if ids.dtype.kind in "iu" else None
            self.ids = np.full((len(self.queries), self.k), fill, dtype=ids.dtype if fill == -1 else object)
        scores = self.queries @ chunk.T  # (Q, m)
        k = min(self.k, scores.shape[1])
        part = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        both_scores = np.concatenate([self.scores, np.take_along_axis(scores, part, axis=1)], axis=1)
        both_ids = np.concatenate([self.ids, ids[part]], axis=1)
        best = np.argpartition(-both_scores, self.k - 1, axis=1)[:, : self.k]
        self.scores = np.take_along_axis(both_scores, best, axis=1)
        self.ids = np.take_along_axis(both_ids, best, axis=1)

    def result(self) -> np.ndarray:
        order = np.argsort(-self.scores, axis=1)
        return np.take_along_axis(self.ids, order, axis=1)


# -- tuning the index to a recall target ----------------------------------------------------------------
NPROBES_GRID = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512)
"""The nprobes values the tuner tries (those below the index's partitions, then all of them)."""
REFINE_GRID = (None, 10, 20, 40, 80)
"""The refine factors the tuner tries on quantised indexes (IVF_PQ, IVF_SQ); IVF_FLAT needs none."""
TRUTH_CHUNK_ROWS = 65536
"""Rows scored at a time when the tuner computes the exact neighbours (``Q × rows`` scores in memory)."""

Run = Callable[[Coroutine[Any, Any, Any]], Any]
"""Runs a coroutine to its result from the calling thread (:func:`songalign.search.store.run_async`):
the tuner times queries through it, as the product's queries go."""


@dataclass(frozen=True)
class TuneTarget:
    """What the tuner aims for: recall@``k`` ≥ ``recall`` (0–1] against exact search, at a single-query
    p99 ≤ ``latency_budget_ms`` (ms; ``None``: no budget, the fastest setting that meets the recall).

    ``queries``: held-out rows searched (each with itself left out of both answers), timed one at a
    time after ``warmup`` untimed ones; ``seed``: which rows; ``max_builds``: indexes built at most
    when the tuner may choose partitions and sub-vectors (the first is the rule's).
    """

    recall: float
    latency_budget_ms: float | None = None
    k: int = 10
    queries: int = 200
    warmup: int = 20
    seed: int = 0
    max_builds: int = 3

    def __post_init__(self) -> None:
        if not 0 < self.recall <= 1:
            raise SongalignError(f"--target-recall must be above 0 and at most 1 (e.g. 0.95), got {self.recall}")
        if self.latency_budget_ms is not None and self.latency_budget_ms <= 0:
            raise SongalignError(f"--latency-budget-ms must be positive (e.g. 20), got {self.latency_budget_ms}")
        if self.k < 1 or self.queries < 1 or self.max_builds < 1:
            raise SongalignError("the tuner needs k, queries and max_builds of at least 1")

    def describe(self) -> str:
        budget = f" within p99 ≤ {self.latency_budget_ms:g} ms" if self.latency_budget_ms else ""
        return f"recall@{self.k} ≥ {self.recall:g}{budget}"


@dataclass(frozen=True)
class TunedSetting(_Recorded):
    """One measured setting: the index's build (``num_partitions``, ``num_sub_vectors``), the query's
    ``nprobes`` and ``refine_factor``, its ``recall`` (at the target's k) and single-query latency
    percentiles ``p50_ms`` / ``p99_ms`` (milliseconds, through the product's query path)."""

    nprobes: int
    refine_factor: int | None
    recall: float
    p50_ms: float
    p99_ms: float
    num_partitions: int
    num_sub_vectors: int | None

    def describe(self, k: int = 10) -> str:
        refine = f"refine factor {self.refine_factor}" if self.refine_factor else "no refinement"
        subs = f", {self.num_sub_vectors} sub-vectors" if self.num_sub_vectors else ""
        return (
            f"recall@{k} {self.recall:.3f} at p99 {self.p99_ms:.1f} ms (p50 {self.p50_ms:.1f} ms; nprobes "
            f"{self.nprobes}, {refine}; {self.num_partitions} partitions{subs})"
        )


@dataclass(frozen=True)
class Tuning(_Recorded):
    """What the tuner measured (``frontier``: every :class:`TunedSetting` tried, as dicts, in order) and
    chose (``chosen``: the setting queries use — the fastest meeting the target, or else the best
    found), whether the target was ``met``, and one sentence saying so (``message``).

    ``query_source`` says what the queries were; ``seconds``: the whole tuning (builds included).
    """

    target_recall: float
    latency_budget_ms: float | None
    k: int
    queries: int
    query_source: str
    frontier: list[dict[str, Any]]
    chosen: dict[str, Any] | None
    met: bool
    message: str
    seconds: float = 0.0

    def chosen_setting(self) -> TunedSetting | None:
        return TunedSetting.from_dict(self.chosen) if self.chosen else None


@dataclass(frozen=True)
class HeldOutQueries:
    """The tuner's queries: unit ``vectors`` ``(Q, D)``; ``ids`` ``(Q,)``, the row each one is (left out of
    its answers), or ``None`` for a query that is no row (e.g. a text embedding); ``truth``: each
    one's exact ``k`` nearest ids among the other rows (cosine)."""

    ids: list[Any]
    vectors: np.ndarray
    truth: list[set[Any]]
    k: int


async def held_out_queries(
    table: Any, column: str, count: int, k: int, seed: int = 0, extra: np.ndarray | None = None
) -> HeldOutQueries:
    """``count`` rows of an async LanceDB ``table`` drawn at random (``seed``), and the ``extra`` query
    vectors ``(E, D)`` if given (text embeddings: where text queries land), each with its exact ``k``
    nearest neighbours on ``column`` (a row among the other rows) — one streamed pass over the column,
    :data:`TRUTH_CHUNK_ROWS` rows at a time, so the table is never held in memory (10⁷ × 256
    float32 would be 10 GB). Rows with a zero vector (segments without lyrics on ``text_vector``)
    are not drawn."""
    rows = int(await table.count_rows())
    rng = np.random.default_rng(seed)
    positions = np.sort(rng.choice(rows, size=min(rows, 2 * count), replace=False))
    picked = await table.take_offsets([int(p) for p in positions]).select(["id", column]).to_arrow()
    vectors = _unit_rows(picked.column(column))
    keep = np.flatnonzero(np.linalg.norm(vectors, axis=1) > 0)
    keep = rng.permutation(keep)[:count]
    ids: list[Any] = [picked.column("id")[int(i)].as_py() for i in keep]
    vectors = vectors[keep]
    if extra is not None and len(extra):
        extra = np.asarray(extra, np.float32)
        vectors = np.concatenate([vectors, extra / np.linalg.norm(extra, axis=1, keepdims=True)])
        ids += [None] * len(extra)
    top = RunningTopK(vectors, k + 1)
    reader = await table.query().select(["id", column]).to_batches()
    pending: list[Any] = []
    pending_rows = 0

    def flush() -> None:
        batch = pa.Table.from_batches(pending)
        top.update(_unit_rows(batch.column(column)), np.asarray(batch.column("id").to_pylist(), dtype=object))

    async for batch in reader:
        pending.append(batch)
        pending_rows += batch.num_rows
        if pending_rows >= TRUTH_CHUNK_ROWS:
            flush()
            pending, pending_rows = [], 0
    if pending:
        flush()
    found = top.result()
    truth = [set([i for i in row if i != own][:k]) for row, own in zip(found, ids, strict=True)]
    return HeldOutQueries(ids, vectors, truth, k)


def _unit_rows(column: Any) -> np.ndarray:
    """A fixed-size-list vector column as ``(N, D)`` float32 rows of unit length (zero rows stay zero)."""
    column = column.combine_chunks() if hasattr(column, "combine_chunks") else column
    size = column.type.list_size
    flat = column.flatten().to_numpy(zero_copy_only=False)
    rows = np.asarray(flat, dtype=np.float32).reshape(-1, size)
    norms = np.linalg.norm(rows, axis=1, keepdims=True)
    return rows / np.where(norms > 0, norms, 1)


def measure_setting(
    table: Any, column: str, queries: HeldOutQueries, settings: AnnSettings, plan: IndexPlan, run: Run, warmup: int
) -> TunedSetting:
    """Recall@k and single-query latency of ``settings`` (nprobes, refine factor) on ``table``'s index
    of ``plan``: each held-out row searched one at a time (``k + 1`` results, itself dropped), after
    ``warmup`` untimed queries."""
    k = queries.k
    for vector in queries.vectors[:warmup]:
        run(nearest_query(table, vector, column, k + 1, settings).to_arrow())
    latencies, hits = [], 0
    for vector, own, want in zip(queries.vectors, queries.ids, queries.truth, strict=True):
        started = time.perf_counter()
        got = run(nearest_query(table, vector, column, k + 1, settings).to_arrow())
        latencies.append((time.perf_counter() - started) * 1000)
        found = [i for i in got.column("id").to_pylist() if i != own][:k]
        hits += len(set(found) & want)
    return TunedSetting(
        nprobes=int(settings.nprobes or 1),
        refine_factor=settings.refine_factor or None,
        recall=round(hits / (k * len(queries.ids)), 4),
        p50_ms=round(float(np.percentile(latencies, 50)), 3),
        p99_ms=round(float(np.percentile(latencies, 99)), 3),
        num_partitions=plan.num_partitions,
        num_sub_vectors=plan.num_sub_vectors,
    )


def sweep_settings(
    table: Any, column: str, plan: IndexPlan, target: TuneTarget, queries: HeldOutQueries, run: Run
) -> list[TunedSetting]:
    """Measure the index of ``plan`` at the search settings of :data:`NPROBES_GRID` ×
    :data:`REFINE_GRID` (no refinement for IVF_FLAT). For each refine factor the probes grow until
    the target recall is met (more would only be slower), the p50 passes the latency budget, or the
    recall stops rising (a plateau the probes cannot lift: the codes' own limit)."""
    refines = REFINE_GRID if plan.index_type in ("IVF_PQ", "IVF_SQ", "IVF_HNSW_SQ") else (None,)
    probes = [n for n in NPROBES_GRID if n < plan.num_partitions] + [plan.num_partitions]
    measured: list[TunedSetting] = []
    for refine in refines:
        previous = -1.0
        for nprobes in probes:
            settings = AnnSettings(nprobes=nprobes, refine_factor=refine or 0)
            setting = measure_setting(table, column, queries, settings, plan, run, target.warmup)
            measured.append(setting)
            if setting.recall >= target.recall:
                break
            if target.latency_budget_ms and setting.p50_ms > target.latency_budget_ms:
                break
            if nprobes >= 8 and setting.recall - previous < 0.001:
                break
            previous = setting.recall
    return measured


def choose_setting(frontier: Sequence[TunedSetting], target: TuneTarget) -> tuple[TunedSetting, bool, str]:
    """``(setting, met, sentence)``: the lowest-p99 setting (then p50) meeting ``target``'s recall within its
    budget. When none does, the best found, with one sentence saying the target was not met: the
    highest recall within the budget; when no setting keeps the budget, the fastest that reaches the
    recall, else the highest recall (a budget nothing keeps should not cost recall as well)."""
    budget = target.latency_budget_ms
    within = [s for s in frontier if budget is None or s.p99_ms <= budget]
    meeting = [s for s in within if s.recall >= target.recall]
    if meeting:
        chosen = min(meeting, key=lambda s: (s.p99_ms, s.p50_ms))
        return chosen, True, f"{target.describe()} met: {chosen.describe(target.k)}"
    reaching = [s for s in frontier if s.recall >= target.recall]
    if within:
        best = max(within, key=lambda s: (s.recall, -s.p99_ms))
    elif reaching:
        best = min(reaching, key=lambda s: (s.p99_ms, s.p50_ms))
    else:
        best = max(frontier, key=lambda s: (s.recall, -s.p99_ms))
    sentence = (
        f"{target.describe()} was not reached by any of the {len(frontier)} settings tried: the best found was "
        f"{best.describe(target.k)}, which queries now use; lower the target, raise the budget, or rebuild with "
        "more sub-vectors or partitions"
    )
    return best, False, sentence


def build_candidates(plan: IndexPlan, max_builds: int) -> list[IndexPlan]:
    """The builds the tuner may try, cheapest first: ``plan`` (the rule's), then for IVF_PQ twice the
    sub-vectors (finer codes: the PQ's own recall limit moves up; ≥ 4 dimensions a sub-vector), then
    twice the partitions (fewer vectors scanned per probe); ``max_builds`` of them at most."""
    out = [plan]
    subs = plan.num_sub_vectors
    if plan.index_type == "IVF_PQ" and subs and plan.dim % (2 * subs) == 0 and plan.dim // (2 * subs) >= 4:
        out.append(plan.with_build(plan.num_partitions, 2 * subs))
    if plan.rows >= 2 * plan.num_partitions * 64:  # partitions keep at least 64 vectors
        out.append(plan.with_build(2 * plan.num_partitions, subs))
    return out[:max_builds]


def tune_index(
    table: Any,
    columns: Sequence[str],
    settings: AnnSettings,
    plan: IndexPlan,
    target: TuneTarget,
    run: Run,
    build: bool = False,
    builder: VectorBuilder | None = None,
    extra_queries: np.ndarray | None = None,
    extra_source: str = "",
) -> IndexPlan:
    """Tune the built index of ``plan`` on the async LanceDB ``table`` to ``target``; returns the plan
    queries should use: its ``nprobes`` and ``refine_factor`` the chosen setting's, ``tuning`` the
    record (:class:`Tuning`).

    Recall and latency are measured on ``columns[0]`` (the audio ``vector``: every row has one)
    with held-out rows as queries (:func:`held_out_queries`), and ``extra_queries`` ``(E, D)`` if
    given (``extra_source`` says what they are: e.g. text embeddings of mood phrases). With ``build``, the index is rebuilt
    with the next of :func:`build_candidates` while the target is not met (``columns[0]`` alone
    while searching; the other columns once the build is chosen, with ``builder`` as in
    :func:`build_indexes`). Not meeting the target is recorded (``met`` false, the sentence in
    ``message``), never raised: the index stays usable with the best setting found.
    """
    started = time.perf_counter()
    column = columns[0]
    queries = run(held_out_queries(table, column, target.queries, target.k, target.seed, extra_queries))
    candidates = build_candidates(plan, target.max_builds) if build else [plan]
    frontier: list[TunedSetting] = []
    built = plan
    for number, candidate in enumerate(candidates):
        if number:
            built = _rebuild(table, column, settings, candidate, builder, run)
        frontier += sweep_settings(table, column, built, target, queries, run)
        if choose_setting(frontier, target)[1]:
            break
    chosen, met, message = choose_setting(frontier, target)
    final = built
    chosen_build = (chosen.num_partitions, chosen.num_sub_vectors)
    if chosen_build != (built.num_partitions, built.num_sub_vectors):  # the best was an earlier build
        final = _rebuild(table, column, settings, plan.with_build(*chosen_build), builder, run)
    seconds = final.build_seconds
    if chosen_build != (plan.num_partitions, plan.num_sub_vectors):
        for other in columns[1:]:  # built as the rule's plan so far
            seconds = (seconds or 0.0) + (_rebuild(table, other, settings, final, builder, run).build_seconds or 0.0)
    else:
        seconds = plan.build_seconds
    rows = sum(i is not None for i in queries.ids)
    source = (
        f"{rows} rows of the table drawn at random (seed {target.seed}), each searched on "
        f"'{column}' with itself left out of the exact and the approximate answers"
    )
    if rows < len(queries.ids):
        source += f", and {len(queries.ids) - rows} {extra_source or 'other query vectors'}"
    tuning = Tuning(
        target_recall=target.recall,
        latency_budget_ms=target.latency_budget_ms,
        k=target.k,
        queries=len(queries.ids),
        query_source=source,
        frontier=[s.to_dict() for s in frontier],
        chosen=chosen.to_dict(),
        met=met,
        message=message,
        seconds=round(time.perf_counter() - started, 3),
    )
    return replace(
        plan.with_build(*chosen_build),
        nprobes=chosen.nprobes,
        refine_factor=chosen.refine_factor,
        build_seconds=seconds,
        tuning=tuning.to_dict(),
    )


def _rebuild(
    table: Any, column: str, settings: AnnSettings, plan: IndexPlan, builder: VectorBuilder | None, run: Run
) -> IndexPlan:
    return run(create_vector_index(table, column, settings, plan.rows, plan.dim, plan, _builder_for(plan, settings, builder)))


def _builder_for(plan: IndexPlan, settings: AnnSettings, builder: VectorBuilder | None) -> VectorBuilder | None:
    """``builder`` where it applies (IVF_PQ from :attr:`AnnSettings.distributed_min_rows` rows), else ``None``."""
    return builder if plan.index_type == "IVF_PQ" and plan.rows >= settings.distributed_min_rows else None
