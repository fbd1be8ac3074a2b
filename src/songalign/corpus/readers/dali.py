"""Reader for DALI (Meseguer-Brocal et al., 2018): 5,358 songs with note-level lyric annotations.

On disk DALI is a folder of ``<dali_id>.gz`` files, each a gzip'd **pickle** of a
``DALI.Annotations`` object (package ``dali-dataset``, import name ``DALI``):

- ``entry.info``: ``id``, ``artist``, ``title``, ``audio`` (``url``, ``working``, ``path``),
  ``metadata`` (``album``, ``release_date``, ``genres``, ``language``), ``scores`` (``NCC``, ...),
  ``dataset_version``, ``ground-truth``.
- ``entry.annotations``: ``type`` (``'horizontal'`` or ``'vertical'``) and ``annot``. Horizontal
  annotations hold four lists, ``notes``, ``words``, ``lines`` and ``paragraphs``, of
  ``{'text', 'time': [start, end] (seconds), 'freq': [low, high] (Hz), 'index': parent}``
  where a note's parent is a word, a word's a line and a line's a paragraph. Vertical
  annotations hold the same information as one tree (``annot['hierarchical']``); they are
  converted with the package's own ``DALI.extra.unroll``.

The audio is not part of DALI: users fetch it themselves (``DALI.get_audio`` downloads it from
YouTube) into a folder of ``<dali_id>.<ext>`` files, which this reader is given as
``audio_dir``.

Unpickling runs whatever code the file names, so :func:`read_dali` refuses to read anything
unless the caller says that the files are trusted (``trust_pickles=True``, CLI
``--trust-pickles``).
"""

from __future__ import annotations

import gzip
import math
import pickle
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

from songalign.audio.io import AUDIO_EXTENSIONS
from songalign.corpus.readers.text import wanted_languages
from songalign.corpus.records import Line, Note, Paragraph, Song, Word, hz_to_midi
from songalign.errors import MissingDependencyError, SkipReport, SongalignError

AUDIO_SUBFOLDER = "audio"
"""Name of the folder looked for (inside the annotation folder, then beside it) when no ``audio_dir`` is given."""

_FETCH_HINT = "fetch it with DALI's download tools (DALI.get_audio)"


def read_dali(
    src: Path,
    report: SkipReport,
    *,
    audio_dir: Path | None = None,
    trust_pickles: bool = False,
    languages: Sequence[str] | str | None = ("english",),
) -> Iterator[Song]:
    """Read the DALI annotation files in ``src`` (a folder of ``<dali_id>.gz``, or one such file).

    Yields one :class:`Song` per annotation file whose language is wanted and whose audio is
    found; ``Song.id`` is the DALI id and every time is in seconds. Note pitches are the MIDI
    number of the mean of the note's ``freq`` range (440 Hz -> 69.0); the language is
    lower-cased. ``Song.extra`` holds ``album``, ``release_date``, ``genres``, ``url`` (the
    YouTube id), ``working``, ``ncc`` (DALI's alignment score), ``dataset_version``,
    ``ground_truth`` and ``annotation_path`` (the ``.gz`` file).

    ``audio_dir`` holds ``<dali_id>.<ext>`` for an ``ext`` of
    :data:`~songalign.audio.io.AUDIO_EXTENSIONS`; by default ``src/audio`` and then
    ``src/../audio`` are used if they exist. ``languages`` keeps songs whose
    ``metadata.language`` is one of them (case-insensitive; ``None`` keeps every song).

    Songs without audio, in another language, or whose file is corrupt are added to
    ``report`` and passed over. Raises :class:`SongalignError` at once (not at the first
    ``next``) when ``src`` holds no annotation files, ``audio_dir`` does not exist, or
    ``trust_pickles`` is False; :class:`MissingDependencyError` when ``dali-dataset`` is not
    installed (its classes are needed to unpickle the files).
    """
    src = Path(src)
    files = _annotation_files(src)
    if not trust_pickles:
        raise SongalignError(
            f"{src}: DALI annotation files are Python pickles and loading a pickle can run any code it "
            "contains, so pass --trust-pickles (trust_pickles=True) only if these files come from a source "
            "you trust, such as the DALI release you downloaded yourself"
        )
    _require_dali_package()
    folder = _audio_folder(src, audio_dir)
    wanted = wanted_languages(languages)
    return _read_files(files, report, folder, _index_audio(folder) if folder else {}, wanted, src)


def _annotation_files(src: Path) -> list[Path]:
    if src.is_file():
        if not src.name.endswith(".gz"):
            raise SongalignError(f"{src} is not a DALI annotation file (<dali_id>.gz); give the folder that holds them")
        return [src]
    if not src.is_dir():
        raise SongalignError(f"{src} does not exist; give the folder that holds DALI's <dali_id>.gz files")
    files = sorted(path for path in src.glob("*.gz") if path.is_file())
    if not files:
        raise SongalignError(
            f"{src} holds no DALI annotation files (<dali_id>.gz); give the folder of the DALI release that holds them"
        )
    return files


