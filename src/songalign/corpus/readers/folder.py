"""Readers for a user's own songs: a folder of audio with timed lyrics, or a CSV of untimed pairs.

:func:`read_folder` walks a folder (recursively) for audio files, each with a lyrics annotation
of the same name beside it (``Artist - Title.mp3`` + ``Artist - Title.lrc``), or with none:

- ``.lrc``: timed lines ``[mm:ss.xx]text`` (also ``[mm:ss]``, ``[mm:ss.xxx]`` and ``[mm:ss:xx]``);
  several time tags on one line (a repeated chorus); ``[offset:±ms]`` (positive shifts the
  lyrics earlier: time = tag - offset / 1000); ``[ar:]``, ``[ti:]``, ``[al:]``, ``[la:]`` /
  ``[lang:]`` metadata; enhanced ``<mm:ss.xx>`` word times. A line ends where the next one
  starts; a line with no text only marks such an end (an instrumental gap), and the last line
  ends :data:`LAST_LINE_SECONDS` after it starts (or at the end of the audio, if sooner).
- ``.csv`` with the header ``start,end,text`` (or ``start_time,end_time,lyrics_line``), times in
  seconds (or ``mm:ss.xx``); an empty ``end`` is filled as in LRC.
- ``.json``: a list of ``{"start", "end", "text"}`` (optionally ``"words"``, a list of the same),
  or ``{"lines": [...], "title": ..., "artist": ..., "language": ...}``.
- ``.txt``: plain, untimed lyrics (one lyric line per line, blank lines between paragraphs), read
  only when none of the above is there and only with the reader option ``aligner`` (``--option
  aligner=MODEL_DIR``): the lyrics aligner named by ``aligner_kind`` in
  :data:`songalign.corpus.aligners.ALIGNERS` (default ``ctc``: a transcriber folder from
  the ``transcribe train`` command, whose CTC emissions are forced-aligned to the lyrics) times every
  line and word, so untimed lyrics become timed lines, words, paragraphs and segments. Without
  ``aligner`` such a song is skipped with a message saying how to time it. The aligned song's
  ``extra["aligned_by"]`` records the aligner's own description (``aligner`` and, for ``ctc``,
  ``transcriber``: the folder), ``vocals`` (what it heard as the singing voice: ``"mix copy"`` when
  the transcriber was trained on the mix, or on vocal stems, which user audio lacks; else the
  separator) and ``log_likelihood`` (the alignment's natural-log score). Lyrics too long to fit
  the audio skip that song with the reason. The option is checked before any song is read; the
  model is loaded once per reader call, at the first ``.txt`` that needs it. Importing this module
  imports no torch, and nothing of the task packages: the aligner is reached by its registered name.
- no lyrics file at all: the song is *audio-only*. It is read with no lyric lines and
  ``extra["audio_only"] = True``; corpus preparation cuts it into fixed windows of
  ``window_seconds`` (reader option ``--option window_seconds=10``, the default) with no text
  (:func:`songalign.corpus.segmenter.window_song`: the last window is moved back to end at the
  song's end, overlapping the one before, so no audio is dropped). Such segments are searched
  by their sound (mood text); lyrics-based training, evaluation and lyric search leave them out
  and say how many. Each audio-only song is noted in the report, so that a lyrics file missing by
  mistake does not go unseen.

:func:`read_pairs` reads a CSV of ``audio_path,lyrics[,description]`` rows without timing
(what CLAP users fine-tune on): each row is one song whose lyrics span the whole audio.

Text files must be UTF-8 (with or without a byte-order mark) or UTF-16 with a byte-order mark.
Other encodings are not guessed: every byte string decodes as Latin-1, so a wrong guess (a
cp1251 or GBK file read as Latin-1, common for LRC files) would silently turn the lyrics into
garbage. Such a file is skipped with a message asking for it to be saved as UTF-8.

Timings are parsed, not checked: NaN, negative or overlapping times are passed on to
:func:`songalign.corpus.validate.clean_song`, which repairs or drops them and reports it.
"""

