"""Timed-lyrics files: every lyrics format songalign reads or writes, each as a reader and a writer.

=======================  =========================================================  ===============================
Format                   What it holds                                              Read / write
=======================  =========================================================  ===============================
LRC ``.lrc``             timed lines ``[mm:ss.xx]text``, metadata tags, enhanced    :func:`read_lrc`
                         ``<mm:ss.xx>`` word times; a line ends at the next tag     :func:`write_lrc`
timed CSV ``.csv``       lines ``start,end,text`` (or ``start_time,end_time,``      :func:`read_timed_csv`
                         ``lyrics_line``), seconds or ``mm:ss.xx``                  :func:`write_timed_csv`
timed JSON ``.json``     lines ``{start, end, text}`` with optional ``words``;      :func:`read_timed_json`
                         title, artist, language                                    :func:`write_timed_json`
plain lyrics ``.txt``    untimed lyric lines, one per line, a blank line between    :func:`read_plain_lyrics`
                         paragraphs                                                 :func:`write_plain_lyrics`
JamendoLyrics word CSV   ``word_start,word_end,line_end`` (seconds): word times;    :func:`read_jamendo_words_csv`
                         a line's end on its last word, ``nan`` elsewhere           :func:`write_jamendo_words_csv`
JamendoLyrics line CSV   ``start_time,end_time,lyrics_line`` (seconds)              :func:`read_jamendo_lines_csv`
                                                                                    :func:`write_jamendo_lines_csv`
``words.txt``            one word per line: the texts the word CSV lacks            :func:`read_words_txt`
                                                                                    :func:`write_words_txt`
=======================  =========================================================  ===============================

An aligner's output with its trust (:class:`ScoredLyrics`: a confidence per word and line, unsure and untimed
lines) is exported by :func:`export_scored` as LRC, enhanced LRC, SRT, WebVTT (``pysubs2``), JSON
(:func:`scored_document`) and the JamendoLyrics files; an untimed line never gets an invented time.

LRC, timed CSV and timed JSON are the folder reader's annotations (:data:`TIMED_READERS`, by file
suffix). Their readers return :class:`TimedLyrics`: the entries as the file gives them, an end left
``None`` where the file does not say one; :meth:`TimedLyrics.lines_and_words` fills those ends and
gives :class:`~songalign.corpus.records.Line` and :class:`~songalign.corpus.records.Word` records.
What LRC understands:

- ``[mm:ss.xx]`` line tags, also ``[mm:ss]``, ``[mm:ss.xxx]`` and ``[mm:ss:xx]``; several on one line
  (a repeated chorus); a line with no text only marks where the line before ends (a gap).
- ``[offset:±ms]``: positive shifts the lyrics earlier (time = tag - offset / 1000).
- ``[ar:]``, ``[ti:]`` and ``[la:]`` / ``[lang:]`` (artist, title, language, lower-cased);
  ``[al:]``, ``[au:]`` and ``[by:]`` go to ``extra`` as ``album``, ``songwriter``, ``lrc_author``.
- Enhanced ``<mm:ss.xx>`` word tags: each tagged piece of a line is one word, lasting until the
  next tag; a tag with no word after it ends the word before (and, at the end of the line, the line).

A line with no end lasts until the next later line starts, but never longer than its words can be
sung (:func:`max_line_seconds`: :data:`HELD_NOTE_SECONDS` plus :data:`SECONDS_PER_SYLLABLE` per
syllable); a longer gap to the next line is instrumental, covered by no line. So a line never
stretches over a line that was left out (a malformed tag) or over a solo. The last line lasts
:data:`LAST_LINE_SECONDS` (always within that bound), or until the audio's end if sooner. A line
that starts after the audio's end keeps its own span, so that the checks report it as past the
end. An LRC line whose time tag is malformed (``[0x:zz.qq]``, ``[00:-3.00]``, an unclosed
``[00:15.75``) is left out and named, with its line number, in ``problems``. Other timings are
parsed, not checked: NaN, negative or overlapping times are passed on to
:func:`songalign.corpus.validate.clean_song`.

The JamendoLyrics line CSV has the columns the timed CSV also accepts, but its reader is strict in
JamendoLyrics' way: all three columns, times in seconds, an unreadable time becomes NaN (reported
later) instead of leaving the line out.

Readers take UTF-8 (a byte-order mark is dropped) or UTF-16/32 with a byte-order mark, and raise
:class:`~songalign.errors.BadInputError` naming the file when it is unreadable or malformed;
writers write UTF-8 and return the path written. Times are seconds (:data:`Seconds`) throughout;
CSV writers round them to 0.1 ms, the LRC writer to 10 ms.
"""

from __future__ import annotations

import csv
import json
import math
import re
import unicodedata
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from songalign.corpus.readers.text import (
    csv_records,
    first_field,
    is_blank,
    parse_seconds,
    read_csv_rows,
    read_text,
    require_columns,
)
from songalign.corpus.records import Line, Seconds, Word
from songalign.errors import BadInputError, SongalignError

LAST_LINE_SECONDS: Seconds = 5.0
"""How long the last line of a file that gives no end times lasts (capped by the audio's end)."""

SECONDS_PER_SYLLABLE: Seconds = 1.0
"""The slowest singing a line's bound allows, in seconds per syllable on average over the line.

Sung lyrics run at about 2–5 syllables a second in a pop verse and 1–2 in a slow ballad, so one
second a syllable is several times slower than songs are sung: a gap beyond it is not singing."""

HELD_NOTE_SECONDS: Seconds = 5.0
"""Seconds every line's bound adds to its syllables: a long note held at the end of the line, and the breath
before the next. Equal to :data:`LAST_LINE_SECONDS`, so the last line's guess is always within its bound."""

