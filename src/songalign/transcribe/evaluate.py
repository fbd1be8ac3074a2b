"""Scoring a trained transcriber on held-out songs: transcription, notes and alignment, as the seed reports them.

For every scored song (whole, through :meth:`Transcriber.emissions_from_features`):

- **Transcription** (lyrics models): greedy decoding, and beam search (``decode.beam_size``) with the
  word n-gram LM in the model's folder, built at training from its *training* songs' lyric lines only;
  WER and CER corpus-level and the seed's per-song mean (:mod:`.metrics`; texts normalised by
  :func:`~songalign.transcribe.symbols.normalise_text`).
- **Notes** (models with a pitch network, on the songs with annotated notes): onsets by peak picking (50 ms window, threshold
  ``decode.onset_threshold``), notes by ``decode.note_rule`` (:func:`.decode.notes_from_emissions`),
  COn and COnP against the annotated notes (mir_eval, 50 ms, 50 cents), per-song means.
- **Phonemes** (phoneme models, instead of transcription): the greedy phoneme error rate against the song's
  phonemes (:func:`.data.word_phonemes`: the sung ones where annotated, else espeak-ng's reading).
- **Alignment** (lyrics models): the song's reference lyrics forced-aligned to its emissions
  (:func:`.align.align_lyrics`; a phoneme model's spelt by espeak-ng in the song's language,
  :func:`.phonemes.song_language`, or the ``language`` given); AAE, median AE, median deviation (JamendoLyrics' ``mean_AE``,
  ``median_AE``, ``median_deviation``), the pooled median absolute error and PCO@0.3 s of the word onsets, beside the
  even-spread baseline in the same run (the same words spread evenly over the annotated sung span,
  first word start to last word end).

Songs the model's card says it was fitted on are never scored: they are left out and counted.

:func:`evaluation_sections` turns the figures into tables, :func:`evaluation_markdown` into a short
report, and :func:`write_evaluation_files` writes ``results.json`` and ``results.md``.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from songalign.audio.cache import FeatureCache
from songalign.checkpoint import read_card, trained_songs
from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.records import Word
from songalign.errors import SkipReport, SongalignError
from songalign.transcribe.align import LETTERS, Spelling, align_lyrics
from songalign.transcribe.data import SongTargets
from songalign.transcribe.decode import (
    BeamSearchDecoder,
    DecodeSettings,
    beam_search_decoder,
    greedy_decode,
    greedy_phonemes,
    notes_from_emissions,
)
from songalign.transcribe.listen import check_channel
from songalign.transcribe.lm import LM_FILE, read_ngram_counts
from songalign.transcribe.metrics import (
    alignment_scores,
    character_error_rate,
    even_spread_starts,
    note_scores,
    phoneme_error_rate,
    word_error_rate,
)
from songalign.transcribe.model import Transcriber
from songalign.transcribe.phonemes import model_spelling, song_language
from songalign.transcribe.symbols import normalise_text
from songalign.transcribe.train import load_targets, split_songs


@dataclass
class TranscriptionResult:
    """Everything :func:`evaluate_transcriber` measured (fractions in 0..1, times in seconds).

    ``wer``/``cer`` map ``"greedy"`` and ``"lm"`` to ``{"corpus": …, "song_mean": …}``; ``notes`` holds
    COn/COnP precision, recall and F (per-song means); ``alignment`` and ``even_spread`` hold ``aae``,
    ``median_ae``, ``median_deviation``, ``pooled_median_ae``, ``pco`` and ``words`` (see :mod:`.metrics`);
    ``lm`` what the beam search decoded with (:func:`language_model_summary`); ``songs`` counts the scored
    songs, ``excluded`` those the model trained on; ``examples`` a few (reference, greedy, LM) transcriptions.
    """

    model: str
    mode: str
    split: str
    songs: int
    excluded: int
    wer: dict[str, dict[str, float]] = field(default_factory=dict)
    cer: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: dict[str, dict[str, float]] = field(default_factory=dict)
    alignment: dict[str, float] = field(default_factory=dict)
    even_spread: dict[str, float] = field(default_factory=dict)
    lm: dict[str, Any] = field(default_factory=dict)
    examples: list[dict[str, str]] = field(default_factory=list)
    alignment_skipped: list[str] = field(default_factory=list)
    per: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rates(rate) -> dict[str, float]:
    return {"corpus": rate.corpus, "song_mean": rate.song_mean}


def _alignment_figures(scores) -> dict[str, float]:
    return {
        "aae": scores.aae,
        "median_ae": scores.median_ae,
        "median_deviation": scores.median_deviation,
        "pooled_median_ae": scores.pooled_median_absolute_error,
        "pco": scores.pco,
        "words": scores.words,
    }


def held_out(model_dir: str | Path, songs: Sequence[SongTargets]) -> tuple[list[SongTargets], int]:
    """``songs`` without those the model folder's card says it was fitted on, and how many were left out."""
    seen = trained_songs(read_card(model_dir)) or set()
    kept = [song for song in songs if song.song_id not in seen]
    return kept, len(songs) - len(kept)