from __future__ import annotations

import json
import math
import os
import re
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path, PurePath
from typing import Any

from songalign.audio.io import AUDIO_EXTENSIONS, probe_audio
from songalign.corpus.aligners import ALIGNERS, LyricsAligner
from songalign.corpus.readers.text import csv_records, read_text, wanted_languages
from songalign.corpus.records import Line, Paragraph, Seconds, Song, Word
from songalign.corpus.segmenter import AUDIO_ONLY_WINDOW_SECONDS
from songalign.errors import BadInputError, SkipReport, SongalignError

LAST_LINE_SECONDS: Seconds = 5.0
"""How long the last line of a file that gives no end times lasts (capped by the audio's end)."""

ANNOTATION_SUFFIXES = (".lrc", ".csv", ".json")
"""Lyrics annotation formats read beside an audio file, in order of preference."""

UNTIMED_SUFFIX = ".txt"
"""Plain untimed lyrics beside an audio file: read (and aligned) only with ``aligner`` and no timed annotation."""

UNTIMED_KIND = "untimed .txt lyrics without --option aligner=MODEL_DIR to time them"
UNALIGNED_KIND = "lyrics that could not be aligned to their audio (too long for it, or no letters to align)"
AUDIO_ONLY_KIND = "audio with no lyrics file beside it, read as audio-only (fixed windows, no text)"

START_FIELDS = ("start", "start_time")
END_FIELDS = ("end", "end_time")
TEXT_FIELDS = ("text", "lyrics_line")
PAIR_AUDIO_FIELDS = ("audio_path",)
PAIR_LYRICS_FIELDS = ("lyrics", "text")


# --------------------------------------------------------------------------------------------
# What every annotation format is parsed into


@dataclass
class _Timed:
    """A line (or word) as a file gives it: times in seconds, ``end`` None when the file does not say."""

    start: Seconds
    end: Seconds | None
    text: str
    words: list[_Timed] = field(default_factory=list)


@dataclass
class _Annotation:
    """A parsed annotation file: its timed entries (empty-text entries mark line ends), metadata, problems."""

    entries: list[_Timed] = field(default_factory=list)
    title: str = ""
    artist: str = ""
    language: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    problems: list[str] = field(default_factory=list)


def _assemble(entries: list[_Timed], duration: Seconds | None) -> tuple[list[Line], list[Word]]:
    """Turn parsed entries into lines and words, filling the ends a file left open.

    An entry without an end ends where the next later entry starts (an empty-text entry only
    marks such an end); the last one ends ``LAST_LINE_SECONDS`` after it starts, or at
    ``duration`` (seconds) if that is sooner. A word without an end ends where the next word of
    its line starts, the last one where its line ends.
    """
    ordered = sorted(entries, key=_start_key)
    starts = [entry.start for entry in ordered]
    lines: list[Line] = []
    words: list[Word] = []
    for position, entry in enumerate(ordered):
        if not entry.text:
            continue
        end = entry.end if entry.end is not None else _open_end(entry.start, starts[position + 1 :], duration)
        line_index = len(lines)
        lines.append(Line(entry.text, entry.start, end))
        for k, word in enumerate(entry.words):
            word_end = word.end
            if word_end is None:
                word_end = entry.words[k + 1].start if k + 1 < len(entry.words) else end
            words.append(Word(word.text, word.start, word_end, line=line_index))
    return lines, words


def _start_key(entry: _Timed) -> tuple[int, float]:
    # NaN cannot be sorted; such entries go last and clean_song drops them.
    return (0, entry.start) if math.isfinite(entry.start) else (1, 0.0)


def _open_end(start: Seconds, later_starts: list[Seconds], duration: Seconds | None) -> Seconds:
    for candidate in later_starts:
        if candidate > start:  # several lines may share a time (a translation); skip those
            return candidate
    fallback = start + LAST_LINE_SECONDS
    return min(fallback, duration) if duration is not None else fallback


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


