"""Scoring an acoustic backend on held-out songs: transcription, notes and alignment, every backend the same way.

:func:`evaluate_transcriber` scores songalign's own ``crnn`` transcriber (from its folder, on the features
cached for the corpus, through :meth:`Transcriber.emissions_from_features`); :func:`evaluate_backend` scores
any backend of :data:`songalign.transcribe.BACKENDS` (``whisper``, ``wav2vec2``, …) from the songs' audio.
Both fill one :class:`TranscriptionResult` through the same scoring (:func:`song_truth`, :func:`scored_onsets`,
the same WER/CER and alignment figures). For every scored song (whole):

- **Transcription** (lyrics models): for ``crnn``, greedy decoding, and beam search (``decode.beam_size``)
  with the word n-gram LM in the model's folder, built at training from its *training* songs' lyric lines
  only; for another backend, the words it transcribes (``transcribe run``). WER and CER corpus-level and the
  seed's per-song mean (:mod:`.metrics`; texts normalised by :func:`~songalign.transcribe.symbols.normalise_text`).
- **Notes** (``crnn`` models with a pitch network, on the songs with annotated notes): onsets by peak picking (50 ms window, threshold
  ``decode.onset_threshold``), notes by ``decode.note_rule`` (:func:`.decode.notes_from_emissions`),
  COn and COnP against the annotated notes (mir_eval, 50 ms, 50 cents), per-song means.
- **Phonemes** (phoneme models, instead of transcription): the greedy phoneme error rate against the song's
  phonemes (:func:`.data.word_phonemes`: the sung ones where annotated, else espeak-ng's reading).
- **Alignment**: the song's annotated lyric lines timed as ``transcribe align`` times them (a phoneme
  model's spelt by espeak-ng in the song's language, :func:`.phonemes.song_language`, or the ``language`` given)
  (:meth:`~songalign.transcribe.backends.Backend.align`: vocal activity from the channel heard, a confidence
  per line); AAE, median AE, median deviation (JamendoLyrics' ``Evaluate.py``: ``mean_AE``, ``median_AE`` —
  the mean over songs of each song's median absolute onset error —, ``median_deviation``), the pooled median
  absolute error and PCO@0.3 s of the word onsets, beside the even-spread baseline in the same run (the same
  words spread evenly over the annotated sung span, first word start to last word end); and the share of
  lines marked unsure (confidence under the threshold, stretched over a gap, or not placed). A word the
  aligner leaves untimed is scored at the end of the placed word before it (:func:`scored_onsets`) and counted.

Chance: a model that knows nothing (uniform emissions) transcribes nothing (WER 100 %), has confidence
``1/V`` on every line (all unsure under the default thresholds), and its onsets are no better than the even
spread's, which knows where the singing starts and ends.

Songs a ``crnn`` model's card says it was fitted on are never scored: they are left out and counted. A
pretrained backend (``whisper``, ``wav2vec2``) is an external model: songalign cannot know what it heard,
and the result says so.

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
from songalign.corpus.lyrics_files import ScoredLyrics
from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.records import Song, Word
from songalign.errors import SkipReport, SongalignError
from songalign.transcribe.align import LETTERS
from songalign.transcribe.backends import Backend
from songalign.transcribe.data import SongTargets
from songalign.transcribe.decode import (
    BeamSearchDecoder,
    DecodeSettings,
    beam_search_decoder,
    greedy_decode,
    greedy_phonemes,
    notes_from_emissions,
)
from songalign.transcribe.listen import check_channel, song_sound
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
from songalign.transcribe.phonemes import song_language
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
    Another backend's ``wer``/``cer`` hold ``"backend"`` (what it transcribes) only, ``mode`` is empty and
    ``external`` says it is a model trained elsewhere. ``unsure`` holds the aligned ``lines``, how many were
    marked ``unsure`` (or left untimed), their ``share``, the ``untimed_words`` and the ``min_confidence``.
    """

    model: str
    mode: str
    split: str
    songs: int
    excluded: int
    backend: str = "crnn"
    external: bool = False
    wer: dict[str, dict[str, float]] = field(default_factory=dict)
    cer: dict[str, dict[str, float]] = field(default_factory=dict)
    per: dict[str, dict[str, float]] = field(default_factory=dict)
    notes: dict[str, dict[str, float]] = field(default_factory=dict)
    alignment: dict[str, float] = field(default_factory=dict)
    even_spread: dict[str, float] = field(default_factory=dict)
    unsure: dict[str, Any] = field(default_factory=dict)
    lm: dict[str, Any] = field(default_factory=dict)
    examples: list[dict[str, str]] = field(default_factory=list)
    alignment_skipped: list[str] = field(default_factory=list)

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


