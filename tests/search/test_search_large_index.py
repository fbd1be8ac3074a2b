"""Large tables: the ANN index chosen by size (IVF_FLAT, then IVF_PQ with refinement) and recorded,
and a long-running reader that sees other processes' commits. Small tables with lowered thresholds."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from songalign.search import AnnSettings, SegmentStore
from songalign.search.ann import index_bytes_per_vector
from songalign.search.testing import segment_rows

DIM = 32
META = {"model_name": "m", "model_version": "v", "embedding_dim": DIM}
SMALL = AnnSettings(min_rows=500, pq_min_rows=2000, target_partition_size=128, pq_partition_size=256)


def _rows(start: int, count: int, dim: int = DIM, seed: int = 0) -> tuple[pa.Table, np.ndarray]:
    """``count`` segment rows with ids ``r{start:07d}``… and random unit vectors (audio and lyrics drawn apart);
    returns the table and its ``(count, dim)`` audio vectors."""
    rng = np.random.default_rng([seed, start])
    vectors = rng.standard_normal((2, count, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=2, keepdims=True)
    return segment_rows(vectors[0], start, songs_of=10, text_vectors=vectors[1]), vectors[0]


def _vector_index_types(store: SegmentStore) -> dict[str, str]:
    from songalign.search.store import run_async

    return {
        i.columns[0]: i.index_type
        for i in run_async(store._table.list_indices())
        if i.columns[0] in ("vector", "text_vector")
    }


def test_the_plan_follows_the_table_size_with_bytes_per_vector_as_documented():
    ann = AnnSettings()
    small, large = ann.plan(1_000_000, 256), ann.plan(10_000_000, 256)
    assert (small.index_type, small.num_partitions, small.nprobes, small.refine_factor) == ("IVF_FLAT", 244, 2, None)
    assert small.bytes_per_vector == 4 * 256 + 8 and small.num_sub_vectors is None
    assert (large.index_type, large.num_partitions, large.num_sub_vectors, large.num_bits) == ("IVF_PQ", 610, 32, 8)
    assert (large.nprobes, large.refine_factor, large.bytes_per_vector) == (24, 40, 32 + 8)
    assert index_bytes_per_vector("IVF_SQ", 256) == 264 and index_bytes_per_vector("IVF_PQ", 256, 16, 8) == 24
    assert AnnSettings(pq_dims_per_sub_vector=16).plan(10_000_000, 256).num_sub_vectors == 16
    assert AnnSettings(index_type="IVF_SQ").plan(10_000_000, 256).index_type == "IVF_SQ"  # named: never switched
    # explicit query settings win over the plan's; refine_factor 0 turns refinement off
    assert AnnSettings(nprobes=5, refine_factor=0).for_queries(large).nprobes == 5
    assert AnnSettings(refine_factor=0).for_queries(large).refine_factor is None
    assert AnnSettings().for_queries(large).refine_factor == 40


def test_the_index_type_is_chosen_by_size_recorded_and_shown(tmp_path):
    store = SegmentStore.create(tmp_path / "db", META, SMALL)
    table, _ = _rows(0, 1500)
    store.add(table)
    assert store.finish(added=1500) is True
    record = json.loads((tmp_path / "db" / "songalign-index.json").read_text())["index"]
    assert record["index_type"] == "IVF_FLAT" and record["num_partitions"] == 12 and record["rows"] == 1500
    assert record["nprobes"] == 2 and record["refine_factor"] is None and record["build_seconds"] > 0
    assert _vector_index_types(store) == {"vector": "IvfFlat", "text_vector": "IvfFlat"}

    table, _ = _rows(1500, 600)  # 2,100 rows: past pq_min_rows, not yet doubled — rebuilt for its size
    store.add(table)
    assert store.finish(added=600) is True
    record = json.loads((tmp_path / "db" / "songalign-index.json").read_text())["index"]
    assert (record["index_type"], record["num_partitions"], record["num_sub_vectors"]) == ("IVF_PQ", 8, DIM // 8)
    assert (record["num_bits"], record["nprobes"], record["refine_factor"], record["rows"]) == (8, 24, 40, 2100)
    assert record["bytes_per_vector"] == DIM // 8 + 8
    assert _vector_index_types(store) == {"vector": "IvfPq", "text_vector": "IvfPq"}

    from songalign.search.query import SongSearch  # imports torch: only here, not in the second writer

    info = SongSearch(SegmentStore.open(tmp_path / "db"), model=None).info()  # the info call needs no model
    assert info["ann_index"] is True and info["index"]["index_type"] == "IVF_PQ"
    assert (info["index"]["query_nprobes"], info["index"]["query_refine_factor"]) == (24, 40)


def test_ivf_pq_with_refinement_finds_the_exact_neighbours(tmp_path):
    store = SegmentStore.create(tmp_path / "db", META, SMALL)
    table, vectors = _rows(0, 3000)
    store.add(table)
    store.finish(added=3000)
    assert store.index_plan().index_type == "IVF_PQ"
    probes = range(0, 3000, 60)
    for row in probes:  # a stored vector is its own nearest neighbour, at distance 0
        best = store.nearest(vectors[row], "vector", 1)[0]
        assert best["id"] == f"r{row:07d}" and best["_distance"] == pytest.approx(0.0, abs=1e-5)
    # random (isotropic) vectors: the hard case for PQ, whose 4 one-byte codes reorder close neighbours
    exact = np.argsort(-(vectors[list(probes)] @ vectors.T), axis=1)[:, :10]

    def recall(refine_factor: int) -> float:
        store.ann = replace(SMALL, refine_factor=refine_factor)
        found = [{int(hit["id"][1:]) for hit in store.nearest(vectors[row], "vector", 10)} for row in probes]
        return float(np.mean([len(f & set(e.tolist())) / 10 for f, e in zip(found, exact, strict=True)]))

    # chance would be 10 / 3000; PQ distances alone find about half, re-ranking 10 x k candidates
    # with the full vectors nearly all, 50 x k all but a few
    assert recall(0) < 0.7 and recall(10) >= 0.85 and recall(50) >= 0.97


WRITER = textwrap.dedent(
    """
    import sys
    sys.path.insert(0, sys.argv[2])
    from test_search_large_index import SMALL, _rows
    from songalign.search.store import SegmentStore
    store = SegmentStore.open(sys.argv[1], SMALL)
    table, _ = _rows(int(sys.argv[3]), int(sys.argv[4]))
    store.add(table)
    if sys.argv[5] == "finish":
        store.finish(added=int(sys.argv[4]))
    """
)


def _second_writer(db, start: int, count: int, finish: bool) -> None:
    """Commit ``count`` rows (and build the index, with ``finish``) from another process."""
    folder = str(Path(__file__).parent)
    args = [sys.executable, "-c", WRITER, str(db), folder, str(start), str(count), "finish" if finish else "add"]
    subprocess.run(args, check=True, timeout=120)


def test_an_open_store_sees_another_process_commit_within_its_interval(tmp_path):
    db = tmp_path / "db"
    writer = SegmentStore.create(db, META, SMALL)
    table, _ = _rows(0, 400)
    writer.add(table)
    reader = SegmentStore.open(db, read_consistency_seconds=0.5)  # as a long-running service holds it
    every_query = SegmentStore.open(db, read_consistency_seconds=0)
    never = SegmentStore.open(db, read_consistency_seconds=3600)
    assert reader.count() == every_query.count() == never.count() == 400 and reader.index_plan() is None

    _second_writer(db, 400, 200, finish=True)  # 600 rows: past min_rows, the IVF_FLAT index is built
    assert every_query.count() == 600  # checked on each read
    time.sleep(0.6)  # the reader's interval, and a little
    assert reader.count() == 600
    _, new_vectors = _rows(400, 200)
    assert reader.nearest(new_vectors[7], "vector", 1)[0]["id"] == "r0000407"  # the new rows are searched
    assert reader.index_plan() is not None and reader.index_plan().index_type == "IVF_FLAT"  # and the new record
    assert reader.has_vector_index("vector")
    assert never.count() == 400 and never.index_plan() is None  # the control: without a check it stays stale
