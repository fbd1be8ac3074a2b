"""Errors a user can cause, and the record of what a batch skipped.

A :class:`SongalignError` carries one sentence that names the file or field at fault and what
to do about it; the CLI prints that sentence instead of a traceback. Batch jobs (corpus
preparation, description, indexing) never stop at the first bad item: they add it to a
:class:`SkipReport` (as skipped; as repaired when they could fix it; as noted when they kept it as
it is but the user should know, e.g. a song kept without its audio) and carry on, then print a
short summary by kind at the end and, where they have an output folder, write the full list.
"""

from __future__ import annotations

import csv
import logging
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

log = logging.getLogger("songalign")


EXAMPLES_PER_KIND = 3
"""Items a summary names after each kind of skip or repair; the full list is in the report's file."""


class SongalignError(Exception):
    """A problem the user can fix; ``str(error)`` is one sentence saying what and how."""


def first_validation_problem(error: Any) -> tuple[str, str]:
    """``(dotted field, message)`` of the first problem of a pydantic ``ValidationError``.

    The message loses pydantic's "Value error, " prefix, so that a validator's own sentence reads
    as written. Typed ``Any`` so that this module does not import pydantic.
    """
    first = error.errors()[0]
    where = ".".join(str(part) for part in first["loc"])
    return where, str(first["msg"]).removeprefix("Value error, ")


class BadInputError(SongalignError):
    """A file (or one row of it) that cannot be used.

    ``path`` names the file; the message says what is wrong with it and what to do.
    """

    def __init__(self, path: str | Path, problem: str):
        self.path = str(path)
        self.problem = problem
        super().__init__(f"{self.path}: {problem}")


class UnknownNameError(SongalignError, KeyError):
    """A name that a registry (or another lookup by name) does not hold; the message lists the choices.

    It is a ``KeyError`` too, so that mapping code (``registry.get(name, default)``) treats it as a
    missing key; ``str(error)`` is the sentence itself (a plain ``KeyError`` would quote it).
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class MissingDependencyError(SongalignError):
    """An optional package is needed for the requested feature."""

    def __init__(self, package: str, feature: str, extra: str | None = None):
        how = f"pip install 'songalign[{extra}]'" if extra else f"pip install {package}"
        super().__init__(f"{feature} needs the package '{package}'; install it with: {how}")


SKIPPED = "skipped"
"""The item was left out (a song, a file, a row, or part of a song such as one line)."""
REPAIRED = "repaired"
"""The item was kept, changed so that it can be used (e.g. a line's end moved off the next line)."""
NOTED = "noted"
"""The item was kept as it is, with something the user should know (e.g. a song kept without its audio)."""
ACTIONS: tuple[str, ...] = (SKIPPED, REPAIRED, NOTED)
"""Every action of a :class:`ReportEntry`, in the order a summary names them."""

_QUOTED = re.compile(r"(?<!\w)'[^']*'(?!\w)|\"[^\"]*\"")  # not the apostrophe of "song's"
_NUMBER = re.compile(r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])")


def reason_kind(reason: str) -> str:
    """The category of a reason: the reason with its particulars (quoted text, numbers) blanked.

    ``"line 'Hold on' overlaps the next line by 0.120 s"`` → ``"line '…' overlaps the next line by … s"``,
    so that reasons from the same check, differing only in the song's details, are counted together.
    """
    return _NUMBER.sub("…", _QUOTED.sub("'…'", reason))


@dataclass
class ReportEntry:
    """One item a batch job skipped, repaired or noted: where it was, why, and its category.

    ``kind`` groups entries in the summary; when not given it is :func:`reason_kind` of ``reason``.
    """

    path: str
    reason: str
    item: str = ""
    kind: str = ""
    action: str = SKIPPED

    def __post_init__(self) -> None:
        self.kind = self.kind or reason_kind(self.reason)

    @property
    def label(self) -> str:
        """A short name for the item in examples: the item, else the file name."""
        return self.item or Path(self.path).name or self.path


@dataclass
class KindCount:
    """How many entries of one action share one kind, with the first few as examples."""

    action: str
    kind: str
    count: int
    examples: list[str]


SKIPPED_FILE = "skipped.csv"
"""The name of the file that lists every entry of a batch's report, in the batch's output folder."""

