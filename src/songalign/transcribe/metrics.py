"""Scores for lyrics transcription (WER, CER), sung-note transcription (COn, COnP) and lyrics alignment (AAE, PCO).

Every score is given two ways where the two differ: over the whole corpus, and as the seed paper's
mean over songs (each song scored alone, then the songs averaged, so a short song weighs as much as a
long one).

- **WER / CER** (:func:`word_error_rate`, :func:`character_error_rate`, computed with ``jiwer``) on texts
  normalised by :func:`~songalign.transcribe.symbols.normalise_text` (lower case, ``a-z``, ``'`` and
  single spaces). Characters include the spaces between words. ``corpus`` is total edits (S + D + I)
  over total reference words (characters); ``song_mean`` is the mean of each song's rate (the seed's
  Jamendo figure). A song whose reference normalises to nothing has no defined rate: it is left out of
  both and named in ``skipped``.
- **COn / COnP** (:func:`note_scores`, matching by ``mir_eval.transcription``): a predicted note is
  correct for COn when its onset lies within ``onset_tolerance`` (50 ms) of an unmatched reference
  onset, and for COnP when in addition its pitch is within 50 cents; offsets are ignored in both.
  Precision, recall and F-measure per song, then averaged over songs (the seed's style); the pooled
  figures (all songs' matches over all notes) come alongside. A song without reference notes is left
  out and named in ``skipped``; a song without predicted notes scores 0.
- **AAE / median AE / median deviation / PCO** (:func:`alignment_scores`, as the JamendoLyrics
  evaluation's ``Evaluate.py`` defines them; its names in brackets): per song, AAE (``mean_AE``) is
  the mean absolute error of the predicted word onsets (seconds), the median AE (``median_AE``) their
  median absolute error, and PCO@τ (``mauch_τ``) the share of words whose absolute onset error is
  below τ (0.3 s); all three are averaged over songs. The median deviation (``median_deviation``) is
  the median of the *signed* errors (predicted − true: positive when late) over all words of all
  songs pooled. Beside them, the pooled median absolute error (over all words of all songs, which
  ``Evaluate.py`` does not report) is named as such.
- **Even spread** (:func:`even_spread_starts`): the baseline that knows only where singing starts and
  ends and spreads the words evenly over that span.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from types import ModuleType
from typing import Any

import numpy as np

from songalign.corpus.records import Note, Seconds, midi_to_hz
from songalign.errors import MissingDependencyError, SongalignError
from songalign.transcribe.symbols import normalise_text

ONSET_TOLERANCE: Seconds = 0.05
"""How far (seconds) a predicted note's onset may lie from the reference onset for COn and COnP."""
PITCH_TOLERANCE_CENTS = 50.0
"""How far (cents) a predicted note's pitch may lie from the reference pitch for COnP."""
PCO_TOLERANCE: Seconds = 0.3
"""τ of PCO@τ: an onset error below this many seconds counts as correct."""


def _song_names(song_ids: Sequence[str] | None, count: int, what: str) -> list[str]:
    if song_ids is None:
        return [f"song {index}" for index in range(count)]
    if len(song_ids) != count:
        raise SongalignError(f"song_ids has {len(song_ids)} names for {count} songs of {what}; give one name per song")
    return [str(name) for name in song_ids]


def _same_count(references: Sequence[Any], predictions: Sequence[Any], what: str) -> None:
    if len(references) != len(predictions):
        raise SongalignError(
            f"there are {len(references)} reference songs but {len(predictions)} predicted songs of {what}; "
            "give one prediction per reference song, in the same order"
        )


# --------------------------------------------------------------------------------------------
# WER and CER


@dataclass(frozen=True)
class ErrorRate:
    """A word or character error rate over songs (see the module docstring for normalisation and averaging).

    ``corpus`` = (substitutions + deletions + insertions) / reference_length over all scored songs;
    ``song_mean`` = the mean of ``per_song``. ``unit`` is ``"word"``, ``"character"`` or ``"phoneme"``; ``songs`` the
    number of songs scored; ``skipped`` the names of songs left out for an empty reference.
    """

    unit: str
    corpus: float
    song_mean: float
    per_song: tuple[float, ...]
    substitutions: int
    deletions: int
    insertions: int
    hits: int
    reference_length: int
    songs: int
    skipped: tuple[str, ...] = ()


