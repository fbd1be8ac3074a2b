"""What a careless or hostile client can send the real service (uvicorn on 127.0.0.1), and what it gets back:
never a 500 and never a silently wrong answer.

Non-finite numbers and lone surrogates anywhere in a JSON body, a 1 MB text, clips with NaN or infinite
samples, a song file that no longer decodes behind the clip route, more requests at once than the
service takes, ``/api/info`` after another process commits, and the docs behind the API key.
"""

from __future__ import annotations

import base64
import io
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from html.parser import HTMLParser

import httpx
import numpy as np
import pyarrow as pa
import pytest
import soundfile as sf

from songalign.search import SongSearch
from songalign.search.service import ServiceSettings, create_app
from songalign.search.store import READ_CONSISTENCY_SECONDS, SegmentStore, segment_schema
from songalign.search.testing import running_server


@pytest.fixture(scope="module")
def client():
    with httpx.Client(timeout=30, verify=False) as http:  # plain HTTP on loopback: no TLS context to build
        yield http


def one_sentence(detail: object) -> str:
    """``detail`` if it is one sentence of text (no second sentence after a full stop), else a failed test."""
    assert isinstance(detail, str) and detail, detail
    assert not re.search(r"[.!?]\s+[A-Z]", detail) and "\n" not in detail, detail
    return detail


# -- JSON bodies -----------------------------------------------------------------------------------------
NON_JSON_BODIES = [
    # (raw body, the field the sentence must name, a word it must say)
    (b'{"text":"sad","k":NaN}', "k", "NaN"),
    (b'{"labels":[NaN]}', "labels[0]", "NaN"),
    (b'{"text":"sad","k":Infinity}', "k", "Infinity"),
    (b'{"text":"sad","labels":["emotion=joy",-Infinity]}', "labels[1]", "-Infinity"),
    (b'{"text":"sad","unused":{"deep":[1,NaN]}}', "unused.deep[1]", "NaN"),  # anywhere, even where unused
    (b'{"text":"s\\ud800"}', "text", "surrogate"),
    (b'{"text":"sad","language":"\\uDFFFx"}', "language", "surrogate"),
    (b'{"text":"sad","\\ud83d":1}', "a key", "surrogate"),
    (b'{"text":"sad \\ud83d\\ude00 \\ud800"}', "text", "surrogate"),  # a pair is fine; the lone one is not
    (b'{"text":"s\xed\xa0\x80"}', "UTF-8", "UTF-8"),  # a surrogate encoded as bytes is not UTF-8 at all
]


