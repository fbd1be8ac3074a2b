"""Reader for JamendoLyrics MultiLang (and our synthetic corpus, which uses the same layout).

Layout (``src`` is the dataset root)::

    JamendoLyrics.csv                    URL,Filepath,Artist,Title,Genre,LicenseType,Language,...
    mp3/<name>.mp3                       the audio; <name> is Filepath without .mp3
    lyrics/<name>.txt                    one lyric line per line, blank lines between paragraphs
    lyrics/<name>.words.txt              one word per line
    annotations/words/<name>.csv         word_start,word_end,line_end (s); line_end is nan except
                                         on a line's last word
    annotations/lines/<name>.csv         start_time,end_time,lyrics_line (s)
    metadata/segments.csv                (synthetic corpus only) ground-truth sections
    metadata/interpretations.csv         (synthetic corpus only) song-level interpretations with
                                         votes, carried into ``Song.extra["interpretations"]``
    metadata/notes/<name>.csv            (synthetic corpus only) start,end,pitch,word_index,word:
                                         the sung notes (s, MIDI) -> ``Song.notes``
    annotations/phonemes/<name>.csv      (sung synthetic corpus only) start,end,phoneme,word_index: the
                                         phonemes sung (s, espeak-ng's IPA, word index) ->
                                         ``Song.extra["phonemes"]``, a list of {start, end, ipa, word}
    stems/<name>.vocals.<ext>            (synthetic corpus with stems only) the vocals as in the
                                         mix -> ``Song.extra["vocals_path"]`` (absolute)

A ``LanguageCode`` column in ``JamendoLyrics.csv`` (the sung synthetic corpus writes one: an espeak-ng code
such as ``fr``, beside ``Language`` = ``French``) goes to ``Song.extra["language_code"]``.

File names carry non-ASCII letters, apostrophes, brackets and ``&``; they are used verbatim.
When the line file is missing, lines are rebuilt from the word file's ``line_end`` marks. A notes
file that cannot be read is noted in the report and the song kept without notes. Real
JamendoLyrics has neither notes nor stems.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Sequence
from dataclasses import replace
from pathlib import Path

from songalign.corpus.lyrics_files import read_jamendo_lines_csv, read_jamendo_words_csv, read_words_txt
from songalign.corpus.readers.interpretation import INTERPRETATIONS, interpretation, parse_votes
from songalign.corpus.readers.text import parse_seconds, read_csv_rows, read_text, wanted_languages
from songalign.corpus.records import Line, Note, Paragraph, Song, Word
from songalign.corpus.validate import lines_from_words
from songalign.errors import BadInputError, SkipReport, SongalignError

JAMENDO_COLUMNS = (
    "URL",
    "Filepath",
    "Artist",
    "Title",
    "Genre",
    "LicenseType",
    "Language",
    "LyricOverlap",
    "Polyphonic",
    "NonLexical",
)
"""The header of ``JamendoLyrics.csv``."""
NOTE_COLUMNS = ("start", "end", "pitch", "word_index", "word")
"""The header of ``metadata/notes/<name>.csv`` (synthetic corpus): seconds, MIDI pitch, word index and text."""
PHONEME_COLUMNS = ("start", "end", "phoneme", "word_index")
"""The header of ``annotations/phonemes/<name>.csv`` (sung synthetic corpus): seconds, espeak-ng IPA, word index."""
LANGUAGE_CODE_COLUMN = "LanguageCode"
"""An optional column of ``JamendoLyrics.csv``: the song's espeak-ng language code."""

INDEX_FILE = "JamendoLyrics.csv"
REFERENCE_FILE = Path("metadata") / "segments.csv"
INTERPRETATION_FILE = Path("metadata") / "interpretations.csv"
NOTES_FOLDER = Path("metadata") / "notes"
PHONEMES_FOLDER = Path("annotations") / "phonemes"
STEMS_FOLDER = Path("stems")
VOCALS_MARK = ".vocals."
"""A vocal stem is ``stems/<name>.vocals.<ext>``."""


def _read_words(src: Path, name: str) -> list[Word]:
    """Words with times from ``annotations/words/<name>.csv`` and texts from ``lyrics/<name>.words.txt``
    (empty when it is missing or shorter); line indices from the ``line_end`` marks."""
    words = read_jamendo_words_csv(src / "annotations" / "words" / f"{name}.csv")
    text_path = src / "lyrics" / f"{name}.words.txt"
    texts = read_words_txt(text_path) if text_path.is_file() else []
    return [replace(word, text=text) for word, text in zip(words, texts, strict=False)] + words[len(texts) :]


