"""``songalign serve``: the search service (FastAPI) and its web page.

Routes (OpenAPI at ``/openapi.json``, the operations as a plain page at ``/docs``)::

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
type, decode, hold finite samples and last at most ``max_audio_seconds``; every query runs under a
timeout (``request_timeout`` s, then 504); at most ``max_connections`` requests are served at once
(the next gets a JSON 503 with ``Retry-After``); with ``api_key`` set, every ``/api/`` route but
health needs it in the ``X-API-Key`` header, and ``/docs`` and ``/openapi.json`` need it too (there
also as the password of HTTP Basic authentication, which a browser asks for). No filesystem path is
ever taken from a request: uploads go to a temporary file the service names itself, and clips are
read from the path stored in the index for the requested segment id.

No client input makes a 500: a JSON body must be strict JSON (no ``NaN``/``Infinity``, no lone
surrogates, UTF-8), and every 4xx is ``{"detail": one sentence}``; a 422 adds ``errors``, each with
its input echoed truncated (:data:`ECHO_CHARS`).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hmac
import json
import os
import re
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
from fastapi import Depends, FastAPI, File, Form, HTTPException, Query, Request, Response, Security, UploadFile
from fastapi import Path as PathParam
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse, StreamingResponse
from fastapi.routing import APIRoute
from fastapi.security import APIKeyHeader
from pydantic import AfterValidator, BaseModel, Field
from starlette.concurrency import run_in_threadpool

from songalign.audio.io import load_audio, probe_audio
from songalign.errors import BadInputError, SongalignError
from songalign.search.apidocs import DOCS_HEADERS, docs_html
from songalign.search.query import Hit, OtherSegment, SegmentMatch, SongSearch, UnknownSongError, without_lyrics_note
from songalign.search.store import Filters

T = TypeVar("T")

MAX_TEXT_CHARS = 2000
MAX_K = 100
ECHO_CHARS = 100
"""Characters of a string input that a 422 echoes back; longer ones are cut and their length said."""
ECHO_ITEMS = 10
"""Items of a list or object input that a 422 echoes back."""
RETRY_AFTER_SECONDS = 1
"""What an overloaded service tells a client to wait (``Retry-After``): a query takes milliseconds, so a
place is usually free again within a second."""
CLIP_SHORTFALL_SECONDS = 0.1
"""How much shorter than its segment a decoded clip may be: an MP3's decoded length differs from its
header's estimate by up to two frames of 1,152 samples (0.05 s at 44.1 kHz); a clip shorter than that
means the song file changed since indexing."""
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
    max_connections: int = Field(
        256, ge=1, description="requests served at once (one per connection); the next gets a 503 with Retry-After"
    )


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


class FieldProblem(BaseModel):
    """One invalid field of a request: where (``loc``), what is wrong, and the input (truncated)."""

    loc: list[str | int]
    msg: str
    type: str
    input: Any = None


class Problem(BaseModel):
    detail: str = Field(description="one sentence: what is wrong and what to do")
    errors: list[FieldProblem] = Field(default_factory=list, description="a 422's invalid fields, inputs truncated")


ERRORS: dict[int | str, dict[str, Any]] = {
    401: {"model": Problem, "description": "missing or wrong API key"},
    422: {"model": Problem, "description": "invalid query"},
    503: {"model": Problem, "description": "the service is busy: retry after Retry-After seconds"},
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


class ConcurrencyLimit:
    """ASGI middleware: at most ``limit`` HTTP requests in progress; one more gets a JSON 503 with ``Retry-After``.

    A request is in progress from its headers to the last byte of its response (a streamed clip
    included). Counting needs no lock: the middleware runs on the server's one event loop.
    """

    def __init__(self, app: Any, limit: int, retry_after: int = RETRY_AFTER_SECONDS):
        self.app, self.limit, self.retry_after, self.active = app, limit, retry_after, 0

    async def __call__(self, scope: dict, receive: Callable, send: Callable) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if self.active >= self.limit:
            served = f"{self.limit} request{'s' if self.limit != 1 else ''}"
            message = f"the service is busy (it serves {served} at once); retry in {self.retry_after} s"
            response = JSONResponse(
                {"detail": message}, status_code=503, headers={"Retry-After": str(self.retry_after)}
            )
            await response(scope, receive, send)
            return
        self.active += 1
        try:
            await self.app(scope, receive, send)
        finally:
            self.active -= 1


# -- strict JSON bodies and validation errors that always render ---------------------------------------------
SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")  # \ud800-\udfff: may decode to a lone surrogate
SURROGATE = re.compile("[\ud800-\udfff]")
CONTROL = re.compile("[\x00-\x1f\x7f]")


class _NonFinite:
    """What ``NaN``, ``Infinity`` and ``-Infinity`` parse to, so that their place in the body can be named."""

    def __init__(self, name: str):
        self.name = name


def _lone_surrogate(text: str) -> str | None:
    """The first lone surrogate of ``text`` as a ``\\uXXXX`` escape, or ``None`` (pairs were joined by the parser)."""
    found = SURROGATE.search(text)
    return f"\\u{ord(found.group()):04x}" if found else None


def _key(where: str, key: str) -> str:
    """The path of ``key`` under ``where`` as a client reads it: ``labels``, ``a.b``, or ``a["odd key"]``."""
    if key.isidentifier():
        return f"{where}.{key}" if where else key
    return f"{where}[{json.dumps(key)[:40]}]"  # quoted and escaped: control characters and surrogates spelled out


def _not_json(value: Any) -> str | None:
    """The sentence naming the first non-finite number or lone surrogate in a parsed body, else ``None``."""
    stack: list[tuple[str, Any]] = [("", value)]
    while stack:
        where, item = stack.pop()
        named = where or "the body"
        if isinstance(item, _NonFinite):
            return f"{named} is {item.name}, which is not a JSON number; send a finite number"
        if isinstance(item, str) and (escape := _lone_surrogate(item)):
            return f"{named} holds a lone surrogate ({escape}), which is not Unicode text; send valid UTF-8 text"
        if isinstance(item, dict):
            for key in item:
                if escape := _lone_surrogate(key):
                    return f"a key in {named} holds a lone surrogate ({escape}); send valid UTF-8 text"
            stack.extend((_key(where, key), child) for key, child in reversed(item.items()))
        elif isinstance(item, list):
            stack.extend((f"{where}[{i}]", child) for i, child in reversed(list(enumerate(item))))
    return None


def strict_json(body: bytes) -> Any:
    """``body`` parsed as JSON as RFC 8259 has it: UTF-8, finite numbers, Unicode strings.

    Python's parser also takes ``NaN``/``Infinity`` and escaped lone surrogates (``"\\ud800"``), which
    nothing downstream can use or write back; they raise a :class:`json.JSONDecodeError` whose message
    names the field and the fix.
    """
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as error:
        problem = f"the body is not UTF-8 text (byte {error.start} is not); send the JSON as UTF-8"
        raise json.JSONDecodeError(problem, "", 0) from None
    constants: list[_NonFinite] = []

    def constant(name: str) -> _NonFinite:
        constants.append(_NonFinite(name))
        return constants[-1]

    try:
        value = json.loads(text, parse_constant=constant)
    except RecursionError:
        raise json.JSONDecodeError("the body nests too deeply; send a flat JSON object", text, 0) from None
    except json.JSONDecodeError:
        raise
    except ValueError:  # an integer of more digits than Python converts
        raise json.JSONDecodeError("a number in the body has thousands of digits; send a small one", text, 0) from None
    if constants or SURROGATE_ESCAPE.search(body):
        if problem := _not_json(value):
            raise json.JSONDecodeError(problem, text, 0)
    return value


class StrictJSONRequest(Request):
    """A request whose JSON body is parsed by :func:`strict_json`."""

    async def json(self) -> Any:
        if not hasattr(self, "_json"):
            self._json = strict_json(await self.body())
        return self._json


class StrictJSONRoute(APIRoute):
    """The service's routes: FastAPI's, with JSON bodies parsed strictly (:class:`StrictJSONRequest`)."""

    def get_route_handler(self) -> Callable[[Request], Any]:
        handler = super().get_route_handler()

        async def strict(request: Request) -> Response:
            return await handler(StrictJSONRequest(request.scope, request.receive))

        return strict


def echo(value: Any, depth: int = 0) -> Any:
    """``value`` as a 422 may echo it: strings cut to :data:`ECHO_CHARS` (and their length said), lists and
    objects to :data:`ECHO_ITEMS` items, non-finite numbers and surrogates spelled out, anything else named."""
    if isinstance(value, str):
        text = value.encode("utf-8", "backslashreplace").decode("utf-8")  # a lone surrogate becomes "\\ud800"
        return text if len(value) <= ECHO_CHARS else f"{text[:ECHO_CHARS]}… ({len(value)} characters)"
    if isinstance(value, bool | int) or value is None:
        return value
    if isinstance(value, float):
        return value if np.isfinite(value) else str(value)
    if isinstance(value, bytes | bytearray):
        return f"({len(value)} bytes)"
    if depth < 3 and isinstance(value, dict):
        return {echo(str(k)): echo(v, depth + 1) for k, v in list(value.items())[:ECHO_ITEMS]}
    if depth < 3 and isinstance(value, list | tuple):
        return [echo(v, depth + 1) for v in list(value)[:ECHO_ITEMS]]
    return f"({type(value).__name__})"


def _field(loc: tuple[Any, ...] | list[Any]) -> str:
    """A field's name as a client wrote it: ``k``, ``labels[0]``, ``query parameter k``."""
    kind, *path = loc or ("body",)
    name = ""
    for part in path:
        name = f"{name}[{part}]" if isinstance(part, int) else _key(name, str(part))
    if kind == "body":
        return name or "the body"
    return f"{kind} parameter {name}" if kind in ("query", "path") else f"{kind} {name}"


