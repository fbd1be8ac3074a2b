"""The distributed indexer on a local Ray (2 CPUs, no dashboard): equal to the single-machine index row for
row, and exactly once across SIGKILLs after a shard's commit and inside a shard; old tables without shards."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
import pytest

from songalign.errors import SongalignError
from songalign.search import SegmentStore, SongSearch, build_index
from songalign.search.store import DEFAULT_SHARDS, META_FILE, TABLE_NAME, segment_schema, shard_of, table_schema

ray = pytest.importorskip("ray")
pytest.importorskip("lance")

from songalign.search.ray_engine import TEST_PAUSE_ENV, TEST_SIGNAL_ENV, build_index_ray  # noqa: E402

SHARDS = 4  # the 6 test songs fall into shards 0 (song0), 1 (song1) and 3 (songs 2-5: 8 segments)


def table_rows(db: Path, columns: list[str] | None = None) -> list[dict]:
    store = SegmentStore.open(db, read_consistency_seconds=0)
    return sorted(store.rows(None, columns or [f.name for f in table_schema(16)]), key=lambda r: r["id"])


def assert_same_rows(expected: list[dict], got: list[dict]) -> None:
    assert [r["id"] for r in got] == [r["id"] for r in expected]
    for a, b in zip(expected, got, strict=True):
        for key in a:
            if key.endswith("vector"):
                np.testing.assert_allclose(a[key], b[key], atol=1e-5, err_msg=key)
            else:
                assert a[key] == b[key], (a["id"], key)


@pytest.fixture(scope="module")
def ray_address():
    """One local Ray for the module (its start-up takes seconds); killed runs join it with --address."""
    ray.init(num_cpus=2, include_dashboard=False)
    try:
        yield ray.get_runtime_context().gcs_address
    finally:
        ray.shutdown()


@pytest.fixture(scope="module")
def local_db(search_corpus, search_model, tmp_path_factory):
    """The corpus indexed by the single-machine engine into a database of :data:`SHARDS` shards."""
    folder, model = search_model
    db = tmp_path_factory.mktemp("local-4") / "db"
    build_index(folder, search_corpus, db, model=model, batch_size=4, progress=False, shards=SHARDS)
    return db


def test_a_shard_is_a_stable_hash_of_the_song_id():
    # the first 8 bytes of SHA-1("song0"), big-endian: a literal, so that a change of hash (which would
    # re-shard every existing database) fails here; not Python's salted hash()
    assert shard_of("song0", 2**64) == 660809626209574716
    assert shard_of("song0", SHARDS) == 660809626209574716 % SHARDS == 0
    assert [shard_of(f"song{i}", SHARDS) for i in range(6)] == [0, 1, 3, 3, 3, 3]
    assert shard_of("album/Ünï #2", 1000) == 29


def test_the_single_machine_engine_stores_each_rows_shard(local_db):
    rows = table_rows(local_db, ["id", "song_id", "shard"])
    assert len(rows) == 12 and all(r["shard"] == shard_of(r["song_id"], SHARDS) for r in rows)
    assert json.loads((local_db / META_FILE).read_text())["shards"] == SHARDS
    assert SegmentStore.open(local_db).present_shards() == [0, 1, 3]


def test_another_shard_count_for_an_existing_database_is_refused(local_db, search_corpus, search_model, tmp_path):
    folder, model = search_model
    fresh = SegmentStore.create(tmp_path / "db", {"model_name": "m", "model_version": "v", "embedding_dim": 16})
    assert fresh.shards == DEFAULT_SHARDS == json.loads((tmp_path / "db" / META_FILE).read_text())["shards"]
    with pytest.raises(SongalignError, match="sharded into 4 shards, not 8; index with --shards 4"):
        build_index(folder, search_corpus, local_db, model=model, shards=8)


def test_a_table_from_before_shards_opens_is_searched_and_appended_to(search_db, search_corpus, search_model, tmp_path):
    import lancedb

    folder, model = search_model
    old_db = tmp_path / "old"
    old_db.mkdir()
    rows = table_rows(search_db, [f.name for f in segment_schema(16)])
    first_songs = [r for r in rows if r["song_id"] in ("song0", "song1", "song2")]
    lancedb.connect(old_db).create_table(TABLE_NAME, data=first_songs, schema=segment_schema(16))
    meta = json.loads((search_db / META_FILE).read_text())
    meta.pop("shards")
    (old_db / META_FILE).write_text(json.dumps(meta))

    search = SongSearch.open(old_db, model=model)
    assert not search.store.has_shard_column() and search.store.present_shards() == []
    hits = search.by_text("tears falling lonely night", 2, "lyrics", group="segment")
    assert hits and hits[0].song_id == "song1"
    resumed = build_index(folder, search_corpus, old_db, model=model, batch_size=4, progress=False)
    assert (resumed.added, resumed.total) == (6, 12)
    assert "shard" not in SegmentStore.open(old_db).rows(None, ["id"], limit=1)[0]
    assert_same_rows(rows, table_rows(old_db, [f.name for f in segment_schema(16)]))
    with pytest.raises(SongalignError, match="written before songalign stored shards.*default engine, or into a new"):
        build_index_ray(folder, search_corpus, old_db, progress=False)


@pytest.mark.slow
def test_the_ray_engine_writes_the_single_machine_table_row_for_row_one_commit_a_shard(
    ray_address, local_db, search_corpus, search_model, tmp_path
):
    folder, _ = search_model
    commits: list[tuple[int, int]] = []
    ray_db = tmp_path / "db"
    result = build_index_ray(
        folder, search_corpus, ray_db, shards=SHARDS, batch_size=2, progress=False,
        on_shard=lambda s, n: commits.append((s, n)),
    )  # fmt: skip
    assert (result.added, result.total, len(result.report)) == (12, 12, 0)
    assert commits == [(0, 2), (1, 2), (3, 8)]  # each shard committed once, in order, whole
    assert_same_rows(table_rows(local_db), table_rows(ray_db))
    again = build_index_ray(folder, search_corpus, ray_db, progress=False, on_shard=lambda s, n: commits.append((s, n)))
    assert (again.added, again.total, again.report.kept) == (0, 12, 12) and len(commits) == 3


def _killed_run(folder, corpus, db: Path, address: str, pause: str, tmp_path: Path) -> None:
    """Run `songalign index --engine ray --address` in a child process and SIGKILL it where ``pause`` stops it."""
    signal_file = tmp_path / f"paused-{pause.replace(':', '-')}"
    env = {**os.environ, TEST_PAUSE_ENV: pause, TEST_SIGNAL_ENV: str(signal_file), "HF_HUB_OFFLINE": "1"}
    command = [
        sys.executable, "-c", "from songalign.cli import main; main()", "index", str(folder), str(corpus),
        "--db", str(db), "--engine", "ray", "--address", address, "--shards", str(SHARDS), "--batch-size", "2",
        "--no-progress",
    ]  # fmt: skip
    child = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 150
    while not signal_file.exists():
        if child.poll() is not None:
            raise AssertionError(f"the run ended before its pause:\n{child.stdout.read().decode()[-3000:]}")
        assert time.monotonic() < deadline, "the run did not reach its pause"
        time.sleep(0.1)
    child.send_signal(signal.SIGKILL)  # no clean-up, no finally blocks
    assert child.wait(30) == -signal.SIGKILL


def _uncommitted_data_files(db: Path) -> set[str]:
    import lance

    dataset = lance.dataset(str(db / f"{TABLE_NAME}.lance"))
    referenced = {Path(f.path).name for fragment in dataset.get_fragments() for f in fragment.metadata.files}
    return {p.name for p in (db / f"{TABLE_NAME}.lance" / "data").glob("*.lance")} - referenced


@pytest.mark.slow
def test_a_run_killed_after_a_shard_commit_and_a_shard_missing_a_row_resume_to_the_clean_table(
    ray_address, local_db, search_corpus, search_model, tmp_path
):
    import lancedb

    folder, _ = search_model
    db = tmp_path / "db"
    _killed_run(folder, search_corpus, db, ray_address, "after:1", tmp_path)
    assert SegmentStore.open(db).present_shards() == [0]  # the first shard, whole; nothing of the others
    assert [r["id"] for r in table_rows(db, ["id"])] == ["song0-0000", "song0-0001"]
    # and a shard with a row missing (as after unreadable audio, or a single-machine run killed part-way)
    # is completed with only that row: its count and id digest differ from the corpus's
    lancedb.connect(db).open_table(TABLE_NAME).delete("id = 'song0-0001'")
    resumed = build_index_ray(folder, search_corpus, db, batch_size=2, progress=False)
    assert (resumed.added, resumed.total) == (11, 12)
    got = table_rows(db)
    assert len({r["id"] for r in got}) == len(got) == 12
    assert_same_rows(table_rows(local_db), got)


@pytest.mark.slow
def test_a_run_killed_inside_a_shard_leaves_none_of_it_and_resumes_to_the_clean_table(
    ray_address, local_db, search_corpus, search_model, tmp_path
):
    folder, _ = search_model
    db = tmp_path / "db"
    _killed_run(folder, search_corpus, db, ray_address, "inside:3", tmp_path)  # after 2 of shard 3's 8 rows
    assert _uncommitted_data_files(db), "the killed run wrote part of shard 3 (files no version refers to)"
    present = SegmentStore.open(db).present_shards()
    assert 3 not in present and set(present) <= {0, 1}
    assert len(table_rows(db, ["id"])) == 2 * len(present)
    resumed = build_index_ray(folder, search_corpus, db, batch_size=2, progress=False)
    assert (resumed.added, resumed.total) == (12 - 2 * len(present), 12)
    got = table_rows(db)
    assert len({r["id"] for r in got}) == len(got) == 12
    assert_same_rows(table_rows(local_db), got)


@pytest.mark.slow
def test_a_shard_another_writer_changed_during_the_run_is_not_committed_a_second_time(
    ray_address, local_db, search_corpus, search_model, tmp_path
):
    # the writer lock keeps a second songalign run out (test_search_writer_lock.py); a writer that ignores
    # it (an older songalign, a script appending rows) is caught by the check just before each shard's commit
    folder, _ = search_model
    db = tmp_path / "db"
    columns = [f.name for f in segment_schema(16)]
    shard_1 = [r for r in table_rows(local_db, columns) if shard_of(r["song_id"], SHARDS) == 1]
    commits: list[tuple[int, int]] = []

    def intrude(shard: int, rows: int) -> None:
        commits.append((shard, rows))
        if shard == 0:  # after shard 0's commit, before shard 1's: another writer commits shard 1's rows
            SegmentStore.open(db).add(pa.Table.from_pylist(shard_1, schema=segment_schema(16)))

    result = build_index_ray(
        folder, search_corpus, db, shards=SHARDS, batch_size=2, progress=False, on_shard=intrude
    )  # fmt: skip
    assert commits == [(0, 2), (3, 8)]  # shard 1 was not committed by this run
    assert (result.added, result.total) == (10, 12)
    (skipped,) = result.report.skipped
    assert skipped.item == "shard 1" and skipped.path == str(db)
    assert "another writer changed the rows of shard 1 while this run indexed it, so its 2 row(s)" in skipped.reason
    got = table_rows(db)
    assert len({r["id"] for r in got}) == len(got) == 12  # every id once
    assert_same_rows(table_rows(local_db), got)