@dataclass
class SongTruth:
    """A scored song's annotated lyrics: ``lines`` (its timed words grouped by ``Word.line``, in time order;
    words without a letter a-z left out), ``starts`` ``(W,)`` their onsets and ``sung_end`` the last word's
    end (seconds), so that predictions and truth pair up one to one."""

    song_id: str
    lines: list[str]
    starts: np.ndarray
    sung_end: float

    @property
    def text(self) -> str:
        return " ".join(self.lines)


def song_truth(song: Song) -> SongTruth | None:
    """:class:`SongTruth` of a corpus song; None when it has no timed word with a letter a-z."""
    words = sorted((w for w in song.words if normalise_text(w.text)), key=_start)
    if not words:
        return None
    lines: list[list[str]] = []
    previous = None
    for word in words:
        if not lines or word.line != previous or word.line < 0:
            lines.append([])
        lines[-1].extend(word.text.split())
        previous = word.line
    starts = np.array([w.start for w in words for _ in w.text.split()])
    return SongTruth(song.id, [" ".join(line) for line in lines], starts, max(w.end for w in words))


def scored_onsets(scored: ScoredLyrics) -> tuple[np.ndarray, int]:
    """Every word's onset (seconds) in ``scored``, shape ``(W,)``, and how many words were not placed: an
    untimed word takes the end of the placed word before it (the start of the next when none came before),
    the time an aligner that must answer would give it; no placed word at all gives onsets 0."""
    words = [word for line in scored.lines for word in line.words]
    onsets, untimed, previous_end = [], 0, None
    following = [w.start for w in words if w.start is not None]
    for word in words:
        if word.start is None:
            untimed += 1
            onsets.append(previous_end if previous_end is not None else (following[0] if following else 0.0))
        else:
            onsets.append(word.start)
            previous_end = word.end
    return np.asarray(onsets, dtype=np.float64), untimed


@dataclass
class _Alignments:
    """What the scored songs' alignments gave, gathered song by song for :meth:`figures`."""

    true_starts: list[np.ndarray] = field(default_factory=list)
    predicted: list[np.ndarray] = field(default_factory=list)
    spread: list[np.ndarray] = field(default_factory=list)
    ids: list[str] = field(default_factory=list)
    lines: int = 0
    unsure: int = 0
    untimed_words: int = 0
    min_confidence: float | None = None

    def add(self, truth: SongTruth, scored: ScoredLyrics) -> None:
        onsets, untimed = scored_onsets(scored)
        if onsets.shape != truth.starts.shape:
            raise SongalignError(
                f"{truth.song_id}: the aligner returned {onsets.size} words for {truth.starts.size}; "
                "an aligner must keep every word it is given"
            )
        self.true_starts.append(truth.starts)
        self.predicted.append(onsets)
        self.spread.append(even_spread_starts(truth.starts.size, float(truth.starts[0]), truth.sung_end))
        self.ids.append(truth.song_id)
        self.lines += len(scored.lines)
        self.unsure += sum(1 for _ in scored.unplaced)
        self.untimed_words += untimed
        self.min_confidence = scored.min_confidence

    def figures(self, result: TranscriptionResult) -> None:
        """Fill ``result``'s ``alignment``, ``even_spread`` and ``unsure`` (nothing when no song was aligned)."""
        if not self.ids:
            return
        result.alignment = _alignment_figures(alignment_scores(self.true_starts, self.predicted, self.ids))
        result.even_spread = _alignment_figures(alignment_scores(self.true_starts, self.spread, self.ids))
        result.unsure = {
            "lines": self.lines,
            "unsure": self.unsure,
            "share": self.unsure / self.lines if self.lines else math.nan,
            "untimed_words": self.untimed_words,
            "min_confidence": self.min_confidence,
        }


def held_out_songs(backend: Backend, songs: Sequence[Song]) -> list[Song]:
    """``songs`` without those a ``crnn`` backend's model card says it was fitted on; every one of them for an
    external model (which songs it heard is not known here)."""
    from songalign.transcribe.backends import CrnnBackend

    if not isinstance(backend, CrnnBackend):
        return list(songs)
    seen = trained_songs(read_card(backend.folder)) or set()
    return [song for song in songs if song.id not in seen]


