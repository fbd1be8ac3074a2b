"""``songalign train``, ``embed``, ``evaluate`` and ``models …``: the alignment models.

Thin: every command calls :mod:`songalign.align` (training, embedding, :mod:`.evaluate`,
:mod:`.pretrained`) and prints its result. Registered in the main CLI as
``app.command("train")(train_command)`` (likewise ``embed`` and ``evaluate``) and
``app.add_typer(models_app, name="models")`` (likewise ``export_app``, whose ``onnx`` command exports a model).
Importing this module does not import torch.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape

from songalign.align import PRETRAINED
from songalign.console import console
from songalign.errors import SongalignError
from songalign.registry import parse_options
from songalign.towers.commands import Runtime

models_app = typer.Typer(help="Pretrained models by name (e.g. the seed's CLAP-pre).", no_args_is_help=True)

export_app = typer.Typer(help="Export a model for other runtimes.", no_args_is_help=True)


class Quantize(StrEnum):
    int8 = "int8"


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


def train_command(
    recipe: Annotated[Path, typer.Argument(help="a YAML recipe, e.g. configs/clap_emo.yaml")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a recipe field: key.sub=value")] = None,
    devices: Annotated[int, typer.Option("--devices", min=1, help="GPUs (or CPU processes) per node; >1: DDP")] = 1,
    num_nodes: Annotated[int, typer.Option("--num-nodes", min=1, help="machines; run the command on each")] = 1,
) -> None:
    """Train (or resume training) an alignment model from a recipe.

    With --devices N and/or --num-nodes M it trains with DDP on N × M processes; train.batch_size is
    the global batch (a multiple of N × M), so the result does not depend on N and M.
    """
    from songalign.align.train import load_recipe, train
    from songalign.runs import is_first_process

    loaded = load_recipe(recipe, set_)
    saved = train(loaded, devices=devices, num_nodes=num_nodes)
    if is_first_process():
        console.print(f"[green]model saved in {saved}[/green]; curves in {loaded.run_dir / 'loss.png'}")


RuntimeOption = Annotated[
    Runtime,
    typer.Option(help="torch: the model folder; onnx / onnx-int8: its export (`songalign export onnx MODEL`)"),
]
ExportOption = Annotated[
    Path | None, typer.Option("--export", help="the ONNX export --runtime onnx reads (default: MODEL/onnx)")
]
ThreadsOption = Annotated[int | None, typer.Option(help="CPU threads of the runtime (default: its choice)")]


def embed_command(
    model: Annotated[Path, typer.Argument(help="a trained model folder")],
    out: Annotated[Path, typer.Option("--out", "-o", help="where to write the embeddings (.npy)")],
    audio: Annotated[list[Path] | None, typer.Option(help="audio files (repeatable); whole-file embeddings")] = None,
    text: Annotated[list[str] | None, typer.Option(help="texts to embed (repeatable)")] = None,
    runtime: RuntimeOption = Runtime.torch,
    export: ExportOption = None,
    threads: ThreadsOption = None,
) -> None:
    """Embed audio files or texts into the model's shared space; writes an (N, D) float32 array."""
    import numpy as np

    from songalign.align.onnx import open_runtime

    if bool(audio) == bool(text):
        raise SongalignError("give either --audio files or --text strings (not both, not neither)")
    if threads is not None and runtime == Runtime.torch:
        import torch

        torch.set_num_threads(max(1, threads))
    loaded = open_runtime(model, runtime.value, export, threads)
    vectors = loaded.embed_audio(audio) if audio else loaded.embed_text(text)
    np.save(out, vectors)
    console.print(f"[green]wrote {vectors.shape[0]}×{vectors.shape[1]} embeddings to {out}[/green]")


@export_app.command("onnx")
def export_onnx_command(
    model: Annotated[Path, typer.Argument(help="a trained model folder")],
    out: Annotated[Path | None, typer.Option("--out", "-o", help="the export folder (default: MODEL/onnx)")] = None,
    quantize: Annotated[
        Quantize | None, typer.Option(help="also write int8 copies (onnxruntime's dynamic quantisation)")
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="replace an existing export in --out")] = False,
    measure_overlap: Annotated[
        Path | None,
        typer.Option(help="with --quantize int8: a prepared corpus on which to measure int8's top-10 overlap"),
    ] = None,
    overlap_split: Annotated[str, typer.Option(help="the corpus split --measure-overlap queries")] = "test",
) -> None:
    """Export the model's audio and text towers with their projections (and musicnn's tagger) to ONNX."""
    from songalign.align.onnx import EXPORT_CARD, default_export_dir, export_onnx, int8_top10_overlap, record_overlap

    if measure_overlap is not None and quantize is None:
        raise SongalignError("--measure-overlap compares the int8 copy with the model; add --quantize int8")
    folder = export_onnx(model, out or default_export_dir(model), quantize=quantize and quantize.value, force=force)
    console.print(f"[green]wrote {escape(str(folder))}[/green] (its card: {EXPORT_CARD}); use it with --runtime onnx")
    if measure_overlap is not None:
        measured = int8_top10_overlap(model, folder, measure_overlap, overlap_split)
        record_overlap(folder, measured)
        console.print(
            f"int8 top-{measured['k']} overlap with torch fp32: {measured['value']:.3f} "
            f"({measured['queries']} text queries, a pool of {measured['pool']} {measured['split']} segments)"
        )


def evaluate_command(
    model: Annotated[Path, typer.Argument(help="a trained model folder")],
    corpus: Annotated[Path, typer.Option(help="a prepared corpus folder")],
    split: Annotated[str, typer.Option(help="test, val, train or all")] = "test",
    pool: Annotated[int, typer.Option(help="candidates per query in the lyric-choice protocol")] = 10,
    draws: Annotated[int, typer.Option(help="seeded draws of the candidate pools")] = 5,
    seed: Annotated[int, typer.Option(help="seed of the draws")] = 0,
    out: Annotated[Path | None, typer.Option(help="folder for evaluation.json/.md (default: the model folder)")] = None,
) -> None:
    """Lyric-choice protocol, retrieval, zero-shot and probe figures → evaluation.json + evaluation.md."""
    from songalign.align.evaluate import evaluate_model, write_evaluation

    result = evaluate_model(model, corpus, split=split, pool=pool, draws=draws, seed=seed, progress=True)
    json_path, md_path = write_evaluation(result, out or model, title=f"Evaluation of {model.name} ({split})")
    console.print(md_path.read_text(encoding="utf-8"))
    console.print(f"[green]wrote {json_path} and {md_path}[/green]")
