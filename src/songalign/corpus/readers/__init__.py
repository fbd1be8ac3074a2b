"""Corpus readers: each turns a corpus on disk into :class:`~songalign.corpus.records.Song` records.

A reader is a function ``read_<name>(src: Path, report: SkipReport, **options) -> Iterator[Song]``.
It yields songs whose ``audio_path`` is absolute (or ``""`` when the corpus has no audio for
it) and whose ``duration`` may be ``None``: :func:`songalign.corpus.prepare.prepare_corpus`
probes the audio, repairs timings and segments the songs. A reader never stops at a bad
row or file: it adds it to ``report`` and goes on; it raises
:class:`~songalign.errors.SongalignError` only when ``src`` itself is unusable.

Song-level extras understood downstream (in ``Song.extra``):

- ``untimed`` (bool): the song has one lyric text and no timing; it becomes one segment
  spanning the whole audio file.
- ``description`` (str): a description to copy onto that segment.
- ``reference_sections`` (list of dicts with ``start``, ``end`` and any of ``emotion``,
  ``valence``, ``arousal``, ``caption``): ground truth that segments inherit by overlap.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from importlib import import_module
from pathlib import Path

from songalign.corpus.records import Song
from songalign.errors import SkipReport, SongalignError

Reader = Callable[..., Iterator[Song]]

_READERS = {
    "jamendo": "songalign.corpus.readers.jamendo:read_jamendo",
    "dali": "songalign.corpus.readers.dali:read_dali",
    "folder": "songalign.corpus.readers.folder:read_folder",
    "pairs": "songalign.corpus.readers.folder:read_pairs",
}


def reader_names() -> list[str]:
    return sorted(_READERS)


def get_reader(name: str) -> Reader:
    """The reader registered under ``name`` (``jamendo``, ``dali``, ``folder``, ``pairs``)."""
    if name not in _READERS:
        raise SongalignError(f"unknown corpus reader '{name}'; choose one of {', '.join(reader_names())}")
    module, function = _READERS[name].split(":")
    return getattr(import_module(module), function)


def read_songs(name: str, src: str | Path, report: SkipReport, **options) -> Iterator[Song]:
    """Read a corpus with the named reader."""
    src = Path(src)
    if not src.exists():
        raise SongalignError(f"{src} does not exist; give the folder (or file) that holds the {name} corpus")
    return get_reader(name)(src, report, **options)
