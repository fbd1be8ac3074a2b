"""Separating audio files into stem files: what ``songalign separate`` does, callable from Python.

``separate_files(paths, out)`` writes ``OUT/<name>.<stem>.flac`` (24-bit FLAC at the separator's rate,
with the input's channel count) for every input, keeps going past files that do not decode (a
:class:`~songalign.errors.SkipReport` says which and why), skips a file whose stem files are all there
(a run resumes where it stopped), and overwrites nothing unless ``force``. A stem file is written through
a temporary file and renamed, so an interrupted run never leaves half a FLAC that counts as done.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from songalign.errors import BadInputError, SkipReport, SongalignError
from songalign.separate import SEPARATORS, STEMS, Separator

DEFAULT_SEPARATOR = "spleeter"


def build_separator(source: str) -> Separator:
    """The separator ``source`` names: a registered ``NAME`` or ``NAME:MODEL`` (``spleeter``,
    ``open-unmix:FOLDER``); an unknown name is one sentence listing the others."""
    name, _, model = source.partition(":")
    return SEPARATORS[name](model or None)


def stem_path(out: Path, audio: Path, stem: str) -> Path:
    """Where ``audio``'s ``stem`` goes: ``OUT/<audio's name without suffix>.<stem>.flac``."""
    return out / f"{audio.stem}.{stem}.flac"


@dataclass
class Separated:
    """What :func:`separate_files` did: the files written, the inputs found already done, the report."""

    written: list[Path] = field(default_factory=list)
    already_done: list[Path] = field(default_factory=list)
    report: SkipReport = field(default_factory=SkipReport)


def _write_flac(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """``audio`` ``(channels, samples)`` as 24-bit FLAC at ``path``, through a temporary file renamed into place
    (samples clipped to [-1, 1]: libsndfile would wrap them around)."""
    import soundfile as sf

    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(handle)
    try:
        sf.write(partial, np.clip(audio.T, -1.0, 1.0), sample_rate, format="FLAC", subtype="PCM_24")
        os.replace(partial, path)
    finally:
        Path(partial).unlink(missing_ok=True)


def separate_files(
    paths: Sequence[str | Path],
    out: str | Path,
    *,
    stems: Sequence[str] = STEMS,
    separator: str | Separator = DEFAULT_SEPARATOR,
    force: bool = False,
    progress: bool = True,
) -> Separated:
    """Separate every audio file of ``paths`` into ``stems`` files under ``out`` (made when missing).

    ``separator`` is a registered source (:func:`build_separator`) or a built separator. A file whose
    stem files all exist is left alone (``already_done``) unless ``force``; with some of them there, only
    the missing ones are written. One sentence for an unknown stem or separator before any audio is read.
    """
    from rich.console import Console
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from songalign.audio.io import load_audio

    unknown = [stem for stem in stems if stem not in STEMS]
    if unknown or not stems:
        raise SongalignError(f"--stems {', '.join(unknown) or '(none)'} is not a stem; choose among {', '.join(STEMS)}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BadInputError(out, "is a file, not a folder; give --out a folder for the stem files")
    done = Separated()
    todo: list[tuple[Path, list[str]]] = []
    names: dict[str, Path] = {}
    for given in map(Path, paths):
        if given.stem in names:
            done.report.skip(
                given, f"has the same name as {names[given.stem]}, so their stems would share files; rename one"
            )
            continue
        names[given.stem] = given
        missing = [stem for stem in stems if force or not stem_path(out, given, stem).exists()]
        (todo.append((given, missing)) if missing else done.already_done.append(given))
    if not todo:
        done.report.kept = len(done.already_done)
        return done
    model = build_separator(separator) if isinstance(separator, str) else separator
    out.mkdir(parents=True, exist_ok=True)
    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True), disable=not progress, transient=False) as bar:
        task = bar.add_task("separating", total=len(todo))
        for path, missing in todo:
            bar.update(task, description=f"separating {path.name}")
            try:
                audio, rate = load_audio(path, mono=False)
                if audio.shape[-1] == 0:
                    raise BadInputError(path, "holds no audio; give a file with sound in it")
            except BadInputError as error:
                done.report.add_error(error)
                bar.advance(task)
                continue
            separated = model.separate(audio, rate)
            for stem in missing:
                target = stem_path(out, path, stem)
                _write_flac(target, separated.stem(stem), separated.sample_rate)
                done.written.append(target)
            done.report.kept += 1
            bar.advance(task)
    done.report.kept += len(done.already_done)
    return done