def _transcribe_extra(module: str, package: str, feature: str) -> ModuleType:
    """``module`` imported, or one sentence naming the ``transcribe`` extra that installs ``package``."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        raise MissingDependencyError(package, feature, extra="transcribe") from error


def _error_rate(
    unit: str, references: Sequence[str], hypotheses: Sequence[str], song_ids: Sequence[str] | None
) -> ErrorRate:
    jiwer = _transcribe_extra("jiwer", "jiwer", "word and character error rates")
    _same_count(references, hypotheses, f"{unit} error rate")
    names = _song_names(song_ids, len(references), f"{unit} error rate")
    process = jiwer.process_characters if unit == "character" else jiwer.process_words
    per_song: list[float] = []
    totals = {"substitutions": 0, "deletions": 0, "insertions": 0, "hits": 0}
    skipped: list[str] = []
    for name, reference, hypothesis in zip(names, references, hypotheses, strict=True):
        if unit == "phoneme":  # symbols separated by spaces: nothing to normalise
            reference_text, hypothesis_text = " ".join(reference.split()), " ".join(hypothesis.split())
        else:
            reference_text, hypothesis_text = normalise_text(reference), normalise_text(hypothesis)
        if not reference_text:
            skipped.append(name)
            continue
        output = process(reference_text, hypothesis_text)
        edits = output.substitutions + output.deletions + output.insertions
        length = output.substitutions + output.deletions + output.hits
        per_song.append(edits / length)
        for key in totals:
            totals[key] += getattr(output, key)
    if not per_song:
        raise SongalignError(
            f"every reference of the {len(references)} songs is empty after normalisation; "
            f"give the reference lyrics to compute a {unit} error rate"
        )
    reference_length = totals["substitutions"] + totals["deletions"] + totals["hits"]
    edits = totals["substitutions"] + totals["deletions"] + totals["insertions"]
    return ErrorRate(
        unit=unit,
        corpus=edits / reference_length,
        song_mean=float(np.mean(per_song)),
        per_song=tuple(per_song),
        reference_length=reference_length,
        songs=len(per_song),
        skipped=tuple(skipped),
        **totals,
    )


def word_error_rate(
    references: Sequence[str], hypotheses: Sequence[str], song_ids: Sequence[str] | None = None
) -> ErrorRate:
    """WER of ``hypotheses`` against ``references`` (one text per song, same order), normalised first."""
    return _error_rate("word", references, hypotheses, song_ids)


def character_error_rate(
    references: Sequence[str], hypotheses: Sequence[str], song_ids: Sequence[str] | None = None
) -> ErrorRate:
    """CER of ``hypotheses`` against ``references`` (one text per song), normalised first; spaces count."""
    return _error_rate("character", references, hypotheses, song_ids)


def phoneme_error_rate(
    references: Sequence[str], hypotheses: Sequence[str], song_ids: Sequence[str] | None = None
) -> ErrorRate:
    """PER of ``hypotheses`` against ``references``: one text per song of phoneme symbols separated by spaces
    (:class:`~songalign.transcribe.data.SongTargets`' ``text`` of a phoneme model,
    :func:`~songalign.transcribe.decode.greedy_phonemes`), edits counted per symbol, not normalised."""
    return _error_rate("phoneme", references, hypotheses, song_ids)


# --------------------------------------------------------------------------------------------
# COn and COnP


@dataclass(frozen=True)
class PrecisionRecall:
    """Precision, recall and F-measure (fractions in 0..1)."""

    precision: float
    recall: float
    f_measure: float


@dataclass(frozen=True)
class NoteScores:
    """COn (onset only) and COnP (onset and pitch) over songs.

    ``con`` and ``conp`` are the means over songs of each song's precision, recall and F-measure (the
    seed's figures); ``con_pooled`` and ``conp_pooled`` count matches over all songs at once.
    ``per_song_con`` / ``per_song_conp`` hold each scored song's figures; ``songs`` counts them and
    ``skipped`` names the songs left out for having no reference notes.
    """

    con: PrecisionRecall
    conp: PrecisionRecall
    con_pooled: PrecisionRecall
    conp_pooled: PrecisionRecall
    per_song_con: tuple[PrecisionRecall, ...]
    per_song_conp: tuple[PrecisionRecall, ...]
    songs: int
    skipped: tuple[str, ...] = ()


_ZERO_LENGTH_NUDGE: Seconds = 1e-3
"""How far a zero-length note's end is moved so that mir_eval accepts it (offsets enter neither score)."""


