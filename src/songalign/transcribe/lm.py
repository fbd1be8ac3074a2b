"""Word (and character) n-gram language models for CTC beam search, built offline and written as ARPA.

No LM-building tool ships with the toolkit, so this module estimates the model itself: **interpolated
modified Kneser-Ney** (Chen & Goodman 1998), the estimator KenLM's ``lmplz`` uses, and writes it as an
ARPA file that KenLM (inside flashlight-text) reads for :mod:`songalign.transcribe.decode`.

Sentences are lyric **lines** after :func:`~songalign.transcribe.symbols.normalise_text`, split on
spaces and padded with one ``<s>`` and one ``</s>``. ``<unk>`` is in the vocabulary and receives the
probability mass that the unigram level spreads uniformly.

The estimator, for an n-gram ``g = h w`` of order ``n`` (context ``h``, word ``w``):

- Adjusted counts ``c_n(g)``: the raw count at the highest order and for n-grams that start with
  ``<s>`` (nothing can precede them); otherwise the *continuation count*, the number of distinct
  words seen immediately left of ``g``.
- Discounts per order from the counts-of-counts ``n_k`` (n-grams of that order whose adjusted count
  is exactly ``k``): ``Y = n_1 / (n_1 + 2 n_2)``, ``D_1 = 1 - 2Y n_2/n_1``, ``D_2 = 2 - 3Y n_3/n_2``,
  ``D_3+ = 3 - 4Y n_4/n_3``. When a count-of-count is zero or an estimate falls outside ``(0, k)``
  (tiny corpora), the order uses :data:`FALLBACK_DISCOUNTS` (KenLM's ``--discount_fallback`` values).
- ``P(w | h) = max(c(hw) - D(c(hw)), 0) / Σ_v c(hv) + γ(h) · P(w | h')`` with ``h'`` the context
  without its first word and ``γ(h) = (D_1 N_1(h•) + D_2 N_2(h•) + D_3+ N_3+(h•)) / Σ_v c(hv)``
  (``N_k(h•)``: followers of ``h`` with adjusted count ``k``). At the unigram level ``P(w | h')`` is
  uniform over the vocabulary (words, ``</s>`` and ``<unk>``; ``<s>`` is never predicted).
- ARPA: each n-gram's line holds ``log10 P(w | h)`` and, when it serves as a context, ``log10 γ``
  as its backoff weight. Under the ARPA rule (an unlisted n-gram backs off:
  ``P(w | h) = γ(h) · P(w | h')``, ``γ = 1`` for an unlisted context) the distributions sum to one.

KenLM scores are log10; the decoder's ``lm_weight`` multiplies them as they are.
"""

from __future__ import annotations

import logging
import math
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from songalign.errors import BadInputError, SongalignError
from songalign.transcribe.symbols import normalise_text

log = logging.getLogger("songalign")

SENTENCE_START = "<s>"
SENTENCE_END = "</s>"
UNKNOWN = "<unk>"
MARKERS: tuple[str, ...] = (SENTENCE_START, SENTENCE_END, UNKNOWN)
"""The tokens every ARPA file here holds besides the words."""

LM_FILE = "lm.arpa"
"""The word LM's file name in a lyrics model's folder (built at training from its training songs' lyrics)."""

DEFAULT_ORDER = 3
"""The n-gram order when none is given (small corpora gain little from more)."""
PAPER_ORDER = 5
"""The order the paper's lyrics LM uses."""
DEFAULT_CHARACTER_ORDER = 8
"""The order of a character LM (``build_character_arpa``) when none is given."""
MINIMUM_ORDER = 2
"""KenLM needs at least bigrams."""

FALLBACK_DISCOUNTS: tuple[float, float, float] = (0.5, 1.0, 1.5)
"""``(D_1, D_2, D_3+)`` for an order whose counts-of-counts cannot give valid Chen–Goodman discounts."""

WORD_SEPARATOR = "|"
"""How a character LM (:func:`build_character_arpa`) spells the space between words."""

_LOG10_NEVER = -99.0  # how ARPA files write log10 P(<s>): it is only ever a context


@dataclass(frozen=True)
class ArpaSummary:
    """What :func:`build_arpa` wrote.

    ``counts[n-1]`` is the number of n-grams of order ``n`` in the file (markers included);
    ``vocabulary`` the words (markers excluded), sorted; ``discounts[n-1]`` the ``(D_1, D_2, D_3+)``
    of order ``n``, with ``fallback[n-1]`` saying whether they are :data:`FALLBACK_DISCOUNTS`.
    ``order`` is the order written, which is lower than the one asked for when no sentence is long
    enough to hold an n-gram of the higher orders.
    """

    path: Path
    order: int
    counts: tuple[int, ...]
    vocabulary: tuple[str, ...]
    discounts: tuple[tuple[float, float, float], ...]
    fallback: tuple[bool, ...]
    sentences: int