_SYLLABLE_CHARACTERS = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")
"""Kana, CJK ideographs and Hangul syllables: each character is sung as one syllable."""
_VOWEL_GROUPS = re.compile(r"[aeiouyæøœ]+|[аеёиоуыэюяіїєў]+|[αεηιουω]+", re.IGNORECASE)
"""Runs of vowels of Latin, Cyrillic and Greek letters (accents stripped first): one syllable each."""


def syllable_count(text: str) -> int:
    """About how many syllables ``text`` is sung in, erring high (a generous bound needs no fewer).

    Each kana, CJK ideograph or Hangul syllable counts one; each run of vowels (Latin, Cyrillic,
    Greek; accents ignored) one, so a silent ``e`` counts too; a word of other letters (Arabic,
    Devanagari, or ``hmm``) one per two letters; a number one per digit. Every word counts at
    least one.
    """
    total = 0
    for word in text.split():
        bare = "".join(c for c in unicodedata.normalize("NFD", word) if not unicodedata.combining(c))
        count = len(_SYLLABLE_CHARACTERS.findall(bare))
        rest = _SYLLABLE_CHARACTERS.sub(" ", bare)
        vowels = len(_VOWEL_GROUPS.findall(rest))
        letters = sum(c.isalpha() for c in rest)
        count += vowels or (letters + 1) // 2
        count += sum(c.isdigit() for c in rest)
        total += max(count, 1)
    return total


def max_line_seconds(text: str) -> Seconds:
    """The longest a line of lyrics ``text`` can plausibly be sung for, in seconds.

    :data:`HELD_NOTE_SECONDS` plus :data:`SECONDS_PER_SYLLABLE` per syllable
    (:func:`syllable_count`): ``"one two three four five"`` (7 syllables as counted) gets 12 s.
    A line whose end a file does not give ends at the next line's start or this long after its
    own start, whichever is sooner; a longer gap is instrumental.
    """
    return HELD_NOTE_SECONDS + SECONDS_PER_SYLLABLE * syllable_count(text)


START_FIELDS = ("start", "start_time")
END_FIELDS = ("end", "end_time")
TEXT_FIELDS = ("text", "lyrics_line")
"""The names a timed CSV column or JSON key may have, first preferred (the writers use the first)."""

WORD_COLUMNS = ("word_start", "word_end", "line_end")
"""The header of a JamendoLyrics word CSV (``annotations/words/<name>.csv``)."""
LINE_COLUMNS = ("start_time", "end_time", "lyrics_line")
"""The header of a JamendoLyrics line CSV (``annotations/lines/<name>.csv``)."""


# --------------------------------------------------------------------------------------------
# What the LRC, CSV and JSON readers parse into


@dataclass
class TimedEntry:
    """A line (or word) as a file gives it: times in seconds, ``end`` None when the file does not say."""

    start: Seconds
    end: Seconds | None
    text: str
    words: list[TimedEntry] = field(default_factory=list)


@dataclass
class TimedLyrics:
    """A parsed timed-lyrics file: its entries (empty-text entries mark line ends), metadata, problems.

    ``problems`` are sentences about parts of the file that were left out (a bad row, a bad
    ``[offset:]``); the rest of the file is still read. ``extra`` holds metadata with no field
    here (``album``, ``songwriter``, ``lrc_author`` from LRC tags).
    """

    entries: list[TimedEntry] = field(default_factory=list)
    title: str = ""
    artist: str = ""
    language: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)

    def lines_and_words(self, duration: Seconds | None = None) -> tuple[list[Line], list[Word]]:
        """The entries as lines and words in time order, filling the ends the file left open.

        An entry without an end ends where the next later entry starts (an empty-text entry only
        marks such an end), but at most :func:`max_line_seconds` of its text after its own start
        (after its last timed word's start, if later): a longer gap is instrumental. The last one
        ends :data:`LAST_LINE_SECONDS` after it starts. Either is cut at ``duration`` (the audio's
        length, seconds) when the line starts before it; a line starting after it keeps its span,
        for the checks to report it as past the end. A word without an end ends where the next
        word of its line starts, the last one where its line ends.
        """
        ordered = sorted(self.entries, key=_start_key)
        starts = [entry.start for entry in ordered]
        lines: list[Line] = []
        words: list[Word] = []
        for position, entry in enumerate(ordered):
            if not entry.text:
                continue
            end = entry.end if entry.end is not None else _open_end(entry, starts[position + 1 :], duration)
            line_index = len(lines)
            lines.append(Line(entry.text, entry.start, end))
            for k, word in enumerate(entry.words):
                word_end = word.end
                if word_end is None:
                    word_end = entry.words[k + 1].start if k + 1 < len(entry.words) else end
                words.append(Word(word.text, word.start, word_end, line=line_index))
        return lines, words


def _start_key(entry: TimedEntry) -> tuple[int, float]:
    # NaN cannot be sorted; such entries go last and clean_song drops them.
    return (0, entry.start) if math.isfinite(entry.start) else (1, 0.0)


def _open_end(entry: TimedEntry, later_starts: list[Seconds], duration: Seconds | None) -> Seconds:
    """The end of a line the file leaves open (see :meth:`TimedLyrics.lines_and_words`), seconds."""
    start = entry.start
    # several lines may share a time (a translation); the line ends at the next *later* one
    following = next((candidate for candidate in later_starts if candidate > start), None)
    # a line's last timed word must fit in it: its start bounds the line from below
    sung_from = max([start, *(word.start for word in entry.words if math.isfinite(word.start))])
    last_word_bound = sung_from + max_line_seconds(entry.words[-1].text) if entry.words else start
    if following is None:
        end = last_word_bound if sung_from > start + LAST_LINE_SECONDS else start + LAST_LINE_SECONDS
    else:
        end = min(following, max(start + max_line_seconds(entry.text), last_word_bound))
    # cut at the audio's end, but not below the start: a line past the end must still read as one
    return min(end, duration) if duration is not None and duration > start else end