def _note_arrays(notes: Sequence[Note], name: str) -> tuple[np.ndarray, np.ndarray]:
    """``(intervals (N, 2) in seconds, pitches (N,) in Hz)`` of ``notes`` for mir_eval.

    mir_eval needs every note to last a while; a note that ends where it starts (an onset without a
    measured offset) is given :data:`_ZERO_LENGTH_NUDGE` seconds, which changes neither COn nor COnP.
    """
    intervals = np.array([[note.start, note.end] for note in notes], dtype=np.float64).reshape(-1, 2)
    if not np.isfinite(intervals).all() or (intervals[:, 1] < intervals[:, 0]).any():
        raise SongalignError(f"{name} has notes that end before they start or have no finite time; fix their times")
    intervals[:, 1] = np.maximum(intervals[:, 1], intervals[:, 0] + _ZERO_LENGTH_NUDGE)
    pitches = np.array([midi_to_hz(note.pitch) for note in notes], dtype=np.float64)
    return intervals, pitches


def _scores(matched: int, n_reference: int, n_estimated: int) -> PrecisionRecall:
    f_measure = _transcribe_extra("mir_eval.util", "mir_eval", "note scores (COn, COnP)").f_measure
    precision = matched / n_estimated if n_estimated else 0.0
    recall = matched / n_reference if n_reference else 0.0
    return PrecisionRecall(precision, recall, float(f_measure(precision, recall)))


def _mean(scores: Sequence[PrecisionRecall]) -> PrecisionRecall:
    return PrecisionRecall(
        float(np.mean([s.precision for s in scores])),
        float(np.mean([s.recall for s in scores])),
        float(np.mean([s.f_measure for s in scores])),
    )


def note_scores(
    references: Sequence[Sequence[Note]],
    estimates: Sequence[Sequence[Note]],
    song_ids: Sequence[str] | None = None,
    onset_tolerance: Seconds = ONSET_TOLERANCE,
    pitch_tolerance_cents: float = PITCH_TOLERANCE_CENTS,
) -> NoteScores:
    """COn and COnP of ``estimates`` against ``references`` (one list of notes per song, MIDI pitches).

    Matching is mir_eval's (``match_note_onsets`` for COn, ``match_notes`` with ``offset_ratio=None``
    for COnP): a one-to-one bipartite matching, so a reference note is credited once.
    """
    transcription = _transcribe_extra("mir_eval.transcription", "mir_eval", "note scores (COn, COnP)")
    _same_count(references, estimates, "notes")
    names = _song_names(song_ids, len(references), "notes")
    per_con: list[PrecisionRecall] = []
    per_conp: list[PrecisionRecall] = []
    pooled = {"con": 0, "conp": 0, "reference": 0, "estimated": 0}
    skipped: list[str] = []
    for name, reference, estimate in zip(names, references, estimates, strict=True):
        if not reference:
            skipped.append(name)
            continue
        ref_intervals, ref_pitches = _note_arrays(reference, name)
        est_intervals, est_pitches = _note_arrays(estimate, name)
        con_matched = conp_matched = 0
        if estimate:
            try:
                transcription.validate(ref_intervals, ref_pitches, est_intervals, est_pitches)
            except ValueError as error:
                raise SongalignError(f"the notes of {name} cannot be scored ({error}); fix their times") from None
            con_matched = len(transcription.match_note_onsets(ref_intervals, est_intervals, onset_tolerance))
            conp_matched = len(
                transcription.match_notes(
                    ref_intervals,
                    ref_pitches,
                    est_intervals,
                    est_pitches,
                    onset_tolerance=onset_tolerance,
                    pitch_tolerance=pitch_tolerance_cents,
                    offset_ratio=None,
                )
            )
        per_con.append(_scores(con_matched, len(reference), len(estimate)))
        per_conp.append(_scores(conp_matched, len(reference), len(estimate)))
        pooled["con"] += con_matched
        pooled["conp"] += conp_matched
        pooled["reference"] += len(reference)
        pooled["estimated"] += len(estimate)
    if not per_con:
        raise SongalignError(
            f"none of the {len(references)} songs has reference notes; give the songs' notes to score COn and COnP"
        )
    return NoteScores(
        con=_mean(per_con),
        conp=_mean(per_conp),
        con_pooled=_scores(pooled["con"], pooled["reference"], pooled["estimated"]),
        conp_pooled=_scores(pooled["conp"], pooled["reference"], pooled["estimated"]),
        per_song_con=tuple(per_con),
        per_song_conp=tuple(per_conp),
        songs=len(per_con),
        skipped=tuple(skipped),
    )


# --------------------------------------------------------------------------------------------
# Alignment: AAE, median AE, median deviation, PCO


