"""Reader for the Song Interpretation Dataset of BART-fusion (Zhang et al., ISMIR 2022).

The dataset pairs Music4All songs (30 s excerpts, 44.1 kHz, which the user must have) with
SongMeanings comments — user *interpretations* of the song — and their net votes. The release is
one file: JSON (a list of song objects), JSON Lines, or the authors' pickle (a list of
``MusicData``/``LyricsCommentData`` objects, read with ``pickle.load``; their classes need not be
installed). A record has ``music4all_id`` (or ``song_id``/``id``), ``songmeanings_id``,
``lyrics`` and either one ``comment`` with ``votes`` (or ``rating``/``score``) or a list
``comments`` of ``[text, votes]`` pairs (or objects with ``text``/``comment`` and ``votes``).
Several records of one song are merged. The format is told by the file's extension: ``.pkl`` /
``.pickle`` a pickle, ``.jsonl`` JSON Lines; any other file is read as one JSON document and, when
that fails, as JSON Lines. Loading a pickle runs code from the file, so it is read only with
``trust_pickles=True`` (CLI ``--trust-pickles``, the same flag as DALI's).

Each song becomes one **untimed** :class:`~songalign.corpus.records.Song`: its lyrics are one
line spanning the audio, so :func:`songalign.corpus.prepare.prepare_corpus` cuts one segment per
song (the whole excerpt) and splits the songs like every corpus. The interpretations live at the
song level, in ``Song.extra["interpretations"]`` (:data:`INTERPRETATIONS`): a list of
``{"text": str, "votes": int | None, ...}`` in release order. Every reader may fill that key
— the Jamendo reader does for the synthetic corpus — and :mod:`songalign.caption.data` reads it
from any prepared corpus; the vote variants (full, votes ≥ 0, votes > 0) are chosen there, at
training time, so one prepared corpus serves all three.

Audio is looked up as ``<audio_dir>/<music4all_id><audio_extension>`` (Music4All's
``audios/`` layout). A song whose audio is absent is kept without audio (lyrics-only captioners
can still use it; its segment is lyrics-only) and *noted* in the report, not counted as skipped; a
record without a song id, lyrics or any interpretation is skipped and reported.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from songalign.corpus.records import Line, Song
from songalign.errors import BadInputError, SkipReport, SongalignError

INTERPRETATIONS = "interpretations"
"""The ``Song.extra`` key holding a song's interpretations: a list of ``{"text", "votes", ...}``."""

_SONG_KEYS = ("music4all_id", "song_id", "id")
_TEXT_KEYS = ("comment", "interpretation", "text")
_VOTE_KEYS = ("votes", "vote", "rating", "score")
_PICKLE_SUFFIXES = (".pkl", ".pickle")


def interpretation(text: str, votes: int | None, **details: Any) -> dict[str, Any]:
    """One entry of ``Song.extra["interpretations"]``: the text, its net votes (None when unknown), details."""
    return {"text": text, "votes": votes, **details}


def parse_votes(value: Any) -> int | None:
    """A vote count from a release field or a CSV cell; None when absent or unreadable."""
    if value is None or value == "":
        return None
    try:
        return int(round(float(value)))
    except (TypeError, ValueError):
        return None


