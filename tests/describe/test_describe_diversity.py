"""Diversity metrics and label agreement on hand-made strings (hand-computed values)."""

from __future__ import annotations

import pytest

from songalign.corpus.records import Segment
from songalign.describe import DiversityReport, distinct_n, label_agreement, opening, opening_share


def test_opening_is_first_three_lowercase_words():
    assert opening("The sky, so blue; is wide.") == "the sky so"
    assert opening("Two words") == "two words"
    assert opening("Don’t cry for me") == "don't cry for"


def test_opening_share():
    texts = ["A b c d.", "a B c e", "x y z", "x y z w", "q r s", ""]
    # "a b c" and "x y z" both begin 2 of 5 non-empty texts; ties go alphabetically.
    assert opening_share(texts) == ("a b c", pytest.approx(2 / 5))
    assert opening_share([]) == ("", 0.0)
    assert opening_share(["same start here", "same start there"], n=2) == ("same start", 1.0)


def test_distinct_2():
    # bigrams: (a,b) (b,c) | (a,b) (b,d) → 3 unique of 4
    assert distinct_n(["a b c", "a b d"]) == pytest.approx(0.75)
    # bigrams do not cross descriptions: (x,y) | (y,x) → 2 of 2
    assert distinct_n(["x y", "y x"]) == 1.0
    assert distinct_n(["a a a a"]) == pytest.approx(1 / 3)
    assert distinct_n(["one"]) == 0.0
    assert distinct_n(["a b c"], n=1) == 1.0


def seg(i: int, labels: dict, description: str = "x") -> Segment:
    return Segment(id=str(i), song_id="s", start=0, end=1, text="t", description=description, labels=labels)


def test_label_agreement_counts_only_segments_with_both_labels():
    segments = [
        seg(0, {"ref_emotion": "joy", "emotion": "joy"}),
        seg(1, {"ref_emotion": "joy", "emotion": "love"}),
        seg(2, {"ref_emotion": "fear", "emotion": "fear"}),
        seg(3, {"emotion": "fear"}),
        seg(4, {"ref_emotion": "calm"}),
    ]
    agreement = label_agreement(segments)
    assert (agreement.correct, agreement.total, agreement.share) == (2, 3, pytest.approx(2 / 3))
    assert agreement.per_emotion == {"joy": (1, 2), "fear": (1, 1)}
    assert agreement.confusion[("joy", "love")] == 1
    assert label_agreement([seg(0, {"emotion": "joy"})]).share is None


def test_report_renders():
    segments = [
        seg(0, {"ref_emotion": "joy", "emotion": "joy"}, "Bright joy fills the room."),
        seg(1, {"ref_emotion": "fear", "emotion": "calm"}, "Calm settles over the lake."),
    ]
    report = DiversityReport.from_segments(segments)
    assert report.n_descriptions == 2 and report.top_opening_share == 0.5
    md = report.to_markdown()
    assert "| emotion agreement | 50.0% (1/2) |" in md and "distinct-2" in md
    assert report.to_rich().row_count == len(report.rows())
