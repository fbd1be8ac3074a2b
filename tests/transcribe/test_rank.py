"""Lyric selection on hand-built CTC emissions: likelihoods, ranking, fusion, candidate files, protocol."""

from __future__ import annotations

import itertools
import json
import math

import numpy as np
import pytest

from songalign.errors import BadInputError, SongalignError
from songalign.evaluate.protocol import lyric_choice
from songalign.transcribe import rank
from songalign.transcribe.rank import (
    CTC_METHOD,
    FUSION_METHOD,
    ctc_log_likelihoods,
    embedding_scores,
    frames_needed,
    fuse,
    lyric_selection,
    rank_candidates,
    read_candidates,
    row_z_scores,
)
from songalign.transcribe.symbols import BLANK_INDEX, SYMBOLS, encode

V = len(SYMBOLS)


def spelled(text: str, confidence: float = 0.9, seed: int | None = None) -> np.ndarray:
    """``(2L + 1, V)`` emissions that spell ``text``: blank, char, blank, char, …, blank; ``confidence`` on each."""
    path = [BLANK_INDEX]
    for symbol in encode(text):
        path += [symbol, BLANK_INDEX]
    probabilities = np.full((len(path), V), (1 - confidence) / (V - 1))
    probabilities[np.arange(len(path)), path] = confidence
    if seed is not None:  # uneven noise, so that no two frames are alike
        probabilities += np.random.default_rng(seed).uniform(0, 0.01, probabilities.shape)
        probabilities /= probabilities.sum(axis=1, keepdims=True)
    return np.log(probabilities).astype(np.float32)


def brute_force_log_likelihood(log_probs: np.ndarray, text: str) -> float:
    """``log Σ_paths P(path)`` over every frame path that collapses (merge repeats, drop blanks) to ``text``."""
    target = tuple(encode(text))
    symbols = sorted({BLANK_INDEX, *target})  # other symbols can never collapse to the target
    total = 0.0
    for path in itertools.product(symbols, repeat=len(log_probs)):
        merged = [s for i, s in enumerate(path) if i == 0 or s != path[i - 1]]
        if tuple(s for s in merged if s != BLANK_INDEX) == target:
            total += math.exp(sum(float(log_probs[t, s]) for t, s in enumerate(path)))
    return math.log(total) if total > 0 else -math.inf


def test_ctc_log_likelihood_is_the_sum_over_every_alignment():
    a, b = encode("a")[0], encode("b")[0]
    probabilities = np.full((4, V), 0.01)
    # frame-by-frame preferences that favour "a" early and "b" late, unevenly, so "ab" and "ba" differ
    probabilities[:, BLANK_INDEX] = [0.30, 0.20, 0.50, 0.10]
    probabilities[:, a] = [0.50, 0.40, 0.10, 0.05]
    probabilities[:, b] = [0.05, 0.25, 0.30, 0.70]
    log_probs = np.log(probabilities / probabilities.sum(axis=1, keepdims=True)).astype(np.float32)
    texts = ["ab", "ba", "aa", "b", "aaa", "AB!"]
    scores = ctc_log_likelihoods([log_probs], texts)
    expected = [brute_force_log_likelihood(log_probs.astype(np.float64), text) for text in texts]
    assert scores.shape == (1, len(texts))
    assert scores[0, :4] == pytest.approx(expected[:4], abs=1e-5)
    assert scores[0, 0] - scores[0, 1] > 1.0  # "ab" fits these frames far better than "ba": no symmetry by accident
    assert scores[0, 4] == -math.inf and expected[4] == -math.inf  # "aaa" needs 5 frames (a _ a _ a), there are 4
    assert scores[0, 5] == scores[0, 0]  # the text is normalised before it is encoded


def test_frames_needed_counts_a_blank_between_repeated_symbols():
    assert frames_needed(encode("ab")) == 2 and frames_needed(encode("aab")) == 4 and frames_needed(encode("")) == 0


def test_ctc_scores_every_pair_and_rules_out_empty_and_too_long_texts():
    emissions = [spelled("hello world", seed=1), spelled("goodbye", seed=2)]
    texts = ["goodbye", "hello world", "!!!", "a much longer line than any of these emissions can hold"]
    scores = ctc_log_likelihoods(emissions, texts)
    assert scores.shape == (2, 4)
    assert scores[0].argmax() == 1 and scores[1].argmax() == 0
    assert np.all(scores[:, 2:] == -math.inf) and np.isfinite(scores[:, :2]).all()
    assert ctc_log_likelihoods(emissions, []).shape == (2, 0)


def test_bad_emissions_are_one_error_naming_the_segment():
    broken = spelled("hello", seed=0)
    broken[2, 3] = np.nan
    with pytest.raises(SongalignError, match=r"^the emissions of segment 1 hold NaN"):
        ctc_log_likelihoods([spelled("hi"), broken], ["hello"])
    with pytest.raises(SongalignError, match=r"^the emissions of segment 0 have shape \(5, 28\)"):
        ctc_log_likelihoods([np.zeros((5, V - 1), dtype=np.float32)], ["hello"])


