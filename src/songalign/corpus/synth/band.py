"""The band backing (``corpus synth --backing soundfont``): General MIDI instruments, effects and a vocal level.

The notes are the additive backing's (:func:`.music.backing_notes` and the lead's sung notes), played on the
General MIDI SoundFont that ``pretty_midi`` ships (:mod:`.soundfont`): each :data:`.music.TIMBRES` name has
its General MIDI program (:data:`GM_PROGRAMS`), each drum its key in the standard kit (:data:`GM_DRUMS`).
``pedalboard`` then treats the backing (EQ: low shelf, a peak, high shelf; compression; reverb) and gives the
vocals a light reverb, with settings drawn per song (:class:`BandMix`), as is the level of the vocals against
the backing (:attr:`BandMix.vocal_db`, −6 to +6 dB). Everything is drawn from ``(seed, index, 3)`` alone, so a
song's lyrics, melody and times are the same whichever backing it gets.

Units: times in seconds, levels in dB, audio float32 mono of shape ``(n_samples,)`` at ``sample_rate`` Hz.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass

import numpy as np

from songalign.corpus.records import Note
from songalign.corpus.synth.music import SectionMusic, add_sound, backing_notes
from songalign.corpus.synth.soundfont import BAND_EXTRA, DRUM_BANK, SoundFont, midi_key
from songalign.errors import MissingDependencyError

BACKINGS = ("synth", "soundfont")
"""The backings a corpus can have: ``synth`` (numpy additive synthesis, :mod:`.music`; the default) and
``soundfont`` (this module)."""

GM_PROGRAMS: dict[str, int] = {
    "piano": 0,  # Acoustic Grand Piano
    "electric piano": 4,  # Electric Piano 1
    "acoustic guitar": 25,  # Acoustic Guitar (steel)
    "distorted guitar": 30,  # Distortion Guitar
    "organ": 16,  # Drawbar Organ
    "string pad": 48,  # String Ensemble 1
    "synth pad": 88,  # Pad 1 (new age)
    "tremolo strings": 44,  # Tremolo Strings
    "bass guitar": 33,  # Electric Bass (finger)
    "synth bass": 38,  # Synth Bass 1
    "upright bass": 32,  # Acoustic Bass
    "flute": 73,  # Flute
    "synth lead": 80,  # Lead 1 (square)
    "violin": 40,  # Violin
    "clarinet": 71,  # Clarinet
}
"""The General MIDI program (0-based) of each :data:`.music.TIMBRES` instrument."""

GM_DRUMS = {"kick": 36, "snare": 38, "hat": 42, "open hat": 46}
"""The General MIDI percussion key of each drum of :data:`.music.DRUM_GAINS`."""

VOCAL_DB = (-6.0, 6.0)
"""The range of a song's vocal level re its backing, dB (:attr:`BandMix.vocal_db`, uniform)."""

VELOCITY = 100
"""The MIDI velocity of every note (levels come from the parts' gains and the mix)."""


