"""Descriptions of the emotion in lyric segments (seed 000, step 2).

Every lyric segment gets a one-sentence, open-vocabulary description of its emotional sentiment
and structured labels (dominant and secondary emotion, valence, arousal, intensity). Backends:

- ``lexicon`` (default, offline): NRC word–emotion lexicon + VADER, negation and intensifiers
  handled, varied wording with no fixed opening (:mod:`songalign.describe.lexicon`).
- ``llm``: any OpenAI-compatible chat-completions endpoint (:mod:`songalign.describe.llm`).

Typical use::

    from songalign.describe import describe_corpus
    result = describe_corpus(Path("corpus/"), "lexicon")
    print(result.to_markdown())
"""

from songalign.describe.base import (
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

__all__ = [
    "EMOTIONS",
    "LABEL_KEYS",
    "Describer",
    "DescribeInterrupted",
    "DescribeResult",
    "DescribeStats",
    "Description",
    "DescriberConfig",
    "DescriptionCache",
    "DiversityReport",
    "EmotionAnalysis",
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