def _words_by_line(lines: Sequence[Line], words: Sequence[Word]) -> list[list[Word]]:
    """``words`` grouped by the line they belong to (``Word.line``), in their order; one list per line."""
    grouped: list[list[Word]] = [[] for _ in lines]
    for index, word in enumerate(words):
        if not 0 <= word.line < len(lines):
            raise SongalignError(
                f"word {index} ({word.text!r}) belongs to line {word.line}, which is not one of the "
                f"{len(lines)} lines; set each word's line to the index of its line"
            )
        grouped[word.line].append(word)
    return grouped


# --------------------------------------------------------------------------------------------
# LRC

_LRC_TIME = r"(\d+):(\d{1,2})(?:[.:](\d{1,3}))?"
_LRC_LINE = re.compile(rf"^\s*((?:\[{_LRC_TIME}\]\s*)+)(.*)$")
_LRC_LINE_TAG = re.compile(rf"\[{_LRC_TIME}\]")
_LRC_WORD_TAG = re.compile(rf"<{_LRC_TIME}>")
_LRC_META = re.compile(r"^\s*\[([A-Za-z#]+)\s*:(.*)\]\s*$")
_LRC_BAD_TAG = re.compile(r"^\s*(\[\s*[-+]?\d\w*\s*[:.][^\]\s]{0,12}\]?)")
"""A line (or what follows a line's good tags) opening with what is meant as a time tag (``[``, a digit,
``:`` or ``.``) but is none; ``[2x]`` or ``[5 people]`` are text, not tags."""
_LRC_META_FIELDS = {"ar": "artist", "ti": "title", "la": "language", "lang": "language"}
_LRC_META_EXTRA = {"al": "album", "au": "songwriter", "by": "lrc_author"}


def _lrc_seconds(minutes: str, seconds: str, fraction: str | None) -> Seconds:
    """``mm``, ``ss`` and an optional fraction (``.5``, ``.50``, ``.500`` or ``:50`` are all half a second)."""
    value = 60 * int(minutes) + int(seconds)
    return value + int(fraction) / 10 ** len(fraction) if fraction else float(value)


def read_lrc(path: Path) -> TimedLyrics:
    """The timed lines of the ``.lrc`` file at ``path`` (see the module docstring for what is understood).

    Raises :class:`BadInputError` when the file cannot be read or holds no timed line.
    """
    lyrics = TimedLyrics()
    offset = 0.0
    timed_lines: list[tuple[list[Seconds], str]] = []
    for number, raw in enumerate(read_text(path).splitlines(), start=1):
        match = _LRC_LINE.match(raw)
        malformed = _LRC_BAD_TAG.match(match.group(5) if match else raw)
        if malformed:
            # left out and named: silently dropped, its time would go to the line before it
            lyrics.problems.append(
                f"line {number} has a malformed time tag {malformed.group(1)!r}; it was left out, "
                "write the time as [mm:ss.xx] to keep that line"
            )
            continue
        if match:
            tags = [_lrc_seconds(*tag) for tag in _LRC_LINE_TAG.findall(match.group(1))]
            timed_lines.append((tags, match.group(5)))
            continue
        meta = _LRC_META.match(raw)
        if not meta:
            continue  # untimed text (a title line, a "[Chorus]" label) is not timed lyrics
        key, value = meta.group(1).lower(), meta.group(2).strip()
        if key == "offset":
            try:
                offset = float(value) / 1000.0
            except ValueError:
                lyrics.problems.append(f"[offset:{value}] is not a number of milliseconds; it was ignored")
        elif key in _LRC_META_FIELDS and value:
            setattr(lyrics, _LRC_META_FIELDS[key], value.lower() if key in ("la", "lang") else value)
        elif key in _LRC_META_EXTRA and value:
            lyrics.extra[_LRC_META_EXTRA[key]] = value
    if not timed_lines:
        malformed = f" ({len(lyrics.problems)} with a malformed time tag)" if lyrics.problems else ""
        raise BadInputError(
            path,
            f"holds no timed lines ([mm:ss.xx]text){malformed}; add time tags or use a .csv with start,end,text",
        )
    for tags, body in timed_lines:
        line_text, words, end = _lrc_body(body)
        for tag in tags:
            shift = tag - tags[0] - offset  # word tags are absolute for the first occurrence of the line
            lyrics.entries.append(
                TimedEntry(
                    tag - offset,
                    None if end is None else end + shift,
                    line_text,
                    [TimedEntry(w.start + shift, None if w.end is None else w.end + shift, w.text) for w in words],
                )
            )
    return lyrics


def _lrc_body(body: str) -> tuple[str, list[TimedEntry], Seconds | None]:
    """Split the text after a line's time tags into (line text, words from ``<mm:ss.xx>`` tags, end).

    Each ``<time>`` tagged piece becomes one word, ending at the next tag; a tag at the very end
    of the line gives the line's end (None otherwise).
    """
    pieces = _LRC_WORD_TAG.split(body)  # [before, m, s, frac, piece, m, s, frac, piece, ...]
    line_text = _clean_text("".join(pieces[0::4]))
    times = [_lrc_seconds(*pieces[i : i + 3]) for i in range(1, len(pieces), 4)]
    texts = [pieces[i] for i in range(4, len(pieces), 4)]
    words = [
        TimedEntry(time, times[k + 1] if k + 1 < len(times) else None, _clean_text(piece))
        for k, (time, piece) in enumerate(zip(times, texts, strict=True))
        if piece.strip()
    ]
    end = times[-1] if times and not texts[-1].strip() else None
    return line_text, words, end


def _centiseconds(seconds: Seconds) -> int:
    return round(seconds * 100)


