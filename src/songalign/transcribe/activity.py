"""Vocal activity: where in a song someone sings, from the separated vocals against the accompaniment.

An aligner must not put lyrics where nobody sings. :func:`vocal_activity` marks each frame (of any
length; the CTC emission frame, 32 ms, by default) as sung when the vocal stem is loud enough in
itself and against the rest of the song:

- ``vocal_db[t] = 20·log10(rms(vocals over frame t))`` and likewise ``accompaniment_db[t]`` (dBFS;
  ``accompaniment = mix − vocals`` for a separator's stem, which :func:`accompaniment_of` gives);
- a frame is sung when ``vocal_db[t] > floor_db`` and ``vocal_db[t] > accompaniment_db[t] − margin_db``:
  a separator leaks some accompaniment into its vocals, some 20 dB or more below the accompaniment
  (:data:`MARGIN_DB` keeps such leaks out), and a voice above :data:`FLOOR_DB` is audible;
- the marks are then smoothed: a median over :data:`SMOOTH_SECONDS` removes single-frame blips, and
  each sung run is widened by :data:`HOLD_SECONDS` either side, so a word's soft first consonant and
  its fading end stay inside.

Plain arrays in, a boolean array out: any backend that gives per-frame emissions (or word times) can
use it. Without an accompaniment (a copy of the mix heard as vocals) only the floor applies: silence
is still found, instrumental passages are not.
"""

from __future__ import annotations

import numpy as np

from songalign.transcribe.symbols import EMISSION_SECONDS

FLOOR_DB = -50.0
"""Vocals quieter than this (dBFS, RMS over a frame) are not singing."""

MARGIN_DB = 10.0
"""How far below the accompaniment (dB) the vocal stem may be and still count as singing."""

SMOOTH_SECONDS = 0.16
"""The median filter's length over the framewise marks, in seconds."""

HOLD_SECONDS = 0.16
"""How far each sung run is widened on either side, in seconds."""

MIN_SUNG_SECONDS = 0.5
"""Audio with fewer sung seconds than this has no singing to align lyrics to."""


def frame_db(signal: np.ndarray, rate: int, frames: int, frame_seconds: float = EMISSION_SECONDS) -> np.ndarray:
    """RMS level in dBFS of ``signal`` (shape ``(N,)``, samples at ``rate`` Hz) over ``frames`` frames of
    ``frame_seconds`` each, frame ``t`` covering samples ``[t·hop, (t+1)·hop)``; shape ``(frames,)``.

    Samples past the signal's end count as silence; silence is -200 dB (not -inf)."""
    hop = max(1, round(frame_seconds * rate))
    padded = np.zeros(frames * hop, dtype=np.float64)
    kept = np.asarray(signal, dtype=np.float64)[: frames * hop]
    padded[: kept.size] = kept
    power = np.mean(padded.reshape(frames, hop) ** 2, axis=1)
    return 10.0 * np.log10(np.maximum(power, 1e-20))


def accompaniment_of(mix: np.ndarray, vocals: np.ndarray) -> np.ndarray:
    """What is left of ``mix`` without ``vocals`` (both ``(N,)`` at one rate): ``mix − vocals``, shape ``(N,)``."""
    length = min(len(mix), len(vocals))
    return np.asarray(mix[:length], dtype=np.float64) - np.asarray(vocals[:length], dtype=np.float64)


def _median_filter(marks: np.ndarray, width: int) -> np.ndarray:
    """A boolean running median (majority vote) over an odd ``width`` of frames, edges padded with False."""
    if width <= 1:
        return marks
    half = width // 2
    padded = np.concatenate([np.zeros(half), marks.astype(np.float64), np.zeros(half)])
    counts = np.convolve(padded, np.ones(width), mode="valid")
    return counts > width / 2


def _widen(marks: np.ndarray, frames: int) -> np.ndarray:
    """``marks`` with every True frame spreading ``frames`` frames to either side."""
    if frames <= 0 or not marks.any():
        return marks
    counts = np.convolve(marks.astype(np.float64), np.ones(2 * frames + 1), mode="same")
    return counts > 0.5


def vocal_activity(
    vocals: np.ndarray,
    rate: int,
    frames: int,
    accompaniment: np.ndarray | None = None,
    *,
    frame_seconds: float = EMISSION_SECONDS,
    floor_db: float = FLOOR_DB,
    margin_db: float = MARGIN_DB,
    smooth_seconds: float = SMOOTH_SECONDS,
    hold_seconds: float = HOLD_SECONDS,
) -> np.ndarray:
    """Which of ``frames`` frames (``frame_seconds`` each) hold singing; boolean, shape ``(frames,)``.

    ``vocals`` and ``accompaniment`` (None: only the floor applies) are mono samples ``(N,)`` at ``rate``
    Hz. See the module docstring for the rule and its defaults.
    """
    vocal_db = frame_db(vocals, rate, frames, frame_seconds)
    sung = vocal_db > floor_db
    if accompaniment is not None:
        sung &= vocal_db > frame_db(accompaniment, rate, frames, frame_seconds) - margin_db
    return smoothed(sung, frame_seconds, smooth_seconds=smooth_seconds, hold_seconds=hold_seconds)


def smoothed(
    marks: np.ndarray,
    frame_seconds: float = EMISSION_SECONDS,
    *,
    smooth_seconds: float = SMOOTH_SECONDS,
    hold_seconds: float = HOLD_SECONDS,
) -> np.ndarray:
    """Framewise marks (boolean ``(T,)``, frames of ``frame_seconds``) median-smoothed over ``smooth_seconds``
    (rounded to an odd number of frames) and each run widened by ``hold_seconds`` either side; boolean
    ``(T,)``. :func:`vocal_activity`'s last step, for marks from any detector."""
    width = max(1, round(smooth_seconds / frame_seconds)) | 1  # odd
    return _widen(_median_filter(np.asarray(marks, dtype=bool), width), round(hold_seconds / frame_seconds))


def gaps(active: np.ndarray) -> list[tuple[int, int]]:
    """The runs of inactive frames in ``active`` (boolean ``(T,)``) as ``(first, last + 1)`` frame pairs."""
    padded = np.concatenate([[True], np.asarray(active, dtype=bool), [True]])
    changes = np.flatnonzero(np.diff(padded.astype(np.int8)))
    return [(int(a), int(b)) for a, b in zip(changes[0::2], changes[1::2], strict=True)]
