"""The IVF_PQ index built on Ray (``songalign index --engine ray`` on a large table): trained on a sample,
each fragment group's part built in a Ray task, merged and committed once — on a local Ray with 2 CPUs,
against the single-machine build of the same table."""

from __future__ import annotations

import numpy as np
import pytest

from songalign.search import AnnSettings, SegmentStore
from songalign.search.ann import AnnSettings as Settings
from songalign.search.ann import held_out_queries, measure_setting
from songalign.search.ray_index import fragment_groups, ray_vector_builder
from songalign.search.store import run_async
from songalign.search.testing import segment_rows

ray = pytest.importorskip("ray")
lance = pytest.importorskip("lance")

DIM = 32
ROWS = 24_000
META = {"model_name": "m", "model_version": "v", "embedding_dim": DIM}
# IVF_PQ of 47 partitions and 4 sub-vectors; built on Ray from 1,000 rows
ANN = AnnSettings(min_rows=500, pq_min_rows=2000, pq_partition_size=512, distributed_min_rows=1000)


def clustered(rows: int, seed: int = 3) -> np.ndarray:
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((300, DIM))
    x = centres / np.linalg.norm(centres, axis=1, keepdims=True)
    x = x[rng.integers(0, 300, rows)] + 0.6 / np.sqrt(DIM) * rng.standard_normal((rows, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture(scope="module")
def local_ray():
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        yield
    finally:
        ray.shutdown()


def four_fragment_store(folder, vectors: np.ndarray) -> SegmentStore:
    store = SegmentStore.create(folder, META, ANN)
    quarter = len(vectors) // 4
    for start in range(0, len(vectors), quarter):  # four appends: four fragments, two Ray parts
        store.add(segment_rows(vectors[start : start + quarter], start))
    return store


def test_fragments_are_grouped_into_parts_of_about_equal_rows_in_order():
    assert fragment_groups([(0, 10), (1, 10), (4, 10), (7, 10)], 2) == [[0, 1], [4, 7]]
    assert fragment_groups([(0, 30), (1, 5), (2, 5)], 2) == [[0], [1, 2]]
    assert fragment_groups([(5, 1)], 8) == [[5]]


def test_the_ray_build_matches_the_single_machine_builds_recall(local_ray, tmp_path):
    vectors = clustered(ROWS)
    single = four_fragment_store(tmp_path / "single", vectors)
    distributed = four_fragment_store(tmp_path / "ray", vectors)
    assert single.finish(added=0) is True  # added=0: no compaction, the four fragments stay
    on_ray = ray_vector_builder(parts=2)
    built: list[str] = []

    async def builder(table, column, plan, settings):
        built.append(column)
        await on_ray(table, column, plan, settings)

    assert distributed.finish(added=0, builder=builder) is True
    assert built == ["vector", "text_vector"]  # both columns built on Ray
    dataset = lance.dataset(distributed.uri)
    listed = [i for i in dataset.list_indices() if i["fields"] == ["vector"]]
    assert len(listed) == 1 and listed[0]["type"] == "IVF_PQ", listed  # two parts merged into one index
    assert set(listed[0]["fragment_ids"]) == {f.fragment_id for f in dataset.get_fragments()}
    assert len(dataset.get_fragments()) == 4
    plans = single.index_plan(), distributed.index_plan()
    assert plans[0].num_partitions == plans[1].num_partitions == 47 and plans[1].num_sub_vectors == 4
    queries = run_async(held_out_queries(single._table, "vector", 600, 10, seed=5))
    recalls = []
    for store, plan in zip((single, distributed), plans, strict=True):
        setting = measure_setting(store._table, "vector", queries, Settings(nprobes=6, refine_factor=20), plan, run_async, 0)
        recalls.append(setting.recall)
    assert 0.8 < recalls[0] < 1.0  # a setting where the index's quality shows
    assert abs(recalls[0] - recalls[1]) <= 0.01, recalls
