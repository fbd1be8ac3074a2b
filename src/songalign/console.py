"""The terminal output shared by every ``songalign`` command: one console and the skip-report summary."""

from __future__ import annotations

from pathlib import Path

from rich.console import Console
from rich.markup import escape

from songalign.errors import NOTED, REPAIRED, SKIPPED, SkipReport

console = Console()

ACTION_COLOURS = {SKIPPED: "yellow", REPAIRED: "cyan", NOTED: "blue"}


def print_skip_report(
    report: SkipReport, title: str, listing: str | Path | None = None, limit: int = 5, out: Console | None = None
) -> None:
    """Print what a batch skipped, repaired or noted in a few lines: counts by kind, a few examples each.

    One header line (with ``report.summary()`` and, when given, the file ``listing`` that holds
    every entry), then for each of the ``limit`` most common kinds one line ``count action kind``
    (the kind with the numbers its items share: ``KindCount.shown``) and one line of up to three examples; the remaining kinds are folded into one line. At most
    ``2 + 2·limit`` lines plus the wrapping of long kinds; nothing at all when the report is clean.
    """
    out = out or console
    if not report.entries:
        return
    where = f" — every item in {escape(str(listing))}" if listing else ""
    out.print(f"[bold]{escape(title)}[/bold]: {escape(report.summary())}{where}")
    kinds = report.kinds()
    for group in kinds[:limit]:
        colour = ACTION_COLOURS.get(group.action, "white")
        out.print(f"  [{colour}]{group.count:>5} {group.action:<8}[/{colour}]  {escape(group.shown or group.kind)}")
        more = group.count - len(group.examples)
        examples = ", ".join(group.examples) + (f" (+{more} more)" if more > 0 else "")
        out.print(f"         e.g. {escape(examples)}", no_wrap=True, overflow="ellipsis", style="dim")
    if len(kinds) > limit:
        rest = kinds[limit:]
        folded = f"  … {len(rest)} more kind(s), {sum(g.count for g in rest)} item(s)"
        out.print(folded + (" (see the file)" if listing else ""))


def progress_bar(enabled: bool = True):
    """A rich progress bar on stderr for a batch of files or segments: description, bar, done of total,
    elapsed and remaining time (``with progress_bar(show) as bar: task = bar.add_task("…", total=n)``);
    ``enabled=False`` draws nothing."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    columns = (
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
    )
    return Progress(*columns, console=Console(stderr=True), disable=not enabled, transient=False)
