"""Song search: a LanceDB vector index of segments, a query API, an HTTP service and a web page.

- :mod:`~songalign.search.store`: the ``segments`` table (audio and lyric vectors per segment).
- :mod:`~songalign.search.indexer`: :func:`build_index` (``songalign index``), idempotent and resumable.
- :mod:`~songalign.search.query`: :class:`SongSearch` — by text, by audio clip, by song; filters; top-k.
- :mod:`~songalign.search.service`: :func:`create_app`, the FastAPI service and web page (``songalign serve``).
- :mod:`~songalign.search.commands`: the ``index``, ``search`` and ``serve`` commands.
"""

from __future__ import annotations

import importlib
from typing import Any

_HOMES = {
    "AnnSettings": "store",
    "Filters": "store",
    "SegmentStore": "store",
    "Hit": "query",
    "SongSearch": "query",
    "Target": "query",
    "IndexResult": "indexer",
    "build_index": "indexer",
    "model_identity": "indexer",
}


def __getattr__(name: str) -> Any:
    """Import the heavy submodules (torch, LanceDB) only when one of their names is used."""
    if name in _HOMES:
        return getattr(importlib.import_module(f"songalign.search.{_HOMES[name]}"), name)
    raise AttributeError(f"module 'songalign.search' has no attribute {name!r}")


__all__ = sorted(_HOMES)
