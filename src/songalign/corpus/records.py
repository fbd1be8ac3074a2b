"""Typed records for songs with time-aligned lyrics, and the segments cut from them.

Every corpus reader produces :class:`Song` records; the segmenter turns them into
:class:`Segment` records. All times are in seconds (:data:`Seconds`) from the start of the
song's audio file; pitches are MIDI note numbers (float, 69.0 = A4 = 440 Hz).

Records are plain dataclasses with ``to_dict``/``from_dict`` so that they round-trip through
JSON and Parquet without loss (see :mod:`songalign.corpus.manifest`).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field, fields
from typing import Any

Seconds = float
"""Time in seconds from the start of a song's audio file."""


def hz_to_midi(freq_hz: float) -> float:
    """Convert a frequency in Hz to a (fractional) MIDI note number; 440 Hz -> 69.0."""
    if not freq_hz > 0:
        raise ValueError(f"a frequency must be positive to convert to MIDI, got {freq_hz!r} Hz")
    return 69.0 + 12.0 * math.log2(freq_hz / 440.0)


def midi_to_hz(midi: float) -> float:
    """Convert a (fractional) MIDI note number to Hz; 69.0 -> 440 Hz."""
    return 440.0 * 2.0 ** ((midi - 69.0) / 12.0)


@dataclass
class _Record:
    """Shared dict conversion for the record dataclasses."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]):
        known = {f.name for f in fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass
class Word(_Record):
    """One sung word. ``line`` is the index of its line in ``Song.lines`` (-1 if unknown)."""

    text: str
    start: Seconds
    end: Seconds
    line: int = -1


@dataclass
class Line(_Record):
    """One lyric line. ``paragraph`` is the index of its paragraph in ``Song.paragraphs``."""

    text: str
    start: Seconds
    end: Seconds
    paragraph: int = -1


@dataclass
class Paragraph(_Record):
    """A group of lines (a verse, a chorus)."""

    text: str
    start: Seconds
    end: Seconds


@dataclass
class Note(_Record):
    """A sung (or lead-melody) note: ``pitch`` in MIDI numbers, ``word`` the index of its word."""

    start: Seconds
    end: Seconds
    pitch: float
    word: int = -1
    text: str = ""


@dataclass
class Song(_Record):
    """A song with its metadata and time-aligned lyrics.

    ``audio_path`` is an absolute path (or ``""`` when the corpus has no audio for the song);
    ``duration`` is the audio's length in seconds when known. ``extra`` holds
    corpus-specific metadata (JSON-serialisable values only).
    """

    id: str
    title: str = ""
    artist: str = ""
    language: str = ""
    audio_path: str = ""
    duration: Seconds | None = None
    licence: str = ""
    genre: str = ""
    words: list[Word] = field(default_factory=list)
    lines: list[Line] = field(default_factory=list)
    paragraphs: list[Paragraph] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Song:
        data = dict(data)
        for name, record in (("words", Word), ("lines", Line), ("paragraphs", Paragraph), ("notes", Note)):
            data[name] = [item if isinstance(item, record) else record.from_dict(item) for item in data.get(name) or []]
        data["extra"] = dict(data.get("extra") or {})
        return super().from_dict(data)

    def line_words(self, line_index: int) -> list[Word]:
        """The words whose ``line`` is ``line_index``, in time order."""
        return [w for w in self.words if w.line == line_index]


@dataclass
class Segment(_Record):
    """A stretch of a song (about 10 s) with the lyric lines sung in it.

    ``text`` is the segment's lyrics, its lines joined by newlines; ``first_line`` and
    ``last_line`` index ``Song.lines`` (inclusive). ``description`` is a one-sentence
    description of the lyrics' emotion (filled by :mod:`songalign.describe`); ``labels``
    holds structured labels (e.g. ``emotion``, ``valence``, ``arousal``) and ``split`` is
    ``train``, ``val`` or ``test``.
    """

    id: str
    song_id: str
    start: Seconds
    end: Seconds
    text: str
    first_line: int = -1
    last_line: int = -1
    audio_path: str = ""
    language: str = ""
    split: str = ""
    description: str = ""
    caption: str = ""
    labels: dict[str, Any] = field(default_factory=dict)

    @property
    def duration(self) -> Seconds:
        return self.end - self.start
