"""The interpretation reader's formats and counts, and how untimed songs become segments."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from songalign.cli import app
from songalign.corpus.info import corpus_stats
from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.prepare import prepare_corpus
from songalign.corpus.readers.interpretation import load_release
from songalign.corpus.segmenter import SegmenterConfig
from songalign.corpus.testing import write_audio
from songalign.errors import NOTED, SKIPPED, BadInputError, SkipReport

RECORDS = [
    {"music4all_id": "m1", "lyrics": "one", "comment": "first", "votes": 2},
    {"music4all_id": "m2", "lyrics": "two", "comment": "second", "votes": -1},
    {"music4all_id": "m3", "lyrics": "three", "comment": "third"},
]


def _jsonl(records: list[dict]) -> str:
    return "".join(json.dumps(record) + "\n" for record in records)


def test_a_release_is_read_by_extension_or_as_json_first_then_json_lines(tmp_path):
    as_list = tmp_path / "release.json"
    as_list.write_text(json.dumps(RECORDS, indent=2))  # pretty-printed: "\n{" appears inside one JSON document
    lines = tmp_path / "release.jsonl"
    lines.write_text(_jsonl(RECORDS))
    unmarked = tmp_path / "release.txt"  # JSON Lines under another extension
    unmarked.write_text(_jsonl(RECORDS))
    one_record = tmp_path / "single.json"  # a JSON Lines file of one line is one JSON object: one record
    one_record.write_text(_jsonl(RECORDS[:1]))
    wrapped = tmp_path / "wrapped.json"
    wrapped.write_text(json.dumps({"data": RECORDS}))
    ids = [r["music4all_id"] for r in RECORDS]
    for path in (as_list, lines, unmarked, wrapped):
        assert [record["music4all_id"] for record in load_release(path)] == ids, path.name
    assert [record["music4all_id"] for record in load_release(one_record)] == ["m1"]

    broken = tmp_path / "broken.json"
    broken.write_text('[{"music4all_id": "m1",')
    with pytest.raises(BadInputError, match=r"broken.json: is not valid JSON \("):
        load_release(broken)
    bad_line = tmp_path / "bad.jsonl"
    bad_line.write_text(_jsonl(RECORDS[:2]) + "{not json}\n")
    with pytest.raises(BadInputError, match=r"bad.jsonl: line 3 is not valid JSON"):
        load_release(bad_line)


def test_songs_kept_without_audio_are_noted_not_counted_as_skipped(tmp_path):
    release = tmp_path / "release.jsonl"
    release.write_text(_jsonl([*RECORDS, {"music4all_id": "m4", "lyrics": "", "comment": "no lyrics"}]))
    audio = tmp_path / "audios"
    write_audio(audio / "m1.wav", 6.0)
    result = prepare_corpus("interpretation", release, tmp_path / "corpus", audio_dir=audio,
                            audio_extension=".wav", progress=False)  # fmt: skip
    report = result.report
    # 3 songs kept (m1 with audio, m2 and m3 lyrics-only), 1 record left out (m4)
    assert (report.kept, len(report)) == (3, 1)
    assert report.counts() == {"skipped": 1, "repaired": 0, "noted": 2}
    assert report.summary() == "kept 3, skipped 1, noted 2"
    assert {entry.item for entry in report.noted} == {"m2", "m3"}
    assert all("kept without audio" in entry.reason for entry in report.noted)
    rows = (tmp_path / "corpus" / "skipped.csv").read_text().splitlines()
    assert sum(row.startswith(NOTED) for row in rows) == 2 and sum(row.startswith(SKIPPED) for row in rows) == 1
    assert result.manifest.info["skipped"] == {"file": "skipped.csv", "skipped": 1, "repaired": 0, "noted": 2}


def test_an_untimed_song_needs_audio_of_at_least_min_seconds_and_one_without_audio_is_lyrics_only(tmp_path):
    release = tmp_path / "release.json"
    release.write_text(json.dumps(RECORDS))
    audio = tmp_path / "audios"
    write_audio(audio / "m1.wav", 6.0)
    write_audio(audio / "m2.wav", 1.5)  # shorter than --min 4
    result = prepare_corpus("interpretation", release, tmp_path / "corpus", audio_dir=audio,
                            audio_extension=".wav", progress=False)  # fmt: skip
    segments = {segment.song_id: segment for segment in result.manifest.segments}
    assert sorted(segments) == ["m1", "m3"]
    (short,) = result.report.skipped
    assert short.item == "m2" and "lasts 1.50 s, shorter than the shortest segment kept (4.0 s)" in short.reason
    assert (segments["m1"].start, segments["m1"].end) == (0.0, pytest.approx(6.0))
    lyrics_only = segments["m3"]
    assert (lyrics_only.start, lyrics_only.end, lyrics_only.audio_path) == (0.0, 0.0, "")

    stats = corpus_stats(CorpusManifest.load(tmp_path / "corpus"))
    # the lyrics-only segment is counted apart, not as a 0 s segment pulling the mean down to 3 s
    assert (stats.segments, stats.lyrics_only) == (2, 1)
    assert stats.mean_segment_duration == pytest.approx(6.0)
    assert [row for row in stats.histogram() if row[2]] == [(6.0, 8.0, 1)]

    lower = prepare_corpus("interpretation", release, tmp_path / "lower", audio_dir=audio, audio_extension=".wav",
                           segmenter=SegmenterConfig(min_duration=1.0), progress=False)  # fmt: skip
    assert sorted(s.song_id for s in lower.manifest.segments) == ["m1", "m2", "m3"]

    shown = CliRunner().invoke(app, ["corpus", "info", str(tmp_path / "corpus")], env={"COLUMNS": "200"})
    assert shown.exit_code == 0, shown.output
    assert "1 segments without audio" in shown.output and "6.00 s" in shown.output


def test_a_note_is_its_own_action_in_the_summary_and_the_file(tmp_path):
    report = SkipReport(kept=4)
    report.note("a.mp3", "audio file not found; the song is kept without audio", item="a")
    report.skip("b.csv", "row 2 has no lyrics; fill them in", item="b")
    report.repair("c.csv", "line 'x' overlaps the next line by 0.100 s", item="c")
    assert (len(report), [e.item for e in report.noted]) == (1, ["a"])
    assert report.summary() == "kept 4, skipped 1, repaired 1, noted 1"
    assert [(group.action, group.count) for group in report.kinds()] == [("noted", 1), ("repaired", 1), ("skipped", 1)]
    written = report.write_csv(tmp_path / "report.csv").read_text().splitlines()
    assert written[1].startswith("noted,") and len(written) == 4
