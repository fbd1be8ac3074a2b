"""Lyrics aligners: what times plain lyric lines in a song's audio, chosen by name.

A reader that must time untimed lyrics (the folder reader's ``.txt``) asks :data:`ALIGNERS` for an
aligner by name and never imports the package that implements it: the corpus layer sits below the
tasks, and the registry's lazy ``"module:attr"`` target is the only thing that names them. ::

    aligner = ALIGNERS["ctc"](model_dir)        # checks model_dir at once; loads weights at first use
    aligned = aligner.align(audio_path, ["first line", "second line"], report)
    aligned.lines, aligned.words, aligned.log_likelihood, aligned.vocals, aligner.describe()

=========  ==============================================  ========================================
name       implementation                                  what it needs
=========  ==============================================  ========================================
``ctc``    ``CtcLyricsAligner``, the transcription task's  a transcriber folder that writes lyrics
           ``listen`` module (named by the lazy string
           below, never imported here)
=========  ==============================================  ========================================

Other packages add theirs through the ``songalign.aligners`` entry points; a new aligner is one
class with ``__init__(model, **options)``, :meth:`LyricsAligner.align` and
:meth:`LyricsAligner.describe`, and one registered name. An aligner that hears a vocal channel takes
the option ``vocals`` (``"spleeter"``, ``"mix"``, ...: a command's ``--vocals``), which the folder reader
passes from its ``aligner_vocals`` option.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from songalign.corpus.records import Line, Word
from songalign.errors import SkipReport
from songalign.registry import Registry


@dataclass
class AlignedLyrics:
    """Plain lyrics with times (seconds from the start of the audio), as an aligner found them.

    ``words`` holds every word as written, with the index of its line; ``lines`` one
    :class:`~songalign.corpus.records.Line` per given line, in order; ``log_likelihood`` the
    alignment's score (natural log; for CTC the Viterbi path's log-probability summed over frames;
    comparable between alignments of one aligner only); ``vocals`` says what the aligner heard as
    the singing voice (e.g. ``"mix copy"`` or a separator; empty when not said).
    """

    words: list[Word] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    log_likelihood: float = 0.0
    vocals: str = ""


@runtime_checkable
class LyricsAligner(Protocol):
    """Times plain lyric lines in a song's audio.

    Built as ``ALIGNERS[name](model, **options)``: the constructor checks what it was given and
    raises :class:`~songalign.errors.SongalignError` in one sentence before any song is read; heavy
    loading waits for the first :meth:`align`.
    """

    def align(self, audio_path: Path, lines: Sequence[str], report: SkipReport) -> AlignedLyrics:
        """Time ``lines`` (in order) in the audio file.

        Raises :class:`~songalign.errors.BadInputError` when the audio does not decode and
        :class:`~songalign.errors.SongalignError` when the lyrics do not fit it; a note about how
        the audio was heard (said once) goes to ``report``.
        """
        ...

    def describe(self) -> dict[str, Any]:
        """What a song timed by this aligner records in ``extra["aligned_by"]`` (JSON values)."""
        ...


ALIGNERS: Registry[Any] = Registry("aligners", what="lyrics aligner")
"""Lyrics aligners by name; other packages add theirs through the ``songalign.aligners`` entry points."""

ALIGNERS.register("ctc", "songalign.transcribe.listen:CtcLyricsAligner")
