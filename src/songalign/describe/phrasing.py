"""Fluent, varied one-sentence descriptions built from an :class:`~songalign.describe.base.EmotionAnalysis`.

Seed 000's descriptions all began with the same phrase, and CLAP-emo learned the phrase. Here a
sentence is drawn from many structures whose first words are either a slot (the emotion, its
intensity, the theme) or one of many different fixed openings, so no three-word opening is
shared by more than a few percent of descriptions. Each sentence names:

- the dominant emotion, worded by intensity band (low I < 0.4, medium I < 0.6, high), either as a
  band word ("wistfulness", "despair") or as an intensity word plus a plain word ("faint sorrow");
- the secondary emotion, when there is one;
- a short paraphrase of the theme: the :data:`~songalign.describe.vocabulary.THEMES` bucket whose
  keywords occur most in the lyrics (among those that fit the dominant emotion), else a theme
  typical of the dominant emotion.

All choices come from the ``rng`` passed in, so a seeded rng gives the same sentence.
"""

from __future__ import annotations

import random
from collections import Counter

from songalign.describe.base import EmotionAnalysis, stable_digest
from songalign.describe.text import lemma_candidates
from songalign.describe.vocabulary import (
    EMOTION_ADJECTIVES,
    EMOTION_NOUNS,
    FALLBACK_THEMES,
    INTENSITY_ADVERBS,
    INTENSITY_WORDS,
    THEMES,
)

BAND_EDGES = (0.4, 0.6)
"""Intensity I below 0.4 is low, below 0.6 medium, else high."""

# Slots: {n} dominant noun phrase, {a} dominant adjective phrase, {a_a} the same with "a"/"an",
# {sense} "a <intensity> sense of <noun>", {moment} "a/an <adjective phrase> moment", {t} theme;
# {n2}/{a2} the secondary emotion.
TEMPLATES: tuple[str, ...] = (
    "{n} runs through these lines about {t}",
    "lines about {t}, sung with {n}",
    "with {t} as the backdrop, the words carry {n}",
    "the singer sounds {a} while recalling {t}",
    "{sense} colours this passage about {t}",
    "{a}, the verse turns to {t}",
    "{a} for the most part, the lyrics dwell on {t}",
    "{n} is the feeling that dominates these words about {t}",
    "through images of {t}, the song conveys {n}",
    "there is {n} in how the singer speaks of {t}",
    "every line about {t} feels {a}",
    "what comes through is {n}, centred on {t}",
    "the words carry {n} as they turn to {t}",
    "an emotional picture of {t}, painted with {n}",
    "sung from a place of {n}, this passage is about {t}",
    "{n} colours the singer's view of {t}",
    "in this section the mood is {a}, focused on {t}",
    "the tone here is {a}, as the lyrics reflect on {t}",
    "it is {moment} about {t}",
    "feelings of {n} surface as the singer describes {t}",
    "a mood of {n} settles over these lines about {t}",
    "listeners hear {n} in these words about {t}",
    "{a} in tone, the segment deals with {t}",
    "with {t} in view, the singer sounds {a}",
    "these lyrics meet {t} with {n}",
    "speaking of {t}, the voice is {a}",
    "sorting through {t}, the singer lets {n} show",
    "{a} words about {t} fill this part of the song",
    "behind these lines about {t} lies {n}",
    "the voice carries {n} while the words dwell on {t}",
    "a portrait of {t} drawn in {n}",
    "as the words move through {t}, {n} takes hold",
    "{n} rises from every line about {t}",
    "one hears {n} in this passage about {t}",
    "set against {t}, the verse feels {a}",
    "there is {a_a} quality to these lines about {t}",
    "{a_a} reflection on {t}",
    "told with {n}, the story here concerns {t}",
    "the lines linger on {t} with {n}",
)
PAIRED_TEMPLATES: tuple[str, ...] = (
    "{n} and {n2} mingle in these lines about {t}",
    "part {n}, part {n2}, the verse dwells on {t}",
    "{a} yet {a2}, the singer turns to {t}",
    "between {n} and {n2}, the lyrics explore {t}",
    "{n2} gives way to {n} as the words turn to {t}",
    "{a} but {a2} in turn, these lines revisit {t}",
    "a blend of {n} and {n2} colours the words about {t}",
)
SECONDARY_SUFFIXES: tuple[str, ...] = (
    ", tinged with {n2}",
    ", with {n2} running underneath",
    ", though {n2} lingers at the edges",
    "; an undercurrent of {n2} remains",
    ", shot through with {n2}",
    ", and a thread of {n2} runs beneath it",
    ", while hints of {n2} surface",
    ", edged with {n2}",
)

