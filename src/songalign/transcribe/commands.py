"""``songalign transcribe …`` and ``songalign rank-lyrics``: train, transcribe, align, evaluate, cleanse, rank.

Thin: every command calls the library (:mod:`songalign.transcribe`) and prints its result. Registered
in the main CLI as ``app.add_typer(transcribe_app, name="transcribe")`` and
``app.command("rank-lyrics")(rank_lyrics_command)``; torch and the models are imported inside the
commands, so that ``songalign --help`` stays fast.

Choices made here (each command's ``--help`` says them too):

- **The vocal channel** of user audio (``--vocals``): by default what the model was trained with —
  a copy of the mix for a ``mix`` model and for a ``stem`` model (plain audio has no stem; a note
  says so), the separator for a model trained on separated vocals. ``--vocals mix`` forces the copy,
  ``--vocals FOLDER`` separates with that open-unmix model, ``--vocals FILE`` reads a vocal stem
  (with one audio file only).
- **The language model** of ``transcribe run``: ``--lm ARPA``, else the model folder's own ``lm.arpa``
  (written at training, from the training songs' lyrics); ``--no-lm`` decodes greedily only. Beam size, LM weight, word score and the onset threshold
  default to the model's recipe (``decode``), else the paper's 25, 2.0, 0 and 0.4.
- **Alignment files** (``transcribe align``), written into ``--out-dir`` (default: the audio's folder,
  where the folder reader finds ``<stem>.lrc`` beside the audio): ``<stem>.words.csv``
  (JamendoLyrics' ``annotations/words`` layout: ``word_start,word_end,line_end``), ``<stem>.words.txt``
  (its words, one per line, as JamendoLyrics' ``lyrics/<name>.words.txt``), ``<stem>.lines.csv``
  (``annotations/lines``: ``start_time,end_time,lyrics_line``) and ``<stem>.lrc``.
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
from dataclasses import dataclass
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from songalign.console import console
from songalign.errors import BadInputError, SongalignError, first_validation_problem
from songalign.transcribe.lm import LM_FILE

if TYPE_CHECKING:
    from songalign.corpus.records import Note
    from songalign.transcribe.model import Emissions, Transcriber

transcribe_app = typer.Typer(
    help="Lyrics transcription with pitch and onset: train, transcribe, align lyrics, evaluate, cleanse notes.",
    no_args_is_help=True,
)

notes_console = Console(stderr=True)
"""Notes about how a command heard its input go to stderr, so that JSON or CSV on stdout stays clean."""

NOTES_SHOWN = 40
"""Notes a table lists per file (JSON and CSV list every note)."""

NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")


class RunFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


class RankFormat(StrEnum):
    table = "table"
    json = "json"


class AlignFormat(StrEnum):
    jamendo = "jamendo"
    lrc = "lrc"
    all = "all"


class Reference(StrEnum):
    model = "model"
    basic_pitch = "basic-pitch"


class ShiftRange(StrEnum):
    paper = "paper"
    code = "code"


ModelOption = Annotated[Path, typer.Option("--model", "-m", help="a trained transcriber folder")]
VocalsOption = Annotated[
    str | None,
    typer.Option(
        help="the vocal channel: 'mix' (a copy of the mix), an open-unmix model folder, or a vocal stem file "
        "(one audio file only); default: what the model was trained with (a mix copy for stem models)"
    ),
]
BeamOption = Annotated[int | None, typer.Option("--beam", help="beam size (default: the recipe's, else 25)")]
LmWeightOption = Annotated[
    float | None, typer.Option("--lm-weight", help="weight of the LM's log10 score (default: the recipe's, else 2.0)")
]
WordScoreOption = Annotated[
    float | None, typer.Option("--word-score", help="score added per word (default: the recipe's, else 0)")
]
OnsetOption = Annotated[
    float | None,
    typer.Option(
        "--onset-threshold", help="onset peak-picking threshold (default: the recipe's, else the paper's 0.4)"
    ),
]


# -- shared helpers -------------------------------------------------------------------------------------


def _decode_options(model_dir: Path, **given: Any) -> dict[str, Any]:
    """The decoding settings: the model card's recipe (``decode``), then the options given (None = not given)."""
    from songalign.checkpoint import read_card
    from songalign.transcribe.decode import (
        DEFAULT_BEAM_SIZE,
        DEFAULT_LM_WEIGHT,
        DEFAULT_WORD_SCORE,
        PAPER_ONSET_THRESHOLD,
    )

    settings: dict[str, Any] = {
        "beam_size": DEFAULT_BEAM_SIZE,
        "lm_weight": DEFAULT_LM_WEIGHT,
        "word_score": DEFAULT_WORD_SCORE,
        "onset_threshold": PAPER_ONSET_THRESHOLD,
    }
    recipe_decode = (read_card(model_dir).get("recipe") or {}).get("decode") or {}
    settings |= {key: value for key, value in recipe_decode.items() if key in settings}
    settings |= {key: value for key, value in given.items() if value is not None}
    if not 0 < settings["onset_threshold"] < 1:
        raise SongalignError(f"--onset-threshold is {settings['onset_threshold']}; give a probability in (0, 1)")
    if settings["beam_size"] < 1:
        raise SongalignError(f"--beam is {settings['beam_size']}; give at least 1")
    return settings


