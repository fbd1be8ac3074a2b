"""The synthetic corpus through the CLI: `corpus synth` → `corpus prepare jamendo` → `corpus info`."""

from __future__ import annotations

import csv
import subprocess
import sys

import pytest
from typer.testing import CliRunner

from songalign.cli import app
from songalign.corpus.manifest import CorpusManifest


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth")
    runner = CliRunner()
    result = runner.invoke(app, ["corpus", "synth", "--songs", "4", "--seed", "1", "--out", str(root / "raw")])
    assert result.exit_code == 0, result.output
    result = runner.invoke(app, ["corpus", "prepare", "jamendo", str(root / "raw"), "--out", str(root / "prepared")])
    assert result.exit_code == 0, result.output
    return root


def test_segments_are_the_generator_sections(prepared):
    manifest = CorpusManifest.load(prepared / "prepared")
    with open(prepared / "raw" / "metadata" / "segments.csv", encoding="utf-8") as handle:
        truth = sorted(
            (row["Filepath"].removesuffix(".mp3"), float(row["start"]), float(row["end"]))
            for row in csv.DictReader(handle)
        )
    ours = sorted((s.song_id, s.start, s.end) for s in manifest.segments)
    assert [t[0] for t in ours] == [t[0] for t in truth]
    for (_, start, end), (_, true_start, true_end) in zip(ours, truth, strict=True):
        assert start == pytest.approx(true_start, abs=1e-3) and end == pytest.approx(true_end, abs=1e-3)
    mean = sum(s.duration for s in manifest.segments) / len(manifest.segments)
    assert 8.0 <= mean <= 12.0


def test_segments_inherit_reference_emotions_and_captions(prepared):
    manifest = CorpusManifest.load(prepared / "prepared")
    assert all(
        s.labels.get("ref_emotion") in {"joy", "love", "calm", "sadness", "anger", "fear"} for s in manifest.segments
    )
    assert all(s.caption for s in manifest.segments)
    assert all(-1.0 <= s.labels["ref_valence"] <= 1.0 for s in manifest.segments)


def test_info_prints_the_histogram(prepared):
    result = CliRunner().invoke(app, ["corpus", "info", str(prepared / "prepared")])
    assert result.exit_code == 0
    assert "segment durations" in result.output and "english 4" in result.output


def test_cli_errors_are_one_sentence_without_a_traceback(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "songalign.cli", "corpus", "info", str(tmp_path)], capture_output=True, text=True
    )
    assert result.returncode == 1
    assert "not a prepared corpus" in result.stderr and "Traceback" not in result.stderr
