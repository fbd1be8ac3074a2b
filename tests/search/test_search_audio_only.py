"""Audio-only catalogues end to end: a folder of lyric-less audio prepared, indexed and searched by mood text
through the real `songalign` CLI and the real service; in a mixed corpus, lyrics-targeted queries skip the
audio-only segments and say how many."""

from __future__ import annotations

import io
import json

import httpx
import pytest
import soundfile as sf
from typer.testing import CliRunner

from songalign.cli import app
from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.prepare import prepare_corpus
from songalign.search import Filters, SongSearch, build_index
from songalign.search.service import create_app
from songalign.search.testing import running_server, write_song_folder

runner = CliRunner()

WINDOWS = {  # 10 s windows; the last one moved back to end at the song's end
    "Drone - Alpha": [(0.0, 10.0), (10.0, 20.0), (15.0, 25.0)],
    "Drone - Beta": [(0.0, 10.0), (10.0, 20.0), (15.0, 25.0)],
    "Hum - Gamma": [(0.0, 10.0), (2.0, 12.0)],
}


def invoke(*args: str):
    result = runner.invoke(app, list(args))
    assert result.exit_code == 0, result.output
    return result


@pytest.fixture(scope="module")
def audio_only_db(tmp_path_factory, search_model):
    """A folder of three lyric-less songs (25 s WAV, 25 s FLAC, 12 s WAV) prepared and indexed by the CLI."""
    root = tmp_path_factory.mktemp("audio-only")
    folder = write_song_folder(root / "songs", audio_only={stem: windows[-1][1] for stem, windows in WINDOWS.items()})
    assert sorted(p.suffix for p in folder.iterdir()) == [".flac", ".wav", ".wav"]
    invoke("corpus", "prepare", "folder", str(folder), "--out", str(root / "corpus"))
    indexed = invoke("index", str(search_model[0]), str(root / "corpus"), "--db", str(root / "db"), "--no-progress")
    assert "added 8 segment(s), 8 in total" in " ".join(indexed.output.split())
    return root / "corpus", root / "db"


def test_lyric_less_audio_is_cut_into_windows_and_found_by_mood_text_from_the_cli(audio_only_db):
    corpus, db = audio_only_db
    manifest = CorpusManifest.load(corpus)
    windows = {song: [(s.start, s.end) for s in manifest.segments if s.song_id == song] for song in WINDOWS}
    assert windows == {song: [pytest.approx(w) for w in spans] for song, spans in WINDOWS.items()}
    assert all(s.text == "" for s in manifest.segments)

    plain = invoke("search", str(db), "--text", "calm and sad", "--by", "segment", "--json")
    segments = [json.loads(line) for line in plain.stdout.splitlines()]
    assert len(segments) == 8 and all(h["lyrics"] == "" for h in segments)
    found = {h["song_id"]: [] for h in segments}
    for hit in segments:
        found[hit["song_id"]].append((hit["start"], hit["end"]))
    assert {song: sorted(spans) for song, spans in found.items()} == {
        song: [pytest.approx(w) for w in spans] for song, spans in WINDOWS.items()
    }
    scores = [h["score"] for h in segments]
    assert scores == sorted(scores, reverse=True)

    grouped = invoke("search", str(db), "--text", "calm and sad", "--k", "3", "--json")
    songs = [json.loads(line) for line in grouped.stdout.splitlines()]
    assert sorted(h["song_id"] for h in songs) == sorted(WINDOWS)  # one result per song
    for hit in songs:  # each song's best window, its other windows folded under it
        assert hit["score"] == max(h["score"] for h in segments if h["song_id"] == hit["song_id"])
        assert len(hit["other_segments"]) == len(WINDOWS[hit["song_id"]]) - 1

    table = invoke("search", str(db), "--text", "calm and sad")
    assert "3 song(s)" in table.output and "no lyrics" not in table.output  # mood search skips nothing

    lyrics = invoke("search", str(db), "--text", "calm and sad", "--target", "lyrics")
    assert "0 song(s)" in lyrics.output
    assert "8 audio-only segments have no lyrics and were not searched" in " ".join(lyrics.output.split())
    as_json = invoke("search", str(db), "--text", "calm and sad", "--target", "lyrics", "--json")
    assert as_json.stdout == "" and "8 audio-only segments have no lyrics" in as_json.stderr  # stdout stays JSON


