"""Cut songs into segments of about 10 s of consecutive lyric lines (or, for songs without lyrics, into
fixed windows), and split songs into train/val/test.

Seed 000 groups lyric lines into "lyric segments" of about 10 s of audio. Our rule:

1. Lines are split into *blocks* wherever the silence between two consecutive lines exceeds
   ``max_gap`` seconds (an instrumental break): no segment spans such a gap.
2. Within a block, lines are added to the current segment while the segment stays within
   ``max_duration``; once it has reached ``target_duration`` it is closed if adding the next
   line would move its duration further from the target than stopping does.
3. A segment shorter than ``min_duration`` is merged into its neighbour in the same block when
   the result stays within ``max_duration``; otherwise it is dropped (and counted).

A single line longer than ``max_duration`` becomes a segment of its own (lines are never cut).
The result depends only on the line times and the settings: deterministic.

A song without lyrics (an *audio-only* song, ``Song.extra["audio_only"]``) is cut by
:func:`window_song` into fixed windows of ``window_seconds`` (10 s by default) from 0 s, with
no text. The last window is never dropped and never shorter than the others: when the song
does not end on a window boundary, the last window is moved back to end at the song's end, so
it overlaps the one before it (25 s in 10 s windows: 0–10, 10–20, 15–25). A song shorter than one
window is one segment of its whole length.
"""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

from pydantic import BaseModel, Field, model_validator

from songalign.corpus.records import Line, Segment, Song


class SegmenterConfig(BaseModel):
    """Segment lengths in seconds."""

    target_duration: float = Field(10.0, gt=0)
    min_duration: float = Field(4.0, ge=0)
    max_duration: float = Field(15.0, gt=0)
    max_gap: float = Field(3.0, gt=0, description="silence (s) between lines that always ends a segment")

    @model_validator(mode="after")
    def _ordered(self) -> SegmenterConfig:
        if not self.min_duration <= self.target_duration <= self.max_duration:
            raise ValueError("segment durations must satisfy min_duration <= target_duration <= max_duration")
        return self


class SplitConfig(BaseModel):
    """Shares of songs per split (normalised) and the seed of the shuffle."""

    train: float = Field(0.8, ge=0)
    val: float = Field(0.1, ge=0)
    test: float = Field(0.1, ge=0)
    seed: int = 0


def _blocks(lines: Sequence[Line], max_gap: float) -> list[list[int]]:
    """Indices of lines, grouped into runs not separated by more than ``max_gap`` seconds."""
    blocks: list[list[int]] = []
    for index, line in enumerate(lines):
        if blocks and line.start - lines[blocks[-1][-1]].end <= max_gap:
            blocks[-1].append(index)
        else:
            blocks.append([index])
    return blocks


def _group_block(lines: Sequence[Line], block: list[int], config: SegmenterConfig) -> list[list[int]]:
    groups: list[list[int]] = []
    for index in block:
        if groups:
            current = groups[-1]
            now = lines[current[-1]].end - lines[current[0]].start
            extended = lines[index].end - lines[current[0]].start
            fits = extended <= config.max_duration
            better_to_stop = now >= config.target_duration and abs(extended - config.target_duration) > abs(
                now - config.target_duration
            )
            if fits and not better_to_stop:
                current.append(index)
                continue
        groups.append([index])
    return _merge_short(lines, groups, config)


def _merge_short(lines: Sequence[Line], groups: list[list[int]], config: SegmenterConfig) -> list[list[int]]:
    """Merge groups shorter than ``min_duration`` into a neighbour when the merge fits ``max_duration``."""

    def span(group: list[int]) -> float:
        return lines[group[-1]].end - lines[group[0]].start

    merged = True
    while merged:
        merged = False
        for i, group in enumerate(groups):
            if span(group) >= config.min_duration:
                continue
            candidates = [j for j in (i - 1, i + 1) if 0 <= j < len(groups)]
            candidates = [j for j in candidates if span(sorted(groups[j] + group)) <= config.max_duration]
            if candidates:
                j = min(candidates, key=lambda k: span(sorted(groups[k] + group)))
                groups[min(i, j)] = sorted(groups[i] + groups[j])
                del groups[max(i, j)]
                merged = True
                break
    return groups