def _field(record: Mapping[str, Any], names: Iterable[str]) -> Any:
    """The value of the first of ``names`` that ``record`` has (None if none)."""
    for name in names:
        if name in record:
            return record[name]
    return None


def _is_blank(value: Any) -> bool:
    return value is None or (isinstance(value, str) and not value.strip())


def _clean_text(value: Any) -> str:
    """Lyric text with runs of whitespace (including newlines) collapsed to one space."""
    return " ".join(str(value).split()) if value is not None else ""


def _timed_from_record(record: Mapping[str, Any]) -> _Timed:
    """One ``{start, end, text[, words]}`` record (a CSV row or JSON object); ValueError says what is wrong."""
    start_value, end_value = _field(record, START_FIELDS), _field(record, END_FIELDS)
    if _is_blank(start_value):
        raise ValueError("has no start time")
    try:
        start = _to_seconds(start_value)
    except ValueError:
        raise ValueError(f"has a start {start_value!r} that is not a time in seconds or mm:ss.xx") from None
    end = None
    if not _is_blank(end_value):
        try:
            end = _to_seconds(end_value)
        except ValueError:
            raise ValueError(f"has an end {end_value!r} that is not a time in seconds or mm:ss.xx") from None
    words = record.get("words") or []
    if isinstance(words, str):
        words = []  # a CSV column called "words" is not word timing
    if not isinstance(words, list) or not all(isinstance(w, Mapping) for w in words):
        raise ValueError("has 'words' that are not a list of {start, end, text} objects")
    try:
        timed_words = [_timed_from_record(word) for word in words]
    except ValueError as error:
        raise ValueError(f"has an unusable word: it {error}") from None
    return _Timed(start, end, _clean_text(_field(record, TEXT_FIELDS)), [w for w in timed_words if w.text])


def _entries_from_records(annotation: _Annotation, records: Iterable[tuple[str, Any]]) -> None:
    """Parse ``(where, record)`` pairs into ``annotation``; a bad record becomes a problem, not an error."""
    for where, record in records:
        if not isinstance(record, Mapping):
            annotation.problems.append(f"{where} is not an object with start, end and text; it was left out")
            continue
        try:
            annotation.entries.append(_timed_from_record(record))
        except ValueError as error:
            annotation.problems.append(f"{where} {error}; it was left out, fix it to keep that line")


# --------------------------------------------------------------------------------------------
# Text files and CSV


def _require_columns(header: list[str], path: Path, *columns: tuple[str, ...], expected: str) -> None:
    missing = [names for names in columns if not any(name in header for name in names)]
    if missing:
        shown = ",".join(header) if header else "nothing"
        raise BadInputError(path, f"has the header '{shown}' but it needs {expected}; fix its first line")


# --------------------------------------------------------------------------------------------
# The three annotation formats

_LRC_TIME = r"(\d+):(\d{1,2})(?:[.:](\d{1,3}))?"
_LRC_LINE = re.compile(rf"^\s*((?:\[{_LRC_TIME}\]\s*)+)(.*)$")
_LRC_LINE_TAG = re.compile(rf"\[{_LRC_TIME}\]")
_LRC_WORD_TAG = re.compile(rf"<{_LRC_TIME}>")
_LRC_META = re.compile(r"^\s*\[([A-Za-z#]+)\s*:(.*)\]\s*$")
_LRC_META_FIELDS = {"ar": "artist", "ti": "title", "la": "language", "lang": "language"}
_LRC_META_EXTRA = {"al": "album", "au": "songwriter", "by": "lrc_author"}


def _lrc_seconds(minutes: str, seconds: str, fraction: str | None) -> Seconds:
    """``mm``, ``ss`` and an optional fraction (``.5``, ``.50``, ``.500`` or ``:50`` are all half a second)."""
    value = 60 * int(minutes) + int(seconds)
    return value + int(fraction) / 10 ** len(fraction) if fraction else float(value)


