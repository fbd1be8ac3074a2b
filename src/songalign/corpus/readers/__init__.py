"""Corpus readers: each turns a corpus on disk into :class:`~songalign.corpus.records.Song` records.

A reader is a function ``read_<name>(src: Path, report: SkipReport, **options) -> Iterator[Song]``.
It yields songs whose ``audio_path`` is absolute (or ``""`` when the corpus has no audio for
it) and whose ``duration`` may be ``None``: :func:`songalign.corpus.prepare.prepare_corpus`
probes the audio, repairs timings and segments the songs. A reader never stops at a bad
row or file: it adds it to ``report`` and goes on; it raises
:class:`~songalign.errors.SongalignError` only when ``src`` itself is unusable.

A new reader is one module here and one ``READERS.register(name, "module:function")`` line
below; another package adds one through an entry point in the group ``songalign.readers`` (see
:mod:`songalign.registry`). Either way it is one of the KIND choices of ``songalign corpus prepare``
(``READERS.names()``), and ``READERS[name]`` is the function.

Song-level extras understood downstream (in ``Song.extra``):

- ``untimed`` (bool): the song has one lyric text and no timing; it becomes one segment
  spanning the whole audio file (at least ``--min`` seconds long), or a lyrics-only segment when
  the song has no audio (see :mod:`songalign.corpus.prepare`).
- ``description`` (str): a description to copy onto that segment.
- ``reference_sections`` (list of dicts with ``start``, ``end`` and any of ``emotion``,
  ``valence``, ``arousal``, ``caption``): ground truth that segments inherit by overlap.
- ``interpretations`` (list of dicts with ``text`` and ``votes``): song-level interpretations
  that the captioner trains on (see :mod:`songalign.corpus.readers.interpretation`).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

from songalign.corpus.records import Song
from songalign.errors import SkipReport, SongalignError
from songalign.registry import Registry

Reader = Callable[..., Iterator[Song]]

READERS: Registry[Reader] = Registry("readers", what="corpus reader")
"""The corpus readers by name; other packages add theirs through the ``songalign.readers`` entry points."""

READERS.register("jamendo", "songalign.corpus.readers.jamendo:read_jamendo")
READERS.register("dali", "songalign.corpus.readers.dali:read_dali")
READERS.register("folder", "songalign.corpus.readers.folder:read_folder")
READERS.register("pairs", "songalign.corpus.readers.folder:read_pairs")
READERS.register("interpretation", "songalign.corpus.readers.interpretation:read_interpretation")


def read_songs(name: str, src: str | Path, report: SkipReport, **options) -> Iterator[Song]:
    """Read a corpus with the named reader; an option the reader does not take fails in one sentence.

    ``src`` and ``report`` are passed to every reader, so the error lists only the reader's own options.
    """
    src = Path(src)
    if not src.exists():
        raise SongalignError(f"{src} does not exist; give the folder (or file) that holds the {name} corpus")
    return READERS.build(name, {"src": src, "report": report}, **options)
