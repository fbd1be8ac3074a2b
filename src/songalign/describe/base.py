"""The describer contract and the registry of describers by name (:data:`DESCRIBERS`).

A describer turns a batch of lyric :class:`~songalign.corpus.records.Segment` records into one
:class:`Description` each: a one-sentence, open-vocabulary description of the emotional sentiment
of the segment's lyrics, plus structured labels::

    {"emotion": str, "emotion_secondary": str | None, "valence": float in [-1, 1],
     "arousal": float in [-1, 1], "intensity": float in [0, 1], "describer": "<name>@<version>"}

:class:`EmotionAnalysis` (with its :class:`WordHit` words) is what the lexicon backend
(:mod:`songalign.describe.lexicon`) finds in a text and :mod:`songalign.describe.phrasing` puts into
words; it lives here so that neither of the two imports the other.

Describers do not cache; :func:`songalign.describe.run.describe_segments` does, keyed by
:meth:`Describer.cache_identity` and :meth:`Describer.cache_input`.
"""

from __future__ import annotations

import hashlib
import json
import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from songalign.corpus.records import Segment
from songalign.errors import SongalignError
from songalign.registry import Registry

LABEL_KEYS: tuple[str, ...] = ("emotion", "emotion_secondary", "valence", "arousal", "intensity", "describer")
"""The keys a describer owns in ``Segment.labels``; other keys (e.g. ``ref_emotion``) are kept."""


@dataclass
class Description:
    """One segment's description sentence and its structured labels (see the module docstring)."""

    text: str
    labels: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"text": self.text, "labels": dict(self.labels)}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Description:
        return cls(text=str(data["text"]), labels=dict(data.get("labels") or {}))

    def apply_to(self, segment: Segment) -> None:
        """Write this description into ``segment`` in place, keeping labels it does not own."""
        segment.description = self.text
        kept = {k: v for k, v in segment.labels.items() if k not in LABEL_KEYS}
        segment.labels = {**kept, **self.labels}


@dataclass(frozen=True)
class WordHit:
    """One scoring word of an :class:`EmotionAnalysis`: its lemma, its emotion weights after modifiers
    (intensifiers, negation), and the modifiers."""

    word: str
    lemma: str
    weights: dict[str, float]
    factor: float
    negated: bool


@dataclass
class EmotionAnalysis:
    """The lexicon analysis of one text (:func:`songalign.describe.lexicon.analyze`, whose module docstring
    gives every formula); :mod:`songalign.describe.phrasing` words it as a sentence."""

    scores: dict[str, float]
    """S_e for each emotion of :data:`~songalign.describe.vocabulary.EMOTIONS` (weighted word counts, ≥ 0)."""
    dominant: str
    secondary: str | None
    intensity: float
    """I ∈ [0, 1) of the dominant emotion."""
    valence: float
    """v ∈ [-1, 1]."""
    arousal: float
    """a ∈ [-1, 1]."""
    hits: list[WordHit] = field(default_factory=list)
    tokens: list[str] = field(default_factory=list)

    def labels(self, describer: str) -> dict[str, Any]:
        """The structured labels stored in ``Segment.labels``."""
        return {
            "emotion": self.dominant,
            "emotion_secondary": self.secondary,
            "valence": round(self.valence, 4),
            "arousal": round(self.arousal, 4),
            "intensity": round(self.intensity, 4),
            "describer": describer,
        }


@runtime_checkable
class Describer(Protocol):
    """Describes batches of segments.

    ``name`` and ``version`` identify the backend (``version`` changes whenever output for the
    same input and options may change); ``chunk_size`` is how many segments the driver hands to
    :meth:`describe` at a time (and caches after).
    """

    name: str
    version: str
    chunk_size: int

    def describe(self, segments: Sequence[Segment]) -> list[Description]:
        """One description per segment, in order.

        Raise :class:`SongalignError` on failure, or :class:`DescribeInterrupted` to hand back
        the descriptions finished before the failure.
        """
        ...

    def cache_identity(self) -> dict[str, Any]:
        """The options that change the output (never secrets such as API keys), JSON-serialisable."""
        ...

    def cache_input(self, segment: Segment) -> dict[str, Any]:
        """The part of ``segment`` the output depends on, JSON-serialisable."""
        ...


class DescribeInterrupted(SongalignError):
    """A describer failed partway through a batch; ``completed`` maps batch positions to the
    descriptions it did finish, so that the driver can cache them before passing the error on."""

    def __init__(self, message: str, completed: dict[int, Description]):
        super().__init__(message)
        self.completed = completed


def seeded_rng(seed: int, *parts: str) -> random.Random:
    """A :class:`random.Random` seeded from ``seed`` and ``parts`` only (stable across processes,
    unlike Python's salted ``hash``)."""
    digest = hashlib.sha256("\x1f".join([str(seed), *parts]).encode("utf-8")).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def stable_digest(data: Any, length: int = 16) -> str:
    """Hex SHA-256 of the canonical JSON of ``data`` (sorted keys), cut to ``length`` characters."""
    text = json.dumps(data, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:length]


DESCRIBERS: Registry[Callable[..., Describer]] = Registry("describers", what="describer")
"""The describers by name. A built-in entry carries its pydantic ``options`` model: the factory gets
the validated model (``DESCRIBERS.entry(name).options_model(DESCRIBERS.what)`` is that model). Other
code registers one with ``@DESCRIBERS.register(name, options=Model)`` (``options`` optional), other
packages through the ``songalign.describers`` entry points; a factory without an options model gets
the keyword options (at least ``seed``; the rest from ``songalign describe --option KEY=VALUE``)."""

# Lazy "module:attribute" targets: listing the describers (the CLI does) imports neither the
# backends (vaderSentiment, httpx) nor pydantic.
DESCRIBERS.register(
    "lexicon", "songalign.describe.lexicon:LexiconDescriber", options="songalign.describe.config:LexiconOptions"
)
DESCRIBERS.register("llm", "songalign.describe.llm:LLMDescriber", options="songalign.describe.config:LLMOptions")


def get_describer(name: str, **options: Any) -> Describer:
    """Build the describer registered as ``name`` with keyword ``options`` (validated): ``DESCRIBERS.build``
    typed as a :class:`Describer`.

    Raises :class:`SongalignError` for an unknown name or an invalid option, naming it.
    """
    return DESCRIBERS.build(name, **options)
