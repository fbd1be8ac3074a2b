"""open-unmix's vocals model with local weights, as a :class:`~songalign.separate.Separator`.

open-unmix's ``OpenUnmix`` class loads its ``.pth`` state dict and ``.json`` settings from a folder
(as ``openunmix`` writes them); no weights ship offline, so this needs the ``openunmix`` package and a
model the user has. Separation runs at the model's own rate (the audio resampled by soxr) on stereo
pairs (:func:`~songalign.separate.separate_channels`); the accompaniment is the pair minus its vocals.
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
from pathlib import Path

import numpy as np

from songalign.checkpoint import files_digest, versioned_digest
from songalign.errors import BadInputError, SongalignError
from songalign.separate import Stems, separate_channels

PORT_VERSION = 1
"""The version of this wrapper's processing (vocals target only, no Wiener iterations, the accompaniment as
the pair minus its vocals, resampling to the model's rate): bump it when that changes. Folded with the
model folder's files and the installed ``openunmix`` version into :attr:`OpenUnmixSeparator.digest`."""


class OpenUnmixSeparator:
    """The stems of audio by the open-unmix vocals model saved in the folder ``model``, loaded at the first song.

    ``digest``: SHA-256 over the folder's ``.pth`` and ``.json`` files (sorted by path), this wrapper's
    :data:`PORT_VERSION` and the ``openunmix`` package's version (16 hex digits)."""

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
        try:
            package = importlib.metadata.version("openunmix")
        except importlib.metadata.PackageNotFoundError:  # importable without metadata (a source checkout)
            package = "unknown"
        processing = f"open-unmix wrapper {PORT_VERSION}, openunmix {package}"
        self.digest = versioned_digest(files_digest(sorted([*weights, *self.folder.glob("*.json")])), processing)
        self._separator = None

    def separate(self, audio: np.ndarray, sample_rate: int) -> Stems:
        """The :class:`~songalign.separate.Stems` of ``audio`` (``(samples,)`` or ``(channels, samples)`` at
        ``sample_rate`` Hz), at the model's rate."""
        import torch
        from openunmix import utils as umx_utils

        if self._separator is None:
            with torch.random.fork_rng(devices=[]):  # its modules draw initial weights before loading them
                self._separator = umx_utils.load_separator(
                    str(self.folder), targets=["vocals"], niter=0, pretrained=True, device="cpu"
                )

        def pairs(stereo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            with torch.inference_mode():
                vocals = self._separator(torch.from_numpy(stereo))[:, 0].numpy()
            return vocals, stereo - vocals

        return separate_channels(audio, sample_rate, int(self._separator.sample_rate), pairs)
