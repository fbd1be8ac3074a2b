"""Separating audio files into stem files: what ``songalign separate`` does, callable from Python.

``separate_files(paths, out)`` writes ``OUT/<name>.<stem>.flac`` (24-bit FLAC at the separator's rate,
with the input's channel count) for every input, keeps going past files that do not decode (a
:class:`~songalign.errors.SkipReport` says which and why), skips a file whose stem files are all there
and made by the same separator (a run resumes where it stopped), and overwrites nothing unless ``force``.
A stem file is written through a temporary file and renamed, so an interrupted run never leaves half a
FLAC that counts as done.

Which separator made each stem file is recorded in ``OUT/.songalign-separate.json`` (:data:`RECORD`):
``{"<name>.<stem>.flac": {"separator": source, "digest": digest}}``, with the separator's
:attr:`~songalign.separate.Separator.digest` (weights and processing). A stem file that is there but was
made by another separator, or that the record does not know (a user's file), is not taken as done: its
input is skipped with one sentence, and ``force`` redoes it.
"""

from __future__ import annotations

import json
import os
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from songalign.errors import BadInputError, SkipReport, SongalignError
from songalign.separate import STEMS, Separator, build_separator, torch_threads

DEFAULT_SEPARATOR = "spleeter"
RECORD = ".songalign-separate.json"
"""The file in ``--out`` that records which separator made each stem file."""


def stem_path(out: Path, audio: Path, stem: str) -> Path:
    """Where ``audio``'s ``stem`` goes: ``OUT/<audio's name without suffix>.<stem>.flac``."""
    return out / f"{audio.stem}.{stem}.flac"


@dataclass
class Separated:
    """What :func:`separate_files` did: the files written, the inputs found already done, the report."""

    written: list[Path] = field(default_factory=list)
    already_done: list[Path] = field(default_factory=list)
    report: SkipReport = field(default_factory=SkipReport)


def _replace_into(path: Path, write) -> None:
    """Call ``write(partial)`` on a temporary file beside ``path`` and rename it to ``path``: a reader never
    sees half a file; the temporary file is removed when ``write`` fails."""
    handle, partial = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".partial")
    os.close(handle)
    try:
        write(partial)
        os.replace(partial, path)
    finally:
        Path(partial).unlink(missing_ok=True)


def _write_flac(path: Path, audio: np.ndarray, sample_rate: int) -> None:
    """``audio`` ``(channels, samples)`` as 24-bit FLAC at ``path``, through a temporary file renamed into place
    (samples clipped to [-1, 1]: libsndfile would wrap them around)."""
    import soundfile as sf

    _replace_into(
        path,
        lambda partial: sf.write(partial, np.clip(audio.T, -1.0, 1.0), sample_rate, format="FLAC", subtype="PCM_24"),
    )


def read_record(out: Path) -> dict[str, dict[str, str]]:
    """``OUT/.songalign-separate.json``: stem file name → ``{"separator", "digest"}``; ``{}`` when there is none.
    One sentence when it is not such a record."""
    path = out / RECORD
    if not path.is_file():
        return {}
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        record = None
    if not isinstance(record, dict) or not all(isinstance(v, dict) for v in record.values()):
        raise BadInputError(path, "is not a record of separated stems; delete it and separate again with --force")
    return record


def _write_record(out: Path, record: dict[str, dict[str, str]]) -> None:
    text = json.dumps(dict(sorted(record.items())), indent=1) + "\n"
    _replace_into(out / RECORD, lambda partial: Path(partial).write_text(text, encoding="utf-8"))


def _not_done(target: Path, entry: dict[str, str] | None, name: str, digest: str) -> str:
    """Why the existing stem file ``target`` is not this separator's (``entry``: what the record says of it)."""
    if entry is None:
        return f"{target} is already there but {RECORD} does not say songalign separate made it"
    return (
        f"{target} was made by the separator {entry.get('separator', '?')} (digest {entry.get('digest', '?')}), "
        f"not {name} (digest {digest})"
    )


def separate_files(
    paths: Sequence[str | Path],
    out: str | Path,
    *,
    stems: Sequence[str] = STEMS,
    separator: str | Separator = DEFAULT_SEPARATOR,
    force: bool = False,
    progress: bool = True,
    threads: int | None = None,
) -> Separated:
    """Separate every audio file of ``paths`` into ``stems`` files under ``out`` (made when missing).

    ``separator`` is a source (:func:`~songalign.separate.build_separator`: ``spleeter``,
    ``open-unmix:FOLDER``) or a built separator; it is built before anything else is decided, as its
    ``digest`` tells its stem files from others. A file whose stem files all exist and are recorded as this
    separator's is left alone (``already_done``); with some of them there, only the missing ones are written;
    a stem file made by another separator or not recorded at all skips its input with one sentence, unless
    ``force`` (which redoes every stem). A file given twice is separated once; two files with the same name
    would share stem files, so the second is skipped. One sentence for an unknown stem or separator before
    any audio is read. ``threads``: torch's intra-op threads while separating (None: torch's setting).
    """
    from songalign.audio.io import load_audio
    from songalign.console import progress_bar

    unknown = [stem for stem in stems if stem not in STEMS]
    if unknown or not stems:
        raise SongalignError(f"--stems {', '.join(unknown) or '(none)'} is not a stem; choose among {', '.join(STEMS)}")
    out = Path(out)
    if out.exists() and not out.is_dir():
        raise BadInputError(out, "is a file, not a folder; give --out a folder for the stem files")
    done = Separated()
    inputs: list[Path] = []
    names: dict[str, Path] = {}
    seen: set[Path] = set()
    for given in map(Path, paths):
        if given.resolve() in seen:  # a file given twice is separated once
            continue
        seen.add(given.resolve())
        if given.stem in names:
            done.report.skip(
                given,
                f"is named as {names[given.stem]} is ({given.stem}), so their stems would be the same files in "
                f"{out}; rename one or separate them into different --out folders",
            )
            continue
        names[given.stem] = given
        inputs.append(given)
    if not inputs:
        return done
    name = separator if isinstance(separator, str) else type(separator).__name__
    model = build_separator(separator) if isinstance(separator, str) else separator
    record = read_record(out)
    todo: list[tuple[Path, list[str]]] = []
    for path in inputs:
        missing, conflict = [], ""
        for stem in stems:
            target = stem_path(out, path, stem)
            entry = record.get(target.name)
            if force or not target.exists():
                missing.append(stem)
            elif entry is None or entry.get("digest") != model.digest:
                conflict = conflict or _not_done(target, entry, name, model.digest)
        if conflict:
            done.report.skip(path, f"{conflict}; give --force to separate it again, or another --out")
        elif missing:
            todo.append((path, missing))
        else:
            done.already_done.append(path)
    if not todo:
        done.report.kept = len(done.already_done)
        return done
    out.mkdir(parents=True, exist_ok=True)
    with (
        torch_threads(threads),
        progress_bar(progress) as bar,
    ):
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
                record.pop(target.name, None)  # a file being replaced is no longer what the record said
                _write_flac(target, separated.stem(stem), separated.sample_rate)
                record[target.name] = {"separator": name, "digest": model.digest}
                _write_record(out, record)
                done.written.append(target)
            done.report.kept += 1
            bar.advance(task)
    done.report.kept += len(done.already_done)
    return done
