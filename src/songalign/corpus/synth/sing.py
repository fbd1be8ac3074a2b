"""Singing in any language espeak-ng speaks: each syllable on a note, its vowel held for the note, with vibrato.

espeak-ng speaks; it does not sing. :class:`SyllableSinger` makes singing out of its speech without another
synthesizer, in four steps on each word (all times kept in samples at :data:`~.voice.SAMPLE_RATE` Hz, so the
word, note and phoneme annotations stay exact):

1. **Syllables.** espeak speaks the word once with phoneme events; every phoneme that holds a vowel letter is a
   syllable's nucleus, and a syllable starts at the last consonant before its vowel (``ka|ra|θon``), so a
   pitch change falls in a consonant.
2. **A note per syllable.** The word is spoken again, monotone, at the espeak pitch setting of each syllable's
   note (the measured :class:`~.voice.PitchTable`), and each syllable is cut from the utterance at its own note,
   between that utterance's own phoneme events (espeak's timing moves by a few ms with the pitch); the pieces
   are joined with 1.5 ms fades.
3. **Vowels held.** Each syllable is lengthened to whole steps of the song's rhythmic grid by looping whole
   pitch periods from the middle of its vowel (the loop length is the multiple of the period that best repeats
   the waveform there); the line's last syllable is held for extra steps. The word's last syllable ends
   :data:`RELEASE` seconds before its grid step ends.
4. **Vibrato, register, breath.** While a vowel is held its pitch swings ±``vibrato_cents`` at
   ``vibrato_hz`` (fading in after :data:`VIBRATO_DELAY`), by reading the loop faster and slower; the voice's
   ``warp`` resamples espeak's output (formants and pitch times ``warp``; the pitch setting is chosen lower so
   the note stays), and breath noise that follows the voice's envelope is added ``breath_db`` below it.

What moves a phoneme is known exactly: a hold of ``h`` samples inserted at sample ``q`` of a syllable moves
every later phoneme by ``h``; the register warp divides every event's sample by ``warp``. So each phoneme's
annotated span is where espeak's event for it lies after the time warp (``tests/corpus/test_synth_sung.py``
checks the audio against espeak's own utterance).

WORLD (``pyworld``) re-synthesis was the other way the issue offered; ``pyworld`` has no wheel for this
Python here (``pip download --only-binary :all: pyworld`` finds none; only the 0.3.5 source), so singing is
made from espeak's own samples.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from songalign.corpus.synth.voice import (
    IPA_VOWELS,
    SAMPLE_RATE,
    Espeak,
    PitchTable,
    SungNote,
    SungPhoneme,
    SungWord,
    Voice,
    audible_span,
    measure_pitch,
)

VOWEL_LETTERS = frozenset(IPA_VOWELS)
"""The vowel letters espeak-ng writes (:data:`~songalign.corpus.synth.voice.IPA_VOWELS`), as a set."""

SUNG_PROBE_SETTINGS = tuple(range(30, 101, 10))
"""espeak pitch settings a sung voice is measured at: its male variants sing near 35 MIDI (60 Hz) at setting 20,
where the pitch estimate can jump an octave, so the lowest setting is 30."""

RELEASE = 0.04
"""Seconds of silence at the end of a word's last grid step (a breath between words)."""

VIBRATO_DELAY = (0.12, 0.35)
"""A held vowel's vibrato starts this many seconds into the hold and reaches its full depth at the second."""

_SPLICE = int(0.0015 * SAMPLE_RATE)  # fade at a syllable join, in samples
_EDGE = int(0.003 * SAMPLE_RATE)  # fade at a word's ends, in samples


@dataclass(frozen=True)
class Singing:
    """How a song's voice sings: ``vibrato_cents`` the vibrato's depth (half its swing, in cents) at
    ``vibrato_hz``; ``warp`` the register warp (>1 raises formants and shortens, <1 lowers and lengthens);
    ``breath_db`` the breath noise re the voice (dB); ``final_hold`` how many extra grid steps a line's last
    syllable is held (a range, drawn per line)."""

    vibrato_cents: float = 40.0
    vibrato_hz: float = 5.5
    warp: float = 1.0
    breath_db: float = -24.0
    final_hold: tuple[int, int] = (1, 3)

    @classmethod
    def draw(cls, rng: np.random.Generator) -> Singing:
        return cls(
            vibrato_cents=round(float(rng.uniform(25.0, 60.0)), 1),
            vibrato_hz=round(float(rng.uniform(4.8, 6.4)), 2),
            warp=round(float(rng.uniform(0.94, 1.06)), 3),
            breath_db=round(float(rng.uniform(-32.0, -18.0)), 1),
        )


