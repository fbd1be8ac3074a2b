"""``songalign quickstart`` and ``songalign transcribe quickstart``: the two studies.

Thin: each calls its study (:mod:`.quickstart`, :mod:`.transcribe`) and prints where the report is.
Registered in the main CLI as ``app.command("quickstart")(quickstart_command)`` and, under the
``transcribe`` group, ``transcribe_app.command("quickstart")(transcribe_quickstart_command)``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from songalign.console import console


def quickstart_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="working folder")] = Path("runs/quickstart"),
    songs: Annotated[int, typer.Option(help="songs in the synthetic corpus")] = 64,
    seed: Annotated[int, typer.Option(help="seed of every random step")] = 0,
) -> None:
    """The main job: seed 000's experiment in miniature — corpus, descriptions, CLAP-pre/lyr/emo, evaluation, report."""
    from songalign.studies.quickstart import run_quickstart

    report = run_quickstart(out, songs=songs, seed=seed, log=lambda title: console.rule(title))
    console.print(f"[bold green]report: {report}[/bold green]")
    console.print(
        f"open it with any Markdown viewer, e.g. `python -m rich.markdown {report}`; numbers in {out / 'results.json'}"
    )


def transcribe_quickstart_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="working folder")] = Path("runs/transcribe"),
    songs: Annotated[int, typer.Option(help="songs in the synthetic corpus")] = 48,
    seed: Annotated[int, typer.Option(help="seed of every random step")] = 0,
    vocal_channels: Annotated[
        str | None,
        typer.Option(
            help="also train and test the multi-task recipe with each of these vocal channels, comma-separated "
            "(e.g. mix,stem,spleeter), and add their table to the report"
        ),
    ] = None,
) -> None:
    """Seed 001's transcription experiment in miniature: corpus with stems, vocals separated by Spleeter, four
    transcribers, WER/CER, notes, alignment, lyric selection, report."""
    from songalign.studies.transcribe import run_transcribe_quickstart

    channels = [c.strip() for c in (vocal_channels or "").split(",") if c.strip()]
    report = run_transcribe_quickstart(
        out, songs=songs, seed=seed, vocal_channels=channels, log=lambda title: console.rule(title)
    )
    console.print(f"[bold green]report: {report}[/bold green]; numbers in {out / 'results.json'}")
