"""``songalign models …``: build pretrained models by name and list the names.

Thin: every command calls :mod:`songalign.align.pretrained`. Registered in the main CLI as
``app.add_typer(models_app, name="models")``. Importing this module does not import torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from songalign.align import PRETRAINED
from songalign.console import console
from songalign.registry import parse_options

models_app = typer.Typer(help="Pretrained models by name (e.g. the seed's CLAP-pre).", no_args_is_help=True)

# The choices come from the registry (entry points of other packages included), as corpus KIND's do.
PretrainedName = PRETRAINED.choices("PretrainedName")


@models_app.command("build")
def build_command(
    name: Annotated[PretrainedName, typer.Argument(help="a registered pretrained model, e.g. clap-pre")],
    out: Annotated[Path, typer.Option("--out", "-o", help="the model folder to write")],
    source: Annotated[
        str | None, typer.Option(help="checkpoint: a Hugging Face id or a local folder (default: the model's)")
    ] = None,
    option: Annotated[list[str] | None, typer.Option("--option", help="another factory option: key=value")] = None,
) -> None:
    """Build a pretrained model as it is (no training) and save it as an ordinary model folder."""
    from songalign.align.pretrained import build_pretrained

    options = parse_options(option or [])
    if source is not None:
        options["source"] = source
    folder = build_pretrained(str(name), out, **options)
    console.print(f"wrote {escape(str(folder))} (evaluate, index or fine-tune it like any model folder)")


@models_app.command("list")
def list_command() -> None:
    """The names `songalign models build` accepts."""
    for name in PRETRAINED.names():
        console.print(name)
