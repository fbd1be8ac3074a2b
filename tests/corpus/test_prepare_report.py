"""Skip reports: a few lines on the terminal by kind, every item in skipped.csv inside the prepared corpus."""

from __future__ import annotations

import csv
import io
import logging

import pytest
from rich.console import Console
from typer.testing import CliRunner

from songalign.cli import app
from songalign.console import print_skip_report
from songalign.corpus.prepare import SKIPPED_FILE, prepare_corpus
from songalign.corpus.testing import FakeSong, regular_lines, write_jamendo_corpus
from songalign.errors import REPAIRED, REPORT_COLUMNS, SKIPPED, SkipReport, reason_kind

WITH_AUDIO, WITHOUT_AUDIO, OVERLAPS = 10, 69, 29
"""The layout of the issue: 10 songs' audio present, 69 rows without audio, 29 overlapping lines."""


def _overlapping(count: int, overlaps: int) -> list[tuple[str, float, float]]:
    """``count`` regular lines, the first ``overlaps`` of them running 0.25 s into the next one."""
    lines = regular_lines(count, length=3.0, gap=0.5)
    return [
        (text, start, lines[i + 1][1] + 0.25 if i < overlaps else end) for i, (text, start, end) in enumerate(lines)
    ]


@pytest.fixture(scope="module")
def partial_corpus(tmp_path_factory):
    overlaps = [3] * 9 + [2]  # 29 in all, spread over the ten songs with audio
    songs = [
        FakeSong(f"Present_-_Song{i:02d}", [_overlapping(4, overlaps[i])], duration=16.0) for i in range(WITH_AUDIO)
    ]
    songs += [FakeSong(f"Absent_-_Song{i:02d}", [regular_lines(4)], write_audio=False) for i in range(WITHOUT_AUDIO)]
    return write_jamendo_corpus(tmp_path_factory.mktemp("partial") / "corpus", songs, audio_format="wav")


def _lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_every_item_is_in_the_file_and_repairs_are_told_apart(partial_corpus, tmp_path, caplog):
    caplog.set_level(logging.DEBUG, logger="songalign")
    result = prepare_corpus("jamendo", partial_corpus, tmp_path / "out", progress=False)
    assert result.report.kept == WITH_AUDIO
    assert (len(result.report.skipped), len(result.report.repaired)) == (WITHOUT_AUDIO, OVERLAPS)
    assert result.report.summary() == f"kept {WITH_AUDIO}, skipped {WITHOUT_AUDIO}, repaired {OVERLAPS}"

    assert result.skipped_file == tmp_path / "out" / SKIPPED_FILE
    with result.skipped_file.open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == REPORT_COLUMNS and len(rows) == WITHOUT_AUDIO + OVERLAPS
    absent = {row["item"] for row in rows if row["action"] == SKIPPED}
    assert absent == {f"Absent_-_Song{i:02d}.wav" for i in range(WITHOUT_AUDIO)}
    repaired = [row for row in rows if row["action"] == REPAIRED]
    assert len({row["kind"] for row in repaired}) == 1 and all(
        "overlaps the next line" in r["reason"] for r in repaired
    )
    assert len({row["reason"] for row in repaired}) > 1  # the particulars stay in the file
    assert result.manifest.info["skipped"] == {
        "file": SKIPPED_FILE,
        "skipped": WITHOUT_AUDIO,
        "repaired": OVERLAPS,
        "noted": 0,
    }

    # each item is logged once as it happens, at DEBUG: nothing per item reaches a WARNING terminal
    per_item = [
        r for r in caplog.records if r.name == "songalign" and r.getMessage().startswith(("skipped", "repaired"))
    ]
    assert len(per_item) == WITHOUT_AUDIO + OVERLAPS and {r.levelno for r in per_item} == {logging.DEBUG}


def test_the_cli_prints_a_few_lines_by_kind_and_names_the_file(partial_corpus, tmp_path):
    out = tmp_path / "out"
    done = CliRunner().invoke(app, ["corpus", "prepare", "jamendo", str(partial_corpus), "--out", str(out)])
    assert done.exit_code == 0, done.output
    printed = _lines(done.output)
    table_title = next(i for i, line in enumerate(printed) if line.strip().split(" ")[0] == "corpus")
    summary = "\n".join(printed[:table_title])  # what comes before the corpus table
    # before: 4+ wrapped log lines per absent row and a table row per repaired overlap (~400 lines)
    assert table_title <= 10, summary
    # kept songs, skipped rows, repaired lines: a neutral title, not "songs"
    assert summary.startswith(f"items: kept {WITH_AUDIO}, skipped {WITHOUT_AUDIO}, repaired {OVERLAPS}")
    assert str(out / SKIPPED_FILE) in summary.replace("\n", "")
    assert f"{WITHOUT_AUDIO} skipped" in summary and f"{OVERLAPS} repaired" in summary
    assert "audio file not found" in summary and "overlapped the next line" in summary
    named = [i for i in range(WITHOUT_AUDIO) if f"Absent_-_Song{i:02d}" in summary]
    assert 1 <= len(named) <= 3  # a few examples, not the list


