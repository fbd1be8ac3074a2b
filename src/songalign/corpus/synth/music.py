"""Backing music in numpy: chords, bass, drums, and a lead instrument that doubles the sung melody.

A song's backing is a list of :class:`SectionMusic` regions, each with its own tempo, mode,
timbre brightness, drum density and chord instrument (all chosen from the section's emotion by
:mod:`songalign.corpus.synth.song`). Everything is additive synthesis, vectorised over samples:
a note is a sum of harmonics with an attack/decay envelope, drums are short synthesised hits.

Units: times and durations in seconds, pitches in MIDI note numbers, audio float32 mono of
shape ``(n_samples,)`` at ``sample_rate`` Hz.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from songalign.corpus.records import Note, midi_to_hz

NOTE_NAMES = ("C", "C#", "D", "Eb", "E", "F", "F#", "G", "Ab", "A", "Bb", "B")
"""Pitch-class names, index = semitones above C."""

SCALES: dict[str, tuple[int, ...]] = {"major": (0, 2, 4, 5, 7, 9, 11), "minor": (0, 2, 3, 5, 7, 8, 10)}
"""Semitones above the tonic of each scale degree (natural minor)."""

PENTATONIC: dict[str, tuple[int, ...]] = {"major": (0, 1, 2, 4, 5), "minor": (0, 2, 3, 4, 6)}
"""The scale degrees (indexes into :data:`SCALES`) of each mode's pentatonic scale: melodies use these."""

PROGRESSIONS: dict[str, tuple[tuple[int, ...], ...]] = {
    "major": ((0, 4, 5, 3), (0, 3, 4, 3), (0, 5, 3, 4), (0, 3, 0, 4)),  # I-V-vi-IV, I-IV-V-IV, I-vi-IV-V, I-IV-I-V
    "minor": (
        (0, 5, 2, 6),
        (0, 3, 4, 0),
        (0, 6, 5, 6),
        (0, 5, 3, 4),
    ),  # i-VI-III-VII, i-iv-v-i, i-VII-VI-VII, i-VI-iv-v
}
"""Chord progressions as scale degrees of the chord roots, one chord per bar."""

BEATS_PER_BAR = 4


def key_name(tonic: int, mode: str) -> str:
    """``"A minor"`` for tonic pitch class 9 in minor."""
    return f"{NOTE_NAMES[tonic % 12]} {mode}"


def scale_notes(tonic: int, mode: str, low: float, high: float, degrees: tuple[int, ...] | None = None) -> list[int]:
    """MIDI notes of the ``mode`` scale on pitch class ``tonic`` within ``[low, high]``, ascending.

    ``degrees`` restricts the scale to some of its degrees (e.g. :data:`PENTATONIC`).
    """
    scale = SCALES[mode]
    classes = {(tonic + scale[d]) % 12 for d in (degrees if degrees is not None else range(len(scale)))}
    return [m for m in range(int(np.ceil(low)), int(np.floor(high)) + 1) if m % 12 in classes]


def chord_notes(tonic: int, mode: str, degree: int, low: int = 50) -> list[int]:
    """The triad on scale ``degree`` (0 = tonic), as MIDI notes from its root at or above ``low``."""
    scale = SCALES[mode]
    root = (tonic + scale[degree % 7]) % 12
    root += 12 * int(np.ceil((low - root) / 12))
    return [root + (scale[(degree + step) % 7] - scale[degree % 7]) % 12 for step in (0, 2, 4)]


@dataclass(frozen=True)
class Timbre:
    """An additive-synthesis instrument.

    Harmonic ``k`` has amplitude ``k ** -rolloff`` (steeper with lower brightness), decays at
    ``decay + decay_slope * (k - 1)`` per second (0 = sustained) and is absent if even and
    ``odd_only``. ``attack``/``release`` are envelope ramps in seconds; ``vibrato`` is a 5 Hz
    pitch wobble in semitones, ``tremolo`` a 7 Hz amplitude wobble (0-1), ``drive`` a tanh
    distortion gain (0 = clean). ``pattern`` says how a chord instrument plays a bar:
    ``sustain``, ``halves``, ``strum`` (every beat), ``eighths`` or ``arpeggio``.
    """

    name: str
    rolloff: float = 1.5
    n_harmonics: int = 10
    odd_only: bool = False
    decay: float = 0.0
    decay_slope: float = 0.0
    attack: float = 0.01
    release: float = 0.05
    vibrato: float = 0.0
    tremolo: float = 0.0
    drive: float = 0.0
    pattern: str = "sustain"


