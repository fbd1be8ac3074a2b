"""What the studies share: logged, resumable steps and the song-level split of their synthetic corpus.

Every step keeps its output in the study's working folder and is skipped when that output is
there (:func:`trained`, a prepared corpus's ``segments.parquet``), so an interrupted study resumes
where it stopped; training itself resumes from its last checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

from songalign.checkpoint import WEIGHTS_FILE
from songalign.corpus.prepare import prepare_corpus
from songalign.corpus.segmenter import SplitConfig

QUICKSTART_SPLIT = SplitConfig(train=0.7, val=0.15, test=0.15)
"""Larger evaluation splits than the usual 80/10/10: with 64 songs, 10 songs (~30 segments) each."""


def step(log: Callable[[str], None], title: str) -> float:
    """Log the step's ``title``; returns its start (``time.perf_counter()`` seconds)."""
    log(title)
    return time.perf_counter()


def trained(folder: Path) -> bool:
    """Whether ``folder`` already holds a saved model (its weights file), so training it again is skipped."""
    return (folder / WEIGHTS_FILE).is_file()


def prepared(raw: Path, corpus: Path, seed: int, *, progress: bool = True) -> Path:
    """The synthetic corpus in ``raw`` prepared into ``corpus`` (JamendoLyrics layout, :data:`QUICKSTART_SPLIT`
    with ``seed``), unless it is there already; returns ``corpus``."""
    if not (corpus / "segments.parquet").is_file():
        prepare_corpus(
            "jamendo", raw, corpus, split=QUICKSTART_SPLIT.model_copy(update={"seed": seed}), progress=progress
        )
    return corpus