def lrc_time(seconds: Seconds) -> str:
    """An LRC time tag body ``mm:ss.xx`` (centiseconds, rounded) for ``seconds`` >= 0."""
    minutes, rest = divmod(_centiseconds(seconds), 6000)
    return f"{minutes:02d}:{rest // 100:02d}.{rest % 100:02d}"


def write_lrc(
    path: str | Path,
    lines: Sequence[Line],
    *,
    words: Sequence[Word] = (),
    title: str = "",
    artist: str = "",
    language: str = "",
    extra: Mapping[str, Any] | None = None,
) -> Path:
    """Write ``lines`` as an ``.lrc`` file of ``[mm:ss.xx]text`` lines (UTF-8, times rounded to 10 ms).

    LRC has no line ends: a line lasts until the next tag. So where a line ends before the next one
    starts (and after the last line) an empty ``[mm:ss.xx]`` tag marks its end, which
    :func:`read_lrc` understands. Lines must be in time order with times >= 0; returns ``path``.

    Metadata given go first as ``[ti:]``, ``[ar:]`` and ``[la:]`` tags, and ``extra``'s ``album``,
    ``songwriter`` and ``lrc_author`` as ``[al:]``, ``[au:]`` and ``[by:]`` (its other keys have no
    LRC tag and are not written). ``words``, each with ``Word.line`` the index of its line in
    ``lines``, are written as enhanced-LRC word tags, ``[00:01.00]<00:01.00>Hold <00:01.40>
    <00:01.50>on <00:02.00>``: a word lasts until the next tag, so a word that ends before the next
    one starts, and each line's last word, is followed by a tag of its end (then the line's end, if
    later). A line's words must spell its text, since word tags hold the line's text.
    """
    out = [f"[{tag}:{' '.join(value.split())}]" for tag, value in _lrc_metadata(title, artist, language, extra)]
    line_words = _words_by_line(lines, words)
    for index, line in enumerate(lines):
        if not (line.start >= 0 and line.end >= line.start):
            raise SongalignError(
                f"line {index} ({line.text!r}) runs from {line.start} to {line.end} s; LRC needs 0 <= start <= end"
            )
        if index and line.start < lines[index - 1].start:
            raise SongalignError(f"line {index} ({line.text!r}) starts before the line above it; sort lines by start")
        text = " ".join(line.text.split())
        body = _lrc_word_tags(index, line, line_words[index]) if line_words[index] else text
        out.append(f"[{lrc_time(line.start)}]{body}")
        next_start = lines[index + 1].start if index + 1 < len(lines) else None
        if line.end > line.start and (next_start is None or _centiseconds(line.end) < _centiseconds(next_start)):
            out.append(f"[{lrc_time(line.end)}]")
    path = Path(path)
    path.write_text("".join(row + "\n" for row in out), encoding="utf-8")
    return path


def _lrc_metadata(title: str, artist: str, language: str, extra: Mapping[str, Any] | None) -> list[tuple[str, str]]:
    """The ``(tag, value)`` pairs of metadata that :func:`write_lrc` writes; empty ones are left out."""
    pairs = [("ti", title), ("ar", artist), ("la", language)]
    pairs += [(tag, str((extra or {}).get(name) or "")) for tag, name in _LRC_META_EXTRA.items()]
    return [(tag, value) for tag, value in pairs if value.strip()]


def _lrc_word_tags(index: int, line: Line, words: list[Word]) -> str:
    """The text of line ``index`` as ``<mm:ss.xx>`` tagged ``words``, with end tags where one ends before the next."""
    text = " ".join(line.text.split())
    spelled = " ".join(" ".join(word.text for word in words).split())
    if any(not word.text.strip() for word in words) or spelled != text:
        raise SongalignError(
            f"line {index} ({text!r}) has the words {[word.text for word in words]!r}, which do not spell it; "
            "give each line the words of its text, none empty"
        )
    pieces: list[str] = []
    for k, word in enumerate(words):
        if not (0 <= word.start <= word.end):
            raise SongalignError(
                f"a word of line {index} ({word.text!r}) runs from {word.start} to {word.end} s; "
                "LRC needs 0 <= start <= end"
            )
        pieces.append(f"<{lrc_time(word.start)}>{' '.join(word.text.split())}")
        next_start = words[k + 1].start if k + 1 < len(words) else None
        if next_start is None or _centiseconds(word.end) < _centiseconds(next_start):
            pieces.append(f"<{lrc_time(word.end)}>")  # a tag with no word after it ends the word before
    if _centiseconds(line.end) > _centiseconds(words[-1].end):
        pieces.append(f"<{lrc_time(line.end)}>")
    return " ".join(pieces)


# --------------------------------------------------------------------------------------------
# Timed CSV and JSON (the folder reader's ``start,end,text`` records)


def _to_seconds(value: Any) -> Seconds:
    """Seconds from a number, or from a string of seconds, ``mm:ss.xx`` or ``hh:mm:ss.xx``; ValueError if neither."""
    if isinstance(value, bool):
        raise ValueError(value)
    if isinstance(value, int | float):
        return float(value)
    if not isinstance(value, str):
        raise ValueError(value)
    parts = value.strip().split(":")
    if len(parts) > 3 or any(not part.strip() for part in parts):
        raise ValueError(value)
    seconds = float(parts[-1])
    for scale, part in zip((60, 3600), reversed(parts[:-1]), strict=False):
        if not part.isdigit():
            raise ValueError(value)
        seconds += scale * int(part)
    return seconds


def _clean_text(value: Any) -> str:
    """Lyric text with runs of whitespace (including newlines) collapsed to one space."""
    return " ".join(str(value).split()) if value is not None else ""