TIMBRES: dict[str, Timbre] = {
    t.name: t
    for t in (
        Timbre("piano", rolloff=1.6, n_harmonics=10, decay=2.0, decay_slope=0.6, attack=0.005, pattern="halves"),
        Timbre(
            "electric piano",
            rolloff=2.2,
            n_harmonics=6,
            decay=1.5,
            decay_slope=1.0,
            attack=0.005,
            tremolo=0.15,
            pattern="halves",
        ),
        Timbre(
            "acoustic guitar", rolloff=1.3, n_harmonics=12, decay=3.0, decay_slope=1.2, attack=0.003, pattern="strum"
        ),
        Timbre("distorted guitar", rolloff=1.0, n_harmonics=8, decay=0.8, attack=0.005, drive=6.0, pattern="eighths"),
        Timbre("organ", rolloff=1.0, n_harmonics=8, odd_only=True, attack=0.02, release=0.08, pattern="halves"),
        Timbre("string pad", rolloff=1.4, n_harmonics=10, attack=0.35, release=0.4, vibrato=0.08, pattern="sustain"),
        Timbre("synth pad", rolloff=1.2, n_harmonics=10, attack=0.25, release=0.3, pattern="arpeggio"),
        Timbre("tremolo strings", rolloff=1.4, n_harmonics=10, attack=0.2, release=0.3, tremolo=0.7, pattern="sustain"),
        Timbre("bass guitar", rolloff=2.0, n_harmonics=6, decay=2.5, decay_slope=1.0, attack=0.005),
        Timbre("synth bass", rolloff=1.2, n_harmonics=8, decay=1.0, attack=0.005),
        Timbre("upright bass", rolloff=2.4, n_harmonics=5, decay=3.0, decay_slope=1.5, attack=0.01),
        Timbre("flute", rolloff=3.0, n_harmonics=4, attack=0.04, release=0.06, vibrato=0.1),
        Timbre("synth lead", rolloff=1.3, n_harmonics=10, attack=0.01, release=0.05),
        Timbre("violin", rolloff=1.5, n_harmonics=10, attack=0.05, release=0.08, vibrato=0.15),
        Timbre("clarinet", rolloff=1.6, n_harmonics=9, odd_only=True, attack=0.03, release=0.05),
    )
}
"""The instruments, by name (names are used in captions)."""

BASS_INSTRUMENTS = ("bass guitar", "synth bass", "upright bass")


def render_tone(
    timbre: Timbre, pitches: list[float], duration: float, brightness: float, sample_rate: int
) -> np.ndarray:
    """One note or chord: shape ``(round(duration * sample_rate),)``, peak about 1 per pitch.

    ``pitches`` are MIDI notes sounding together (their sum is distorted as a whole when the
    timbre has ``drive``); ``brightness`` in [0, 1] tilts the harmonic spectrum.
    """
    n = int(round(duration * sample_rate))
    t = np.arange(n, dtype=np.float32) / np.float32(sample_rate)
    rolloff = timbre.rolloff + 1.2 * (0.5 - brightness)
    out = np.zeros(n, np.float32)
    for pitch in pitches:
        freq = midi_to_hz(pitch)
        phase = np.float32(2 * np.pi * freq) * t
        if timbre.vibrato:
            depth = freq * (2 ** (timbre.vibrato / 12) - 1)
            phase += np.float32(depth / 5.0) * np.sin(np.float32(2 * np.pi * 5.0) * t)
        # sin(k x) by the recurrence sin(k x) = 2 cos(x) sin((k-1) x) - sin((k-2) x): one sin and one
        # cos per note instead of one per harmonic; likewise harmonic k decays by exp(-slope t) ** (k-1).
        two_cos = 2.0 * np.cos(phase)
        previous, current = np.zeros(n, np.float32), np.sin(phase)
        step = np.exp(np.float32(-timbre.decay_slope) * t)  # all ones when harmonics decay alike
        fade = np.ones(n, np.float32)
        note = np.zeros(n, np.float32)
        for k in range(1, timbre.n_harmonics + 1):
            if k * freq >= 0.45 * sample_rate:
                break
            if k % 2 or not timbre.odd_only:
                note += current * fade * np.float32(k**-rolloff)
            previous, current = current, two_cos * current - previous
            fade *= step
        if timbre.decay:
            note *= np.exp(np.float32(-timbre.decay) * t)
        out += note
    if timbre.drive:
        out = np.tanh(timbre.drive * out / len(pitches)) * len(pitches)
    if timbre.tremolo:
        out *= 1.0 - timbre.tremolo * 0.5 * (1.0 + np.sin(np.float32(2 * np.pi * 7.0) * t))
    return out * _envelope(n, timbre.attack, timbre.release, sample_rate)