def _parse_lrc(text: str, path: Path) -> _Annotation:
    """Parse LRC text (see the module docstring for what is understood)."""
    annotation = _Annotation()
    offset = 0.0
    timed_lines: list[tuple[list[Seconds], str]] = []
    for raw in text.splitlines():
        match = _LRC_LINE.match(raw)
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
                annotation.problems.append(f"[offset:{value}] is not a number of milliseconds; it was ignored")
        elif key in _LRC_META_FIELDS and value:
            setattr(annotation, _LRC_META_FIELDS[key], value.lower() if key in ("la", "lang") else value)
        elif key in _LRC_META_EXTRA and value:
            annotation.extra[_LRC_META_EXTRA[key]] = value
    if not timed_lines:
        raise BadInputError(
            path, "holds no timed lines ([mm:ss.xx]text); add time tags or use a .csv with start,end,text"
        )
    for tags, body in timed_lines:
        line_text, words, end = _lrc_body(body)
        for tag in tags:
            shift = tag - tags[0] - offset  # word tags are absolute for the first occurrence of the line
            annotation.entries.append(
                _Timed(
                    tag - offset,
                    None if end is None else end + shift,
                    line_text,
                    [_Timed(w.start + shift, None if w.end is None else w.end + shift, w.text) for w in words],
                )
            )
    return annotation


def _lrc_body(body: str) -> tuple[str, list[_Timed], Seconds | None]:
    """Split the text after a line's time tags into (line text, words from ``<mm:ss.xx>`` tags, end).

    Each ``<time>`` tagged piece becomes one word, ending at the next tag; a tag at the very end
    of the line gives the line's end (None otherwise).
    """
    pieces = _LRC_WORD_TAG.split(body)  # [before, m, s, frac, piece, m, s, frac, piece, ...]
    line_text = _clean_text("".join(pieces[0::4]))
    times = [_lrc_seconds(*pieces[i : i + 3]) for i in range(1, len(pieces), 4)]
    texts = [pieces[i] for i in range(4, len(pieces), 4)]
    words = [
        _Timed(time, times[k + 1] if k + 1 < len(times) else None, _clean_text(piece))
        for k, (time, piece) in enumerate(zip(times, texts, strict=True))
        if piece.strip()
    ]
    end = times[-1] if times and not texts[-1].strip() else None
    return line_text, words, end


def _parse_csv(text: str, path: Path) -> _Annotation:
    """Parse a ``start,end,text`` (or ``start_time,end_time,lyrics_line``) CSV."""
    header, rows = csv_records(text, path)
    _require_columns(header, path, START_FIELDS, TEXT_FIELDS, expected="the columns start,end,text")
    annotation = _Annotation()
    _entries_from_records(annotation, ((f"line {number}", row) for number, row in rows))
    return annotation


def _parse_json(text: str, path: Path) -> _Annotation:
    """Parse a JSON list of ``{start, end, text}`` or an object with ``lines`` and metadata."""
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise BadInputError(path, f"is not valid JSON ({error}); fix it or save the lyrics as .lrc or .csv") from None
    annotation = _Annotation()
    if isinstance(data, Mapping):
        for key in ("title", "artist", "language"):
            if isinstance(data.get(key), str):
                setattr(annotation, key, data[key].strip().lower() if key == "language" else data[key].strip())
        data = data.get("lines")
    if not isinstance(data, list):
        raise BadInputError(
            path, 'holds neither a list of {"start", "end", "text"} objects nor an object with "lines"; reshape it'
        )
    _entries_from_records(annotation, ((f"line entry {n}", record) for n, record in enumerate(data, start=1)))
    return annotation


_PARSERS: dict[str, Callable[[str, Path], _Annotation]] = {
    ".lrc": _parse_lrc,
    ".csv": _parse_csv,
    ".json": _parse_json,
}


# --------------------------------------------------------------------------------------------
# The readers


