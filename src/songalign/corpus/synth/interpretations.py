"""Synthetic song interpretations, in the spirit of SongMeanings comments, so that captioning runs offline.

The generator (:func:`songalign.corpus.synth.synthesize_corpus`) writes
``metadata/interpretations.csv`` (:data:`INTERPRETATION_COLUMNS`, :data:`PER_SONG` rows a song)
and the Jamendo reader carries them into the prepared corpus (``Song.extra["interpretations"]``),
where the captioner reads them like the Song Interpretation Dataset's.

Each text says what the lyrics are about (from the sections' emotions, with a quoted line) and
what the music does (genre, tempo, key and mode, instruments, voice — facts only the audio
carries). Phrasing varies: sentences are drawn from several patterns each, in varying order, so
no opening words are shared by all texts. Like real comments they differ in quality, and the
votes follow it, so the dataset variants of :mod:`songalign.caption.data` differ:

=========  ==========================================  ==================
kind       content                                     votes
=========  ==========================================  ==================
full       theme, a quoted line, the music             1 … 40
theme      the lyrics' theme only                      0 … 6
music      the music only                              0 … 4
off        a wrong theme or an empty remark            −9 … −1
=========  ==========================================  ==================

The first interpretation of every song is ``full``; the others are drawn at random
(:data:`KIND_WEIGHTS`). Everything is deterministic given the corpus seed and the song's index.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from songalign.corpus.synth.captions import pick

PER_SONG = 3
"""Interpretations written for every song."""
INTERPRETATION_COLUMNS = ("Filepath", "number", "kind", "votes", "text")
"""The header of ``metadata/interpretations.csv``; ``number`` counts a song's interpretations from 1."""

KIND_WEIGHTS = {"full": 0.45, "theme": 0.2, "music": 0.15, "off": 0.2}
"""Probabilities of the kinds of every interpretation but a song's first (which is ``full``)."""

_THEMES = {
    "joy": ("celebrating life and being happy", "pure happiness and carefree fun", "joy and celebration with friends"),
    "love": ("being deeply in love", "devotion to a partner", "romance and longing for someone close"),
    "calm": ("finding peace and quiet", "slowing down and resting", "serenity and letting go of worries"),
    "sadness": ("loss and grief", "loneliness after someone leaves", "heartbreak and sorrow"),
    "anger": ("rage and resentment", "fury at someone who betrayed them", "anger and conflict"),
    "fear": ("fear and anxiety", "being haunted by dread", "panic and uncertainty in the dark"),
}
_ADJECTIVES = {
    "joy": ("joyful", "happy", "cheerful"),
    "love": ("romantic", "tender", "loving"),
    "calm": ("peaceful", "calm", "gentle"),
    "sadness": ("sad", "mournful", "lonely"),
    "anger": ("angry", "furious", "aggressive"),
    "fear": ("fearful", "anxious", "tense"),
}
_THEME_SENTENCES = (
    "I think this song is about {theme}.",
    "To me it is a song about {theme}.",
    "The lyrics deal with {theme}.",
    "It sounds like the narrator is going through {theme}.",
    "This one is clearly about {theme}, and the singer keeps coming back to it.",
    "At its heart the song describes {theme}.",
)
_QUOTE_SENTENCES = (
    'The line "{line}" says it all.',
    'When the singer goes "{line}" you can feel how {adjective} it is.',
    'Listen to "{line}": the words could not be more {adjective}.',
    'Lines like "{line}" make the meaning obvious.',
)
_SHIFT_SENTENCES = (
    "Later the mood turns to {theme}.",
    "By the end it moves on to {theme}.",
    "Then the story changes and it becomes about {theme}.",
)
_MUSIC_SENTENCES = (
    "Musically it is a {tempo_word} {genre} track in {key} at about {tempo} BPM, with {instruments}.",
    "The {genre} arrangement ({instruments}) runs at {tempo} beats per minute in {key}, which feels {mood}.",
    "A {gender} voice sings over {instruments}; the tempo is {tempo_word}, around {tempo} BPM, in {key}.",
    "The music matches it: {instruments} in {key}, a {tempo_word} pulse of {tempo} BPM and a {gender} singer.",
    "Everything about the sound is {mood}: {key}, {tempo} BPM, {instruments} and a {gender} vocal.",
)
_CLOSINGS = ("", "", "Great song.", "One of my favourites.", "It gets me every time.", "Beautiful track.")
_OFF_REMARKS = (
    "I don't really get it, but I love this band.",
    "Saw them live last year, amazing show.",
    "Who else is listening to this in the middle of the night?",
    "Not sure what it means, it just has a nice sound.",
)


