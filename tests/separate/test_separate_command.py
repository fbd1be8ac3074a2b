"""`songalign separate`: FLAC stems of audio files, resumable, never overwriting without --force."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import soundfile as sf
from typer.testing import CliRunner

from songalign.audio.io import load_audio
from songalign.cli import app
from songalign.errors import NothingDoneError
from songalign.separate import spleeter as spleeter_port
from songalign.separate.files import RECORD, read_record
from songalign.separate.spleeter import spleeter_2stems
from songalign.transcribe.testing import save_tiny_transcriber

sys.path.insert(0, str(Path(__file__).parent))
from make_spleeter_reference import example_path  # noqa: E402

runner = CliRunner()


def _inputs(tmp_path: Path) -> tuple[Path, Path, Path]:
    """A 1.5 s stereo WAV at 22.05 kHz, a 0.5 s mono FLAC at 48 kHz and a file that does not decode."""
    rng = np.random.default_rng(11)
    t = np.arange(int(1.5 * 22050)) / 22050
    stereo = np.stack([0.3 * np.sin(2 * np.pi * 220 * t), 0.2 * rng.standard_normal(t.size)]).T
    sf.write(tmp_path / "duet.wav", stereo, 22050)
    t = np.arange(24000) / 48000
    sf.write(tmp_path / "hum.flac", 0.25 * np.sin(2 * np.pi * 330 * t), 48000)
    (tmp_path / "broken.mp3").write_bytes(b"ID3 this is not audio")
    return tmp_path / "duet.wav", tmp_path / "hum.flac", tmp_path / "broken.mp3"


def test_separate_writes_flac_stems_skips_what_does_not_decode_and_resumes(tmp_path):
    duet, hum, broken = _inputs(tmp_path)
    out = tmp_path / "stems"
    done = runner.invoke(app, ["separate", str(duet), str(broken), str(hum), "--out", str(out)])
    assert done.exit_code == 0, done.output
    assert sorted(p.name for p in out.iterdir()) == [
        RECORD,
        "duet.accompaniment.flac",
        "duet.vocals.flac",
        "hum.accompaniment.flac",
        "hum.vocals.flac",
    ]
    info = sf.info(out / "duet.vocals.flac")
    assert (info.samplerate, info.channels, info.frames, info.subtype) == (44100, 2, 66150, "PCM_24")
    info = sf.info(out / "hum.accompaniment.flac")
    assert (info.samplerate, info.channels, info.frames) == (44100, 1, round(24000 * 44100 / 48000))
    assert "wrote 4 stem file(s)" in done.stdout
    assert "audio files: kept 2, skipped 1" in done.stderr and "broken.mp3" in done.stderr
    written = {p: p.stat().st_mtime_ns for p in out.iterdir()}

    again = runner.invoke(app, ["separate", str(duet), str(hum), "--out", str(out)])
    assert again.exit_code == 0, again.output
    assert "2 file(s) already separated" in again.stdout and "--force" in again.stdout
    assert {p: p.stat().st_mtime_ns for p in out.iterdir()} == written


def test_a_users_file_is_kept_unless_force(tmp_path):
    duet, _, _ = _inputs(tmp_path)
    out = tmp_path / "stems"
    out.mkdir()
    mine = out / "duet.vocals.flac"
    mine.write_bytes(b"my own take")
    done = runner.invoke(app, ["separate", str(duet), "--out", str(out), "--stems", "vocals"])
    assert done.exit_code == 1 and mine.read_bytes() == b"my own take"  # not taken as done: nothing separated
    assert f"{mine} is already there but {RECORD} does not say songalign separate made it" in str(done.exception)
    assert not (out / "duet.accompaniment.flac").exists()
    forced = runner.invoke(app, ["separate", str(duet), "--out", str(out), "--stems", "vocals", "--force"])
    assert forced.exit_code == 0, forced.output
    assert sf.info(mine).channels == 2 and not list(out.glob("*.partial"))
    assert read_record(out)["duet.vocals.flac"]["digest"] == spleeter_2stems().digest


def test_stems_of_another_separator_are_not_taken_as_done(tmp_path, monkeypatch):
    duet, hum, _ = _inputs(tmp_path)
    out = tmp_path / "stems"
    with monkeypatch.context() as patched:  # the port's processing as another version had it: another digest
        patched.setattr(spleeter_port, "PORT_VERSION", 99)
        older = runner.invoke(app, ["separate", str(duet), str(hum), "--out", str(out)])
        assert older.exit_code == 0, older.output
        old_digest = spleeter_2stems().digest
    assert {entry["digest"] for entry in read_record(out).values()} == {old_digest}
    written = {p: p.stat().st_mtime_ns for p in out.iterdir() if p.suffix == ".flac"}
    refused = runner.invoke(app, ["separate", str(duet), "--out", str(out)])
    assert refused.exit_code == 1
    digest = spleeter_2stems().digest
    assert (
        f"was made by the separator spleeter (digest {old_digest}), not spleeter (digest {digest}); give --force"
        in str(refused.exception)
    )
    assert {p: p.stat().st_mtime_ns for p in out.iterdir() if p.suffix == ".flac"} == written
    redone = runner.invoke(app, ["separate", str(duet), "--out", str(out), "--force"])
    assert redone.exit_code == 0, redone.output
    record = read_record(out)
    assert record["duet.vocals.flac"]["digest"] == record["duet.accompaniment.flac"]["digest"] == digest
    assert record["hum.vocals.flac"]["digest"] == old_digest  # what was not redone keeps its record


def test_a_file_given_twice_is_separated_once_and_two_files_of_one_name_are_told_apart(tmp_path):
    duet, _, _ = _inputs(tmp_path)
    (tmp_path / "other").mkdir()
    namesake = tmp_path / "other" / "duet.flac"
    sf.write(namesake, np.zeros((4410, 2)), 44100)
    out = tmp_path / "stems"
    done = runner.invoke(
        app, ["separate", str(duet), str(tmp_path / "." / "duet.wav"), str(namesake), "--out", str(out)]
    )
    assert done.exit_code == 0, done.output
    assert "wrote 2 stem file(s)" in done.stdout
    assert "audio files: kept 1, skipped 1" in done.stderr
    said = " ".join(done.stderr.split())
    assert "so their stems would be the same files in" in said and "e.g. duet.flac" in said


def test_the_stems_of_the_example_song_are_the_separators(tmp_path):
    audio, rate = load_audio(example_path(), mono=False, duration=3.0)
    song = tmp_path / "example.wav"
    sf.write(song, audio.T, rate, subtype="FLOAT")
    out = tmp_path / "stems"
    done = runner.invoke(app, ["separate", str(song), "--out", str(out), "--separator", "spleeter"])
    assert done.exit_code == 0, done.output
    stems = spleeter_2stems().separate(audio, rate)
    written, written_rate = sf.read(out / "example.vocals.flac", dtype="float32", always_2d=True)
    assert written_rate == 44100 and written.T.shape == stems.vocals.shape
    np.testing.assert_allclose(written.T, np.clip(stems.vocals, -1, 1), rtol=0, atol=2.0**-23)  # 24-bit steps
    assert np.abs(stems.vocals).max() > 0.05


def test_nothing_separated_is_exit_1_and_bad_options_are_one_sentence(tmp_path):
    _, _, broken = _inputs(tmp_path)
    done = runner.invoke(app, ["separate", str(broken), "--out", str(tmp_path / "o")])
    assert done.exit_code == 1 and isinstance(done.exception, NothingDoneError)
    assert str(done.exception).startswith("none of the 1 audio files could be separated:")
    wrong = runner.invoke(app, ["separate", str(broken), "--out", str(tmp_path / "o"), "--separator", "demucs"])
    assert wrong.exit_code == 1 and str(wrong.exception).startswith("unknown vocal separator 'demucs'")
    stem = runner.invoke(app, ["separate", str(broken), "--out", str(tmp_path / "o"), "--stems", "drums"])
    assert stem.exit_code == 1 and "--stems drums is not a stem; choose among vocals, accompaniment" in str(
        stem.exception
    )


def test_the_readme_commands_separate_the_example_song_and_a_transcriber_hears_its_vocals(tmp_path):
    out = tmp_path / "stems"
    done = runner.invoke(app, ["separate", "--example", "--out", str(out), "--threads", "2"])
    assert done.exit_code == 0, done.output
    for stem in ("vocals", "accompaniment"):
        info = sf.info(out / f"audio_example.{stem}.flac")
        assert (info.samplerate, info.channels) == (44100, 2) and 10.5 < info.duration < 11.5
    model = save_tiny_transcriber(tmp_path / "tiny")
    text = tmp_path / "text.json"
    heard = runner.invoke(
        app, ["transcribe", "run", str(out / "audio_example.vocals.flac"), "--model", str(model), "--out", str(text)]
    )
    assert heard.exit_code == 0, heard.output
    (item,) = json.loads(text.read_text())["files"]
    assert item["audio"].endswith("audio_example.vocals.flac") and 10.5 < item["duration"] < 11.5
    assert isinstance(item["greedy"], str)  # the text (a random tiny model spells nonsense)
    nothing = runner.invoke(app, ["separate", "--out", str(out)])
    assert nothing.exit_code == 1 and str(nothing.exception).startswith("give audio files to separate, or --example")
