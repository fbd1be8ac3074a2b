"""One writer at a time: `songalign index` (both engines) holds an exclusive lock on its database.

A second run started while the first is between two commits is refused in one sentence naming the
holder, and no id is written twice; a lock left by a dead process of this host is taken over; a lock
of another host is never taken over (this machine cannot see that host's processes).
"""

from __future__ import annotations

import importlib.util
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from songalign.errors import SongalignError
from songalign.search import SegmentStore, build_index
from songalign.search.commands import EngineChoice, index_command
from songalign.search.lock import LOCK_FILE, lock_holder, writer_lock
from songalign.search.store import META_FILE
from songalign.search.testing import index_paused_between_commits

PAUSE_AFTER_ROWS = 4  # one committed batch of 4 of the corpus's 12 segments


def _ids(db: Path) -> list[str]:
    return [row["id"] for row in SegmentStore.open(db, read_consistency_seconds=0).rows(None, ["id"])]


def _second_run(folder: Path, corpus: Path, db: Path, *engine: str) -> subprocess.CompletedProcess[str]:
    """`songalign index` as a user runs it: a fresh interpreter, the real entry point (one sentence on error)."""
    command = [
        sys.executable, "-c", "from songalign.cli import main; main()", "index", str(folder), str(corpus),
        "--db", str(db), "--no-progress", "--batch-size", "4", *engine,
    ]  # fmt: skip
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    return subprocess.run(command, env=env, capture_output=True, text=True, timeout=300)


def _assert_refused_naming(output: str, pid: int, lock: Path) -> None:
    assert "Traceback" not in output, output
    (line,) = [line for line in output.splitlines() if line.strip()]  # one line: the sentence
    assert line.startswith("error: ") and line.count("; ") == 1, line
    assert f"is being indexed by another run (pid {pid} on this host {socket.gethostname()}" in line, line
    assert f"lock file {lock}" in line and line.endswith("wait for it to finish, or stop it, then re-run"), line


@pytest.mark.slow
def test_a_second_index_run_between_the_firsts_commits_is_refused_and_no_id_is_written_twice(
    search_corpus, search_model, tmp_path
):
    folder, model = search_model
    db, paused, go_on = tmp_path / "db", tmp_path / "paused", tmp_path / "go-on"
    # a fresh interpreter (spawn), not a fork: this process already runs LanceDB (see conftest.py)
    first = multiprocessing.get_context("spawn").Process(
        target=index_paused_between_commits,
        args=(str(folder), str(search_corpus), str(db), PAUSE_AFTER_ROWS, str(paused), str(go_on)),
    )
    first.start()
    try:
        deadline = time.monotonic() + 180
        while not paused.exists():
            assert first.is_alive(), f"the first run ended (exit code {first.exitcode}) before its pause"
            assert time.monotonic() < deadline, "the first run did not reach its pause"
            time.sleep(0.05)
        lock = db / LOCK_FILE
        assert lock_holder(lock)[0] == first.pid  # the file names the holder (and its host)
        assert len(_ids(db)) == PAUSE_AFTER_ROWS  # the first run is between two commits

        # without the lock this run would commit the 8 segments the first has not committed yet,
        # which the first would then commit again
        second = _second_run(folder, search_corpus, db)
        assert second.returncode == 1, second.stdout + second.stderr
        _assert_refused_naming(second.stderr, first.pid, lock)
        if importlib.util.find_spec("ray") and importlib.util.find_spec("lance"):  # the Ray engine, before Ray starts
            with pytest.raises(SongalignError, match=f"being indexed by another run \\(pid {first.pid} on this host"):
                index_command(folder, search_corpus, db, progress=False, engine=EngineChoice.ray)
        with pytest.raises(SongalignError, match=f"being indexed by another run \\(pid {first.pid} "):
            build_index(folder, search_corpus, db, model=model, progress=False)
        assert len(_ids(db)) == PAUSE_AFTER_ROWS  # the refused runs wrote nothing
    finally:
        go_on.touch()
        first.join(180)
        if first.is_alive():
            first.kill()
    assert first.exitcode == 0
    ids = _ids(db)
    assert len(ids) == len(set(ids)) == 12  # every segment once
    assert not (db / LOCK_FILE).exists()  # released at the end of the run
    again = build_index(folder, search_corpus, db, model=model, progress=False)  # and the next run gets in
    assert (again.added, again.total) == (0, 12)


