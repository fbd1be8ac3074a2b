"""Song search: a LanceDB vector index of segments, a query API, an HTTP service and a web page.

- :mod:`~songalign.search.store`: the ``segments`` table (audio and lyric vectors per segment).
- :mod:`~songalign.search.ann`: the ANN index — its kind chosen by table size, IVF/PQ parameters, nprobes and
  refinement, building it, tuning it to a recall target (``songalign index --target-recall``).
- :mod:`~songalign.search.ray_index`: the IVF_PQ index built on Ray (``--engine ray`` on large tables).
- :mod:`~songalign.search.indexer`: :func:`build_index` (``songalign index``), idempotent and resumable.
- :mod:`~songalign.search.lock`: :func:`writer_lock`, one indexing run per database at a time (both engines).
- :mod:`~songalign.search.query`: :class:`SongSearch` — by text, by audio clip, by song; filters; top-k.
- :mod:`~songalign.search.service`: :func:`create_app`, the FastAPI service and web page (``songalign serve``).
- :mod:`~songalign.search.commands`: the ``index``, ``search`` and ``serve`` commands.
"""

from __future__ import annotations

from songalign.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "AnnSettings": "ann",
    "Filters": "store",
    "SegmentStore": "store",
    "Hit": "query",
    "SegmentMatch": "query",
    "SongSearch": "query",
    "Target": "query",
    "IndexResult": "indexer",
    "build_index": "indexer",
    "model_identity": "indexer",
}
"""Public name → the submodule of :mod:`songalign.search` that defines it; the heavy submodules
(torch, LanceDB) are imported only when one of their names is used."""

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