def _entry_from_record(record: Mapping[str, Any], notes: list[str] | None = None) -> TimedEntry:
    """One ``{start, end, text[, words]}`` record (a CSV row or JSON object); ValueError says what is wrong.

    A word with an explicit ``null`` start (an aligner's word it could not place) is left out of the entry's
    words, said in ``notes`` (when given); a word with no start key, or a bad one, makes the record unusable.
    """
    start_value, end_value = first_field(record, START_FIELDS), first_field(record, END_FIELDS)
    if is_blank(start_value):
        raise ValueError("has no start time")
    try:
        start = _to_seconds(start_value)
    except ValueError:
        raise ValueError(f"has a start {start_value!r} that is not a time in seconds or mm:ss.xx") from None
    end = None
    if not is_blank(end_value):
        try:
            end = _to_seconds(end_value)
        except ValueError:
            raise ValueError(f"has an end {end_value!r} that is not a time in seconds or mm:ss.xx") from None
    words = record.get("words") or []
    if isinstance(words, str):
        words = []  # a CSV column called "words" is not word timing
    if not isinstance(words, list) or not all(isinstance(w, Mapping) for w in words):
        raise ValueError("has 'words' that are not a list of {start, end, text} objects")
    unplaced = [word for word in words if _null_start(word)]
    try:
        timed_words = [_entry_from_record(word) for word in words if not _null_start(word)]
    except ValueError as error:
        raise ValueError(f"has an unusable word: it {error}") from None
    if unplaced and notes is not None:
        texts = ", ".join(repr(_clean_text(first_field(word, TEXT_FIELDS))) for word in unplaced)
        notes.append(f"has {len(unplaced)} word(s) with a null start ({texts}); the line was kept without them")
    return TimedEntry(start, end, _clean_text(first_field(record, TEXT_FIELDS)), [w for w in timed_words if w.text])


def _null_start(word: Mapping[str, Any]) -> bool:
    """Whether ``word`` names a start field whose value is ``null`` (JSON) — a word that has no time."""
    return any(name in word for name in START_FIELDS) and first_field(word, START_FIELDS) is None


def _add_records(lyrics: TimedLyrics, records: Iterable[tuple[str, Any]]) -> None:
    """Parse ``(where, record)`` pairs into ``lyrics``; a bad record becomes a problem, not an error."""
    for where, record in records:
        if not isinstance(record, Mapping):
            lyrics.problems.append(f"{where} is not an object with start, end and text; it was left out")
            continue
        notes: list[str] = []
        try:
            lyrics.entries.append(_entry_from_record(record, notes))
        except ValueError as error:
            lyrics.problems.append(f"{where} {error}; it was left out, fix it to keep that line")
        lyrics.problems.extend(f"{where} {note}" for note in notes)


def _seconds_cell(value: float) -> str:
    return f"{value:.4f}"


def _write_rows(path: str | Path, header: Sequence[str], rows: Iterable[Sequence[str]]) -> Path:
    path = Path(path)
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_timed_csv(path: Path) -> TimedLyrics:
    """The lines of a ``start,end,text`` (or ``start_time,end_time,lyrics_line``) CSV at ``path``.

    Times are seconds or ``mm:ss.xx``; an empty ``end`` is left open (see
    :meth:`TimedLyrics.lines_and_words`). A bad row is a problem and left out; a header without a
    start and a text column raises :class:`BadInputError`.
    """
    header, rows = csv_records(read_text(path), path)
    require_columns(header, path, START_FIELDS, TEXT_FIELDS, expected="the columns start,end,text")
    lyrics = TimedLyrics()
    _add_records(lyrics, ((f"line {number}", row) for number, row in rows))
    return lyrics


def write_timed_csv(path: str | Path, lines: Sequence[Line]) -> Path:
    """Write ``lines`` as a ``start,end,text`` CSV (seconds, 4 decimals); returns ``path``."""
    header = (START_FIELDS[0], END_FIELDS[0], TEXT_FIELDS[0])
    return _write_rows(path, header, ([_seconds_cell(ln.start), _seconds_cell(ln.end), ln.text] for ln in lines))


def read_timed_json(path: Path) -> TimedLyrics:
    """The lines of a JSON list of ``{start, end, text}`` (optionally ``words``, a list of the same),
    or of an object with ``lines`` and ``title``, ``artist``, ``language`` (lower-cased).

    A bad entry is a problem and left out (a line with a null start, one an aligner could not place, too);
    a word with a null start is left out of its line, which is kept, and is a problem too (a word without a
    start key makes its line a bad entry). A file that is not such JSON raises :class:`BadInputError`.
    """
    try:
        data = json.loads(read_text(path))
    except json.JSONDecodeError as error:
        raise BadInputError(path, f"is not valid JSON ({error}); fix it or save the lyrics as .lrc or .csv") from None
    lyrics = TimedLyrics()
    if isinstance(data, Mapping):
        for key in ("title", "artist", "language"):
            if isinstance(data.get(key), str):
                setattr(lyrics, key, data[key].strip().lower() if key == "language" else data[key].strip())
        data = data.get("lines")
    if not isinstance(data, list):
        raise BadInputError(
            path, 'holds neither a list of {"start", "end", "text"} objects nor an object with "lines"; reshape it'
        )
    _add_records(lyrics, ((f"line entry {n}", record) for n, record in enumerate(data, start=1)))
    return lyrics


