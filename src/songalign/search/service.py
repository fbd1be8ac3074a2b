"""``songalign serve``: the search service (FastAPI) and its web page.

Routes (OpenAPI at ``/openapi.json``, interactive docs at ``/docs``)::

    GET  /                                   the search page (mood/lyrics box, audio upload, results with a player)
    GET  /api/health                         liveness; never needs the API key
    GET  /api/info                           rows, languages, model name and version, ANN index or not
    POST /api/search/text                    JSON {text, k, target, group, language, song_id, labels} → results
    POST /api/search/audio                   multipart: file (+ k, target, group, language, song_id, label) → results
    GET  /api/songs/{song_id}/similar        "more like this": other songs (?k, group, language) → results
    GET  /api/segments/{segment_id}          one segment
    GET  /api/segments/{segment_id}/audio    exactly that segment's audio, streamed as 16-bit WAV

Results are grouped by song unless ``group`` is ``segment``: ``k`` songs, each its best segment with
the song's other matching segments in ``other_segments`` (each with its own ``audio_url``). A
``target: lyrics`` search leaves out audio-only segments (no lyrics); the response's
``skipped_without_lyrics`` counts them and ``notes`` says so in a sentence.

Safety: the request body is capped (``max_upload_bytes``), uploads must be an allowed audio
type, decode, and last at most ``max_audio_seconds``; every query runs under a timeout
(``request_timeout`` s, then 504); with ``api_key`` set, every ``/api/`` route but health needs
it in the ``X-API-Key`` header. No filesystem path is ever taken from a request: uploads go to
a temporary file the service names itself, and clips are read from the path stored in the
index for the requested segment id.
"""

from __future__ import annotations

import asyncio
import hmac
import os
import struct
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar
from urllib.parse import quote

import numpy as np
from fastapi import Depends, FastAPI, File, Form, HTTPException, Query, Security, UploadFile
from fastapi import Path as PathParam
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from fastapi.security import APIKeyHeader
from pydantic import AfterValidator, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from songalign.audio.io import load_audio, probe_audio
from songalign.errors import BadInputError, SongalignError
from songalign.search.query import Hit, OtherSegment, SegmentMatch, SongSearch, UnknownSongError, without_lyrics_note
from songalign.search.store import Filters

T = TypeVar("T")

MAX_TEXT_CHARS = 2000
INFO_TTL = 60.0
MAX_K = 100
ALLOWED_EXTENSIONS = {".wav": "wav", ".flac": "flac", ".mp3": "mp3", ".ogg": "ogg", ".oga": "ogg", ".opus": "opus"}
ALLOWED_TYPES = {
    "audio/wav": ".wav",
    "audio/x-wav": ".wav",
    "audio/wave": ".wav",
    "audio/vnd.wave": ".wav",
    "audio/flac": ".flac",
    "audio/x-flac": ".flac",
    "audio/mpeg": ".mp3",
    "audio/mp3": ".mp3",
    "audio/ogg": ".ogg",
    "audio/opus": ".opus",
}
GENERIC_TYPES = {"", "application/octet-stream"}
PAGE_HEADERS = {  # the page loads nothing from elsewhere; clips play from blob: URLs
    "Content-Security-Policy": "default-src 'self'; script-src 'self' 'unsafe-inline'; style-src 'self' 'unsafe-inline'; "
    "media-src 'self' blob:; img-src 'self' data:; connect-src 'self'; frame-ancestors 'none'",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
}


class ServiceSettings(BaseModel):
    """Limits and access control of the service."""

    api_key: str | None = Field(None, description="if set, /api/ routes (but health) need it in X-API-Key")
    max_upload_bytes: int = Field(10 * 2**20, gt=0, description="largest request body (bytes)")
    max_audio_seconds: float = Field(60.0, gt=0, description="longest uploaded clip (seconds)")
    max_clip_seconds: float = Field(600.0, gt=0, description="longest segment the clip route streams (seconds)")
    request_timeout: float = Field(20.0, gt=0, description="seconds a query may take before a 504")


# -- request and response models ------------------------------------------------------------------------
def _clean(value: str | None) -> str | None:
    """Reject text a query cannot use: lone surrogates (not UTF-8) and control characters."""
    if value is None:
        return value
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        raise ValueError("the text is not valid Unicode (it holds a lone surrogate)") from None
    if any(ord(c) < 32 and c not in "\t\n\r" or ord(c) == 127 for c in value):
        raise ValueError("the text holds control characters; remove them")
    return value