def validation_sentence(errors: list[dict[str, Any]]) -> str:
    """One sentence for a request's validation errors: the first, by field, and how many more there are."""
    first = errors[0]
    if first["type"] == "json_invalid":
        problem = str(first.get("ctx", {}).get("error", "it cannot be parsed"))
        if ";" not in problem:  # the parser's own words ("Expecting value"): say where, and what to send
            problem = f"{problem[:1].lower()}{problem[1:]} at character {first['loc'][-1]}; send one JSON object"
        return printable(f"the request body is not valid JSON: {problem}")
    where = _field(first["loc"])
    if first["type"] == "missing":
        sentence = f"{where} is missing; add it"
    else:
        message = str(first["msg"]).removeprefix("Value error, ")
        sentence = f"{where}: {message[:1].lower()}{message[1:]}"
    if len(errors) > 1:
        sentence += f" (and {len(errors) - 1} more problem{'s' if len(errors) > 2 else ''}, listed in errors)"
    return printable(sentence)


def printable(text: str, limit: int = 400) -> str:
    """``text`` as one line a JSON response can carry: surrogates and control characters escaped, at most
    ``limit`` characters."""
    escaped = text.encode("utf-8", "backslashreplace").decode("utf-8")
    escaped = CONTROL.sub(lambda m: json.dumps(m.group())[1:-1], escaped)
    return escaped if len(escaped) <= limit else escaped[: limit - 1] + "…"


