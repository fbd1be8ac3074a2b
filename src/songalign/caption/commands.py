"""``songalign caption …``: inspect the data, train, generate, evaluate, compare, sweep α.

Thin: every command calls the library and prints its result. Registered in the main CLI as
``app.add_typer(caption_app, name="caption")``. The data is a prepared corpus whose songs carry
interpretations (``songalign corpus prepare interpretation RELEASE`` for the Song Interpretation
Dataset; ``songalign corpus synth`` then ``corpus prepare jamendo`` for the synthetic one).
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Annotated, cast, get_args

import typer
from rich.markup import escape
from rich.table import Table

from songalign.console import console, print_skip_report
from songalign.errors import SkipReport, SongalignError

caption_app = typer.Typer(help="Song captioning from audio + lyrics: BART-fusion, ALCAP, RECAP.", no_args_is_help=True)

SetOption = Annotated[list[str] | None, typer.Option("--set", help="override a recipe field: key.sub=value")]
Beams = Annotated[int | None, typer.Option("--beams", help="beam size (default: the recipe's)")]
Sample = Annotated[bool | None, typer.Option("--sample/--no-sample", help="sample instead of pure beam search")]
TopP = Annotated[float | None, typer.Option("--top-p", help="nucleus sampling threshold (with --sample)")]
MaxLength = Annotated[int | None, typer.Option("--max-length", help="longest caption in tokens")]


def _settings(model_dir: Path, beams: int | None, sample: bool | None, top_p: float | None, max_length: int | None):
    """Generation settings: the training recipe's (saved in the model card), then the command-line options."""
    from songalign.caption.model import GenerationSettings
    from songalign.checkpoint import read_card

    recipe = read_card(model_dir).get("recipe", {})
    settings = GenerationSettings.model_validate(recipe.get("generation", {}))
    update = {"num_beams": beams, "do_sample": sample, "top_p": top_p, "max_length": max_length}
    return settings.model_copy(update={k: v for k, v in update.items() if v is not None})


@caption_app.command("data")
def data_command(
    corpus: Annotated[Path, typer.Argument(help="a prepared corpus whose songs carry interpretations")],
    align_model: Annotated[
        Path | None, typer.Option(help="an alignment model whose audio tower would encode the music")
    ] = None,
    splits: Annotated[
        str, typer.Option(help="align_model (follow that model's splits by song) or corpus (keep the corpus's)")
    ] = "align_model",
) -> None:
    """Interpretations and songs per split and vote variant, split as a captioner would be."""
    from songalign.caption.data import CaptionCorpus, SplitSource

    if splits not in get_args(SplitSource):
        raise SongalignError(f"--splits must be one of {', '.join(get_args(SplitSource))}, got {splits!r}")
    data = CaptionCorpus.load(corpus, align_model=align_model, splits=cast(SplitSource, splits))
    table = Table(title=f"{corpus}: {len(data.items('all'))} interpretations of {len(data.songs)} songs")
    for column in ("variant", "train", "val", "test (shared)"):
        table.add_column(column, justify="right")
    for variant, row in data.counts().items():
        table.add_row(variant, *(f"{row[s]} ({row[s + '_songs']} songs)" for s in ("train", "val", "test")))
    console.print(table)
    console.print(f"splits: {escape(json.dumps(data.split_source))}")


@caption_app.command("train")
def train_command(
    recipe: Annotated[Path, typer.Argument(help="a YAML recipe, e.g. configs/alcap.yaml")],
    set_: SetOption = None,
) -> None:
    """Train (or resume training) a captioner from a recipe."""
    from songalign.caption.train import load_recipe, train

    loaded = load_recipe(recipe, set_)
    saved = train(loaded)
    console.print(f"[green]captioner saved in {saved}[/green]; curves in {loaded.run_dir / 'loss.png'}")


