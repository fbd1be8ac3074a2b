"""DALI cleansing (seed 001, first paper): fix each song's global pitch offset, drop songs that stay wrong.

DALI's notes were annotated by hand against karaoke files; a whole song is often off by an octave
(or another constant interval). Per song, the global shift ``s`` (whole semitones) that best
matches a pitch *reference* (a pitch model's estimate of the sung pitch) is found, the song's notes
are moved by ``s``, and songs still wrong on more than half their frames are dropped.

Frame grid: the transcriber's 16 ms frames (62.5 per second); frame ``t`` is centred at
``t · 0.016`` s and holds the note with ``start <= t · 0.016 < end`` (a later note in the list wins
where notes overlap), exactly as :func:`songalign.transcribe.data.pitch_onset_targets` builds the
pitch targets.

**Framewise error** of a shift ``s``: each frame's pitch class — the annotated MIDI pitch plus ``s``,
rounded half up to a whole semitone, or "no pitch" where no note sounds — is compared with the
reference's (its MIDI number, or "no pitch" where it is NaN). A pitched frame is right when the two
lie within half a semitone (a whole MIDI number for :func:`reference_from_posteriors` and
:func:`basic_pitch_reference`, so: are equal), a silent one when the reference is silent too. Two
measures (``frame_error``):

- ``"all"`` (the default): the share of **all** ``T`` frames that are wrong — the paper's eq. 10,
  ``1 - #{frames estimated correctly} / #{total frames}``, and the authors' ``evaluate_frames``
  (``sum(reference != annotated) / T`` over the pitch classes, "no pitch" included). A frame both
  sides call silent is right; one the reference hears pitched where the annotation is silent is
  wrong, whatever the shift. 100 frames, 30 annotated, 18 of those wrong: 0.18.
- ``"voiced"``: the share of the annotated frames ``V`` that are wrong (a stricter check of the
  annotation's notes, blind to its voicing: frames the annotation leaves silent do not count). The
  same song: 18 / 30 = 0.60, so it drops songs the paper keeps. Undefined (NaN) with no annotated frame.

A song with no annotated frame is dropped whatever the measure (there are no notes to fix).

The best shift minimises ``error(s)`` over ``shifts``; ties go to the smallest ``|s|``, then to the
lower ``s`` (so an unshifted song stays unshifted). Shift ranges: the paper's −12…+12
(:data:`PAPER_SHIFTS`, the default) or the authors' code's −24…+12 (:data:`AUTHORS_CODE_SHIFTS`).
A song is kept when ``error(best) <= max_error`` (0.5, the paper's "more than 50%" drops).

Pitch references (``(T,)`` MIDI or NaN on the 16 ms grid):

- the transcriber's own pitch head: :func:`reference_from_posteriors` of its ``(T, 129)`` pitch
  probabilities (:func:`transcriber_reference` for songs);
- basic-pitch's ONNX model (Bittner et al., ICASSP 2022), an independent pitch model:
  :func:`basic_pitch_reference` (:func:`basic_pitch_song_reference` for songs). The model file ships
  in the ``basic-pitch`` wheel, whose metadata requires TensorFlow, so it is installed without its
  dependencies (``pip install --no-deps basic-pitch``) and run with onnxruntime (``songalign[pitch]``).
"""

from __future__ import annotations

import csv
import importlib.util
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.records import Note, Song
from songalign.errors import BadInputError, MissingDependencyError, SongalignError
from songalign.transcribe.symbols import FRAME_SECONDS, NO_PITCH

PAPER_SHIFTS = range(-12, 13)
"""The paper's global shifts, in semitones: −12…+12."""

AUTHORS_CODE_SHIFTS = range(-24, 13)
"""The authors' code's global shifts, in semitones: −24…+12 (octave errors dominate)."""

MAX_ERROR = 0.5
"""Songs whose framewise error after the best shift exceeds this are dropped (the paper's 50%)."""

FRAME_ERRORS = ("all", "voiced")
"""The framewise error measures: ``"all"`` frames (the paper's eq. 10 and the authors' code; the default) or
only the ``"voiced"`` (annotated) frames (see the module docstring)."""

_MEASURED_OVER = {"all": "of all frames", "voiced": "of the annotated frames"}


