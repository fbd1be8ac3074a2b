"""open-unmix's vocals model with local weights, as a :class:`~songalign.separate.Separator`.

open-unmix's ``OpenUnmix`` class loads its ``.pth`` state dict and ``.json`` settings from a folder
(as ``openunmix`` writes them); no weights ship offline, so this needs the ``openunmix`` package and a
model the user has. Separation runs at the model's own rate (the mix resampled by soxr) on a
two-channel copy of the mono mix; the vocals are the mean of the two output channels, at 16 kHz.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np

from songalign.errors import BadInputError, SongalignError
from songalign.separate import SAMPLE_RATE


class OpenUnmixSeparator:
    """The vocals of a mix by the open-unmix model saved in the folder ``model``, loaded at the first song."""

    def __init__(self, model: str | Path) -> None:
        self.folder = Path(model)
        if importlib.util.find_spec("openunmix") is None:
            raise SongalignError(
                "separating vocals needs open-unmix: pip install openunmix, and give a local vocals model folder"
            )
        if not self.folder.is_dir():
            raise BadInputError(self.folder, "is not an open-unmix model folder; give the folder holding vocals.pth")
        self._separator = None

    def separate(self, mix: np.ndarray) -> np.ndarray:
        """The vocals ``(N,)`` of ``mix``, a mono 16 kHz float array ``(N,)``."""
        import soxr
        import torch
        from openunmix import utils as umx_utils

        if self._separator is None:
            self._separator = umx_utils.load_separator(
                str(self.folder), targets=["vocals"], niter=0, pretrained=True, device="cpu"
            )
        rate = int(self._separator.sample_rate)
        resampled = mix if rate == SAMPLE_RATE else soxr.resample(mix, SAMPLE_RATE, rate)
        with torch.no_grad():
            stereo = torch.from_numpy(np.stack([resampled, resampled])[None]).float()
            estimate = self._separator(stereo)[0, 0].mean(0).numpy()
        return estimate if rate == SAMPLE_RATE else soxr.resample(estimate, rate, SAMPLE_RATE)