@dataclass(frozen=True)
class AlignmentScores:
    """Word-onset errors of an alignment over songs (seconds; see the module docstring).

    ``aae`` (JamendoLyrics' ``mean_AE``): mean over songs of each song's mean absolute onset error.
    ``median_ae`` (``median_AE``): mean over songs of each song's median absolute onset error.
    ``median_deviation`` (``median_deviation``): the median over all words of all songs pooled of the
    signed error, predicted − true (positive: late). ``pooled_median_absolute_error``: the median over
    all words of all songs pooled of the absolute error. ``pco`` (``mauch_τ``): mean over songs of each
    song's share of words with an absolute error below ``tolerance`` seconds. ``per_song_aae`` /
    ``per_song_median_ae`` / ``per_song_pco``: each song's figure; ``words`` and ``songs`` count what
    was scored; ``skipped`` names songs without words.
    """

    aae: float
    median_ae: float
    median_deviation: float
    pooled_median_absolute_error: float
    pco: float
    tolerance: Seconds
    per_song_aae: tuple[float, ...]
    per_song_median_ae: tuple[float, ...]
    per_song_pco: tuple[float, ...]
    words: int
    songs: int
    skipped: tuple[str, ...] = ()


def alignment_scores(
    true_starts: Sequence[Any],
    predicted_starts: Sequence[Any],
    song_ids: Sequence[str] | None = None,
    tolerance: Seconds = PCO_TOLERANCE,
) -> AlignmentScores:
    """AAE, median AE, median deviation and PCO@``tolerance`` of predicted word onsets (seconds), one array per song.

    Each song's two arrays must have the same length (the same words, in order); a song without words is
    left out and named in ``skipped``. Raises :class:`SongalignError` naming the song whose lengths differ
    or whose times are not finite.
    """
    _same_count(true_starts, predicted_starts, "word onsets")
    names = _song_names(song_ids, len(true_starts), "word onsets")
    per_aae: list[float] = []
    per_median: list[float] = []
    per_pco: list[float] = []
    pooled: list[np.ndarray] = []  # signed errors, predicted − true
    skipped: list[str] = []
    for name, truth, prediction in zip(names, true_starts, predicted_starts, strict=True):
        truth = np.asarray(truth, dtype=np.float64).reshape(-1)
        prediction = np.asarray(prediction, dtype=np.float64).reshape(-1)
        if truth.shape != prediction.shape:
            raise SongalignError(
                f"{name} has {truth.size} true word onsets but {prediction.size} predicted ones; "
                "predict one onset for every reference word"
            )
        if not (np.isfinite(truth).all() and np.isfinite(prediction).all()):
            raise SongalignError(f"{name} has word onsets that are NaN or infinite; give times in seconds")
        if truth.size == 0:
            skipped.append(name)
            continue
        deviations = prediction - truth
        errors = np.abs(deviations)
        per_aae.append(float(errors.mean()))
        per_median.append(float(np.median(errors)))
        per_pco.append(float((errors < tolerance).mean()))
        pooled.append(deviations)
    if not per_aae:
        raise SongalignError(f"none of the {len(true_starts)} songs has words; give the reference word onsets")
    all_errors = np.concatenate(pooled)
    return AlignmentScores(
        aae=float(np.mean(per_aae)),
        median_ae=float(np.mean(per_median)),
        median_deviation=float(np.median(all_errors)),
        pooled_median_absolute_error=float(np.median(np.abs(all_errors))),
        pco=float(np.mean(per_pco)),
        tolerance=tolerance,
        per_song_aae=tuple(per_aae),
        per_song_median_ae=tuple(per_median),
        per_song_pco=tuple(per_pco),
        words=int(all_errors.size),
        songs=len(per_aae),
        skipped=tuple(skipped),
    )


def even_spread_starts(n_words: int, sung_start: Seconds, sung_end: Seconds) -> np.ndarray:
    """The even-spread baseline: ``n_words`` onsets spread evenly over the sung span, shape ``(n_words,)``.

    Word ``i`` starts at ``sung_start + i * (sung_end - sung_start) / n_words`` (seconds), so the words
    share the span equally and the last one starts one share before ``sung_end``. The span is usually
    the reference's first word start to last word end: the baseline knows where singing is, not the words.
    """
    if n_words < 0:
        raise SongalignError(f"n_words is {n_words}; give the number of words (>= 0)")
    if not sung_end >= sung_start:
        raise SongalignError(
            f"the sung span runs from {sung_start} to {sung_end} s; its end must not precede its start"
        )
    return sung_start + np.arange(n_words, dtype=np.float64) * ((sung_end - sung_start) / max(n_words, 1))