def _load_transcriber(model_dir: Path, *, lyrics: bool = False) -> Transcriber:
    """The transcriber in ``model_dir``, refused when it cannot hear user audio (oracle) or, with
    ``lyrics``, has no lyrics network (pitch-only)."""
    from songalign.transcribe.model import Transcriber

    transcriber = Transcriber.from_pretrained(model_dir)
    mode = transcriber.config.mode
    if mode == "oracle":
        raise SongalignError(
            f"{model_dir} is an oracle transcriber, which reads the annotated notes of what it hears and so cannot "
            "run on plain audio; give a multitask or baseline model"
        )
    if lyrics and not transcriber.config.hears_lyrics:
        raise SongalignError(
            f"{model_dir} is a pitch-only transcriber and writes no lyrics; give a multitask or baseline model"
        )
    return transcriber


@dataclass
class Heard:
    """One audio file as the transcriber heard it: its emissions, what the vocal channel held, its seconds."""

    emissions: Emissions
    vocals: str
    duration: float


class Listener:
    """Runs a transcriber on audio files, choosing the vocal channel as the module docstring says."""

    def __init__(self, transcriber: Transcriber, model_dir: Path, vocals: str | None, files: int) -> None:
        self.transcriber, self.model_dir, self.option = transcriber, model_dir, vocals
        source = vocals if vocals is not None else transcriber.config.vocals
        self.source = source
        if source not in ("mix", "stem"):
            path = Path(source)
            if path.is_file() and files > 1:
                raise SongalignError(
                    f"--vocals {source} is one vocal stem but {files} audio files were given; "
                    "give one audio file with its stem, or a separator folder"
                )
            if not path.exists():
                where = "--vocals" if vocals is not None else f"the vocal channel of {model_dir} (its config.vocals)"
                raise BadInputError(
                    path,
                    f"{where} is neither 'mix', an open-unmix model folder nor a vocal stem file; "
                    "give --vocals mix or an existing separator folder",
                )
        if vocals is None and source == "stem":
            notes_console.print(
                f"[blue]note:[/blue] {escape(str(model_dir))} was trained on vocal stems, which plain audio lacks, "
                "so it hears a copy of the mix as its vocals (give --vocals with a stem or a separator folder)"
            )

    def hear(self, audio_path: Path) -> Heard:
        from songalign.audio.io import load_audio
        from songalign.transcribe.data import SAMPLE_RATE, separate_vocals

        mix, _ = load_audio(audio_path, SAMPLE_RATE)
        if mix.size == 0:
            raise BadInputError(audio_path, "holds no audio; give a file with sound in it")
        vocals, heard = None, "mix copy"
        if self.source not in ("mix", "stem"):
            path = Path(self.source)
            if path.is_dir():
                vocals, heard = separate_vocals(mix, path), f"separated by {path}"
            else:
                vocals, heard = load_audio(path, SAMPLE_RATE)[0], f"stem {path}"
        emissions = self.transcriber.emissions(mix, vocals, SAMPLE_RATE)
        return Heard(emissions, heard, len(mix) / SAMPLE_RATE)