def write_timed_json(
    path: str | Path,
    lines: Sequence[Line],
    *,
    words: Sequence[Word] = (),
    title: str = "",
    artist: str = "",
    language: str = "",
) -> Path:
    """Write ``lines`` (and ``words``, each with ``Word.line`` the index of its line) as a JSON object
    ``{"title", "artist", "language", "lines": [{"start", "end", "text", "words": [...]}]}``.

    Times are seconds, written exactly; a line without words has no ``"words"`` key. Returns ``path``.
    """
    entries: list[dict[str, Any]] = []
    for line, own in zip(lines, _words_by_line(lines, words), strict=True):
        entry: dict[str, Any] = {"start": line.start, "end": line.end, "text": line.text}
        if own:
            entry["words"] = [{"start": word.start, "end": word.end, "text": word.text} for word in own]
        entries.append(entry)
    return _write_json(path, {"title": title, "artist": artist, "language": language, "lines": entries})


def _write_json(path: str | Path, document: Any) -> Path:
    """Write ``document`` as indented UTF-8 JSON (non-ASCII kept as written) with a final newline; returns ``path``."""
    path = Path(path)
    path.write_text(json.dumps(document, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return path


TIMED_READERS: dict[str, Callable[[Path], TimedLyrics]] = {
    ".lrc": read_lrc,
    ".csv": read_timed_csv,
    ".json": read_timed_json,
}
"""The readers of timed-lyrics annotations by file suffix (lower-case, with the dot)."""


# --------------------------------------------------------------------------------------------
# Plain lyrics and words.txt


@dataclass
class PlainLyrics:
    """Untimed lyrics: ``paragraphs`` of lyric lines (each line's whitespace runs made one space, none empty)."""

    paragraphs: list[list[str]] = field(default_factory=list)

    @property
    def lines(self) -> list[str]:
        """Every lyric line in order, the paragraphs run together."""
        return [line for paragraph in self.paragraphs for line in paragraph]


def read_plain_lyrics(path: Path, *, require_lines: bool = False) -> PlainLyrics:
    """The lyric lines of a plain-lyrics ``.txt`` file, grouped into paragraphs by blank (whitespace-only) lines.

    Raises :class:`BadInputError` when ``path`` is not a readable text file, and, with
    ``require_lines``, when it holds no lyric line.
    """
    if not path.is_file():
        raise BadInputError(path, "is not a file; give the song's lyrics as a .txt file, one lyric line per line")
    paragraphs: list[list[str]] = [[]]
    for raw in read_text(path).splitlines():
        line = " ".join(raw.split())
        if line:
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    lyrics = PlainLyrics([paragraph for paragraph in paragraphs if paragraph])
    if require_lines and not lyrics.paragraphs:
        raise BadInputError(path, "holds no lyric lines; write the song's lyrics in it, one line per line")
    return lyrics


def write_plain_lyrics(path: str | Path, paragraphs: Sequence[Sequence[str]]) -> Path:
    """Write ``paragraphs`` of lyric lines as plain lyrics: one line per line, a blank line between paragraphs.

    Lines are written as given, so each should be one non-empty line of text. Returns ``path``.
    """
    path = Path(path)
    path.write_text("\n\n".join("\n".join(paragraph) for paragraph in paragraphs) + "\n", encoding="utf-8")
    return path


def read_words_txt(path: Path) -> list[str]:
    """The words of a ``words.txt`` (one word per line; blank lines left out, each word stripped)."""
    return [text.strip() for text in read_text(path).splitlines() if text.strip()]


def write_words_txt(path: str | Path, texts: Sequence[str]) -> Path:
    """Write ``texts`` (the words' texts, in order) one per line, as JamendoLyrics' ``words.txt``; returns ``path``."""
    path = Path(path)
    path.write_text("".join(f"{text}\n" for text in texts), encoding="utf-8")
    return path


# --------------------------------------------------------------------------------------------
# JamendoLyrics annotation CSVs


def read_jamendo_words_csv(path: Path) -> list[Word]:
    """The words of a JamendoLyrics word CSV (``word_start,word_end,line_end``), with empty texts.

    Times are seconds (an unreadable one becomes NaN, dropped and reported later). ``Word.line``
    counts the lines: a word whose ``line_end`` is a number ends its line, so the next word starts
    the next one. The texts are in the song's ``words.txt`` (:func:`read_words_txt`), one per word
    in order. Raises :class:`BadInputError` when the header lacks ``word_start`` or ``word_end``.
    """
    rows = read_csv_rows(path)
    missing = [c for c in ("word_start", "word_end") if rows and c not in rows[0]]
    if missing:
        raise BadInputError(
            path, f"missing column(s) {', '.join(missing)}; the header must be {','.join(WORD_COLUMNS)}"
        )
    words, line = [], 0
    for row in rows:
        words.append(Word("", parse_seconds(row["word_start"]), parse_seconds(row["word_end"]), line))
        if math.isfinite(parse_seconds(row.get("line_end", "nan"))):
            line += 1
    return words


def write_jamendo_words_csv(path: str | Path, words: Sequence[Word]) -> Path:
    """Write ``words`` as a JamendoLyrics word annotation (``word_start,word_end,line_end``, seconds, 4 decimals).

    ``line_end`` is the word's end on the last word of each line (the last of a run of words sharing
    ``Word.line``) and ``nan`` elsewhere. The words' texts go in ``<name>.words.txt`` in that layout
    (:func:`write_words_txt`), which this file does not hold. Returns ``path``.
    """
    rows = []
    for index, word in enumerate(words):
        last_of_line = index + 1 == len(words) or words[index + 1].line != word.line
        rows.append(
            [_seconds_cell(word.start), _seconds_cell(word.end), _seconds_cell(word.end) if last_of_line else "nan"]
        )
    return _write_rows(path, WORD_COLUMNS, rows)


def read_jamendo_lines_csv(path: Path) -> list[Line]:
    """The lines of a JamendoLyrics line CSV (``start_time,end_time,lyrics_line``, seconds).

    An unreadable time becomes NaN (dropped and reported later). Raises :class:`BadInputError`
    when the header lacks one of the three columns.
    """
    rows = read_csv_rows(path)
    if rows and not set(LINE_COLUMNS) <= rows[0].keys():
        raise BadInputError(path, f"the header must be {','.join(LINE_COLUMNS)}")
    return [Line(r["lyrics_line"], parse_seconds(r["start_time"]), parse_seconds(r["end_time"])) for r in rows]


def write_jamendo_lines_csv(path: str | Path, lines: Sequence[Line]) -> Path:
    """Write ``lines`` as a JamendoLyrics line annotation (``start_time,end_time,lyrics_line``); returns ``path``."""
    rows = [[_seconds_cell(line.start), _seconds_cell(line.end), line.text] for line in lines]
    return _write_rows(path, LINE_COLUMNS, rows)


# --------------------------------------------------------------------------------------------
# Scored alignments: lyrics an aligner timed, with a confidence per word and line, and the lines it could not place


@dataclass
class ScoredWord:
    """A word as an aligner placed it: times in seconds, ``None`` (both) when it was not placed (it holds no
    symbol the aligner hears); ``confidence`` in [0, 1] (None when not placed; its meaning is the aligner's)."""

    text: str
    start: Seconds | None
    end: Seconds | None
    confidence: float | None = None


@dataclass
class ScoredLine:
    """A lyric line as an aligner placed it, with its words.

    ``start``/``end`` (seconds) are None for a line that could not be placed: it is *untimed*, never given
    an invented or zero-length span. ``unsure`` marks a line whose times are not to be trusted (its
    confidence under the threshold, or it was not placed at all); ``reason`` says why in a few words.
    """

    text: str
    start: Seconds | None
    end: Seconds | None
    confidence: float | None = None
    words: list[ScoredWord] = field(default_factory=list)
    unsure: bool = False
    reason: str = ""

    @property
    def timed(self) -> bool:
        return self.start is not None and self.end is not None


@dataclass
class ScoredLyrics:
    """Timed lyrics with their trust: every given line in order (timed or not), and where they came from.

    ``backend`` names the aligner (``"crnn"``); ``model_digest`` identifies its weights; ``vocals`` says
    what it heard as the voice; ``min_confidence`` is the threshold under which a line was marked unsure.
    """

    lines: list[ScoredLine] = field(default_factory=list)
    backend: str = ""
    model_digest: str = ""
    vocals: str = ""
    min_confidence: float | None = None

    @property
    def unplaced(self) -> list[tuple[int, ScoredLine]]:
        """``(index, line)`` of every line marked unsure or left untimed, in order."""
        return [(index, line) for index, line in enumerate(self.lines) if line.unsure or not line.timed]

    def records(self, *, untimed: float | None = None) -> tuple[list[Line], list[Word]]:
        """The lines and words as corpus records (``Word.line`` indexes the lines returned).

        ``untimed=None`` leaves untimed lines and words out (what LRC and subtitles hold); a number (e.g.
        ``math.nan``, as the JamendoLyrics CSVs write it) keeps them with that as both times.
        """
        lines: list[Line] = []
        words: list[Word] = []
        for line in self.lines:
            if not line.timed and untimed is None:
                continue
            index = len(lines)
            lines.append(Line(line.text, _or(line.start, untimed), _or(line.end, untimed)))
            for word in line.words:
                if word.start is None and untimed is None:
                    continue
                words.append(Word(word.text, _or(word.start, untimed), _or(word.end, untimed), index))
        return lines, words


def _or(value: Seconds | None, default: float | None) -> float:
    return float(value if value is not None else default)  # type: ignore[arg-type]


def _lrc_words(lyrics: ScoredLyrics) -> list[Word]:
    """Word records for enhanced LRC: an unplaced word's text joins the placed word before it (after it, at a
    line's start), since an LRC line's word tags must spell its text and an unplaced word has no time."""
    words: list[Word] = []
    index = -1
    for line in lyrics.lines:
        if not line.timed:
            continue
        index += 1
        pending: list[str] = []
        own: list[Word] = []
        for word in line.words:
            if word.start is None:
                if own:
                    own[-1] = Word(f"{own[-1].text} {word.text}", own[-1].start, own[-1].end, index)
                else:
                    pending.append(word.text)
                continue
            own.append(Word(" ".join([*pending, word.text]), word.start, word.end, index))  # type: ignore[arg-type]
            pending = []
        words.extend(own)
    return words


def write_scored_lrc(path: str | Path, lyrics: ScoredLyrics, *, word_times: bool = False) -> Path:
    """Write the timed lines of ``lyrics`` as ``.lrc`` (:func:`write_lrc`); with ``word_times``, enhanced LRC
    (``<mm:ss.xx>`` word tags). An untimed line cannot be shown at a time: it is written as a comment line
    ``# TEXT (not placed: REASON)`` at the top, which LRC players and :func:`read_lrc` skip. Returns ``path``."""
    lines, _ = lyrics.records()
    path = write_lrc(path, lines, words=_lrc_words(lyrics) if word_times else ())
    comments = [f"# {line.text} ({line.reason})\n" for line in lyrics.lines if not line.timed]
    if comments:
        path.write_text("".join(comments) + path.read_text(encoding="utf-8"), encoding="utf-8")
    return path


def _pysubs2(format_: str) -> Any:
    """The ``pysubs2`` module, or :class:`SongalignError` saying how to install it to write ``format_``."""
    try:
        import pysubs2
    except ImportError:
        raise SongalignError(
            f"writing {format_.upper()} needs pysubs2; install it with pip install 'songalign[lyrics]'"
        ) from None
    return pysubs2


def write_subtitles(path: str | Path, lyrics: ScoredLyrics, format_: str) -> Path:
    """Write the timed lines of ``lyrics`` as subtitles, one cue per line: ``format_`` ``"srt"`` (SubRip) or
    ``"vtt"`` (WebVTT), through ``pysubs2`` (the ``lyrics`` extra). Times are rounded to milliseconds; untimed
    lines have no cue (a subtitle has to be shown at a time). Returns ``path``."""
    pysubs2 = _pysubs2(format_)
    subtitles = pysubs2.SSAFile()
    for line in lyrics.records()[0]:
        subtitles.append(pysubs2.SSAEvent(start=round(line.start * 1000), end=round(line.end * 1000), text=line.text))
    path = Path(path)
    subtitles.save(str(path), format_=format_, encoding="utf-8")
    return path


def scored_document(lyrics: ScoredLyrics) -> dict[str, Any]:
    """``lyrics`` as a JSON document (what :func:`write_scored_json` writes): ``backend``, ``model_digest``,
    ``vocals``, ``min_confidence`` and ``lines``, each ``{start, end, text, confidence, unsure, reason,
    words: [{start, end, text, confidence}]}``; an untimed line or word has ``null`` times."""
    return {
        "backend": lyrics.backend,
        "model_digest": lyrics.model_digest,
        "vocals": lyrics.vocals,
        "min_confidence": lyrics.min_confidence,
        "lines": [
            {
                "start": line.start,
                "end": line.end,
                "text": line.text,
                "confidence": line.confidence,
                "unsure": line.unsure,
                "reason": line.reason,
                "words": [
                    {"start": w.start, "end": w.end, "text": w.text, "confidence": w.confidence} for w in line.words
                ],
            }
            for line in lyrics.lines
        ],
    }


def write_scored_json(path: str | Path, lyrics: ScoredLyrics) -> Path:
    """Write ``lyrics`` as JSON (:func:`scored_document`; UTF-8, times in seconds as computed). The timed lines
    read back with :func:`read_timed_json`, which leaves untimed ones out and says so; returns ``path``."""
    return _write_json(path, scored_document(lyrics))


def write_scored_jamendo(words_csv: str | Path, words_txt: str | Path, lines_csv: str | Path, lyrics: ScoredLyrics):
    """Write ``lyrics`` as JamendoLyrics' three files (:func:`write_jamendo_words_csv`, :func:`write_words_txt`,
    :func:`write_jamendo_lines_csv`). Every word and line keeps its row, so ``words.txt`` matches the word CSV
    one to one; an untimed one has ``nan`` times, which the readers read as NaN. Returns the three paths."""
    lines, words = lyrics.records(untimed=math.nan)
    return (
        write_jamendo_words_csv(words_csv, words),
        write_words_txt(words_txt, [word.text for word in words]),
        write_jamendo_lines_csv(lines_csv, lines),
    )


EXPORT_FORMATS: dict[str, tuple[str, ...]] = {
    "lrc": (".lrc",),
    "elrc": (".lrc",),
    "srt": (".srt",),
    "vtt": (".vtt",),
    "json": (".json",),
    "jamendo": (".words.csv", ".words.txt", ".lines.csv"),
}
"""What each export format writes, as suffixes after the song's stem (``elrc``: enhanced LRC, word tags)."""


def export_paths(folder: Path, stem: str, formats: Sequence[str]) -> list[Path]:
    """The files that exporting ``formats`` for ``stem`` into ``folder`` writes, in order.

    Raises :class:`SongalignError` for an unknown format, for ``lrc`` with ``elrc`` (both are ``STEM.lrc``: one
    file, not two names for one song, so the folder reader finds it) and for ``srt``/``vtt`` without ``pysubs2``;
    so a caller that asks first (as :func:`export_scored` does) writes nothing when a format cannot be written.
    """
    unknown = [name for name in formats if name not in EXPORT_FORMATS]
    if unknown:
        raise SongalignError(f"unknown lyrics format {unknown[0]!r}; choose from {', '.join(EXPORT_FORMATS)}")
    if "lrc" in formats and "elrc" in formats:
        raise SongalignError(f"lrc and elrc both write {stem}.lrc; give one of them (elrc adds word times)")
    for name in ("srt", "vtt"):
        if name in formats:
            _pysubs2(name)
    return [folder / f"{stem}{suffix}" for name in dict.fromkeys(formats) for suffix in EXPORT_FORMATS[name]]


def check_free(paths: Sequence[Path], *, force: bool) -> None:
    """Raise :class:`SongalignError` in one sentence when one of ``paths`` exists and ``force`` is not set:
    nothing a user made is overwritten without being asked."""
    existing = [path for path in paths if path.exists()]
    if existing and not force:
        if len(existing) == 1:
            said = f"{existing[0]} already exists and was kept; give --force to overwrite it"
        else:
            said = f"{existing[0]} and {len(existing) - 1} more already exist and were kept; give --force to overwrite them"
        raise SongalignError(f"{said}, or another --out-dir")


def export_scored(folder: Path, stem: str, lyrics: ScoredLyrics, formats: Sequence[str], *, force: bool = False):
    """Write ``lyrics`` into ``folder`` as ``STEM.<suffix>`` in each of ``formats`` (:data:`EXPORT_FORMATS`).

    Nothing is written when a file exists and ``force`` is not set (:func:`check_free`). Returns the paths.
    """
    paths = export_paths(folder, stem, formats)
    check_free(paths, force=force)
    folder.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for name in dict.fromkeys(formats):
        target = folder / f"{stem}{EXPORT_FORMATS[name][0]}"
        if name in ("lrc", "elrc"):
            written.append(write_scored_lrc(target, lyrics, word_times=name == "elrc"))
        elif name in ("srt", "vtt"):
            written.append(write_subtitles(target, lyrics, name))
        elif name == "json":
            written.append(write_scored_json(target, lyrics))
        else:
            written.extend(write_scored_jamendo(*(folder / f"{stem}{s}" for s in EXPORT_FORMATS[name]), lyrics))
    return written