def _require_dali_package() -> None:
    try:
        import DALI  # noqa: F401  (the pickles name DALI.Annotations.Annotations)
    except ImportError as error:
        raise MissingDependencyError("dali-dataset", "reading DALI annotation files", extra="dali") from error


def _audio_folder(src: Path, audio_dir: Path | None) -> Path | None:
    """The folder to look for ``<dali_id>.<ext>`` in, or None when there is none."""
    if audio_dir is not None:
        audio_dir = Path(audio_dir)
        if not audio_dir.is_dir():
            raise SongalignError(
                f"audio folder {audio_dir} does not exist; give the folder that holds the DALI audio as <dali_id>.mp3 "
                "(or .wav, .flac, ...)"
            )
        return audio_dir.resolve()
    base = src if src.is_dir() else src.parent
    for candidate in (base / AUDIO_SUBFOLDER, base.parent / AUDIO_SUBFOLDER):
        if candidate.is_dir():
            return candidate.resolve()
    return None


def _index_audio(folder: Path) -> dict[str, Path]:
    """Map each file stem in ``folder`` to its audio file, preferring the order of AUDIO_EXTENSIONS."""
    rank = {ext: i for i, ext in enumerate(AUDIO_EXTENSIONS)}
    found: dict[str, Path] = {}
    for path in sorted(folder.iterdir()):
        ext = path.suffix.lower()
        if ext not in rank or not path.is_file():
            continue
        held = found.get(path.stem)
        if held is None or rank[ext] < rank[held.suffix.lower()]:
            found[path.stem] = path
    return found


def _read_files(
    files: list[Path],
    report: SkipReport,
    folder: Path | None,
    audio: dict[str, Path],
    wanted: frozenset[str] | None,
    src: Path,
) -> Iterator[Song]:
    for path in files:
        dali_id = path.name[: -len(".gz")]
        try:
            entry = _load_pickle(path)
        except Exception as error:  # noqa: BLE001 - unpickling can raise anything; one bad file must not stop the batch
            report.skip(
                path,
                f"cannot be read as a DALI annotation file ({type(error).__name__}: {error}); "
                "replace it with the file from the DALI release",
                item=dali_id,
            )
            continue
        info, annotations = getattr(entry, "info", None), getattr(entry, "annotations", None)
        if not isinstance(info, Mapping) or not isinstance(annotations, Mapping):
            report.skip(
                path,
                f"holds a {type(entry).__name__}, not a DALI Annotations object; "
                "keep only DALI's <dali_id>.gz files in this folder",
                item=dali_id,
            )
            continue
        dali_id = str(info.get("id") or dali_id)
        metadata = info.get("metadata") if isinstance(info.get("metadata"), Mapping) else {}
        language = _text(metadata.get("language")).lower()
        if wanted is not None and language not in wanted:
            shown = f"'{language}'" if language else "not given"
            report.skip(
                path,
                f"language is {shown}, not one of {', '.join(sorted(wanted))}; add it to languages "
                "(or pass languages=None to keep every language) to read this song",
                item=dali_id,
            )
            continue
        annot = _horizontal(annotations)
        if annot is None:
            report.skip(
                path,
                f"annotations of type {annotations.get('type')!r} hold no notes/words/lines/paragraphs; "
                "replace it with the file from the DALI release",
                item=dali_id,
            )
            continue
        audio_path = _find_audio(dali_id, audio, info)
        if audio_path is None:
            if folder:
                reason = f"no audio file {dali_id}.<ext> in {folder}; {_FETCH_HINT} into that folder"
            else:
                reason = f"{_no_folder_reason(src)}; {_FETCH_HINT} and pass its folder as audio_dir"
            report.skip(path, reason, item=dali_id)
            continue
        song = _song(dali_id, info, metadata, language, annot, audio_path, path.resolve(), report)
        if not song.lines and not song.words:
            report.skip(path, "has no lyric lines or words; it cannot be used", item=dali_id)
            continue
        yield song


def _no_folder_reason(src: Path) -> str:
    base = src if src.is_dir() else src.parent
    return f"no audio found: no audio_dir was given and neither {base / AUDIO_SUBFOLDER} nor {base.parent / AUDIO_SUBFOLDER} exists"


def _load_pickle(path: Path) -> Any:
    """Unpickle one gzip'd DALI file (the caller has checked that the user trusts it)."""
    with gzip.open(path, "rb") as handle:
        return pickle.load(handle)  # noqa: S301 - guarded by trust_pickles


