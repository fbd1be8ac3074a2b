"""What the alignment tests share: a tiny prepared corpus."""

from __future__ import annotations

import pytest

from songalign.corpus.prepare import prepare_corpus
from songalign.corpus.testing import FakeSong, regular_lines, write_jamendo_corpus


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    """8 songs of 30 s, two paragraphs of three 2.5 s lines each, prepared with the default splits."""
    root = tmp_path_factory.mktemp("tiny")
    songs = [
        FakeSong(
            f"Artist_{i}_-_Song_{i}",
            [regular_lines(3, start=1.0 + 14 * p, length=2.5, gap=0.3, text=f"word{i} line{p}") for p in range(2)],
            duration=30.0,
        )
        for i in range(8)
    ]
    write_jamendo_corpus(root / "raw", songs)
    prepare_corpus("jamendo", root / "raw", root / "prepared", progress=False)
    return root / "prepared"
