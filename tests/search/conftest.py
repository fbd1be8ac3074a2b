"""Shared fixtures of the search tests: one small corpus, one tiny model, one index, one live server."""

from __future__ import annotations

import os
import signal
import traceback

import pytest
import torch

from songalign.search import SongSearch, build_index
from songalign.search.service import ServiceSettings, create_app
from songalign.search.testing import running_server, tiny_search_model, write_search_corpus

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

    The child is forked (not spawned: a fresh interpreter spends ~10 s importing torch and the
    text tower) before this process has touched LanceDB, whose runtime threads would not survive
    a fork; it then runs the real :func:`build_index` from the model folder, on its own, while
    the tests go on. ``test_search_index`` waits for it and resumes the run.
    """
    db = tmp_path_factory.mktemp("killed") / "db"

    def die(added: int) -> None:
        if added >= KILL_AFTER_ROWS:  # no clean-up, no finally blocks: like `kill -9` from outside
            os.kill(os.getpid(), signal.SIGKILL)

    pid = os.fork()
    if pid == 0:
        try:
            torch.set_num_threads(1)
            build_index(search_model[0], search_corpus, db, batch_size=4, progress=False, on_batch=die)
        except BaseException:
            traceback.print_exc()
        finally:
            os._exit(3)  # never return into pytest
    yield pid, db
    try:
        os.kill(pid, signal.SIGKILL)
        os.waitpid(pid, 0)
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
