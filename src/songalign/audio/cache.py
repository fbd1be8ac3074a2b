"""A feature cache on disk, keyed by the audio file's content and the feature parameters.

The key is ``sha1(file bytes) + LogMelConfig.key() + window``: renaming or moving a file keeps
its cache entries; editing it (or changing a parameter) makes new ones. Entries are ``.npy``
files written atomically (write to a temporary name, then rename), so an interrupted run leaves
no half-written entry and a re-run picks up where it stopped; an entry that cannot be read is
computed again.
"""

from __future__ import annotations

import hashlib
import os
import tempfile
from collections.abc import Callable
from pathlib import Path

import numpy as np

from songalign.audio.features import LogMelConfig, log_mel
from songalign.audio.io import load_audio
from songalign.audio.windows import fit_length
from songalign.errors import BadInputError


def file_digest(path: str | Path, algorithm: str = "sha1") -> str:
    """The hex digest of the file's bytes by ``algorithm`` (a :mod:`hashlib` name: ``sha1``, ``sha256``)."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, algorithm).hexdigest()


class FeatureCache:
    """Log-mel features of audio windows, computed once and kept under ``root``."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._digests: dict[tuple[str, int, int], str] = {}
        self.hits = 0
        self.misses = 0

    def _digest(self, path: str | Path) -> str:
        """:func:`file_digest` of ``path``, remembered while its size and modification time stay the same;
        :class:`~songalign.errors.BadInputError` when it cannot be read (the key needs the file's bytes)."""
        try:
            stat = os.stat(path)
            marker = (str(path), stat.st_size, stat.st_mtime_ns)
            if marker not in self._digests:
                self._digests[marker] = file_digest(path)
        except OSError as error:  # missing, a folder, no permission, or an empty path ("" names no file)
            raise BadInputError(
                path or "(no audio path)",
                f"audio file cannot be read ({error.strerror or error}); check the path or put the file there",
            ) from error
        return self._digests[marker]

    def key(self, path: str | Path, extractor: str, offset: float = 0.0, duration: float | None = None) -> str:
        """Cache key of a window of ``path`` under a feature extractor named by ``extractor`` (its parameters)."""
        window = f"{offset:.6f}:{'all' if duration is None else f'{duration:.6f}'}"
        material = f"{self._digest(path)}|{extractor}|{window}"
        return hashlib.sha1(material.encode()).hexdigest()

    def _entry(self, key: str) -> Path:
        return self.root / key[:2] / f"{key}.npy"

    def get(self, key: str) -> np.ndarray | None:
        """The array kept under ``key``; None when there is none or the entry cannot be read (a damaged entry
        is a miss: computed again and replaced)."""
        entry = self._entry(key)
        if not entry.is_file():
            return None
        try:
            return np.load(entry, allow_pickle=False)
        except (OSError, ValueError, EOFError):
            return None

    def put(self, key: str, array: np.ndarray) -> None:
        entry = self._entry(key)
        entry.parent.mkdir(parents=True, exist_ok=True)
        with tempfile.NamedTemporaryFile(dir=entry.parent, suffix=".tmp", delete=False) as handle:
            np.save(handle, array)
        os.replace(handle.name, entry)

    def features(
        self,
        path: str | Path,
        sample_rate: int,
        extractor: str,
        extract: Callable[[np.ndarray], np.ndarray],
        offset: float = 0.0,
        duration: float | None = None,
        samples: int | None = None,
    ) -> np.ndarray:
        """``extract(audio)`` of a window of ``path`` (mono at ``sample_rate`` Hz), from cache if present.

        ``extractor`` names the extractor and its parameters (it is part of the key);
        ``samples``, when given, pads or cuts the window to exactly that many samples first.
        """
        key = self.key(path, f"{extractor}|sr={sample_rate}|n={samples}", offset, duration)
        cached = self.get(key)
        if cached is not None:
            self.hits += 1
            return cached
        self.misses += 1
        audio, _ = load_audio(path, sample_rate, offset=offset, duration=duration)
        if samples is not None:
            audio = fit_length(audio, samples)
        result = np.asarray(extract(audio))
        self.put(key, result)
        return result

    def log_mel(
        self, path: str | Path, config: LogMelConfig, offset: float = 0.0, duration: float | None = None
    ) -> np.ndarray:
        """Log-mel ``(n_mels, frames)`` of ``duration`` s of ``path`` from ``offset`` s, from cache if present."""
        return self.features(
            path, config.sample_rate, f"log_mel:{config.key()}", lambda a: log_mel(a, config).numpy(), offset, duration
        )