@dataclass(frozen=True)
class BandMix:
    """A song's mix settings: ``vocal_db`` the vocals' RMS re the backing's (both over the sung notes, before
    the section gains, which scale both alike); the backing's EQ (``low_shelf_hz``/``low_shelf_db``,
    ``mid_hz``/``mid_db``/``mid_q`` a peak, ``high_shelf_hz``/``high_shelf_db``), compressor
    (``threshold_db``, ``ratio``, ``attack_ms``, ``release_ms``) and reverb (``room_size``, ``damping``,
    ``wet``, as pedalboard's ``Reverb``); the vocals' reverb (``vocal_room_size``, ``vocal_wet``)."""

    vocal_db: float
    low_shelf_hz: float
    low_shelf_db: float
    mid_hz: float
    mid_db: float
    mid_q: float
    high_shelf_hz: float
    high_shelf_db: float
    threshold_db: float
    ratio: float
    attack_ms: float
    release_ms: float
    room_size: float
    damping: float
    wet: float
    vocal_room_size: float
    vocal_wet: float

    @classmethod
    def draw(cls, seed: int, index: int) -> BandMix:
        """The settings of song ``index`` of the corpus of ``seed`` (from ``(seed, index, 3)`` alone)."""
        rng = np.random.default_rng([seed, index, 3])

        def uniform(low: float, high: float, digits: int = 2) -> float:
            return round(float(rng.uniform(low, high)), digits)

        return cls(
            vocal_db=uniform(*VOCAL_DB),
            low_shelf_hz=uniform(80.0, 250.0, 0),
            low_shelf_db=uniform(-4.0, 4.0),
            mid_hz=uniform(400.0, 3000.0, 0),
            mid_db=uniform(-5.0, 3.0),
            mid_q=uniform(0.5, 1.5),
            high_shelf_hz=uniform(3000.0, 8000.0, 0),
            high_shelf_db=uniform(-6.0, 3.0),
            threshold_db=uniform(-26.0, -12.0),
            ratio=uniform(1.5, 6.0),
            attack_ms=uniform(3.0, 30.0),
            release_ms=uniform(60.0, 300.0, 0),
            room_size=uniform(0.2, 0.8),
            damping=uniform(0.2, 0.8),
            wet=uniform(0.05, 0.3),
            vocal_room_size=uniform(0.1, 0.4),
            vocal_wet=uniform(0.03, 0.12),
        )

    def to_text(self) -> str:
        """The settings as one line of JSON (for ``metadata/songs.csv``)."""
        return json.dumps(asdict(self), separators=(",", ":"))

    def treat_backing(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """``audio`` through the EQ, the compressor and the reverb: float32, same shape."""
        pb = _pedalboard()
        board = pb.Pedalboard([
            pb.LowShelfFilter(cutoff_frequency_hz=self.low_shelf_hz, gain_db=self.low_shelf_db),
            pb.PeakFilter(cutoff_frequency_hz=self.mid_hz, gain_db=self.mid_db, q=self.mid_q),
            pb.HighShelfFilter(cutoff_frequency_hz=self.high_shelf_hz, gain_db=self.high_shelf_db),
            pb.Compressor(threshold_db=self.threshold_db, ratio=self.ratio, attack_ms=self.attack_ms,
                          release_ms=self.release_ms),
            pb.Reverb(room_size=self.room_size, damping=self.damping, wet_level=self.wet, dry_level=1.0 - self.wet),
        ])  # fmt: skip
        return board(audio.astype(np.float32), sample_rate).astype(np.float32)

    def treat_vocals(self, audio: np.ndarray, sample_rate: int) -> np.ndarray:
        """``audio`` with a light reverb: float32, same shape."""
        pb = _pedalboard()
        reverb = pb.Reverb(room_size=self.vocal_room_size, damping=0.5, wet_level=self.vocal_wet, dry_level=1.0)
        return pb.Pedalboard([reverb])(audio.astype(np.float32), sample_rate).astype(np.float32)


def _pedalboard():
    try:
        import pedalboard
    except ImportError as error:
        raise MissingDependencyError("pedalboard", "The SoundFont backing's effects", BAND_EXTRA) from error
    return pedalboard


def render_band_backing(section: SectionMusic, n_samples: int, sample_rate: int, font: SoundFont) -> np.ndarray:
    """:func:`.music.backing_notes` of ``section`` on ``font``'s General MIDI instruments, in a buffer of shape
    ``(n_samples,)`` (zero outside the section; a note's release is cut at the section's end)."""
    out = np.zeros(n_samples, np.float32)
    programs = {"chords": GM_PROGRAMS[section.chords], "bass": GM_PROGRAMS[section.bass]}
    for note in backing_notes(section):
        if note.part in programs:
            for pitch in note.pitches:
                sound = font.note(programs[note.part], midi_key(pitch), note.duration, sample_rate, VELOCITY)
                add_sound(out, note.gain * sound, note.onset, note.until, sample_rate)
        else:
            sound = font.note(0, GM_DRUMS[note.part], note.duration, sample_rate, VELOCITY, bank=DRUM_BANK)
            add_sound(out, note.gain * sound, note.onset, note.until, sample_rate)
    return out


def render_band_lead(notes: list[Note], timbre: str, n_samples: int, sample_rate: int, font: SoundFont) -> np.ndarray:
    """The lead instrument ``timbre`` (a :data:`GM_PROGRAMS` name) playing ``notes`` (their MIDI pitch, start
    and end; released at the end, cut at the next note's start), shape ``(n_samples,)``."""
    out = np.zeros(n_samples, np.float32)
    for i, note in enumerate(notes):
        until = notes[i + 1].start if i + 1 < len(notes) else note.end + 1.0
        sound = font.note(GM_PROGRAMS[timbre], midi_key(note.pitch), note.end - note.start, sample_rate, VELOCITY)
        add_sound(out, sound, note.start, until, sample_rate)
    return out
