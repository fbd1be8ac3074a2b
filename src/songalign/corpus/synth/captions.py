"""One-sentence descriptions of the *music* of a section: tempo, key, instruments, drums, voice.

These are the "audio description" texts a CLAP-pre analogue is pretrained on. They describe
what is heard, never the lyrics' emotion, and their phrasing varies (several templates, no
shared opening words) so that a model cannot learn a fixed prefix.
"""

from __future__ import annotations

import numpy as np

from songalign.corpus.synth.music import SectionMusic, key_name
from songalign.corpus.synth.voice import Voice

_DRUMS = (
    ("no drums", "no percussion", "no beat at all"),
    ("a sparse, soft beat", "light drums", "a gentle kick and hi-hat"),
    ("a steady backbeat", "straight rock drums", "a four-on-the-floor groove"),
    ("busy, driving drums", "pounding drums with fast hi-hats", "an energetic, dense beat"),
)
_TIMBRE = (("dark", "muffled", "mellow"), ("warm", "rounded", "soft-edged"), ("bright", "crisp", "sparkling"))
_LEVEL = (("quiet", "hushed", "soft"), ("moderately loud", "mid-volume", "balanced"), ("loud", "powerful", "forceful"))

_TEMPLATES = (
    "A {level} {genre} track at {tempo} BPM in {key}, with {chords}, {bass} and {lead}; {drums}; a {gender} voice with {an_accent} sings.",
    "{Gender} vocals with {an_accent} over {timbre} {chords}, {bass}, {lead} and {drums}, {tempo} beats per minute in {key}.",
    "{Key}, about {tempo} BPM: {timbre} {chords} and {bass} behind a {gender} singer ({accent} accent), {lead} doubling the tune, {drums}.",
    "This {level} passage moves at {tempo} BPM in {key}; {chords}, {bass} and {lead} play with {drums} under a {gender} {accent} voice.",
    "{Timbre} {chords} sets the pulse at {tempo} BPM in {key} with {drums}, while {lead} follows a {gender} vocal with {an_accent}.",
    "Played at {tempo} BPM in {key}, the {timbre} {chords} is joined by {bass} and {lead}, with {drums} and {gender} {accent} singing.",
    "{Genre} music in {key} at a tempo of {tempo} BPM featuring {chords}, {bass}, {lead} and {drums}; the singer is {gender} with {an_accent}.",
    "Sung by a {gender} voice with {an_accent}, this {level} {genre} section in {key} runs at {tempo} BPM over {chords}, {bass} and {drums}.",
)

N_TEMPLATES = len(_TEMPLATES)


def pick(rng: np.random.Generator, options: tuple[str, ...]) -> str:
    """One of ``options``, drawn uniformly with ``rng`` (one integer draw)."""
    return options[int(rng.integers(len(options)))]


def _band(value: float, edges: tuple[float, float]) -> int:
    """0, 1 or 2: which of three bands split at ``edges`` holds ``value``."""
    return int(value >= edges[0]) + int(value >= edges[1])


def describe_music(
    music: SectionMusic, voice: Voice, genre: str, arousal: float, rng: np.random.Generator, template: int | None = None
) -> str:
    """A caption of ``music`` (tempo, key and mode, instruments, drums, loudness, timbre) and ``voice``.

    ``template`` picks the sentence pattern (an index, taken modulo :data:`N_TEMPLATES`; random
    when None), so that the sections of one song can be given different ones.
    """
    fills = {
        "tempo": str(int(round(music.tempo_bpm))),
        "key": key_name(music.tonic, music.mode),
        "chords": music.chords,
        "bass": music.bass,
        "lead": f"a {music.lead}",
        "drums": pick(rng, _DRUMS[music.drum_level]),
        "timbre": pick(rng, _TIMBRE[_band(music.brightness, (0.35, 0.65))]),
        "level": pick(rng, _LEVEL[_band(arousal, (-0.3, 0.35))]),
        "genre": genre.lower(),
        "gender": voice.gender,
        "accent": voice.accent,
        "an_accent": f"{'an' if voice.accent[0] in 'AEIOU' else 'a'} {voice.accent} accent",
    }
    fills.update({name.capitalize(): value[:1].upper() + value[1:] for name, value in fills.items()})
    pattern = _TEMPLATES[template % N_TEMPLATES] if template is not None else pick(rng, _TEMPLATES)
    return pattern.format(**fills)