def _tempo_word(bpm: float) -> str:
    return "slow" if bpm < 90 else "moderate" if bpm < 120 else "fast"


def _mood(mode: str, bpm: float) -> str:
    if mode == "minor":
        return "dark and driving" if bpm >= 120 else "dark and heavy"
    return "bright and lively" if bpm >= 120 else "warm and relaxed"


def _split_field(value: str) -> list[str]:
    return [v.strip() for v in value.split(";") if v.strip()]


def _instrument_phrase(instruments: list[str], rng: np.random.Generator) -> str:
    chosen = [
        instruments[i] for i in sorted(rng.choice(len(instruments), size=min(3, len(instruments)), replace=False))
    ]
    return chosen[0] if len(chosen) == 1 else ", ".join(chosen[:-1]) + " and " + chosen[-1]


def _lyric_lines(lyrics: str) -> list[str]:
    return [line.strip() for line in lyrics.splitlines() if line.strip()]


def interpretation_text(song: dict, lyrics: str, kind: str, rng: np.random.Generator) -> str:
    """One interpretation of ``kind`` (``full``, ``theme``, ``music`` or ``off``) of a synthetic song.

    ``song`` is the song's row of ``metadata/songs.csv`` (``genre``, ``key``, ``modes``,
    ``tempi_bpm``, ``emotions``, ``instruments``, ``voice_gender``); ``lyrics`` its lines, one per line.
    """
    emotions = _split_field(song["emotions"])
    main = Counter(emotions).most_common(1)[0][0]
    modes = _split_field(song["modes"])
    mode = Counter(modes).most_common(1)[0][0]
    tempo = float(np.mean([float(t) for t in _split_field(song["tempi_bpm"])]))
    fills = {
        "genre": song["genre"].lower(),
        "key": f"{song['key']} {mode}",
        "tempo": str(int(round(tempo))),
        "tempo_word": _tempo_word(tempo),
        "mood": _mood(mode, tempo),
        "instruments": _instrument_phrase(_split_field(song["instruments"]), rng),
        "gender": song.get("voice_gender") or "lead",
    }
    theme_emotion = main
    if kind == "off" and rng.random() < 0.6:
        theme_emotion = pick(rng, tuple(e for e in _THEMES if e != main))  # a confident, wrong reading
    elif kind == "off":
        return pick(rng, _OFF_REMARKS)
    theme = pick(rng, _THEMES[theme_emotion])
    adjective = pick(rng, _ADJECTIVES[theme_emotion])
    theme_part = [pick(rng, _THEME_SENTENCES).format(theme=theme)]
    if kind in ("full", "off"):
        lines = _lyric_lines(lyrics)
        if lines and kind == "full":
            theme_part.append(pick(rng, _QUOTE_SENTENCES).format(line=pick(rng, tuple(lines)), adjective=adjective))
        later = [e for e in emotions if e != main]
        if later and kind == "full":
            theme_part.append(pick(rng, _SHIFT_SENTENCES).format(theme=pick(rng, _THEMES[later[-1]])))
    music_part = [pick(rng, _MUSIC_SENTENCES).format(**fills)]
    if kind == "theme":
        parts = theme_part
    elif kind == "music":
        parts = music_part
    else:
        parts = theme_part + music_part if rng.random() < 0.7 else music_part + theme_part
    closing = pick(rng, _CLOSINGS)
    return " ".join(parts + ([closing] if closing else []))


VOTE_RANGES = {"full": (1, 40), "theme": (0, 6), "music": (0, 4), "off": (-9, -1)}
"""The net votes of each kind of interpretation, inclusive: they follow the text's quality."""


def _votes(kind: str, rng: np.random.Generator) -> int:
    low, high = VOTE_RANGES[kind]
    return int(rng.integers(low, high + 1))


def song_interpretations(song: dict[str, Any], lyrics: str, seed: int) -> list[dict[str, Any]]:
    """The :data:`PER_SONG` rows of ``metadata/interpretations.csv`` for one song.

    ``song`` is its ``metadata/songs.csv`` row (with ``Filepath`` and ``index``), ``lyrics`` its
    lines, one per line. The draws depend only on ``seed`` and the song's index.
    """
    rng = np.random.default_rng([seed, int(song["index"]), 7])
    kinds, weights = list(KIND_WEIGHTS), np.array(list(KIND_WEIGHTS.values()))
    rows = []
    for number in range(1, PER_SONG + 1):
        kind = "full" if number == 1 else str(rng.choice(kinds, p=weights / weights.sum()))
        text = interpretation_text(song, lyrics, kind, rng)
        rows.append(
            {"Filepath": song["Filepath"], "number": number, "kind": kind, "votes": _votes(kind, rng), "text": text}
        )
    return rows