Name = Annotated[str, Field(min_length=1, max_length=300), AfterValidator(_clean)]
LabelTag = Annotated[str, Field(min_length=3, max_length=200, pattern=r"^[^=]+=.+$"), AfterValidator(_clean)]


GroupField = Literal["song", "segment"]
GROUP_HELP = (
    "'song': k songs, each its best segment with the song's other matching segments in other_segments; "
    "'segment': the k best segments as they are"
)


class TextQuery(BaseModel):
    """A text search: a mood description or lyrics, and what to match it against."""

    text: Annotated[str, Field(min_length=1, max_length=MAX_TEXT_CHARS), AfterValidator(_clean)] = Field(
        description="a mood description (e.g. 'quiet longing after a breakup') or lyrics"
    )
    k: int = Field(10, ge=1, le=MAX_K, description="number of results")
    target: Literal["audio", "lyrics"] = Field(
        "audio", description="'audio': segments whose audio matches; 'lyrics': segments whose lyrics match"
    )
    group: GroupField = Field("song", description=GROUP_HELP)
    language: Name | None = Field(None, description="only segments in this language")
    song_id: Name | None = Field(None, description="only segments of this song")
    labels: list[LabelTag] = Field(
        default_factory=list, max_length=10, description="key=value labels, e.g. emotion=joy"
    )


@dataclass(kw_only=True)
class OtherResult(OtherSegment):
    """Another matching segment of a result's song (seconds in the song, cosine score) and its clip's URL."""

    audio_url: str


@dataclass(kw_only=True)
class Result(SegmentMatch):
    """One matched segment (``score`` is the cosine similarity; ``start``/``end`` are seconds in the
    song) and the URL of its clip; FastAPI validates and documents it like a pydantic model.
    Grouped by song, ``other_segments`` holds the song's other matching segments, best first."""

    other_segments: list[OtherResult] = field(default_factory=list)
    audio_url: str


class SearchResponse(BaseModel):
    query: dict[str, Any]
    results: list[Result]
    took_ms: float
    skipped_without_lyrics: int = Field(
        0, description="audio-only segments (no lyrics) that a lyrics-targeted search left out"
    )
    notes: list[str] = Field(default_factory=list, description="what the caller should know, in sentences")


class Info(BaseModel):
    segments: int
    languages: list[str]
    model_name: str
    model_version: str
    embedding_dim: int
    ann_index: bool
    index: dict[str, Any] | None = None  # the ANN index's record: type, partitions, sub-vectors, probes, refine


class Health(BaseModel):
    status: Literal["ok"]


class Problem(BaseModel):
    detail: Any


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "missing or wrong API key"},
    422: {"model": Problem, "description": "invalid query"},
    504: {"model": Problem, "description": "the query timed out"},
}
BODY_ERRORS: dict[int | str, dict[str, Any]] = {
    **ERRORS,
    400: {"model": Problem, "description": "the body cannot be parsed"},
    413: {"model": Problem, "description": "the body is over the size limit"},
}


def _result(hit: Hit) -> Result:
    fields_ = hit.match_fields()
    others = [OtherResult(**asdict(other), audio_url=audio_url(other.segment_id)) for other in hit.other_segments]
    return Result(**{**fields_, "other_segments": others}, audio_url=audio_url(hit.segment_id))


def audio_url(segment_id: str) -> str:
    """The clip route of a segment; the id is percent-encoded whole (ids may hold '/', '#', '?', spaces)."""
    return f"/api/segments/{quote(segment_id, safe='')}/audio"


def _filters(language: str | None, song_id: str | None, labels: list[str]) -> Filters:
    return Filters(language=language, song_id=song_id, labels=tuple(labels))


# -- WAV streaming ---------------------------------------------------------------------------------------
def wav_header(frames: int, sample_rate: int, channels: int) -> bytes:
    """The 44-byte header of a 16-bit PCM WAV file holding ``frames`` frames."""
    data = frames * channels * 2
    return (
        b"RIFF"
        + struct.pack("<I", 36 + data)
        + b"WAVEfmt "
        + struct.pack("<IHHIIHH", 16, 1, channels, sample_rate, sample_rate * channels * 2, channels * 2, 16)
        + b"data"
        + struct.pack("<I", data)
    )


