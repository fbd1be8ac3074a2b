"""Sung words from espeak-ng, driven through ctypes on the library that the espeakng-loader wheel bundles.

espeak-ng keeps synthesis state in C globals that carry over from one utterance to the next
(glottal phase, pitch flutter, echo buffer), and it is one instance per loaded library. A
:class:`Singer` therefore loads a private copy of the library afresh (and unloads it when it is
closed): what it sings depends only on the calls made to it, in order, never on what else the
process sang before. Audio comes back synchronously through a callback
(``AUDIO_OUTPUT_SYNCHRONOUS``) as 16-bit samples at :data:`SAMPLE_RATE` Hz, with espeak's events.

Each word is synthesised on its own, monotone (pitch range 0), at the pitch of its melody note:
a word is one sung note. espeak's pitch setting (0-100) is neither in Hz nor the same scale for
every voice, so a :class:`Singer` first measures it (:func:`measure_pitch`: it sings a probe
word at several settings and estimates each fundamental frequency) and then inverts the table.

Timing: espeak reports a WORD event at the sample where the word's audio begins and an END
event where the utterance ends; between the two, the word is trimmed to its audible span (short-
time energy above :data:`SILENCE_DB` relative to its peak). The returned samples therefore start
at the word's first audible sample and end at its last one, so a word placed at ``t`` seconds
is honestly annotated as sung from ``t`` to ``t + duration``.
"""

from __future__ import annotations

import _ctypes
import ctypes
import functools
import multiprocessing.util
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from songalign.errors import MissingDependencyError, SongalignError

SAMPLE_RATE = 22050
"""Sample rate of espeak-ng's output, in Hz (checked when the engine starts)."""

IPA_VOWELS = "iyɨʉɯuɪʏʊeøɘɵɤoəɛœɜɞʌɔæɐaɶɑɒɚɝᵻ"
"""The vowel letters espeak-ng writes in IPA: the IPA chart's (close to open), the rhotic schwas and espeak's
``ᵻ``; the one list the sung corpus's syllables and the phoneme inventory
(:data:`songalign.transcribe.phonemes.VOWELS`) are made from."""

SILENCE_DB = -40.0
"""Energy floor, in dB relative to a word's loudest 5 ms, below which its edges count as silence."""

# espeak-ng's C constants (speak_lib.h).
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INITIALIZE_DONT_EXIT = 0x8000
_INITIALIZE_PHONEME_EVENTS, _INITIALIZE_PHONEME_IPA = 0x0001, 0x0002
_PHONEMES_IPA = 0x02
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_PARAM_RATE, _PARAM_VOLUME, _PARAM_PITCH, _PARAM_RANGE = 1, 2, 3, 4
_EVENT_LIST_TERMINATED, _EVENT_WORD, _EVENT_END, _EVENT_PHONEME = 0, 1, 5, 7
_RANDOM_SEED = 1


class _EventId(ctypes.Union):
    _fields_ = [("number", ctypes.c_int), ("name", ctypes.c_char_p), ("string", ctypes.c_char * 8)]


class _Event(ctypes.Structure):
    """``espeak_EVENT``; ``sample`` is the event's position in samples from the start of the message."""

    _fields_ = [
        ("type", ctypes.c_int),
        ("unique_identifier", ctypes.c_uint),
        ("text_position", ctypes.c_int),
        ("length", ctypes.c_int),
        ("audio_position", ctypes.c_int),
        ("sample", ctypes.c_int),
        ("user_data", ctypes.c_void_p),
        ("id", _EventId),
    ]


_SynthCallback = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.POINTER(_Event))


class _VoiceEntry(ctypes.Structure):
    """``espeak_VOICE``; ``languages`` is a run of (priority byte, NUL-terminated code) ended by a zero byte."""

    _fields_ = [
        ("name", ctypes.c_char_p),
        ("languages", ctypes.c_void_p),
        ("identifier", ctypes.c_char_p),
        ("gender", ctypes.c_ubyte),
        ("age", ctypes.c_ubyte),
        ("variant", ctypes.c_ubyte),
        ("xx1", ctypes.c_ubyte),
        ("score", ctypes.c_int),
        ("spare", ctypes.c_void_p),
    ]


