"""Scored timed lyrics written in every format and read back: songalign's readers, pysubs2 and webvtt-py."""

from __future__ import annotations

import json
import math
import sys

import pytest

from songalign.corpus.lyrics_files import (
    ScoredLine,
    ScoredLyrics,
    ScoredWord,
    export_paths,
    export_scored,
    read_jamendo_lines_csv,
    read_jamendo_words_csv,
    read_lrc,
    read_timed_json,
    read_words_txt,
)
from songalign.errors import SongalignError

pysubs2 = pytest.importorskip("pysubs2")
webvtt = pytest.importorskip("webvtt")


def lyrics() -> ScoredLyrics:
    """A sure line, an unsure one with an unplaced word, and a line that could not be placed."""
    return ScoredLyrics(
        [
            ScoredLine(
                "Hold on tight",
                1.25,
                3.5,
                0.91,
                [
                    ScoredWord("Hold", 1.25, 1.75, 0.95),
                    ScoredWord("on", 2.0, 2.5, 0.9),
                    ScoredWord("tight", 2.75, 3.5, 0.88),
                ],
            ),
            ScoredLine(
                "— never let go",
                7.125,
                9.0,
                0.2,
                [
                    ScoredWord("—", None, None),
                    ScoredWord("never", 7.125, 7.5, 0.3),
                    ScoredWord("let", 7.5, 8.0, 0.1),
                    ScoredWord("go", 8.25, 9.0, 0.2),
                ],  # fmt: skip
                unsure=True,
                reason="confidence 0.20 is under 0.3",
            ),
            ScoredLine("Привет", None, None, None, [ScoredWord("Привет", None, None)], True, "not placed: outside a-z"),
        ],
        backend="crnn",
        model_digest="0123456789abcdef",
        vocals="separated by spleeter",
        min_confidence=0.3,
    )


TIMED = [("Hold on tight", 1.25, 3.5), ("— never let go", 7.125, 9.0)]


def test_every_format_reads_back(tmp_path):
    written = export_scored(tmp_path, "song", lyrics(), ["elrc", "srt", "vtt", "json", "jamendo"])
    assert [p.name for p in written] == [
        "song.lrc", "song.srt", "song.vtt", "song.json", "song.words.csv", "song.words.txt", "song.lines.csv"
    ]  # fmt: skip

    lrc = read_lrc(tmp_path / "song.lrc")
    lines, words = lrc.lines_and_words()
    near = 0.005 + 1e-9  # LRC rounds to 10 ms
    assert [(ln.text, ln.start, ln.end) for ln in lines] == [
        (t, pytest.approx(s, abs=near), pytest.approx(e, abs=near)) for t, s, e in TIMED
    ]
    # the unplaced "—" rides with the next word, since an LRC line's word tags must spell its text
    assert [w.text for w in words] == ["Hold", "on", "tight", "— never", "let", "go"]
    assert [w.start for w in words[3:]] == [pytest.approx(7.125, abs=near), 7.5, 8.25]
    assert "# Привет (not placed: outside a-z)" in (tmp_path / "song.lrc").read_text(encoding="utf-8")

    srt = pysubs2.load(str(tmp_path / "song.srt"))
    assert [(e.start, e.end, e.text) for e in srt] == [(1250, 3500, "Hold on tight"), (7125, 9000, "— never let go")]
    vtt = webvtt.read(str(tmp_path / "song.vtt"))
    assert [(c.start, c.end, c.text) for c in vtt] == [
        ("00:00:01.250", "00:00:03.500", "Hold on tight"),
        ("00:00:07.125", "00:00:09.000", "— never let go"),
    ]

    document = json.loads((tmp_path / "song.json").read_text(encoding="utf-8"))
    assert (document["backend"], document["model_digest"], document["min_confidence"]) == (
        "crnn",
        "0123456789abcdef",
        0.3,
    )
    assert [(ln["start"], ln["unsure"], ln["confidence"]) for ln in document["lines"]] == [
        (1.25, False, 0.91), (7.125, True, 0.2), (None, True, None)
    ]  # fmt: skip
    assert document["lines"][1]["words"][0] == {"start": None, "end": None, "text": "—", "confidence": None}
    timed = read_timed_json(tmp_path / "song.json")
    assert [(e.text, e.start, e.end) for e in timed.entries] == TIMED
    assert [w.text for w in timed.entries[1].words] == ["never", "let", "go"]
    assert timed.problems == [
        "line entry 2 has 1 word(s) with a null start ('—'); the line was kept without them",
        "line entry 3 has no start time; it was left out, fix it to keep that line",
    ]

    assert read_words_txt(tmp_path / "song.words.txt") == ["Hold", "on", "tight", "—", "never", "let", "go", "Привет"]
    jamendo_words = read_jamendo_words_csv(tmp_path / "song.words.csv")
    assert [w.line for w in jamendo_words] == [0, 0, 0, 1, 1, 1, 1, 2]
    assert [w.start for w in jamendo_words[4:7]] == [7.125, 7.5, 8.25]
    assert math.isnan(jamendo_words[3].start) and math.isnan(jamendo_words[7].end)
    jamendo_lines = read_jamendo_lines_csv(tmp_path / "song.lines.csv")
    assert [(ln.text, ln.start, ln.end) for ln in jamendo_lines[:2]] == TIMED
    assert jamendo_lines[2].text == "Привет" and math.isnan(jamendo_lines[2].start)


def test_plain_lrc_has_no_word_tags(tmp_path):
    export_scored(tmp_path, "song", lyrics(), ["lrc"])
    text = (tmp_path / "song.lrc").read_text(encoding="utf-8")
    assert "<" not in text and "]— never let go\n" in text


def test_an_existing_file_is_kept_unless_forced(tmp_path):
    (tmp_path / "song.lrc").write_text("[00:00.00]mine\n", encoding="utf-8")
    with pytest.raises(SongalignError) as refused:
        export_scored(tmp_path, "song", lyrics(), ["json", "lrc"])
    assert str(refused.value) == (
        f"{tmp_path / 'song.lrc'} already exists and was kept; give --force to overwrite it, or another --out-dir"
    )
    assert (tmp_path / "song.lrc").read_text(encoding="utf-8") == "[00:00.00]mine\n"
    assert not (tmp_path / "song.json").exists()  # nothing written when one file is in the way
    export_scored(tmp_path, "song", lyrics(), ["json", "lrc"], force=True)
    assert "Hold on tight" in (tmp_path / "song.lrc").read_text(encoding="utf-8")


def test_format_names_are_checked(tmp_path):
    with pytest.raises(SongalignError, match="lrc and elrc both write song.lrc"):
        export_paths(tmp_path, "song", ["lrc", "elrc"])
    with pytest.raises(SongalignError, match="unknown lyrics format 'ass'"):
        export_paths(tmp_path, "song", ["ass"])


def test_subtitles_without_pysubs2_are_refused_before_anything_is_written(tmp_path, monkeypatch):
    monkeypatch.setitem(sys.modules, "pysubs2", None)  # as if the lyrics extra were not installed
    with pytest.raises(SongalignError) as refused:
        export_scored(tmp_path / "out", "song", lyrics(), ["json", "lrc", "vtt"])
    assert str(refused.value) == "writing VTT needs pysubs2; install it with pip install 'songalign[lyrics]'"
    assert not (tmp_path / "out").exists()
