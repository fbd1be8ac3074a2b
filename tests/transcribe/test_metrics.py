"""WER/CER, COn/COnP and AAE/PCO against hand-computed values in cases that are not symmetric by accident."""

from __future__ import annotations

import sys

import numpy as np
import pytest
from mir_eval.transcription import precision_recall_f1_overlap

from songalign.corpus.records import Note, midi_to_hz
from songalign.errors import MissingDependencyError, SongalignError
from songalign.transcribe.metrics import (
    alignment_scores,
    character_error_rate,
    even_spread_starts,
    note_scores,
    word_error_rate,
)


def f1(precision: float, recall: float) -> float:
    return 2 * precision * recall / (precision + recall)


# --------------------------------------------------------------------------------------------
# WER and CER


def test_wer_counts_a_substitution_and_an_insertion_and_is_not_symmetric():
    forward = word_error_rate(["The CAT, sat!"], ["the bat sat down"])
    assert (forward.substitutions, forward.deletions, forward.insertions, forward.hits) == (1, 0, 1, 2)
    assert forward.corpus == pytest.approx(2 / 3) and forward.song_mean == pytest.approx(2 / 3)
    assert forward.reference_length == 3 and forward.songs == 1 and forward.unit == "word"
    backward = word_error_rate(["the bat sat down"], ["the cat sat"])
    assert (backward.substitutions, backward.deletions, backward.insertions) == (1, 1, 0)
    assert backward.corpus == pytest.approx(2 / 4)


def test_corpus_wer_pools_edits_while_the_song_mean_weighs_songs_equally():
    result = word_error_rate(
        ["the cat sat", "a b c d e f", "— ♪"],
        ["the bat sat down", "a b c d e f", "la la"],
        song_ids=["short", "long", "instrumental"],
    )
    assert result.per_song == pytest.approx((2 / 3, 0.0))
    assert result.song_mean == pytest.approx(1 / 3)
    assert result.corpus == pytest.approx(2 / 9)
    assert result.songs == 2 and result.skipped == ("instrumental",)


def test_cer_counts_characters_with_spaces():
    assert character_error_rate(["the cat"], ["the bat"]).corpus == pytest.approx(1 / 7)
    assert character_error_rate(["abc"], ["abcd"]).corpus == pytest.approx(1 / 3)
    assert character_error_rate(["abcd"], ["abc"]).corpus == pytest.approx(1 / 4)
    joined = character_error_rate(["a b"], ["ab"])
    assert joined.deletions == 1 and joined.corpus == pytest.approx(1 / 3)
    silent = character_error_rate(["ab", "abcd"], ["", "abcd"])
    assert silent.per_song == pytest.approx((1.0, 0.0)) and silent.corpus == pytest.approx(2 / 6)


def test_error_rate_inputs_are_checked():
    with pytest.raises(SongalignError, match="empty after normalisation"):
        word_error_rate(["—", ""], ["a", "b"])
    with pytest.raises(SongalignError, match="2 reference songs but 1 predicted"):
        word_error_rate(["a", "b"], ["a"])
    with pytest.raises(SongalignError, match="song_ids"):
        word_error_rate(["a"], ["a"], song_ids=["x", "y"])


# --------------------------------------------------------------------------------------------
# COn and COnP


REFERENCE_NOTES = [Note(1.0, 1.5, 60.0), Note(2.0, 2.5, 62.0), Note(3.0, 3.5, 64.0)]
ESTIMATED_NOTES = [
    Note(1.03, 1.2, 60.4),  # onset 30 ms late, pitch 40 cents sharp: right for COn and COnP
    Note(2.04, 2.9, 65.0),  # onset 40 ms late, three semitones off: right for COn only
    Note(3.2, 3.5, 64.0),  # onset 200 ms late: wrong for both
    Note(5.0, 5.5, 70.0),  # nothing there
]


def test_con_and_conp_on_a_hand_case():
    scores = note_scores([REFERENCE_NOTES], [ESTIMATED_NOTES])
    assert (scores.con.precision, scores.con.recall) == pytest.approx((2 / 4, 2 / 3))
    assert scores.con.f_measure == pytest.approx(f1(2 / 4, 2 / 3))
    assert (scores.conp.precision, scores.conp.recall) == pytest.approx((1 / 4, 1 / 3))
    assert scores.conp.f_measure == pytest.approx(f1(1 / 4, 1 / 3))


def test_conp_agrees_with_mir_evals_own_scorer_without_offsets():
    def arrays(notes):
        return np.array([[n.start, n.end] for n in notes]), np.array([midi_to_hz(n.pitch) for n in notes])

    expected = precision_recall_f1_overlap(*arrays(REFERENCE_NOTES), *arrays(ESTIMATED_NOTES), offset_ratio=None)
    conp = note_scores([REFERENCE_NOTES], [ESTIMATED_NOTES]).conp
    assert (conp.precision, conp.recall, conp.f_measure) == pytest.approx(expected[:3])


def test_note_scores_average_over_songs_and_also_pool():
    exact = [Note(0.5, 0.6, 67.0)]
    late_offset = [Note(0.52, 3.0, 67.0)]  # offsets are ignored
    scores = note_scores(
        [REFERENCE_NOTES, exact, [], exact],
        [ESTIMATED_NOTES, late_offset, [Note(1.0, 2.0, 60.0)], []],
        song_ids=["a", "b", "no notes", "silent"],
    )
    assert scores.songs == 3 and scores.skipped == ("no notes",)
    assert scores.per_song_con[1].f_measure == 1.0 and scores.per_song_conp[1].f_measure == 1.0
    assert scores.per_song_con[2].f_measure == 0.0  # nothing predicted
    assert (scores.con.precision, scores.con.recall) == pytest.approx(((0.5 + 1 + 0) / 3, (2 / 3 + 1 + 0) / 3))
    assert scores.conp.recall == pytest.approx((1 / 3 + 1 + 0) / 3)
    # Pooled: COn 3 matches of 5 reference and 5 predicted notes; COnP 2.
    assert (scores.con_pooled.precision, scores.con_pooled.recall) == pytest.approx((3 / 5, 3 / 5))
    assert (scores.conp_pooled.precision, scores.conp_pooled.recall) == pytest.approx((2 / 5, 2 / 5))