def _read_lines(src: Path, name: str) -> list[Line] | None:
    path = src / "annotations" / "lines" / f"{name}.csv"
    return read_jamendo_lines_csv(path) if path.is_file() else None


def _read_notes(path: Path) -> list[Note]:
    """The notes of ``metadata/notes/<name>.csv``; a file with a missing column or a row whose start,
    end or pitch is not a finite number, or whose word index is not an integer, raises
    :class:`BadInputError` (partial notes would mislead pitch training more than none)."""
    rows = read_csv_rows(path)
    missing = [c for c in ("start", "end", "pitch") if rows and c not in rows[0]]
    if missing:
        raise BadInputError(
            path, f"missing column(s) {', '.join(missing)}; the header must be {','.join(NOTE_COLUMNS)}"
        )
    notes = []
    for row_number, row in enumerate(rows, start=2):
        start, end, pitch = (parse_seconds(row[c]) for c in ("start", "end", "pitch"))
        word = row.get("word_index", "")
        if not all(math.isfinite(v) for v in (start, end, pitch)) or not (word == "" or word.lstrip("-").isdigit()):
            raise BadInputError(
                path,
                f"row {row_number} has no readable start, end, pitch or word_index; fix the row or delete the file",
            )
        notes.append(Note(start, end, pitch, int(word) if word else -1, row.get("word", "")))
    return notes


def _read_phonemes(path: Path) -> list[dict]:
    """The phonemes of ``annotations/phonemes/<name>.csv`` as ``{"start", "end", "ipa", "word"}`` (seconds,
    espeak-ng IPA, word index); a missing column or a row without finite times, a phoneme and an integer word
    index raises :class:`BadInputError` (a frame target from half a file would be wrong)."""
    rows = read_csv_rows(path)
    missing = [c for c in PHONEME_COLUMNS if rows and c not in rows[0]]
    if missing:
        raise BadInputError(
            path, f"missing column(s) {', '.join(missing)}; the header must be {','.join(PHONEME_COLUMNS)}"
        )
    phonemes = []
    for row_number, row in enumerate(rows, start=2):
        start, end = parse_seconds(row["start"]), parse_seconds(row["end"])
        word, ipa = row["word_index"], row["phoneme"]
        if not (math.isfinite(start) and math.isfinite(end) and start <= end and ipa and word.isdigit()):
            raise BadInputError(
                path,
                f"row {row_number} has no readable start <= end, phoneme or word_index; fix the row or delete the file",
            )
        phonemes.append({"start": start, "end": end, "ipa": ipa, "word": int(word)})
    return phonemes


def _vocal_stems(src: Path) -> dict[str, Path]:
    """The vocal stems in ``stems/`` by song file stem (``<name>.vocals.<ext>``); empty when there is no such folder."""
    folder = src / STEMS_FOLDER
    if not folder.is_dir():
        return {}
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        name, mark, extension = path.name.rpartition(VOCALS_MARK)
        if mark and name and extension and "." not in extension and path.is_file():
            found.setdefault(name, path)
    return found


def _paragraphs(src: Path, name: str, lines: list[Line]) -> tuple[list[Line], list[Paragraph]]:
    """Group lines into paragraphs by the blank lines of ``lyrics/<name>.txt`` (when it matches the lines)."""
    path = src / "lyrics" / f"{name}.txt"
    if not path.is_file():
        return lines, []
    blocks = [[ln.strip() for ln in block.splitlines() if ln.strip()] for block in read_text(path).split("\n\n")]
    blocks = [b for b in blocks if b]
    if sum(len(b) for b in blocks) != len(lines):
        return lines, []
    grouped, paragraphs, cursor = [], [], 0
    for block in blocks:
        members = lines[cursor : cursor + len(block)]
        cursor += len(block)
        index = len(paragraphs)
        grouped.extend(Line(ln.text, ln.start, ln.end, index) for ln in members)
        paragraphs.append(Paragraph("\n".join(ln.text for ln in members), members[0].start, members[-1].end))
    return grouped, paragraphs


def _by_song(path: Path, entry: Callable[[dict[str, str]], dict | None]) -> dict[str, list[dict]]:
    """The rows of a synthetic-corpus metadata table made into entries (None: row left out), grouped by
    audio file name in file order; empty when the table is absent (a real JamendoLyrics folder)."""
    if not path.is_file():
        return {}
    grouped: dict[str, list[dict]] = {}
    for row in read_csv_rows(path):
        made = entry(row)
        if made is not None:
            grouped.setdefault(row.get("filepath", ""), []).append(made)
    return grouped


