"""Song search: a LanceDB vector index of segments, a query API, an HTTP service and a web page.

- :mod:`~songalign.search.store`: the ``segments`` table (audio and lyric vectors per segment).
- :mod:`~songalign.search.indexer`: :func:`build_index` (``songalign index``), idempotent and resumable.
- :mod:`~songalign.search.query`: :class:`SongSearch` — by text, by audio clip, by song; filters; top-k.
- :mod:`~songalign.search.service`: :func:`create_app`, the FastAPI service and web page (``songalign serve``).
- :mod:`~songalign.search.commands`: the ``index``, ``search`` and ``serve`` commands.
"""

from __future__ import annotations

from songalign.search.indexer import IndexResult, build_index, model_identity
from songalign.search.query import Hit, SongSearch, Target
from songalign.search.store import AnnSettings, Filters, SegmentStore

__all__ = [
    "AnnSettings",
    "Filters",
    "Hit",
    "IndexResult",
    "SegmentStore",
    "SongSearch",
    "Target",
    "build_index",
    "model_identity",
]
