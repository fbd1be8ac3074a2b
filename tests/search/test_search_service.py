"""The real service (uvicorn on 127.0.0.1): search routes, uploads and their limits, the clip stream,
the API key, timeouts, and 50 concurrent clients."""

from __future__ import annotations

import asyncio
import dataclasses
import io
import itertools
import shutil
from urllib.parse import quote

import httpx
import numpy as np
import pyarrow as pa
import pytest
import soundfile as sf

from songalign.audio.io import load_audio
from songalign.search import SegmentMatch, SongSearch
from songalign.search.service import ServiceSettings, create_app
from songalign.search.store import segment_schema
from songalign.search.testing import indexed_window, running_server

PART_HEAD = b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n'


@pytest.fixture(scope="module")
def client():
    with httpx.Client(timeout=30, verify=False) as http:  # plain HTTP on loopback: no TLS context to build
        yield http


def wav_bytes(seconds: float, rate: int = 16000, frequency: float = 440.0) -> bytes:
    t = np.arange(int(seconds * rate)) / rate
    buffer = io.BytesIO()
    sf.write(buffer, (0.3 * np.sin(2 * np.pi * frequency * t)).astype(np.float32), rate, format="WAV")
    return buffer.getvalue()


def test_health_info_and_the_page(live_url, client):
    assert client.get(f"{live_url}/api/health").json() == {"status": "ok"}
    info = client.get(f"{live_url}/api/info").json()
    assert info["segments"] == 12 and info["languages"] == ["english", "french"] and info["model_name"] == "tiny-search"
    page = client.get(f"{live_url}/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"] and 'id="query"' in page.text
    spec = client.get(f"{live_url}/openapi.json").json()
    assert {"/api/search/text", "/api/search/audio", "/api/segments/{segment_id}/audio", "/api/health"} <= set(
        spec["paths"]
    )
    # one definition of a result's fields: the query API's SegmentMatch, plus the clip URL (never the path)
    result = spec["components"]["schemas"]["Result"]
    public = [f.name for f in dataclasses.fields(SegmentMatch)]
    assert list(result["properties"]) == [*public, "audio_url"] and "audio_path" not in result["properties"]
    assert set(result["required"]) == {*public, "audio_url"} - {"labels", "other_segments"}
    folded = spec["components"]["schemas"]["OtherResult"]["properties"]
    assert list(folded) == ["segment_id", "start", "end", "score", "audio_url"]


def test_text_search_returns_scored_timed_results_with_a_clip_url(live_url, client, song_search):
    lyrics = song_search.store.get("song1-0000")["lyrics"]
    body = {"text": lyrics, "k": 3, "target": "lyrics"}
    response = client.post(f"{live_url}/api/search/text", json=body)
    assert response.status_code == 200, response.text
    first = response.json()["results"][0]
    assert first["segment_id"] == "song1-0000" and first["score"] == pytest.approx(1.0, abs=1e-4)
    assert (first["title"], first["artist"], first["start"], first["end"]) == (
        "Empty Rooms",
        "Grey Harbour",
        1.0,
        pytest.approx(9.1),
    )
    assert first["audio_url"] == "/api/segments/song1-0000/audio" and "audio_path" not in first
    filtered = client.post(
        f"{live_url}/api/search/text", json={"text": "sun", "k": 10, "language": "french", "labels": ["emotion=joy"]}
    )
    assert [r["segment_id"] for r in filtered.json()["results"]] == ["song4-0000"]


def test_bad_text_queries_get_a_422_naming_the_field(live_url, client):
    for body, field in (
        ({"text": ""}, "text"),
        ({"text": "joy", "k": 0}, "k"),
        ({"text": "joy", "target": "x"}, "target"),
        ({"text": "joy", "labels": ["joy"]}, "labels"),
        ({"text": "a\x00b"}, "text"),
    ):
        response = client.post(f"{live_url}/api/search/text", json=body)
        assert response.status_code == 422 and field in str(response.json()["detail"]), (body, response.text)
    assert (
        client.post(f"{live_url}/api/search/text", json={"text": "   "})
        .json()["detail"]
        .startswith("the text query is empty")
    )