def _finite(value: float | None) -> float | None:
    """``value``, or None when it is None or not finite (JSON has no infinities)."""
    return value if value is not None and math.isfinite(value) else None


def _note_name(pitch: float) -> str:
    midi = int(round(pitch))
    return f"{NOTE_NAMES[midi % 12]}{midi // 12 - 1}"


def _midi(pitch: float) -> int | float:
    return int(pitch) if float(pitch).is_integer() else float(pitch)


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


@dataclass
class FileTranscription:
    """What ``transcribe run`` found in one file: texts (None where not decoded) and notes (None without a
    pitch network)."""

    audio: str
    vocals: str
    duration: float
    greedy: str | None
    lm: str | None
    notes: list[Note] | None

    def to_dict(self) -> dict[str, Any]:
        notes = None
        if self.notes is not None:
            notes = [{"onset": n.start, "offset": n.end, "pitch": _midi(n.pitch)} for n in self.notes]
        return {
            "audio": self.audio,
            "vocals": self.vocals,
            "duration": self.duration,
            "greedy": self.greedy,
            "lm": self.lm,
            "notes": notes,
        }

    def csv_rows(self) -> list[list[str]]:
        """Rows ``audio,kind,start,end,pitch,text``: one per transcription (kind greedy/lm), one per note."""
        rows = [
            [self.audio, kind, "", "", "", text]
            for kind, text in (("greedy", self.greedy), ("lm", self.lm))
            if text is not None
        ]
        rows += [
            [self.audio, "note", f"{n.start:.3f}", f"{n.end:.3f}", str(_midi(n.pitch)), ""] for n in self.notes or []
        ]
        return rows


CSV_COLUMNS = ("audio", "kind", "start", "end", "pitch", "text")


def _language_model(model_dir: Path, lm: Path | None, no_lm: bool) -> Path | None:
    """The ARPA file to decode with (see the module docstring), or None."""
    if no_lm:
        return None
    if lm is not None:
        if not lm.is_file():
            raise BadInputError(lm, "is not a file; give an ARPA language model")
        return lm
    own = model_dir / LM_FILE
    return own if own.is_file() else None


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
    table = Table(title=f"{len(item.notes)} notes")
    for column in ("onset (s)", "offset (s)", "MIDI", "note"):
        table.add_column(column, justify="right")
    for note in item.notes[:NOTES_SHOWN]:
        table.add_row(f"{note.start:.3f}", f"{note.end:.3f}", str(_midi(note.pitch)), _note_name(note.pitch))
    console.print(table)
    if len(item.notes) > NOTES_SHOWN:
        console.print(f"[dim]… {len(item.notes) - NOTES_SHOWN} more notes: use --format json or csv for all[/dim]")


