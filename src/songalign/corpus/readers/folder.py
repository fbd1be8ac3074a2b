"""Readers for a user's own songs: a folder of audio with timed lyrics, or a CSV of untimed pairs.

:func:`read_folder` walks a folder (recursively) for audio files, each with a lyrics annotation
of the same name beside it (``Artist - Title.mp3`` + ``Artist - Title.lrc``), or with none (the
files are read by :mod:`songalign.corpus.lyrics_files`, which says more about each format):

- ``.lrc``: timed lines ``[mm:ss.xx]text`` (also ``[mm:ss]``, ``[mm:ss.xxx]`` and ``[mm:ss:xx]``);
  several time tags on one line (a repeated chorus); ``[offset:±ms]`` (positive shifts the
  lyrics earlier: time = tag - offset / 1000); ``[ar:]``, ``[ti:]``, ``[al:]``, ``[la:]`` /
  ``[lang:]`` metadata; enhanced ``<mm:ss.xx>`` word times. A line ends where the next one
  starts, but no later than its words can be sung
  (:func:`~songalign.corpus.lyrics_files.max_line_seconds`: 5 s for a held note plus 1 s per
  syllable); a longer gap is instrumental. A line with no text only marks such an end, and the
  last line ends :data:`~songalign.corpus.lyrics_files.LAST_LINE_SECONDS` after it starts (or at
  the end of the audio, if sooner). A line with a malformed time tag (``[0x:zz.qq]``,
  ``[00:-3.00]``, an unclosed ``[00:15.75``) is left out and reported with its line number; the
  line before it does not stretch over it.
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
  ``aligner`` such a song is skipped with a message saying how to time it. The reader option
  ``aligner_vocals`` (``--option aligner_vocals=spleeter``; also ``mix``, ``NAME:MODEL`` of another
  registered separator or an open-unmix folder) is the vocal channel the aligner hears, as a command's
  ``--vocals``; without it, the transcriber's own (one note when it differs from what it trained on).
  The reader option ``aligner_language`` (``--option aligner_language=fr``, an espeak-ng code or a
  language's name) is the lyrics' language, given to the aligner as its ``language`` option (a phoneme
  transcriber spells the lyrics in it; a character one reads letters whatever the language) and kept as the
  song's ``language``; without it a phoneme transcriber reads English.
  The aligned song's
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

Symbolic links are followed, to files and to folders; a link that loops, leads nowhere, or leads
to a folder read already is reported, not followed.

Timings are parsed, not checked: NaN, negative or overlapping times are passed on to
:func:`songalign.corpus.validate.clean_song`, which repairs or drops them and reports it (a line
that starts after the audio's end as past the end).
"""

from __future__ import annotations

import errno
import inspect
import math
import os
from collections.abc import Iterator, Sequence
from pathlib import Path, PurePath
from typing import Any

from songalign.audio.io import AUDIO_EXTENSIONS, probe_audio
from songalign.corpus.aligners import ALIGNERS, LyricsAligner
from songalign.corpus.lyrics_files import TIMED_READERS, read_plain_lyrics
from songalign.corpus.readers.text import (
    csv_records,
    first_field,
    is_blank,
    read_text,
    require_columns,
    wanted_languages,
)
from songalign.corpus.records import Line, Paragraph, Song
from songalign.corpus.segmenter import AUDIO_ONLY_WINDOW_SECONDS
from songalign.errors import BadInputError, SkipReport, SongalignError

ANNOTATION_SUFFIXES = (".lrc", ".csv", ".json")
"""Lyrics annotation formats read beside an audio file, in order of preference."""

UNTIMED_SUFFIX = ".txt"
"""Plain untimed lyrics beside an audio file: read (and aligned) only with ``aligner`` and no timed annotation."""

UNTIMED_KIND = "untimed .txt lyrics without --option aligner=MODEL_DIR to time them"
UNALIGNED_KIND = "lyrics that could not be aligned to their audio (too long for it, or no letters to align)"
AUDIO_ONLY_KIND = "audio with no lyrics file beside it, read as audio-only (fixed windows, no text)"

PAIR_AUDIO_FIELDS = ("audio_path",)
PAIR_LYRICS_FIELDS = ("lyrics", "text")


# --------------------------------------------------------------------------------------------
# The readers