async def validation_problem(request: Request, error: Exception) -> JSONResponse:
    """The 422 of an invalid request: one sentence and the invalid fields, every input echoed truncated."""
    errors = list(error.errors()) if isinstance(error, RequestValidationError) else []
    if not errors:
        return JSONResponse({"detail": "the request is not valid; see the API docs at /docs"}, status_code=422)
    fields = [
        {
            "loc": [echo(part) for part in e.get("loc", ())],
            "msg": echo(str(e.get("msg", ""))),
            "type": e.get("type", ""),
        }
        | ({"input": echo(e["input"])} if "input" in e else {})
        for e in errors[:ECHO_ITEMS]
    ]
    return JSONResponse({"detail": validation_sentence(errors), "errors": fields}, status_code=422)


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
        docs_url=None,  # FastAPI's pages load Swagger UI and ReDoc from a CDN: /docs and the spec are served below
        redoc_url=None,
        openapi_url=None,
    )
    app.router.route_class = StrictJSONRoute
    app.add_exception_handler(RequestValidationError, validation_problem)
    # the file plus its multipart envelope; the message quotes the file limit
    app.add_middleware(BodyLimit, max_bytes=settings.max_upload_bytes + 64 * 1024, shown=settings.max_upload_bytes)
    app.add_middleware(ConcurrencyLimit, limit=settings.max_connections)  # outermost: a busy service reads nothing
    page = page_html()
    key_header = APIKeyHeader(name="X-API-Key", auto_error=False, description="the service's API key, if it has one")

    def key_matches(key: str | None) -> bool:
        return key is not None and hmac.compare_digest(
            key.encode("utf-8", "replace"), (settings.api_key or "").encode("utf-8")
        )

    def require_key(key: str | None = Security(key_header)) -> None:  # a default, not Annotated: key_header is local
        if settings.api_key is not None and not key_matches(key):
            raise HTTPException(401, "missing or wrong API key; send it in the X-API-Key header")

    def require_key_for_docs(request: Request) -> None:
        """The key as for the API, or as the password of HTTP Basic authentication: a browser opening /docs
        cannot send a header, but it asks for Basic credentials (any user name) and sends them with the spec."""
        if settings.api_key is None or key_matches(request.headers.get("x-api-key")):
            return
        if key_matches(basic_password(request.headers.get("authorization"))):
            return
        raise HTTPException(
            401,
            "missing or wrong API key; send it in the X-API-Key header, or as the password when the browser asks",
            headers={"WWW-Authenticate": 'Basic realm="songalign API docs", charset="UTF-8"'},
        )

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

    @app.get("/openapi.json", include_in_schema=False, dependencies=[Depends(require_key_for_docs)])
    async def openapi_spec() -> JSONResponse:
        return JSONResponse(app.openapi())

    @app.get(
        "/docs", response_class=HTMLResponse, include_in_schema=False, dependencies=[Depends(require_key_for_docs)]
    )
    async def docs_page() -> HTMLResponse:
        return HTMLResponse(docs_html(app.openapi(), settings.api_key is not None), headers=DOCS_HEADERS)

    @app.get("/api/health", response_model=Health, tags=["service"], responses={503: ERRORS[503]})
    async def health() -> Health:
        """Liveness: the service is up (no API key needed)."""
        return Health(status="ok")

    @app.get("/api/info", response_model=Info, tags=["service"], responses=ERRORS, dependencies=[Depends(require_key)])
    async def info() -> Info:
        """What the index holds and which model wrote it: counts as of the last commit the store has seen
        (another process's commits show within the store's read-consistency interval)."""
        return Info(**await blocking(search.info))

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
        except ClipUnavailable as error:  # the server's file, not the client's request: the reason, not the path
            raise HTTPException(
                404,
                f"the audio of segment {segment_id!r} is not available on this server: {error.reason}; "
                "the song needs re-indexing from a good copy",
            ) from None
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
    rate = search.model.sample_rate
    audio, _ = load_audio(path, rate)
    hits = search.by_audio(audio, k, target, filters, sample_rate=rate, group=group)  # type: ignore[arg-type]
    return hits, search.without_lyrics(filters) if target == "lyrics" else 0


