from __future__ import annotations

import pytest

from songalign.corpus.records import Line, Song
from songalign.corpus.segmenter import SegmenterConfig, SplitConfig, assign_splits, segment_song


def song_with(lines: list[tuple[float, float]]) -> Song:
    return Song(id="s", lines=[Line(f"line {i}", a, b) for i, (a, b) in enumerate(lines)])


def spans(song: Song, **config) -> list[tuple[float, float]]:
    segments, _ = segment_song(song, SegmenterConfig(**config))
    return [(s.start, s.end) for s in segments]


def test_lines_group_towards_ten_seconds():
    # 3 s lines with 0.5 s gaps: 3 lines span 10.0 s exactly, a 4th would give 13.5 s.
    lines = [(i * 3.5, i * 3.5 + 3.0) for i in range(6)]
    assert spans(song_with(lines)) == [(0.0, 10.0), (10.5, 20.5)]


def test_a_long_gap_always_ends_a_segment():
    lines = [(0.0, 3.0), (3.5, 6.5), (10.0, 13.0), (13.5, 16.5)]  # 3.5 s silence in the middle
    assert spans(song_with(lines), max_gap=3.0) == [(0.0, 6.5), (10.0, 16.5)]
    assert spans(song_with(lines), max_gap=4.0) == [(0.0, 13.0)]  # the 3 s tail cannot merge (16.5 s > max)


def test_short_tail_merges_when_it_fits_else_is_dropped():
    lines = [(0.0, 4.5), (5.0, 9.5), (10.0, 12.0)]
    # 9.5 s then a 2 s line: 12.0 s is further from 10 than 9.5 s, but the 2 s tail is < min, so it merges.
    assert spans(song_with(lines)) == [(0.0, 12.0)]
    segments, dropped = segment_song(song_with([(0.0, 9.0), (9.5, 14.5), (20.0, 22.0)]))
    assert [(s.start, s.end) for s in segments] == [(0.0, 14.5)]
    assert dropped == 1


def test_a_line_longer_than_max_is_its_own_segment():
    assert spans(song_with([(0.0, 20.0), (20.5, 25.0)])) == [(0.0, 20.0), (20.5, 25.0)]  # 4.5 s >= min: kept
    assert spans(song_with([(0.0, 20.0), (20.5, 23.0)])) == [(0.0, 20.0)]  # 2.5 s < min, cannot merge: dropped


def test_segment_text_ids_and_line_indices():
    segments, _ = segment_song(song_with([(0.0, 3.0), (3.5, 6.5), (7.0, 10.0)]))
    (segment,) = segments
    assert segment.id == "s-0000" and segment.text == "line 0\nline 1\nline 2"
    assert (segment.first_line, segment.last_line) == (0, 2)
    assert segment.duration == pytest.approx(10.0)


def test_invalid_durations_are_refused():
    with pytest.raises(ValueError):
        SegmenterConfig(min_duration=12, target_duration=10)


def test_splits_are_by_song_seeded_and_order_free():
    ids = [f"song{i}" for i in range(20)]
    first = assign_splits(ids, SplitConfig(seed=3))
    assert first == assign_splits(list(reversed(ids)), SplitConfig(seed=3))
    assert first != assign_splits(ids, SplitConfig(seed=4))
    counts = {name: sum(1 for v in first.values() if v == name) for name in ("train", "val", "test")}
    assert counts == {"train": 16, "val": 2, "test": 2}


def test_small_corpora_still_get_every_split():
    splits = assign_splits(["a", "b", "c"])
    assert sorted(splits.values()) == ["test", "train", "val"]
    assert set(assign_splits(["a"]).values()) == {"train"}