@caption_app.command("generate")
def generate_command(
    model: Annotated[Path, typer.Argument(help="a trained captioner folder")],
    lyrics: Annotated[Path | None, typer.Option(help="a text file with the song's lyrics")] = None,
    audio: Annotated[Path | None, typer.Option(help="the song's audio (for music-aware captioners)")] = None,
    corpus: Annotated[
        Path | None, typer.Option(help="caption every song of a split of this prepared corpus instead")
    ] = None,
    split: Annotated[str, typer.Option(help="split of --corpus")] = "test",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="write captions as JSON Lines here")] = None,
    beams: Beams = None,
    sample: Sample = None,
    top_p: TopP = None,
    max_length: MaxLength = None,
) -> None:
    """Caption one song (--lyrics, --audio) or every song of a split of a prepared corpus (--corpus)."""
    import torch

    from songalign.caption.evaluate import caption_songs, load_for, song_inputs
    from songalign.caption.model import CaptionModel
    from songalign.caption.music import audio_file_features

    settings = _settings(model, beams, sample, top_p, max_length)
    captioner = CaptionModel.from_pretrained(model)
    if corpus is not None:
        from songalign.caption.music import music_cache_dir

        items = load_for(captioner, corpus, model).items(split)
        report = SkipReport()
        try:
            songs, texts, music = song_inputs(captioner, items, music_cache_dir(corpus), report)
        finally:  # printed before the error too, when no song can be captioned
            print_skip_report(report, "skipped")
        report.kept = len(songs)
        report.require_done(f"songs of the {split} split", "captioned")
        rows = [
            {"song_id": s, "caption": c}
            for s, c in zip(songs, caption_songs(captioner, texts, music, settings), strict=True)
        ]
    else:
        if lyrics is None or not lyrics.is_file():
            raise SongalignError("give --lyrics with a readable lyrics file (or --corpus to caption a split)")
        music = None
        if captioner.config.uses_music:
            if audio is None:
                raise SongalignError("this captioner listens to the music too; give the song's --audio file")
            music = torch.from_numpy(audio_file_features(audio, captioner.config.music_encoder)).unsqueeze(0)
        caption = captioner.generate([lyrics.read_text(encoding="utf-8")], music, settings)[0]
        rows = [{"song_id": str(audio or lyrics), "caption": caption}]
    if out is not None:
        out.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        console.print(f"[green]wrote {len(rows)} caption(s) to {out}[/green]")
    else:
        for row in rows:
            console.print(f"[bold]{escape(row['song_id'])}[/bold]: {escape(row['caption'])}")


@caption_app.command("evaluate")
def evaluate_command(
    model: Annotated[Path, typer.Argument(help="a trained captioner folder")],
    corpus: Annotated[Path, typer.Option(help="a prepared corpus with interpretations")],
    split: Annotated[str, typer.Option(help="split to evaluate on")] = "test",
    variant: Annotated[str, typer.Option(help="full, votes_ge_0 or votes_gt_0 (the test split is shared)")] = "full",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="folder for captions.jsonl and metrics.json")] = None,
    seed: Annotated[int, typer.Option(help="seed of the retrieval queries")] = 0,
    beams: Beams = None,
    sample: Sample = None,
    top_p: TopP = None,
    max_length: MaxLength = None,
) -> None:
    """ROUGE-1/2/L, METEOR and caption-based text→music retrieval (p@k, r@k) on a split."""
    from songalign.caption.evaluate import evaluate_captioner

    settings = _settings(model, beams, sample, top_p, max_length)
    result = evaluate_captioner(model, corpus, split=split, variant=variant, settings=settings,
                                out=out or model.parent / "eval", seed=seed)  # fmt: skip
    print_skip_report(result.report, "skipped")
    table = Table(
        title=f"{model} on {split} ({result.metrics['items']} interpretations, {result.metrics['songs']} songs)"
    )
    table.add_column("metric")
    table.add_column("value", justify="right")
    for key, value in result.metrics.items():
        if isinstance(value, float):
            table.add_row(key, f"{value:.2f}")
    console.print(table)
    console.print(f"METEOR's WordNet: {escape(str(result.metrics.get('wordnet')))}")