def kneser_ney_discounts(counts_of_counts: Sequence[int]) -> tuple[float, float, float] | None:
    """Chen–Goodman ``(D_1, D_2, D_3+)`` from ``counts_of_counts = (n_1, n_2, n_3, n_4)``, or None if degenerate.

    Degenerate: a zero count-of-count, or an estimate ``D_k`` outside ``(0, k)`` (which would make a
    discounted count zero or negative).
    """
    n1, n2, n3, n4 = (int(n) for n in counts_of_counts[:4])
    if min(n1, n2, n3, n4) <= 0:
        return None
    y = n1 / (n1 + 2 * n2)
    discounts = (1 - 2 * y * n2 / n1, 2 - 3 * y * n3 / n2, 3 - 4 * y * n4 / n3)
    if not all(0 < d < k for k, d in enumerate(discounts, start=1)):
        return None
    return discounts


def line_sentences(lines: Iterable[str]) -> list[list[str]]:
    """The word sentences of lyric ``lines``: each line normalised and split on spaces; empty lines dropped."""
    sentences = []
    for line in lines:
        text = normalise_text(line)
        if text:
            sentences.append(text.split(" "))
    return sentences


def character_sentences(lines: Iterable[str]) -> list[list[str]]:
    """The character sentences of lyric ``lines`` for a character LM: ``"to be"`` → ``["t", "o", "|", "b", "e"]``."""
    return [[WORD_SEPARATOR if ch == " " else ch for ch in " ".join(words)] for words in line_sentences(lines)]


def build_arpa(lines: Iterable[str], path: str | Path, order: int = DEFAULT_ORDER) -> ArpaSummary:
    """Estimate a word n-gram LM of ``order`` from lyric ``lines`` (one sentence each) and write it as ARPA to ``path``."""
    return build_arpa_from_sentences(line_sentences(lines), path, order)


def build_character_arpa(lines: Iterable[str], path: str | Path, order: int = DEFAULT_CHARACTER_ORDER) -> ArpaSummary:
    """A character n-gram LM of lyric ``lines`` (spaces spelled :data:`WORD_SEPARATOR`), for lexicon-free decoding."""
    return build_arpa_from_sentences(character_sentences(lines), path, order)


