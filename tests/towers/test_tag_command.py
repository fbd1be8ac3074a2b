"""`songalign tag` by the batch rule: exit 1 with its skip report when no file can be tagged, and nothing
written; a folder is named as a folder. (Tagging real audio is in test_musicnn_bridge.py.)"""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from songalign.cli import app
from songalign.errors import NothingDoneError

runner = CliRunner()


def _bad_inputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    folder = tmp_path / "album"
    folder.mkdir()
    empty = tmp_path / "empty.wav"
    empty.write_bytes(b"")
    return folder, empty, tmp_path / "missing.flac"


def test_tag_exits_1_and_writes_nothing_when_no_file_can_be_tagged(tmp_path):
    folder, empty, missing = _bad_inputs(tmp_path)
    out = tmp_path / "tags.json"
    done = runner.invoke(app, ["tag", str(folder), str(empty), str(missing), "--format", "json", "--out", str(out)])
    # before: exit 0 and a tags.json holding []
    assert done.exit_code == 1 and isinstance(done.exception, NothingDoneError), done.output
    assert not out.exists()
    assert str(done.exception) == (
        "none of the 3 audio files could be tagged: "
        "audio file is empty (0 bytes); replace it with a complete copy (1×); "
        "audio file not found; check the path or put the file there (1×); "
        "is a folder, not an audio file; give the audio files in it (e.g. folder/*.mp3) (1×)"
    )
    # the skip report goes to stderr, with the numbers of each reason (not "(… bytes)")
    assert "audio files: kept 0, skipped 3" in done.stderr and "(0 bytes)" in done.stderr


def test_tag_prints_nothing_on_stdout_when_the_json_would_be_empty(tmp_path):
    folder, empty, _ = _bad_inputs(tmp_path)
    done = runner.invoke(app, ["tag", str(empty), str(folder), "--format", "json"])
    assert done.exit_code == 1 and done.stdout == ""  # before: "[]" on stdout, exit 0
    assert "is a folder, not an audio file" in done.stderr and "audio file not found" not in done.stderr
