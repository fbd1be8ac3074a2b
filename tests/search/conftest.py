"""Shared fixtures of the search tests: one small corpus, one tiny model, one index, one live server."""

from __future__ import annotations

import multiprocessing
import os
import signal

import pytest

from songalign.search import SongSearch, build_index
from songalign.search.service import ServiceSettings, create_app
from songalign.search.testing import index_until_killed, running_server, tiny_search_model, write_search_corpus

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing in these tests may download

UPLOAD_LIMIT = 2 * 2**20
CLIP_LIMIT_SECONDS = 20.0


@pytest.fixture(scope="session")
def search_corpus(tmp_path_factory):
    """A prepared 6-song, 12-segment corpus (see :func:`songalign.search.testing.write_search_corpus`)."""
    return write_search_corpus(tmp_path_factory.mktemp("search-corpus"))


@pytest.fixture(scope="session")
def search_model(search_corpus, tmp_path_factory):
    """``(folder, model)``: the tiny model saved to a folder, and the loaded instance."""
    return tiny_search_model(search_corpus, tmp_path_factory.mktemp("search-model") / "model")


KILL_AFTER_ROWS = 8


@pytest.fixture(scope="session", autouse=True)
def killed_index_run(search_corpus, search_model, tmp_path_factory):
    """``(pid, db)`` of an index run in a child process that is SIGKILLed right after its second commit.

    The child is a fresh interpreter (multiprocessing's spawn), not a fork: a fork of a process in
    which LanceDB already runs (any test before this fixture that indexed or searched) copies none of
    LanceDB's runtime threads, and the child's first commit then hangs. It runs the real
    :func:`build_index` from the model folder (:func:`songalign.search.testing.index_until_killed`), on
    its own, while the tests go on. ``test_search_index`` waits for it and resumes the run.
    """
    db = tmp_path_factory.mktemp("killed") / "db"
    child = multiprocessing.get_context("spawn").Process(
        target=index_until_killed, args=(str(search_model[0]), str(search_corpus), str(db), KILL_AFTER_ROWS)
    )
    child.start()
    yield child.pid, db
    try:
        os.kill(child.pid, signal.SIGKILL)
        os.waitpid(child.pid, 0)
    except (ProcessLookupError, ChildProcessError):
        pass  # already reaped by the test


@pytest.fixture(scope="session")
def search_db(search_corpus, search_model, tmp_path_factory):
    """The corpus indexed in one clean run (batches of 4)."""
    folder, model = search_model
    db = tmp_path_factory.mktemp("search-db") / "db"
    result = build_index(folder, search_corpus, db, model=model, batch_size=4, progress=False)
    assert result.added == 12 and not result.report.skipped
    return db


@pytest.fixture(scope="session")
def song_search(search_db, search_model):
    return SongSearch.open(search_db, model=search_model[1])


@pytest.fixture(scope="session")
def service_settings():
    return ServiceSettings(max_upload_bytes=UPLOAD_LIMIT, max_audio_seconds=CLIP_LIMIT_SECONDS, request_timeout=30.0)


@pytest.fixture(scope="session")
def live_url(song_search, service_settings):
    """Base URL of the real service (uvicorn on 127.0.0.1, ephemeral port) over the session's index."""
    with running_server(create_app(song_search, service_settings)) as url:
        yield url
