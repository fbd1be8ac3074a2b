"""A CLAP-pre folder (``songalign models build clap-pre``) is indexed and searched like any model folder.

It lives here, not in ``tests/align``: LanceDB must not run in the test process before
``conftest.py`` forks its killed index run (its runtime threads would not survive the fork).
"""

from __future__ import annotations

import pytest

pytest.importorskip("transformers")

from songalign.align.pretrained import build_pretrained  # noqa: E402
from songalign.audio.io import load_audio  # noqa: E402
from songalign.audio.windows import segment_window  # noqa: E402
from songalign.corpus.manifest import CorpusManifest  # noqa: E402
from songalign.search import SongSearch, build_index  # noqa: E402
from songalign.towers.testing import TINY_CLIP_SECONDS, TINY_PROJECTION_DIM, TINY_SAMPLE_RATE, write_tiny_clap  # noqa: E402


def test_a_clap_pre_folder_indexes_and_searches_like_any_model(search_corpus, tmp_path):
    checkpoint = write_tiny_clap(tmp_path / "tiny-clap")
    folder = build_pretrained("clap-pre", tmp_path / "clap-pre", source=str(checkpoint))
    result = build_index(folder, search_corpus, tmp_path / "db", progress=False)
    assert result.added == 12 and not len(result.report)
    search = SongSearch.open(tmp_path / "db")  # finds the folder from the index and loads it
    assert search.store.meta["embedding_dim"] == TINY_PROJECTION_DIM
    segment = CorpusManifest.load(search_corpus).segments[5]
    offset, duration = segment_window(segment.start, segment.end, TINY_CLIP_SECONDS)
    window, _ = load_audio(segment.audio_path, TINY_SAMPLE_RATE, offset=offset, duration=duration)
    best = search.by_audio(window, k=1, target="audio")[0]
    assert best.segment_id == segment.id and best.score == pytest.approx(1.0, abs=1e-4)  # index and query agree
