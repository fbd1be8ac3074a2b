"""Errors a user can cause, and the record of what a batch skipped.

A :class:`SongalignError` carries one sentence that names the file or field at fault and what
to do about it; the CLI prints that sentence instead of a traceback. Batch jobs (corpus
preparation, description, indexing) never stop at the first bad item: they add it to a
:class:`SkipReport` and carry on, then print the report at the end.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

log = logging.getLogger("songalign")


class SongalignError(Exception):
    """A problem the user can fix; ``str(error)`` is one sentence saying what and how."""


class BadInputError(SongalignError):
    """A file (or one row of it) that cannot be used.

    ``path`` names the file; the message says what is wrong with it and what to do.
    """

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class MissingDependencyError(SongalignError):
    """An optional package is needed for the requested feature."""

    def __init__(self, package: str, feature: str, extra: str | None = None):
        how = f"pip install 'songalign[{extra}]'" if extra else f"pip install {package}"
        super().__init__(f"{feature} needs the package '{package}'; install it with: {how}")


@dataclass
class Skipped:
    """One item a batch job passed over: where it was and why."""

    path: str
    reason: str
    item: str = ""


@dataclass
class SkipReport:
    """What a batch job skipped, in order; logged as it happens.

    ``kept`` counts the items the job did use, so a summary can say "kept 78, skipped 2".
    """

    skipped: list[Skipped] = field(default_factory=list)
    kept: int = 0

    def skip(self, path: str | Path, reason: str, item: str = "") -> None:
        entry = Skipped(str(path), reason, item)
        self.skipped.append(entry)
        where = f"{entry.path} [{item}]" if item else entry.path
        log.warning("skipped %s: %s", where, reason)

    def add_error(self, error: BadInputError, item: str = "") -> None:
        self.skip(error.path, error.problem, item)

    def extend(self, other: SkipReport) -> None:
        self.skipped.extend(other.skipped)
        self.kept += other.kept

    def __len__(self) -> int:
        return len(self.skipped)

    def reasons(self) -> Counter[str]:
        """How many items were skipped for each distinct reason."""
        return Counter(s.reason for s in self.skipped)

    def summary(self) -> str:
        """One line: how many items were kept and skipped."""
        return f"kept {self.kept}, skipped {len(self.skipped)}"