def segment_song(song: Song, config: SegmenterConfig | None = None) -> tuple[list[Segment], int]:
    """Segments of one song and the number of too-short groups dropped.

    Segment ids are ``<song id>-<index:04d>``; times are the first line's start and the last
    line's end (seconds); ``text`` is the lines joined by newlines.
    """
    config = config or SegmenterConfig()
    lines = song.lines
    segments: list[Segment] = []
    dropped = 0
    for block in _blocks(lines, config.max_gap):
        for group in _group_block(lines, block, config):
            start, end = lines[group[0]].start, lines[group[-1]].end
            if end - start < config.min_duration:
                dropped += 1
                continue
            segments.append(
                Segment(
                    id=f"{song.id}-{len(segments):04d}",
                    song_id=song.id,
                    start=start,
                    end=end,
                    text="\n".join(lines[i].text for i in group),
                    first_line=group[0],
                    last_line=group[-1],
                    audio_path=song.audio_path,
                    language=song.language,
                )
            )
    return segments, dropped


AUDIO_ONLY_WINDOW_SECONDS = 10.0
"""Default length (seconds) of the fixed windows an audio-only song is cut into."""

_BOUNDARY_TOLERANCE = 1e-6
"""Seconds by which a song may overrun a window boundary and still end on it (float rounding of durations)."""


def window_starts(duration: float, window_seconds: float) -> list[float]:
    """Start times (seconds) of the fixed windows covering ``[0, duration]``; each lasts ``window_seconds``.

    Windows start every ``window_seconds`` from 0 s; when ``duration`` is not a whole number of
    windows, the last one starts at ``duration - window_seconds`` (it overlaps its predecessor and
    ends at the song's end), so no audio is left out. ``duration <= window_seconds`` gives ``[0.0]``
    (one window, as long as the song). Raises ValueError unless ``window_seconds > 0``.
    """
    if not window_seconds > 0:
        raise ValueError(f"window_seconds must be positive, got {window_seconds!r}")
    if duration <= window_seconds + _BOUNDARY_TOLERANCE:
        return [0.0]
    full = int(math.floor(duration / window_seconds + _BOUNDARY_TOLERANCE))
    starts = [i * window_seconds for i in range(full)]
    if duration - full * window_seconds > _BOUNDARY_TOLERANCE:
        starts.append(duration - window_seconds)
    return starts


def window_song(song: Song, window_seconds: float = AUDIO_ONLY_WINDOW_SECONDS) -> list[Segment]:
    """The fixed windows of an audio-only ``song`` (see :func:`window_starts`) as segments with no text.

    Needs ``song.duration`` (seconds). Ids are ``<song id>-<index:04d>``; ``text`` is ``""`` and
    ``first_line = last_line = -1`` (no lyric lines); each segment lasts ``min(window_seconds, duration)``.
    """
    duration = float(song.duration or 0.0)
    return [
        Segment(
            id=f"{song.id}-{index:04d}",
            song_id=song.id,
            start=start,
            end=min(start + window_seconds, duration),
            text="",
            audio_path=song.audio_path,
            language=song.language,
        )
        for index, start in enumerate(window_starts(duration, window_seconds))
    ]


def assign_splits(song_ids: Sequence[str], config: SplitConfig | None = None) -> dict[str, str]:
    """Map each song id to ``train``, ``val`` or ``test``; no song is in two splits.

    Ids are sorted, then shuffled with ``config.seed``, so the result does not depend on the
    order songs were read in. Counts are the shares rounded, with at least one song in each
    split whose share is positive once there are at least as many songs as such splits.
    """
    config = config or SplitConfig()
    ids = sorted(set(song_ids))
    random.Random(config.seed).shuffle(ids)
    shares = {"train": config.train, "val": config.val, "test": config.test}
    total = sum(shares.values()) or 1.0
    counts = {name: int(round(len(ids) * share / total)) for name, share in shares.items()}
    positive = [name for name, share in shares.items() if share > 0]
    if len(ids) >= len(positive):
        for name in positive:
            counts[name] = max(counts[name], 1)
    while sum(counts.values()) > len(ids):
        largest = max(counts, key=counts.get)
        counts[largest] -= 1
    counts["train"] += len(ids) - sum(counts.values())
    splits, cursor = {}, 0
    for name in ("train", "val", "test"):
        for song_id in ids[cursor : cursor + counts[name]]:
            splits[song_id] = name
        cursor += counts[name]
    return splits