REPORT_COLUMNS: tuple[str, ...] = ("action", "kind", "path", "item", "reason")
"""The columns of the file :meth:`SkipReport.write_csv` writes, in order."""


@dataclass
class SkipReport:
    """What a batch job skipped, repaired or noted, in order; each entry is logged at DEBUG as it happens.

    ``kept`` counts the items the job did use (repaired and noted items among them), so a summary
    can say "kept 78, skipped 2, repaired 5". ``len(report)`` counts the skipped items only. The
    terminal gets a summary by kind (:meth:`kinds`); the full list goes to a file (:meth:`write_csv`).
    """

    entries: list[ReportEntry] = field(default_factory=list)
    kept: int = 0

    def skip(self, path: str | Path, reason: str, item: str = "", kind: str = "") -> None:
        """Record an item left out; ``reason`` says why and what to do about it."""
        self._add(ReportEntry(str(path), reason, item, kind, SKIPPED))

    def repair(self, path: str | Path, reason: str, item: str = "", kind: str = "") -> None:
        """Record an item kept after a change; ``reason`` says what was changed."""
        self._add(ReportEntry(str(path), reason, item, kind, REPAIRED))

    def note(self, path: str | Path, reason: str, item: str = "", kind: str = "") -> None:
        """Record an item kept unchanged that the user should know about; ``reason`` says what and what it means."""
        self._add(ReportEntry(str(path), reason, item, kind, NOTED))

    def add_error(self, error: BadInputError, item: str = "", kind: str = "") -> None:
        """Record as skipped the item a :class:`BadInputError` was raised for: its file and its problem."""
        self.skip(error.path, error.problem, item, kind)

    def _add(self, entry: ReportEntry) -> None:
        self.entries.append(entry)
        where = f"{entry.path} [{entry.item}]" if entry.item else entry.path
        log.debug("%s %s: %s", entry.action, where, entry.reason)

    def extend(self, other: SkipReport) -> None:
        self.entries.extend(other.entries)
        self.kept += other.kept

    @property
    def skipped(self) -> list[ReportEntry]:
        """The entries left out, in order."""
        return [e for e in self.entries if e.action == SKIPPED]

    @property
    def repaired(self) -> list[ReportEntry]:
        """The entries kept after a repair, in order."""
        return [e for e in self.entries if e.action == REPAIRED]

    @property
    def noted(self) -> list[ReportEntry]:
        """The entries kept as they are with a note, in order."""
        return [e for e in self.entries if e.action == NOTED]

    def counts(self) -> dict[str, int]:
        """How many entries each action has: ``{"skipped": n, "repaired": n, "noted": n}``."""
        return {action: sum(1 for e in self.entries if e.action == action) for action in ACTIONS}

    def __len__(self) -> int:
        """How many items were skipped (repairs not counted)."""
        return len(self.skipped)

    def kinds(self, examples: int = EXAMPLES_PER_KIND) -> list[KindCount]:
        """Entries grouped by (action, kind), most common first, each with up to ``examples`` distinct labels."""
        groups: dict[tuple[str, str], KindCount] = {}
        for entry in self.entries:
            group = groups.setdefault((entry.action, entry.kind), KindCount(entry.action, entry.kind, 0, []))
            group.count += 1
            if len(group.examples) < examples and entry.label not in group.examples:
                group.examples.append(entry.label)
        return sorted(groups.values(), key=lambda g: (-g.count, g.action, g.kind))

    def summary(self) -> str:
        """One line: how many items were kept and skipped, and how many were repaired or noted (if any)."""
        counts = self.counts()
        rest = "".join(f", {action} {counts[action]}" for action in (REPAIRED, NOTED) if counts[action])
        return f"kept {self.kept}, skipped {counts[SKIPPED]}{rest}"

    def write_csv(self, path: str | Path) -> Path:
        """Write every entry (columns :data:`REPORT_COLUMNS`) to the CSV ``path``; returns it."""
        path = Path(path)
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=REPORT_COLUMNS)
            writer.writeheader()
            for entry in self.entries:
                writer.writerow({column: getattr(entry, column) for column in REPORT_COLUMNS})
        return path
