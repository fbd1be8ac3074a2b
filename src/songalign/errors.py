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
import os
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


def refused_global(error: BaseException) -> str | None:
    """The global a ``torch.load(weights_only=True)`` refused (``"builtins.open"``), from its error's text
    (``Unsupported global: GLOBAL module.name``); None when the error is about something else (a damaged file).

    Such a refusal means the pickle would have called or built that object: code that was not run.
    """
    refused = re.search(r"Unsupported global: GLOBAL ([\w.]+)", str(error))
    return refused.group(1) if refused else None


class UnknownNameError(SongalignError, KeyError):
    """A name that a registry (or another lookup by name) does not hold; the message lists the choices.

    It is a ``KeyError`` too, so that mapping code (``registry.get(name, default)``) treats it as a
    missing key; ``str(error)`` is the sentence itself (a plain ``KeyError`` would quote it).
    """

    def __str__(self) -> str:
        return str(self.args[0]) if self.args else ""


class NothingDoneError(SongalignError):
    """A batch command could do none of its items (every one was skipped, or there was none); the CLI exits 1.

    ``report`` is the batch's skip report, for the command to print before the sentence.
    """

    def __init__(self, message: str, report: SkipReport | None = None):
        super().__init__(message)
        self.report = report


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

_QUOTED = r"(?<!\w)'[^']*'(?!\w)|\"[^\"]*\""  # not the apostrophe of "song's"
_NUMBER = r"(?<![\w.])-?\d+(?:\.\d+)?(?![\w.])"
_PARTICULAR = re.compile(rf"(?P<quoted>{_QUOTED})|(?P<number>{_NUMBER})")
_BLANK_QUOTED, _BLANK_NUMBER = "'…'", "…"


def _particulars(reason: str) -> tuple[str, list[str]]:
    """``(kind, particulars)``: the reason with its quoted texts and numbers blanked, and those, in order."""
    found: list[str] = []

    def blank(match: re.Match[str]) -> str:
        found.append(match.group(0))
        return _BLANK_QUOTED if match.group("quoted") is not None else _BLANK_NUMBER

    return _PARTICULAR.sub(blank, reason), found


def reason_kind(reason: str) -> str:
    """The category of a reason: the reason with its particulars (quoted text, numbers) blanked.

    ``"line 'Hold on' overlaps the next line by 0.120 s"`` → ``"line '…' overlaps the next line by … s"``,
    so that reasons from the same check, differing only in the song's details, are counted together.
    """
    return _particulars(reason)[0]


def shown_kind(kind: str, reasons: list[str]) -> str:
    """``kind`` as a summary prints it: each blanked particular filled in from ``reasons`` (the kind's reasons).

    A particular that every reason shares is printed as it is (``"audio file is empty (0 bytes)"``, not
    ``"(… bytes)"``); numbers that differ as their range (``"by 0.120–0.500 s"``); quoted texts that
    differ stay blanked. A kind that a caller named (not blanked from its reasons) is printed as named.
    """
    columns: list[list[str]] | None = None
    template = ""
    for reason in reasons:
        blanked, found = _particulars(reason)
        if blanked != kind:
            continue
        if columns is None:
            template, columns = reason, [[value] for value in found]
        else:
            for column, value in zip(columns, found, strict=True):
                column.append(value)
    if columns is None:
        return kind
    filled = iter([_filled(column) for column in columns])
    return _PARTICULAR.sub(lambda _: next(filled), template)


