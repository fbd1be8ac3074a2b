"""The corpus manifest on disk: songs and segments as Parquet tables.

A prepared corpus is a folder::

    corpus.json        what it is: source, reader options, segmenter and split settings, skip counts
    skipped.csv        every item skipped, repaired or noted (written by corpus.prepare; columns action,kind,path,item,reason)
    songs.parquet      one row per song, timed words/lines/paragraphs/notes as nested lists
    segments.parquet   one row per segment, with its split, description and labels

``CorpusManifest.load(dir)`` gives back exactly the records ``save`` wrote (a test checks it).
Free-form dictionaries (``Song.extra``, ``Segment.labels``) are stored as JSON text so that the
schema stays fixed whatever a corpus puts in them.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from songalign.corpus.records import Segment, Song
from songalign.errors import SongalignError

SONGS_FILE = "songs.parquet"
SEGMENTS_FILE = "segments.parquet"
INFO_FILE = "corpus.json"

_TIMED = [("text", pa.string()), ("start", pa.float64()), ("end", pa.float64())]
SONG_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("title", pa.string()),
        ("artist", pa.string()),
        ("language", pa.string()),
        ("audio_path", pa.string()),
        ("duration", pa.float64()),
        ("licence", pa.string()),
        ("genre", pa.string()),
        ("words", pa.list_(pa.struct([*_TIMED, ("line", pa.int32())]))),
        ("lines", pa.list_(pa.struct([*_TIMED, ("paragraph", pa.int32())]))),
        ("paragraphs", pa.list_(pa.struct(_TIMED))),
        (
            "notes",
            pa.list_(
                pa.struct(
                    [
                        ("start", pa.float64()),
                        ("end", pa.float64()),
                        ("pitch", pa.float64()),
                        ("word", pa.int32()),
                        ("text", pa.string()),
                    ]
                )
            ),
        ),
        ("extra", pa.string()),
    ]
)
SEGMENT_SCHEMA = pa.schema(
    [
        ("id", pa.string()),
        ("song_id", pa.string()),
        ("start", pa.float64()),
        ("end", pa.float64()),
        ("text", pa.string()),
        ("first_line", pa.int32()),
        ("last_line", pa.int32()),
        ("audio_path", pa.string()),
        ("language", pa.string()),
        ("split", pa.string()),
        ("description", pa.string()),
        ("caption", pa.string()),
        ("labels", pa.string()),
    ]
)


def _json_column(row: dict[str, Any], name: str) -> dict[str, Any]:
    row[name] = json.dumps(row[name], sort_keys=True, ensure_ascii=False)
    return row


def songs_to_table(songs: list[Song]) -> pa.Table:
    return pa.Table.from_pylist([_json_column(s.to_dict(), "extra") for s in songs], schema=SONG_SCHEMA)


def segments_to_table(segments: list[Segment]) -> pa.Table:
    return pa.Table.from_pylist([_json_column(s.to_dict(), "labels") for s in segments], schema=SEGMENT_SCHEMA)


def _load_json_column(row: dict[str, Any], name: str) -> dict[str, Any]:
    row[name] = json.loads(row[name]) if row[name] else {}
    return row


@dataclass
class CorpusManifest:
    """Songs, their segments and a description of how they were prepared."""

    songs: list[Song] = field(default_factory=list)
    segments: list[Segment] = field(default_factory=list)
    info: dict[str, Any] = field(default_factory=dict)

    def save(self, directory: str | Path) -> Path:
        """Write the three files into ``directory`` (created if needed); returns the folder."""
        directory = Path(directory)
        directory.mkdir(parents=True, exist_ok=True)
        pq.write_table(songs_to_table(self.songs), directory / SONGS_FILE)
        self.save_segments(directory)
        (directory / INFO_FILE).write_text(json.dumps(self.info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
        return directory

    def save_segments(self, directory: str | Path) -> None:
        """Rewrite only the segment table (after describing or labelling segments)."""
        pq.write_table(segments_to_table(self.segments), Path(directory) / SEGMENTS_FILE)

    @classmethod
    def load(cls, directory: str | Path) -> CorpusManifest:
        """Read a prepared corpus folder; a clear error if it is not one."""
        directory = Path(directory)
        missing = [n for n in (SONGS_FILE, SEGMENTS_FILE) if not (directory / n).is_file()]
        if missing:
            raise SongalignError(
                f"{directory} is not a prepared corpus (no {', '.join(missing)}); "
                "create one with `songalign corpus prepare`"
            )
        songs = [
            Song.from_dict(_load_json_column(r, "extra")) for r in pq.read_table(directory / SONGS_FILE).to_pylist()
        ]
        segments = [
            Segment.from_dict(_load_json_column(r, "labels"))
            for r in pq.read_table(directory / SEGMENTS_FILE).to_pylist()
        ]
        info_path = directory / INFO_FILE
        info = json.loads(info_path.read_text(encoding="utf-8")) if info_path.is_file() else {}
        return cls(songs=songs, segments=segments, info=info)

    def song(self, song_id: str) -> Song:
        for song in self.songs:
            if song.id == song_id:
                return song
        raise KeyError(song_id)

    def split(self, name: str) -> list[Segment]:
        """The segments of one split (``train``, ``val`` or ``test``); ``all`` gives every segment."""
        return list(self.segments) if name == "all" else [s for s in self.segments if s.split == name]
