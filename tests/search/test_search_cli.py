"""The ``index``, ``search`` and ``serve`` commands, registered on a Typer app as ``songalign`` does."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
import typer
from typer.testing import CliRunner

from songalign.errors import BadInputError, SongalignError
from songalign.search.commands import index_command, search_command, serve_command

app = typer.Typer()
app.command("index")(index_command)
app.command("search")(search_command)
app.command("serve")(serve_command)
runner = CliRunner()


def test_index_then_search_by_text_and_audio(search_corpus, search_model, tmp_path):
    folder, _ = search_model
    db = tmp_path / "db"
    first = runner.invoke(
        app, ["index", str(folder), str(search_corpus), "--db", str(db), "--no-progress", "--ann-min-rows", "10"]
    )
    assert first.exit_code == 0, first.output
    assert "added 12 segment(s), 12 in total, ANN index" in " ".join(first.output.split())

    query = ["search", str(db), "--text", "sunshine dancing golden morning verse0 0", "--k", "3", "--target", "lyrics"]
    found = runner.invoke(app, [*query, "--by", "segment", "--json"])
    assert found.exit_code == 0, found.output
    hits = [json.loads(line) for line in found.output.splitlines()]
    assert [h["segment_id"] for h in hits][:2] == ["song0-0000", "song0-0001"]  # the line is in verse 1 of song 0
    assert hits[0]["score"] > hits[1]["score"] > hits[2]["score"] and hits[0]["start"] == 1.0
    assert all(h["other_segments"] == [] for h in hits)  # plain segments fold nothing

    grouped = runner.invoke(app, [*query, "--json"])  # by song, the default: 3 songs, song 0's verse 2 folded
    songs = [json.loads(line) for line in grouped.output.splitlines()]
    assert len({h["song_id"] for h in songs}) == 3 and songs[0]["segment_id"] == "song0-0000"
    assert songs[0]["score"] == hits[0]["score"]
    (other,) = songs[0]["other_segments"]
    assert (other["segment_id"], other["score"]) == ("song0-0001", hits[1]["score"])
    assert (other["start"], other["end"]) == (15.0, pytest.approx(23.1))
    table = runner.invoke(app, query)
    assert table.exit_code == 0 and "3 song(s)" in table.output and "15.00–23.10" in table.output, table.output
    assert "no lyrics" not in table.output  # every segment here has lyrics: nothing to say

    clip = search_corpus.parent / "raw" / "mp3" / "song5.wav"
    by_audio = runner.invoke(app, ["search", str(db), "--audio", str(clip), "-k", "2", "--label", "emotion=fear"])
    assert by_audio.exit_code == 0, by_audio.output
    assert "Pluie & Nuit" in by_audio.output and "Wildfire" in by_audio.output  # the two 'fear' segments


def test_commands_refuse_bad_arguments_with_one_sentence(search_db, tmp_path):
    none = runner.invoke(app, ["search", str(search_db)])
    assert isinstance(none.exception, SongalignError) and "exactly one of --text" in str(none.exception)
    bad_label = runner.invoke(app, ["search", str(search_db), "--text", "joy", "--label", "joy"])
    assert "must look like key=value" in str(bad_label.exception)
    not_db = runner.invoke(app, ["search", str(tmp_path), "--text", "joy"])
    assert "is not a songalign search database" in str(not_db.exception)
    with pytest.raises(SongalignError, match="must be positive"):
        serve_command(search_db, timeout=0)
    with pytest.raises(SongalignError, match="not a usable CPU list"):
        serve_command(search_db, cpus="first")
    with pytest.raises(SongalignError, match="--max-connections must be at least 1, got 0"):
        serve_command(search_db, max_connections=0)
    nan_clip = tmp_path / "nan.wav"
    samples = np.zeros(16000, np.float32)
    samples[100] = np.nan
    sf.write(nan_clip, samples, 16000, subtype="FLOAT")  # float WAV keeps the NaN
    nan_search = runner.invoke(app, ["search", str(search_db), "--audio", str(nan_clip)])
    assert isinstance(nan_search.exception, BadInputError), nan_search.output
    assert str(nan_search.exception) == (
        f"{nan_clip}: it holds NaN or infinite samples; re-encode it with finite samples (e.g. as 16-bit PCM)"
    )