@caption_app.command("attention")
def attention_command(
    model: Annotated[Path, typer.Argument(help="a trained captioner with fusion")],
    corpus: Annotated[Path, typer.Option(help="a prepared corpus with interpretations")],
    out: Annotated[Path, typer.Option("--out", "-o", help="PNG to write")] = Path("attention.png"),
    songs: Annotated[int, typer.Option(help="test songs to show")] = 3,
) -> None:
    """Heat maps of the cross-attention (lyrics tokens × music frames) on test songs."""
    from songalign.caption.study import attention_figure

    entropies = attention_figure({model.name: model}, corpus, out, songs)
    if not entropies:
        raise SongalignError(f"{model} fuses no music, so it has no cross-attention to show")
    console.print(f"[green]wrote {out}[/green]; mean attention entropy {next(iter(entropies.values())):.3f} nats")


@caption_app.command("alpha-sweep")
def alpha_sweep_command(
    recipe: Annotated[Path, typer.Argument(help="a recipe with an alignment loss (configs/alcap.yaml, recap.yaml)")],
    alphas: Annotated[str, typer.Option(help="comma-separated contrastive weights")] = "0,0.002,0.02,0.2,2",
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for the runs and the table")] = Path(
        "runs/caption/alpha_sweep"
    ),
    split: Annotated[str, typer.Option(help="split the scores are measured on")] = "val",
    set_: SetOption = None,
) -> None:
    """Grid search over α in L = L_cap + α·L_contrast: one training per α; table and plot."""
    from songalign.caption.study import alpha_sweep
    from songalign.caption.train import load_recipe

    try:
        values = [float(a) for a in alphas.split(",") if a.strip()]
    except ValueError:
        raise SongalignError(f"--alphas must be comma-separated numbers, got {alphas!r}") from None
    alpha_sweep(load_recipe(recipe, set_), values, out, split=split)
    console.print((out / "alpha_sweep.md").read_text(encoding="utf-8"))
    console.print(f"[green]plot in {out / 'alpha_sweep.png'}[/green]")


@caption_app.command("compare")
def compare_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="working folder")] = Path("runs/caption/compare"),
    songs: Annotated[int, typer.Option(help="songs in the synthetic corpus")] = 48,
    steps: Annotated[int, typer.Option(help="optimizer steps for every model")] = 300,
    seed: Annotated[int, typer.Option(help="seed of the corpus, the split and every training")] = 0,
    corpus: Annotated[
        Path | None, typer.Option(help="a prepared corpus with interpretations (else a synthetic one is made)")
    ] = None,
    configs: Annotated[
        Path | None,
        typer.Option(help="folder with bart_text/bart_fusion/alcap/recap.yaml (default: the packaged ones)"),
    ] = None,
    align_model: Annotated[
        Path | None, typer.Option(help="a trained alignment model whose audio tower encodes the music")
    ] = None,
    threads: Annotated[int | None, typer.Option(help="CPU threads for torch")] = None,
    set_: SetOption = None,
) -> None:
    """Lyrics-only BART, BART-fusion, ALCAP and RECAP on one corpus (synthetic by default): same seed and steps, one report."""
    from songalign.caption.study import PACKAGED_CONFIGS, run_comparison

    extra = list(set_ or []) + ([f"train.threads={threads}"] if threads else [])
    if threads:
        import torch

        torch.set_num_threads(threads)
    command = (
        "songalign caption " + " ".join(shlex.quote(a) for a in sys.argv[sys.argv.index("compare") :])
        if "compare" in sys.argv
        else ""
    )
    run_comparison(out, songs=songs, seed=seed, steps=steps, corpus=corpus, configs=configs or PACKAGED_CONFIGS, align_model=align_model,
                   extra_overrides=extra, command=command)  # fmt: skip
    console.print((out / "report.md").read_text(encoding="utf-8"))
