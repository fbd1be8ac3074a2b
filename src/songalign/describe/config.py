"""Options of the describers, validated by pydantic.

Each built-in describer has an options model (:class:`LexiconOptions`, :class:`LLMOptions`);
:func:`~songalign.describe.base.get_describer` validates keyword options against it, so an unknown
or out-of-range option is one clear error. :class:`DescriberConfig` holds the seed and the chosen
backend's options for :func:`~songalign.describe.run.describe_corpus`, for any registered
describer (a plugin's included)::

    config = DescriberConfig(seed=0, options={"base_url": "http://127.0.0.1:8080/v1", "concurrency": 4})
    describe_corpus(Path("corpus/"), "llm", config=config)

``songalign describe`` builds the same object from its flags: ``--seed``, ``--option KEY=VALUE``
for any option of the backend, and the llm shorthands ``--base-url``, ``--model``,
``--concurrency``; the LLM endpoint can also come from the environment (below).

API keys are read from ``api_key`` or, better, ``$SONGALIGN_LLM_API_KEY`` / ``$OPENAI_API_KEY``;
they never enter the cache key.
"""

from __future__ import annotations

import os
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from songalign.errors import SongalignError

DEFAULT_LLM_BASE_URL = "http://127.0.0.1:8080/v1"
DEFAULT_LLM_MODEL = "local-model"


class LexiconOptions(BaseModel):
    """Options of the offline lexicon describer."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    """Seeds the choice of wording; the same seed gives the same sentences."""
    secondary_ratio: float = Field(0.4, ge=0.0, le=1.0)
    """A second emotion is named when its score is at least this share of the dominant one's."""
    chunk_size: int = Field(256, ge=1)
    """Segments described (and cached) per step."""


class LLMOptions(BaseModel):
    """Options of the describer that calls an OpenAI-compatible chat-completions endpoint."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    """Sent as the request's ``seed`` (servers that honour it reply deterministically) and used
    to pick the per-segment opening hints."""
    base_url: str | None = None
    """Up to and including ``/v1``; ``None`` → ``$SONGALIGN_LLM_BASE_URL``, ``$OPENAI_BASE_URL``,
    then :data:`DEFAULT_LLM_BASE_URL` (llama.cpp's ``llama-server`` default)."""
    model: str | None = None
    """``None`` → ``$SONGALIGN_LLM_MODEL``, ``$OPENAI_MODEL``, then :data:`DEFAULT_LLM_MODEL`."""
    api_key: str | None = None
    """``None`` → ``$SONGALIGN_LLM_API_KEY``, then ``$OPENAI_API_KEY``; no header when unset."""
    temperature: float = Field(0.8, ge=0.0, le=2.0)
    json_mode: bool = True
    """Send ``response_format: {"type": "json_object"}`` (llama.cpp, Ollama, vLLM and OpenAI
    honour it); turn off for a server that rejects the field."""
    max_tokens: int = Field(1024, ge=16)
    batch_size: int = Field(8, ge=1, le=64)
    """Segments per request; a reply that misses some is retried one segment per request."""
    concurrency: int = Field(4, ge=1, le=64)
    """Requests in flight at once."""
    timeout_s: float = Field(120.0, gt=0)
    """Seconds to wait for one reply (and at most 10 s to connect)."""
    max_retries: int = Field(3, ge=0)
    """Retries after a timeout, a refused connection, HTTP 429 or 5xx; waits
    ``backoff_s · 2^attempt`` seconds between tries (or the server's ``Retry-After``)."""
    backoff_s: float = Field(1.0, ge=0.0)

    def resolved_base_url(self) -> str:
        url = self.base_url or os.environ.get("SONGALIGN_LLM_BASE_URL") or os.environ.get("OPENAI_BASE_URL")
        return (url or DEFAULT_LLM_BASE_URL).rstrip("/")

    def resolved_model(self) -> str:
        return (
            self.model or os.environ.get("SONGALIGN_LLM_MODEL") or os.environ.get("OPENAI_MODEL") or DEFAULT_LLM_MODEL
        )

    def resolved_api_key(self) -> str | None:
        return self.api_key or os.environ.get("SONGALIGN_LLM_API_KEY") or os.environ.get("OPENAI_API_KEY") or None


class DescriberConfig(BaseModel):
    """What ``songalign describe`` needs besides the backend's name: a seed and the backend's own options."""

    model_config = ConfigDict(extra="forbid")

    seed: int = 0
    options: dict[str, Any] = Field(default_factory=dict)
    """The backend's options by name: fields of :class:`LexiconOptions` / :class:`LLMOptions` for
    the built-ins, whatever a plugin's describer takes; checked when the describer is built."""

    def describer_options(self) -> dict[str, Any]:
        """Keyword options for :func:`~songalign.describe.base.get_describer`: :attr:`options` and the seed."""
        if "seed" in self.options:
            raise SongalignError("give the describer's seed once, as --seed (DescriberConfig.seed), not as an option")
        return {**self.options, "seed": self.seed}