CLEANSE_COLUMNS = (
    "song_id", "best_shift", "error_before", "error_after", "frames", "voiced_frames", "decision", "reason",
)  # fmt: skip
"""The header of the cleansing report CSV: shift in semitones; the framewise errors before (shift 0) and
after the best shift, as shares of ``frames`` (the reference's frames; measure ``all``) or of
``voiced_frames`` (the annotated ones; measure ``voiced``); ``decision`` ``kept`` or ``dropped``."""

ReferenceFn = Callable[[Song], np.ndarray]
"""A pitch reference for a song: ``(T,)`` MIDI number or NaN (no pitch) per 16 ms frame."""


# --- frames and the framewise error ---------------------------------------------------------------


def annotated_pitch_frames(notes: Sequence[Note], n_frames: int, frame_seconds: float = FRAME_SECONDS) -> np.ndarray:
    """``(n_frames,)`` float64: the MIDI pitch of the note at each frame's centre ``t · frame_seconds`` (s), NaN
    where no note sounds. Notes with a non-finite start, end or pitch are left out."""
    pitch = np.full(n_frames, np.nan)
    centres = np.arange(n_frames) * frame_seconds
    for note in notes:
        if math.isfinite(note.start) and math.isfinite(note.end) and math.isfinite(note.pitch):
            pitch[(centres >= note.start) & (centres < note.end)] = note.pitch
    return pitch


def _check_frame_error(frame_error: str) -> None:
    if frame_error not in FRAME_ERRORS:
        raise ValueError(f"frame_error must be 'all' or 'voiced', got {frame_error!r}")


def _framewise_errors(annotated: np.ndarray, reference: np.ndarray, shifts: np.ndarray, frame_error: str) -> np.ndarray:
    """``(len(shifts),)``: the framewise error (module docstring) per shift, over all frames or the annotated
    (``voiced``) ones; NaN when there is no frame to count."""
    voiced = ~np.isnan(annotated)
    counted = voiced if frame_error == "voiced" else np.ones_like(voiced)
    if not counted.any():
        return np.full(len(shifts), np.nan)
    shifted = np.floor(annotated[counted][None, :] + shifts[:, None] + 0.5)  # (S, F), rounded half up; NaN stays
    target = reference[counted][None, :]
    silent, heard_silent = np.isnan(shifted), np.isnan(target)
    pitch_wrong = np.abs(np.where(silent | heard_silent, 0.0, shifted - target)) > 0.5
    wrong = np.where(silent, ~heard_silent, heard_silent | pitch_wrong)
    return wrong.mean(axis=1)


def _pitch_track(values: Any, name: str) -> np.ndarray:
    track = np.asarray(values, dtype=np.float64)
    if track.ndim != 1:
        raise ValueError(f"{name} must be a (T,) array of MIDI numbers or NaN, got shape {track.shape}")
    return track


def best_pitch_shift(
    annotated: Any, reference: Any, shifts: Iterable[int] = PAPER_SHIFTS, frame_error: str = "all"
) -> tuple[int, float, float]:
    """``(shift, error_before, error_after)``: the global shift (semitones) among ``shifts`` that makes
    ``annotated`` agree best with ``reference`` (both ``(T,)`` MIDI or NaN per frame), the framewise
    error without a shift and with it, over all frames or the ``voiced`` ones (``frame_error``, see the
    module docstring; NaN and shift 0 when there is no frame to count).
    """
    _check_frame_error(frame_error)
    annotated = _pitch_track(annotated, "annotated")
    reference = _pitch_track(reference, "reference")
    if annotated.shape != reference.shape:
        raise ValueError(f"annotated {annotated.shape} and reference {reference.shape} must have the same frames")
    candidates = np.array(sorted(set(int(s) for s in shifts), key=lambda s: (abs(s), s)), dtype=np.float64)
    if not len(candidates):
        raise ValueError("shifts must hold at least one shift")
    before = float(_framewise_errors(annotated, reference, np.zeros(1), frame_error)[0])
    errors = _framewise_errors(annotated, reference, candidates, frame_error)
    if np.isnan(errors).all():
        return 0, before, before
    best = int(np.argmin(errors))  # first minimum: candidates are ordered by |s|, then s
    return int(candidates[best]), before, float(errors[best])


# --- cleansing a corpus -----------------------------------------------------------------------------


