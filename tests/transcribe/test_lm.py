"""The Kneser–Ney ARPA builder: hand-computed probabilities, normalisation, and KenLM reading it the same way."""

from __future__ import annotations

import itertools
import random
from pathlib import Path

import pytest

from songalign.errors import BadInputError, SongalignError
from songalign.transcribe.lm import (
    FALLBACK_DISCOUNTS,
    SENTENCE_END,
    SENTENCE_START,
    UNKNOWN,
    build_arpa,
    build_character_arpa,
    character_sentences,
    kneser_ney_discounts,
    read_ngram_counts,
    read_vocabulary,
)

LYRICS = [
    "The sun is shining, the sun is bright",
    "shine on me, shine on you",
    "the night is dark and the night is long",
    "Don't let the sun go down on me",
    "the sun goes down",
    "on and on and on",
    "",
]


def random_lyrics(count: int = 150) -> list[str]:
    """Seeded lines over a skewed vocabulary: enough repetition for Chen–Goodman discounts at orders 2 and 3."""
    rng = random.Random(0)
    words = "sun moon love night day fire rain heart soul dream light dark".split()
    weights = [12, 8, 7, 6, 5, 4, 3, 3, 2, 2, 1, 1]
    return [" ".join(rng.choices(words, weights=weights, k=rng.randint(2, 6))) for _ in range(count)]


class Arpa:
    """An ARPA file read back, queried by the ARPA backoff rule (independent of the builder)."""

    def __init__(self, path: Path):
        self.grams: dict[tuple[str, ...], tuple[float, float]] = {}
        order = 0
        for line in path.read_text(encoding="utf-8").splitlines():
            line = line.strip()
            if line.endswith("-grams:"):
                order = int(line[1 : line.index("-")])
            elif line and not line.startswith("\\") and not line.startswith("ngram") and order:
                fields = line.split("\t")
                gram = tuple(fields[1].split(" "))
                assert len(gram) == order
                self.grams[gram] = (float(fields[0]), float(fields[2]) if len(fields) > 2 else 0.0)
        self.order = order
        self.predicted = [g[0] for g in self.grams if len(g) == 1 and g[0] != SENTENCE_START]

    def log10(self, word: str, context: tuple[str, ...]) -> float:
        """log10 P(word | context): the longest listed n-gram, plus the backoffs of the contexts skipped."""
        context = context[-(self.order - 1) :]
        if (word,) not in self.grams:
            word = UNKNOWN
        total = 0.0
        while context and (*context, word) not in self.grams:
            total += self.grams.get(context, (0.0, 0.0))[1]
            context = context[1:]
        return total + self.grams[(*context, word)][0]

    def sentence_log10(self, words: list[str]) -> float:
        context: tuple[str, ...] = (SENTENCE_START,)
        total = 0.0
        for word in [*words, SENTENCE_END]:
            total += self.log10(word, context)
            context = (*context, word if (word,) in self.grams else UNKNOWN)
        return total


def test_chen_goodman_discounts_match_the_formula_and_reject_degenerate_counts():
    # n = (10, 4, 2, 1): Y = 10/18; D1 = 1 - 2Y·4/10 = 5/9; D2 = 2 - 3Y·2/4 = 7/6; D3+ = 3 - 4Y·1/2 = 17/9
    assert kneser_ney_discounts([10, 4, 2, 1]) == pytest.approx((5 / 9, 7 / 6, 17 / 9))
    assert kneser_ney_discounts([3, 0, 1, 1]) is None  # a zero count-of-count
    assert kneser_ney_discounts([1, 1, 10, 1]) is None  # D2 = 2 - 10 < 0