def _abandoned_lock(path: Path) -> int:
    """Take the lock in a child process that then dies without releasing it (as after ``kill -9``); its pid."""
    code = (
        "import os, sys\n"
        "from filelock import SoftFileLock\n"
        "held = SoftFileLock(sys.argv[1], timeout=0)  # kept: a lock released when collected\n"
        "held.acquire()\n"
        "print(os.getpid(), flush=True)\n"
        "os._exit(0)  # no release, no atexit\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True, text=True, check=True)
    return int(done.stdout)


def test_a_lock_left_by_a_dead_process_of_this_host_is_taken_over(search_corpus, search_model, tmp_path):
    folder, model = search_model
    db = tmp_path / "db"
    db.mkdir()
    dead = _abandoned_lock(db / LOCK_FILE)
    assert lock_holder(db / LOCK_FILE)[0] == dead  # the record outlived its process
    result = build_index(folder, search_corpus, db, model=model, progress=False)
    assert (result.added, result.total) == (12, 12) and not (db / LOCK_FILE).exists()


def test_a_live_pid_that_started_after_the_lock_was_written_is_a_reused_pid(tmp_path):
    db = tmp_path / "db"
    db.mkdir()
    _abandoned_lock(db / LOCK_FILE)
    _, host = lock_holder(db / LOCK_FILE)  # this host, as filelock writes it
    # a live process of this host (pytest's parent), recorded with another start time: the recorded
    # process died and the kernel gave its pid to another
    (db / LOCK_FILE).write_text(f"{os.getppid()}\n{host}\n1\n", encoding="utf-8")
    with writer_lock(db) as path:
        assert lock_holder(path)[0] == os.getpid()


def test_a_live_process_of_this_host_keeps_its_lock(tmp_path):
    db = tmp_path / "db"
    with writer_lock(db) as path:
        with pytest.raises(SongalignError) as refused:  # a second run of the same process, too
            with writer_lock(db):
                pass
        assert f"(pid {os.getpid()} on this host {socket.gethostname()}" in str(refused.value)
        assert path.exists()
    assert not path.exists()


def test_a_lock_of_another_host_is_never_taken_over_and_names_the_host(search_corpus, search_model, tmp_path):
    folder, model = search_model
    db = tmp_path / "db"
    db.mkdir()
    lock = db / LOCK_FILE
    lock.write_text("4242\nindexer-7.cluster.example\n", encoding="utf-8")
    with pytest.raises(SongalignError) as refused:
        build_index(folder, search_corpus, db, model=model, progress=False)
    message = str(refused.value)
    assert message == (
        f"{db} is being indexed by another run (pid 4242 on host indexer-7.cluster.example, lock file {lock}), "
        f"and this machine cannot see that host's processes; wait for it to finish, or delete {lock} once that "
        "run has stopped"
    )
    assert lock.read_text(encoding="utf-8") == "4242\nindexer-7.cluster.example\n"  # left as it was
    assert not (db / META_FILE).exists()  # refused before the database was touched
    lock.unlink()  # what the message tells the user to do once that run has stopped
    assert build_index(folder, search_corpus, db, model=model, progress=False).added == 12


def test_a_lock_file_that_names_no_process_is_held_and_says_so(tmp_path):
    # an empty marker: what filelock before 3.22 wrote for its whole hold, or one still being written
    db = tmp_path / "db"
    db.mkdir()
    (db / LOCK_FILE).write_text("", encoding="utf-8")
    with pytest.raises(SongalignError) as refused:
        with writer_lock(db):
            pass
    assert str(refused.value) == (
        f"{db} is being indexed by another run (its lock file {db / LOCK_FILE} names no process yet); wait for "
        f"that run to finish, or delete {db / LOCK_FILE} if no run is indexing into {db}"
    )
