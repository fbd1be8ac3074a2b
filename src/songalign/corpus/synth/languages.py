"""The languages of the multilingual sung corpus: their voices, lyric lines and titles.

**Lyrics.** English songs keep the emotion grammar (:mod:`.lyrics`): their lines carry their sections' emotion
and their sections keep emotion labels. Every other language's lines are words drawn from ``wordfreq``'s list
of that language's :data:`WORDS` most frequent words (the lists ship in its wheel), so each language's
phonotactics are its own (a word more frequent in English than in the language, "the" in French, and a
word without a vowel letter, "cm", are left out); such lines say nothing on purpose, so their sections carry no emotion label (the
music still follows an emotion drawn as for English songs, and its caption says so).

A word is drawn with weight ``1 / (rank + ZIPF_OFFSET)``: frequent words (articles, pronouns) come often, as
in lyrics, yet the thousandth word still turns up. Only words of letters (``str.isalpha``) of two letters or
more are drawn; a word espeak-ng reads as several words is drawn again by the singer's caller.

**Voices.** A song's voice is espeak-ng's voice for its language with one of espeak's variants
(:data:`VARIANTS`: five female, five male), plus the register warp and breath of
:class:`~songalign.corpus.synth.sing.Singing`.

A language espeak-ng does not speak, or one ``wordfreq`` has no list for, is refused in one sentence.
"""

from __future__ import annotations

import functools

import numpy as np

from songalign.corpus.synth import lyrics
from songalign.corpus.synth.voice import Espeak, Voice
from songalign.errors import MissingDependencyError, SongalignError

WORDS = 5000
"""How many of a language's most frequent words its lines are drawn from."""

ZIPF_OFFSET = 60
"""A word of rank ``r`` (0 = most frequent) is drawn with weight ``1 / (r + ZIPF_OFFSET)``."""

VARIANTS: tuple[tuple[str, str], ...] = (
    ("f1", "female"),
    ("f2", "female"),
    ("f3", "female"),
    ("f4", "female"),
    ("f5", "female"),
    ("m1", "male"),
    ("m2", "male"),
    ("m3", "male"),
    ("m4", "male"),
    ("m6", "male"),
)
"""espeak-ng's voice variants a song is sung in, with the gender captions give them."""

_VOWELS = frozenset("aeiouyàáâãäåæèéêëìíîïòóôõöøùúûüýÿœ")

GRAMMAR_LANGUAGE = "en"
"""The language whose lyrics come from the emotion grammar (and keep emotion labels)."""


def carries_emotion(language: str) -> bool:
    """Whether lyrics in ``language`` (an espeak-ng code) carry their section's emotion: English only."""
    return language.split("-")[0].lower() == GRAMMAR_LANGUAGE


@functools.cache
def language_names() -> dict[str, str]:
    """espeak-ng's language codes with the name of the language they choose, e.g. ``{"fr": "French", …}``
    (espeak's voice name up to its parenthesis: ``"French (France)"`` -> ``"French"``)."""
    with Espeak("en") as espeak:
        voices = espeak.voices()
    names: dict[str, str] = {}
    for name, _, codes in voices:
        for code in codes:
            names.setdefault(code.lower(), name.split(" (")[0].strip())
    return names


def _wordfreq():
    try:
        import wordfreq
    except ImportError as error:
        raise MissingDependencyError("wordfreq", "Lyrics in languages other than English", "multilingual") from error
    return wordfreq


def check_languages(codes: list[str]) -> list[str]:
    """``codes`` lower-cased, each checked: espeak-ng speaks it and (unless it is English) ``wordfreq`` has a
    word list for it; else one :class:`SongalignError` naming the first that fails. Repeats are refused."""
    wanted = [code.strip().lower() for code in codes if code.strip()]
    if not wanted:
        raise SongalignError("--languages lists no language; give espeak-ng codes such as en,fr,es,de,it,pt")
    if len(set(wanted)) < len(wanted):
        raise SongalignError(f"--languages names a language twice ({','.join(wanted)}); name each once")
    names = language_names()
    for code in wanted:
        if code not in names:
            raise SongalignError(
                f"espeak-ng speaks no language {code!r}, so it cannot sing it; "
                "`songalign transcribe languages` lists the codes it speaks"
            )
        try:
            with Espeak(f"{code}+{VARIANTS[0][0]}"):
                pass
        except SongalignError as error:
            raise SongalignError(
                f"espeak-ng has no voice file named {code!r} to sing in (only a language code); give the code "
                "of its voice, e.g. pt-br rather than pt-BR"
            ) from error
        if not carries_emotion(code):
            wordfreq = _wordfreq()
            if code.split("-")[0] not in wordfreq.available_languages(wordlist="best"):
                raise SongalignError(
                    f"wordfreq has no word list for {code!r}, so the corpus cannot write lyrics in it; choose "
                    f"among {', '.join(sorted(wordfreq.available_languages(wordlist='best')))}"
                )
    return wanted


@functools.cache
def word_list(language: str) -> tuple[tuple[str, ...], np.ndarray]:
    """The words lines in ``language`` are drawn from (:data:`WORDS` most frequent, letters only, two or more)
    and their probabilities (module docstring)."""
    wordfreq = _wordfreq()
    ranked = wordfreq.top_n_list(language.split("-")[0], WORDS, wordlist="best")
    kept = [
        (rank, word)
        for rank, word in enumerate(ranked)
        if word.isalpha()
        and len(word) >= 2
        and any(letter in _VOWELS for letter in word)  # no abbreviations ("cm")
        and wordfreq.word_frequency(word, "en") <= wordfreq.word_frequency(word, language.split("-")[0])
    ]
    weights = np.array([1.0 / (rank + ZIPF_OFFSET) for rank, _ in kept])
    return tuple(word for _, word in kept), weights / weights.sum()


def draw_word(language: str, rng: np.random.Generator) -> str:
    """One word of ``language``'s list (module docstring)."""
    words, probabilities = word_list(language)
    return words[int(rng.choice(len(words), p=probabilities))]


def make_line(
    language: str,
    emotion: str,
    rng: np.random.Generator,
    min_words: int = lyrics.MIN_WORDS,
    max_words: int = lyrics.MAX_WORDS,
) -> str:
    """A lyric line of ``min_words`` to ``max_words`` words in ``language``: the emotion grammar's line for
    ``emotion`` in English, else words from the language's list, no word twice."""
    if carries_emotion(language):
        return lyrics.make_line(emotion, rng, min_words, max_words)
    n_words = int(rng.integers(min_words, max_words + 1))
    words: list[str] = []
    while len(words) < n_words:
        word = draw_word(language, rng)
        if word not in words:
            words.append(word)
    return " ".join(words)


def make_title(language: str, emotion: str, rng: np.random.Generator) -> str:
    """A song title: the grammar's for ``emotion`` in English, else two or three words of the language's list,
    capitalised."""
    if carries_emotion(language):
        return lyrics.make_title(emotion, rng)
    words = [draw_word(language, rng) for _ in range(int(rng.integers(2, 4)))]
    return " ".join(word[:1].upper() + word[1:] for word in words)


def draw_voice(language: str, rng: np.random.Generator) -> Voice:
    """A voice for a song in ``language``: espeak's voice for it with one of :data:`VARIANTS`; its ``accent``
    (for captions) is the language's name."""
    variant, gender = VARIANTS[int(rng.integers(len(VARIANTS)))]
    return Voice(f"{language}+{variant}", gender, language_names()[language])