def read_folder(
    src: Path,
    report: SkipReport,
    *,
    languages: Sequence[str] | str | None = None,
    aligner: str | Path | None = None,
    aligner_kind: str = "ctc",
    aligner_vocals: str | None = None,
    aligner_language: str | None = None,
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
    :data:`songalign.corpus.aligners.ALIGNERS` (default ``ctc``: a transcriber folder), hearing the vocal
    channel ``aligner_vocals`` (e.g. ``spleeter`` or ``mix``; default: the model's own), which is given to the
    aligner as its ``vocals`` option, the lyrics being in ``aligner_language`` (its ``language`` option, and the
    song's language; default: unstated); without ``aligner`` such songs are skipped and reported.

    Audio with no lyrics file at all is an audio-only song: no lines, ``extra["audio_only"] =
    True`` and ``extra["window_seconds"] = window_seconds`` (seconds, > 0), the length of the fixed
    windows corpus preparation cuts it into; each one is noted in ``report``.

    An ``.lrc`` without audio, unreadable files, bad rows, malformed LRC time tags, symbolic links
    that loop or lead nowhere, and lyrics that do not fit their audio go to ``report``. Raises :class:`SongalignError` at once if ``src`` is not a folder with audio,
    ``aligner`` is not a transcriber folder that writes lyrics, ``aligner_vocals`` or ``aligner_language`` is
    given without ``aligner`` or is not one the aligner can take, or ``window_seconds`` is not a
    positive number of seconds.
    """
    src = Path(src)
    if not src.is_dir():
        raise SongalignError(
            f"{src} is not a folder; give the folder that holds your audio files and their .lrc, .csv or .json lyrics"
        )
    window = _window_seconds(window_seconds)
    txt_aligner = _txt_aligner(aligner, aligner_kind, {"vocals": aligner_vocals, "language": aligner_language})
    files = _files_under(src, report)
    audio = [path for path in files if path.suffix.lower() in AUDIO_EXTENSIONS]
    if not audio:
        raise SongalignError(
            f"{src} holds no audio files ({', '.join(AUDIO_EXTENSIONS)}); give the folder that holds your songs"
        )
    return _read_folder(src, files, audio, report, wanted_languages(languages), txt_aligner, window)


def _txt_aligner(aligner: str | Path | None, kind: str, options: dict[str, str | None]) -> LyricsAligner | None:
    """The lyrics aligner ``ALIGNERS[kind](aligner, **options)``, given only the ``options`` that are set (an
    aligner that hears no vocal channel, or takes no language, need not take them); None without ``aligner``. One
    sentence when an option is given without ``aligner`` or to an aligner that does not take it."""
    given = {name: str(value) for name, value in options.items() if value is not None}
    if aligner is None:
        if given:
            name, value = next(iter(given.items()))
            what = "chooses what a lyrics aligner hears" if name == "vocals" else "is the lyrics' language for an aligner"
            raise SongalignError(
                f"option aligner_{name}={value} {what}, but no aligner was given; "
                f"add --option aligner=MODEL_DIR or leave aligner_{name} out"
            )
        return None
    made = ALIGNERS[kind]
    if not given:
        return made(aligner)
    try:
        parameters = inspect.signature(made).parameters
    except (TypeError, ValueError):  # a callable whose signature cannot be read: let it say
        parameters = dict.fromkeys(given)
    for name, value in given.items():
        if name not in parameters and not any(p.kind is p.VAR_KEYWORD for p in parameters.values()):
            what, one = ("hears no vocal channel", "one") if name == "vocals" else (f"takes no {name}", "it")
            raise SongalignError(
                f"option aligner_{name}={value} is given, but the lyrics aligner '{kind}' {what}; "
                f"leave aligner_{name} out or choose an aligner that takes {one} (ctc)"
            )
    return made(aligner, **given)


def _files_under(src: Path, report: SkipReport) -> list[Path]:
    """Every file under ``src``, sorted, hidden ones (a name starting with ``.``) left out.

    Symbolic links are followed once the real folders are read, each folder read once: a link that
    leads back to a folder holding it (a loop), to a folder already read, or nowhere, is reported
    and not followed, so that no song goes missing, nor is read twice, without a word.
    """
    files: list[Path] = []
    links: list[Path] = []
    read: set[Path] = set()

    def walk(folder: Path) -> None:
        read.add(folder.resolve())
        try:
            entries = sorted(folder.iterdir())
        except OSError as error:
            report.skip(folder, f"cannot be read ({error.strerror}); give yourself read access to it")
            return
        for path in entries:
            if path.name.startswith("."):
                continue
            if path.is_symlink():
                links.append(path)
            elif path.is_dir():
                if path.resolve() in read:  # reached again from above through a link
                    report.skip(path, "is a folder read already through a symbolic link; remove that link")
                else:
                    walk(path)
            elif path.is_file():
                files.append(path)

    walk(src)
    while links:  # links found in linked folders join the queue
        path = links.pop(0)
        problem = _link_problem(path, read)
        if problem:
            report.skip(path, problem)
        elif path.is_dir():
            walk(path)
        elif path.is_file():
            files.append(path)
    return sorted(files)


def _link_problem(link: Path, read: set[Path]) -> str | None:
    """Why the symbolic link ``link`` is not followed (``read``: the real folders read so far), or None."""
    target = os.readlink(link)
    try:
        os.stat(link)  # follows the link: ELOOP for a chain of links that loops, ENOENT for one to nothing
    except OSError as error:
        if error.errno == errno.ELOOP:
            return f"is a symbolic link to {target} that loops back on itself; point it at a real file or folder"
        return f"is a symbolic link to {target}, which does not exist; fix or remove the link"
    if not link.is_dir():
        return None
    real, holder = link.resolve(), link.parent.resolve()
    if real == holder or real in holder.parents:
        return f"is a symbolic link to {target}, a folder that holds it (a loop); it was not followed"
    if real in read:
        return f"is a symbolic link to {target}, a folder read already; it was not read twice, remove the link"
    return None


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
        if path.suffix.lower() in TIMED_READERS or path.suffix.lower() == UNTIMED_SUFFIX:
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
            parsed = TIMED_READERS[annotation_path.suffix.lower()](annotation_path)
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
        lines, words = parsed.lines_and_words(duration)
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
    language = str(getattr(txt_aligner, "language", None) or "").lower()
    unwanted = _unwanted_language(
        language, wanted, "give the lyrics as .lrc with a [la:] tag, --option aligner_language, or leave out languages"
    )
    if unwanted:
        report.skip(txt_path, unwanted, item=song_id)
        return None
    try:
        paragraphs = read_plain_lyrics(txt_path).paragraphs
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
        language=language,
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
    require_columns(
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
        audio_value, lyrics_value = first_field(row, PAIR_AUDIO_FIELDS), first_field(row, PAIR_LYRICS_FIELDS)
        if is_blank(audio_value):
            report.skip(
                csv_path,
                f"{where} has no audio_path; give the audio file's path (relative to {folder} or absolute) "
                "or remove the row",
                item=where,
            )
            continue
        if is_blank(lyrics_value):
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