def evaluate_transcriber(
    model_dir: str | Path,
    corpus: str | Path,
    *,
    split: str = "test",
    decode: DecodeSettings | None = None,
    vocals: str | None = None,
    cache_dir: str | Path | None = None,
    decoder: BeamSearchDecoder | None = None,
    min_confidence: float | None = None,
    language: str | None = None,
) -> TranscriptionResult:
    """Score the ``crnn`` transcriber in ``model_dir`` on the ``split`` songs of the prepared ``corpus`` (module
    docstring).

    The LM is the model folder's own (:func:`model_decoder`) unless a ``decoder`` is given. ``vocals``
    replaces the model's vocal channel for this corpus (``"mix"``, ``"stem"``, a separator ``NAME[:MODEL]`` or an
    open-unmix folder); the channel is checked before any song is read
    (:func:`~songalign.transcribe.listen.check_channel`). ``cache_dir`` is the feature cache (default: the
    corpus's). Alignment is the ``crnn`` backend's (:meth:`~songalign.transcribe.backends.CtcBackend.align`, vocal
    activity from the same channel) on the emissions scored here, lines under ``min_confidence`` (None: the
    backend's) counted unsure, as :func:`evaluate_backend` scores every backend. A song that cannot be
    aligned is left out of the alignment figures and named in ``alignment_skipped``. ``language`` (an
    espeak-ng code or a language's name) spells every song's lyrics for a phoneme model; default: each song's
    own (:func:`~songalign.transcribe.phonemes.song_language`).
    """
    from songalign.transcribe.backends import CrnnBackend

    decode = decode or DecodeSettings()
    model = Transcriber.from_pretrained(model_dir)
    backend = CrnnBackend(model_dir, transcriber=model) if model.config.hears_lyrics else None
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
    phonemes = backend is not None and backend.writes_phonemes
    if phonemes:
        greedy = [greedy_phonemes(e.log_probs) for e in emissions]
        result.per["greedy"] = _rates(phoneme_error_rate([song.text for song in songs], greedy, ids))
    elif backend is not None:
        references = [song.text for song in songs]
        greedy = [greedy_decode(e.log_probs) for e in emissions]
        decoder = decoder or model_decoder(model_dir, decode)
        result.lm = language_model_summary(decoder, model_dir)
        with_lm = [decoder.decode(e.log_probs) for e in emissions]
        _transcription_figures(result, references, {"greedy": greedy, "lm": with_lm}, ids)
    if backend is not None:
        alignments = _Alignments()
        for song, emission in zip(songs, emissions, strict=True):
            record = manifest.song(song.song_id)
            truth = song_truth(record)
            try:
                scored = backend.align_emissions(
                    song_sound(record, config.vocals),
                    emission.log_probs,
                    emission.emission_seconds,
                    truth.lines,  # type: ignore[union-attr]  # load_targets kept songs with words only
                    min_confidence=min_confidence,
                    spelling=backend.spelling(language or song_language(record)) if phonemes else LETTERS,
                )
            except SongalignError as error:
                result.alignment_skipped.append(f"{song.song_id}: {error}")
                continue
            alignments.add(truth, scored)  # type: ignore[arg-type]
        alignments.figures(result)
    if config.hears_pitch:
        noted = [(song, e) for song, e in zip(songs, emissions, strict=True) if song.notes]
        if noted:
            estimated = [notes_from_emissions(e.onset, e.pitch, e.frame_seconds, decode) for _, e in noted]
            scores = note_scores([song.notes for song, _ in noted], estimated, [song.song_id for song, _ in noted])
            result.notes = {"con": asdict(scores.con), "conp": asdict(scores.conp), "songs": scores.songs}
    return result