def test_the_candidate_the_emissions_spell_ranks_first_and_identical_texts_tie():
    emissions = spelled("hello world", seed=3)
    candidates = ["goodbye moon", "hello world", "hello word", "Hello, World!", "?", "hello world " * 5]
    ranked = rank_candidates(emissions, candidates)
    assert [row.index for row in ranked[:3]] == [1, 3, 2]
    assert ranked[0].rank == ranked[1].rank == 1 and ranked[2].rank == 3  # the two spellings of one text tie
    assert ranked[0].ctc_log_likelihood == ranked[1].ctc_log_likelihood
    assert ranked[0].embedding_score is None and ranked[0].fused is None and ranked[0].text == "hello world"
    impossible = ranked[-2:]  # the empty text and the one too long for the frames: last, tied
    assert {row.index for row in impossible} == {4, 5} and impossible[0].rank == impossible[1].rank == 5
    assert all(row.ctc_log_likelihood == -math.inf for row in impossible)


def test_rank_candidates_with_embeddings_ranks_by_the_fusion():
    emissions = spelled("hello world", seed=4)
    candidates = ["hello world", "hello word", "goodbye moon"]
    # the embedding strongly prefers "goodbye moon"; with weight 0 it alone decides, with weight 1 the CTC does
    cosines = np.array([0.1, 0.2, 0.9])
    assert rank_candidates(emissions, candidates, cosines, weight=0.0)[0].index == 2
    by_ctc = rank_candidates(emissions, candidates, cosines, weight=1.0)
    assert [row.index for row in by_ctc] == [0, 1, 2] and by_ctc[0].embedding_score == pytest.approx(0.1)
    row_ctc = ctc_log_likelihoods([emissions], candidates)
    fused = fuse(row_ctc, cosines[None], 0.5)[0]
    assert [row.fused for row in rank_candidates(emissions, candidates, cosines)] == sorted(fused, reverse=True)


def test_fusion_of_z_scores_by_hand():
    ctc = np.array([[-10.0, -20.0, -30.0]])
    cosines = np.array([[0.1, 0.5, 0.3]])
    # z(ctc) = [1, 0, −1] · √1.5 (mean −20, std √(200/3)); z(cos) = [−1, 1, 0] · √1.5 (mean 0.3, std √(0.08/3))
    root = math.sqrt(1.5)
    assert row_z_scores(ctc)[0] == pytest.approx([root, 0.0, -root])
    assert row_z_scores(cosines)[0] == pytest.approx([-root, root, 0.0])
    # 0.75 · z_ctc + 0.25 · z_cos = [0.5, 0.25, −0.75] · √1.5
    assert fuse(ctc, cosines, 0.75)[0] == pytest.approx([0.612372, 0.306186, -0.918559], abs=1e-6)
    assert fuse(ctc, cosines, 0.25)[0] == pytest.approx([-0.612372, 0.918559, -0.306186], abs=1e-6)  # weight matters


def test_fusion_keeps_ruled_out_candidates_last():
    ctc = np.array([[-10.0, -math.inf, -30.0], [-math.inf, -math.inf, -math.inf], [-5.0, -5.0, -5.0]])
    cosines = np.array([[0.1, 0.5, 0.3], [0.1, 0.5, 0.3], [0.1, 0.5, 0.3]])
    fused = fuse(ctc, cosines, 0.5)
    root = math.sqrt(1.5)
    # row 0: z(ctc) over its finite entries = [1, −inf, −1]; the ruled-out candidate stays ruled out
    assert fused[0] == pytest.approx([0.5 - 0.5 * root, -math.inf, -0.5])
    assert np.all(fused[1] == -math.inf)  # nothing possible: every candidate ties
    assert fused[2] == pytest.approx(0.5 * row_z_scores(cosines[2:])[0])  # a constant CTC row adds nothing
    assert fuse(ctc, cosines, 0.0)[0] == pytest.approx([-root, root, 0.0])  # weight 0: the CTC does not count


def test_fusion_rejects_a_bad_weight_and_nan():
    with pytest.raises(SongalignError, match=r"^weight=1.5 .* between 0 and 1"):
        fuse(np.zeros((1, 2)), np.zeros((1, 2)), 1.5)
    with pytest.raises(SongalignError, match=r"^the CTC scores hold NaN"):
        fuse(np.array([[np.nan, 0.0]]), np.zeros((1, 2)))


def test_embedding_scores_are_cosines():
    audio = np.array([[3.0, 4.0], [0.0, 0.0]])
    texts = np.array([[1.0, 0.0], [0.0, 2.0], [-1.0, -1.0]])
    assert embedding_scores(audio, texts) == pytest.approx(np.array([[0.6, 0.8, -0.7 * math.sqrt(2)], [0, 0, 0]]))


