"""``songalign tag``: musicnn's tags of audio files, per file and over time.

Thin: calls :mod:`songalign.towers.tagging` and prints or writes its result. Registered in the main
CLI as ``app.command("tag")(tag_command)``; torch is imported inside the command.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from songalign.console import console, print_skip_report
from songalign.errors import SongalignError


class Runtime(StrEnum):
    """What runs a model: torch, or its ONNX graph in onnxruntime (fp32, or int8 by dynamic quantisation)."""

    torch = "torch"
    onnx = "onnx"
    onnx_int8 = "onnx-int8"


def tag_command(
    audio: Annotated[list[Path], typer.Argument(help="audio files to tag")],
    model: Annotated[str, typer.Option(help="MSD_musicnn, MTT_musicnn, MSD_vgg or MTT_vgg")] = "MSD_musicnn",
    top: Annotated[int, typer.Option(help="tags shown per file (and per patch with --over-time)")] = 5,
    hop: Annotated[float | None, typer.Option(help="seconds between 3 s patches (default: back to back)")] = None,
    over_time: Annotated[bool, typer.Option("--over-time", help="print one row per patch, with its times")] = False,
    format: Annotated[str, typer.Option("--format", help="table (printed), csv or json")] = "table",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="file for csv/json (default: printed)")] = None,
    weights: Annotated[str | None, typer.Option(help="a musicnn checkpoint folder (default: the wheel's)")] = None,
    runtime: Annotated[
        Runtime, typer.Option(help="onnx / onnx-int8: the tagger's ONNX graph in onnxruntime (exported once, cached)")
    ] = Runtime.torch,
    threads: Annotated[int | None, typer.Option(help="CPU threads of the runtime (default: its choice)")] = None,
) -> None:
    """musicnn's tags of audio files: the top tags per file, and over time (one row per 3 s patch)."""
    import tempfile

    from songalign.towers.tagging import FORMATS, tag_files, write_tags

    if format not in FORMATS:
        raise SongalignError(f"--format must be one of {', '.join(FORMATS)}; got {format!r}")
    if format == "table" and out is not None:
        raise SongalignError("--out writes csv or json; add --format csv or --format json (a table is printed)")
    if threads is not None and runtime == Runtime.torch:
        import torch

        torch.set_num_threads(max(1, threads))
    results, report = tag_files(audio, model, hop, weights, runtime.value, threads)
    if not results:  # nothing to write (not an empty list): the skip report, then exit 1
        print_skip_report(report, "audio files", out=Console(stderr=True))
        report.require_done("audio files", "tagged")
    messages = console
    if format != "table":
        if out is None:
            messages = Console(stderr=True)  # stdout holds the data alone, so that it can be redirected
            with tempfile.TemporaryDirectory() as folder:
                typer.echo(write_tags(results, Path(folder) / f"tags.{format}", format, top).read_text(), nl=False)
        else:
            console.print(f"wrote {escape(str(write_tags(results, out, format, top)))}")
    for result in results if format == "table" else []:
        console.print(f"[bold]{escape(result.path.name)}[/bold] ({result.seconds:.1f} s, {model})")
        table = Table()
        if over_time:
            table.add_column("start (s)", justify="right")
            table.add_column("end (s)", justify="right")
            table.add_column(f"top {top} tags of the patch")
            for row in result.rows():
                tags = sorted(result.taggram.labels, key=lambda label: -row[label])[:top]
                table.add_row(f"{row['start']:.2f}", f"{row['end']:.2f}", ", ".join(f"{t} {row[t]:.2f}" for t in tags))
        else:
            table.add_column("tag")
            table.add_column("probability", justify="right")
            for tag, probability in result.taggram.top(top):
                table.add_row(escape(tag), f"{probability:.3f}")
        console.print(table)
    print_skip_report(report, "audio files", out=messages)
