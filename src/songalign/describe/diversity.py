"""How varied a set of descriptions is, and how well their labels agree with reference labels.

- **Opening share**: the share of descriptions whose first ``n = 3`` words (lower-cased tokens,
  punctuation dropped) are the most common such opening. Seed 000's GPT-3.5 descriptions would
  score near 1; ours must stay at or below 0.10.
- **distinct-n** (Li et al., 2016): ``|unique n-grams| / |n-grams|`` over all descriptions, n-grams
  taken within each description; 1.0 means no n-gram repeats anywhere.
- **Agreement**: the share of segments with a reference label ``labels["ref_emotion"]`` whose
  predicted ``labels["emotion"]`` equals it.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

from rich.table import Table

from songalign.corpus.records import Segment
from songalign.describe.text import words

REFERENCE_KEY = "ref_emotion"
PREDICTED_KEY = "emotion"


def opening(text: str, n: int = 3) -> str:
    """The first ``n`` lower-cased words of ``text``, space-joined (fewer if it is shorter)."""
    return " ".join(words(text)[:n])


def opening_share(descriptions: Iterable[str], n: int = 3) -> tuple[str, float]:
    """The most common ``n``-word opening and the share of (non-empty) descriptions that begin with it.

    Ties go to the alphabetically first opening; ``("", 0.0)`` for no descriptions.
    """
    counts = Counter(opening(d, n) for d in descriptions if d.strip())
    if not counts:
        return "", 0.0
    top, count = min(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    return top, count / sum(counts.values())


def ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def distinct_n(descriptions: Iterable[str], n: int = 2) -> float:
    """``|unique n-grams| / |n-grams|`` over all descriptions (0.0 when there is no n-gram)."""
    grams = [g for d in descriptions for g in ngrams(words(d), n)]
    return len(set(grams)) / len(grams) if grams else 0.0


@dataclass
class Agreement:
    """Predicted vs reference emotion: overall share and, per reference emotion, (correct, total)."""

    correct: int = 0
    total: int = 0
    per_emotion: dict[str, tuple[int, int]] = field(default_factory=dict)
    confusion: Counter[tuple[str, str]] = field(default_factory=Counter)
    """(reference, predicted) → count."""

    @property
    def share(self) -> float | None:
        return self.correct / self.total if self.total else None


def label_agreement(segments: Iterable[Segment]) -> Agreement:
    """Agreement of ``labels["emotion"]`` with ``labels["ref_emotion"]`` over segments having both."""
    result = Agreement()
    for segment in segments:
        reference, predicted = segment.labels.get(REFERENCE_KEY), segment.labels.get(PREDICTED_KEY)
        if not reference or not predicted:
            continue
        hit = int(reference == predicted)
        result.correct += hit
        result.total += 1
        correct, total = result.per_emotion.get(reference, (0, 0))
        result.per_emotion[reference] = (correct + hit, total + 1)
        result.confusion[(reference, predicted)] += 1
    return result


@dataclass
class DiversityReport:
    """The figures printed after ``songalign describe``."""

    n_descriptions: int
    top_opening: str
    top_opening_share: float
    distinct_2: float
    agreement: Agreement

    @classmethod
    def from_segments(cls, segments: Sequence[Segment]) -> DiversityReport:
        texts = [s.description for s in segments if s.description.strip()]
        top, share = opening_share(texts)
        return cls(len(texts), top, share, distinct_n(texts, 2), label_agreement(segments))

    def rows(self) -> list[tuple[str, str]]:
        rows = [
            ("descriptions", str(self.n_descriptions)),
            ("most common 3-word opening", f"{self.top_opening_share:.1%} ({self.top_opening!r})"),
            ("distinct-2", f"{self.distinct_2:.3f}"),
        ]
        share = self.agreement.share
        if share is None:
            rows.append(("emotion agreement", "n/a (no reference labels)"))
        else:
            rows.append(("emotion agreement", f"{share:.1%} ({self.agreement.correct}/{self.agreement.total})"))
            for emotion, (correct, total) in sorted(self.agreement.per_emotion.items()):
                rows.append((f"agreement ({emotion})", f"{correct / total:.1%} ({correct}/{total})"))
        return rows

    def to_markdown(self) -> str:
        lines = ["| measure | value |", "|---|---|"]
        lines += [f"| {name} | {value} |" for name, value in self.rows()]
        return "\n".join(lines)

    def to_rich(self, title: str = "Description diversity") -> Table:
        table = Table(title=title)
        table.add_column("measure")
        table.add_column("value", justify="right")
        for name, value in self.rows():
            table.add_row(name, value)
        return table
