"""What the studies share: logged, resumable steps, the song-level split of their synthetic corpus, and
training a CLAP model from a packaged recipe (:func:`clap_model`).

Every step keeps its output in the study's working folder and is skipped when that output is
there (:func:`trained`, a prepared corpus's ``segments.parquet``), so an interrupted study resumes
where it stopped; training itself resumes from its last checkpoint.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from songalign.checkpoint import WEIGHTS_FILE
from songalign.corpus.prepare import prepare_corpus
from songalign.corpus.segmenter import SplitConfig
from songalign.runs import recipe_path, updated

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


def clap_model(
    recipe: str,
    out: Path,
    corpus: Path,
    seed: int,
    epochs: int | None = None,
    *,
    augment: bool = True,
    progress: bool = True,
    **changes: Any,
) -> Path:
    """The model folder of the CLAP recipe ``configs/<recipe>.yaml`` trained into ``out`` on the prepared
    ``corpus`` with ``seed`` — or the one already there (:func:`trained`).

    ``epochs`` replaces the recipe's when given; ``augment=False`` turns SpecAugment off (a frozen
    tower's outputs are then computed once); ``changes`` are further typed changes as
    :func:`songalign.runs.updated` takes them (``init_from=folder``, ``model={...}``).
    """
    from songalign.align.train import load_recipe, train

    folder = out / "model"
    if trained(folder):
        return folder
    settings: dict[str, Any] = {"seed": seed}
    if epochs is not None:
        settings["epochs"] = epochs
    if not augment:
        settings["augment"] = None
    recipe_ = updated(load_recipe(recipe_path(recipe)), out=out, data={"corpus": corpus}, train=settings, **changes)
    return train(recipe_, progress=progress)