def _csv_text(items: list[FileTranscription]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for item in items:
        writer.writerows(item.csv_rows())
    return buffer.getvalue()


@transcribe_app.command("run")
def run_command(
    audio: Annotated[list[Path], typer.Argument(help="audio files to transcribe")],
    model: ModelOption,
    lm: Annotated[
        Path | None,
        typer.Option(help="an ARPA word LM for beam search (default: the model folder's lm.arpa)"),
    ] = None,
    no_lm: Annotated[bool, typer.Option("--no-lm", help="greedy decoding only, even when an LM is there")] = False,
    beam: BeamOption = None,
    lm_weight: LmWeightOption = None,
    word_score: WordScoreOption = None,
    onset_threshold: OnsetOption = None,
    vocals: VocalsOption = None,
    format_: Annotated[RunFormat, typer.Option("--format", help="table, json or csv (on stdout)")] = RunFormat.table,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="write JSON or CSV here instead (with --format table, by the suffix)"),
    ] = None,
) -> None:
    """Transcribe audio files: the greedy text, the text with an LM, and the notes (onset, offset, MIDI).

    A pitch-only model gives notes only, a baseline model no notes; an oracle model cannot run on plain audio.
    """
    from songalign.transcribe.decode import BeamSearchDecoder, greedy_decode, notes_from_onsets, pick_onsets

    target_format = format_
    if out is not None and format_ is RunFormat.table:
        suffix = out.suffix.lower().lstrip(".")
        if suffix not in ("json", "csv"):
            raise SongalignError(f"--out {out} needs --format json or csv, or a .json or .csv name")
        target_format = RunFormat(suffix)
    transcriber = _load_transcriber(model)
    settings = _decode_options(
        model, beam_size=beam, lm_weight=lm_weight, word_score=word_score, onset_threshold=onset_threshold
    )
    listener = Listener(transcriber, model, vocals, len(audio))
    arpa = _language_model(model, lm, no_lm) if transcriber.config.hears_lyrics else None
    decoder = None
    if arpa is not None:
        decoder = BeamSearchDecoder(
            arpa, beam_size=settings["beam_size"], lm_weight=settings["lm_weight"], word_score=settings["word_score"]
        )
        if target_format is RunFormat.table:
            notes_console.print(f"[blue]note:[/blue] beam search with the LM {escape(str(arpa))}")
    items = []
    for path in audio:
        heard = listener.hear(path)
        emissions = heard.emissions
        greedy = with_lm = notes = None
        if emissions.log_probs is not None:
            greedy = greedy_decode(emissions.log_probs)
            with_lm = decoder.decode(emissions.log_probs) if decoder is not None else None
        if emissions.onset is not None and emissions.pitch is not None:
            onsets = pick_onsets(emissions.onset, emissions.frame_seconds, threshold=settings["onset_threshold"])
            notes = notes_from_onsets(onsets, emissions.pitch, emissions.frame_seconds)
        item = FileTranscription(str(path), heard.vocals, heard.duration, greedy, with_lm, notes)
        items.append(item)
        if target_format is RunFormat.table and out is None:
            _print_transcription(item)
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
    if out is None:
        typer.echo(text.rstrip("\n"))
    else:
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
        console.print(f"[green]wrote {len(items)} transcription(s) to {escape(str(out))}[/green]")


# -- align ----------------------------------------------------------------------------------------------


def _lyric_lines(path: Path) -> list[str]:
    """The lyric lines of a plain-lyrics file (blank lines, which separate paragraphs, left out)."""
    from songalign.corpus.readers.text import read_text

    if not path.is_file():
        raise BadInputError(path, "is not a file; give the song's lyrics as a .txt file, one lyric line per line")
    lines = [line.strip() for line in read_text(path).splitlines() if line.strip()]
    if not lines:
        raise BadInputError(path, "holds no lyric lines; write the song's lyrics in it, one line per line")
    return lines