def _envelope(n: int, attack: float, release: float, sample_rate: int) -> np.ndarray:
    """Linear attack and release ramps, shape ``(n,)``; the ramps shrink to fit short notes."""
    envelope = np.ones(n, np.float32)
    n_attack = min(int(attack * sample_rate), n // 2)
    n_release = min(int(release * sample_rate), n - n_attack)
    envelope[:n_attack] = np.linspace(0.0, 1.0, n_attack, endpoint=False)
    if n_release:
        envelope[n - n_release :] *= np.linspace(1.0, 0.0, n_release)
    return envelope


def drum_kit(brightness: float, sample_rate: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Synthesised ``kick``, ``snare``, ``hat`` and ``open hat`` hits, each shape ``(n,)``, peak about 1."""

    def seconds(d: float) -> np.ndarray:
        return np.arange(int(d * sample_rate), dtype=np.float32) / np.float32(sample_rate)

    t = seconds(0.35)
    kick_hz = 50.0 + 90.0 * np.exp(-30.0 * t)
    kick = np.sin(2 * np.pi * np.cumsum(kick_hz) / sample_rate) * np.exp(-8.0 * t)
    t = seconds(0.25)
    noise = rng.standard_normal(len(t)).astype(np.float32)
    snare = (0.6 * np.diff(noise, prepend=0.0) + 0.5 * np.sin(2 * np.pi * 185.0 * t)) * np.exp(-18.0 * t)
    hats = {}
    for name, length, decay in (("hat", 0.08, 60.0), ("open hat", 0.3, 12.0)):
        t = seconds(length)
        noise = rng.standard_normal(len(t) + 2).astype(np.float32)
        hiss = np.diff(noise, 2)  # second difference: keeps the highs
        hats[name] = (0.25 + 0.3 * brightness) * hiss * np.exp(-decay * t)
    return {"kick": kick.astype(np.float32), "snare": snare.astype(np.float32), **hats}


DRUM_PATTERNS: tuple[dict[str, tuple[int, ...]], ...] = (
    {},
    {"kick": (0,), "snare": (8,), "hat": (0, 4, 8, 12)},
    {"kick": (0, 8), "snare": (4, 12), "hat": tuple(range(0, 16, 2))},
    {"kick": (0, 6, 8, 10), "snare": (4, 12), "hat": tuple(range(16)), "open hat": (14,)},
)
"""Hits per bar in sixteenth-note steps, by drum level (0 = no drums ... 3 = busy)."""

DRUM_GAINS = {"kick": 0.9, "snare": 0.55, "hat": 0.3, "open hat": 0.25}

BASS_STEPS: tuple[tuple[int, ...], ...] = ((0,), (0, 8), (0, 4, 8, 12), tuple(range(0, 16, 2)))
"""Bass note onsets per bar in sixteenth-note steps, by drum level."""


@dataclass
class SectionMusic:
    """The backing of one stretch of a song, from ``start`` to ``end`` seconds.

    Its beat grid starts at ``start``; ``progression`` gives one chord (a scale degree) per bar;
    ``brightness`` in [0, 1]; ``drum_level`` 0-3 (:data:`DRUM_PATTERNS`); ``chords``, ``bass``
    and ``lead`` name :data:`TIMBRES`.
    """

    start: float
    end: float
    tempo_bpm: float
    tonic: int
    mode: str
    progression: tuple[int, ...]
    brightness: float
    drum_level: int
    chords: str
    bass: str
    lead: str

    @property
    def beat(self) -> float:
        """Length of one beat in seconds."""
        return 60.0 / self.tempo_bpm


def add_sound(buffer: np.ndarray, sound: np.ndarray, at: float, until: float, sample_rate: int) -> None:
    """Add ``sound`` into ``buffer`` from ``at`` seconds, cut at ``until`` seconds."""
    first = int(round(at * sample_rate))
    last = min(first + len(sound), int(round(until * sample_rate)), len(buffer))
    if last > first:
        buffer[first:last] += sound[: last - first]


@dataclass(frozen=True)
class BackingNote:
    """One note of a section's backing: ``part`` is ``"chords"``, ``"bass"`` or a drum of :data:`DRUM_GAINS`;
    ``onset`` and ``duration`` in seconds (from the song's start; the note sounds until ``until``, the section's
    end, at the latest), ``pitches`` MIDI notes sounding together (none for a drum) and ``gain`` its level
    (chords 0.3 per note, bass 0.5, drums :data:`DRUM_GAINS`)."""

    part: str
    onset: float
    duration: float
    pitches: tuple[float, ...]
    gain: float
    until: float


def backing_notes(section: SectionMusic) -> list[BackingNote]:
    """The chords, bass and drum notes of ``section``, bar by bar (chords, then bass, then drums in each bar):
    what every backing renderer plays."""
    notes = []
    beat, step = section.beat, section.beat / 4
    bar = beat * BEATS_PER_BAR
    chord_timbre = TIMBRES[section.chords]
    pattern = DRUM_PATTERNS[section.drum_level]
    n_bars = int(np.ceil((section.end - section.start) / bar))
    for index in range(n_bars):
        bar_start = section.start + index * bar
        degree = section.progression[index % len(section.progression)]
        chord = chord_notes(section.tonic, section.mode, degree, low=50)
        for onset, length, pitches in _chord_hits(chord_timbre.pattern, chord, beat):
            notes.append(BackingNote("chords", bar_start + onset, length, tuple(pitches), 0.3, section.end))
        root = chord[0] - 24 if chord[0] - 24 >= 28 else chord[0] - 12
        steps = BASS_STEPS[section.drum_level]
        for i, s in enumerate(steps):
            length = ((steps[i + 1] if i + 1 < len(steps) else 16) - s) * step
            octave = 12 if section.drum_level == 2 and i % 2 == 1 else 0
            notes.append(BackingNote("bass", bar_start + s * step, length, (root + octave,), 0.5, section.end))
        for drum, steps in pattern.items():
            for s in steps:
                notes.append(BackingNote(drum, bar_start + s * step, step, (), DRUM_GAINS[drum], section.end))
    return notes


def render_backing(section: SectionMusic, n_samples: int, sample_rate: int, rng: np.random.Generator) -> np.ndarray:
    """:func:`backing_notes` of ``section`` by additive synthesis, in a buffer of shape ``(n_samples,)``
    (zero outside the section); ``rng`` makes the drum noise. The mix sets levels."""
    out = np.zeros(n_samples, np.float32)
    timbres = {"chords": TIMBRES[section.chords], "bass": TIMBRES[section.bass]}
    kit = drum_kit(section.brightness, sample_rate, rng) if section.drum_level else {}
    for note in backing_notes(section):
        if note.part in timbres:
            tone = render_tone(timbres[note.part], list(note.pitches), note.duration, section.brightness, sample_rate)
            add_sound(out, note.gain * tone, note.onset, note.until, sample_rate)
        else:
            add_sound(out, note.gain * kit[note.part], note.onset, note.until, sample_rate)
    return out


def _chord_hits(pattern: str, chord: list[int], beat: float) -> list[tuple[float, float, list[float]]]:
    """``(onset, duration, pitches)`` of a chord instrument's notes within one bar (seconds from its start)."""
    if pattern == "sustain":
        return [(0.0, BEATS_PER_BAR * beat, chord)]
    if pattern == "halves":
        return [(0.0, 2 * beat, chord), (2 * beat, 2 * beat, chord)]
    if pattern == "strum":
        return [(b * beat, beat, chord) for b in range(BEATS_PER_BAR)]
    if pattern == "eighths":  # power chords: root, fifth, octave
        power = [chord[0] - 12, chord[0] - 5, chord[0]]
        return [(e * beat / 2, beat / 2, power) for e in range(2 * BEATS_PER_BAR)]
    if pattern == "arpeggio":
        tones = [*chord, chord[0] + 12]
        return [(e * beat / 2, beat, [tones[e % len(tones)]]) for e in range(2 * BEATS_PER_BAR)]
    raise ValueError(f"unknown chord pattern {pattern!r}")


def render_lead(notes: list[Note], timbre: str, brightness: float, n_samples: int, sample_rate: int) -> np.ndarray:
    """The lead instrument playing ``notes`` exactly (their MIDI pitch, start and end), shape ``(n_samples,)``."""
    out = np.zeros(n_samples, np.float32)
    for note in notes:
        tone = render_tone(TIMBRES[timbre], [note.pitch], note.end - note.start, brightness, sample_rate)
        add_sound(out, tone, note.start, note.end, sample_rate)
    return out
