"""Song Interpretation–style records: a song's lyrics (and audio) with one user interpretation.

The captioners of seeds 002–004 learn ``(music, lyrics) → interpretation``. Their data, the Song
Interpretation Dataset of BART-fusion (Zhang et al., ISMIR 2022), pairs Music4All songs with
SongMeanings comments and their votes; three *variants* keep different comments by vote, and all
three share one test split:

==============  ==========================================  =============================
variant         training and validation items kept           aliases
==============  ==========================================  =============================
``full``        every interpretation                         ``all``
``votes_ge_0``  votes ≥ 0 (unknown votes are left out)       ``nonneg``, ``>=0``, ``ge0``
``votes_gt_0``  votes > 0 (unknown votes are left out)       ``positive``, ``>0``, ``gt0``
==============  ==========================================  =============================

Splits are assigned **per song** (no song in two splits) before any vote filter, so the test
split is the same for every variant (and is not filtered unless asked).

A set of records lives in a folder::

    interpretations.jsonl   one JSON object per interpretation (see :class:`Interpretation`)
    info.json               where the records came from, how they were split

Readers: :func:`read_release` reads the BART-fusion release (JSON or JSON Lines; its pickle only
with ``trust_pickle=True``, because unpickling runs code); :mod:`songalign.caption.synth` writes
synthetic interpretations for the synthetic corpus.
"""

from __future__ import annotations

import json
import pickle
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

from songalign.corpus.segmenter import SplitConfig, assign_splits
from songalign.errors import BadInputError, SkipReport, SongalignError

RECORDS_FILE = "interpretations.jsonl"
INFO_FILE = "info.json"
SPLITS = ("train", "val", "test")


@dataclass
class Interpretation:
    """One ``(song, interpretation)`` item.

    ``id`` is unique per item; ``song_id`` groups the interpretations of one song (their lyrics
    and audio are the same). ``lyrics`` keep their line breaks; ``text`` is the interpretation;
    ``votes`` is the net vote count (``None`` when unknown). ``audio_path`` is absolute (``""``
    when the song has no audio); ``duration`` is the audio's length in seconds when known.
    ``split`` is ``train``, ``val`` or ``test``.
    """

    id: str
    song_id: str
    lyrics: str
    text: str
    votes: int | None = None
    split: str = ""
    audio_path: str = ""
    duration: float | None = None
    title: str = ""
    artist: str = ""
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Interpretation:
        known = {name for name in cls.__dataclass_fields__}
        return cls(**{k: v for k, v in data.items() if k in known})


def _always(votes: int | None) -> bool:
    return True


def _non_negative(votes: int | None) -> bool:
    return votes is not None and votes >= 0


def _positive(votes: int | None) -> bool:
    return votes is not None and votes > 0


VARIANTS: dict[str, Callable[[int | None], bool]] = {
    "full": _always,
    "votes_ge_0": _non_negative,
    "votes_gt_0": _positive,
}
"""The dataset variants of BART-fusion: name → which votes an item may have to be kept."""

_ALIASES = {
    "all": "full",
    "nonneg": "votes_ge_0",
    ">=0": "votes_ge_0",
    "ge0": "votes_ge_0",
    "positive": "votes_gt_0",
    ">0": "votes_gt_0",
    "gt0": "votes_gt_0",
}


def variant_name(name: str) -> str:
    """The canonical variant name for ``name`` or one of its aliases."""
    key = name.strip().lower().replace(" ", "")
    key = _ALIASES.get(key, key)
    if key not in VARIANTS:
        raise SongalignError(
            f"unknown dataset variant {name!r}; choose one of: {', '.join(VARIANTS)} (or nonneg, positive)"
        )
    return key