@dataclass
class CleanseRow:
    """One song's cleansing result: ``best_shift`` in semitones, errors as shares of ``frames`` (the
    reference's; measure ``all``) or of ``voiced_frames`` (the annotated ones; measure ``voiced``), NaN
    when not measured, ``kept`` and why (``reason``)."""

    song_id: str
    best_shift: int
    error_before: float
    error_after: float
    frames: int
    voiced_frames: int
    kept: bool
    reason: str

    def cells(self) -> list[str]:
        """The row as CSV cells (:data:`CLEANSE_COLUMNS`), errors with 4 decimals."""
        return [
            self.song_id,
            str(self.best_shift),
            f"{self.error_before:.4f}",
            f"{self.error_after:.4f}",
            str(self.frames),
            str(self.voiced_frames),
            "kept" if self.kept else "dropped",
            self.reason,
        ]


@dataclass
class CleanseReport:
    """What :func:`cleanse_songs` did: the kept ``songs`` (notes shifted, ``extra["pitch_shift"]`` and
    ``extra["pitch_error"]`` set), one row per song read, the CSV written, and the measure used
    (``frame_error``, :data:`FRAME_ERRORS`)."""

    songs: list[Song]
    rows: list[CleanseRow]
    csv_path: Path
    max_error: float = MAX_ERROR
    shifts: list[int] = field(default_factory=list)
    frame_error: str = "all"

    @property
    def dropped(self) -> list[CleanseRow]:
        return [row for row in self.rows if not row.kept]

    def summary(self) -> str:
        """One line: kept and dropped counts, how many kept songs were shifted, and the measure."""
        shifted = sum(1 for row in self.rows if row.kept and row.best_shift)
        return (
            f"kept {len(self.songs)} of {len(self.rows)} songs ({shifted} shifted), dropped {len(self.dropped)} "
            f"(framewise error {_MEASURED_OVER[self.frame_error]}, at most {self.max_error:.0%})"
        )


def shift_notes(song: Song, shift: int) -> Song:
    """``song`` with every note's pitch moved by ``shift`` semitones."""
    return replace(song, notes=[replace(note, pitch=note.pitch + shift) for note in song.notes])


def _cleanse_one(
    song: Song, reference_fn: ReferenceFn, max_error: float, shifts: list[int], frame_seconds: float, frame_error: str
) -> tuple[CleanseRow, Song | None]:
    """The song's row, and the song with its notes shifted when it is kept (None when dropped)."""
    if not song.notes:
        return CleanseRow(song.id, 0, math.nan, math.nan, 0, 0, False, "the song has no notes to check"), None
    try:
        reference = _pitch_track(reference_fn(song), f"the pitch reference of song {song.id}")
    except SongalignError as error:
        return CleanseRow(song.id, 0, math.nan, math.nan, 0, 0, False, f"no pitch reference: {error}"), None
    annotated = annotated_pitch_frames(song.notes, len(reference), frame_seconds)
    frames, voiced = len(reference), int((~np.isnan(annotated)).sum())
    if not voiced:
        reason = f"no note lies in the reference's {frames} frames ({frames * frame_seconds:.1f} s)"
        return CleanseRow(song.id, 0, math.nan, math.nan, frames, 0, False, reason), None
    shift, before, after = best_pitch_shift(annotated, reference, shifts, frame_error)
    if after > max_error:
        reason = (
            f"framewise error {after:.1%} {_MEASURED_OVER[frame_error]} after the best shift ({shift:+d}) "
            f"exceeds {max_error:.0%}"
        )
        return CleanseRow(song.id, shift, before, after, frames, voiced, False, reason), None
    reason = f"notes shifted by {shift:+d} semitones" if shift else "no shift needed"
    kept = shift_notes(song, shift)
    kept.extra = {**song.extra, "pitch_shift": shift, "pitch_error": after}
    return CleanseRow(song.id, shift, before, after, frames, voiced, True, reason), kept