class ClipUnavailable(Exception):
    """The song file of a segment no longer gives the segment's audio; ``reason`` says why, without its path."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def _decode_segment(hit: Hit) -> tuple[np.ndarray, int]:
    """``(audio (channels, samples), rate)`` of exactly ``[start, end]`` of the segment's song file (native rate).

    Raises :class:`ClipUnavailable` when the file is gone, no longer decodes, or gives a clip more than
    :data:`CLIP_SHORTFALL_SECONDS` shorter than the segment (it was cut or replaced since indexing).
    """
    path = Path(hit.audio_path)
    if not path.is_file():
        raise ClipUnavailable("its song file is gone")
    duration = hit.end - hit.start
    try:
        audio, rate = load_audio(path, None, offset=hit.start, duration=duration, mono=False)
    except BadInputError:
        audio, rate = np.zeros((0, 0), np.float32), 0
    if rate and audio.shape[1] >= round((duration - CLIP_SHORTFALL_SECONDS) * rate):
        return audio, rate
    try:  # why not: measure what the file holds now
        lasts = probe_audio(path).duration
    except BadInputError:
        raise ClipUnavailable("its song file cannot be decoded") from None
    if lasts <= hit.start:
        raise ClipUnavailable(
            f"its song file lasts {lasts:.2f} s, ending before the segment starts at {hit.start:.2f} s"
        )
    if not rate or not audio.shape[1]:
        raise ClipUnavailable("its song file cannot be decoded from the segment's start on")
    ends = hit.start + audio.shape[1] / rate
    raise ClipUnavailable(f"its song file ends at {ends:.2f} s, inside the segment ({hit.start:.2f}–{hit.end:.2f} s)")


def basic_password(header: str | None) -> str | None:
    """The password of an HTTP Basic ``Authorization`` header (``Basic base64(user:password)``), else ``None``."""
    scheme, _, encoded = (header or "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        decoded = base64.b64decode(encoded.strip(), validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return None
    return decoded.partition(":")[2] or None


def serve(
    search: SongSearch, host: str = "127.0.0.1", port: int = 8000, settings: ServiceSettings | None = None
) -> None:
    """Run the service with uvicorn until interrupted."""
    import uvicorn

    # no uvicorn limit_concurrency: its 503 is plain text without Retry-After; ConcurrencyLimit answers instead
    uvicorn.run(create_app(search, settings), host=host, port=port, timeout_keep_alive=5)
