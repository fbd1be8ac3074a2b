"""``songalign describe``: describe the emotion of every segment's lyrics.

Thin: calls :func:`songalign.describe.describe_corpus` and prints its summary. Registered in the main
CLI as ``app.command("describe")(describe_command)``; importing this module imports no backend.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from songalign.describe.base import DESCRIBERS
from songalign.registry import parse_options

# The choices come from the registry (entry points of other packages included), as corpus KIND's do.
DescribeBackend = DESCRIBERS.choices("DescribeBackend")


def describe_command(
    corpus: Annotated[Path, typer.Argument(help="a prepared corpus folder")],
    backend: Annotated[
        DescribeBackend, typer.Option(help="a registered describer: lexicon (offline), llm (OpenAI-compatible), ...")
    ] = "lexicon",
    seed: Annotated[int, typer.Option(help="seed of the wording")] = 0,
    base_url: Annotated[
        str | None, typer.Option(help="llm: endpoint, e.g. http://localhost:8080/v1 (= --option base_url=...)")
    ] = None,
    model: Annotated[str | None, typer.Option(help="llm: model name (= --option model=...)")] = None,
    concurrency: Annotated[int | None, typer.Option(help="llm: requests in flight (default 4)")] = None,
    option: Annotated[
        list[str] | None,
        typer.Option("--option", help="another option of the describer, KEY=VALUE (value read as YAML; repeatable)"),
    ] = None,
) -> None:
    """Describe the emotion of every segment's lyrics; writes descriptions and labels into the corpus."""
    from songalign.describe import DescriberConfig, describe_corpus

    options = parse_options(option or [])
    # Only the shorthands that were given: a describer that does not take one then says so in one sentence.
    shorthands = {"base_url": base_url, "model": model, "concurrency": concurrency}
    options |= {key: value for key, value in shorthands.items() if value is not None}
    result = describe_corpus(corpus, str(backend), config=DescriberConfig(seed=seed, options=options))
    result.print()
    # exit 1 when no segment had lyrics to describe (described or from the cache counts as done)
    result.stats.skipped.require_done("segments", "described")