def cleanse_songs(
    songs: Iterable[Song],
    reference_fn: ReferenceFn,
    out_csv: str | Path,
    max_error: float = MAX_ERROR,
    shifts: Iterable[int] = PAPER_SHIFTS,
    frame_seconds: float = FRAME_SECONDS,
    frame_error: str = "all",
) -> CleanseReport:
    """Cleanse ``songs`` against ``reference_fn`` (``song -> (T,)`` MIDI or NaN per ``frame_seconds`` frame).

    Each song gets the best global shift among ``shifts`` (:func:`best_pitch_shift`, the framewise error
    over all frames or the ``voiced`` ones: ``frame_error``); a song whose
    error after it exceeds ``max_error``, that has no notes on the reference's frames, or whose
    reference fails with a :class:`~songalign.errors.SongalignError` (e.g. missing audio) is dropped,
    the others are kept with their notes shifted. Every song gets a row in ``out_csv``
    (:data:`CLEANSE_COLUMNS`), written when all songs are done.
    """
    _check_frame_error(frame_error)
    candidates = sorted(set(int(s) for s in shifts))
    kept: list[Song] = []
    rows: list[CleanseRow] = []
    for song in songs:
        row, cleansed = _cleanse_one(song, reference_fn, max_error, candidates, frame_seconds, frame_error)
        rows.append(row)
        if cleansed is not None:
            kept.append(cleansed)
    out_csv = Path(out_csv)
    out_csv.parent.mkdir(parents=True, exist_ok=True)
    with out_csv.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(CLEANSE_COLUMNS)
        writer.writerows(row.cells() for row in rows)
    return CleanseReport(kept, rows, out_csv, max_error, candidates, frame_error)


# --- reference 1: the transcriber's own pitch head ---------------------------------------------------


def reference_from_posteriors(pitch_probs: Any) -> np.ndarray:
    """``(T,)`` float64 MIDI number (the most probable class) or NaN where it is class 128 (no pitch),
    from pitch posteriors ``(T, 129)`` (numpy or a CPU torch tensor; probabilities or logits)."""
    if hasattr(pitch_probs, "detach"):
        pitch_probs = pitch_probs.detach().cpu().numpy()
    probs = np.asarray(pitch_probs)
    if probs.ndim != 2 or probs.shape[1] != NO_PITCH + 1:
        raise ValueError(f"pitch posteriors must have shape (T, {NO_PITCH + 1}), got {probs.shape}")
    best = probs.argmax(axis=1).astype(np.float64)
    best[best == NO_PITCH] = np.nan
    return best


def transcriber_reference(transcriber: Any, vocals: str = "stem") -> ReferenceFn:
    """A :data:`ReferenceFn` from a trained transcriber's pitch head: the song's mix and vocal channel
    (``vocals`` as in :func:`songalign.transcribe.listen.song_audio`: ``"stem"``, ``"mix"`` or an open-unmix
    model path) go through ``transcriber.emissions(mix, vocals, sample_rate).pitch``."""
    from songalign.transcribe.listen import song_audio
    from songalign.transcribe.symbols import SAMPLE_RATE

    def reference(song: Song) -> np.ndarray:
        mix, vocal_channel = song_audio(song, vocals)
        return reference_from_posteriors(transcriber.emissions(mix, vocal_channel, SAMPLE_RATE).pitch)

    return reference


# --- reference 2: basic-pitch's ONNX model -------------------------------------------------------------

BASIC_PITCH_MODEL = Path("saved_models") / "icassp_2022" / "nmp.onnx"
"""The ONNX model's place inside the installed ``basic_pitch`` package."""
BASIC_PITCH_SAMPLE_RATE = 22050
"""basic-pitch's input rate, Hz."""
BASIC_PITCH_HOP = 256
"""Samples per output frame at 22050 Hz (about 86 frames per second)."""
BASIC_PITCH_WINDOW = 2 * BASIC_PITCH_SAMPLE_RATE - BASIC_PITCH_HOP
"""Samples per model call (43844: 2 s less one hop); each call gives 172 frames."""
BASIC_PITCH_OVERLAP_FRAMES = 30
"""Frames shared by consecutive calls; half of them is cut from each side of every call's output."""
BASIC_PITCH_LOWEST_MIDI = 21
"""The MIDI number of the first of its 88 pitch bins (A0)."""
BASIC_PITCH_FRAME_THRESHOLD = 0.3
"""basic-pitch's default note ("frame") activation threshold: below it a frame is unpitched."""
_INPUT_NAME = "serving_default_input_2:0"  # (calls, 43844, 1) float32
_NOTE_OUTPUT = "StatefulPartitionedCall:1"  # (calls, 172, 88) note activations (":2" onsets, ":0" contours)
_INSTALL = "pip install --no-deps basic-pitch, and pip install 'songalign[pitch]' for onnxruntime"


class BasicPitchMissingError(MissingDependencyError):
    """basic-pitch's model file is not installed (the package cannot be a dependency: it requires TensorFlow)."""

    def __init__(self) -> None:
        SongalignError.__init__(
            self, f"The basic-pitch pitch reference needs basic-pitch's ONNX model; install it with: {_INSTALL}"
        )