def test_note_inputs_are_checked():
    with pytest.raises(SongalignError, match="no reference notes|has reference notes"):
        note_scores([[]], [[Note(0.0, 1.0, 60.0)]])
    with pytest.raises(SongalignError, match="bad has notes that end before they start"):
        note_scores([[Note(0.0, 1.0, 60.0)]], [[Note(2.0, 1.0, 60.0)]], song_ids=["bad"])
    onset_only = note_scores([[Note(1.0, 1.5, 60.0)]], [[Note(1.01, 1.01, 60.0)]])  # no offset measured
    assert onset_only.conp.f_measure == 1.0


# --------------------------------------------------------------------------------------------
# AAE, median AE, median deviation, PCO


def test_aae_and_pco_average_over_songs_not_over_words():
    scores = alignment_scores(
        [[1.0, 2.0], [0.0, 1.0, 2.0, 3.0]],
        [[1.1, 2.5], np.array([0.0, 1.0, 2.0, 5.0])],
    )
    # Song 1 errors 0.1, 0.5: AAE 0.3, PCO 1/2. Song 2 errors 0, 0, 0, 2: AAE 0.5, PCO 3/4.
    assert scores.per_song_aae == pytest.approx((0.3, 0.5))
    assert scores.per_song_pco == pytest.approx((0.5, 0.75))
    assert scores.aae == pytest.approx(0.4)  # pooled over words it would be 2.6 / 6
    assert scores.pco == pytest.approx(0.625)  # pooled it would be 4 / 6
    assert scores.pooled_median_absolute_error == pytest.approx(0.05)  # of 0, 0, 0, 0.1, 0.5, 2
    assert (scores.words, scores.songs, scores.tolerance) == (6, 2, 0.3)


def test_the_medians_are_jamendolyrics_median_ae_and_median_deviation():
    scores = alignment_scores([[1.0, 2.0], [0.0, 1.0, 2.0, 3.0]], [[0.9, 2.5], [0.05, 0.7, 2.0, 5.0]])
    # predicted − true: song 1 -0.1, +0.5; song 2 +0.05, -0.3, 0, +2.
    # median_AE (Evaluate.py): each song's median |error| (0.3; (0.05 + 0.3) / 2 = 0.175), averaged over songs
    assert scores.per_song_median_ae == pytest.approx((0.3, 0.175))
    assert scores.median_ae == pytest.approx(0.2375)
    # median_deviation: the signed median over all words: -0.3 -0.1 0 0.05 0.5 2 -> (0 + 0.05) / 2, late is positive
    assert scores.median_deviation == pytest.approx(0.025)
    # the pooled median of |error| over all words, a third figure: 0 0.05 0.1 0.3 0.5 2 -> 0.2
    assert scores.pooled_median_absolute_error == pytest.approx(0.2)
    early = alignment_scores([[1.0, 2.0], [0.0, 1.0, 2.0, 3.0]], [[1.1, 1.5], [-0.05, 1.3, 2.0, 1.0]])
    assert early.median_deviation == pytest.approx(-0.025) and early.median_ae == pytest.approx(0.2375)


def test_pco_counts_errors_strictly_below_the_tolerance_and_skips_songs_without_words():
    scores = alignment_scores([[0.0, 1.0], []], [[0.5, 1.25], []], song_ids=["x", "empty"], tolerance=0.5)
    assert scores.pco == pytest.approx(0.5) and scores.skipped == ("empty",)


def test_alignment_inputs_are_checked():
    with pytest.raises(SongalignError, match="second has 2 true word onsets but 3 predicted"):
        alignment_scores([[1.0], [1.0, 2.0]], [[1.0], [1.0, 2.0, 3.0]], song_ids=["first", "second"])
    with pytest.raises(SongalignError, match="NaN"):
        alignment_scores([[1.0]], [[float("nan")]])
    with pytest.raises(SongalignError, match="none of the 1 songs has words"):
        alignment_scores([[]], [[]])


def test_even_spread_shares_the_sung_span_equally():
    np.testing.assert_allclose(even_spread_starts(4, 10.0, 18.0), [10.0, 12.0, 14.0, 16.0])
    assert even_spread_starts(0, 0.0, 5.0).shape == (0,)
    with pytest.raises(SongalignError, match="end must not precede"):
        even_spread_starts(3, 5.0, 4.0)
    with pytest.raises(SongalignError, match="n_words"):
        even_spread_starts(-1, 0.0, 1.0)


@pytest.mark.parametrize("missing", ["jiwer", "mir_eval.transcription"])
def test_a_missing_package_names_the_transcribe_extra_in_one_sentence(monkeypatch, missing):
    monkeypatch.setitem(sys.modules, missing, None)  # its import then fails, as when it is not installed
    with pytest.raises(MissingDependencyError) as error:
        if missing == "jiwer":
            word_error_rate(["la la"], ["la"])
        else:
            note_scores([[Note(0.0, 0.5, 60)]], [[Note(0.0, 0.5, 60)]])
    message = str(error.value)
    assert message.endswith("install it with: pip install 'songalign[transcribe]'")
    assert f"'{missing.split('.')[0]}'" in message and message.count(". ") == 0