def model_decoder(model_dir: str | Path, decode: DecodeSettings) -> BeamSearchDecoder:
    """The beam-search decoder with the word LM saved in a lyrics model's folder (built from its training lyrics)."""
    arpa = Path(model_dir) / LM_FILE
    if not arpa.is_file():
        raise SongalignError(
            f"{arpa} does not exist, so there is no LM of this model's training lyrics; "
            "train the model again with `songalign transcribe train`"
        )
    return beam_search_decoder(arpa, decode)


def language_model_summary(decoder: BeamSearchDecoder, model_dir: str | Path) -> dict[str, Any]:
    """What the beam search decoded with: its ARPA ``file``, ``order`` and ``ngrams`` (the count of each order,
    from the file's header), the lexicon's ``words``, and, when the file is the model folder's own ``lm.arpa``,
    the ``lines`` of lyrics its card says it was built from and their ``split``."""
    counts = read_ngram_counts(decoder.arpa_path)
    summary: dict[str, Any] = {
        "file": str(decoder.arpa_path),
        "order": len(counts),
        "ngrams": list(counts),
        "words": len(decoder.words),
    }
    own = Path(model_dir) / LM_FILE
    if own.is_file() and decoder.arpa_path.resolve() == own.resolve():
        data = read_card(model_dir).get("data") or {}
        built = data.get("lm") or {}
        if "lines" in built:
            summary.update(lines=built["lines"], split=data.get("train_split", "training"))
    return summary


def aligned_onsets(
    log_probs: np.ndarray, words: Sequence[Word], emission_seconds: float, spelling: Spelling = LETTERS
) -> np.ndarray:
    """Predicted onsets (s) of ``words`` — a song's annotated words in time order — by forced alignment of
    their texts, grouped into lines by ``Word.line``, so that predictions and truth pair up one to one;
    ``spelling`` as the model writes (letters, or a phoneme model's spelling in the song's language)."""
    lines: list[list[str]] = []
    previous = None
    for word in words:
        if not lines or word.line != previous or word.line < 0:
            lines.append([])
        lines[-1].append(word.text)
        previous = word.line
    aligned = align_lyrics(log_probs, [" ".join(line) for line in lines], emission_seconds, spelling=spelling)
    return np.array([w.start for w in aligned.words])


def evaluate_transcriber(
    model_dir: str | Path,
    corpus: str | Path,
    *,
    split: str = "test",
    decode: DecodeSettings | None = None,
    vocals: str | None = None,
    cache_dir: str | Path | None = None,
    decoder: BeamSearchDecoder | None = None,
    language: str | None = None,
) -> TranscriptionResult:
    """Score the transcriber in ``model_dir`` on the ``split`` songs of the prepared ``corpus`` (module docstring).

    The LM is the model folder's own (:func:`model_decoder`) unless a ``decoder`` is given. ``vocals``
    replaces the model's vocal channel for this corpus (``"mix"``, ``"stem"``, a separator ``NAME[:MODEL]`` or an
    open-unmix folder); the channel is checked before any song is read
    (:func:`~songalign.transcribe.listen.check_channel`). ``cache_dir`` is the feature cache (default: the corpus's). A song that cannot be aligned is
    left out of the alignment figures and named in ``alignment_skipped``. ``language`` (an espeak-ng code or a
    language's name) spells every song's lyrics for a phoneme model; default: each song's own
    (:func:`~songalign.transcribe.phonemes.song_language`).
    """
    decode = decode or DecodeSettings()
    model = Transcriber.from_pretrained(model_dir)
    manifest = CorpusManifest.load(corpus)
    cache = FeatureCache(cache_dir or Path(corpus) / ".cache" / "transcribe")
    config = model.config if vocals is None else model.config.model_copy(update={"vocals": vocals})
    # the channel once, before any song: a separator that cannot be had is one sentence, not every song skipped
    where = f"--vocals {vocals}" if vocals is not None else f"the vocal channel {config.vocals} of {model_dir}"
    check_channel(config.vocals, where, remedy="give --vocals spleeter, stem or mix")
    report = SkipReport()
    needs = {"need_notes": config.mode == "oracle", "need_words": config.hears_lyrics}
    songs = load_targets(split_songs(manifest, split), config, cache, report, **needs)
    songs, excluded = held_out(model_dir, songs)
    if not songs:
        raise SongalignError(
            f"{corpus}: no song of split '{split}' can be scored ({excluded} the model trained on, "
            f"{len(report.entries)} unusable, e.g. {report.entries[0].reason if report.entries else 'none'}); "
            "score a split of held-out songs with timed words, and --vocals mix for songs without stems"
        )
    result = TranscriptionResult(
        model=str(model_dir), mode=config.mode, split=split, songs=len(songs), excluded=excluded
    )
    emissions = [model.emissions_from_features(song.mel, song.notes) for song in songs]
    ids = [song.song_id for song in songs]
    phonemes = config.hears_lyrics and config.network.symbols == "phonemes"
    if phonemes:
        greedy = [greedy_phonemes(e.log_probs) for e in emissions]
        result.per["greedy"] = _rates(phoneme_error_rate([song.text for song in songs], greedy, ids))
    elif config.hears_lyrics:
        references = [song.text for song in songs]
        greedy = [greedy_decode(e.log_probs) for e in emissions]
        decoder = decoder or model_decoder(model_dir, decode)
        result.lm = language_model_summary(decoder, model_dir)
        with_lm = [decoder.decode(e.log_probs) for e in emissions]
        for name, hypotheses in (("greedy", greedy), ("lm", with_lm)):
            result.wer[name] = _rates(word_error_rate(references, hypotheses, ids))
            result.cer[name] = _rates(character_error_rate(references, hypotheses, ids))
        result.examples = [
            {"song": s, "reference": r[:160], "greedy": g[:160], "lm": m[:160]}
            for s, r, g, m in list(zip(ids, references, greedy, with_lm, strict=True))[:3]
        ]
    if config.hears_lyrics:
        true_starts, predicted, spread, aligned_ids = [], [], [], []
        for song, emission in zip(songs, emissions, strict=True):
            words = sorted((w for w in manifest.song(song.song_id).words if normalise_text(w.text)), key=_start)
            try:
                spelling = (
                    model_spelling(config.network, language or song_language(manifest.song(song.song_id)))
                    if phonemes
                    else LETTERS
                )
                onsets = aligned_onsets(emission.log_probs, words, emission.emission_seconds, spelling)
            except SongalignError as error:
                result.alignment_skipped.append(f"{song.song_id}: {error}")
                continue
            truth = np.array([w.start for w in words])
            true_starts.append(truth)
            predicted.append(onsets)
            spread.append(even_spread_starts(len(words), float(truth[0]), max(w.end for w in words)))
            aligned_ids.append(song.song_id)
        if aligned_ids:
            result.alignment = _alignment_figures(alignment_scores(true_starts, predicted, aligned_ids))
            result.even_spread = _alignment_figures(alignment_scores(true_starts, spread, aligned_ids))
    if config.hears_pitch:
        noted = [(song, e) for song, e in zip(songs, emissions, strict=True) if song.notes]
        if noted:
            estimated = [notes_from_emissions(e.onset, e.pitch, e.frame_seconds, decode) for _, e in noted]
            scores = note_scores([song.notes for song, _ in noted], estimated, [song.song_id for song, _ in noted])
            result.notes = {"con": asdict(scores.con), "conp": asdict(scores.conp), "songs": scores.songs}
    return result


