"""A real chat-completions HTTP server on loopback, for tests and for trying the LLM describer.

:class:`ChatCompletionsStub` runs the standard library's threaded HTTP server on
``127.0.0.1:<free port>`` and answers ``POST /v1/chat/completions`` the way an OpenAI-compatible
server does (``{"choices": [{"message": {"role": "assistant", "content": ...}}], ...}``). Its
reply describes every ``Segment N (opening hint: ...)`` block of the user message as JSON items;
``fail_first`` answers the first requests with HTTP 500, ``fail_after`` every request after the
first ``fail_after``, ``fail_when`` every request whose user message contains that text;
``delay_s`` makes it slow (to exercise timeouts), ``omit_ids`` leaves segments out of multi-segment replies, ``plain_text`` replies
with a bare sentence instead of JSON. It records every request body in ``requests``::

    with ChatCompletionsStub(fail_first=2) as stub:
        describer = LLMDescriber(LLMOptions(base_url=stub.base_url, backoff_s=0.01))
"""

from __future__ import annotations

import json
import re
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from songalign.describe.vocabulary import EMOTIONS

_HEADER = re.compile(
    r"^Segment (\d+) \(opening hint: .*?\):\n(.*?)(?=\n\nSegment \d+ \(|\n\nDescribe all|\Z)", re.M | re.S
)


class ChatCompletionsStub:
    """A loopback OpenAI-compatible chat-completions server (see module docstring)."""

    def __init__(
        self,
        *,
        fail_first: int = 0,
        fail_after: int | None = None,
        fail_when: str | None = None,
        delay_s: float = 0.0,
        omit_ids: frozenset[int] = frozenset(),
        plain_text: bool = False,
        api_key: str | None = None,
    ):
        self.fail_first = fail_first
        self.fail_after = fail_after
        self.fail_when = fail_when
        self.delay_s = delay_s
        self.omit_ids = omit_ids
        self.plain_text = plain_text
        self.api_key = api_key
        self.requests: list[dict[str, Any]] = []
        self.statuses: list[int] = []
        self._lock = threading.Lock()
        self._server = ThreadingHTTPServer(("127.0.0.1", 0), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, args=(0.02,), daemon=True)

    @property
    def base_url(self) -> str:
        host, port = self._server.server_address[:2]
        return f"http://{host}:{port}/v1"

    def __enter__(self) -> ChatCompletionsStub:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=5)

    def reply_content(self, user: str, number: int) -> str:
        """The assistant message for one user message (the ``number``-th successful request)."""
        segments = [(int(i), lyrics) for i, lyrics in _HEADER.findall(user)]
        if self.plain_text:
            return f"Stub reply {number} about {len(segments)} segment(s), in plain words. A second sentence."
        multi = len(segments) > 1
        items = [
            {
                "id": i,
                "description": f"Stub sentence {number}.{i} on {len(lyrics.split())} words of lyrics.",
                "emotion": EMOTIONS[(number + i) % len(EMOTIONS)],
                "secondary": None,
                "valence": 0.5,
                "arousal": -0.25,
            }
            for i, lyrics in segments
            if not (multi and i in self.omit_ids)
        ]
        return "```json\n" + json.dumps({"items": items}) + "\n```"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                pass

            def _send(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode("utf-8")
                try:
                    self.send_response(status)
                    self.send_header("Content-Type", "application/json")
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                except (BrokenPipeError, ConnectionResetError):
                    pass  # the client gave up (a timeout test)

            def do_POST(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                body = json.loads(self.rfile.read(length) or b"{}")
                with stub._lock:
                    stub.requests.append(body)
                    index = len(stub.requests)
                if self.path.rstrip("/") != "/v1/chat/completions":
                    stub.statuses.append(404)
                    return self._send(404, {"error": {"message": f"no route {self.path}"}})
                if stub.api_key and self.headers.get("Authorization") != f"Bearer {stub.api_key}":
                    stub.statuses.append(401)
                    return self._send(401, {"error": {"message": "invalid api key"}})
                user = next((m["content"] for m in body.get("messages", []) if m.get("role") == "user"), "")
                if (
                    index <= stub.fail_first
                    or (stub.fail_after is not None and index > stub.fail_after)
                    or (stub.fail_when is not None and stub.fail_when in user)
                ):
                    stub.statuses.append(500)
                    return self._send(500, {"error": {"message": "stub failure"}})
                if stub.delay_s:
                    time.sleep(stub.delay_s)
                content = stub.reply_content(user, index)
                stub.statuses.append(200)
                self._send(
                    200,
                    {
                        "id": f"chatcmpl-stub-{index}",
                        "object": "chat.completion",
                        "created": int(time.time()),
                        "model": body.get("model", ""),
                        "choices": [
                            {"index": 0, "message": {"role": "assistant", "content": content}, "finish_reason": "stop"}
                        ],
                        "usage": {"prompt_tokens": 0, "completion_tokens": 0, "total_tokens": 0},
                    },
                )

        return Handler