@pytest.mark.parametrize(("body", "field", "word"), NON_JSON_BODIES)
def test_non_finite_numbers_and_lone_surrogates_get_a_422_sentence(live_url, client, body, field, word):
    response = client.post(f"{live_url}/api/search/text", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 422, response.text
    detail = one_sentence(response.json()["detail"])
    assert field in detail and word in detail, detail
    assert client.get(f"{live_url}/api/health").status_code == 200  # the connection and the server live on


def test_json_text_is_still_accepted_around_the_checks(live_url, client):
    """A surrogate pair, an escaped backslash before 'ud800' and the words NaN/Infinity inside strings are valid."""
    body = b'{"text":"NaN Infinity \\\\ud800 \\ud83d\\ude00","k":2}'
    response = client.post(f"{live_url}/api/search/text", content=body, headers={"Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    assert response.json()["query"]["text"] == "NaN Infinity \\ud800 \U0001f600"


def test_a_validation_error_echoes_a_truncated_input(live_url, client):
    response = client.post(f"{live_url}/api/search/text", json={"text": "x" * 1_000_000})
    assert response.status_code == 422
    assert len(response.content) < 2000, len(response.content)  # the 1 MB text does not come back
    detail = one_sentence(response.json()["detail"])
    assert "text" in detail and "2000" in detail
    echoed = response.json()["errors"][0]["input"]
    assert echoed.startswith("xxxx") and len(echoed) < 200 and "1000000 characters" in echoed


def test_a_validation_error_on_a_surrogate_in_a_form_field_is_a_sentence(live_url, client):
    """Multipart form fields are bytes on the wire: an encoded surrogate is not UTF-8 either."""
    wav = io.BytesIO()
    sf.write(wav, np.zeros(1600, np.float32), 16000, format="WAV")
    boundary = b"b0undary"
    parts = [
        b'Content-Disposition: form-data; name="file"; filename="a.wav"\r\nContent-Type: audio/wav\r\n\r\n'
        + wav.getvalue(),
        b'Content-Disposition: form-data; name="language"\r\n\r\nen\xed\xa0\x80',
        b'Content-Disposition: form-data; name="k"\r\n\r\nNaN',
    ]
    body = b"".join(b"--" + boundary + b"\r\n" + part + b"\r\n" for part in parts) + b"--" + boundary + b"--\r\n"
    response = client.post(
        f"{live_url}/api/search/audio",
        content=body,
        headers={"Content-Type": f"multipart/form-data; boundary={boundary.decode()}"},
    )
    assert 400 <= response.status_code < 500, response.text
    one_sentence(response.json()["detail"])


# -- uploads with non-finite samples --------------------------------------------------------------------
@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_an_uploaded_clip_with_non_finite_samples_gets_a_4xx_naming_them(live_url, client, bad):
    samples = 0.1 * np.sin(np.linspace(0, 200, 32000)).astype(np.float32)
    samples[1234] = bad
    buffer = io.BytesIO()
    sf.write(buffer, samples, 16000, format="WAV", subtype="FLOAT")
    response = client.post(f"{live_url}/api/search/audio", files={"file": ("clip.wav", buffer.getvalue(), "audio/wav")})
    assert 400 <= response.status_code < 500, response.text
    detail = one_sentence(response.json()["detail"])
    assert "NaN or infinite samples" in detail and "songalign-upload" not in detail  # no server path


# -- the clip route on a song file that changed since indexing ----------------------------------------------
@pytest.fixture(scope="module")
def damaged_songs(search_db, song_search, tmp_path_factory):
    """A copy of the index with four more segments, each over a song file that no longer gives its audio."""
    folder = tmp_path_factory.mktemp("damaged")
    shutil.copytree(search_db, folder / "db")
    store = SegmentStore.open(folder / "db")
    row = store.rows("id = 'song2-0001'", [f.name for f in segment_schema(16)])[0]
    good = row["audio_path"]
    audio, rate = sf.read(good, dtype="float32")
    files = {
        "garbage": folder / "garbage.mp3",  # not audio at all: decodes to nothing
        "cut": folder / "cut.wav",  # a WAV whose data was cut inside the segment (its header still claims it all)
        "short": folder / "short.wav",  # a whole WAV that ends before the segment starts
        "gone": folder / "gone.wav",  # no file
    }
    files["garbage"].write_bytes(b"\xff\xfb\x90\x00" + bytes(range(256)) * 64)
    sf.write(files["cut"], audio, rate)
    whole = files["cut"].read_bytes()
    files["cut"].write_bytes(whole[: 44 + int((row["start"] + 2.0) * rate) * audio.shape[1] * 2])
    sf.write(files["short"], audio[: int(5 * rate)], rate)
    rows = [{**row, "id": f"{name}-0001", "song_id": name, "audio_path": str(path)} for name, path in files.items()]
    store.add(pa.Table.from_pylist(rows, schema=segment_schema(16)))
    with running_server(create_app(SongSearch.open(folder / "db", model=song_search.model))) as url:
        yield url


@pytest.mark.parametrize(
    ("name", "says"),
    [
        ("garbage", "cannot be decoded"),
        ("cut", "ends"),
        ("short", "lasts"),
        ("gone", "not available"),
    ],
)
def test_the_clip_of_a_song_file_that_no_longer_decodes_is_a_clear_404(damaged_songs, client, name, says):
    response = client.get(f"{damaged_songs}/api/segments/{name}-0001/audio")
    assert response.status_code == 404, (response.status_code, response.headers, response.content[:100])
    detail = one_sentence(response.json()["detail"])
    assert f"{name}-0001" in detail and says in detail and "damaged" not in detail, detail  # no server path
    assert client.get(f"{damaged_songs}/api/segments/song2-0001/audio").status_code == 200  # the good one still plays


# -- overload -------------------------------------------------------------------------------------------
SLOW_BODY = b'{"text":"slow mood","k":2}'


@contextmanager
def slow_requests(url: str, count: int) -> Iterator[list[socket.socket]]:
    """``count`` text searches whose bodies stop after 5 bytes: each stays in progress (holding a place)
    until the caller sends the rest; closed on exit."""
    host, port = url.removeprefix("http://").split(":")
    head = (
        f"POST /api/search/text HTTP/1.1\r\nHost: {host}\r\nContent-Type: application/json\r\n"
        f"Content-Length: {len(SLOW_BODY)}\r\nConnection: close\r\n\r\n"
    ).encode()
    connections = [socket.create_connection((host, int(port)), timeout=30) for _ in range(count)]
    try:
        for connection in connections:
            connection.sendall(head + SLOW_BODY[:5])
        yield connections
    finally:
        for connection in connections:
            connection.close()


def wait_until_busy(client: httpx.Client, url: str, seconds: float = 20.0) -> httpx.Response:
    """The first 503 of /api/health, polled while the held requests reach the server."""
    deadline = time.monotonic() + seconds
    while (busy := client.get(f"{url}/api/health")).status_code != 503:
        assert busy.status_code == 200 and time.monotonic() < deadline, busy.status_code
        time.sleep(0.05)
    return busy


def test_overload_gets_a_json_503_with_retry_after_and_the_held_requests_finish(client, song_search):
    """Two requests whose bodies arrive slowly hold both places; the third request is turned away at once."""
    with running_server(create_app(song_search, ServiceSettings(max_connections=2))) as url:
        with slow_requests(url, 2) as held:
            busy = wait_until_busy(client, url)
            assert busy.headers["content-type"] == "application/json" and int(busy.headers["retry-after"]) >= 1
            assert "busy" in one_sentence(busy.json()["detail"])
            turned_away = client.post(f"{url}/api/search/text", json={"text": "joy"})
            assert turned_away.status_code == 503 and "retry-after" in turned_away.headers
            for connection in held:
                connection.sendall(SLOW_BODY[5:])
            for connection in held:
                answer = b""
                while chunk := connection.recv(65536):
                    answer += chunk
                assert answer.startswith(b"HTTP/1.1 200"), answer[:200]
        assert client.get(f"{url}/api/health").status_code == 200  # both places are free again


def test_serve_takes_the_connection_limit_as_an_option(search_db, client):
    """``songalign serve --max-connections 1``, the real command in its own process: one held request is the limit."""
    with socket.socket() as probe:  # a free port (the server binds it a moment later)
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    command = [sys.executable, "-m", "songalign.cli", "serve", str(search_db), "--port", str(port)]
    server = subprocess.Popen([*command, "--max-connections", "1"], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120  # a fresh interpreter imports torch and loads the model
        while True:
            assert server.poll() is None, server.stderr.read().decode() if server.stderr else ""
            try:
                if client.get(f"{url}/api/health", timeout=2).status_code == 200:
                    break
            except httpx.TransportError:
                assert time.monotonic() < deadline, "the server did not start"
                time.sleep(0.2)
        with slow_requests(url, 1):
            busy = wait_until_busy(client, url)
            assert busy.headers["retry-after"] == "1" and "serves 1 request at once" in busy.json()["detail"]
    finally:
        server.terminate()
        server.wait(30)


# -- /api/info follows commits ---------------------------------------------------------------------------
def test_info_counts_follow_a_new_commit_within_the_consistency_window(search_db, song_search, client, tmp_path):
    shutil.copytree(search_db, tmp_path / "db")
    with running_server(create_app(SongSearch.open(tmp_path / "db", model=song_search.model))) as url:
        before = client.get(f"{url}/api/info").json()
        assert before["segments"] == 12 and before["languages"] == ["english", "french"]
        writer = SegmentStore.open(tmp_path / "db")  # another writer, as another indexing run would be
        row = writer.rows("id = 'song0-0000'", [f.name for f in segment_schema(16)])[0]
        writer.add(pa.Table.from_pylist([{**row, "id": "new-0000", "language": "german"}], schema=segment_schema(16)))
        committed = time.monotonic()
        while (after := client.get(f"{url}/api/info").json())["segments"] == 12:
            # the store reads newer commits at most READ_CONSISTENCY_SECONDS late; a request's own time on top
            assert time.monotonic() - committed < READ_CONSISTENCY_SECONDS + 2.0, "the count did not follow"
            time.sleep(0.05)
        assert after["segments"] == 13 and after["languages"] == ["english", "french", "german"]


# -- the docs ---------------------------------------------------------------------------------------------
class Links(HTMLParser):
    """Every URL an HTML page loads or links (src, href, action) and whether it holds a script."""

    def __init__(self) -> None:
        super().__init__()
        self.urls: list[str] = []
        self.scripts = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.scripts += tag == "script"
        self.urls += [value or "" for name, value in attrs if name in ("src", "href", "action")]


def loads_nothing_from_elsewhere(page: httpx.Response) -> Links:
    links = Links()
    links.feed(page.text)
    assert all(url.startswith("/") and not url.startswith("//") for url in links.urls), links.urls
    assert "http://" not in page.text and "https://" not in page.text  # no CDN, not even in an inline script
    policy = page.headers["content-security-policy"]
    assert "script-src 'none'" in policy or "default-src 'none'" in policy, policy
    return links


def test_the_docs_page_is_local_and_links_the_spec(live_url, client):
    page = client.get(f"{live_url}/docs")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    links = loads_nothing_from_elsewhere(page)
    assert "/openapi.json" in links.urls and links.scripts == 0
    for path in ("/api/search/text", "/api/search/audio", "/api/segments/{segment_id}/audio"):
        assert path in page.text
    assert client.get(f"{live_url}/redoc").status_code == 404  # ReDoc would load its script from a CDN


def test_with_an_api_key_the_docs_and_the_spec_need_it_too(client, song_search):
    with running_server(create_app(song_search, ServiceSettings(api_key="s3cret"))) as url:
        for path in ("/docs", "/openapi.json"):
            denied = client.get(f"{url}{path}")
            assert denied.status_code == 401 and "X-API-Key" in one_sentence(denied.json()["detail"])
            assert denied.headers["www-authenticate"].startswith("Basic")  # a browser asks for it
            assert client.get(f"{url}{path}", headers={"X-API-Key": "wrong"}).status_code == 401
            assert client.get(f"{url}{path}", headers={"X-API-Key": "s3cret"}).status_code == 200
            basic = "Basic " + base64.b64encode(b"anyone:s3cret").decode()
            assert client.get(f"{url}{path}", headers={"Authorization": basic}).status_code == 200
        # the API itself keeps to the header, and its 401s make no browser ask (the page asks instead)
        denied = client.post(f"{url}/api/search/text", json={"text": "joy"})
        assert denied.status_code == 401 and "www-authenticate" not in denied.headers
        loads_nothing_from_elsewhere(client.get(f"{url}/docs", headers={"X-API-Key": "s3cret"}))
