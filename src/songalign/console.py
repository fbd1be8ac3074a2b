"""The terminal output shared by every ``songalign`` command: one console and the skip-report table."""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from songalign.errors import SkipReport

console = Console()


def print_skip_report(report: SkipReport, title: str, limit: int = 15) -> None:
    """Print what a batch skipped or repaired, grouped by reason, most common first (nothing when clean)."""
    if not report.skipped:
        return
    table = Table(title=f"{title}: {report.summary()}")
    table.add_column("count", justify="right")
    table.add_column("reason")
    for reason, count in report.reasons().most_common(limit):
        table.add_row(str(count), escape(reason))
    console.print(table)