def wav_chunks(audio: np.ndarray, sample_rate: int, chunk_frames: int = 16384) -> Iterator[bytes]:
    """A WAV file of ``audio`` (``(channels, samples)`` float in [-1, 1]) in pieces: header, then PCM."""
    channels, frames = audio.shape
    yield wav_header(frames, sample_rate, channels)
    for i in range(0, frames, chunk_frames):
        block = np.clip(audio[:, i : i + chunk_frames], -1.0, 1.0)
        yield (np.round(block.T * 32767.0)).astype("<i2").tobytes()


# -- request body limit ----------------------------------------------------------------------------------
def too_large(limit: int) -> str:
    return f"the request is larger than {limit // 1024} KiB; upload a shorter clip"


class BodyLimit:
    """ASGI middleware: a 413 for a request body over ``max_bytes``, declared or streamed.

    A ``Content-Length`` over the limit is answered before any byte is read; a body streamed
    without one is counted as it arrives and cut off at the limit.
    """

    def __init__(self, app: Any, max_bytes: int, shown: int | None = None):
        self.app, self.max_bytes, self.message = app, max_bytes, too_large(shown or max_bytes)

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        declared = dict(scope.get("headers") or []).get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > self.max_bytes):
            response = JSONResponse({"detail": self.message}, status_code=413, headers={"Connection": "close"})
            await response(scope, receive, send)
            return
        received = 0

        async def counted() -> dict:
            nonlocal received
            message = await receive()
            received += len(message.get("body", b""))
            if received > self.max_bytes:
                raise HTTPException(413, self.message)
            return message

        await self.app(scope, counted, send)


# -- the app ---------------------------------------------------------------------------------------------
def page_html() -> str:
    """The search page (one self-contained HTML file shipped in the package)."""
    return (resources.files("songalign.search") / "static" / "index.html").read_text(encoding="utf-8")


