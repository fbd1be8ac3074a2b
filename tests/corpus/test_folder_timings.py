"""No silently wrong timings in the folder reader: malformed LRC tags, open line ends, lines past the
audio, symbolic links; and `corpus prepare`'s exit code, skip summary and `skipped.csv` paths."""

from __future__ import annotations

import csv
import os
from pathlib import Path

import pytest
from typer.testing import CliRunner

from songalign.cli import app
from songalign.corpus.lyrics_files import (
    HELD_NOTE_SECONDS,
    LAST_LINE_SECONDS,
    SECONDS_PER_SYLLABLE,
    max_line_seconds,
    read_lrc,
    syllable_count,
)
from songalign.corpus.prepare import SKIPPED_FILE, prepare_corpus
from songalign.corpus.readers.folder import read_folder
from songalign.corpus.testing import write_audio
from songalign.errors import NothingDoneError, SkipReport

runner = CliRunner()

# The probe: three malformed tags between a 5-word line at 1 s and the next line at 38.6 s.
MALFORMED = (
    "[ti:Probe]\n"
    "[00:01.00]one two three four five\n"
    "[0x:zz.qq]a line with letters for digits\n"
    "[00:-3.00]a negative second\n"
    "[00:15.75 an unclosed tag\n"
    "[Chorus]\n"  # a label, not a time tag: not a problem
    "[00:38.60]the next line\n"
)


def write_wav(path: Path, seconds: float = 15.0) -> Path:
    return write_audio(path, seconds, sample_rate=8000)