def test_a_bigram_probability_by_hand_with_chen_goodman_discounts(tmp_path):
    # Sentences "x"×4, "y"×3, "z"×2, "w"×1. Bigram counts: <s> x 4, <s> y 3, <s> z 2, <s> w 1 and the same
    # with </s>, so n = (2, 2, 2, 2): D = (1/3, 1, 5/3). Unigram continuation counts: x, y, z, w 1 each,
    # </s> 4 (total 8): n2 = 0, so the unigrams use the fallback (0.5, 1, 1.5): γ0 = (4·0.5 + 1.5)/8 = 7/16,
    # P(x) = 0.5/8 + γ0/6 = 13/96 (six predicted tokens: x y z w </s> <unk>), P(<unk>) = 7/96.
    # P(x | <s>) = (4 - 5/3)/10 + γ(<s>)·P(x), γ(<s>) = (1/3 + 1 + 2·5/3)/10 = 7/15, so 427/1440.
    lines = ["x"] * 4 + ["y"] * 3 + ["z"] * 2 + ["w"]
    summary = build_arpa(lines, tmp_path / "lm.arpa", order=2)
    assert summary.fallback == (True, False)
    assert summary.discounts[0] == FALLBACK_DISCOUNTS
    assert summary.discounts[1] == pytest.approx((1 / 3, 1.0, 5 / 3))
    arpa = Arpa(summary.path)
    assert 10 ** arpa.log10("x", ()) == pytest.approx(13 / 96, abs=1e-7)
    assert 10 ** arpa.log10(UNKNOWN, ()) == pytest.approx(7 / 96, abs=1e-7)
    assert 10 ** arpa.log10("x", (SENTENCE_START,)) == pytest.approx(427 / 1440, abs=1e-7)
    assert 10 ** arpa.grams[(SENTENCE_START,)][1] == pytest.approx(7 / 15, abs=1e-7)
    assert summary.vocabulary == ("w", "x", "y", "z") and summary.counts == (7, 8)


def test_a_bigram_probability_by_hand_with_fallback_discounts(tmp_path):
    # "<s> a b </s>" ×2, "<s> b a </s>": followers of a: b 2, </s> 1 (D 1.0 and 0.5): γ(a) = 1.5/3.
    # Continuation counts a 2, b 2, </s> 2 (total 6, D 1.0 each): P(b) = 1/6 + (3/6)/4 = 7/24.
    # P(b | a) = (2 - 1)/3 + 0.5 · 7/24 = 23/48.
    summary = build_arpa(["a b", "A b!", "b a"], tmp_path / "lm.arpa", order=2)
    assert summary.fallback == (True, True)
    arpa = Arpa(summary.path)
    assert 10 ** arpa.log10("b", ("a",)) == pytest.approx(23 / 48, abs=1e-7)
    assert 10 ** arpa.log10("b", ()) == pytest.approx(7 / 24, abs=1e-7)


@pytest.mark.parametrize(("corpus", "order"), [("lyrics", 2), ("lyrics", 3), ("lyrics", 4), ("random", 3)])
def test_every_context_sums_to_one_under_the_arpa_backoff_rule(tmp_path, corpus, order):
    lines = LYRICS if corpus == "lyrics" else random_lyrics()
    summary = build_arpa(lines, tmp_path / "lm.arpa", order=order)
    if corpus == "random":
        assert summary.fallback == (True, False, False)  # the estimated discounts are exercised too
    arpa = Arpa(summary.path)
    assert arpa.order == order
    tokens = [SENTENCE_START, *summary.vocabulary]
    assert sorted(arpa.predicted) == sorted([*summary.vocabulary, SENTENCE_END, UNKNOWN])
    contexts = [()] + [c for n in range(1, order) for c in itertools.product(tokens, repeat=n)]
    if order == 4:  # every listed trigram context, and a sample of the unlisted ones
        contexts = [c for k, c in enumerate(contexts) if len(c) < 3 or c in arpa.grams or k % 97 == 0]
    for context in contexts:
        total = sum(10 ** arpa.log10(word, context) for word in arpa.predicted)
        assert total == pytest.approx(1.0, abs=1e-6), context