def _reference_section(row: dict[str, str]) -> dict:
    """A ground-truth section of the synthetic corpus (``metadata/segments.csv``), times in seconds."""
    entry: dict = {"start": parse_seconds(row.get("start", "")), "end": parse_seconds(row.get("end", ""))}
    for key in ("emotion", "caption"):
        if row.get(key):
            entry[key] = row[key]
    for key in ("valence", "arousal"):
        if row.get(key):
            entry[key] = parse_seconds(row[key])
    return entry


def _interpretation(row: dict[str, str]) -> dict | None:
    """A song-level interpretation of the synthetic corpus (``metadata/interpretations.csv``)."""
    return (
        interpretation(row["text"], parse_votes(row.get("votes")), kind=row.get("kind", ""))
        if row.get("text")
        else None
    )


def read_jamendo(src: Path, report: SkipReport, *, languages: Sequence[str] | str | None = None) -> Iterator[Song]:
    """Yield the songs of a JamendoLyrics-layout folder; ``languages`` keeps only those (e.g. ``["english"]``)."""
    index = src / INDEX_FILE
    if not index.is_file():
        raise SongalignError(f"{src} has no {INDEX_FILE}; point to the JamendoLyrics root folder (the one with mp3/)")
    wanted = wanted_languages(languages)
    references = _by_song(src / REFERENCE_FILE, _reference_section)
    readings = _by_song(src / INTERPRETATION_FILE, _interpretation)
    vocal_stems = _vocal_stems(src)
    for row_number, row in enumerate(read_csv_rows(index), start=2):
        filepath = row.get("filepath", "")
        if not filepath:
            report.skip(index, f"row {row_number} has no Filepath; fill it in or delete the row")
            continue
        language = row.get("language", "").lower()
        if wanted is not None and language not in wanted:
            report.skip(index, f"language '{language}' is not among {sorted(wanted)}", item=filepath)
            continue
        name = Path(filepath).stem
        audio = src / "mp3" / filepath
        if not audio.is_file():
            report.skip(
                audio, "audio file not found; download it into mp3/ or remove its row from the CSV", item=filepath
            )
            continue
        try:
            words = _read_words(src, name) if (src / "annotations" / "words" / f"{name}.csv").is_file() else []
            lines = _read_lines(src, name)
        except BadInputError as error:
            report.add_error(error, item=filepath)
            continue
        if lines is None:
            lines = lines_from_words(words)
        if not lines:
            report.skip(src / "annotations", "no line or word annotation found for this song; add one", item=filepath)
            continue
        try:
            lines, paragraphs = _paragraphs(src, name, lines)
        except BadInputError as error:
            report.add_error(error, item=filepath)
            paragraphs = []
        extra = {k: row[k] for k in ("url", "lyricoverlap", "polyphonic", "nonlexical") if row.get(k)}
        extra["annotation_path"] = str(src / "annotations" / "lines" / f"{name}.csv")
        if filepath in references:
            extra["reference_sections"] = references[filepath]
        if filepath in readings:
            extra[INTERPRETATIONS] = readings[filepath]
        if name in vocal_stems:
            extra["vocals_path"] = str(vocal_stems[name].resolve())
        if row.get(LANGUAGE_CODE_COLUMN.lower()):
            extra["language_code"] = row[LANGUAGE_CODE_COLUMN.lower()]
        phonemes_path = src / PHONEMES_FOLDER / f"{name}.csv"
        if phonemes_path.is_file():
            try:
                extra["phonemes"] = _read_phonemes(phonemes_path)
            except BadInputError as error:
                report.note(error.path, f"{error.problem}; the song is kept without phonemes", item=filepath)
        notes: list[Note] = []
        notes_path = src / NOTES_FOLDER / f"{name}.csv"
        if notes_path.is_file():
            try:
                notes = _read_notes(notes_path)
            except BadInputError as error:
                report.note(error.path, f"{error.problem}; the song is kept without notes", item=filepath)
        yield Song(
            id=name,
            title=row.get("title", ""),
            artist=row.get("artist", ""),
            language=language,
            audio_path=str(audio.resolve()),
            licence=row.get("licensetype", ""),
            genre=row.get("genre", ""),
            words=words,
            lines=lines,
            paragraphs=paragraphs,
            notes=notes,
            extra=extra,
        )
