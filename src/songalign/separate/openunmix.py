"""open-unmix's vocals model with local weights, as a :class:`~songalign.separate.Separator`.

open-unmix's ``OpenUnmix`` class loads its ``.pth`` state dict and ``.json`` settings from a folder
(as ``openunmix`` writes them); no weights ship offline, so this needs the ``openunmix`` package and a
model the user has. Separation runs at the model's own rate (the audio resampled by soxr) on stereo
pairs (:func:`~songalign.separate.separate_channels`); the accompaniment is the pair minus its vocals.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import numpy as np

from songalign.errors import BadInputError, SongalignError
from songalign.separate import Stems, separate_channels


class OpenUnmixSeparator:
    """The stems of audio by the open-unmix vocals model saved in the folder ``model``, loaded at the first song."""

    def __init__(self, model: str | Path | None = None) -> None:
        if importlib.util.find_spec("openunmix") is None:
            raise SongalignError(
                "separating vocals needs open-unmix: pip install openunmix, and give a local vocals model folder"
            )
        if not model:
            raise SongalignError("open-unmix needs a local vocals model folder: give open-unmix:FOLDER")
        self.folder = Path(model)
        weights = sorted(self.folder.glob("*.pth")) if self.folder.is_dir() else []
        if not weights:
            raise BadInputError(self.folder, "is not an open-unmix model folder; give the folder holding vocals.pth")
        digest = hashlib.sha256()
        for path in sorted([*weights, *self.folder.glob("*.json")]):
            with open(path, "rb") as handle:
                digest.update(hashlib.file_digest(handle, "sha256").digest())
        self.digest = digest.hexdigest()[:16]
        self._separator = None

    def separate(self, audio: np.ndarray, sample_rate: int) -> Stems:
        """The :class:`~songalign.separate.Stems` of ``audio`` (``(samples,)`` or ``(channels, samples)`` at
        ``sample_rate`` Hz), at the model's rate."""
        import torch
        from openunmix import utils as umx_utils

        if self._separator is None:
            self._separator = umx_utils.load_separator(
                str(self.folder), targets=["vocals"], niter=0, pretrained=True, device="cpu"
            )

        def pairs(stereo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            with torch.inference_mode():
                vocals = self._separator(torch.from_numpy(stereo))[:, 0].numpy()
            return vocals, stereo - vocals

        return separate_channels(audio, sample_rate, int(self._separator.sample_rate), pairs)