def test_kenlm_in_flashlight_text_scores_sentences_as_the_arpa_rule_does(tmp_path):
    from flashlight.lib.text.decoder.kenlm import KenLM
    from flashlight.lib.text.dictionary import Dictionary

    summary = build_arpa(LYRICS, tmp_path / "lm.arpa", order=3)
    arpa = Arpa(summary.path)
    words = [*summary.vocabulary, "zebra"]  # zebra is not in the LM: KenLM maps it to <unk>
    kenlm = KenLM(str(summary.path), Dictionary(words))
    for sentence in ["the sun is shining", "on and on", "the zebra is long", "shine on me the night"]:
        state = kenlm.start(False)
        total = 0.0
        for word in sentence.split():
            state, score = kenlm.score(state, words.index(word))
            total += score
        _, score = kenlm.finish(state)
        total += score  # KenLM scores are log10, like the ARPA file (not natural log)
        assert total == pytest.approx(arpa.sentence_log10(sentence.split()), abs=1e-4), sentence
    state, score = kenlm.score(kenlm.start(False), words.index("sun"))
    assert score == pytest.approx(arpa.log10("sun", (SENTENCE_START,)), abs=1e-5)


def test_the_vocabulary_reads_back_and_user_errors_say_what_to_do(tmp_path):
    summary = build_arpa(LYRICS, tmp_path / "lm.arpa", order=3)
    assert set(read_vocabulary(summary.path)) == set(summary.vocabulary)
    assert "don't" in summary.vocabulary and "The" not in summary.vocabulary
    assert summary.sentences == 6
    with pytest.raises(SongalignError, match="at least 2"):
        build_arpa(LYRICS, tmp_path / "x.arpa", order=1)
    with pytest.raises(SongalignError, match="no training text"):
        build_arpa(["", "!!"], tmp_path / "x.arpa")
    with pytest.raises(BadInputError, match="does not exist"):
        read_vocabulary(tmp_path / "missing.arpa")
    (tmp_path / "not.arpa").write_text("hello\n")
    with pytest.raises(BadInputError, match="not an ARPA"):
        read_vocabulary(tmp_path / "not.arpa")


def test_an_order_longer_than_any_line_is_lowered(tmp_path):
    summary = build_arpa(["sun", "run sun"], tmp_path / "lm.arpa", order=5)
    assert summary.order == 4 and len(summary.counts) == 4  # "<s> run sun </s>" is the longest window


def test_a_character_lm_spells_spaces_as_the_separator(tmp_path):
    assert character_sentences(["To be!", ""]) == [["t", "o", "|", "b", "e"]]
    summary = build_character_arpa(["to be or not to be"], tmp_path / "chars.arpa", order=3)
    assert set(summary.vocabulary) == set("tobenr|")
    arpa = Arpa(summary.path)
    assert 10 ** arpa.log10("o", ("|", "t")) > 10 ** arpa.log10("e", ("|", "t"))


def test_the_ngram_counts_read_back_from_the_arpa_header(tmp_path):
    summary = build_arpa(LYRICS, tmp_path / "lm.arpa", order=4)
    counts = read_ngram_counts(summary.path)
    assert counts == summary.counts and len(counts) == summary.order == 4
    assert counts[0] == len(summary.vocabulary) + 3  # the words, <s>, </s> and <unk>
    lowered = build_arpa(["sun", "run sun"], tmp_path / "short.arpa", order=5)
    assert read_ngram_counts(lowered.path) == lowered.counts and len(lowered.counts) == 4
    with pytest.raises(BadInputError, match="does not exist"):
        read_ngram_counts(tmp_path / "missing.arpa")
    (tmp_path / "not.arpa").write_text("\\data\\\nhello\n")
    with pytest.raises(BadInputError, match="no 'ngram N=count' line"):
        read_ngram_counts(tmp_path / "not.arpa")