def read_folder(
    src: Path,
    report: SkipReport,
    *,
    languages: Sequence[str] | str | None = None,
    aligner: str | Path | None = None,
    aligner_kind: str = "ctc",
    window_seconds: float = AUDIO_ONLY_WINDOW_SECONDS,
) -> Iterator[Song]:
    """Read a folder (searched recursively) of audio files with lyrics annotations beside them, or none.

    Each audio file (an extension in :data:`~songalign.audio.io.AUDIO_EXTENSIONS`) may have an
    annotation with the same name: ``.lrc``, ``.csv`` or ``.json`` (if several exist, the first
    of that order is used). ``Song.id`` is the audio's path relative to ``src`` without its
    extension (``"album/01 Song"``). Title, artist and language come from the annotation's
    tags, else ``Artist - Title`` in the file name; the language is lower-cased. Every audio
    file is probed: ``Song.duration`` is its length in seconds, and one that does not decode
    is skipped. ``Song.extra["annotation_path"]`` is the annotation file's path, plus
    ``album``, ``songwriter`` and ``lrc_author`` from LRC tags. ``languages``, when given,
    keeps only songs whose language is one of them (case-insensitive); songs that state no
    language are then skipped too (a ``.txt`` states none).

    ``aligner``, a model folder, times songs whose only lyrics are a plain ``<name>.txt`` (see the
    module docstring) with the lyrics aligner named ``aligner_kind`` in
    :data:`songalign.corpus.aligners.ALIGNERS` (default ``ctc``: a transcriber folder); without it
    such songs are skipped and reported.

    Audio with no lyrics file at all is an audio-only song: no lines, ``extra["audio_only"] =
    True`` and ``extra["window_seconds"] = window_seconds`` (seconds, > 0), the length of the fixed
    windows corpus preparation cuts it into; each one is noted in ``report``.

    An ``.lrc`` without audio, unreadable files, bad rows and lyrics that do not fit their audio
    go to ``report``. Raises :class:`SongalignError` at once if ``src`` is not a folder with audio,
    ``aligner`` is not a transcriber folder that writes lyrics, or ``window_seconds`` is not a
    positive number of seconds.
    """
    src = Path(src)
    if not src.is_dir():
        raise SongalignError(
            f"{src} is not a folder; give the folder that holds your audio files and their .lrc, .csv or .json lyrics"
        )
    window = _window_seconds(window_seconds)
    txt_aligner = None if aligner is None else ALIGNERS[aligner_kind](aligner)
    files = sorted(
        path
        for path in src.rglob("*")
        if path.is_file() and not any(part.startswith(".") for part in path.relative_to(src).parts)
    )
    audio = [path for path in files if path.suffix.lower() in AUDIO_EXTENSIONS]
    if not audio:
        raise SongalignError(
            f"{src} holds no audio files ({', '.join(AUDIO_EXTENSIONS)}); give the folder that holds your songs"
        )
    return _read_folder(src, files, audio, report, wanted_languages(languages), txt_aligner, window)


def _window_seconds(value: Any) -> float:
    """``value`` as a positive, finite number of seconds; one SongalignError naming the option otherwise."""
    try:
        seconds = float(value)
    except (TypeError, ValueError):
        seconds = math.nan
    if isinstance(value, bool) or not (math.isfinite(seconds) and seconds > 0):
        raise SongalignError(
            f"option window_seconds={value!r} is not a positive number of seconds; give e.g. window_seconds=10"
        )
    return seconds


def _unwanted_language(language: str, wanted: frozenset[str] | None, fix: str) -> str | None:
    """Why a song in ``language`` is left out (``fix`` says how to state its language), or None to keep it."""
    if wanted is None or language in wanted:
        return None
    if not language:
        return f"states no language, and only {', '.join(sorted(wanted))} songs are read; {fix}"
    return f"language is '{language}', not one of {', '.join(sorted(wanted))}; add it to languages to read this song"


