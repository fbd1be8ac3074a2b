"""On-disk cache of descriptions, keyed by a hash of input, backend, version and options.

Layout: ``<directory>/<key[:2]>/<key>.json``, one small JSON file per description, each written
to a temporary file and renamed into place, so that an interrupted run leaves only whole
entries behind and several threads or processes can fill one cache at once. A run that is
stopped midway and started again finds every entry written so far and describes only the rest.

``key = sha256(canonical JSON of {"backend", "version", "identity", "input"})`` where
``identity`` is :meth:`Describer.cache_identity` (output-changing options) and ``input`` is
:meth:`Describer.cache_input` (the segment fields the output depends on).
"""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

from songalign.corpus.records import Segment
from songalign.describe.base import Describer, Description, stable_digest
from songalign.errors import log


def cache_key(describer: Describer, segment: Segment) -> str:
    """The hex SHA-256 key of ``segment`` described by ``describer``."""
    payload = {
        "backend": describer.name,
        "version": describer.version,
        "identity": describer.cache_identity(),
        "input": describer.cache_input(segment),
    }
    return stable_digest(payload, length=64)


class DescriptionCache:
    """A folder of cached :class:`Description` records."""

    def __init__(self, directory: str | Path):
        self.directory = Path(directory)

    def _path(self, key: str) -> Path:
        return self.directory / key[:2] / f"{key}.json"

    def get(self, key: str) -> Description | None:
        """The cached description, or ``None`` (also for an unreadable entry, which is logged)."""
        path = self._path(key)
        try:
            data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
            return Description.from_dict(data)
        except FileNotFoundError:
            return None
        except (OSError, ValueError, KeyError, TypeError) as exc:
            log.warning("ignoring unreadable description cache entry %s: %s", path, exc)
            return None

    def put(self, key: str, description: Description) -> None:
        path = self._path(key)
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".tmp-", suffix=".json")
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                json.dump(description.to_dict(), handle, ensure_ascii=False, sort_keys=True)
            os.replace(tmp, path)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise

    def __contains__(self, key: str) -> bool:
        return self._path(key).is_file()

    def __len__(self) -> int:
        return sum(1 for _ in self.directory.glob("??/*.json")) if self.directory.is_dir() else 0