def build_arpa_from_sentences(
    sentences: Iterable[Sequence[str]], path: str | Path, order: int = DEFAULT_ORDER
) -> ArpaSummary:
    """Estimate an interpolated modified Kneser–Ney LM from token ``sentences`` and write it as ARPA to ``path``.

    Tokens must not contain whitespace nor be one of :data:`MARKERS`; the module docstring gives the
    estimator. Raises :class:`SongalignError` for an order below :data:`MINIMUM_ORDER` or no sentences.
    """
    if order < MINIMUM_ORDER:
        raise SongalignError(
            f"the language model order must be at least {MINIMUM_ORDER} (KenLM needs bigrams), got {order}"
        )
    padded = [(SENTENCE_START, *sentence, SENTENCE_END) for sentence in sentences if len(sentence)]
    if not padded:
        raise SongalignError("the language model has no training text: give it at least one non-empty lyric line")
    for sentence in padded:
        for token in sentence[1:-1]:
            if token in MARKERS or not token or any(ch.isspace() for ch in token):
                raise SongalignError(
                    f"the language model cannot use the token {token!r}: tokens are non-blank, without spaces"
                )
    requested = order
    order = min(order, max(len(sentence) for sentence in padded))
    if order < requested:
        log.warning("no lyric line is long enough for %d-grams; the language model has order %d", requested, order)

    raw: list[Counter[tuple[str, ...]]] = [Counter() for _ in range(order + 1)]  # raw[n]: n-gram windows
    for sentence in padded:
        for n in range(1, order + 1):
            for i in range(len(sentence) - n + 1):
                raw[n][sentence[i : i + n]] += 1

    adjusted: list[dict[tuple[str, ...], int]] = [{} for _ in range(order + 1)]
    adjusted[order] = dict(raw[order])
    for n in range(order - 1, 0, -1):
        continuation: Counter[tuple[str, ...]] = Counter(gram[1:] for gram in raw[n + 1])
        raw[n + 1] = Counter()  # no longer needed: free it early, large corpora hold millions of n-grams
        adjusted[n] = {
            gram: (count if gram[0] == SENTENCE_START else continuation[gram]) for gram, count in raw[n].items()
        }
    del raw
    adjusted[1].pop((SENTENCE_START,), None)  # never predicted; listed with log10 P = -99

    discounts: list[tuple[float, float, float]] = []
    fallback: list[bool] = []
    for n in range(1, order + 1):
        counts_of_counts = Counter(min(count, 5) for count in adjusted[n].values())
        estimate = kneser_ney_discounts([counts_of_counts[k] for k in (1, 2, 3, 4)])
        fallback.append(estimate is None)
        discounts.append(FALLBACK_DISCOUNTS if estimate is None else estimate)

    probability: list[dict[tuple[str, ...], float]] = [{} for _ in range(order + 1)]
    backoff: dict[tuple[str, ...], float] = {}

    def lower(context: tuple[str, ...], word: str) -> float:
        """P(word | context) from the orders estimated so far, by the ARPA backoff rule."""
        if not context:
            return probability[1].get((word,), probability[1][(UNKNOWN,)])
        gram = (*context, word)
        if gram in probability[len(gram)]:
            return probability[len(gram)][gram]
        return backoff.get(context, 1.0) * lower(context[1:], word)

    for n in range(1, order + 1):
        d1, d2, d3 = discounts[n - 1]
        by_context: defaultdict[tuple[str, ...], list[tuple[str, int]]] = defaultdict(list)
        for gram, count in adjusted[n].items():
            by_context[gram[:-1]].append((gram[-1], count))
        vocabulary_size = len(adjusted[1]) + 1  # the words, </s> and <unk>
        for context, followers in by_context.items():
            total = sum(count for _, count in followers)
            discounted = [(word, count - (d1 if count == 1 else d2 if count == 2 else d3)) for word, count in followers]
            gamma = sum(count - kept for (_, count), (_, kept) in zip(followers, discounted, strict=True)) / total
            for word, kept in discounted:
                below = 1.0 / vocabulary_size if n == 1 else lower(context[1:], word)
                probability[n][(*context, word)] = max(kept, 0.0) / total + gamma * below
            if n == 1:
                probability[1][(UNKNOWN,)] = gamma / vocabulary_size
            else:
                backoff[context] = gamma
        if n > 1:
            adjusted[n] = {}  # its probabilities are computed; the counts are not needed again

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    entries: list[list[tuple[tuple[str, ...], float]]] = [
        [],
        [((SENTENCE_START,), 0.0), *sorted(probability[1].items())],
        *(sorted(probability[n].items()) for n in range(2, order + 1)),
    ]
    with path.open("w", encoding="utf-8") as handle:
        handle.write("\\data\\\n")
        for n in range(1, order + 1):
            handle.write(f"ngram {n}={len(entries[n])}\n")
        for n in range(1, order + 1):
            handle.write(f"\n\\{n}-grams:\n")
            for gram, prob in entries[n]:
                logp = _LOG10_NEVER if gram == (SENTENCE_START,) else math.log10(prob)
                line = f"{logp:.8f}\t{' '.join(gram)}"
                if n < order and gram in backoff:
                    line += f"\t{math.log10(backoff[gram]):.8f}"
                handle.write(line + "\n")
        handle.write("\n\\end\\\n")
    words = tuple(sorted(gram[0] for gram in probability[1] if gram[0] not in MARKERS))
    return ArpaSummary(
        path=path,
        order=order,
        counts=tuple(len(entries[n]) for n in range(1, order + 1)),
        vocabulary=words,
        discounts=tuple(discounts),
        fallback=tuple(fallback),
        sentences=len(padded),
    )


def read_vocabulary(path: str | Path) -> tuple[str, ...]:
    """The words of the ARPA file ``path`` (its unigrams without :data:`MARKERS`), in file order."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(path, "the language model file does not exist; build it with build_arpa or give its path")
    words: list[str] = []
    in_unigrams = False
    with path.open(encoding="utf-8") as handle:
        for raw_line in handle:
            line = raw_line.strip()
            if line.startswith("\\"):
                if in_unigrams:
                    break
                in_unigrams = line == "\\1-grams:"
                continue
            if in_unigrams and line:
                fields = line.split()
                if len(fields) >= 2 and fields[1] not in MARKERS:
                    words.append(fields[1])
    if not in_unigrams and not words:
        raise BadInputError(
            path, "no \\1-grams: section, so this is not an ARPA language model; rebuild it with build_arpa"
        )
    return tuple(words)


def read_ngram_counts(path: str | Path) -> tuple[int, ...]:
    """``counts[n-1]``: the number of n-grams of order ``n`` the ARPA file ``path`` lists, from its ``\\data\\``
    header (``ngram n=count`` lines); ``len(counts)`` is the LM's order."""
    path = Path(path)
    if not path.is_file():
        raise BadInputError(path, "the language model file does not exist; build it with build_arpa or give its path")
    counts: dict[int, int] = {}
    with path.open(encoding="utf-8") as handle:
        for raw_line in handle:
            line = raw_line.strip()
            if line.startswith("ngram ") and "=" in line:
                order, count = line[len("ngram ") :].split("=", 1)
                counts[int(order)] = int(count)
            elif line.endswith("-grams:"):
                break
    if not counts or sorted(counts) != list(range(1, len(counts) + 1)):
        raise BadInputError(
            path, "has no 'ngram N=count' line for each order, so this is not an ARPA language model; rebuild it"
        )
    return tuple(counts[n] for n in range(1, len(counts) + 1))