@transcribe_app.command("align")
def align_command(
    audio: Annotated[Path, typer.Argument(help="the song's audio")],
    lyrics: Annotated[Path, typer.Argument(help="its plain lyrics (.txt, one lyric line per line)")],
    model: ModelOption,
    out_dir: Annotated[
        Path | None, typer.Option("--out-dir", help="folder for the timed lyrics (default: the audio's folder)")
    ] = None,
    format_: Annotated[
        AlignFormat,
        typer.Option(
            "--format",
            help="jamendo (<stem>.words.csv, .words.txt, .lines.csv), lrc (<stem>.lrc) or all",
        ),
    ] = AlignFormat.all,
    vocals: VocalsOption = None,
) -> None:
    """Time plain lyrics to a song (CTC forced alignment); writes JamendoLyrics-style CSVs and/or an LRC file."""
    from songalign.transcribe.align import align_lyrics, write_jamendo_lines_csv, write_jamendo_words_csv, write_lrc

    lines = _lyric_lines(lyrics)
    transcriber = _load_transcriber(model, lyrics=True)
    heard = Listener(transcriber, model, vocals, 1).hear(audio)
    aligned = align_lyrics(heard.emissions.log_probs, lines, heard.emissions.emission_seconds, duration=heard.duration)
    folder = out_dir or audio.parent
    folder.mkdir(parents=True, exist_ok=True)
    stem = audio.stem
    written = []
    if format_ in (AlignFormat.jamendo, AlignFormat.all):
        written.append(write_jamendo_words_csv(folder / f"{stem}.words.csv", aligned.words))
        words_txt = folder / f"{stem}.words.txt"
        words_txt.write_text("".join(f"{word.text}\n" for word in aligned.words), encoding="utf-8")
        written.append(words_txt)
        written.append(write_jamendo_lines_csv(folder / f"{stem}.lines.csv", aligned.lines))
    if format_ in (AlignFormat.lrc, AlignFormat.all):
        written.append(write_lrc(folder / f"{stem}.lrc", aligned.lines))
    table = Table(title=f"{escape(audio.name)}: {len(aligned.lines)} lines, {len(aligned.words)} words")
    table.add_column("#", justify="right")
    table.add_column("start (s)", justify="right")
    table.add_column("end (s)", justify="right")
    table.add_column("line")
    for index, line in enumerate(aligned.lines):
        table.add_row(str(index + 1), f"{line.start:.2f}", f"{line.end:.2f}", escape(line.text))
    console.print(table)
    console.print(
        f"log-likelihood of the alignment: {aligned.log_likelihood:.1f} (natural log, vocals: {heard.vocals})"
    )
    console.print(f"[green]wrote {', '.join(escape(str(p)) for p in written)}[/green]")


# -- evaluate -------------------------------------------------------------------------------------------


def _percent(value: Any) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.2f}%"


def _seconds(value: Any) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{value:.3f}"


def evaluation_sections(result: dict[str, Any]) -> list[tuple[str, list[str], list[list[str]]]]:
    """The figures of a ``TranscriptionResult.to_dict()`` as ``(title, header, rows)`` tables (empty ones left out)."""
    sections = []
    if result.get("wer"):
        rows = []
        for measure in ("wer", "cer"):
            for level, label in (("corpus", "corpus"), ("song_mean", "song mean")):
                rows.append(
                    [
                        f"{measure.upper()} ({label})",
                        *(_percent(result[measure].get(d, {}).get(level)) for d in ("greedy", "lm")),
                    ]
                )
        lm = result.get("lm") or {}
        title = "transcription"
        if lm:
            title += (
                f" (LM: {lm.get('order')}-gram of {lm.get('lines')} {lm.get('split')} lines, {lm.get('words')} words)"
            )
        sections.append((title, ["", "greedy", "with LM"], rows))
    if result.get("notes"):
        rows = [
            [name, *(_percent(result["notes"][key].get(part)) for part in ("precision", "recall", "f_measure"))]
            for key, name in (("con", "COn"), ("conp", "COnP"))
        ]
        sections.append(("notes (per-song means)", ["", "precision", "recall", "F"], rows))
    if result.get("alignment"):
        ours, spread = result["alignment"], result.get("even_spread") or {}
        rows = [
            ["AAE (s)", _seconds(ours.get("aae")), _seconds(spread.get("aae"))],
            ["median error (s)", _seconds(ours.get("median")), _seconds(spread.get("median"))],
            ["PCO@0.3 s", _percent(ours.get("pco")), _percent(spread.get("pco"))],
        ]
        sections.append((f"word alignment ({ours.get('words')} words)", ["", "transcriber", "even spread"], rows))
    return sections