def _filled(values: list[str]) -> str:
    """One particular across a kind's reasons: the value they share, else a range of numbers, else blanked."""
    if all(value == values[0] for value in values):
        return values[0]
    try:
        numbers = [float(value) for value in values]
    except ValueError:
        return _BLANK_QUOTED
    return f"{values[numbers.index(min(numbers))]}–{values[numbers.index(max(numbers))]}"


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
    """How many entries of one action share one kind, with the first few as examples.

    ``shown`` is the kind with the particulars its entries share filled in (:func:`shown_kind`).
    """

    action: str
    kind: str
    count: int
    examples: list[str]
    shown: str = ""


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
        reasons: dict[tuple[str, str], list[str]] = {}
        for entry in self.entries:
            group = groups.setdefault((entry.action, entry.kind), KindCount(entry.action, entry.kind, 0, []))
            group.count += 1
            reasons.setdefault((entry.action, entry.kind), []).append(entry.reason)
            if len(group.examples) < examples and entry.label not in group.examples:
                group.examples.append(entry.label)
        for key, group in groups.items():
            group.shown = shown_kind(group.kind, reasons[key])
        return sorted(groups.values(), key=lambda g: (-g.count, g.action, g.kind))

    def top_reasons(self, limit: int = 3) -> str:
        """The ``limit`` most common kinds of skip as ``"kind (count×); …"``, for a one-sentence error."""
        kinds = [k for k in self.kinds() if k.action == SKIPPED][:limit]
        return "; ".join(f"{k.shown} ({k.count}×)" for k in kinds)

    def require_done(self, what: str, verb: str, listing: str | Path | None = None) -> None:
        """Raise :class:`NothingDoneError` when no item was kept: the rule every batch command follows.

        A batch command exits 0 when it did something (kept at least one item, or found every item
        already done) and 1 when it could do nothing. ``what`` names the items (``"audio files"``),
        ``verb`` what was to be done to them (``"tagged"``); ``listing`` is the file listing every
        skipped item, when there is one.
        """
        if self.kept:
            return
        skipped = len(self.skipped)
        if not skipped:
            raise NothingDoneError(f"there were no {what} to be {verb}; check what you gave the command", self)
        where = f"; every skipped item is listed in {listing}" if listing else ""
        raise NothingDoneError(f"none of the {skipped} {what} could be {verb}: {self.top_reasons()}{where}", self)

    def summary(self) -> str:
        """One line: how many items were kept and skipped, and how many were repaired or noted (if any)."""
        counts = self.counts()
        rest = "".join(f", {action} {counts[action]}" for action in (REPAIRED, NOTED) if counts[action])
        return f"kept {self.kept}, skipped {counts[SKIPPED]}{rest}"

    def write_csv(self, path: str | Path, root: str | Path | None = None) -> Path:
        """Write every entry (columns :data:`REPORT_COLUMNS`) to the CSV ``path``; returns it.

        With ``root`` (a corpus folder), every entry's path is written relative to it
        (:func:`relative_path`), so the list reads the same wherever the corpus is.
        """
        path = Path(path)
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=REPORT_COLUMNS)
            writer.writeheader()
            for entry in self.entries:
                row = {column: getattr(entry, column) for column in REPORT_COLUMNS}
                if root is not None:
                    row["path"] = relative_path(entry.path, root)
                writer.writerow(row)
        return path


def relative_path(path: str, root: str | Path) -> str:
    """``path`` relative to the folder ``root`` (POSIX separators), however each was spelt.

    Readers name files as given (relative to the working folder, like ``root``), or resolved
    (absolute, symbolic links followed); either way the result is relative to ``root``, with
    ``..`` for a file outside it (a DALI audio folder beside the annotations). A relative
    ``path`` that names no file from the working folder (a song id standing in for a file) is
    returned as it is.
    """
    if not path:
        return path
    given, root = Path(path), Path(root)
    if not given.is_absolute():
        try:
            return given.relative_to(root).as_posix()
        except ValueError:
            if not os.path.lexists(given):
                return path  # not a file spelt from the working folder: an id, or already relative to root
            given = Path(os.path.abspath(given))
    for base in (Path(os.path.abspath(root)), root.resolve()):
        try:
            return given.relative_to(base).as_posix()
        except ValueError:
            continue
    try:
        return Path(os.path.relpath(given, root.resolve())).as_posix()
    except ValueError:  # another drive (Windows): no relative path exists
        return path
