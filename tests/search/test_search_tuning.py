"""The index tuned to a recall target (``songalign index --target-recall``, ``--tune DB``): on a real LanceDB
table of a few thousand clustered vectors, the tuner measures recall against exact search, picks settings
that meet the target, records them where queries and ``info`` read them, and reports a target it cannot meet."""

from __future__ import annotations

import json

import numpy as np
import pytest
from typer.testing import CliRunner

from songalign.cli import app
from songalign.search import AnnSettings, SegmentStore
from songalign.search.ann import TunedSetting, TuneTarget, choose_setting
from songalign.search.testing import segment_rows

DIM = 32
ROWS = 4000
META = {"model_name": "m", "model_version": "v", "embedding_dim": DIM}
# IVF_PQ from 2,000 rows: 16 partitions of 256 vectors, 4 sub-vectors of 8 dimensions
SMALL_PQ = AnnSettings(min_rows=500, pq_min_rows=2000, pq_partition_size=256)


def clustered(rows: int, seed: int = 0) -> np.ndarray:
    """``(rows, DIM)`` unit vectors in 100 clusters (cosine to the centre ≈ 0.9): neighbours are near, not everywhere."""
    rng = np.random.default_rng(seed)
    centres = rng.standard_normal((100, DIM))
    centres /= np.linalg.norm(centres, axis=1, keepdims=True)
    x = centres[rng.integers(0, 100, rows)] + 0.5 / np.sqrt(DIM) * rng.standard_normal((rows, DIM))
    return (x / np.linalg.norm(x, axis=1, keepdims=True)).astype(np.float32)


@pytest.fixture()
def pq_db(tmp_path):
    """A database of :data:`ROWS` clustered vectors with its IVF_PQ index built by the rule; ``(folder, vectors)``."""
    vectors = clustered(ROWS)
    store = SegmentStore.create(tmp_path / "db", META, SMALL_PQ)
    store.add(segment_rows(vectors))
    assert store.finish(added=ROWS) is True
    return tmp_path / "db", vectors


def recall_of_queries(store: SegmentStore, vectors: np.ndarray, rows: np.ndarray, k: int = 10) -> float:
    """Recall@k of the store's queries (as they run now) for the given rows, each left out of both answers."""
    hits = 0
    for row in rows:
        scores = vectors @ vectors[row]
        scores[row] = -np.inf
        want = {f"r{i:07d}" for i in np.argsort(-scores)[:k]}
        got = [h["id"] for h in store.nearest(vectors[row], "vector", k + 1) if h["id"] != f"r{row:07d}"][:k]
        hits += len(want & set(got))
    return hits / (k * len(rows))


def test_the_tuner_picks_settings_that_meet_the_target_records_them_and_queries_use_them(pq_db):
    db, vectors = pq_db
    store = SegmentStore.open(db, read_consistency_seconds=0)
    plan = store.tune(TuneTarget(0.9, queries=60, warmup=5))
    tuning = plan.tuning
    assert tuning["met"] is True and tuning["queries"] == 60
    chosen = tuning["chosen"]
    assert chosen["recall"] >= 0.9 and chosen in tuning["frontier"]
    # the fastest (by p99) of the settings measured that meet the target
    meeting = [s for s in tuning["frontier"] if s["recall"] >= 0.9]
    assert chosen["p99_ms"] == min(s["p99_ms"] for s in meeting)
    # one probe without refinement is far below the target: the tuner had to look further
    assert tuning["frontier"][0]["nprobes"] == 1 and tuning["frontier"][0]["recall"] < 0.8
    record = json.loads((db / "songalign-index.json").read_text())["index"]
    assert (record["nprobes"], record["refine_factor"]) == (chosen["nprobes"], chosen["refine_factor"])
    assert record["tuning"] == tuning
    reopened = SegmentStore.open(db)
    used = reopened.query_settings()
    assert (used.nprobes, used.refine_factor) == (chosen["nprobes"], chosen["refine_factor"])
    # other rows than the tuner's, exact answers computed here: the recorded settings keep the target
    # (60 queries × 10 neighbours: a sampling error of about ±0.05 on either measurement)
    rows = np.random.default_rng(7).choice(ROWS, 60, replace=False)
    assert recall_of_queries(reopened, vectors, rows) >= 0.9 - 0.08
    shown = CliRunner().invoke(app, ["info", str(db)], terminal_width=200)
    assert shown.exit_code == 0, shown.output
    assert "chosen" in shown.output and "met" in shown.output


