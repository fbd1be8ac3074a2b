"""A small SoundFont 2 sample player: General MIDI notes from the ``TimGM6mb.sf2`` that ``pretty_midi`` ships.

``pyfluidsynth`` installs with pip but needs the system's libfluidsynth, and ``tinysoundfont`` does not install
(its pyaudio dependency fails to build), so songalign plays SF2 files itself. ``sf2utils`` (pure Python) parses
the file; this module reads, for a preset and a key, the zones that sound (key and velocity ranges of the
preset's and its instruments' zones, an instrument's global zone giving the defaults) and plays each zone's
sample, with the generators of the SoundFont 2.04 specification that shape a note's pitch and loudness:

- pitch: ``overridingRootKey`` (else the sample's original pitch), ``coarseTune`` (semitones), ``fineTune``
  and the sample's ``pitchCorrection`` (cents), ``scaleTuning`` (cents per key, default 100), the preset's
  tuning added to the instrument's;
- loop: ``sampleModes`` (0 or 2: play once; 1: loop; 3: loop while held, then play on: looped here to the
  end, the release fades it) between the sample's loop points plus the ``startloopAddrsOffset`` /
  ``endloopAddrsOffset`` generators (fine and coarse);
- level: ``initialAttenuation`` (centibels, preset's added) and the volume envelope ``delayVolEnv``,
  ``attackVolEnv`` (linear in amplitude), ``holdVolEnv``, ``decayVolEnv`` (linear in dB, the time for a fall
  of 100 dB), ``sustainVolEnv`` (centibels below full), ``releaseVolEnv`` (100 dB fall after the note ends),
  times in timecents (seconds = 2 ** (tc / 1200)); velocity scales the amplitude by ``(velocity / 127) ** 2``
  (the specification's default concave velocity-to-attenuation curve, approximately).

Filters, LFOs, modulators, panning and the effect sends are ignored: the mix adds its own reverb and EQ.
Samples are resampled by linear interpolation. Units: times in seconds, pitches in MIDI keys, audio float32
mono at the caller's sample rate.
"""

from __future__ import annotations

import functools
import importlib.util
import logging
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from songalign.errors import BadInputError, MissingDependencyError

BAND_EXTRA = "band"
"""The extra that installs the SoundFont backing's packages (``pretty_midi``, ``sf2utils``, ``pedalboard``)."""
FONT_NAME = "TimGM6mb.sf2"
"""The General MIDI SoundFont inside the ``pretty_midi`` package (Tim Brechbill's, GPL-2.0, 6 MB)."""
DRUM_BANK = 128
"""The SF2 bank of percussion presets; its preset 0 is the General MIDI standard kit."""

# SoundFont 2.04 generator numbers (section 8.1.2).
_START_LOOP, _END_LOOP, _START_LOOP_COARSE, _END_LOOP_COARSE = 2, 3, 45, 50
_DELAY, _ATTACK, _HOLD, _DECAY, _SUSTAIN, _RELEASE = 33, 34, 35, 36, 37, 38
_INSTRUMENT, _KEY_RANGE, _VEL_RANGE, _ATTENUATION = 41, 43, 44, 48
_COARSE_TUNE, _FINE_TUNE, _SAMPLE_ID, _SAMPLE_MODES, _SCALE_TUNING, _ROOT_KEY = 51, 52, 53, 54, 56, 58
_ADDITIVE = (_COARSE_TUNE, _FINE_TUNE, _ATTENUATION)  # the preset-level generators this player adds
_DEFAULTS = {_DELAY: -12000, _ATTACK: -12000, _HOLD: -12000, _DECAY: -12000, _SUSTAIN: 0, _RELEASE: -12000,
             _SCALE_TUNING: 100, _ROOT_KEY: -1}  # fmt: skip
_MAX_RELEASE = 1.0  # a note's release tail is cut after this many seconds


def font_path() -> Path:
    """The path of :data:`FONT_NAME` in the installed ``pretty_midi`` (found without importing it).

    Raises :class:`~songalign.errors.MissingDependencyError` when ``pretty_midi`` is not installed.
    """
    spec = importlib.util.find_spec("pretty_midi")
    if spec is None or not spec.submodule_search_locations:
        raise MissingDependencyError("pretty_midi", "The SoundFont backing (its General MIDI SoundFont)", BAND_EXTRA)
    return Path(next(iter(spec.submodule_search_locations))) / FONT_NAME


def _seconds(timecents: int) -> float:
    return 2.0 ** (timecents / 1200.0)


