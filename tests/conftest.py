"""Shared test setup: the whole suite runs offline (nothing may download models or data)."""

from __future__ import annotations

import os

import pytest

os.environ.setdefault("HF_HUB_OFFLINE", "1")  # nothing in these tests may download


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    try:
        from huggingface_hub import constants
    except ImportError:
        return
    monkeypatch.setattr(constants, "HF_HUB_OFFLINE", True)


@pytest.fixture(scope="session", autouse=True)
def _cache_of_converted_weights(tmp_path_factory):
    """Converted weights (musicnn's) go to a cache of the test session's own, not the user's."""
    os.environ["SONGALIGN_CACHE"] = str(tmp_path_factory.mktemp("songalign-cache"))


@pytest.fixture(scope="session")
def musicnn_installed() -> None:
    """Skip (or, with SONGALIGN_REQUIRE_MUSICNN=1 as in CI, fail) when the musicnn wheel's weights are absent."""
    import importlib.util

    if importlib.util.find_spec("musicnn") is None:
        message = "the musicnn wheel is not installed (pip install --no-deps musicnn==0.1.0)"
        if os.environ.get("SONGALIGN_REQUIRE_MUSICNN"):
            pytest.fail(message)
        pytest.skip(message)


@pytest.fixture
def register_separator(tmp_path, monkeypatch):
    """``register(name, factory)`` registers a separator for one test (as a plugin would be), with a separation
    cache of its own under ``tmp_path / "cache"``; everything registered is unregistered afterwards."""
    from songalign.separate import SEPARATORS
    from songalign.transcribe.listen import separator

    monkeypatch.setenv("SONGALIGN_CACHE", str(tmp_path / "cache"))
    separator.cache_clear()
    names: list[str] = []

    def register(name: str, factory) -> None:
        SEPARATORS.register(name, factory)
        names.append(name)
        if isinstance(factory, type) and hasattr(factory, "calls"):
            factory.calls = 0

    yield register
    for name in names:
        SEPARATORS.unregister(name)
    separator.cache_clear()
