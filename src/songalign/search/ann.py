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
from collections.abc import Sequence
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal, Self

import numpy as np

from songalign.errors import MissingDependencyError

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


async def create_vector_index(table: Any, column: str, settings: AnnSettings, rows: int, dim: int = 0) -> IndexPlan:
    """Build (or replace) the ANN index of ``column`` on an async LanceDB ``table`` of ``rows`` rows
    of ``dim``-dimensional vectors (``0``: read from the schema); returns the plan, timed."""
    if not dim:
        dim = (await table.schema()).field(column).type.list_size
    plan = settings.plan(rows, dim)
    started = time.perf_counter()
    if settings.accelerator and plan.index_type == "IVF_PQ":
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


async def build_indexes(table: Any, columns: Sequence[str], settings: AnnSettings, rows: int, dim: int) -> IndexPlan:
    """Build the ANN indexes of ``columns`` on an async LanceDB ``table`` of ``rows`` rows of
    ``dim``-dimensional vectors, and the scalar indexes its filters and look-ups use (``id``,
    ``song_id``, ``language``, ``label_tags``); returns the plan with the vector builds' total seconds."""
    from lancedb.index import Bitmap, BTree, LabelList

    seconds = 0.0
    plan = settings.plan(rows, dim)
    for column in columns:
        plan = await create_vector_index(table, column, settings, rows, dim)
        seconds += plan.build_seconds or 0.0
    await table.create_index("id", config=BTree(), replace=True)
    await table.create_index("song_id", config=BTree(), replace=True)
    await table.create_index("language", config=Bitmap(), replace=True)
    await table.create_index("label_tags", config=LabelList(), replace=True)
    return replace(plan, build_seconds=round(seconds, 3))
