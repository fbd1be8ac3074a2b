"""The zero-shot tag bridge and `songalign tag` on the real ported musicnn, end to end.

A folder of two lyric-less songs — noise bursts over a bass tone ("drums") and a decaying chord — is
prepared, indexed with the bridge built by `songalign models build musicnn-bridge`, and searched by
text through the CLI and the real service: MagnaTagATune's tagger hears the first as drums with a beat
and the second as slow and soft, so "energetic beat" and "a calm, slow song" must each find their own
song first.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import httpx
import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from songalign.align.model import AlignModel
from songalign.checkpoint import read_card
from songalign.cli import app
from songalign.search import SongSearch
from songalign.search.service import create_app
from songalign.search.testing import running_server
from songalign.towers import musicnn as M

sys.path.insert(0, str(Path(__file__).parent))
from make_musicnn_reference import fixed_clips  # noqa: E402

pytestmark = pytest.mark.usefixtures("musicnn_installed")
MOODS = (("a calm, slow song", "Pad - Chord"), ("energetic beat", "Kit - Drums"), ("drums", "Kit - Drums"))
"""Text queries and the song MagnaTagATune's tagger hears them in: slow and soft, a beat, drums."""
runner = CliRunner()


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def songs(tmp_path_factory) -> Path:
    folder = tmp_path_factory.mktemp("tagged") / "songs"
    folder.mkdir()
    clips = fixed_clips()
    for stem, clip in (("Kit - Drums", clips["drums"]), ("Pad - Chord", clips["chord"])):
        sf.write(folder / f"{stem}.flac", np.tile(clip, 3)[: 20 * M.SAMPLE_RATE], M.SAMPLE_RATE)
    return folder


@pytest.fixture(scope="module")
def bridge(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("bridge") / "model"
    invoke("models", "build", "musicnn-bridge", "--out", str(out), "--option", "tagger=MTT_musicnn")
    return out


def test_the_bridge_is_an_ordinary_model_folder_that_trained_nothing(bridge):
    card = read_card(bridge)
    assert card["name"] == "musicnn-bridge" and card["data"]["trained_songs"] is None
    model = AlignModel.from_pretrained(bridge)
    assert model.config.embedding_dim == 50 and model.config.projection == "none"
    assert model.referenced_parts() == ["audio_tower", "text_tower"]  # nothing copied: both rebuilt from options
    weights = model.text_tower.encode(["drums", "a slow song", "female voice"])
    torch_sums = weights.sum(dim=1)
    np.testing.assert_allclose(torch_sums.numpy(), 1.0, atol=1e-5)
    assert [model.text_tower.labels[i] for i in weights.argmax(dim=1)] == ["drums", "slow", "female voice"]


def test_the_audio_side_is_musicnns_mean_tag_probabilities(bridge):
    model = AlignModel.from_pretrained(bridge)
    clip = np.tile(fixed_clips()["drums"], 2)[: 9 * M.SAMPLE_RATE]  # exactly a clip: nothing padded
    embedding = model.embed_clips([clip])[0]
    probabilities = M.mtt_musicnn().tag(clip).song()
    np.testing.assert_allclose(embedding, probabilities / np.linalg.norm(probabilities), atol=1e-5)


def test_lyric_less_songs_are_found_by_tag_words_through_the_cli_and_the_service(songs, bridge, tmp_path):
    corpus, db = tmp_path / "corpus", tmp_path / "db"
    invoke("corpus", "prepare", "folder", str(songs), "--out", str(corpus))
    invoke("index", str(bridge), str(corpus), "--db", str(db), "--no-progress")
    for query, song in MOODS:
        found = invoke("search", str(db), "--text", query, "--k", "2", "--json")
        hits = [json.loads(line) for line in found.stdout.splitlines()]
        assert [h["song_id"] for h in hits][0] == song, (query, hits)
        assert all(h["lyrics"] == "" for h in hits)
    search = SongSearch.open(db)
    with running_server(create_app(search)) as url, httpx.Client(timeout=60) as client:
        for query, song in MOODS:
            body = client.post(f"{url}/api/search/text", json={"text": query, "k": 2}).json()
            assert body["results"][0]["song_id"] == song, (query, body)
            assert body["results"][0]["score"] > body["results"][1]["score"]


def test_tag_prints_top_tags_and_writes_patches_with_times(songs, tmp_path):
    drums = songs / "Kit - Drums.flac"
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"ID3 not really an mp3")
    table = invoke("tag", str(drums), str(broken), "--model", "MTT_musicnn", "--top", "3")
    assert "drums" in table.output and "skipped 1" in table.output and "broken.mp3" in table.output
    out = tmp_path / "tags.csv"
    invoke("tag", str(drums), "--model", "MTT_musicnn", "--format", "csv", "--out", str(out))
    rows = out.read_text().splitlines()
    header = rows[0].split(",")
    assert header[:4] == ["file", "start", "end", "time"] and len(header) == 4 + 50
    assert len(rows) == 1 + 6  # 20 s: six whole 3 s patches
    first = dict(zip(header, rows[1].split(","), strict=False))
    assert float(first["start"]) == 0.0 and float(first["end"]) == pytest.approx(2.992)
    assert float(first["time"]) == pytest.approx(93 * 0.016)
    over_time = invoke("tag", str(drums), "--model", "MTT_musicnn", "--over-time", "--top", "2")
    assert "start (s)" in over_time.output and "17.95" in over_time.output  # the sixth patch starts at 17.95 s
    as_json = json.loads(invoke("tag", str(drums), "--model", "MTT_musicnn", "--format", "json", "--hop", "1").stdout)
    assert as_json[0]["top"][0]["tag"] == "drums" and len(as_json[0]["times"]) == len(as_json[0]["probabilities"])
    assert np.diff(as_json[0]["times"]) == pytest.approx(61 * 0.016)
    # with --format json and no --out, stdout holds the JSON alone; the skip report goes to stderr
    mixed = runner.invoke(app, ["tag", str(drums), str(broken), "--format", "json"])
    assert mixed.exit_code == 0 and len(json.loads(mixed.stdout)) == 1 and "skipped 1" in mixed.stderr
    refused = runner.invoke(app, ["tag", str(drums), "--out", str(tmp_path / "x.csv")])
    assert refused.exit_code == 1 and "--format csv" in str(refused.exception)
