"""``songalign corpus …``: create (synth), prepare and inspect corpora.

Thin: every command calls :mod:`songalign.corpus` and prints its result. Registered in the main CLI
as ``app.add_typer(corpus_app, name="corpus")``; importing this module imports no torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from songalign.console import console, print_skip_report
from songalign.corpus.readers import READERS
from songalign.errors import SKIPPED_FILE, NothingDoneError, SongalignError, first_validation_problem
from songalign.registry import parse_options

corpus_app = typer.Typer(help="Create, prepare and inspect corpora.", no_args_is_help=True)

# The choices come from the registry (entry points of other packages included), so a reader
# registered anywhere shows up in --help and works with no edit here.
CorpusKind = READERS.choices("CorpusKind")


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
    languages: Annotated[
        str | None,
        typer.Option(
            help="sing the songs syllable by syllable in these espeak-ng languages, in turn (e.g. en,fr,es,de,it,pt), "
            "with phoneme times in annotations/phonemes/; lyrics other than English need: pip install 'songalign[multilingual]'"
        ),
    ] = None,
    backing: Annotated[
        str,
        typer.Option(
            help="synth (numpy synthesis, the default) or soundfont: General MIDI instruments with EQ, compression "
            "and reverb, the vocals -6 to +6 dB against the backing; needs: pip install 'songalign[band]'"
        ),
    ] = "synth",
) -> None:
    """Generate the synthetic corpus (JamendoLyrics layout, with emotion labels and music captions)."""
    from songalign.corpus.synth import synthesize_corpus

    codes = languages.split(",") if languages is not None else None
    summary = synthesize_corpus(
        out, n_songs=songs, seed=seed, workers=workers, duration=duration, stems=stems, languages=codes, backing=backing
    )
    console.print(f"[green]wrote {songs} songs to {out}[/green] ({summary})")


@corpus_app.command("sung-scores")
def corpus_sung_scores(
    out: Annotated[Path, typer.Option("--out", "-o", help="folder to write the sung test set into")],
    force: Annotated[bool, typer.Option(help="make again the songs already in the folder")] = False,
    song: Annotated[
        list[str] | None, typer.Option(help="make only this song (its file stem; repeatable; default: all)")
    ] = None,
) -> None:
    """Sing public-domain scores with Festival into an independent sung test set (JamendoLyrics layout, vocal stems).

    Songs already in the folder are kept unless --force; a song Festival fails on is skipped and listed.
    Needs Debian's festival and festvox-kallpc16k, and music21 for the scores beyond Festival's own examples.
    """
    from songalign.corpus.sung import make_sung_scores

    summary = make_sung_scores(out, force=force, songs=song, progress=lambda name: console.print(f"singing {name}"))
    print_skip_report(summary.report, "songs")
    minutes = ", ".join(f"{language} {value:.1f} min" for language, value in sorted(summary.minutes.items()))
    console.print(
        f"[green]{out}: made {len(summary.made)}, kept {len(summary.kept)} songs[/green] ({minutes}; {summary.elapsed:.0f} s)"
    )
    if not summary.made and not summary.kept:
        raise NothingDoneError("no song could be sung; see the skipped songs above", report=summary.report)


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
    try:
        result = prepare_corpus(str(kind), src, out, segmenter=segmenter, split=SplitConfig(seed=seed), **options)
    except NothingDoneError as error:  # exit 1 with the skip report, as every batch command does
        if error.report is not None:
            print_skip_report(error.report, "items", listing=out / SKIPPED_FILE)
        raise
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