def create_app(search: SongSearch, settings: ServiceSettings | None = None) -> FastAPI:
    """The FastAPI app serving ``search`` under ``settings`` (see the module docstring for the routes)."""
    settings = settings or ServiceSettings()
    app = FastAPI(
        title="songalign search",
        version="1",
        description="Find song segments by mood description, lyrics or an audio clip, and play them.",
    )
    # the file plus its multipart envelope; the message quotes the file limit
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes + 64 * 1024, shown=settings.max_upload_bytes)
    info_cache: dict[str, Any] = {}  # refreshed every INFO_TTL seconds: counting rows is not free
    page = page_html()
    key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the service's API key, if it has one")

    def require_key(key: str | None = Security(key_header)) -> None:  # a default, not Annotated: key_header is local
        if settings.api_key is None:
            return
        if key is None or not hmac.compare_digest(key.encode("utf-8", "replace"), settings.api_key.encode("utf-8")):
            raise HTTPException(401, "missing or wrong API key; send it in the X-API-Key header")

    async def blocking(function: Callable[..., T], *args: Any) -> T:
        """Run blocking work in the thread pool under the request timeout; user errors become 4xx."""
        try:
            return await asyncio.wait_for(run_in_threadpool(function, *args), settings.request_timeout)
        except TimeoutError:
            raise HTTPException(
                504, f"the query took longer than {settings.request_timeout:g} s; try again or ask for fewer results"
            ) from None
        except BadInputError as error:
            raise HTTPException(415, f"the audio cannot be used: {error.problem}") from None
        except UnknownSongError as error:  # the database's path stays on the server
            raise HTTPException(404, f"no song with id {error.song_id!r}; take an id from a search result") from None
        except SongalignError as error:
            raise HTTPException(422, str(error)) from None

    def respond(query: dict[str, Any], hits: list[Hit], started: float, without_lyrics: int = 0) -> SearchResponse:
        took = (time.perf_counter() - started) * 1000.0
        note = without_lyrics_note(without_lyrics)
        return SearchResponse(
            query=query,
            results=[_result(h) for h in hits],
            took_ms=round(took, 2),
            skipped_without_lyrics=without_lyrics,
            notes=[note] if note else [],
        )

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    async def index_page() -> HTMLResponse:
        return HTMLResponse(page, headers={"Cache-Control": "no-cache", **PAGE_HEADERS})

    @app.get("/api/health", response_model=Health, tags=["service"])
    async def health() -> Health:
        """Liveness: the service is up (no API key needed)."""
        return Health(status="ok")

    @app.get("/api/info", response_model=Info, tags=["service"], responses=ERRORS, dependencies=[Depends(require_key)])
    async def info() -> Info:
        """What the index holds and which model wrote it."""
        if time.monotonic() - info_cache.get("at", -INFO_TTL) >= INFO_TTL:
            info_cache.update(await blocking(search.info), at=time.monotonic())
        return Info(**{k: v for k, v in info_cache.items() if k != "at"})

    @app.post(
        "/api/search/text",
        response_model=SearchResponse,
        tags=["search"],
        responses=BODY_ERRORS,
        dependencies=[Depends(require_key)],
    )
    async def search_text(query: TextQuery) -> SearchResponse:
        """Segments for a mood description or lyrics (through the model's text tower)."""
        started = time.perf_counter()
        filters = _filters(query.language, query.song_id, query.labels)

        def text_search() -> tuple[list[Hit], int]:
            hits = search.by_text(query.text, query.k, query.target, filters, query.group)
            return hits, search.without_lyrics(filters) if query.target == "lyrics" else 0

        hits, without_lyrics = await blocking(text_search)
        return respond({"kind": "text", **query.model_dump()}, hits, started, without_lyrics)

    @app.post(
        "/api/search/audio",
        response_model=SearchResponse,
        tags=["search"],
        responses={**BODY_ERRORS, 415: {"model": Problem, "description": "not an allowed or decodable audio file"}},
        dependencies=[Depends(require_key)],
    )
    async def search_audio(
        file: Annotated[UploadFile, File(description="an audio clip: WAV, FLAC, MP3, Ogg Vorbis or Opus")],
        k: Annotated[int, Form(ge=1, le=MAX_K)] = 10,
        target: Annotated[
            Literal["lyrics", "audio"], Form(description="'lyrics': matching lyric lines; 'audio': similar segments")
        ] = "lyrics",
        group: Annotated[GroupField, Form(description=GROUP_HELP)] = "song",
        language: Annotated[Name | None, Form()] = None,
        song_id: Annotated[Name | None, Form()] = None,
        label: Annotated[list[LabelTag] | None, Form(max_length=10)] = None,
    ) -> SearchResponse:
        """Segments for an uploaded audio clip: matching lyric lines, or similar-sounding segments."""
        started = time.perf_counter()
        suffix = _upload_suffix(file)
        filters = _filters(language, song_id, label or [])
        handle = tempfile.NamedTemporaryFile(prefix="songalign-upload-", suffix=suffix, delete=False)
        try:
            with handle:
                while chunk := await file.read(1 << 20):
                    handle.write(chunk)
            hits, without_lyrics = await blocking(
                _search_upload, search, Path(handle.name), settings, k, target, filters, group
            )
        finally:
            os.unlink(handle.name)
        query = {
            "kind": "audio",
            "k": k,
            "target": target,
            "group": group,
            "language": language,
            "song_id": song_id,
            "labels": label or [],
        }
        return respond(query, hits, started, without_lyrics)

    @app.get(
        "/api/songs/{song_id:path}/similar",
        response_model=SearchResponse,
        tags=["search"],
        responses={**ERRORS, 404: {"model": Problem, "description": "no such song"}},
        dependencies=[Depends(require_key)],
    )
    async def similar_songs(
        song_id: Annotated[Name, PathParam(description="a song id from a result")],
        k: Annotated[int, Query(ge=1, le=MAX_K)] = 10,
        group: Annotated[GroupField, Query(description=GROUP_HELP)] = "song",
        language: Annotated[Name | None, Query()] = None,
    ) -> SearchResponse:
        """ "More like this": the closest other songs (their best segments, the others folded), or their segments."""
        started = time.perf_counter()
        hits = await blocking(search.by_song, song_id, k, Filters(language=language), group)
        query = {"kind": "song", "song_id": song_id, "k": k, "group": group, "language": language}
        return respond(query, hits, started)

    @app.get(
        "/api/segments/{segment_id:path}/audio",  # ids may hold "/" (folder corpora)
        response_class=StreamingResponse,
        tags=["segments"],
        responses={
            **ERRORS,
            200: {"content": {"audio/wav": {}}, "description": "16-bit PCM WAV of exactly [start, end] of the song"},
            404: {"model": Problem, "description": "no such segment, or its audio is gone"},
        },
        dependencies=[Depends(require_key)],
    )
    async def segment_audio(segment_id: Annotated[Name, PathParam()]) -> StreamingResponse:
        """Exactly the segment's audio (its song file from ``start`` to ``end``), streamed as WAV."""
        hit = await blocking(search.segment, segment_id)
        if hit is None:
            raise HTTPException(404, f"no segment with id {segment_id!r}; take an id from a search result")
        duration = hit.end - hit.start
        if not 0 < duration <= settings.max_clip_seconds:
            raise HTTPException(422, f"segment {segment_id!r} lasts {duration:.1f} s, over the clip limit")
        try:
            audio, rate = await blocking(_decode_segment, hit)
        except HTTPException as error:
            if error.status_code != 415:
                raise
            raise HTTPException(404, f"the audio of segment {segment_id!r} is not available on this server") from None
        headers = {
            "Content-Length": str(44 + audio.size * 2),
            "Content-Disposition": 'inline; filename="segment.wav"',
            "Cache-Control": "private, max-age=3600",
            "X-Segment-Start": f"{hit.start:.6f}",
            "X-Segment-End": f"{hit.end:.6f}",
        }
        return StreamingResponse(wav_chunks(audio, rate), media_type="audio/wav", headers=headers)

    @app.get(
        "/api/segments/{segment_id:path}",  # after the audio route, which it would shadow
        response_model=Result,
        tags=["segments"],
        responses={**ERRORS, 404: {"model": Problem, "description": "no such segment"}},
        dependencies=[Depends(require_key)],
    )
    async def segment(segment_id: Annotated[Name, PathParam()]) -> Result:
        """One indexed segment (score 1)."""
        hit = await blocking(search.segment, segment_id)
        if hit is None:
            raise HTTPException(404, f"no segment with id {segment_id!r}; take an id from a search result")
        return _result(hit)

    return app