def is_vowel(ipa: str) -> bool:
    """Whether an espeak phoneme (IPA, with any marks) holds a vowel letter: a syllable's nucleus."""
    return any(letter in VOWEL_LETTERS for letter in ipa)


def syllable_starts(names: list[str]) -> list[int]:
    """The index of the phoneme each syllable starts at, for a word's phonemes ``names`` (IPA, no pauses):
    the first syllable at 0, every later one at the last consonant before its vowel (at the vowel itself when
    two vowels meet). A word without a vowel is one syllable."""
    vowels = [i for i, name in enumerate(names) if is_vowel(name)]
    starts = [0]
    for previous, vowel in zip(vowels, vowels[1:], strict=False):
        starts.append(vowel - 1 if vowel - 1 > previous else vowel)
    return starts


@dataclass
class Spoken:
    """One word as espeak spoke it (after the register warp): ``samples`` float32 ``(n,)``; ``phonemes`` the
    non-pause phoneme events as ``(ipa, start, end)`` in samples; ``audible`` the word's ``(start, stop)``."""

    samples: np.ndarray
    phonemes: list[tuple[str, int, int]]
    audible: tuple[int, int]


def _warp(samples: np.ndarray, warp: float) -> np.ndarray:
    """``samples`` played ``warp`` times faster (linear interpolation): every frequency times ``warp``, every
    sample index ``s`` moved to ``s / warp``."""
    if warp == 1.0 or len(samples) < 2:
        return samples
    positions = np.arange(0.0, len(samples) - 1, warp)
    return np.interp(positions, np.arange(len(samples)), samples).astype(np.float32)


def _loop_length(x: np.ndarray, start: int, period: float, n_periods: int) -> float:
    """The loop length (samples, fractional) near ``n_periods * period`` at which ``x`` from ``start`` best
    repeats itself: the peak of the normalised cross-correlation within ±4 %, refined by a parabola."""
    guess = n_periods * period
    lags = np.arange(max(2, int(guess * 0.96)), int(math.ceil(guess * 1.04)) + 1)
    window = max(int(period), 16)
    head = x[start : start + window].astype(np.float64)
    scores = []
    for lag in lags:
        other = x[start + lag : start + lag + window].astype(np.float64)
        if len(other) < window:
            scores.append(-1.0)
            continue
        scores.append(float(head @ other) / (np.linalg.norm(head) * np.linalg.norm(other) + 1e-12))
    best = int(np.argmax(scores))
    if 0 < best < len(scores) - 1:
        left, mid, right = scores[best - 1], scores[best], scores[best + 1]
        curvature = left - 2 * mid + right
        if curvature < 0:
            return float(lags[best] + 0.5 * (left - right) / curvature)
    return float(lags[best])


def hold(
    x: np.ndarray, vowel: tuple[int, int], extra: int, midi: float, singing: Singing
) -> tuple[np.ndarray, int, int]:
    """``x`` (a syllable, float32 ``(n,)``) with ``extra`` samples more of its vowel (``vowel`` = its
    ``(start, end)`` samples), sung at MIDI ``midi``: ``(samples, q, extra)`` where the hold is inserted before
    sample ``q`` of ``x`` (everything from ``q`` on moves ``extra`` later). The held samples read whole pitch
    periods of the vowel's middle in a loop, with vibrato; a vowel shorter than 1.5 periods is not looped and
    the syllable ends in ``extra`` samples of silence instead (``q = len(x)``)."""
    if extra <= 0:
        return x, len(x), 0
    period = SAMPLE_RATE / (440.0 * 2.0 ** ((midi - 69.0) / 12.0))
    v0, v1 = vowel
    length = v1 - v0
    if length < 1.5 * period + 4:
        return np.concatenate([x, np.zeros(extra, np.float32)]), len(x), extra
    n_periods = max(1, min(4, int(0.5 * length / period)))
    a = v0 + int((length - n_periods * period) / 2)
    loop = _loop_length(x, a, period, n_periods)
    loop = min(loop, float(v1 - a - 2))
    t = np.arange(extra) / SAMPLE_RATE
    ramp = np.clip((t - VIBRATO_DELAY[0]) / (VIBRATO_DELAY[1] - VIBRATO_DELAY[0]), 0.0, 1.0)
    cents = singing.vibrato_cents * ramp * np.sin(2.0 * np.pi * singing.vibrato_hz * t)
    phase = np.concatenate([[0.0], np.cumsum(2.0 ** (cents / 1200.0))[:-1]])
    held = np.interp(a + np.mod(phase, loop), np.arange(len(x)), x).astype(np.float32)
    # The loop starts where x[a] would: seamless. Its end blends into the samples before x[a] over a period.
    blend = min(int(period), extra, a)
    if blend:
        w = np.linspace(0.0, 1.0, blend, dtype=np.float32)
        held[extra - blend :] = (1.0 - w) * held[extra - blend :] + w * x[a - blend : a]
    return np.concatenate([x[:a], held, x[a:]]), a, extra


