"""Describer that asks an OpenAI-compatible chat-completions endpoint (llama.cpp, Ollama, vLLM, OpenAI).

One request carries up to ``batch_size`` segments, numbered; the system prompt asks for one
sentence per segment with no fixed opening, and each segment comes with its own *opening hint*
(drawn from :data:`OPENING_HINTS` by the seed and the segment), because a model told only "vary
your openings" still tends to start every answer alike — seed 000's failure. The reply is JSON::

    {"items": [{"id": 1, "description": "...", "emotion": "sadness", "secondary": "fear",
                "valence": -0.6, "arousal": -0.2}, ...]}

Segments missing from a multi-segment reply are asked for again one per request; a reply to a
single segment that holds no JSON is taken as the sentence itself (its first sentence). Labels the model leaves out or gets wrong (an emotion
outside the vocabulary, a number outside [-1, 1]) come from the lexicon analysis of the lyrics,
and ``intensity`` always does.

Up to ``concurrency`` requests are in flight at once. A timeout, a refused connection, HTTP 429
or 5xx is retried ``max_retries`` times, waiting ``backoff_s · 2^attempt`` s (or ``Retry-After``,
at most 60 s); then the run stops with one :class:`SongalignError` sentence naming the URL.
Other HTTP errors (400, 401, 404) stop it at once, quoting the server.
"""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Sequence
from concurrent.futures import FIRST_EXCEPTION, ThreadPoolExecutor, wait
from typing import Any

import httpx

from songalign.corpus.records import Segment
from songalign.describe.base import DescribeInterrupted, Description, seeded_rng
from songalign.describe.config import LLMOptions
from songalign.describe.lexicon import analyze
from songalign.describe.vocabulary import EMOTIONS
from songalign.errors import SongalignError, log

PROMPT_VERSION = "1"
"""Bump when the prompt or the reply handling changes."""

MAX_RETRY_AFTER_S = 60.0

OPENING_HINTS: tuple[str, ...] = (
    "begin with the central image of the lyrics",
    "begin with the name of the main feeling",
    "begin with an adjective",
    "begin with a preposition such as Through, Beneath, Amid or Against",
    "begin with a verb ending in -ing",
    "begin with the secondary feeling, or a contrast",
    "begin with whoever the singer addresses",
    "begin with the setting, place or time of day",
    "begin with an adverb",
    "begin with a short comparison such as Like or As if",
)

SYSTEM_PROMPT = f"""You describe the emotional sentiment of song lyrics.
For every numbered lyric segment, write ONE fluent sentence of 12 to 30 words that names its main emotion, \
any secondary emotion, how intense the feeling is, and what the lyrics are about, paraphrased in your own \
words (do not quote the lyrics).
Vary wording and sentence structure from segment to segment: follow each segment's opening hint, and never \
start with "The lyrics", "This song", "This segment", "The emotional", "The mood", "The singer" or "In this".
Also label each segment: "emotion" and "secondary" are each one of {", ".join(EMOTIONS)} (secondary may be null); \
"valence" (unpleasant -1 to pleasant 1) and "arousal" (calm -1 to excited 1) are numbers.
Reply with JSON only, in this form:
{{"items": [{{"id": 1, "description": "...", "emotion": "sadness", "secondary": null, "valence": -0.6, "arousal": -0.3}}]}}"""

_SEGMENT_HEADER = "Segment {id} (opening hint: {hint}):"
_FENCE = re.compile(r"^```(?:json)?\s*|\s*```$", re.MULTILINE)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-Z\"'])")


def user_prompt(items: Sequence[tuple[int, str, str]]) -> str:
    """The user message for ``(id, hint, lyrics)`` items."""
    blocks = [f"{_SEGMENT_HEADER.format(id=i, hint=hint)}\n{lyrics.strip()}" for i, hint, lyrics in items]
    return "\n\n".join(blocks) + f"\n\nDescribe all {len(items)} segment(s); reply with the JSON object only."


def parse_reply(content: str) -> dict[int, dict[str, Any]]:
    """Items of a model reply by id; ``{}`` when it holds no JSON with descriptions.

    Accepts ``{"items": [...]}``, a bare list, or one object (taken as id 1); tolerates code fences
    and prose around the JSON.
    """
    text = _FENCE.sub("", content.strip())
    data: Any = None
    for candidate in (text, text[text.find("{") : text.rfind("}") + 1], text[text.find("[") : text.rfind("]") + 1]):
        try:
            data = json.loads(candidate)
            break
        except ValueError:
            continue
    if isinstance(data, dict):
        data = data.get("items", [dict(data, id=data.get("id", 1))] if "description" in data else [])
    if not isinstance(data, list):
        return {}
    items: dict[int, dict[str, Any]] = {}
    for position, item in enumerate(data, start=1):
        if (
            not isinstance(item, dict)
            or not isinstance(item.get("description"), str)
            or not item["description"].strip()
        ):
            continue
        try:
            key = int(item.get("id", position))
        except (TypeError, ValueError):
            key = position
        items[key] = item
    return items