def test_a_target_it_cannot_meet_is_reported_in_one_sentence_recorded_and_exits_1(pq_db):
    db, _ = pq_db
    result = CliRunner().invoke(
        app, ["index", "--tune", str(db), "--target-recall", "1.0", "--latency-budget-ms", "0.01"], terminal_width=400
    )
    assert result.exit_code == 1, result.output
    assert "recall@10 ≥ 1 within p99 ≤ 0.01 ms was not reached" in result.output
    assert "the best found was recall@10" in result.output
    record = json.loads((db / "songalign-index.json").read_text())["index"]
    assert record["tuning"]["met"] is False and "was not reached" in record["tuning"]["message"]
    assert record["nprobes"] == record["tuning"]["chosen"]["nprobes"]


def test_building_it_tries_finer_codes_and_more_partitions_and_keeps_the_build_it_chose(tmp_path):
    vectors = clustered(ROWS, seed=1)
    coarse = AnnSettings(min_rows=500, pq_min_rows=2000, pq_partition_size=512, pq_dims_per_sub_vector=16)
    store = SegmentStore.create(tmp_path / "db", META, coarse)
    store.add(segment_rows(vectors))
    store.finish(added=ROWS)
    assert (store.index_plan().num_partitions, store.index_plan().num_sub_vectors) == (8, 2)
    plan = store.tune(TuneTarget(1.0, latency_budget_ms=0.01, queries=30, warmup=2), build=True)
    builds = {(s["num_partitions"], s["num_sub_vectors"]) for s in plan.tuning["frontier"]}
    assert builds == {(8, 2), (8, 4), (16, 2)}  # the rule's, finer codes, twice the partitions
    assert plan.tuning["met"] is False
    chosen = plan.tuning["chosen"]
    assert (plan.num_partitions, plan.num_sub_vectors) == (chosen["num_partitions"], chosen["num_sub_vectors"])
    assert plan.bytes_per_vector == plan.num_sub_vectors + 8
    stats = SegmentStore.open(tmp_path / "db")
    from songalign.search.store import run_async

    for column in ("vector", "text_vector"):  # both columns hold the chosen build
        assert run_async(stats._table.index_stats(f"{column}_idx")).num_indices >= 1


def test_the_choice_is_the_fastest_meeting_the_target_else_the_best_within_the_budget():
    def s(nprobes: int, recall: float, p99: float) -> TunedSetting:
        return TunedSetting(nprobes, 40, recall, p99 / 2, p99, 16, 4)

    frontier = [s(4, 0.80, 5.0), s(8, 0.93, 9.0), s(16, 0.97, 14.0), s(32, 0.99, 30.0)]
    chosen, met, _ = choose_setting(frontier, TuneTarget(0.95))
    assert (chosen.nprobes, met) == (16, True)
    chosen, met, _ = choose_setting(frontier, TuneTarget(0.98, latency_budget_ms=20))
    assert (chosen.nprobes, met) == (16, False)  # the best recall that keeps the budget
    chosen, met, sentence = choose_setting(frontier, TuneTarget(0.98, latency_budget_ms=1))
    assert (chosen.nprobes, met) == (32, False)  # nothing keeps the budget: the fastest reaching the recall
    assert sentence.startswith("recall@10 ≥ 0.98 within p99 ≤ 1 ms was not reached by any of the 4 settings")
    with pytest.raises(Exception, match="--target-recall must be above 0 and at most 1"):
        TuneTarget(1.5)
