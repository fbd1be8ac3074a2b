"""The ``songalign`` command. Thin: every sub-command calls the library and prints its result."""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import Annotated

import typer
from rich.console import Console
from rich.logging import RichHandler
from rich.markup import escape
from rich.table import Table

from songalign.align.commands import models_app
from songalign.caption.commands import caption_app
from songalign.console import console, print_skip_report
from songalign.corpus.readers import READERS
from songalign.describe.base import DESCRIBERS
from songalign.errors import SongalignError, first_validation_problem
from songalign.registry import parse_options
from songalign.search.commands import index_command, search_command, serve_command
from songalign.transcribe.commands import rank_lyrics_command, transcribe_app

app = typer.Typer(help="songalign: align song audio, lyrics and the emotion in lyrics.", no_args_is_help=True)
corpus_app = typer.Typer(help="Create, prepare and inspect corpora.", no_args_is_help=True)
app.add_typer(corpus_app, name="corpus")
app.add_typer(caption_app, name="caption")
app.add_typer(models_app, name="models")
app.add_typer(transcribe_app, name="transcribe")
app.command("rank-lyrics")(rank_lyrics_command)
app.command("index")(index_command)
app.command("search")(search_command)
app.command("serve")(serve_command)


# The choices come from the registries (entry points of other packages included), so a reader or
# describer registered anywhere shows up in --help and works with no edit here.
CorpusKind = READERS.choices("CorpusKind")
DescribeBackend = DESCRIBERS.choices("DescribeBackend")


@app.callback()
def _options(
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="log every skipped, repaired or noted item as it happens")
    ] = False,
) -> None:
    if verbose:
        logging.getLogger("songalign").setLevel(logging.DEBUG)


@corpus_app.command("synth")
def corpus_synth(
    out: Annotated[Path, typer.Option("--out", "-o", help="folder to write the corpus into")],
    songs: Annotated[int, typer.Option(help="number of songs")] = 48,
    seed: Annotated[int, typer.Option(help="random seed; the same seed gives the same corpus")] = 0,
    duration: Annotated[float, typer.Option(help="approximate song length in seconds")] = 40.0,
    workers: Annotated[int | None, typer.Option(help="processes (default: all cores)")] = None,
    stems: Annotated[
        bool, typer.Option(help="also write each song's vocals, as mixed, to stems/<name>.vocals.flac")
    ] = False,
) -> None:
    """Generate the synthetic corpus (JamendoLyrics layout, with emotion labels and music captions)."""
    from songalign.corpus.synth import synthesize_corpus

    summary = synthesize_corpus(out, n_songs=songs, seed=seed, workers=workers, duration=duration, stems=stems)
    console.print(f"[green]wrote {songs} songs to {out}[/green] ({summary})")


@corpus_app.command("prepare")
def corpus_prepare(
    kind: Annotated[CorpusKind, typer.Argument(help="corpus layout: the name of a registered corpus reader")],
    src: Annotated[Path, typer.Argument(help="corpus folder (a CSV file for 'pairs')")],
    out: Annotated[Path, typer.Option("--out", "-o", help="folder for the prepared manifest")],
    language: Annotated[
        list[str] | None, typer.Option(help="keep only these languages (repeatable); 'all' keeps every language")
    ] = None,
    audio_dir: Annotated[
        Path | None,
        typer.Option(help="dali, interpretation: the audio folder (<dali_id>.<ext>, <music4all_id>.mp3)"),
    ] = None,
    trust_pickles: Annotated[
        bool,
        typer.Option(help="dali, interpretation: allow unpickling the annotation / release file (it can run code)"),
    ] = False,
    target: Annotated[float, typer.Option(help="target segment length (s)")] = 10.0,
    min_duration: Annotated[
        float, typer.Option("--min", help="shortest segment kept (s), an untimed song's whole audio too")
    ] = 4.0,
    max_duration: Annotated[float, typer.Option("--max", help="longest segment formed from several lines (s)")] = 15.0,
    max_gap: Annotated[float, typer.Option(help="silence (s) between lines that always ends a segment")] = 3.0,
    seed: Annotated[int, typer.Option(help="seed of the song-level train/val/test split")] = 0,
    option: Annotated[
        list[str] | None,
        typer.Option("--option", help="another option of the reader, KEY=VALUE (value read as YAML; repeatable)"),
    ] = None,
) -> None:
    """Read a corpus, check it, cut ~10 s segments, split by song, and write Parquet manifests.

    Prints a summary of what was skipped, repaired or noted; every item is listed in skipped.csv in
    the prepared folder (`songalign -v` logs each one as it happens).
    """
    from songalign.corpus.prepare import prepare_corpus
    from songalign.corpus.segmenter import SegmenterConfig, SplitConfig

    options = parse_options(option or [])
    if language:
        options["languages"] = None if [lang.lower() for lang in language] == ["all"] else language
    # Only options that were given: a reader that does not take one then says so in one sentence.
    if audio_dir is not None:
        options["audio_dir"] = audio_dir
    if trust_pickles:
        options["trust_pickles"] = True
    try:
        segmenter = SegmenterConfig(
            target_duration=target, min_duration=min_duration, max_duration=max_duration, max_gap=max_gap
        )
    except ValueError as error:
        raise SongalignError(f"invalid segment lengths: {first_validation_problem(error)[1]}") from error
    result = prepare_corpus(str(kind), src, out, segmenter=segmenter, split=SplitConfig(seed=seed), **options)
    # the counts mix units (songs kept, files or rows skipped, lines repaired): the title names none
    print_skip_report(result.report, "items", listing=result.skipped_file)
    _print_info(result.out)