def _first(record: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if record.get(key) not in (None, ""):
            return record[key]
    return None


def _comments(record: dict[str, Any]) -> list[tuple[str, int | None]]:
    """``(text, votes)`` pairs of a release record: one ``comment`` or a list of ``comments``."""
    single = _first(record, _TEXT_KEYS)
    if single is not None:
        return [(str(single), parse_votes(_first(record, _VOTE_KEYS)))]
    pairs = []
    for entry in record.get("comments") or record.get("interpretations") or []:
        if isinstance(entry, dict):
            text = _first(entry, _TEXT_KEYS)
            if text is not None:
                pairs.append((str(text), parse_votes(_first(entry, _VOTE_KEYS))))
        elif isinstance(entry, list | tuple) and entry:
            pairs.append((str(entry[0]), parse_votes(entry[1]) if len(entry) > 1 else None))
        elif isinstance(entry, str):
            pairs.append((entry, None))
    return [(text.strip(), votes) for text, votes in pairs if text.strip()]


class _Loose:
    """Stand-in for the release's own classes (``MusicData``, ``LyricsCommentData``) when unpickling."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.__dict__.update(kwargs)

    def __setstate__(self, state: Any) -> None:
        if isinstance(state, tuple) and len(state) == 2:  # (dict, slots) for slotted dataclasses
            state = {**(state[0] or {}), **(state[1] or {})}
        if isinstance(state, dict):
            self.__dict__.update(state)


class _ReleaseUnpickler(pickle.Unpickler):
    """Maps the release's classes to :class:`_Loose`; builtins and the standard library load as usual."""

    def find_class(self, module: str, name: str) -> Any:
        if module.split(".")[0] in ("builtins", "collections", "copyreg", "datetime", "numpy", "_codecs"):
            return super().find_class(module, name)
        return _Loose


def _as_record(obj: Any) -> dict[str, Any]:
    return obj if isinstance(obj, dict) else dict(getattr(obj, "__dict__", {}))


def _unpickle(path: Path) -> list[Any]:
    with path.open("rb") as handle:
        try:
            loaded = _ReleaseUnpickler(handle).load()  # noqa: S301 - guarded by trust_pickles
        except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as error:
            raise BadInputError(path, f"cannot be unpickled ({error}); check the file") from None
    if isinstance(loaded, dict):
        return list(loaded.values())
    return loaded if isinstance(loaded, list) else [loaded]


def _json_lines(path: Path, text: str) -> list[Any]:
    """One JSON value per non-blank line; a bad line is one error naming its number."""
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        try:
            records.append(json.loads(line))
        except json.JSONDecodeError as error:
            raise BadInputError(
                path, f"line {number} is not valid JSON ({error.msg}); the file must be JSON or JSON Lines"
            ) from None
    return records


def _parse_json(path: Path) -> list[Any]:
    """The records of a JSON or JSON Lines release: by extension (``.jsonl``), else JSON first, then JSON Lines."""
    text = path.read_text(encoding="utf-8")
    if path.suffix.lower() == ".jsonl":
        return _json_lines(path, text)
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        if error.msg != "Extra data":  # one document followed by more: JSON Lines; anything else is broken JSON
            raise BadInputError(
                path, f"is not valid JSON ({error.msg} at line {error.lineno}); check the file"
            ) from None
        return _json_lines(path, text)
    if isinstance(data, dict):  # one record, or a wrapper: {"data": [...]}, {"items": [...]} or {id: record}
        data = (
            [data]
            if _first(data, _SONG_KEYS) is not None
            else data.get("data") or data.get("items") or list(data.values())
        )
    if not isinstance(data, list):
        raise BadInputError(path, "holds no list of records; the release is a list of song objects")
    return data


def load_release(path: Path, trust_pickles: bool = False) -> list[dict[str, Any]]:
    """The records of a release file (JSON, JSON Lines, or — with ``trust_pickles`` — the pickle) as dicts."""
    if not path.is_file():
        raise SongalignError(
            f"{path} is not a file; give the Song Interpretation release itself (its JSON, JSON Lines or pickle)"
        )
    if path.suffix.lower() in _PICKLE_SUFFIXES:
        if not trust_pickles:
            raise SongalignError(
                f"{path} is a Python pickle and loading a pickle can run any code it contains, so pass "
                "--trust-pickles (trust_pickles=True) only if it comes from a source you trust, or use the JSON"
            )
        loaded = _unpickle(path)
    else:
        loaded = _parse_json(path)
    return [_as_record(record) for record in loaded]


def read_interpretation(
    src: Path,
    report: SkipReport,
    *,
    audio_dir: Path | None = None,
    trust_pickles: bool = False,
    audio_extension: str = ".mp3",
) -> Iterator[Song]:
    """Yield one untimed song per song of the Song Interpretation release file ``src``.

    ``audio_dir`` holds ``<music4all_id><audio_extension>`` (None: every song is kept without
    audio). Raises :class:`SongalignError` at once when ``src`` is not a readable release, is a
    pickle without ``trust_pickles``, or ``audio_dir`` does not exist.
    """
    src = Path(src)
    records = load_release(src, trust_pickles)
    audio_root = Path(audio_dir) if audio_dir is not None else None
    if audio_root is not None and not audio_root.is_dir():
        raise SongalignError(f"{audio_root} is not a folder; give --audio-dir the folder with <music4all_id>.mp3")
    return _songs(src, records, report, audio_root, audio_extension)


def _songs(
    src: Path, records: list[dict[str, Any]], report: SkipReport, audio_root: Path | None, audio_extension: str
) -> Iterator[Song]:
    merged: dict[str, dict[str, Any]] = {}  # song id → its first record's fields and every interpretation
    for number, record in enumerate(records):
        song_id = _first(record, _SONG_KEYS)
        lyrics = str(record.get("lyrics") or "").strip()
        item = str(song_id) if song_id is not None else f"record {number}"
        if song_id is None or not lyrics:
            report.skip(src, f"{item} has no song id or no lyrics; it is left out", item=item)
            continue
        comments = _comments(record)
        if not comments:
            report.skip(src, f"{item} has no interpretation (comment); it is left out", item=item)
            continue
        song = merged.setdefault(item, {"record": record, "lyrics": lyrics, "interpretations": []})
        song["interpretations"] += [interpretation(text, votes) for text, votes in comments]
    if not merged:
        raise SongalignError(f"{src} holds no usable record; each needs a song id, lyrics and a comment")
    for song_id, song in merged.items():
        record = song["record"]
        audio = ""
        if audio_root is not None:
            candidate = audio_root / f"{song_id}{audio_extension}"
            if candidate.is_file():
                audio = str(candidate.resolve())
            else:
                report.note(
                    candidate, "audio file not found; the song is kept without audio (lyrics only)", item=song_id
                )
        extra: dict[str, Any] = {"untimed": True, INTERPRETATIONS: song["interpretations"], "annotation_path": str(src)}
        if record.get("songmeanings_id") not in (None, ""):
            extra["songmeanings_id"] = str(record["songmeanings_id"])
        if record.get("split"):
            # kept for reference only: a prepared corpus is split by song with its own seed, like every corpus
            extra["release_split"] = str(record["split"])
        yield Song(
            id=song_id,
            title=str(record.get("title") or ""),
            artist=str(record.get("artist") or ""),
            language=str(record.get("language") or "").lower(),
            audio_path=audio,
            lines=[Line(song["lyrics"], 0.0, 0.0)],
            extra=extra,
        )
