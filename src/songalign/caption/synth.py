"""Synthetic song interpretations for the synthetic corpus, so that captioning runs offline.

Each song of a corpus written by :func:`songalign.corpus.synth.synthesize_corpus` gets several
song-level interpretations, in the spirit of SongMeanings comments: what the lyrics are about
(from the sections' emotions, with a quoted line) and what the music does (genre, tempo, key and
mode, instruments, voice — facts only the audio carries). Phrasing varies: sentences are drawn
from several patterns each, in varying order, so no opening words are shared by all texts.

Like real comments they differ in quality, and the votes follow it, so the dataset variants of
:mod:`songalign.caption.data` differ:

=========  ==========================================  ==================
kind       content                                     votes
=========  ==========================================  ==================
full       theme, a quoted line, the music             1 … 40
theme      the lyrics' theme only                      0 … 6
music      the music only                              0 … 4
off        a wrong theme or an empty remark            −9 … −1
=========  ==========================================  ==================

The first interpretation of every song is ``full``; the others are drawn at random
(:data:`KIND_WEIGHTS`). Everything is deterministic given ``seed``.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import numpy as np

from songalign.caption.data import Interpretation, InterpretationSet, split_by_song
from songalign.corpus.readers.jamendo import INDEX_FILE, read_csv_rows
from songalign.corpus.segmenter import SplitConfig
from songalign.corpus.synth.captions import pick
from songalign.errors import SongalignError

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
    ``tempi_bpm``, ``emotions``, ``instruments``, ``voice_gender``).
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


def _votes(kind: str, rng: np.random.Generator) -> int:
    low, high = {"full": (1, 40), "theme": (0, 6), "music": (0, 4), "off": (-9, -1)}[kind]
    return int(rng.integers(low, high + 1))


def synthesize_interpretations(
    corpus: str | Path,
    per_song: int = 3,
    seed: int = 0,
    split: SplitConfig | None = None,
) -> InterpretationSet:
    """Interpretations of every song of the synthetic corpus in ``corpus`` (``per_song`` each).

    Lyrics are the song's ``lyrics/<name>.txt`` (lines kept, paragraphs joined); audio is its
    MP3 (absolute path); the split is song-level and seeded by ``split`` (default 80/10/10,
    seed 0).
    """
    corpus = Path(corpus)
    songs_csv = corpus / "metadata" / "songs.csv"
    if not songs_csv.is_file() or not (corpus / INDEX_FILE).is_file():
        raise SongalignError(
            f"{corpus} is not a synthetic corpus (no metadata/songs.csv or {INDEX_FILE}); "
            "create one with `songalign corpus synth`"
        )
    if per_song < 1:
        raise SongalignError(f"per_song must be at least 1, got {per_song}")
    index = {row["filepath"]: row for row in read_csv_rows(corpus / INDEX_FILE)}
    kinds, weights = list(KIND_WEIGHTS), np.array(list(KIND_WEIGHTS.values()))
    items: list[Interpretation] = []
    for number, song in enumerate(read_csv_rows(songs_csv)):
        filepath = song["filepath"]
        name = Path(filepath).stem
        lyrics_path = corpus / "lyrics" / f"{name}.txt"
        lyrics = "\n".join(_lyric_lines(lyrics_path.read_text(encoding="utf-8"))) if lyrics_path.is_file() else ""
        if not lyrics:
            continue
        meta = index.get(filepath, {})
        rng = np.random.default_rng([seed, number, 7])
        for k in range(per_song):
            kind = "full" if k == 0 else str(rng.choice(kinds, p=weights / weights.sum()))
            items.append(
                Interpretation(
                    id=f"{name}#{k + 1}",
                    song_id=name,
                    lyrics=lyrics,
                    text=interpretation_text(song, lyrics, kind, rng),
                    votes=_votes(kind, rng),
                    audio_path=str((corpus / "mp3" / filepath).resolve()),
                    duration=float(song["duration"]) if song.get("duration") else None,
                    title=meta.get("title", ""),
                    artist=meta.get("artist", ""),
                    extra={"kind": kind, "emotions": song["emotions"], "genre": song["genre"]},
                )
            )
    if not items:
        raise SongalignError(f"{corpus} has no song with lyrics; regenerate it with `songalign corpus synth`")
    split = split or SplitConfig()
    info = {
        "source": str(corpus.resolve()),
        "reader": "synthetic_interpretations",
        "per_song": per_song,
        "seed": seed,
        "split": split.model_dump(),
        "kinds": dict(Counter(i.extra["kind"] for i in items)),
    }
    return InterpretationSet(split_by_song(items, split), info)