def basic_pitch_model_path(model_path: str | Path | None = None) -> Path:
    """The path of basic-pitch's ``nmp.onnx``: ``model_path`` when given, else the installed
    ``basic_pitch`` package's copy, found without importing the package (its ``__init__`` may import
    TensorFlow). Raises :class:`BasicPitchMissingError` when there is none."""
    if model_path is not None:
        path = Path(model_path)
        if not path.is_file():
            raise BadInputError(path, "is not a file; give the path of basic-pitch's nmp.onnx")
        return path
    spec = importlib.util.find_spec("basic_pitch")
    for folder in (spec.submodule_search_locations or []) if spec is not None else []:
        candidate = Path(folder) / BASIC_PITCH_MODEL
        if candidate.is_file():
            return candidate
    raise BasicPitchMissingError()


@lru_cache(maxsize=2)
def _basic_pitch_session(path: str) -> Any:
    try:
        import onnxruntime
    except ImportError as error:
        raise MissingDependencyError("onnxruntime", "The basic-pitch pitch reference", extra="pitch") from error
    return onnxruntime.InferenceSession(path, providers=["CPUExecutionProvider"])


def basic_pitch_frames(
    audio: np.ndarray, sample_rate: int, model_path: str | Path | None = None, batch: int = 8
) -> tuple[np.ndarray, np.ndarray]:
    """basic-pitch's note activations for mono ``audio`` at ``sample_rate`` Hz: ``(activations (N, 88),
    times (N,))``, bin ``k`` = MIDI ``21 + k``, ``times`` in seconds from the audio's start.

    The audio is resampled to 22050 Hz, prefixed with half an overlap (15 frames) of silence and cut
    into 43844-sample calls every 43844 − 30·256 samples (the last zero-padded); each call's 172
    frames lose 15 at each end and the rest are joined. Frame ``k`` of call ``w`` (after the cut) is
    at ``(w · hop + k · 256) / 22050`` s, which puts the joins where the calls meet.
    """
    import soxr

    samples = np.asarray(audio, dtype=np.float32).reshape(-1)
    if sample_rate != BASIC_PITCH_SAMPLE_RATE and samples.size:
        samples = soxr.resample(samples, sample_rate, BASIC_PITCH_SAMPLE_RATE, quality="HQ").astype(np.float32)
    session = _basic_pitch_session(str(basic_pitch_model_path(model_path)))
    half = BASIC_PITCH_OVERLAP_FRAMES // 2
    hop = BASIC_PITCH_WINDOW - BASIC_PITCH_OVERLAP_FRAMES * BASIC_PITCH_HOP
    padded = np.concatenate([np.zeros(half * BASIC_PITCH_HOP, np.float32), samples])
    starts = list(range(0, max(len(padded), 1), hop))
    outputs = []
    for first in range(0, len(starts), batch):
        calls = np.zeros((len(starts[first : first + batch]), BASIC_PITCH_WINDOW, 1), np.float32)
        for i, start in enumerate(starts[first : first + batch]):
            piece = padded[start : start + BASIC_PITCH_WINDOW]
            calls[i, : len(piece), 0] = piece
        (notes,) = session.run([_NOTE_OUTPUT], {_INPUT_NAME: calls})
        outputs.append(notes[:, half:-half, :])
    kept = np.concatenate(outputs)  # (calls, 142, 88)
    per_call = kept.shape[1]
    times = (np.arange(len(kept))[:, None] * hop + np.arange(per_call)[None, :] * BASIC_PITCH_HOP).reshape(-1)
    times = times / BASIC_PITCH_SAMPLE_RATE
    activations = kept.reshape(-1, kept.shape[2])
    inside = times < max(len(samples), 1) / BASIC_PITCH_SAMPLE_RATE
    return activations[inside], times[inside]