def test_the_service_finds_audio_only_segments_by_mood_text(audio_only_db, search_model):
    _, db = audio_only_db
    search = SongSearch.open(db, model=search_model[1])
    with running_server(create_app(search)) as url, httpx.Client(timeout=30, verify=False) as client:
        body = client.post(f"{url}/api/search/text", json={"text": "calm and sad", "k": 2}).json()
        assert len(body["results"]) == 2 and len({r["song_id"] for r in body["results"]}) == 2
        assert body["skipped_without_lyrics"] == 0 and body["notes"] == []
        first = body["results"][0]
        assert first["lyrics"] == "" and (first["start"], first["end"]) in [
            pytest.approx(w) for w in WINDOWS[first["song_id"]]
        ]
        other = first["other_segments"][0]
        assert other["score"] <= first["score"]
        clip = client.get(f"{url}{other['audio_url']}")  # a folded window plays through the clip route
        assert clip.status_code == 200 and clip.headers["content-type"] == "audio/wav"
        assert float(clip.headers["X-Segment-End"]) - float(clip.headers["X-Segment-Start"]) == pytest.approx(10.0)

        plain = client.post(f"{url}/api/search/text", json={"text": "calm and sad", "k": 20, "group": "segment"})
        assert len(plain.json()["results"]) == 8 and all(r["other_segments"] == [] for r in plain.json()["results"])

        lyrics = client.post(f"{url}/api/search/text", json={"text": "calm and sad", "target": "lyrics"}).json()
        assert lyrics["results"] == [] and lyrics["skipped_without_lyrics"] == 8
        assert lyrics["notes"] == ["8 audio-only segments have no lyrics and were not searched"]


@pytest.fixture(scope="module")
def mixed_db(tmp_path_factory, search_model):
    """Two songs with lyrics (30 s) and three without (25 s, 12 s, 100 s) in one corpus and one index."""
    root = tmp_path_factory.mktemp("mixed-search")
    folder = write_song_folder(
        root / "songs",
        audio_only={"Drone - Alpha": 25.0, "Hum - Gamma": 12.0, "Drone - Long": 100.0},
        with_lyrics={"Band - First": 30.0, "Band - Second": 30.0},
    )
    prepare_corpus("folder", folder, root / "corpus", progress=False)
    folder_model, model = search_model
    build_index(folder_model, root / "corpus", root / "db", model=model, progress=False)
    search = SongSearch.open(root / "db", model=model)
    manifest = CorpusManifest.load(root / "corpus")
    return search, manifest


def test_lyrics_queries_skip_audio_only_segments_and_say_so(mixed_db):
    search, manifest = mixed_db
    audio_only = sum(1 for s in manifest.segments if not s.text)
    with_lyrics = len(manifest.segments) - audio_only
    assert audio_only == 3 + 2 + 10 and with_lyrics >= 4

    hits = search.by_text("sunshine line", k=50, target="lyrics", group="segment")
    assert len(hits) == with_lyrics and all(h.lyrics for h in hits)
    assert search.without_lyrics() == audio_only
    assert search.without_lyrics(Filters(language="english")) == 0  # the filters apply to the count too
    by_sound = search.by_text("calm and sad", k=50, group="segment")  # mood search: every segment
    assert len(by_sound) == len(manifest.segments)

    db = str(search.store.path)
    table = invoke("search", db, "--text", "sunshine line", "--target", "lyrics", "--k", "5")
    assert "2 song(s)" in table.output
    assert f"{audio_only} audio-only segments have no lyrics and were not searched" in " ".join(table.output.split())
    lines = invoke("search", db, "--text", "sunshine line", "--target", "lyrics", "--by", "segment", "--json")
    assert all(json.loads(line)["lyrics"] for line in lines.stdout.splitlines())
    mood = invoke("search", db, "--text", "calm and sad", "--k", "5")
    assert "5 song(s)" in mood.output and "no lyrics" not in mood.output

    with running_server(create_app(search)) as url, httpx.Client(timeout=30, verify=False) as client:
        body = client.post(f"{url}/api/search/text", json={"text": "sunshine line", "target": "lyrics"}).json()
        assert {r["song_id"] for r in body["results"]} == {"Band - First", "Band - Second"}
        assert body["skipped_without_lyrics"] == audio_only
        assert body["notes"] == [f"{audio_only} audio-only segments have no lyrics and were not searched"]
        mood = client.post(f"{url}/api/search/text", json={"text": "calm and sad", "k": 5}).json()
        assert len(mood["results"]) == 5 and mood["skipped_without_lyrics"] == 0 and mood["notes"] == []

        window = manifest.segments[0]
        audio, rate = sf.read(window.audio_path, start=0, stop=int(4 * 22050), dtype="float32")
        buffer = io.BytesIO()
        sf.write(buffer, audio, rate, format="WAV")
        upload = client.post(
            f"{url}/api/search/audio", files={"file": ("clip.wav", buffer.getvalue(), "audio/wav")}, data={"k": "3"}
        ).json()  # an audio clip against lyric lines (the default target) skips them too
        assert upload["skipped_without_lyrics"] == audio_only and all(r["lyrics"] for r in upload["results"])


def test_grouping_widens_its_candidates_until_it_has_k_songs(mixed_db):
    search, _ = mixed_db
    query = search.store.vectors("id = 'Drone - Long-0004'")[0]  # a window of the 100 s song: its 10 windows are near
    plain = search.by_vector(query, "audio", k=8, group="segment")
    assert {h.song_id for h in plain} == {"Drone - Long"}  # the first k × 4 candidates hold one song only
    grouped = search.by_vector(query, "audio", k=2)
    assert [h.song_id for h in grouped][0] == "Drone - Long" and len({h.song_id for h in grouped}) == 2
    assert len(grouped[0].other_segments) == 9  # all of its other windows, best first
    scores = [o.score for o in grouped[0].other_segments]
    assert scores == sorted(scores, reverse=True) and grouped[0].score >= scores[0]