def _read_folder(
    src: Path,
    files: list[Path],
    audio: list[Path],
    report: SkipReport,
    wanted: frozenset[str] | None,
    txt_aligner: LyricsAligner | None,
    window_seconds: float,
) -> Iterator[Song]:
    annotations: dict[tuple[Path, str], dict[str, Path]] = {}
    for path in files:
        if path.suffix.lower() in _PARSERS or path.suffix.lower() == UNTIMED_SUFFIX:
            annotations.setdefault((path.parent, path.stem), {}).setdefault(path.suffix.lower(), path)
    rank = {ext: i for i, ext in enumerate(AUDIO_EXTENSIONS)}
    chosen: dict[tuple[Path, str], Path] = {}
    for path in sorted(audio, key=lambda p: rank[p.suffix.lower()]):
        chosen.setdefault((path.parent, path.stem), path)

    for path in files:
        key = (path.parent, path.stem)
        if path.suffix.lower() == ".lrc" and key not in chosen:
            report.skip(path, "has no audio file with the same name beside it; put the song's audio there")
    for path in audio:
        key = (path.parent, path.stem)
        song_id = path.relative_to(src).with_suffix("").as_posix()
        if chosen[key] != path:
            report.skip(
                path,
                f"shares its name with {chosen[key].name}, which is read instead; rename one of them "
                "and give it its own annotation",
                item=song_id,
            )
            continue
        found = annotations.get(key, {})
        annotation_path = next((found[suffix] for suffix in ANNOTATION_SUFFIXES if suffix in found), None)
        if annotation_path is None and UNTIMED_SUFFIX in found:
            song = _untimed_song(path, found[UNTIMED_SUFFIX], song_id, report, wanted, txt_aligner)
            if song is not None:
                yield song
            continue
        if annotation_path is None:
            song = _audio_only_song(path, song_id, report, wanted, window_seconds)
            if song is not None:
                yield song
            continue
        try:
            parsed = _PARSERS[annotation_path.suffix.lower()](read_text(annotation_path), annotation_path)
            duration = probe_audio(path).duration
        except BadInputError as error:
            report.add_error(error, item=song_id)
            continue
        unwanted = _unwanted_language(
            parsed.language, wanted, 'add a [la:] tag (.lrc) or a "language" key (.json), or leave out languages'
        )
        if unwanted:
            report.skip(annotation_path, unwanted, item=song_id)
            continue
        for problem in parsed.problems:
            report.skip(annotation_path, problem, item=song_id)
        lines, words = _assemble(parsed.entries, duration)
        if not lines:
            report.skip(
                annotation_path, "holds no timed lyric lines with text; add the lyrics with their times", item=song_id
            )
            continue
        artist, title = _artist_title(path.stem)
        yield Song(
            id=song_id,
            title=parsed.title or title,
            artist=parsed.artist or artist,
            language=parsed.language,
            audio_path=str(path.resolve()),
            duration=duration,
            lines=lines,
            words=words,
            extra={"annotation_path": str(annotation_path.resolve()), **parsed.extra},
        )


def _audio_only_song(
    path: Path, song_id: str, report: SkipReport, wanted: frozenset[str] | None, window_seconds: float
) -> Song | None:
    """The audio-only song of ``path`` (no lyrics file beside it), noted in ``report``; None (reported) if unusable."""
    unwanted = _unwanted_language("", wanted, "leave out languages to read songs without lyrics")
    if unwanted:
        report.skip(path, f"has no lyrics file and {unwanted}", item=song_id)
        return None
    try:
        duration = probe_audio(path).duration
    except BadInputError as error:
        report.add_error(error, item=song_id)
        return None
    report.note(
        path,
        f"has no lyrics beside it, so it is read as audio-only: {window_seconds:g} s windows with no text; "
        f"add {path.stem}.lrc, {path.stem}.csv (start,end,text) or {path.stem}.json to give it lyrics",
        item=song_id,
        kind=AUDIO_ONLY_KIND,
    )
    artist, title = _artist_title(path.stem)
    return Song(
        id=song_id,
        title=title,
        artist=artist,
        audio_path=str(path.resolve()),
        duration=duration,
        extra={"audio_only": True, "window_seconds": window_seconds},
    )