@dataclass(frozen=True)
class Voice:
    """An espeak-ng voice: ``name`` is espeak's language voice plus a variant (``"en-us+f2"``);
    ``gender`` (``"female"``/``"male"``) and ``accent`` (``"American"``) are for captions."""

    name: str
    gender: str
    accent: str


VOICES: tuple[Voice, ...] = (
    Voice("en-us+f2", "female", "American"),
    Voice("en-us+f4", "female", "American"),
    Voice("en+f3", "female", "British"),
    Voice("en-gb-x-rp+f1", "female", "British"),
    Voice("en-029+f5", "female", "Caribbean"),
    Voice("en-us+m3", "male", "American"),
    Voice("en+m1", "male", "British"),
    Voice("en-gb-scotland+m2", "male", "Scottish"),
    Voice("en-us-nyc+m6", "male", "New York"),
)
"""The voices songs are sung in (one per song)."""


@dataclass(frozen=True)
class PhonemeEvent:
    """One phoneme espeak-ng spoke: ``name`` in its IPA (stress and length marks as espeak writes them, ``""``
    for a pause), ``sample`` the sample index where it starts, ``word`` the index of the WORD event it belongs
    to (-1 before the first)."""

    name: str
    sample: int
    word: int


@dataclass(frozen=True)
class WordEvent:
    """One word espeak-ng spoke: ``sample`` where it starts, ``position`` and ``length`` the characters of the
    text it reads (0-based character offset and count; a number such as "23" may give two WORD events)."""

    sample: int
    position: int
    length: int


@dataclass
class Utterance:
    """What espeak-ng returned for one text: ``samples`` float32, shape ``(n,)``, in [-1, 1] at
    :data:`SAMPLE_RATE` Hz; ``word_starts`` the sample index of each WORD event; ``end`` the
    sample index of the END event (``n`` when espeak sent none); ``words`` the WORD events and
    ``phonemes`` the phoneme events in order (empty unless the :class:`Espeak` was opened with
    ``phoneme_events``)."""

    samples: np.ndarray
    word_starts: list[int]
    end: int
    words: list[WordEvent] = field(default_factory=list)
    phonemes: list[PhonemeEvent] = field(default_factory=list)


def data_path() -> Path:
    """The folder of espeak-ng's data (voices, dictionaries) that the espeakng-loader wheel bundles."""
    try:
        import espeakng_loader
    except ImportError as error:
        raise MissingDependencyError("espeakng-loader", "Synthetic vocals") from error
    return Path(espeakng_loader.get_data_path())


@functools.cache
def _library_copy() -> str:
    """Path of this process's private copy of libespeak-ng (removed at exit).

    A private file keeps other users of libespeak-ng in the process from sharing, and so
    pinning, our library handle: unloading it must really reset espeak's state.
    """
    try:
        import espeakng_loader
    except ImportError as error:
        raise MissingDependencyError("espeakng-loader", "Synthetic vocals") from error
    folder = tempfile.mkdtemp(prefix="songalign-espeak-")
    # Unlike atexit, a multiprocessing finaliser also runs when a worker process made by fork
    # exits, and only in the process that registered it (a forked child never deletes its parent's).
    multiprocessing.util.Finalize(None, shutil.rmtree, args=(folder,), kwargs={"ignore_errors": True}, exitpriority=0)
    path = os.path.join(folder, "libespeak-ng.so")
    shutil.copyfile(espeakng_loader.get_library_path(), path)
    return path


_open_lock = threading.Lock()  # one loaded instance at a time: a second load would share the first