def basic_pitch_reference(
    audio: np.ndarray,
    sample_rate: int,
    n_frames: int | None = None,
    model_path: str | Path | None = None,
    threshold: float = BASIC_PITCH_FRAME_THRESHOLD,
    frame_seconds: float = FRAME_SECONDS,
) -> np.ndarray:
    """``(n_frames,)`` float64 MIDI number or NaN on the 16 ms grid, from basic-pitch's note activations
    for mono ``audio`` at ``sample_rate`` Hz (best sung on a vocal stem: on a mix the loudest note wins).

    Each grid frame ``t`` (centre ``t · frame_seconds``) takes the basic-pitch frame nearest in time; its
    pitch is the most active of the 88 bins, or NaN when that activation is below ``threshold``.
    ``n_frames`` defaults to the transcriber's frame count for this audio (``samples at 16 kHz // 256 + 1``).
    """
    activations, times = basic_pitch_frames(audio, sample_rate, model_path)
    if n_frames is None:
        n_frames = int(len(np.asarray(audio).reshape(-1)) * 16000 / sample_rate) // 256 + 1
    pitch = np.full(n_frames, np.nan)
    if not len(times):
        return pitch
    centres = np.arange(n_frames) * frame_seconds
    after = np.clip(np.searchsorted(times, centres), 0, len(times) - 1)  # first basic-pitch frame at or after
    before = np.clip(after - 1, 0, len(times) - 1)
    nearest = np.where(np.abs(times[before] - centres) <= np.abs(times[after] - centres), before, after)
    frames = activations[nearest]
    best = frames.argmax(axis=1)
    loud = frames[np.arange(n_frames), best] >= threshold
    pitch[loud] = best[loud] + BASIC_PITCH_LOWEST_MIDI
    return pitch


def basic_pitch_song_reference(vocals: str = "stem", model_path: str | Path | None = None) -> ReferenceFn:
    """A :data:`ReferenceFn` running basic-pitch on a song's vocal channel (``vocals`` as in
    :func:`songalign.transcribe.listen.song_audio`; ``"mix"`` runs it on the mix), on the transcriber's grid."""
    from songalign.transcribe.data import FEATURES, SAMPLE_RATE
    from songalign.transcribe.listen import song_audio

    path = basic_pitch_model_path(model_path)  # fail before the first song when the model is absent

    def reference(song: Song) -> np.ndarray:
        mix, vocal_channel = song_audio(song, vocals)
        audio = mix if vocal_channel is None else vocal_channel
        return basic_pitch_reference(audio, SAMPLE_RATE, n_frames=FEATURES.frames(len(mix)), model_path=path)

    return reference


# --- the command's pieces ------------------------------------------------------------------------------


def pitch_reference(
    reference: str,
    *,
    model: Path | None = None,
    basic_pitch_model: Path | None = None,
    vocals: str | None = None,
) -> tuple[ReferenceFn, str]:
    """``(reference function, what it is)`` for ``reference``: ``"model"`` (the pitch head of the transcriber
    folder ``model``, hearing ``vocals`` or its own vocal channel) or ``"basic-pitch"`` (hearing ``vocals``,
    default the song's stem). One sentence when the model cannot give notes or the vocal channel cannot be had
    (:func:`~songalign.transcribe.listen.check_channel`: a separator is built here, before any song is heard,
    so that a missing one is not a reason given for every song dropped)."""
    from songalign.transcribe.listen import check_channel

    if reference == "model":
        if model is None:
            raise SongalignError("--reference model needs --model: a multitask or pitch transcriber folder")
        from songalign.transcribe.listen import load_transcriber

        transcriber = load_transcriber(model, needs="notes", otherwise=", or --reference basic-pitch")
        source = vocals or transcriber.config.vocals
        where = f"--vocals {vocals}" if vocals else f"the vocal channel {source} of {model}"
        check_channel(source, where, remedy="give --vocals spleeter, stem or mix")
        return transcriber_reference(transcriber, source), f"the pitch head of {model}"
    check_channel(vocals or "stem", f"--vocals {vocals or 'stem'}", remedy="give --vocals spleeter, stem or mix")
    return basic_pitch_song_reference(vocals or "stem", basic_pitch_model), "basic-pitch"


def write_cleansed_corpus(
    manifest: CorpusManifest, report: CleanseReport, out: Path, provenance: dict[str, Any]
) -> CorpusManifest:
    """Save, in ``out``, the prepared corpus of the songs ``report`` kept (notes shifted) and their segments;
    ``manifest.info["cleansed"]`` records ``provenance`` (where from, the reference, the shifts...)."""
    kept = {song.id for song in report.songs}
    segments = [segment for segment in manifest.segments if segment.song_id in kept]
    cleansed = CorpusManifest(songs=report.songs, segments=segments, info={**manifest.info, "cleansed": provenance})
    cleansed.save(out)
    return cleansed