class SyllableSinger:
    """Sings words in ``voice`` (an espeak-ng voice of the song's language, with a variant), one note per
    syllable (module docstring), at ``rate`` words per minute; a context manager.

    Like :class:`~.voice.Singer`, it loads a fresh espeak-ng (with phoneme events) and measures the voice's
    :attr:`pitch_table` first, so the same calls always give the same samples. The table is the pitch *after*
    the register warp.
    """

    def __init__(self, voice: Voice, rate: int, singing: Singing) -> None:
        self.voice, self.rate, self.singing = voice, rate, singing
        self._espeak = Espeak(voice.name, phoneme_events=True)
        try:
            spoken = measure_pitch(self._espeak, rate, SUNG_PROBE_SETTINGS)
        except BaseException:
            self.close()
            raise
        shift = 12.0 * math.log2(singing.warp)
        self.pitch_table = PitchTable(spoken.settings, tuple(m + shift for m in spoken.midi))
        self._takes: dict[tuple[str, int], Spoken] = {}  # the words syllables() spoke, for sing() to reuse

    def speak(self, text: str, setting: int) -> Spoken:
        """``text`` spoken monotone at espeak pitch ``setting``, after the register warp: what :meth:`sing` cuts
        syllables from."""
        utterance = self._espeak.synthesize(text, pitch=setting, rate=self.rate)
        if len(utterance.word_starts) != 1:
            raise ValueError(f"espeak-ng read {text!r} as {len(utterance.word_starts)} words; sing one word at a time")
        warp = self.singing.warp
        samples = _warp(utterance.samples, warp)
        events = utterance.phonemes
        phonemes = []
        for i, event in enumerate(events):
            if event.name and event.word >= 0:
                end = events[i + 1].sample if i + 1 < len(events) else utterance.end
                phonemes.append((event.name, round(event.sample / warp), round(end / warp)))
        first, end = round(utterance.word_starts[0] / warp), round(utterance.end / warp)
        start, stop = audible_span(samples[first:end])
        return Spoken(samples, phonemes, (first + start, first + stop))

    def syllables(self, text: str, probe: float) -> int:
        """How many syllables (notes) :meth:`sing` gives ``text``; ``probe`` is the MIDI note it is spoken at
        to count them (the one :meth:`sing` will most likely sing first, so that its take is reused)."""
        setting = self.pitch_table.setting_for(probe)
        if (text, setting) not in self._takes:
            self._takes[text, setting] = self.speak(text, setting)
        names = [name for name, _, _ in self._takes[text, setting].phonemes]
        if not names:
            raise ValueError(f"espeak-ng says no phoneme for {text!r}")
        return len(syllable_starts(names))

    def sing(self, text: str, pitches: list[float], grid: float, hold_steps: int = 0) -> SungWord:
        """Sing the word ``text`` with one note of ``pitches`` (MIDI) per syllable (:meth:`syllables` says
        how many; a word espeak reads otherwise at another pitch stays on the first note), each held to whole
        steps of ``grid`` seconds, the last ``hold_steps`` steps more (module docstring).

        Raises ``ValueError`` when espeak reads ``text`` as more or fewer than one word, or says no phoneme.
        """
        settings = [self.pitch_table.setting_for(pitch) for pitch in pitches]
        takes = {setting: take for (said, setting), take in self._takes.items() if said == text}
        self._takes = {key: take for key, take in self._takes.items() if key[0] != text}
        for setting in settings:
            if setting not in takes:
                takes[setting] = self.speak(text, setting)
        first = takes[settings[0]]
        names = [name for name, _, _ in first.phonemes]
        if not names:
            raise ValueError(f"espeak-ng says no phoneme for {text!r}")
        starts = syllable_starts(names)
        if len(starts) != len(pitches):
            raise ValueError(f"{text!r} has {len(starts)} syllables here, not {len(pitches)}; ask syllables() first")
        for setting in settings[1:]:
            if [name for name, _, _ in takes[setting].phonemes] != names:
                takes[setting] = first  # espeak read it otherwise at this pitch: stay on the first note
        step = grid * SAMPLE_RATE
        pieces, notes, phonemes, cursor = [], [], [], 0
        for k, begin in enumerate(starts):
            take = takes[settings[k]]
            sung_midi = self.pitch_table.midi_for(settings[k] if take is not first else settings[0])
            finish = starts[k + 1] if k + 1 < len(starts) else len(names)
            lo = take.audible[0] if k == 0 else take.phonemes[begin][1]
            hi = take.phonemes[finish][1] if finish < len(names) else take.audible[1]
            hi = max(hi, lo + 1)
            x = take.samples[lo:hi].copy()
            spans = [(name, max(s - lo, 0), min(e - lo, hi - lo)) for name, s, e in take.phonemes[begin:finish]]
            if k == 0 and spans:  # the word starts where it is audible
                spans[0] = (spans[0][0], 0, spans[0][2])
            if finish == len(names) and spans:  # and ends where it stops being audible
                spans[-1] = (spans[-1][0], spans[-1][1], hi - lo)
            vowel = next(((s, e) for name, s, e in spans if is_vowel(name)), (0, 0))
            final = k == len(starts) - 1
            steps = max(1, math.ceil((len(x) + (RELEASE * SAMPLE_RATE if final else 0)) / step - 1e-9))
            steps += hold_steps if final else 0
            target = round((steps * step) - (RELEASE * SAMPLE_RATE if final else 0))
            x, q, extra = hold(x, vowel, target - len(x), sung_midi, self.singing)
            if k:
                x[:_SPLICE] *= np.linspace(0.0, 1.0, _SPLICE, dtype=np.float32)
            if not final:
                x[len(x) - _SPLICE :] *= np.linspace(1.0, 0.0, _SPLICE, dtype=np.float32)
            for name, s, e in spans:
                s2, e2 = (s if s < q else s + extra), (e if e <= q else e + extra)
                phonemes.append(SungPhoneme(name, cursor + s2, cursor + e2))
            notes.append(SungNote(cursor, cursor + len(x), pitches[k], sung_midi))
            pieces.append(x)
            cursor += len(x)
        samples = np.concatenate(pieces)
        edge = min(_EDGE, len(samples) // 2)
        fade = np.sin(np.linspace(0.0, np.pi / 2, edge)) ** 2
        samples[:edge] *= fade
        samples[len(samples) - edge :] *= fade[::-1]
        samples = self._breathe(samples, text)
        sung_first = self.pitch_table.midi_for(settings[0])
        return SungWord(text, pitches[0], sung_first, samples, notes=notes, phonemes=phonemes)

    def _breathe(self, samples: np.ndarray, text: str) -> np.ndarray:
        """``samples`` plus breath: white noise, first-differenced (brighter), shaped by the voice's 10 ms
        envelope, at :attr:`Singing.breath_db` re the voice. Its seed is the word's text, so it is reproducible."""
        rng = np.random.default_rng(list(text.encode("utf-8")) or [0])
        noise = np.diff(rng.standard_normal(len(samples) + 1)).astype(np.float32)
        width = int(0.01 * SAMPLE_RATE)
        envelope = np.convolve(np.abs(samples), np.ones(width, np.float32) / width, mode="same")
        breath = noise * envelope
        level = float(np.sqrt(np.mean(samples.astype(np.float64) ** 2)))
        breath_level = float(np.sqrt(np.mean(breath.astype(np.float64) ** 2)))
        if breath_level == 0.0:
            return samples
        return (samples + breath * (10.0 ** (self.singing.breath_db / 20.0) * level / breath_level)).astype(np.float32)

    def close(self) -> None:
        """Unload espeak-ng (idempotent)."""
        self._espeak.close()

    def __enter__(self) -> SyllableSinger:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
