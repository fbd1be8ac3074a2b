"""Deterministic windows over audio: no random crops, so the same call gives the same embedding.

- :func:`segment_window` fits a segment into a clip of ``clip`` seconds: a longer segment is
  centre-cropped, a shorter one is read whole (and zero-padded by :func:`fit_length`).
- :func:`song_windows` covers a whole song with fixed windows of ``clip`` seconds every ``hop``
  seconds; their embeddings are pooled into one song embedding.
"""

from __future__ import annotations

import math

import numpy as np


def segment_window(start: float, end: float, clip: float) -> tuple[float, float]:
    """``(offset, duration)`` in seconds of the part of ``[start, end]`` that a ``clip``-second input holds."""
    length = end - start
    if length <= clip:
        return max(0.0, start), length
    return start + 0.5 * (length - clip), clip


def fit_length(audio: np.ndarray, samples: int) -> np.ndarray:
    """Zero-pad at the end or cut ``audio`` (last axis) to exactly ``samples`` samples."""
    have = audio.shape[-1]
    if have >= samples:
        return audio[..., :samples]
    pad = [(0, 0)] * (audio.ndim - 1) + [(0, samples - have)]
    return np.pad(audio, pad)


def song_windows(duration: float, clip: float, hop: float | None = None) -> list[tuple[float, float]]:
    """Fixed ``(offset, duration)`` windows covering ``[0, duration]`` seconds; the last may be shorter.

    ``hop`` defaults to ``clip`` (no overlap). A song shorter than ``clip`` gets one window.
    """
    hop = hop or clip
    if duration <= clip:
        return [(0.0, duration)]
    count = int(math.ceil((duration - clip) / hop)) + 1
    return [(i * hop, min(clip, duration - i * hop)) for i in range(count)]
