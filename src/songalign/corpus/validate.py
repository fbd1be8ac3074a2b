"""Checks on the timing of a song's lyrics, shared by every reader.

Real annotations have holes: NaN or negative times, words that end before they start, lines
that overlap their neighbours, lines that run past the end of the audio. :func:`clean_song`
repairs what can be repaired without guessing (sorting, clipping a small overlap or an end
past the audio) and drops what cannot, reporting each change to a :class:`SkipReport` so that
nothing is lost silently.
"""

from __future__ import annotations

import math
from dataclasses import replace

from songalign.corpus.records import Line, Song, Word
from songalign.errors import SkipReport

TOLERANCE = 0.05
"""Seconds by which a time may stray (past the audio's end, below zero) before it is an error."""


def _is_time(value) -> bool:
    return isinstance(value, int | float) and math.isfinite(value)


def _check_span(item, limit: float | None) -> str | None:
    """Why a timed item is unusable, or None if it is fine (after clipping, see callers)."""
    if not (_is_time(item.start) and _is_time(item.end)):
        return f"time is not a number (start={item.start!r}, end={item.end!r})"
    if item.start < -TOLERANCE:
        return f"starts at a negative time ({item.start:.3f} s)"
    if item.end < item.start:
        return f"ends before it starts ({item.start:.3f} s > {item.end:.3f} s)"
    if limit is not None and item.start >= limit:
        return f"starts at {item.start:.3f} s, after the audio ends ({limit:.3f} s)"
    return None


def _clean(items: list, kind: str, limit: float | None, path: str, song_id: str, report: SkipReport):
    """Drop unusable items, clip the rest into [0, limit]; returns (kept, old index -> new index).

    Lines are reported one by one; words, notes and paragraphs in one message per song and kind
    (a bad line usually takes all of its words with it).
    """
    kept, remap, problems = [], {}, []
    for index, item in enumerate(items):
        problem = _check_span(item, limit)
        if problem:
            label = (getattr(item, "text", "") or "").replace("\n", " / ")[:40]
            problems.append(f"{kind} {index} ('{label}') {problem}")
            continue
        end = min(item.end, limit) if limit is not None else item.end
        remap[index] = len(kept)
        kept.append(replace(item, start=max(0.0, item.start), end=end))
    if kind == "line":
        for problem in problems:
            report.skip(path, f"dropped {problem}", item=song_id)
    elif problems:
        report.skip(path, f"dropped {len(problems)} {kind}(s) with unusable times, e.g. {problems[0]}", item=song_id)
    return kept, remap


def _resolve_overlaps(lines: list[Line], path: str, song_id: str, report: SkipReport) -> list[Line]:
    """Where a line (sorted by start) starts before its predecessor ends, end the predecessor there."""
    ordered = list(lines)
    for i in range(1, len(ordered)):
        previous, current = ordered[i - 1], ordered[i]
        if current.start < previous.end - 1e-9:
            report.repair(
                path,
                f"line '{previous.text[:40]}' overlaps the next line by {previous.end - current.start:.3f} s; "
                "its end was moved to the next line's start",
                item=song_id,
                kind="a line overlapped the next line; its end was moved to the next line's start",
            )
            ordered[i - 1] = replace(previous, end=max(previous.start, current.start))
    return ordered


def clean_song(song: Song, path: str, report: SkipReport) -> Song:
    """Return ``song`` with its timed lyrics repaired or pruned; every change goes to ``report``.

    ``path`` names the annotation file in the messages. Times are clipped to the audio's
    ``duration`` when it is known. Word and note ``line``/``word`` indices are remapped to
    the kept lines and words (-1 where their parent was dropped).
    """
    limit = song.duration
    lines, line_map = _clean(song.lines, "line", limit, path, song.id, report)
    words, word_map = _clean(song.words, "word", limit, path, song.id, report)
    paragraphs, _ = _clean(song.paragraphs, "paragraph", limit, path, song.id, report)
    notes, _ = _clean(song.notes, "note", limit, path, song.id, report)
    order = sorted(range(len(lines)), key=lambda i: (lines[i].start, lines[i].end))
    sorted_position = {old: new for new, old in enumerate(order)}
    lines = _resolve_overlaps([lines[i] for i in order], path, song.id, report)
    word_order = sorted(range(len(words)), key=lambda i: (words[i].start, words[i].end))
    word_position = {old: new for new, old in enumerate(word_order)}
    words = [words[i] for i in word_order]
    words = [
        replace(w, line=sorted_position[line_map[w.line]] if w.line in line_map else _containing(lines, w))
        for w in words
    ]
    notes = [replace(n, word=word_position[word_map[n.word]] if n.word in word_map else -1) for n in notes]
    return replace(
        song,
        lines=lines,
        words=words,
        paragraphs=sorted(paragraphs, key=lambda p: p.start),
        notes=sorted(notes, key=lambda n: n.start),
    )


def _containing(lines: list[Line], word: Word) -> int:
    """Index of the line whose span holds the word's midpoint, or -1."""
    middle = 0.5 * (word.start + word.end)
    for index, line in enumerate(lines):
        if line.start - TOLERANCE <= middle <= line.end + TOLERANCE:
            return index
    return -1


def lines_from_words(words: list[Word]) -> list[Line]:
    """Build lines from words that carry a ``line`` index (used when a line file is missing)."""
    groups: dict[int, list[Word]] = {}
    for word in words:
        groups.setdefault(word.line, []).append(word)
    return [
        Line(" ".join(w.text for w in group), min(w.start for w in group), max(w.end for w in group))
        for _, group in sorted(groups.items())
        if _ >= 0
    ]