def evaluate_backend(
    backend: Backend,
    corpus: str | Path,
    *,
    split: str = "test",
    vocals: str | None = None,
    min_confidence: float | None = None,
) -> TranscriptionResult:
    """Score any acoustic ``backend`` on the ``split`` songs of the prepared ``corpus`` as :func:`evaluate_transcriber`
    scores ``crnn``: WER/CER of what it transcribes (``transcribe run``), and the alignment of the annotated
    lines (``transcribe align``: vocal activity, confidence, lines under ``min_confidence`` — None: the
    backend's — counted unsure) beside the even spread. It hears ``vocals`` (default: the backend's own
    channel). A ``crnn`` backend leaves out the songs its card says it trained on; any other is an external
    model, trained on songs songalign cannot know (``result.external``). Songs without timed words, whose
    audio cannot be had or that cannot be aligned are left out and named.
    """
    from songalign.transcribe.backends import CrnnBackend

    source = vocals if vocals is not None else backend.default_vocals
    check_channel(source, f"--vocals {source}", remedy="give --vocals spleeter, stem or mix")
    manifest = CorpusManifest.load(corpus)
    chosen = split_songs(manifest, split)
    kept = held_out_songs(backend, chosen)
    truths = {song.id: song_truth(song) for song in kept}
    usable = [song for song in kept if truths[song.id] is not None]
    if not usable:
        raise SongalignError(
            f"{corpus}: no song of split '{split}' can be scored ({len(chosen) - len(kept)} the model trained on, "
            f"{len(kept)} without timed words); score a split of held-out songs with timed words"
        )
    result = TranscriptionResult(
        model=backend.describe(),
        mode="",
        split=split,
        songs=0,
        excluded=len(chosen) - len(kept),
        backend=backend.name,
        external=not isinstance(backend, CrnnBackend),
    )
    references, heard, ids = [], [], []
    alignments = _Alignments()
    for song in usable:
        truth = truths[song.id]
        try:
            sound = song_sound(song, source)
            words, scored = backend.transcribe_and_align(sound, truth.lines, min_confidence=min_confidence)  # type: ignore[union-attr]
        except SongalignError as error:
            result.alignment_skipped.append(f"{song.id}: {error}")
            continue
        references.append(truth.text)  # type: ignore[union-attr]
        heard.append(" ".join(w.text for w in words))
        ids.append(song.id)
        alignments.add(truth, scored)  # type: ignore[arg-type]
    if not ids:
        raise SongalignError(
            f"{corpus}: none of the {len(usable)} songs could be heard and aligned, e.g. {result.alignment_skipped[0]}"
        )
    result.songs = len(ids)
    _transcription_figures(result, references, {"backend": heard}, ids)
    alignments.figures(result)
    return result


def _transcription_figures(
    result: TranscriptionResult, references: list[str], hypotheses: dict[str, list[str]], ids: list[str]
) -> None:
    """``result``'s WER/CER for each decoding's ``hypotheses`` (one text per song) and a few examples."""
    for name, texts in hypotheses.items():
        result.wer[name] = _rates(word_error_rate(references, texts, ids))
        result.cer[name] = _rates(character_error_rate(references, texts, ids))
    result.examples = [
        {"song": song, "reference": reference[:160], **{name: texts[i][:160] for name, texts in hypotheses.items()}}
        for i, (song, reference) in enumerate(list(zip(ids, references, strict=True))[:3])
    ]


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
    backend = result.get("backend", "crnn")
    if result.get("wer"):
        decodings = list(result["wer"])
        labels = {"greedy": "greedy", "lm": "with LM", "backend": f"{backend} (transcribe run)"}
        rows = []
        for measure in ("wer", "cer"):
            for level, label in (("corpus", "corpus"), ("song_mean", "song mean")):
                rows.append(
                    [
                        f"{measure.upper()} ({label})",
                        *(_percent_cell(result[measure].get(d, {}).get(level)) for d in decodings),
                    ]
                )
        lm = result.get("lm") or {}
        title = "transcription"
        if lm.get("order"):
            source = f" of {lm['lines']} {lm['split']} lines" if "lines" in lm else f" from {Path(lm['file']).name}"
            title += f" (LM: {lm['order']}-gram{source}, {lm['words']} words, {sum(lm['ngrams'])} n-grams)"
        sections.append((title, ["", *(labels.get(d, d) for d in decodings)], rows))
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
        unsure = result.get("unsure") or {}
        if unsure.get("lines"):
            threshold = unsure.get("min_confidence")
            rows.append(
                [
                    f"lines marked unsure (of {unsure['lines']}; confidence under {threshold:g})"
                    if threshold is not None
                    else f"lines marked unsure (of {unsure['lines']})",
                    _percent_cell(unsure.get("share")),
                    "–",
                ]
            )
            rows.append(["words not placed", str(unsure.get("untimed_words", 0)), "–"])
        sections.append((f"word alignment ({ours.get('words')} words)", ["", backend, "even spread"], rows))
    return sections


def evaluation_summary(result: dict[str, Any]) -> str:
    """One sentence: what was scored, how many songs, and which were left out (or that the model is external)."""
    if result.get("external"):
        return (
            f"Backend {result['model']}, an external model (pretrained elsewhere: which songs it heard is not "
            f"known here); {result['songs']} songs scored."
        )
    return (
        f"Mode {result['mode']}; {result['songs']} songs scored, {result['excluded']} left out "
        "(the model was trained on them)."
    )


def evaluation_markdown(result: dict[str, Any]) -> str:
    """A short Markdown report of a ``TranscriptionResult.to_dict()``."""
    name = result["model"] if result.get("external") else f"Transcriber {Path(result['model']).name}"
    out = [f"# {name} on split {result['split']}", "", evaluation_summary(result)]
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