def _upload_suffix(file: UploadFile) -> str:
    """The temporary file's suffix for an upload of an allowed type, else a 415 naming the allowed ones."""
    declared = (file.content_type or "").split(";")[0].strip().lower()
    extension = Path(file.filename or "").suffix.lower()
    if declared in ALLOWED_TYPES:
        return ALLOWED_TYPES[declared]
    if declared in GENERIC_TYPES and extension in ALLOWED_EXTENSIONS:
        return extension
    raise HTTPException(
        415, f"uploads must be WAV, FLAC, MP3, Ogg Vorbis or Opus audio, not {declared or extension or 'unknown'}"
    )


def _search_upload(
    search: SongSearch, path: Path, settings: ServiceSettings, k: int, target: str, filters: Filters, group: str
) -> tuple[list[Hit], int]:
    """The hits of the uploaded clip at ``path`` and how many audio-only segments a lyrics target left out."""
    info = probe_audio(path)
    if info.duration > settings.max_audio_seconds:
        raise SongalignError(
            f"the clip lasts {info.duration:.1f} s, longer than the {settings.max_audio_seconds:g} s allowed; "
            "upload a shorter excerpt"
        )
    rate = search.model.audio_tower.sample_rate
    audio, _ = load_audio(path, rate)
    hits = search.by_audio(audio, k, target, filters, sample_rate=rate, group=group)  # type: ignore[arg-type]
    return hits, search.without_lyrics(filters) if target == "lyrics" else 0


def _decode_segment(hit: Hit) -> tuple[np.ndarray, int]:
    """``(audio (channels, samples), rate)`` of exactly ``[start, end]`` of the segment's song file (native rate)."""
    audio, rate = load_audio(hit.audio_path, None, offset=hit.start, duration=hit.end - hit.start, mono=False)
    return audio, rate


def serve(
    search: SongSearch, host: str = "127.0.0.1", port: int = 8000, settings: ServiceSettings | None = None
) -> None:
    """Run the service with uvicorn until interrupted."""
    import uvicorn

    uvicorn.run(create_app(search, settings), host=host, port=port, timeout_keep_alive=5, limit_concurrency=256)
