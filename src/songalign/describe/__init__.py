"""Descriptions of the emotion in lyric segments (seed 000, step 2).

Every lyric segment gets a one-sentence, open-vocabulary description of its emotional sentiment
and structured labels (dominant and secondary emotion, valence, arousal, intensity). Backends
(the :data:`~songalign.describe.base.DESCRIBERS` registry; other packages add theirs through the
``songalign.describers`` entry points):

- ``lexicon`` (default, offline): NRC word–emotion lexicon + VADER, negation and intensifiers
  handled, varied wording with no fixed opening (:mod:`songalign.describe.lexicon`).
- ``llm``: any OpenAI-compatible chat-completions endpoint (:mod:`songalign.describe.llm`).

Typical use::

    from songalign.describe import describe_corpus
    result = describe_corpus(Path("corpus/"), "lexicon")
    print(result.to_markdown())

The names below are imported on first use, so that ``import songalign.describe.base`` (which the
CLI does to list the backends) does not load the backends' dependencies.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_EXPORTS: dict[str, str] = {
    "LABEL_KEYS": "base",
    "DESCRIBERS": "base",
    "DescribeInterrupted": "base",
    "Describer": "base",
    "Description": "base",
    "available_describers": "base",
    "describer_options": "base",
    "get_describer": "base",
    "register_describer": "base",
    "DescriptionCache": "cache",
    "cache_key": "cache",
    "DescriberConfig": "config",
    "LexiconOptions": "config",
    "LLMOptions": "config",
    "DiversityReport": "diversity",
    "distinct_n": "diversity",
    "label_agreement": "diversity",
    "opening": "diversity",
    "opening_share": "diversity",
    "EmotionAnalysis": "lexicon",
    "LexiconDescriber": "lexicon",
    "analyze": "lexicon",
    "LLMDescriber": "llm",
    "DescribeResult": "run",
    "DescribeStats": "run",
    "describe_corpus": "run",
    "describe_segments": "run",
    "EMOTIONS": "vocabulary",
}
"""Public name → the submodule of :mod:`songalign.describe` that defines it."""

__all__ = [
    "DESCRIBERS",
    "DescribeInterrupted",
    "DescribeResult",
    "DescribeStats",
    "Describer",
    "DescriberConfig",
    "Description",
    "DescriptionCache",
    "DiversityReport",
    "EMOTIONS",
    "EmotionAnalysis",
    "LABEL_KEYS",
    "LLMDescriber",
    "LLMOptions",
    "LexiconDescriber",
    "LexiconOptions",
    "analyze",
    "available_describers",
    "cache_key",
    "describe_corpus",
    "describe_segments",
    "describer_options",
    "distinct_n",
    "get_describer",
    "label_agreement",
    "opening",
    "opening_share",
    "register_describer",
]


def __getattr__(name: str) -> Any:
    if name not in _EXPORTS:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(import_module(f"{__name__}.{_EXPORTS[name]}"), name)
    globals()[name] = value  # later lookups skip this function
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_EXPORTS])


if TYPE_CHECKING:  # for type checkers and editors; at run time __getattr__ imports lazily
    from songalign.describe.base import (
        DESCRIBERS,
        LABEL_KEYS,
        DescribeInterrupted,
        Describer,
        Description,
        available_describers,
        describer_options,
        get_describer,
        register_describer,
    )
    from songalign.describe.cache import DescriptionCache, cache_key
    from songalign.describe.config import DescriberConfig, LexiconOptions, LLMOptions
    from songalign.describe.diversity import DiversityReport, distinct_n, label_agreement, opening, opening_share
    from songalign.describe.lexicon import EmotionAnalysis, LexiconDescriber, analyze
    from songalign.describe.llm import LLMDescriber
    from songalign.describe.run import DescribeResult, DescribeStats, describe_corpus, describe_segments
    from songalign.describe.vocabulary import EMOTIONS