def _horizontal(annotations: Mapping[str, Any]) -> dict[str, list] | None:
    """The four horizontal levels (notes, words, lines, paragraphs), converting vertical trees."""
    annot = annotations.get("annot")
    if not isinstance(annot, Mapping):
        return None
    if "hierarchical" in annot and not any(key in annot for key in ("words", "lines")):
        from DALI.extra import unroll

        try:
            annot = unroll(annot)
        except Exception:  # noqa: BLE001 - a malformed tree is reported by the caller
            return None
    levels = {key: annot.get(key) for key in ("notes", "words", "lines", "paragraphs")}
    if not any(isinstance(items, list) and items for items in levels.values()):
        return None
    return {key: items if isinstance(items, list) else [] for key, items in levels.items()}


def _find_audio(dali_id: str, audio: dict[str, Path], info: Mapping[str, Any]) -> Path | None:
    if dali_id in audio:
        return audio[dali_id]
    # DALI's own download records where it put the file; use it if it is there.
    recorded = info.get("audio", {}).get("path") if isinstance(info.get("audio"), Mapping) else None
    if isinstance(recorded, str) and recorded not in ("", "None"):
        path = Path(recorded)
        if path.is_absolute() and path.is_file() and path.suffix.lower() in AUDIO_EXTENSIONS:
            return path
    return None


def _song(
    dali_id: str,
    info: Mapping[str, Any],
    metadata: Mapping[str, Any],
    language: str,
    annot: dict[str, list],
    audio_path: Path,
    path: Path,
    report: SkipReport,
) -> Song:
    genres = metadata.get("genres")
    genre_list = [_text(g) for g in genres] if isinstance(genres, list | tuple) else ([_text(genres)] if genres else [])
    audio_info = info.get("audio") if isinstance(info.get("audio"), Mapping) else {}
    scores = info.get("scores") if isinstance(info.get("scores"), Mapping) else {}
    notes, unpitched = [], 0
    for item in annot["notes"]:
        start, end = _span(item)
        pitch = _pitch(item)
        if pitch is None:
            unpitched += 1
            continue
        notes.append(Note(start=start, end=end, pitch=pitch, word=_index(item), text=_item_text(item)))
    if unpitched:
        report.skip(
            path,
            f"{unpitched} note(s) have no positive frequency and were dropped (the words and lines are kept)",
            item=dali_id,
        )
    return Song(
        id=dali_id,
        title=_text(info.get("title")),
        artist=_text(info.get("artist")),
        language=language,
        audio_path=str(audio_path.resolve()),
        genre=genre_list[0] if genre_list else "",
        words=[Word(_item_text(i), *_span(i), line=_index(i)) for i in annot["words"]],
        lines=[Line(_item_text(i), *_span(i), paragraph=_index(i)) for i in annot["lines"]],
        paragraphs=[Paragraph(_item_text(i), *_span(i)) for i in annot["paragraphs"]],
        notes=notes,
        extra={
            "album": _text(metadata.get("album")),
            "release_date": _text(metadata.get("release_date")),
            "genres": genre_list,
            "url": _text(audio_info.get("url")),
            "working": bool(audio_info.get("working", False)),
            "ncc": _number(scores.get("NCC")),
            "dataset_version": _number(info.get("dataset_version")),
            "ground_truth": bool(info.get("ground-truth", False)),
            "annotation_path": str(path),
        },
    )


def _text(value: Any) -> str:
    """A metadata value as text; DALI writes the string 'None' for unknown values."""
    if value is None:
        return ""
    text = str(value).strip()
    return "" if text == "None" else text


def _item_text(item: Any) -> str:
    return _text(item.get("text")) if isinstance(item, Mapping) else ""


def _number(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if math.isfinite(number) else None


def _span(item: Any) -> tuple[float, float]:
    """``(start, end)`` in seconds from an item's ``time``; NaN where it is missing (clean_song drops those)."""
    time = item.get("time") if isinstance(item, Mapping) else None
    if not isinstance(time, list | tuple) or len(time) < 2:
        return math.nan, math.nan
    start, end = _number(time[0]), _number(time[1])
    return (math.nan if start is None else start), (math.nan if end is None else end)


def _index(item: Any) -> int:
    value = item.get("index") if isinstance(item, Mapping) else None
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _pitch(item: Any) -> float | None:
    """MIDI pitch of the mean of a note's ``freq`` range, or None when it has no positive frequency."""
    freq = item.get("freq") if isinstance(item, Mapping) else None
    values = [_number(f) for f in freq] if isinstance(freq, list | tuple) else [_number(freq)]
    values = [v for v in values if v is not None]
    if not values:
        return None
    mean = sum(values) / len(values)
    return hz_to_midi(mean) if mean > 0 else None
