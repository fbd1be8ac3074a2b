"""The ``songalign`` command, assembled from each package's ``commands.py``; nothing else lives here.

``songalign X …`` is defined in ``songalign/X/commands.py`` (``train``, ``embed``, ``evaluate`` and
``models`` and ``export`` in ``align``; ``tag`` in ``towers``; ``separate`` in ``separate``; ``index``, ``search``, ``serve`` in ``search``;
``rank-lyrics`` in ``transcribe``; the two quickstarts in ``studies``). Importing this module imports
no torch: the commands import what they need when they run.
"""

from __future__ import annotations

import logging
import sys
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape

from songalign.align.commands import embed_command, evaluate_command, export_app, models_app, train_command
from songalign.caption.commands import caption_app
from songalign.corpus.commands import corpus_app
from songalign.describe.commands import describe_command
from songalign.errors import SongalignError
from songalign.search.commands import index_command, info_command, search_command, serve_command
from songalign.separate.commands import separate_command
from songalign.studies.commands import quickstart_command, transcribe_quickstart_command
from songalign.towers.commands import tag_command
from songalign.transcribe.commands import rank_lyrics_command, transcribe_app

app = typer.Typer(help="songalign: align song audio, lyrics and the emotion in lyrics.", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")
app.add_typer(caption_app, name="caption")
app.add_typer(models_app, name="models")
app.add_typer(export_app, name="export")
transcribe_app.command("quickstart")(transcribe_quickstart_command)
app.add_typer(transcribe_app, name="transcribe")
app.command("rank-lyrics")(rank_lyrics_command)
app.command("index")(index_command)
app.command("search")(search_command)
app.command("serve")(serve_command)
app.command("info")(info_command)
app.command("describe")(describe_command)
app.command("train")(train_command)
app.command("embed")(embed_command)
app.command("evaluate")(evaluate_command)
app.command("tag")(tag_command)
app.command("separate")(separate_command)
app.command("quickstart")(quickstart_command)


@app.callback()
def _options(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="log every skipped, repaired or noted item as it happens")
    ] = False,
) -> None:
    if verbose:
        logging.getLogger("songalign").setLevel(logging.DEBUG)


def main() -> None:
    """Entry point: run the app; a user error prints one sentence and exits with status 1."""
    logging.basicConfig(
        level=logging.WARNING,
        format="%(message)s",
        handlers=[RichHandler(console=Console(stderr=True), show_path=False)],
    )
    try:
        app()
    except SongalignError as error:
        Console(stderr=True, soft_wrap=True).print(f"[bold red]error:[/bold red] {escape(str(error))}")
        sys.exit(1)


if __name__ == "__main__":
    main()