# --------------------------------------------------------------------------------------------
# Untimed .txt lyrics, timed by a transcriber


def _txt_paragraphs(text: str) -> list[list[str]]:
    """The lyric lines of a plain-lyrics text, grouped into paragraphs by blank (whitespace-only) lines."""
    paragraphs: list[list[str]] = [[]]
    for raw in text.splitlines():
        line = " ".join(raw.split())
        if line:
            paragraphs[-1].append(line)
        elif paragraphs[-1]:
            paragraphs.append([])
    return [paragraph for paragraph in paragraphs if paragraph]


def _untimed_song(
    audio_path: Path,
    txt_path: Path,
    song_id: str,
    report: SkipReport,
    wanted: frozenset[str] | None,
    txt_aligner: LyricsAligner | None,
) -> Song | None:
    """The song of ``audio_path`` with the lyrics of ``txt_path`` timed by ``txt_aligner``; None (reported) if not."""
    if txt_aligner is None:
        report.skip(
            txt_path,
            "holds untimed lyrics, so its song was left out; time them with --option aligner=MODEL_DIR "
            "(a transcriber from `songalign transcribe train`), or give an .lrc with times instead",
            item=song_id,
            kind=UNTIMED_KIND,
        )
        return None
    unwanted = _unwanted_language("", wanted, "give the lyrics as .lrc with a [la:] tag, or leave out languages")
    if unwanted:
        report.skip(txt_path, unwanted, item=song_id)
        return None
    try:
        paragraphs = _txt_paragraphs(read_text(txt_path))
        duration = probe_audio(audio_path).duration
        if not paragraphs:
            report.skip(
                txt_path, "holds no lyric lines; write the song's lyrics in it, one line per line", item=song_id
            )
            return None
        aligned = txt_aligner.align(audio_path, [line for paragraph in paragraphs for line in paragraph], report)
    except BadInputError as error:
        report.add_error(error, item=song_id)
        return None
    except SongalignError as error:  # the lyrics do not fit the audio (or hold no letters it can align)
        report.skip(txt_path, f"could not be aligned to {audio_path.name}: {error}", item=song_id, kind=UNALIGNED_KIND)
        return None
    lines: list[Line] = []
    song_paragraphs: list[Paragraph] = []
    for paragraph_index, paragraph in enumerate(paragraphs):
        members = aligned.lines[len(lines) : len(lines) + len(paragraph)]
        lines.extend(Line(line.text, line.start, line.end, paragraph_index) for line in members)
        song_paragraphs.append(Paragraph("\n".join(line.text for line in members), members[0].start, members[-1].end))
    artist, title = _artist_title(audio_path.stem)
    return Song(
        id=song_id,
        title=title,
        artist=artist,
        audio_path=str(audio_path.resolve()),
        duration=duration,
        lines=lines,
        words=list(aligned.words),
        paragraphs=song_paragraphs,
        extra={
            "annotation_path": str(txt_path.resolve()),
            "aligned_by": {
                **txt_aligner.describe(),
                "vocals": aligned.vocals,
                "log_likelihood": float(aligned.log_likelihood),
            },
        },
    )


def _artist_title(stem: str) -> tuple[str, str]:
    """``("Artist", "Title")`` from a file stem ``Artist - Title``; ``("", stem)`` otherwise."""
    artist, sep, title = stem.partition(" - ")
    return (artist.strip(), title.strip()) if sep and artist.strip() and title.strip() else ("", stem.strip())