def _print_info(directory: Path) -> None:
    from songalign.corpus.info import corpus_stats
    from songalign.corpus.manifest import CorpusManifest

    stats = corpus_stats(CorpusManifest.load(directory))
    table = Table(title=f"corpus {directory}", show_header=False)
    table.add_row("songs", str(stats.songs))
    table.add_row("audio", f"{stats.hours:.2f} h ({stats.lyric_hours:.2f} h in segments)")
    table.add_row("languages", ", ".join(f"{k} {v}" for k, v in stats.languages.most_common()))
    table.add_row("segments", f"{stats.segments} ({', '.join(f'{k} {v}' for k, v in sorted(stats.splits.items()))})")
    if stats.lyrics_only:
        table.add_row("lyrics only", f"{stats.lyrics_only} segments without audio (not in the durations)")
    table.add_row("mean segment", f"{stats.mean_segment_duration:.2f} s")
    console.print(table)
    rows = stats.histogram()
    if rows:
        peak = max(n for _, _, n in rows) or 1
        console.print("segment durations")
        for low, high, count in rows:
            console.print(
                f"  {low:5.1f}–{high:5.1f} s {'█' * max(1 if count else 0, round(40 * count / peak)):<40} {count}"
            )


@corpus_app.command("info")
def corpus_info(directory: Annotated[Path, typer.Argument(help="a prepared corpus folder")]) -> None:
    """Songs, hours, languages, splits and a segment-duration histogram."""
    _print_info(directory)


@app.command("describe")
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
    describe_corpus(corpus, str(backend), config=DescriberConfig(seed=seed, options=options)).print()


@app.command("train")
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


@app.command("embed")
def embed_command(
    model: Annotated[Path, typer.Argument(help="a trained model folder")],
    out: Annotated[Path, typer.Option("--out", "-o", help="where to write the embeddings (.npy)")],
    audio: Annotated[list[Path] | None, typer.Option(help="audio files (repeatable); whole-file embeddings")] = None,
    text: Annotated[list[str] | None, typer.Option(help="texts to embed (repeatable)")] = None,
) -> None:
    """Embed audio files or texts into the model's shared space; writes an (N, D) float32 array."""
    import numpy as np

    from songalign.align.model import AlignModel

    if bool(audio) == bool(text):
        raise SongalignError("give either --audio files or --text strings (not both, not neither)")
    loaded = AlignModel.from_pretrained(model)
    vectors = loaded.embed_audio(audio) if audio else loaded.embed_text(text)
    np.save(out, vectors)
    console.print(f"[green]wrote {vectors.shape[0]}×{vectors.shape[1]} embeddings to {out}[/green]")


@app.command("evaluate")
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
    from songalign.evaluate.run import evaluate_model, write_evaluation

    result = evaluate_model(model, corpus, split=split, pool=pool, draws=draws, seed=seed, progress=True)
    json_path, md_path = write_evaluation(result, out or model, title=f"Evaluation of {model.name} ({split})")
    console.print(md_path.read_text(encoding="utf-8"))
    console.print(f"[green]wrote {json_path} and {md_path}[/green]")


@app.command("tag")
def tag_command(
    audio: Annotated[list[Path], typer.Argument(help="audio files to tag")],
    model: Annotated[str, typer.Option(help="MSD_musicnn, MTT_musicnn, MSD_vgg or MTT_vgg")] = "MSD_musicnn",
    top: Annotated[int, typer.Option(help="tags shown per file (and per patch with --over-time)")] = 5,
    hop: Annotated[float | None, typer.Option(help="seconds between 3 s patches (default: back to back)")] = None,
    over_time: Annotated[bool, typer.Option("--over-time", help="print one row per patch, with its times")] = False,
    format: Annotated[str, typer.Option("--format", help="table (printed), csv or json")] = "table",
    out: Annotated[Path | None, typer.Option("--out", "-o", help="file for csv/json (default: printed)")] = None,
    weights: Annotated[str | None, typer.Option(help="a musicnn checkpoint folder (default: the wheel's)")] = None,
) -> None:
    """musicnn's tags of audio files: the top tags per file, and over time (one row per 3 s patch)."""
    import tempfile

    from songalign.towers.tagging import FORMATS, tag_files, write_tags

    if format not in FORMATS:
        raise SongalignError(f"--format must be one of {', '.join(FORMATS)}; got {format!r}")
    if format == "table" and out is not None:
        raise SongalignError("--out writes csv or json; add --format csv or --format json (a table is printed)")
    results, report = tag_files(audio, model, hop, weights)
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


@app.command("quickstart")
def quickstart(
    out: Annotated[Path, typer.Option("--out", "-o", help="working folder")] = Path("runs/quickstart"),
    songs: Annotated[int, typer.Option(help="songs in the synthetic corpus")] = 64,
    seed: Annotated[int, typer.Option(help="seed of every random step")] = 0,
) -> None:
    """The main job: seed 000's experiment in miniature — corpus, descriptions, CLAP-pre/lyr/emo, evaluation, report."""
    from songalign.quickstart import run_quickstart

    report = run_quickstart(out, songs=songs, seed=seed, log=lambda title: console.rule(title))
    console.print(f"[bold green]report: {report}[/bold green]")
    console.print(
        f"open it with any Markdown viewer, e.g. `python -m rich.markdown {report}`; numbers in {out / 'results.json'}"
    )


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