class Espeak:
    """A freshly loaded and initialised espeak-ng speaking with ``voice``; a context manager.

    One may be open per process at a time; :meth:`close` unloads the library, so the next one
    starts from espeak's initial state. With ``phoneme_events`` espeak also reports each phoneme it
    speaks, named in IPA (:attr:`Utterance.phonemes`); the audio is the same either way.
    """

    def __init__(self, voice: str, *, phoneme_events: bool = False) -> None:
        library = _library_copy()
        if not _open_lock.acquire(blocking=False):
            raise RuntimeError("only one espeak-ng instance can be open per process; close the other first")
        self._chunks: list[np.ndarray] = []
        self._events: list[tuple[int, int, int, int, str]] = []
        self._flags = _INITIALIZE_DONT_EXIT | (
            _INITIALIZE_PHONEME_EVENTS | _INITIALIZE_PHONEME_IPA if phoneme_events else 0
        )
        # C keeps only a pointer to the callback: hold the Python object while the library is loaded.
        self._callback = _SynthCallback(self._collect)
        self._lib: ctypes.CDLL | None = ctypes.CDLL(library)
        try:
            self._start(str(data_path()).encode(), voice)
        except BaseException:
            self.close()
            raise

    def _start(self, data_path: bytes, voice: str) -> None:
        lib = self._lib
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        lib.espeak_SetSynthCallback.argtypes = [_SynthCallback]
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_SetParameter.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_int]
        lib.espeak_ng_SetRandSeed.argtypes = [ctypes.c_long]
        lib.espeak_Synth.argtypes = [
            ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int, ctypes.c_uint, ctypes.c_uint,
            ctypes.c_void_p, ctypes.c_void_p,
        ]  # fmt: skip
        lib.espeak_TextToPhonemes.restype = ctypes.c_char_p
        lib.espeak_TextToPhonemes.argtypes = [ctypes.POINTER(ctypes.c_void_p), ctypes.c_int, ctypes.c_int]
        lib.espeak_ListVoices.restype = ctypes.POINTER(ctypes.POINTER(_VoiceEntry))
        lib.espeak_ListVoices.argtypes = [ctypes.c_void_p]
        lib.espeak_SetVoiceByProperties.argtypes = [ctypes.POINTER(_VoiceEntry)]
        rate = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data_path, self._flags)
        if rate != SAMPLE_RATE:
            raise SongalignError(
                f"espeak-ng from espeakng-loader started at {rate} Hz instead of {SAMPLE_RATE} Hz; "
                "reinstall it with: pip install --force-reinstall espeakng-loader"
            )
        lib.espeak_SetSynthCallback(self._callback)
        lib.espeak_ng_SetRandSeed(_RANDOM_SEED)  # espeak seeds its noise generator with the clock
        self.set_voice(voice)

    def set_voice(self, voice: str) -> None:
        """Speak with ``voice`` from now on (a language code such as ``"fr"``, or a voice ``"en-us+f2"``)."""
        if self._lib is None:
            raise RuntimeError("this espeak-ng instance is closed")
        if self._lib.espeak_SetVoiceByName(voice.encode()) != 0:
            raise SongalignError(f"espeak-ng has no voice named {voice!r}; use one of songalign's VOICES")

    def set_language(self, language: str) -> None:
        """Speak from now on with espeak-ng's voice for the language code ``language`` (``"fr"``, ``"pt-br"``;
        ``espeak_SetVoiceByProperties``), which need not be a voice's file name."""
        if self._lib is None:
            raise RuntimeError("this espeak-ng instance is closed")
        wanted = _VoiceEntry(None, ctypes.cast(ctypes.c_char_p(language.encode()), ctypes.c_void_p), None, 0, 0, 0)
        if self._lib.espeak_SetVoiceByProperties(ctypes.byref(wanted)) != 0:
            raise SongalignError(f"espeak-ng has no voice for the language {language!r}")

    def _collect(self, wav, n_samples, events) -> int:
        if n_samples > 0 and wav:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n_samples,)).copy())
        i = 0
        while events[i].type != _EVENT_LIST_TERMINATED:
            event = events[i]
            # A phoneme event's name is up to 8 bytes of UTF-8 in id.string (not NUL-terminated when full).
            name = (
                bytes(event.id.string).split(b"\0")[0].decode("utf-8", "replace")
                if event.type == _EVENT_PHONEME
                else ""
            )
            self._events.append((event.type, event.sample, event.text_position, event.length, name))
            i += 1
        return 0  # 0 = go on synthesising

    def voices(self) -> list[tuple[str, str, tuple[str, ...]]]:
        """Every voice espeak-ng's data holds: ``(name, identifier, language codes)``, e.g.
        ``("French (France)", "roa/fr", ("fr-fr", "fr"))``, in espeak's order."""
        if self._lib is None:
            raise RuntimeError("this espeak-ng instance is closed")
        entries = self._lib.espeak_ListVoices(None)
        found = []
        index = 0
        while entries[index]:
            entry = entries[index].contents
            codes, address = [], entry.languages
            while ctypes.c_ubyte.from_address(address).value:  # the priority byte; 0 ends the list
                code = ctypes.string_at(address + 1)
                codes.append(code.decode())
                address += 2 + len(code)
            found.append((entry.name.decode(), entry.identifier.decode(), tuple(codes)))
            index += 1
        return found

    def text_to_phonemes(self, text: str, separator: str = "") -> list[str]:
        """espeak-ng's IPA of ``text`` in the current voice (``espeak_TextToPhonemes``), one string per clause:
        words separated by spaces and, with a ``separator`` character, the phonemes of a word by it. This is
        what ``espeak-ng -q --ipa [--sep=C]`` prints (one clause a line)."""
        if self._lib is None:
            raise RuntimeError("this espeak-ng instance is closed")
        mode = _PHONEMES_IPA | (ord(separator) << 8 if separator else 0)
        buffer = ctypes.create_string_buffer(text.encode("utf-8"))
        cursor = ctypes.c_void_p(ctypes.addressof(buffer))
        clauses = []
        while cursor.value:  # espeak moves the cursor past each clause, and to NULL at the end
            clauses.append((self._lib.espeak_TextToPhonemes(ctypes.byref(cursor), _CHARS_UTF8, mode) or b"").decode())
        return clauses

    def synthesize(self, text: str, pitch: int, rate: int, pitch_range: int = 0) -> Utterance:
        """Speak ``text`` at espeak pitch setting ``pitch`` (0-100), ``rate`` in words per minute
        and intonation range ``pitch_range`` (0 = monotone, 50 = normal)."""
        lib = self._lib
        if lib is None:
            raise RuntimeError("this espeak-ng instance is closed")
        for parameter, value in (
            (_PARAM_RATE, rate),
            (_PARAM_VOLUME, 100),
            (_PARAM_PITCH, pitch),
            (_PARAM_RANGE, pitch_range),
        ):
            lib.espeak_SetParameter(parameter, int(value), 0)
        self._chunks.clear()
        self._events.clear()
        data = text.encode("utf-8")
        status = lib.espeak_Synth(data, len(data) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if status != 0:
            raise RuntimeError(f"espeak_Synth failed with status {status} on {text!r}")
        pcm = np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
        words: list[WordEvent] = []
        phonemes: list[PhonemeEvent] = []
        ends = []
        for kind, sample, position, length, name in self._events:
            if kind == _EVENT_WORD:
                words.append(WordEvent(sample, position - 1, length))  # espeak counts characters from 1
            elif kind == _EVENT_PHONEME:
                phonemes.append(PhonemeEvent(name, sample, len(words) - 1))
            elif kind == _EVENT_END:
                ends.append(sample)
        word_starts = [word.sample for word in words]
        end = ends[-1] if ends else len(pcm)
        return Utterance(pcm.astype(np.float32) / 32768.0, word_starts, end, words, phonemes)

    def close(self) -> None:
        """Terminate and unload the library (idempotent)."""
        if self._lib is not None:
            self._lib.espeak_Terminate()
            _ctypes.dlclose(self._lib._handle)
            self._lib = None
            _open_lock.release()

    def __enter__(self) -> Espeak:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def audible_span(samples: np.ndarray, floor_db: float = SILENCE_DB, window: int = 110) -> tuple[int, int]:
    """``(start, stop)`` sample indices of the audible part of ``samples`` (shape ``(n,)``).

    The energy of each ``window``-sample frame (110 samples = 5 ms at 22050 Hz) is compared with
    ``floor_db`` dB below the loudest frame; ``start`` is the first sample of the first frame
    above it and ``stop`` the end of the last one. ``(0, 0)`` for silence.
    """
    power = np.concatenate([[0.0], np.cumsum(samples.astype(np.float64) ** 2)])
    window = min(window, len(samples))
    if window == 0:
        return 0, 0
    energy = power[window:] - power[:-window]
    loud = np.flatnonzero(energy > energy.max() * 10.0 ** (floor_db / 10.0))
    if energy.max() <= 0.0 or len(loud) == 0:
        return 0, 0
    return int(loud[0]), int(loud[-1]) + window


def estimate_f0(samples: np.ndarray, sample_rate: int = SAMPLE_RATE, fmin: float = 50.0, fmax: float = 1000.0) -> float:
    """Fundamental frequency in Hz of a steady voiced sound (shape ``(n,)``), by YIN.

    The median over 46 ms frames (hop 23 ms) of the middle half of the audible span; in each
    frame, the first lag whose cumulative-mean-normalised difference dips below 0.15 (or the
    lowest dip). Meant for monotone probes, not for melodies.
    """
    start, stop = audible_span(samples)
    quarter = (stop - start) // 4
    x = samples[start + quarter : stop - quarter].astype(np.float64)
    window, max_lag = 1024, int(sample_rate / fmin)
    min_lag = max(2, int(sample_rate / fmax))
    lags = np.arange(1, max_lag + 1)
    periods = []
    for first in range(0, len(x) - window - max_lag, window // 2):
        frame = x[first : first + window + max_lag]
        head = frame[:window]
        # d(lag) = sum (x[j] - x[j + lag])^2 over the window, from energies and a correlation
        correlation = np.correlate(frame[: window + max_lag], head, mode="valid")[1:]
        energy = np.cumsum(frame**2)
        shifted = energy[window - 1 + lags] - energy[lags - 1]
        difference = np.sum(head**2) + shifted - 2.0 * correlation
        normalised = difference * lags / np.maximum(np.cumsum(difference), 1e-12)
        below = np.flatnonzero(normalised[min_lag - 1 :] < 0.15)
        if len(below):
            i = min_lag - 1 + below[0]
            while i + 1 < len(normalised) and normalised[i + 1] < normalised[i]:
                i += 1  # walk down to the bottom of the dip
        else:
            i = min_lag - 1 + int(np.argmin(normalised[min_lag - 1 :]))
        left, mid, right = normalised[max(i - 1, 0)], normalised[i], normalised[min(i + 1, len(normalised) - 1)]
        curvature = left - 2 * mid + right
        periods.append(lags[i] + (0.5 * (left - right) / curvature if curvature > 0 else 0.0))
    if not periods:
        raise ValueError(f"{len(samples)} samples are too short to estimate a pitch down to {fmin} Hz")
    return sample_rate / float(np.median(periods))


_PROBE_WORD = "moon"  # voiced from end to end, so its f0 is easy to measure
_PROBE_SETTINGS = tuple(range(20, 101, 10))  # below 20 some voices turn creaky


@dataclass(frozen=True)
class PitchTable:
    """Measured pitch of a voice: espeak pitch ``settings`` and the MIDI note each one sings."""

    settings: tuple[int, ...]
    midi: tuple[float, ...]

    @property
    def lowest(self) -> float:
        return self.midi[0]

    @property
    def highest(self) -> float:
        return self.midi[-1]

    def setting_for(self, midi: float) -> int:
        """The espeak pitch setting that sings closest to ``midi`` (clamped to the voice's range)."""
        return int(round(float(np.interp(midi, self.midi, self.settings))))

    def midi_for(self, setting: int) -> float:
        """The MIDI note that espeak pitch ``setting`` sings (interpolated between probes)."""
        return float(np.interp(setting, self.settings, self.midi))


def measure_pitch(espeak: Espeak, rate: int = 130, settings: tuple[int, ...] = _PROBE_SETTINGS) -> PitchTable:
    """Measure which MIDI note each espeak pitch setting of ``settings`` (ascending) sings with ``espeak``'s voice."""
    midi = []
    for setting in settings:
        probe = espeak.synthesize(_PROBE_WORD, pitch=setting, rate=rate).samples
        midi.append(69.0 + 12.0 * np.log2(estimate_f0(probe) / 440.0))
    if np.any(np.diff(midi) <= 0):
        raise RuntimeError(f"espeak-ng's pitch does not rise with its pitch setting: {np.round(midi, 2)}")
    return PitchTable(tuple(settings), tuple(float(m) for m in midi))


@dataclass(frozen=True)
class SungNote:
    """One note of a sung word: from sample ``start`` to ``end`` of the word's samples, ``midi`` the melody's
    note and ``sung_midi`` the one espeak's integer pitch setting gives (within about 0.1 semitone)."""

    start: int
    end: int
    midi: float
    sung_midi: float


@dataclass(frozen=True)
class SungPhoneme:
    """One phoneme of a sung word: espeak-ng's IPA for it (marks as espeak writes them) and its span, from
    sample ``start`` to ``end`` of the word's samples."""

    ipa: str
    start: int
    end: int


@dataclass
class SungWord:
    """One sung word: ``samples`` float32, shape ``(n,)``, at :data:`SAMPLE_RATE` Hz, from its first
    to its last audible sample; ``midi`` the (first) note asked for and ``sung_midi`` the note
    espeak's integer pitch setting actually gives (within about 0.1 semitone).

    A :class:`Singer` sings a word on one note and leaves ``notes`` and ``phonemes`` empty; a
    :class:`~songalign.corpus.synth.sing.SyllableSinger` gives one note per syllable and the phonemes' spans."""

    text: str
    midi: float
    sung_midi: float
    samples: np.ndarray
    notes: list[SungNote] = field(default_factory=list)
    phonemes: list[SungPhoneme] = field(default_factory=list)

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return len(self.samples) / SAMPLE_RATE


_FADE = np.sin(np.linspace(0.0, np.pi / 2, int(0.003 * SAMPLE_RATE))) ** 2  # 3 ms, against clicks at the cuts


class Singer:
    """Sings words, one note each, with ``voice`` at ``rate`` words per minute; a context manager.

    It loads a fresh espeak-ng and measures the voice's :attr:`pitch_table` first, so the same
    sequence of :meth:`sing` calls always gives the same samples.
    """

    def __init__(self, voice: Voice | str, rate: int = 130) -> None:
        self.voice = voice.name if isinstance(voice, Voice) else voice
        self.rate = rate
        self._espeak = Espeak(self.voice)
        try:
            self.pitch_table = measure_pitch(self._espeak, rate)
        except BaseException:
            self.close()
            raise

    def sing(self, text: str, midi: float) -> SungWord:
        """Sing one word at MIDI note ``midi`` (clamped to the voice's range).

        Raises ``ValueError`` when espeak reads ``text`` as more or fewer than one word.
        """
        setting = self.pitch_table.setting_for(midi)
        utterance = self._espeak.synthesize(text, pitch=setting, rate=self.rate)
        if len(utterance.word_starts) != 1:
            raise ValueError(f"espeak-ng read {text!r} as {len(utterance.word_starts)} words; sing one word at a time")
        voiced = utterance.samples[utterance.word_starts[0] : utterance.end]
        start, stop = audible_span(voiced)
        samples = voiced[start:stop].copy()
        fade = _FADE[: len(samples) // 2]
        samples[: len(fade)] *= fade
        samples[len(samples) - len(fade) :] *= fade[::-1]
        return SungWord(text, midi, self.pitch_table.midi_for(setting), samples)

    def close(self) -> None:
        """Unload espeak-ng (idempotent)."""
        self._espeak.close()

    def __enter__(self) -> Singer:
        return self

    def __exit__(self, *exc) -> None:
        self.close()