def evaluation_markdown(result: dict[str, Any]) -> str:
    """A short Markdown report of a ``TranscriptionResult.to_dict()``."""
    out = [
        f"# Transcriber {Path(result['model']).name} on split {result['split']}",
        "",
        f"Mode {result['mode']}; {result['songs']} songs scored, {result['excluded']} left out "
        "(the model was trained on them).",
    ]
    for title, header, rows in evaluation_sections(result):
        out += ["", f"## {title}", "", "| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(row) + " |" for row in rows]
    out.append("")
    return "\n".join(out)


@transcribe_app.command("evaluate")
def evaluate_command(
    model: Annotated[Path, typer.Argument(help="a trained transcriber folder")],
    corpus: Annotated[Path, typer.Option(help="a prepared corpus whose songs have timed words (and notes)")],
    split: Annotated[str, typer.Option(help="the split scored: test, val, train or all")] = "test",
    vocals: Annotated[
        str | None,
        typer.Option(
            help="the vocal channel for this corpus: mix (a copy) or an open-unmix folder; default: the model's"
        ),
    ] = None,
    out: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="folder for results.json/.md (default: evaluation-<split> beside the model)"),
    ] = None,
    beam: BeamOption = None,
    lm_weight: LmWeightOption = None,
    word_score: WordScoreOption = None,
    onset_threshold: OnsetOption = None,
) -> None:
    """WER/CER (greedy and with an LM), COn/COnP and word alignment (AAE, PCO) on held-out songs.

    Songs the model was trained on are left out and counted. The LM is the model folder's (its training lyrics).
    """
    from songalign.checkpoint import read_card
    from songalign.transcribe.evaluate import evaluate_transcriber
    from songalign.transcribe.train import DecodeSettings

    given = {
        "beam_size": beam,
        "lm_weight": lm_weight,
        "word_score": word_score,
        "onset_threshold": onset_threshold,
    }
    recipe_decode = (read_card(model).get("recipe") or {}).get("decode") or {}
    try:
        settings = DecodeSettings.model_validate(
            {**recipe_decode, **{key: value for key, value in given.items() if value is not None}}
        )
    except ValueError as error:
        field, problem = first_validation_problem(error)
        raise SongalignError(f"decoding setting '{field}': {problem}; fix the option") from None
    result = evaluate_transcriber(model, corpus, split=split, decode=settings, vocals=vocals)
    figures = result.to_dict()
    console.print(
        f"[bold]{escape(str(model))}[/bold] ({result.mode}) on split {escape(split)}: "
        f"{result.songs} songs scored, {result.excluded} left out (trained on)"
    )
    for title, header, rows in evaluation_sections(figures):
        table = Table(title=escape(title))
        for index, column in enumerate(header):
            table.add_column(column, justify="left" if index == 0 else "right")
        for row in rows:
            table.add_row(*row)
        console.print(table)
    folder = out or model.parent / f"evaluation-{split}"
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / "results.json", folder / "results.md"
    json_path.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(evaluation_markdown(figures), encoding="utf-8")
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
    vocals: Annotated[
        str | None,
        typer.Option(
            help="what the reference hears: stem, mix or an open-unmix folder "
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
        basic_pitch_song_reference,
        cleanse_songs,
        transcriber_reference,
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
    if reference is Reference.model:
        if model is None:
            raise SongalignError("--reference model needs --model: a multitask or pitch transcriber folder")
        from songalign.transcribe.model import Transcriber

        transcriber = Transcriber.from_pretrained(model)
        if not transcriber.config.hears_pitch:
            raise SongalignError(
                f"{model} is a {transcriber.config.mode} transcriber without a pitch network; "
                "give a multitask or pitch model, or --reference basic-pitch"
            )
        reference_fn = transcriber_reference(transcriber, vocals or transcriber.config.vocals)
        described = f"the pitch head of {model}"
    else:
        reference_fn = basic_pitch_song_reference(vocals or "stem", basic_pitch_model)
        described = "basic-pitch"
    shift_range = PAPER_SHIFTS if shifts is ShiftRange.paper else AUTHORS_CODE_SHIFTS
    without_notes = len(manifest.songs) - len(songs)
    console.print(
        f"cleansing {len(songs)} songs with notes against {escape(described)}, shifts "
        f"{shift_range.start:+d}…{shift_range.stop - 1:+d}"
        + (f" ({without_notes} songs without notes left out)" if without_notes else "")
    )
    report = cleanse_songs(songs, reference_fn, out, max_error=max_error, shifts=shift_range)
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
        kept = {song.id for song in report.songs}
        info = {
            **manifest.info,
            "cleansed": {
                "from": str(corpus),
                "reference": described,
                "shifts": [shift_range.start, shift_range.stop - 1],
                "max_error": max_error,
                "kept": len(report.songs),
                "dropped": len(report.dropped),
                "without_notes": without_notes,
            },
        }
        segments = [segment for segment in manifest.segments if segment.song_id in kept]
        CorpusManifest(songs=report.songs, segments=segments, info=info).save(cleansed)
        console.print(
            f"[green]wrote the cleansed corpus ({len(report.songs)} songs, {len(segments)} segments) "
            f"to {escape(str(cleansed))}[/green]"
        )


# -- rank-lyrics (a top-level command) ------------------------------------------------------------------


def rank_lyrics_command(
    audio: Annotated[Path, typer.Argument(help="the audio (a song or a segment of one)")],
    candidates: Annotated[
        Path,
        typer.Option(help="candidate lyrics: .txt (separated by blank lines), .json list or .csv 'lyrics' column"),
    ],
    transcriber: Annotated[Path, typer.Option(help="a trained transcriber folder (multitask or baseline)")],
    model: Annotated[
        Path | None, typer.Option("--model", "-m", help="an alignment (CLAP-lyr) model folder: adds cosine and fusion")
    ] = None,
    weight: Annotated[
        float, typer.Option(help="fusion weight of the CTC z-score (1 − weight goes to the cosine's)")
    ] = 0.5,
    vocals: VocalsOption = None,
    format_: Annotated[RankFormat, typer.Option("--format", help="table or json (on stdout)")] = RankFormat.table,
) -> None:
    """Rank candidate lyrics for audio: by CTC likelihood under a transcriber, by a CLAP model's cosine, and fused."""
    from songalign.transcribe.rank import embedding_scores, rank_candidates, read_candidates

    if not 0 <= weight <= 1:
        raise SongalignError(f"--weight is {weight}; give a share between 0 and 1")
    texts = read_candidates(candidates)
    loaded = _load_transcriber(transcriber, lyrics=True)
    heard = Listener(loaded, transcriber, vocals, 1).hear(audio)
    cosines = None
    if model is not None:
        from songalign.align.model import AlignModel

        aligner = AlignModel.from_pretrained(model)
        cosines = embedding_scores(aligner.embed_audio([audio]), aligner.embed_text(texts))[0]
    ranked = rank_candidates(heard.emissions.log_probs, texts, cosines, weight=weight)
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
        typer.echo(json.dumps({"audio": str(audio), "weight": weight if model else None, "candidates": rows}, indent=2))
        return
    by = f"fusion (weight {weight:g} on CTC)" if model is not None else "CTC likelihood"
    table = Table(title=f"{len(texts)} candidates for {escape(audio.name)}, ranked by {by}")
    table.add_column("rank", justify="right")
    table.add_column("#", justify="right")
    table.add_column("CTC log-lik.", justify="right")
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


@transcribe_app.command("quickstart")
def quickstart_command(
    out: Annotated[Path, typer.Option("--out", "-o", help="working folder")] = Path("runs/transcribe"),
    songs: Annotated[int, typer.Option(help="songs in the synthetic corpus")] = 48,
    seed: Annotated[int, typer.Option(help="seed of every random step")] = 0,
) -> None:
    """Seed 001's transcription experiment in miniature: corpus with stems, four transcribers, WER/CER, notes,
    alignment, lyric selection, report."""
    from songalign.transcribe.study import run_transcribe_quickstart

    report = run_transcribe_quickstart(out, songs=songs, seed=seed, log=lambda title: console.rule(title))
    console.print(f"[bold green]report: {report}[/bold green]; numbers in {out / 'results.json'}")