def test_audio_upload_search_and_its_limits(live_url, client, song_search):
    audio, rate = indexed_window(song_search, "song3-0000", mono=False)
    buffer = io.BytesIO()
    sf.write(buffer, audio.T, rate, format="WAV")
    song = buffer.getvalue()
    ok = client.post(
        f"{live_url}/api/search/audio",
        files={"file": ("clip.wav", song, "audio/wav")},
        data={"k": "2", "target": "audio", "group": "segment"},
    )
    assert ok.status_code == 200, ok.text
    assert [r["song_id"] for r in ok.json()["results"]] == ["song3", "song3"]
    by_song = client.post(
        f"{live_url}/api/search/audio", files={"file": ("clip.wav", song, "audio/wav")}, data={"k": "2"}
    ).json()
    assert by_song["query"]["group"] == "song" and by_song["results"][0]["song_id"] == "song3"
    assert len({r["song_id"] for r in by_song["results"]}) == 2
    lines = client.post(f"{live_url}/api/search/audio", files={"file": ("x.flac", song, "application/octet-stream")})
    assert (  # k=10 asks for 10 songs (grouped by song, the default); there are 6
        lines.status_code == 200 and lines.json()["query"]["target"] == "lyrics" and len(lines.json()["results"]) == 6
    )
    wrong_type = client.post(f"{live_url}/api/search/audio", files={"file": ("notes.txt", b"hello", "text/plain")})
    assert wrong_type.status_code == 415 and "WAV, FLAC, MP3" in wrong_type.json()["detail"]
    garbage = client.post(
        f"{live_url}/api/search/audio", files={"file": ("clip.wav", b"RIFF0000WAVEjunk" * 50, "audio/wav")}
    )
    assert garbage.status_code == 415 and "cannot be decoded" in garbage.json()["detail"]
    too_long = client.post(
        f"{live_url}/api/search/audio", files={"file": ("long.wav", wav_bytes(25.0, 8000), "audio/wav")}
    )
    assert too_long.status_code == 422 and "longer than the 20 s allowed" in too_long.json()["detail"]
    too_big = client.post(f"{live_url}/api/search/audio", files={"file": ("big.wav", wav_bytes(70.0), "audio/wav")})
    assert too_big.status_code == 413 and "larger than 2048 KiB" in too_big.json()["detail"]
    streamed = client.post(  # no Content-Length: the body is counted as it arrives
        f"{live_url}/api/search/audio",
        content=itertools.chain([PART_HEAD], (b"\0" * 65536 for _ in range(40))),
        headers={"Content-Type": "multipart/form-data; boundary=b"},
    )
    assert streamed.status_code == 413 and "larger than 2048 KiB" in streamed.json()["detail"]


def test_the_clip_route_streams_exactly_the_segment(live_url, client, song_search):
    hit = song_search.segment("song5-0001")
    response = client.get(f"{live_url}/api/segments/song5-0001/audio")
    assert response.status_code == 200 and response.headers["content-type"] == "audio/wav"
    assert int(response.headers["content-length"]) == len(response.content)
    audio, rate = sf.read(io.BytesIO(response.content), dtype="float32", always_2d=True)
    expected, native = load_audio(hit.audio_path, offset=hit.start, duration=hit.end - hit.start, mono=False)
    assert rate == native == 22050 and audio.shape == expected.T.shape == (round((hit.end - hit.start) * 22050), 2)
    np.testing.assert_allclose(audio, expected.T, atol=1.0 / 32767 + 1e-6)  # equal up to 16-bit rounding
    assert float(response.headers["x-segment-start"]) == pytest.approx(hit.start)


