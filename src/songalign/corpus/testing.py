"""Helpers that build small corpora and audio files for tests and examples (no committed data).

They live in the package, as in lhotse, so that users' own tests can build the same fixtures.
"""

from __future__ import annotations

import csv
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from songalign.corpus.lyrics_files import LINE_COLUMNS, WORD_COLUMNS
from songalign.corpus.readers.jamendo import JAMENDO_COLUMNS


def tone(duration: float, sample_rate: int = 16000, frequency: float = 220.0, channels: int = 1) -> np.ndarray:
    """A quiet sine with a little noise: ``(samples,)`` or ``(samples, channels)`` float32."""
    t = np.arange(int(round(duration * sample_rate))) / sample_rate
    rng = np.random.default_rng(int(frequency))
    mono = (0.3 * np.sin(2 * np.pi * frequency * t) + 0.01 * rng.standard_normal(t.shape)).astype(np.float32)
    return mono if channels == 1 else np.repeat(mono[:, None], channels, axis=1)


def write_audio(
    path: str | Path, duration: float, sample_rate: int = 16000, channels: int = 1, frequency: float = 220.0
) -> Path:
    """Write a tone to ``path``; the format follows the suffix (.wav, .flac, .ogg, .mp3)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    sf.write(str(path), tone(duration, sample_rate, frequency, channels), sample_rate)
    return path


@dataclass
class FakeSong:
    """A song for :func:`write_jamendo_corpus`: ``paragraphs`` of ``(text, start, end)`` lines (seconds)."""

    name: str
    paragraphs: list[list[tuple[str, float, float]]]
    duration: float = 30.0
    language: str = "English"
    artist: str = "Test Artist"
    title: str = "Test Title"
    write_audio: bool = True
    write_lines: bool = True
    extra_row: dict[str, str] = field(default_factory=dict)

    @property
    def lines(self) -> list[tuple[str, float, float]]:
        return [line for paragraph in self.paragraphs for line in paragraph]


def _word_times(text: str, start: float, end: float) -> list[tuple[str, float, float]]:
    words = text.split()
    step = (end - start) / len(words)
    return [(w, start + i * step, start + (i + 1) * step) for i, w in enumerate(words)]


def write_jamendo_corpus(root: str | Path, songs: Sequence[FakeSong], audio_format: str = "mp3") -> Path:
    """Write ``songs`` in the JamendoLyrics MultiLang layout under ``root``; returns ``root``.

    Words are spread evenly over their line. Audio is a tone of ``duration`` seconds, stored
    under ``mp3/`` with the given format's suffix (``Filepath`` in the CSV matches it).
    """
    root = Path(root)
    for folder in ("mp3", "lyrics", "annotations/words", "annotations/lines"):
        (root / folder).mkdir(parents=True, exist_ok=True)
    rows = []
    for index, song in enumerate(songs):
        filepath = f"{song.name}.{audio_format}"
        rows.append(
            {
                "URL": "",
                "Filepath": filepath,
                "Artist": song.artist,
                "Title": song.title,
                "Genre": "Pop",
                "LicenseType": "CC BY 4.0",
                "Language": song.language,
                "LyricOverlap": "false",
                "Polyphonic": "false",
                "NonLexical": "false",
                **song.extra_row,
            }
        )
        if song.write_audio:
            write_audio(root / "mp3" / filepath, song.duration, 22050, frequency=180.0 + 20 * index)
        (root / "lyrics" / f"{song.name}.txt").write_text(
            "\n\n".join("\n".join(text for text, _, _ in p) for p in song.paragraphs) + "\n", encoding="utf-8"
        )
        words = [w for text, start, end in song.lines for w in _word_times(text, start, end)]
        (root / "lyrics" / f"{song.name}.words.txt").write_text(
            "\n".join(w for w, _, _ in words) + "\n", encoding="utf-8"
        )
        with open(root / "annotations" / "words" / f"{song.name}.csv", "w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow(WORD_COLUMNS)
            for text, start, end in song.lines:
                line_words = _word_times(text, start, end)
                for i, (_, w_start, w_end) in enumerate(line_words):
                    writer.writerow([w_start, w_end, w_end if i == len(line_words) - 1 else "nan"])
        if song.write_lines:
            with open(root / "annotations" / "lines" / f"{song.name}.csv", "w", newline="", encoding="utf-8") as handle:
                writer = csv.writer(handle)
                writer.writerow(LINE_COLUMNS)
                writer.writerows([start, end, text] for text, start, end in song.lines)
    with open(root / "JamendoLyrics.csv", "w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=JAMENDO_COLUMNS)
        writer.writeheader()
        writer.writerows(rows)
    return root


def regular_lines(
    count: int, start: float = 1.0, length: float = 3.0, gap: float = 0.5, text: str = "la la la"
) -> list[tuple[str, float, float]]:
    """``count`` lines of ``length`` seconds separated by ``gap`` seconds, from ``start``."""
    return [(f"{text} {i}", start + i * (length + gap), start + i * (length + gap) + length) for i in range(count)]