@dataclass(frozen=True)
class Zone:
    """One sample as a zone plays it: ``samples`` float32 ``(n,)`` in [-1, 1) at ``sample_rate`` Hz;
    ``root_key`` the MIDI key at which it sounds unshifted; ``tune`` cents added to every key (coarse, fine and
    the sample's correction); ``scale_tuning`` cents per key; ``loop`` ``(start, end)`` in samples, or None
    when it plays once; ``attenuation`` dB; the volume envelope ``delay``, ``attack``, ``hold``, ``decay``,
    ``release`` in seconds and ``sustain`` in dB below full."""

    name: str
    samples: np.ndarray
    sample_rate: int
    root_key: int
    tune: float
    scale_tuning: float
    loop: tuple[int, int] | None
    attenuation: float
    delay: float
    attack: float
    hold: float
    decay: float
    sustain: float
    release: float

    def ratio(self, key: float, sample_rate: int) -> float:
        """Source samples per output sample for MIDI ``key`` played at ``sample_rate`` Hz."""
        cents = (key - self.root_key) * self.scale_tuning + self.tune
        return 2.0 ** (cents / 1200.0) * self.sample_rate / sample_rate

    def envelope(self, held: int, sample_rate: int) -> np.ndarray:
        """The volume envelope of a note held ``held`` samples, then released: float32 ``(held + tail,)``, where
        ``tail`` lasts the release (at most :data:`_MAX_RELEASE` s) and the whole in [0, 1]."""
        t = np.arange(held, dtype=np.float64) / sample_rate
        ends = np.cumsum([self.delay, self.attack, self.hold])
        rise = np.clip((t - self.delay) / max(self.attack, 1e-9), 0.0, 1.0)
        fall_db = np.minimum(np.clip(t - ends[2], 0.0, None) * 100.0 / max(self.decay, 1e-9), self.sustain)
        level = np.where(t < ends[1], rise, 10.0 ** (-fall_db / 20.0))
        final = float(level[-1]) if held else 0.0
        n_tail = int(min(self.release, _MAX_RELEASE) * sample_rate)
        tail_db = np.arange(n_tail) / sample_rate * 100.0 / max(self.release, 1e-9)
        return np.concatenate([level, final * 10.0 ** (-tail_db / 20.0)]).astype(np.float32)

    def play(self, key: float, held: int, sample_rate: int) -> np.ndarray:
        """The zone's sample at MIDI ``key``, held ``held`` samples and released: float32, shape as
        :meth:`envelope`'s, before the attenuation and velocity."""
        envelope = self.envelope(held, sample_rate)
        position = np.arange(len(envelope), dtype=np.float64) * self.ratio(key, sample_rate)
        if self.loop is not None:
            start, end = self.loop
            over = position >= start
            position[over] = start + np.mod(position[over] - start, end - start)
        else:
            position = position[position <= len(self.samples) - 1]
        wave = np.interp(position, np.arange(len(self.samples)), self.samples).astype(np.float32)
        return wave * envelope[: len(wave)]