def test_read_candidates_from_text_json_and_csv(tmp_path):
    text = tmp_path / "candidates.txt"
    text.write_text("\ufeffFirst line\r\n  and its second line \r\n\r\n\r\nSecond candidate\n   \nThird\n", "utf-8")
    assert read_candidates(text) == ["First line\nand its second line", "Second candidate", "Third"]
    listed = tmp_path / "candidates.json"
    listed.write_text(json.dumps(["one", "two\nlines"]), "utf-8")
    assert read_candidates(listed) == ["one", "two\nlines"]
    table = tmp_path / "candidates.CSV"
    table.write_text('id,lyrics\n1,"hello\nworld"\n2,goodbye\n', "utf-8")
    assert read_candidates(table) == ["hello\nworld", "goodbye"]


@pytest.mark.parametrize(
    ("name", "content", "problem"),
    [
        ("c.yaml", "- a", r"is not a \.txt, \.json or \.csv file"),
        ("c.json", "[1, 2]", r"is not a JSON list of strings"),
        ("c.json", '["a",', r"is not valid JSON \(line 1\)"),
        ("c.csv", "text\nhello\n", r"has no 'lyrics' column"),
        ("c.txt", "\n \n", r"holds no candidate lyrics"),
        ("missing.txt", None, r"no such file"),
    ],
)
def test_a_bad_candidate_file_is_one_error_naming_it(tmp_path, name, content, problem):
    path = tmp_path / name
    if content is not None:
        path.write_text(content, "utf-8")
    with pytest.raises(BadInputError, match=rf"^{path}: {problem}") as error:
        read_candidates(path)
    assert error.value.path == str(path) and ";" in error.value.problem  # what is wrong; what to do


WORDS = ["love", "night", "heart", "fire", "dance", "home", "rain", "again", "stay", "gold", "sky", "road"]


def segments(count: int, seed: int = 0) -> list[str]:
    """``count`` distinct three-word lyrics."""
    orders = list(itertools.permutations(WORDS, 3))
    chosen = np.random.default_rng(seed).choice(len(orders), count, replace=False)
    return [" ".join(orders[i]) for i in chosen]


def test_lyric_selection_scores_each_method_on_the_same_pools():
    texts = segments(20)
    emissions = [spelled(text, confidence=0.6, seed=i) for i, text in enumerate(texts)]
    rng = np.random.default_rng(7)
    lyrics = rng.standard_normal((20, 8))
    audio = lyrics + 2.0 * rng.standard_normal((20, 8))  # a noisy embedding model
    results = lyric_selection(emissions, texts, audio, lyrics, pool=5, draws=3, seed=2, scale=10.0)
    assert list(results) == [CTC_METHOD, "CLAP-lyr", FUSION_METHOD]
    assert results[CTC_METHOD].top_k[1].mean == 100.0  # every segment's emissions spell its own lyrics
    assert results[CTC_METHOD].kl is None and results[FUSION_METHOD].kl is None
    direct = lyric_choice(audio, lyrics, texts, pool=5, draws=3, seed=2, scale=10.0, model_name="CLAP-lyr")
    assert results["CLAP-lyr"].to_dict() == direct.to_dict()
    for result in results.values():
        assert result.pool == 5 and result.draws == 3 and result.queries == 20
        assert result.chance_top_k == pytest.approx({1: 20.0, 2: 40.0, 4: 80.0, 8: 100.0})
    assert list(lyric_selection(emissions, texts)) == [CTC_METHOD]  # without embeddings: the CTC alone


def test_lyric_selection_of_emissions_that_know_nothing_is_chance():
    # every symbol equally likely in every frame: a text's likelihood then depends only on its length and
    # where it repeats a symbol, so distinct texts of one length without repeated neighbours all tie
    rng = np.random.default_rng(1)
    texts = []
    while len(texts) < 12:
        letters = rng.choice(list("abcdefgh"), 10)
        if all(a != b for a, b in zip(letters, letters[1:], strict=False)) and "".join(letters) not in texts:
            texts.append("".join(letters))
    silent = np.log(np.full((40, V), 1.0 / V)).astype(np.float32)
    scores = ctc_log_likelihoods([silent], texts)
    assert np.all(scores == scores[0, 0]) and np.isfinite(scores[0, 0])
    result = lyric_selection([silent] * 12, texts, pool=4, draws=2)[CTC_METHOD]
    assert {k: e.mean for k, e in result.top_k.items()} == pytest.approx(result.chance_top_k)
    assert result.chance_top_k[1] == pytest.approx(25.0)


def test_batches_under_a_small_budget_give_the_same_scores(monkeypatch):
    texts = [*segments(9, seed=3), "x", "no", "a"]
    emissions = [spelled(text, seed=i)[: 6 + 5 * i] for i, text in enumerate(texts[:6])]
    whole = ctc_log_likelihoods(emissions, texts)
    monkeypatch.setattr(rank, "PAIR_BUDGET", 2000)  # a few pairs per ctc_loss call
    assert np.array_equal(ctc_log_likelihoods(emissions, texts), whole) and np.isinf(whole).any()
