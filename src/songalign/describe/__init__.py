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

from songalign.lazy import lazy_exports

_EXPORTS: dict[str, str] = {
    "LABEL_KEYS": "base",
    "DESCRIBERS": "base",
    "DescribeInterrupted": "base",
    "Describer": "base",
    "Description": "base",
    "EmotionAnalysis": "base",
    "get_describer": "base",
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
    "LexiconDescriber": "lexicon",
    "analyze": "lexicon",
    "LLMDescriber": "llm",
    "DescribeResult": "run",
    "DescribeStats": "run",
    "describe_corpus": "run",
    "describe_segments": "run",
    "EMOTIONS": "vocabulary",
}  # public name → the submodule that defines it

__getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
__all__ = sorted(_EXPORTS)