def write_text(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def spans(items) -> list[tuple[str, float, float]]:
    """``(text, start, end)`` of lines or words, times rounded to the millisecond."""
    return [(item.text, round(item.start, 3), round(item.end, 3)) for item in items]


def _rows(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as handle:
        return list(csv.DictReader(handle))


# ------------------------------------------------------------------------- the bound on a line's length


def test_syllables_and_the_bound_are_counted_from_the_words():
    # vowel groups (a silent e counts: the count errs high), one per CJK/kana character, digits one each
    assert syllable_count("one two three four five") == 7  # o-e, o, ee, ou, i-e
    assert syllable_count("Déjà vu") == 3  # accents stripped: e, a, u
    assert syllable_count("愛してる") == 4
    assert syllable_count("hmm shh 1984") == 2 + 2 + 4  # no vowels: one per two letters; digits one each
    assert syllable_count("") == 0
    assert max_line_seconds("one two three four five") == HELD_NOTE_SECONDS + 7 * SECONDS_PER_SYLLABLE == 12.0
    assert max_line_seconds("go") == 6.0 and max_line_seconds("go") > LAST_LINE_SECONDS


def test_a_line_ends_at_the_next_start_or_at_its_bound_and_a_longer_gap_is_instrumental(tmp_path):
    write_wav(tmp_path / "song.wav", seconds=120.0)
    write_text(
        tmp_path / "song.lrc",
        "[00:01.00]hold on\n"  # next line 2.5 s later: ends there
        "[00:03.50]one two three four five\n"  # next line 36.5 s later: ends at its bound, 3.5 + 12
        "[00:40.00]after the solo\n"
        "[01:30.00]last\n",  # the last line: +5 s, not to the end of the 120 s of audio
    )
    song, report = _read_one(tmp_path)
    assert not report.entries
    assert spans(song.lines) == [
        ("hold on", 1.0, 3.5),
        ("one two three four five", 3.5, 15.5),
        ("after the solo", 40.0, 40.0 + 5.0 + 5.0),  # 5 syllables (a-e, e, e, o, o) bound it below 90 s
        ("last", 90.0, 90.0 + LAST_LINE_SECONDS),
    ]


def test_enhanced_word_times_keep_the_last_word_inside_its_line(tmp_path):
    # a line whose last word starts after the line's own bound: the line lasts until that word is sung
    lyrics = read_lrc(write_text(tmp_path / "w.lrc", "[00:01.00]<00:01.00>so <00:20.00>long\n[01:00.00]next\n"))
    lines, words = lyrics.lines_and_words(duration=100.0)
    assert lines[0].end == pytest.approx(20.0 + max_line_seconds("long"))  # not 1 + max_line_seconds("so long")
    assert spans(words[:2]) == [("so", 1.0, 20.0), ("long", 20.0, lines[0].end)]


# ------------------------------------------------------------------------------ malformed LRC time tags


def test_malformed_tags_are_reported_with_line_numbers_and_nothing_stretches_over_them(tmp_path):
    write_wav(tmp_path / "probe.wav", seconds=60.0)
    write_text(tmp_path / "probe.lrc", MALFORMED)
    song, report = _read_one(tmp_path)
    # before: the three lines vanished and the first line lasted 37.6 s, over all of them
    assert spans(song.lines) == [("one two three four five", 1.0, 13.0), ("the next line", 38.6, 43.6)]
    assert [(Path(e.path).name, e.item, e.reason) for e in report.skipped] == [
        ("probe.lrc", "probe", f"line {number} has a malformed time tag {tag!r}; it was left out, "
         "write the time as [mm:ss.xx] to keep that line")
        for number, tag in [(3, "[0x:zz.qq]"), (4, "[00:-3.00]"), (5, "[00:15.75")]
    ]  # fmt: skip
    # a malformed tag after a good one is as bad: the line is left out, not read with "[0x:..." as its text
    lyrics = read_lrc(write_text(tmp_path / "second.lrc", "[00:01.00][0x:zz]twice\n[00:02.00]fine\n"))
    assert [e.text for e in lyrics.entries] == ["fine"] and lyrics.problems[0].startswith("line 1 has a malformed")


def test_a_file_of_malformed_tags_only_says_so(tmp_path):
    write_wav(tmp_path / "bad.wav")
    write_text(tmp_path / "bad.lrc", "[0x:zz.qq]one\n[00:-3.00]two\n")
    report = SkipReport()
    assert list(read_folder(tmp_path, report)) == []
    (skipped,) = report.skipped
    assert skipped.reason.startswith("holds no timed lines ([mm:ss.xx]text) (2 with a malformed time tag); ")


def test_a_line_past_the_end_of_the_audio_is_reported_as_such(tmp_path):
    write_wav(tmp_path / "far.wav", seconds=15.0)
    write_text(tmp_path / "far.lrc", "[00:01.00]here\n[99:99.99]far away\n")
    result = prepare_corpus("folder", tmp_path, tmp_path / "out", progress=False)
    (song,) = result.manifest.songs
    assert spans(song.lines) == [("here", 1.0, 1.0 + max_line_seconds("here"))]  # not stretched to 15 s
    (dropped,) = result.report.skipped
    # before: "ends before it starts (6039.990 s > 15.000 s)", an end the reader had made up
    assert dropped.reason == "dropped line 1 ('far away') starts at 6039.990 s, after the audio ends (15.000 s)"


# ----------------------------------------------------------------------------------- symbolic links


def test_symbolic_links_are_followed_once_and_loops_are_reported(tmp_path):
    songs, elsewhere = tmp_path / "songs", tmp_path / "elsewhere"
    write_wav(songs / "a.wav")
    write_text(songs / "a.lrc", "[00:01.00]a\n")
    write_wav(elsewhere / "b.wav")
    write_text(elsewhere / "b.lrc", "[00:01.00]b\n")
    os.symlink(elsewhere, songs / "linked")  # a folder outside: followed
    os.symlink(songs, songs / "linked-back")  # the folder itself: a loop
    os.symlink("self.lrc", songs / "self.lrc")  # a link to itself
    os.symlink(songs / "gone.wav", songs / "dangling.wav")
    os.symlink(elsewhere, songs / "so-again")  # a folder read already (through "linked", first by name)
    report = SkipReport()
    found = list(read_folder(songs, report))
    assert [s.id for s in found] == ["a", "linked/b"]
    reasons = {Path(e.path).name: e.reason for e in report.skipped}
    assert set(reasons) == {"linked-back", "self.lrc", "dangling.wav", "so-again"}, reasons
    assert "a folder that holds it (a loop); it was not followed" in reasons["linked-back"]
    assert reasons["self.lrc"] == (
        "is a symbolic link to self.lrc that loops back on itself; point it at a real file or folder"
    )
    assert "which does not exist; fix or remove the link" in reasons["dangling.wav"]
    assert "a folder read already; it was not read twice" in reasons["so-again"]


# ------------------------------------------------------------------------ corpus prepare: report and exit


def test_skipped_csv_paths_are_relative_to_the_corpus_folder_however_it_was_given(tmp_path, monkeypatch):
    songs = tmp_path / "songs"
    write_wav(songs / "album" / "probe.wav", seconds=60.0)
    write_text(songs / "album" / "probe.lrc", MALFORMED)
    write_text(songs / "orphan.lrc", "[00:01.00]no audio\n")  # reported with its path as given
    write_text(songs / "broken.wav", "not audio")  # reported with its resolved path
    monkeypatch.chdir(tmp_path)
    for given in ("songs", str(songs)):  # relative to the working folder, and absolute
        out = tmp_path / f"out-{len(given)}"
        done = runner.invoke(app, ["corpus", "prepare", "folder", given, "--out", str(out)])
        assert done.exit_code == 0, done.output
        paths = {row["path"] for row in _rows(out / SKIPPED_FILE)}
        assert paths == {"album/probe.lrc", "orphan.lrc", "broken.wav"}, paths


def test_prepare_exits_1_with_its_skip_report_when_no_song_is_usable(tmp_path):
    songs = tmp_path / "songs"
    (songs / "empty.wav").parent.mkdir(parents=True)
    (songs / "empty.wav").write_bytes(b"")
    (songs / "other.wav").write_bytes(b"")
    out = tmp_path / "out"
    done = runner.invoke(app, ["corpus", "prepare", "folder", str(songs), "--out", str(out)])
    assert done.exit_code == 1 and isinstance(done.exception, NothingDoneError)
    # the summary prints the numbers its items share; before: "audio file is empty (… bytes)"
    assert "2 skipped" in done.output and "audio file is empty (0 bytes)" in done.output, done.output
    assert str(done.exception) == (
        f"no usable song in {songs}: audio file is empty (0 bytes); replace it with a complete copy (2×); "
        f"every skipped item is listed in {out / SKIPPED_FILE}"
    )
    assert {row["path"] for row in _rows(out / SKIPPED_FILE)} == {"empty.wav", "other.wav"}


def _read_one(folder: Path):
    report = SkipReport()
    songs = list(read_folder(folder, report))
    assert len(songs) == 1, report.entries
    return songs[0], report


def test_bracketed_text_that_is_no_time_tag_is_not_taken_for_a_malformed_one(tmp_path):
    lyrics = read_lrc(write_text(tmp_path / "x.lrc", "[00:01.00][2x] chorus\n[5 people] talk\n[00.02.00]dots\n"))
    assert [e.text for e in lyrics.entries] == ["[2x] chorus"]  # a repeat mark stays the line's text
    assert lyrics.problems == [
        "line 3 has a malformed time tag '[00.02.00]'; it was left out, write the time as [mm:ss.xx] to keep that line"
    ]