def test_the_summary_stays_bounded_however_many_kinds_there_are():
    report = SkipReport(kept=5)
    for index in range(40):  # 40 different checks (explicit kinds), each failing for 1..40 items
        for item in range(index + 1):
            reason = f"check number {index} failed for this row"
            report.skip(f"data/file{item}.csv", reason, item=f"row{item}", kind=f"check {index}")
    report.repair("data/a.csv", "a line was moved by 0.5 s", item="song-a")
    stream = io.StringIO()
    print_skip_report(report, "skipped", listing="out/skipped.csv", out=Console(file=stream, width=80))
    printed = _lines(stream.getvalue())
    assert len(printed) <= 2 + 2 * 5 + 1, printed  # header (may wrap), 5 kinds × 2 lines, one folded line
    # 820 skips + 1 repair; the five shown hold 40 + 39 + 38 + 37 + 36 = 190, the 36 folded kinds 631
    assert "check 39" in printed[1] and "… 36 more kind(s), 631 item(s) (see the file)" in printed[-1]
    # without explicit kinds, reasons that differ only in their numbers are one kind
    assert reason_kind("check number 12 failed for this row") == "check number … failed for this row"


def test_kinds_count_by_category_with_at_most_three_distinct_examples():
    report = SkipReport()
    for name, seconds in [("a", 0.1), ("b", 0.25), ("a", 0.3), ("c", 1.0), ("d", 2.0)]:
        report.repair("x.csv", f"line '{name}' overlaps the next line by {seconds:.3f} s", item=name)
    report.skip("x.csv", "row 3 has no Filepath; fill it in")
    report.skip("y.csv", "row 9 has no Filepath; fill it in")
    overlap, filepath = report.kinds()
    assert (overlap.action, overlap.count, overlap.examples) == (REPAIRED, 5, ["a", "b", "c"])
    assert overlap.kind == "line '…' overlaps the next line by … s"
    assert (filepath.action, filepath.count, filepath.examples) == (SKIPPED, 2, ["x.csv", "y.csv"])
    assert len(report) == 2 and report.summary() == "kept 0, skipped 2, repaired 5"
    assert reason_kind("put the song's audio there") == "put the song's audio there"  # an apostrophe is no quote


def test_a_clean_report_prints_nothing():
    stream = io.StringIO()
    print_skip_report(SkipReport(kept=3), "skipped", out=Console(file=stream, width=80))
    assert stream.getvalue() == ""


def test_the_summary_prints_the_numbers_a_kind_shares_and_the_range_of_those_it_does_not():
    report = SkipReport()
    for name in ("a.wav", "b.wav"):
        report.skip(name, "audio file is empty (0 bytes); replace it with a complete copy")
    for name, seconds in [("x", 0.5), ("y", 0.12), ("z", 0.25)]:
        report.repair("x.csv", f"line '{name}' overlaps the next line by {seconds:.3f} s", item=name)
    report.note("c.wav", "read as audio-only: 10 s windows", kind="audio-only songs")  # a named kind stays
    shown = {k.kind: k.shown for k in report.kinds()}
    assert shown["audio file is empty (… bytes); replace it with a complete copy"] == (
        "audio file is empty (0 bytes); replace it with a complete copy"  # before: "(… bytes)"
    )
    # numbers that differ print as their range (smallest–largest); quoted texts that differ stay blanked
    assert shown["line '…' overlaps the next line by … s"] == "line '…' overlaps the next line by 0.120–0.500 s"
    assert shown["audio-only songs"] == "audio-only songs"
    stream = io.StringIO()
    print_skip_report(report, "items", out=Console(file=stream, width=120))
    assert "2 skipped   audio file is empty (0 bytes)" in stream.getvalue()
    assert report.top_reasons() == "audio file is empty (0 bytes); replace it with a complete copy (2×)"