def read_pairs(src: Path, report: SkipReport, *, languages: Sequence[str] | str | None = None) -> Iterator[Song]:
    """Read a CSV of untimed (audio, lyrics[, description]) pairs: one song per row.

    ``src`` is the CSV (or a folder holding exactly one ``.csv``) with the header
    ``audio_path,lyrics`` (``text`` is accepted for ``lyrics``) and optionally ``description``,
    ``title``, ``artist`` and ``language``. ``audio_path`` is relative to the CSV's folder or
    absolute. Each song has one :class:`Line` holding the whole lyrics from 0 s to the audio's
    end (``Song.duration``, seconds, from probing the file) and ``extra`` =
    ``{"untimed": True, "description": ..., "annotation_path": <the CSV>}``. ``languages``
    filters on the ``language`` column as :func:`read_folder` does.

    ``Song.id`` is the audio path (relative to the CSV's folder when under it) without its
    extension; a second row for the same audio (another description) gets ``#2``, and so on.
    Rows with a missing field, empty lyrics or audio that does not decode go to ``report``.
    Raises :class:`SongalignError` at once if the CSV cannot be read or lacks those columns.
    """
    csv_path = _pairs_file(Path(src))
    header, rows = csv_records(read_text(csv_path), csv_path)
    _require_columns(
        header, csv_path, PAIR_AUDIO_FIELDS, PAIR_LYRICS_FIELDS, expected="the columns audio_path,lyrics[,description]"
    )
    return _read_pairs(csv_path, rows, report, wanted_languages(languages))


def _pairs_file(src: Path) -> Path:
    if src.is_file():
        return src
    candidates = sorted(src.glob("*.csv")) if src.is_dir() else []
    if len(candidates) != 1:
        found = f"{len(candidates)} .csv files" if src.is_dir() else "nothing"
        raise SongalignError(f"{src} holds {found}; give the path of the CSV of audio_path,lyrics pairs itself")
    return candidates[0]


def _read_pairs(
    csv_path: Path, rows: list[tuple[int, dict[str, str]]], report: SkipReport, wanted: frozenset[str] | None
) -> Iterator[Song]:
    folder = csv_path.parent.resolve()
    seen: dict[str, int] = {}
    for number, row in rows:
        where = f"line {number}"
        audio_value, lyrics_value = _field(row, PAIR_AUDIO_FIELDS), _field(row, PAIR_LYRICS_FIELDS)
        if _is_blank(audio_value):
            report.skip(
                csv_path,
                f"{where} has no audio_path; give the audio file's path (relative to {folder} or absolute) "
                "or remove the row",
                item=where,
            )
            continue
        if _is_blank(lyrics_value):
            report.skip(
                csv_path, f"{where} has no lyrics; add the song's lyrics in that column or remove the row", item=where
            )
            continue
        language = (row.get("language") or "").strip().lower()
        unwanted = _unwanted_language(language, wanted, "add a language column, or leave out languages")
        if unwanted:
            report.skip(csv_path, f"{where} {unwanted}", item=where)
            continue
        audio = Path(os.path.normpath(folder / Path(audio_value.strip()).expanduser()))
        try:
            duration = probe_audio(audio).duration
        except BadInputError as error:
            report.skip(csv_path, f"{where}: {error}", item=where)
            continue
        base_id = _pair_id(audio, folder)
        seen[base_id] = seen.get(base_id, 0) + 1
        song_id = base_id if seen[base_id] == 1 else f"{base_id}#{seen[base_id]}"
        artist, title = _artist_title(audio.stem)
        yield Song(
            id=song_id,
            title=(row.get("title") or "").strip() or title,
            artist=(row.get("artist") or "").strip() or artist,
            language=language,
            audio_path=str(audio),
            duration=duration,
            lines=[Line(lyrics_value.strip(), 0.0, duration)],
            extra={
                "untimed": True,
                "description": (row.get("description") or "").strip(),
                "annotation_path": str(csv_path.resolve()),
            },
        )


def _pair_id(audio: Path, folder: Path) -> str:
    """The audio path without extension, relative to ``folder`` when under it, never absolute."""
    try:
        relative = audio.relative_to(folder)
    except ValueError:
        relative = PurePath(audio).relative_to(audio.anchor)
    return relative.with_suffix("").as_posix()