class SoundFont:
    """A SoundFont 2 file's presets, played note by note (module docstring).

    ``path`` defaults to :func:`font_path`. Raises :class:`~songalign.errors.MissingDependencyError` without
    ``sf2utils`` and :class:`~songalign.errors.BadInputError` for a file it cannot parse.
    """

    def __init__(self, path: Path | None = None) -> None:
        try:
            from sf2utils.sf2parse import Sf2File
        except ImportError as error:
            raise MissingDependencyError("sf2utils", "The SoundFont backing", BAND_EXTRA) from error
        self.path = Path(path) if path is not None else font_path()
        previous = logging.root.manager.disable
        logging.disable(logging.WARNING)  # sf2utils warns about every short loop on the root logger
        try:
            with self.path.open("rb") as handle:
                self._sf2 = Sf2File(handle)
                self.presets = {(p.bank, p.preset): p for p in self._sf2.presets if p.name != "EOP"}
                self._sf2.instruments  # noqa: B018 - parsed here, while the file is open
                # Every sample is read now, so that no file is shared by the processes a pool forks from here.
                self._samples = [_read(sample) for sample in self._sf2.samples]
        except OSError as error:
            raise BadInputError(self.path, f"cannot be read ({error.strerror}); reinstall pretty_midi") from error
        except Exception as error:
            raise BadInputError(self.path, f"is not a SoundFont 2 file that sf2utils can read ({error})") from error
        finally:
            logging.disable(previous)

    def preset_name(self, program: int, bank: int = 0) -> str:
        """The name of preset ``program`` in ``bank``."""
        return self._preset(program, bank).name

    def _preset(self, program: int, bank: int):
        try:
            return self.presets[bank, program]
        except KeyError:
            raise BadInputError(
                self.path, f"has no preset {program} in bank {bank}; give a General MIDI SoundFont"
            ) from None

    def zones(self, program: int, key: int, velocity: int = 100, bank: int = 0) -> list[Zone]:
        """The zones that sound when ``key`` is struck at ``velocity`` on preset ``program`` of ``bank``
        (several when the preset layers instruments or samples)."""
        found = []
        for pbag in self._preset(program, bank).bags:
            if _INSTRUMENT not in pbag.gens or not _matches(pbag.gens, key, velocity):
                continue
            instrument = self._sf2.instruments[pbag.gens[_INSTRUMENT].word]
            bags = instrument.bags
            defaults = bags[0].gens if bags and _SAMPLE_ID not in bags[0].gens else {}
            for ibag in bags:
                if _SAMPLE_ID not in ibag.gens or not _matches(ibag.gens, key, velocity):
                    continue
                value = {**_DEFAULTS, **{k: g.short for k, g in defaults.items()}}
                value.update({k: g.short for k, g in ibag.gens.items()})
                for k in _ADDITIVE:
                    if k in pbag.gens:
                        value[k] = value.get(k, 0) + pbag.gens[k].short
                found.append(self._zone(ibag.gens[_SAMPLE_ID].word, value))
        return found

    def _zone(self, index: int, value: dict[int, int]) -> Zone:
        sample = self._sf2.samples[index]
        mode = value.get(_SAMPLE_MODES, 0) & 3
        loop = None
        if mode in (1, 3):
            start = sample.start_loop + value.get(_START_LOOP, 0) + 32768 * value.get(_START_LOOP_COARSE, 0)
            end = sample.end_loop + value.get(_END_LOOP, 0) + 32768 * value.get(_END_LOOP_COARSE, 0)
            loop = (start, end) if 0 <= start < end <= sample.duration else None
        root = value[_ROOT_KEY] if 0 <= value[_ROOT_KEY] <= 127 else sample.original_pitch
        return Zone(
            name=sample.name,
            samples=self._samples[index],
            sample_rate=int(sample.sample_rate),
            root_key=int(root),
            tune=100.0 * value.get(_COARSE_TUNE, 0) + value.get(_FINE_TUNE, 0) + sample.pitch_correction,
            scale_tuning=float(value[_SCALE_TUNING]),
            loop=loop,
            attenuation=max(0, value.get(_ATTENUATION, 0)) / 10.0,
            delay=_seconds(value[_DELAY]),
            attack=_seconds(value[_ATTACK]),
            hold=_seconds(value[_HOLD]),
            decay=_seconds(value[_DECAY]),
            sustain=min(max(value[_SUSTAIN], 0), 1440) / 10.0,
            release=_seconds(value[_RELEASE]),
        )

    @functools.lru_cache(maxsize=512)  # noqa: B019 - one font per process; notes repeat bar after bar
    def note(
        self, program: int, key: int, duration: float, sample_rate: int, velocity: int = 100, bank: int = 0
    ) -> np.ndarray:
        """MIDI ``key`` on preset ``program`` held ``duration`` seconds then released: float32 ``(n,)`` at
        ``sample_rate`` Hz, ``n`` = the held samples plus the longest release (at most 1 s); the sum of its
        zones, each at its attenuation, scaled by ``(velocity / 127) ** 2``. Read-only (it is cached)."""
        held = int(round(duration * sample_rate))
        parts = [
            z.play(key, held, sample_rate) * np.float32(10.0 ** (-z.attenuation / 20.0))
            for z in self.zones(program, key, velocity, bank)
        ]
        out = np.zeros(max((len(p) for p in parts), default=held), np.float32)
        for part in parts:
            out[: len(part)] += part
        out *= np.float32((velocity / 127.0) ** 2)
        out.flags.writeable = False
        return out


def _read(sample) -> np.ndarray:
    """An sf2utils sample's 16-bit data (little-endian in the ``smpl`` chunk; a 24-bit file's extra ``sm24``
    byte is ignored) as float32 in [-1, 1), empty for the terminal ``EOS`` record."""
    if sample.name == "EOS":
        return np.zeros(0, np.float32)
    data = sample.sf2parser.read(sample.duration * 2, pos=sample.smpl_offset + sample.start * 2)
    return np.frombuffer(data, dtype="<i2").astype(np.float32) / np.float32(32768.0)


def _matches(gens: dict, key: int, velocity: int) -> bool:
    """Whether a zone's key and velocity ranges (both bytes of the generator, low then high) hold ``key`` and ``velocity``."""
    for oper, value in ((_KEY_RANGE, key), (_VEL_RANGE, velocity)):
        if oper in gens:
            low, high = gens[oper].amount & 0xFF, gens[oper].amount >> 8
            if not low <= value <= high:
                return False
    return True


@functools.cache
def general_midi() -> SoundFont:
    """The process's :class:`SoundFont` of :func:`font_path` (loaded once per process: about 1 s)."""
    return SoundFont()


def midi_key(pitch: float) -> int:
    """The nearest MIDI key to ``pitch`` (a MIDI number, maybe fractional)."""
    return int(math.floor(pitch + 0.5))
