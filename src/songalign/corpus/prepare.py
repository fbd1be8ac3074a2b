"""Corpus preparation: read → probe audio → repair timings → segment → split → write the manifest.

One function prepares every corpus, :func:`prepare_corpus` with the name of a registered reader
(:data:`~songalign.corpus.readers.READERS`)::

    prepare_corpus("jamendo", "data/jamendo", "data/jamendo-prepared")
    prepare_corpus("dali", "data/dali", "out/", audio_dir="data/dali-audio", trust_pickles=True)

so every corpus gets the same checks and the same on-disk result
(:class:`~songalign.corpus.manifest.CorpusManifest`).

**Untimed songs** (``Song.extra["untimed"]``: one lyric text, no timing) become one segment:

- with audio, the whole file, kept only when it lasts at least the segmenter's
  ``min_duration`` (``--min``) like any segment, else skipped and reported;
- without audio (a corpus such as the Song Interpretation release may lack some songs' audio),
  one *lyrics-only* segment with ``start = end = 0`` and no ``audio_path``: describers and the
  lyrics-only captioner use it; alignment, evaluation and indexing, which need audio, leave it
  out. ``songalign corpus info`` counts such segments apart and keeps them out of the durations.

**Audio-only songs** (``Song.extra["audio_only"]``: audio and no lyrics, e.g. from the folder
reader) are cut into fixed windows of ``Song.extra["window_seconds"]`` (10 s by default) with
no text (:func:`~songalign.corpus.segmenter.window_song`); a song shorter than ``--min`` seconds
is skipped and reported. They share the corpus, its splits and its index with songs that have lyrics.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from rich.progress import track

from songalign import __version__
from songalign.audio.io import probe_audio
from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.readers import read_songs
from songalign.corpus.records import Line, Segment, Song
from songalign.corpus.segmenter import (
    AUDIO_ONLY_WINDOW_SECONDS,
    SegmenterConfig,
    SplitConfig,
    assign_splits,
    segment_song,
    window_song,
)
from songalign.corpus.validate import clean_song
from songalign.errors import SKIPPED_FILE, BadInputError, NothingDoneError, SkipReport

REFERENCE_OVERLAP = 0.5
"""Share of a segment a reference section must cover for the segment to inherit its labels."""


@dataclass
class PrepareResult:
    """The prepared corpus: its manifest, what was skipped, repaired or noted, and where both were written."""

    manifest: CorpusManifest
    report: SkipReport
    out: Path

    @property
    def skipped_file(self) -> Path:
        """The CSV listing every skipped, repaired or noted item (columns ``action, kind, path, item, reason``;
        written even when there is none)."""
        return self.out / SKIPPED_FILE


def _with_audio_length(song: Song, report: SkipReport) -> Song | None:
    """The song with ``duration`` measured from its audio, or None (reported) if the audio is unusable."""
    try:
        info = probe_audio(song.audio_path)
    except BadInputError as error:
        report.add_error(error, item=song.id)
        return None
    if info.truncated:
        report.repair(
            song.audio_path,
            f"audio is cut short: only {info.duration:.2f} s decode; lyrics after that are dropped "
            "(replace the file with a complete copy to keep them)",
            item=song.id,
        )
    extra = {**song.extra, "sample_rate": info.sample_rate, "channels": info.channels}
    return replace(song, duration=info.duration, extra=extra)


def _untimed_segment(song: Song) -> Segment:
    """The whole audio file as one segment, for corpora of (audio, text) pairs without timing (0 s without audio)."""
    return Segment(
        id=f"{song.id}-0000",
        song_id=song.id,
        start=0.0,
        end=float(song.duration or 0.0),
        text="\n".join(line.text for line in song.lines),
        first_line=0,
        last_line=len(song.lines) - 1,
        audio_path=song.audio_path,
        language=song.language,
        description=str(song.extra.get("description") or ""),
    )


def _inherit_reference(segment: Segment, sections: list[dict[str, Any]]) -> Segment:
    """Copy ground-truth labels (``ref_*``) and the music caption from the section that covers the segment."""
    if not sections or segment.duration <= 0:
        return segment
    best = max(sections, key=lambda s: min(segment.end, s["end"]) - max(segment.start, s["start"]))
    overlap = min(segment.end, best["end"]) - max(segment.start, best["start"])
    if overlap < REFERENCE_OVERLAP * segment.duration:
        return segment
    labels = dict(segment.labels)
    for key in ("emotion", "valence", "arousal"):
        if key in best:
            labels[f"ref_{key}"] = best[key]
    return replace(segment, labels=labels, caption=best.get("caption", segment.caption))


def prepare_song(song: Song, segmenter: SegmenterConfig, report: SkipReport) -> tuple[Song, list[Segment]] | None:
    """Probe, repair and segment one song; None (reported) when nothing usable remains."""
    if song.audio_path:
        song = _with_audio_length(song, report)
        if song is None:
            return None
    if song.extra.get("untimed"):
        if song.audio_path and float(song.duration or 0.0) < segmenter.min_duration:
            report.skip(
                song.audio_path,
                f"the audio lasts {float(song.duration or 0.0):.2f} s, shorter than the shortest segment kept "
                f"({segmenter.min_duration} s); lower --min to keep such songs",
                item=song.id,
            )
            return None
        song = replace(song, lines=[Line(line.text, 0.0, float(song.duration or 0.0)) for line in song.lines[:1]])
        return song, [_untimed_segment(song)]
    if song.extra.get("audio_only"):
        if float(song.duration or 0.0) < segmenter.min_duration:
            report.skip(
                song.audio_path or song.id,
                f"the audio lasts {float(song.duration or 0.0):.2f} s, shorter than the shortest segment kept "
                f"({segmenter.min_duration} s); lower --min to keep such songs",
                item=song.id,
            )
            return None
        return song, window_song(song, float(song.extra.get("window_seconds") or AUDIO_ONLY_WINDOW_SECONDS))
    song = clean_song(song, str(song.extra.get("annotation_path") or song.audio_path or song.id), report)
    if not song.lines:
        report.skip(song.audio_path or song.id, "no usable lyric line remains after the timing checks", item=song.id)
        return None
    segments, dropped = segment_song(song, segmenter)
    if dropped:
        report.skip(
            song.audio_path or song.id,
            f"{dropped} group(s) of lines shorter than {segmenter.min_duration} s between long gaps were left out",
            item=song.id,
        )
    if not segments:
        report.skip(song.audio_path or song.id, "no segment of sufficient length could be formed", item=song.id)
        return None
    sections = song.extra.get("reference_sections") or []
    return song, [_inherit_reference(s, sections) for s in segments]


def prepare_corpus(
    reader: str,
    src: str | Path,
    out: str | Path,
    *,
    segmenter: SegmenterConfig | None = None,
    split: SplitConfig | None = None,
    progress: bool = True,
    **reader_options: Any,
) -> PrepareResult:
    """Read corpus ``src`` with the reader registered as ``reader`` and write a prepared corpus to ``out``.

    ``reader_options`` go to the reader (e.g. ``audio_dir``, ``trust_pickles``, ``languages``); one
    it does not take fails in one sentence listing those it does.

    Bad songs are skipped and reported, and the full list is written to ``out/skipped.csv``
    (:data:`SKIPPED_FILE`), each path relative to the corpus folder (``src``, or the folder of a
    ``src`` file); a :class:`~songalign.errors.NothingDoneError` is raised only when no song is
    usable (the list is written then too). Returns the manifest, the skip report and the output folder.
    """
    src, out = Path(src), Path(out)
    segmenter = segmenter or SegmenterConfig()
    split = split or SplitConfig()
    report = SkipReport()
    songs: list[Song] = []
    segments: list[Segment] = []
    raw = list(read_songs(reader, src, report, **reader_options))
    for song in track(raw, description=f"Preparing {len(raw)} songs", disable=not progress, transient=True):
        prepared = prepare_song(song, segmenter, report)
        if prepared is None:
            continue
        songs.append(prepared[0])
        segments.extend(prepared[1])
    report.kept = len(songs)
    out.mkdir(parents=True, exist_ok=True)
    listing = report.write_csv(out / SKIPPED_FILE, root=src if src.is_dir() else src.parent)
    if not songs:
        reasons = report.top_reasons() or "the corpus is empty"
        raise NothingDoneError(f"no usable song in {src}: {reasons}; every skipped item is listed in {listing}", report)
    splits = assign_splits([s.id for s in songs], split)
    segments = [replace(s, split=splits[s.song_id]) for s in segments]
    manifest = CorpusManifest(
        songs=songs,
        segments=segments,
        info={
            "source": str(src.resolve()),
            "reader": reader,
            "reader_options": {k: str(v) if isinstance(v, Path) else v for k, v in reader_options.items()},
            "segmenter": segmenter.model_dump(),
            "split": split.model_dump(),
            "songs": len(songs),
            "segments": len(segments),
            "skipped": {"file": SKIPPED_FILE, **report.counts()},
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
            "songalign_version": __version__,
        },
    )
    manifest.save(out)
    return PrepareResult(manifest, report, out)