def test_no_path_or_unknown_id_reaches_the_filesystem(live_url, client):
    for segment_id in ("nope", "..%2F..%2Fetc%2Fpasswd", "song1-0000' OR '1'='1", "%2Fetc%2Fpasswd"):
        response = client.get(f"{live_url}/api/segments/{segment_id}/audio")
        assert response.status_code == 404, (segment_id, response.status_code)
    assert client.get(f"{live_url}/api/songs/nope/similar").status_code == 404
    similar = client.get(f"{live_url}/api/songs/song0/similar", params={"k": 3}).json()["results"]
    assert len(similar) == 3 and "song0" not in {r["song_id"] for r in similar}


def test_an_api_key_guards_everything_but_health(client, song_search):
    app = create_app(song_search, ServiceSettings(api_key="s3cret"))
    with running_server(app) as url:
        assert client.get(f"{url}/api/health").status_code == 200
        assert client.get(f"{url}/").status_code == 200  # the page itself asks for the key
        denied = client.post(f"{url}/api/search/text", json={"text": "joy"})
        assert denied.status_code == 401 and "X-API-Key" in denied.json()["detail"]
        assert client.get(f"{url}/api/segments/song0-0000/audio", headers={"X-API-Key": "wrong"}).status_code == 401
        allowed = client.post(f"{url}/api/search/text", json={"text": "joy"}, headers={"X-API-Key": "s3cret"})
        assert allowed.status_code == 200


def test_a_query_over_the_time_limit_gets_a_504(client, song_search):
    with running_server(create_app(song_search, ServiceSettings(request_timeout=1e-4))) as url:
        response = client.post(f"{url}/api/search/text", json={"text": "joy"})
        assert response.status_code == 504 and "took longer than" in response.json()["detail"]
        assert client.get(f"{url}/api/health").status_code == 200


def test_fifty_concurrent_clients_get_no_errors(live_url):
    async def client(i: int) -> list[int]:
        # one client (and connection) each; verify=False: plain HTTP needs no TLS context (slow to build)
        async with httpx.AsyncClient(base_url=live_url, timeout=60, verify=False) as http:
            statuses = [(await http.post("/api/search/text", json={"text": f"mood number {i}", "k": 5})).status_code]
            statuses.append((await http.get(f"/api/segments/song{i % 6}-000{i % 2}/audio")).status_code)
            statuses.append((await http.get("/api/health")).status_code)
            return statuses

    async def main() -> list[list[int]]:
        return await asyncio.gather(*(client(i) for i in range(50)))

    results = asyncio.run(main())
    assert len(results) == 50 and all(statuses == [200, 200, 200] for statuses in results)


def test_ids_with_slashes_hashes_and_quotes_round_trip(search_db, song_search, client, tmp_path):
    """Folder corpora name songs by relative path (``album/song``), deduplicated with ``#2``."""
    shutil.copytree(search_db, tmp_path / "db")
    search = SongSearch.open(tmp_path / "db", model=song_search.model)
    columns = [f.name for f in segment_schema(16)]
    row = search.store.rows("id = 'song0-0000'", columns)[0]
    odd = "album/Ünï #2?'x"
    search.store.add(pa.Table.from_pylist([{**row, "id": f"{odd}-0000", "song_id": odd}], schema=segment_schema(16)))
    with running_server(create_app(search)) as url:
        results = client.post(
            f"{url}/api/search/text", json={"text": row["lyrics"], "k": 2, "target": "lyrics"}
        ).json()["results"]
        odd_hit = next(r for r in results if r["song_id"] == odd)
        assert odd_hit["audio_url"] == "/api/segments/album%2F%C3%9Cn%C3%AF%20%232%3F%27x-0000/audio"
        clip = client.get(f"{url}{odd_hit['audio_url']}")
        assert clip.status_code == 200 and clip.content == client.get(f"{url}/api/segments/song0-0000/audio").content
        assert client.get(f"{url}{odd_hit['audio_url'].removesuffix('/audio')}").json()["segment_id"] == f"{odd}-0000"
        similar = client.get(f"{url}/api/songs/{quote(odd, safe='')}/similar", params={"k": 2})
        assert similar.status_code == 200 and odd not in {r["song_id"] for r in similar.json()["results"]}