def _start(word: Word) -> float:
    return word.start


# -- tables and files ------------------------------------------------------------------------------------


def _percent_cell(value: Any) -> str:
    return "–" if value is None or (isinstance(value, float) and math.isnan(value)) else f"{100 * value:.2f}%"


def _seconds_cell(value: Any) -> str:
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
                        *(_percent_cell(result[measure].get(d, {}).get(level)) for d in ("greedy", "lm")),
                    ]
                )
        lm = result.get("lm") or {}
        title = "transcription"
        if lm.get("order"):
            source = f" of {lm['lines']} {lm['split']} lines" if "lines" in lm else f" from {Path(lm['file']).name}"
            title += f" (LM: {lm['order']}-gram{source}, {lm['words']} words, {sum(lm['ngrams'])} n-grams)"
        sections.append((title, ["", "greedy", "with LM"], rows))
    if result.get("per"):
        rows = [[f"PER ({label})", _percent_cell(result["per"]["greedy"].get(level))] for level, label in
                (("corpus", "corpus"), ("song_mean", "song mean"))]  # fmt: skip
        sections.append(("phonemes (greedy)", ["", "greedy"], rows))
    if result.get("notes"):
        rows = [
            [name, *(_percent_cell(result["notes"][key].get(part)) for part in ("precision", "recall", "f_measure"))]
            for key, name in (("con", "COn"), ("conp", "COnP"))
        ]
        sections.append(("notes (per-song means)", ["", "precision", "recall", "F"], rows))
    if result.get("alignment"):
        ours, spread = result["alignment"], result.get("even_spread") or {}
        rows = [
            ["AAE (s)", _seconds_cell(ours.get("aae")), _seconds_cell(spread.get("aae"))],
            *(
                [label, _seconds_cell(ours.get(key)), _seconds_cell(spread.get(key))]
                for label, key in (
                    ("median AE (s)", "median_ae"),
                    ("median deviation (s)", "median_deviation"),
                    ("pooled median abs. error (s)", "pooled_median_ae"),
                )
            ),
            ["PCO@0.3 s", _percent_cell(ours.get("pco")), _percent_cell(spread.get("pco"))],
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


def write_evaluation_files(figures: dict[str, Any], folder: Path) -> tuple[Path, Path]:
    """``results.json`` (the figures) and ``results.md``
    (:func:`evaluation_markdown`) in ``folder``; returns their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    json_path, md_path = folder / "results.json", folder / "results.md"
    json_path.write_text(json.dumps(figures, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    md_path.write_text(evaluation_markdown(figures), encoding="utf-8")
    return json_path, md_path