@dataclass
class InterpretationSet:
    """Interpretations with their song-level splits; ``info`` says where they came from."""

    items: list[Interpretation] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.items)

    def __iter__(self) -> Iterator[Interpretation]:
        return iter(self.items)

    def select(self, split: str, variant: str = "full", filter_test: bool = False) -> list[Interpretation]:
        """Items of ``split`` (``train``/``val``/``test``/``all``) in ``variant``.

        The test split is shared by every variant: it is filtered by votes only when
        ``filter_test`` is true.
        """
        keep = VARIANTS[variant_name(variant)]
        chosen = self.items if split == "all" else [i for i in self.items if i.split == split]
        if split == "test" and not filter_test:
            return list(chosen)
        return [i for i in chosen if keep(i.votes)]

    def songs(self) -> list[str]:
        """Song ids in first-seen order."""
        return list(dict.fromkeys(item.song_id for item in self.items))

    def counts(self) -> dict[str, dict[str, int]]:
        """Items and songs per split for each variant: ``{variant: {split: items, split_songs: songs}}``."""
        table: dict[str, dict[str, int]] = {}
        for variant in VARIANTS:
            row: dict[str, int] = {}
            for split in SPLITS:
                chosen = self.select(split, variant)
                row[split] = len(chosen)
                row[f"{split}_songs"] = len({i.song_id for i in chosen})
            table[variant] = row
        return table

    def save(self, directory: str | Path) -> Path:
        """Write ``interpretations.jsonl`` and ``info.json`` into ``directory`` (created if needed)."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        with (directory / RECORDS_FILE).open("w", encoding="utf-8") as handle:
            for item in self.items:
                handle.write(json.dumps(item.to_dict(), ensure_ascii=False) + "\n")
        info = dict(self.info) | {"items": len(self.items), "songs": len(self.songs()), "counts": self.counts()}
        (directory / INFO_FILE).write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return directory

    @classmethod
    def load(cls, source: str | Path) -> InterpretationSet:
        """Read a folder written by :meth:`save` (or its ``interpretations.jsonl`` file)."""
        source = Path(source)
        path = source / RECORDS_FILE if source.is_dir() else source
        if not path.is_file():
            raise SongalignError(
                f"{source} holds no {RECORDS_FILE}; create one with `songalign caption prepare-synth` "
                "or `songalign caption prepare-release`"
            )
        items = []
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
            if not line.strip():
                continue
            try:
                items.append(Interpretation.from_dict(json.loads(line)))
            except (json.JSONDecodeError, TypeError) as error:
                raise BadInputError(
                    path, f"line {number} is not an interpretation record ({error}); rewrite the file"
                ) from None
        info_path = path.parent / INFO_FILE
        info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.is_file() else {}
        return cls(items, info)


def split_by_song(items: list[Interpretation], split: SplitConfig | None = None) -> list[Interpretation]:
    """Items with ``split`` set from a seeded song-level split (items that already have one keep it)."""
    if all(i.split in SPLITS for i in items):
        return items
    assignment = assign_splits([i.song_id for i in items], split or SplitConfig())
    return [i if i.split in SPLITS else replace(i, split=assignment[i.song_id]) for i in items]


# -- the BART-fusion release -----------------------------------------------------------------------

_SONG_KEYS = ("music4all_id", "song_id", "id")
_TEXT_KEYS = ("comment", "interpretation", "text")
_VOTE_KEYS = ("votes", "vote", "rating", "score")


def _first(record: dict[str, Any], keys: tuple[str, ...]) -> Any:
    for key in keys:
        if record.get(key) not in (None, ""):
            return record[key]
    return None


def _votes(value: Any) -> int | None:
    if value is None or value == "":
        return None
    try:
        return int(round(float(value)))
    except (TypeError, ValueError):
        return None


def _comments(record: dict[str, Any]) -> list[tuple[str, int | None]]:
    """``(text, votes)`` pairs of a release record: one ``comment`` or a list of ``comments``."""
    single = _first(record, _TEXT_KEYS)
    if single is not None:
        return [(str(single), _votes(_first(record, _VOTE_KEYS)))]
    pairs = []
    for entry in record.get("comments") or record.get("interpretations") or []:
        if isinstance(entry, dict):
            text = _first(entry, _TEXT_KEYS)
            if text is not None:
                pairs.append((str(text), _votes(_first(entry, _VOTE_KEYS))))
        elif isinstance(entry, list | tuple) and entry:
            pairs.append((str(entry[0]), _votes(entry[1]) if len(entry) > 1 else None))
        elif isinstance(entry, str):
            pairs.append((entry, None))
    return pairs


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
    if isinstance(obj, dict):
        return obj
    return dict(getattr(obj, "__dict__", {}))


def _load_release(path: Path, trust_pickle: bool) -> list[dict[str, Any]]:
    suffix = path.suffix.lower()
    if suffix in (".pkl", ".pickle"):
        if not trust_pickle:
            raise SongalignError(
                f"{path} is a pickle, and loading a pickle runs code from the file; pass --trust-pickle "
                "(trust_pickle=True) only if you trust where it came from, or use the release's JSON"
            )
        with path.open("rb") as handle:
            try:
                loaded = _ReleaseUnpickler(handle).load()
            except (pickle.UnpicklingError, EOFError, AttributeError, ImportError) as error:
                raise BadInputError(path, f"cannot unpickle the release ({error}); check the file") from None
        loaded = loaded if isinstance(loaded, list) else list(loaded.values()) if isinstance(loaded, dict) else [loaded]
        return [_as_record(o) for o in loaded]
    text = path.read_text(encoding="utf-8")
    try:
        if suffix == ".jsonl" or (text.lstrip()[:1] == "{" and "\n{" in text):
            return [json.loads(line) for line in text.splitlines() if line.strip()]
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise BadInputError(path, f"is not valid JSON ({error.msg} at line {error.lineno}); check the file") from None
    if isinstance(data, dict):
        data = data.get("data") or data.get("items") or list(data.values())
    if not isinstance(data, list):
        raise BadInputError(path, "holds no list of records; the release is a list of song objects")
    return [_as_record(r) for r in data]


def read_release(
    path: str | Path,
    audio_dir: str | Path | None = None,
    *,
    trust_pickle: bool = False,
    split: SplitConfig | None = None,
    audio_extension: str = ".mp3",
    report: SkipReport | None = None,
) -> InterpretationSet:
    """Read the BART-fusion Song Interpretation release into an :class:`InterpretationSet`.

    ``path`` is the release file: JSON (a list of song objects), JSON Lines, or — only with
    ``trust_pickle=True`` — the pickle the authors load with ``pickle.load`` (a list of
    ``MusicData``/``LyricsCommentData`` objects; their classes need not be installed). A record
    has ``music4all_id`` (or ``song_id``), ``songmeanings_id``, ``lyrics`` and either one
    ``comment`` with ``votes`` (or ``rating``/``score``) or a list ``comments`` of
    ``[text, votes]`` pairs (or objects). Records carrying ``split`` keep it; the others get a
    seeded song-level split. Audio is looked up as ``<audio_dir>/<music4all_id><audio_extension>``
    (Music4All's layout); songs without audio keep ``audio_path=""`` and are reported.
    """
    path = Path(path)
    report = report if report is not None else SkipReport()
    if not path.is_file():
        raise SongalignError(
            f"{path}: release file not found; give the JSON (or pickle) of the Song Interpretation Dataset"
        )
    records = _load_release(path, trust_pickle)
    audio_root = Path(audio_dir) if audio_dir else None
    items: list[Interpretation] = []
    per_song: dict[str, int] = {}
    for index, record in enumerate(records):
        song = _first(record, _SONG_KEYS)
        lyrics = str(record.get("lyrics") or "").strip()
        if song is None or not lyrics:
            report.skip(
                path, f"record {index} has no song id or no lyrics", item=str(song if song is not None else index)
            )
            continue
        song = str(song)
        audio = ""
        if audio_root is not None:
            candidate = audio_root / f"{song}{audio_extension}"
            if candidate.is_file():
                audio = str(candidate.resolve())
            else:
                report.skip(candidate, "audio file not found; the song is kept without audio", item=song)
        comments = _comments(record)
        if not comments:
            report.skip(path, "record without an interpretation", item=song)
            continue
        for text, votes in comments:
            if not text.strip():
                continue
            per_song[song] = per_song.get(song, 0) + 1
            items.append(
                Interpretation(
                    id=f"{song}#{per_song[song]}",
                    song_id=song,
                    lyrics=lyrics,
                    text=text.strip(),
                    votes=votes,
                    split=str(record.get("split") or ""),
                    audio_path=audio,
                    title=str(record.get("title") or ""),
                    artist=str(record.get("artist") or ""),
                    extra={k: record[k] for k in ("songmeanings_id",) if record.get(k) is not None},
                )
            )
    if not items:
        raise SongalignError(f"{path} holds no usable interpretation (each needs a song id, lyrics and a comment)")
    report.kept = len(items)
    items = split_by_song(items, split)
    info = {
        "source": str(path.resolve()),
        "reader": "bart_fusion_release",
        "audio_dir": str(audio_root) if audio_root else None,
        "split": (split or SplitConfig()).model_dump(),
        "skipped": len(report),
    }
    return InterpretationSet(items, info)