PHRASING_DIGEST = stable_digest(
    [
        TEMPLATES,
        PAIRED_TEMPLATES,
        SECONDARY_SUFFIXES,
        BAND_EDGES,
        EMOTION_NOUNS,
        EMOTION_ADJECTIVES,
        INTENSITY_WORDS,
        INTENSITY_ADVERBS,
        THEMES,
        FALLBACK_THEMES,
    ]
)
"""Changes whenever any wording changes; part of the lexicon describer's cache identity."""

_THEME_KEYWORDS = {name: frozenset(keywords.split()) for name, (keywords, _, _) in THEMES.items()}
_THEME_FITS = {name: frozenset(fits.split()) for name, (_, _, fits) in THEMES.items()}


def band(intensity: float) -> int:
    """0 (low), 1 (medium) or 2 (high) for an intensity I in [0, 1]."""
    return sum(intensity >= edge for edge in BAND_EDGES)


def article(phrase: str) -> str:
    """``phrase`` with "a" or "an" in front."""
    return ("an " if phrase[:1].lower() in "aeiou" else "a ") + phrase


def noun_phrase(emotion: str, level: int, rng: random.Random) -> str:
    """A noun phrase for ``emotion`` at intensity ``level``: a band word, or intensity word + plain word."""
    if rng.random() < 0.5:
        return rng.choice(EMOTION_NOUNS[emotion][level])
    return f"{rng.choice(INTENSITY_WORDS[level])} {rng.choice(EMOTION_NOUNS[emotion][1])}"


def adjective_phrase(emotion: str, level: int, rng: random.Random) -> str:
    """An adjective phrase for ``emotion`` at ``level``: a band adjective, or adverb + plain adjective."""
    if rng.random() < 0.5:
        return rng.choice(EMOTION_ADJECTIVES[emotion][level])
    return f"{rng.choice(INTENSITY_ADVERBS[level])} {rng.choice(EMOTION_ADJECTIVES[emotion][1])}"


def theme_phrase(analysis: EmotionAnalysis, rng: random.Random) -> str:
    """A paraphrase of the lyrics' theme: the theme bucket whose keywords occur most often among
    those that fit the dominant emotion, else a theme typical of that emotion."""
    themes = [n for n, fits in _THEME_FITS.items() if not fits or analysis.dominant in fits]
    counts: Counter[str] = Counter()
    for token in analysis.tokens:
        forms = lemma_candidates(token)
        for name in themes:
            if any(form in _THEME_KEYWORDS[name] for form in forms):
                counts[name] += 1
    if not counts:
        return rng.choice(FALLBACK_THEMES[analysis.dominant])
    best = max(counts.values())
    name = rng.choice(sorted(n for n, c in counts.items() if c == best))
    return rng.choice(THEMES[name][1])


def compose(analysis: EmotionAnalysis, rng: random.Random) -> str:
    """One sentence describing ``analysis``, ending with a full stop."""
    level = band(analysis.intensity)
    n = noun_phrase(analysis.dominant, level, rng)
    slots = {
        "n": n,
        "a": adjective_phrase(analysis.dominant, level, rng),
        "t": theme_phrase(analysis, rng),
        "sense": f"{article(rng.choice(INTENSITY_WORDS[level]))} sense of {rng.choice(EMOTION_NOUNS[analysis.dominant][1])}",
        "moment": f"{article(adjective_phrase(analysis.dominant, level, rng))} moment",
        "a_a": article(adjective_phrase(analysis.dominant, level, rng)),
    }
    secondary = analysis.secondary
    if secondary is None:
        sentence = rng.choice(TEMPLATES).format(**slots)
    else:
        # The secondary emotion is weaker than the dominant one: word it at most at medium intensity.
        level2 = max(0, min(level, 1))
        slots["n2"] = rng.choice(EMOTION_NOUNS[secondary][level2])
        slots["a2"] = rng.choice(EMOTION_ADJECTIVES[secondary][level2])
        template = rng.choice(TEMPLATES + PAIRED_TEMPLATES)
        sentence = template.format(**slots)
        if template in TEMPLATES:
            sentence += rng.choice(SECONDARY_SUFFIXES).format(**slots)
    return sentence[0].upper() + sentence[1:] + "."