def clean_sentence(text: str) -> str:
    """The first sentence of ``text``, whitespace collapsed, quotes stripped, ending in punctuation."""
    text = " ".join(text.split()).strip().strip("\"'“”")
    text = _SENTENCE_END.split(text, maxsplit=1)[0].strip()
    if text and text[-1] not in ".!?":
        text += "."
    return text[:1].upper() + text[1:]


def _unit_float(value: Any) -> float | None:
    try:
        number = float(value)
    except (TypeError, ValueError):
        return None
    return number if -1.0 <= number <= 1.0 else None


def _emotion(value: Any) -> str | None:
    return value.strip().lower() if isinstance(value, str) and value.strip().lower() in EMOTIONS else None


class LLMDescriber:
    """Describes segments with an OpenAI-compatible chat-completions endpoint (see module docstring)."""

    name = "llm"
    version = PROMPT_VERSION

    def __init__(self, options: LLMOptions | None = None):
        self.options = options or LLMOptions()
        self.base_url = self.options.resolved_base_url()
        self.url = f"{self.base_url}/chat/completions"
        self.model = self.options.resolved_model()
        self.chunk_size = self.options.batch_size * self.options.concurrency
        self._abort = threading.Event()

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}:{self.model}"

    def cache_identity(self) -> dict[str, Any]:
        o = self.options
        return {
            "model": self.model,
            "temperature": o.temperature,
            "max_tokens": o.max_tokens,
            "seed": o.seed,
            "batch_size": o.batch_size,
            "json_mode": o.json_mode,
        }

    def cache_input(self, segment: Segment) -> dict[str, Any]:
        return {"id": segment.id, "text": segment.text}

    def opening_hint(self, segment: Segment) -> str:
        return seeded_rng(self.options.seed, "opening", segment.id, segment.text).choice(OPENING_HINTS)

    # -- requests ---------------------------------------------------------------------------

    def _client(self) -> httpx.Client:
        headers = {"Content-Type": "application/json"}
        if key := self.options.resolved_api_key():
            headers["Authorization"] = f"Bearer {key}"
        timeout = httpx.Timeout(self.options.timeout_s, connect=min(10.0, self.options.timeout_s))
        # Proxies from the environment apply, except to a server on this machine.
        loopback = httpx.URL(self.base_url).host in {"localhost", "127.0.0.1", "::1"}
        return httpx.Client(headers=headers, timeout=timeout, trust_env=not loopback)

    def complete(self, client: httpx.Client, user: str) -> str:
        """The assistant's reply to one user message, with retries (see module docstring)."""
        o = self.options
        payload: dict[str, Any] = {
            "model": self.model,
            "messages": [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}],
            "temperature": o.temperature,
            "max_tokens": o.max_tokens,
            "seed": o.seed,
        }
        if o.json_mode:
            payload["response_format"] = {"type": "json_object"}
        attempts = o.max_retries + 1
        failure = ""
        for attempt in range(attempts):
            if self._abort.is_set():
                raise SongalignError("stopped because another request to the LLM endpoint failed")
            wait_s = o.backoff_s * 2**attempt
            try:
                response = client.post(self.url, json=payload)
            except httpx.TimeoutException:
                failure = "timeout"
            except httpx.TransportError as exc:
                failure = f"unreachable: {exc or type(exc).__name__}"
            else:
                if response.status_code == 200:
                    return self._content(response)
                if response.status_code != 429 and response.status_code < 500:
                    raise SongalignError(
                        f"the LLM endpoint {self.url} refused the request with HTTP {response.status_code} "
                        f"({_server_message(response)}); check llm.model ({self.model!r}), the API key and llm.base_url"
                    )
                failure = f"HTTP {response.status_code}"
                wait_s = _retry_after(response, wait_s)
            if attempt + 1 < attempts:
                log.info("LLM request failed (%s); retry %d/%d in %.2f s", failure, attempt + 1, o.max_retries, wait_s)
                time.sleep(wait_s)
        if failure == "timeout":
            raise SongalignError(
                f"the LLM endpoint {self.url} did not answer within {o.timeout_s:g} s in {attempts} attempt(s); "
                "raise llm.timeout_s or lower llm.batch_size"
            )
        if failure.startswith("unreachable"):
            raise SongalignError(
                f"cannot reach the LLM endpoint {self.url} ({failure.split(': ', 1)[1]}) after {attempts} attempt(s); "
                "start an OpenAI-compatible server there or set llm.base_url / $SONGALIGN_LLM_BASE_URL"
            )
        raise SongalignError(
            f"the LLM endpoint {self.url} kept failing ({failure}) in {attempts} attempt(s); check the server's log"
        )

    def _content(self, response: httpx.Response) -> str:
        try:
            content = response.json()["choices"][0]["message"]["content"]
        except (ValueError, KeyError, IndexError, TypeError):
            content = None
        if not isinstance(content, str):
            raise SongalignError(
                f"the LLM endpoint {self.url} did not return a chat completion (no choices[0].message.content); "
                "point llm.base_url at an OpenAI-compatible /v1 API"
            )
        return content

    # -- describing -------------------------------------------------------------------------

    def _description(self, segment: Segment, item: dict[str, Any] | None, content: str = "") -> Description:
        if item is None and content.lstrip().startswith(("{", "[", "`")):
            content = ""  # JSON without a usable description is not a sentence
        sentence = clean_sentence(content if item is None else item["description"])
        if not sentence:
            raise SongalignError(
                f"the LLM endpoint {self.url} returned an empty description for segment {segment.id!r}; "
                "check that llm.model is an instruction-tuned chat model"
            )
        fallback = analyze(segment.text).labels(self.label)
        if item is None:
            return Description(sentence, fallback)
        emotion = _emotion(item.get("emotion"))
        secondary = _emotion(item.get("secondary"))
        valence, arousal = _unit_float(item.get("valence")), _unit_float(item.get("arousal"))
        labels = {
            "emotion": emotion or fallback["emotion"],
            "emotion_secondary": secondary if emotion else fallback["emotion_secondary"],
            "valence": fallback["valence"] if valence is None else valence,
            "arousal": fallback["arousal"] if arousal is None else arousal,
            "intensity": fallback["intensity"],
            "describer": self.label,
        }
        if labels["emotion_secondary"] == labels["emotion"]:
            labels["emotion_secondary"] = None
        return Description(sentence, labels)

    def _describe_batch(self, client: httpx.Client, batch: Sequence[Segment]) -> list[Description]:
        items = [(i, self.opening_hint(s), s.text) for i, s in enumerate(batch, start=1)]
        content = self.complete(client, user_prompt(items))
        replies = parse_reply(content)
        if len(batch) == 1:
            return [self._description(batch[0], _only_item(replies), content)]
        results = []
        for i, segment in enumerate(batch, start=1):
            if i in replies:
                results.append(self._description(segment, replies[i]))
                continue
            # Missing from a multi-segment reply: ask for this one alone.
            content = self.complete(client, user_prompt([(1, self.opening_hint(segment), segment.text)]))
            results.append(self._description(segment, _only_item(parse_reply(content)), content))
        return results

    def describe(self, segments: Sequence[Segment]) -> list[Description]:
        size = self.options.batch_size
        batches = [list(segments[i : i + size]) for i in range(0, len(segments), size)]
        self._abort.clear()
        done: dict[int, Description] = {}
        with self._client() as client, ThreadPoolExecutor(max_workers=self.options.concurrency) as pool:
            futures = {pool.submit(self._describe_batch, client, batch): b * size for b, batch in enumerate(batches)}
            finished, pending = wait(futures, return_when=FIRST_EXCEPTION)
            error = next((f.exception() for f in finished if f.exception() is not None), None)
            if error is not None:
                self._abort.set()
                for future in pending:
                    future.cancel()
                wait(pending)
                for future, start in futures.items():
                    if future.done() and not future.cancelled() and future.exception() is None:
                        done.update({start + j: d for j, d in enumerate(future.result())})
                if isinstance(error, SongalignError):
                    raise DescribeInterrupted(str(error), done) from error
                raise error
        return [d for future in futures for d in future.result()]


def _only_item(replies: dict[int, dict[str, Any]]) -> dict[str, Any] | None:
    """The item of a one-segment reply: id 1, else whatever single item came back."""
    return replies.get(1) or next(iter(replies.values()), None)


def _server_message(response: httpx.Response) -> str:
    try:
        data = response.json()
        message = data.get("error", {}).get("message") if isinstance(data.get("error"), dict) else data.get("error")
    except (ValueError, AttributeError):
        message = None
    text = str(message or response.text or response.reason_phrase).strip()
    return " ".join(text.split())[:200]


def _retry_after(response: httpx.Response, default: float) -> float:
    try:
        return min(MAX_RETRY_AFTER_S, max(0.0, float(response.headers.get("retry-after", ""))))
    except ValueError:
        return default
