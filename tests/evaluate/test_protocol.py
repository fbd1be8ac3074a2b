"""The seed-000 lyric-choice protocol on hand-built embeddings: KL direction, ties, chance, intervals."""

from __future__ import annotations

import math

import numpy as np
import pytest

from songalign.errors import SongalignError
from songalign.evaluate.protocol import (
    Estimate,
    candidate_pools,
    cosine_scores,
    kl_audio_to_lyric,
    kl_lyric_to_audio,
    lyric_choice,
    lyric_choice_from_scores,
    normalise,
)


def distinct_lyrics(n: int, dim: int = 16, seed: int = 0) -> tuple[np.ndarray, list[str]]:
    return np.random.default_rng(seed).standard_normal((n, dim)), [f"lyric {i}" for i in range(n)]


def test_kl_is_zero_and_top1_perfect_when_audio_equals_lyrics():
    lyrics = np.eye(3)
    result = lyric_choice(lyrics.copy(), lyrics, ["a", "b", "c"], pool="all")
    assert result.kl.mean == pytest.approx(0.0, abs=1e-12)
    assert result.kl_lyric_audio.mean == pytest.approx(0.0, abs=1e-12)
    assert result.top_k[1].mean == 100.0 and result.pool == "all" and result.queries == 3
    assert result.model_scale is None and result.kl_model_scale is None and result.kl_lyric_audio_model_scale is None
    assert result.chance_top_k == pytest.approx({1: 100 / 3, 2: 200 / 3, 4: 100.0, 8: 100.0})


def test_lopsided_hand_computed_kl_pins_the_direction():
    # keys e1, e2, e3; cos(q_audio, k) = [0.6, 0.8, 0], cos(q_lyric, k) = [1, 0, 0]; s = 1:
    # P_audio = [e^0.6, e^0.8, 1] / (e^0.6 + e^0.8 + 1) = [0.360983, 0.440905, 0.198112]
    # P_lyric = [e, 1, 1] / (e + 2)                     = [0.576117, 0.211942, 0.211942]
    p_audio = [0.36098289, 0.44090550, 0.19811161]
    p_lyric = [0.57611688, 0.21194156, 0.21194156]
    audio_to_lyric = sum(a * math.log(a / b) for a, b in zip(p_audio, p_lyric, strict=True))  # 0.140851
    lyric_to_audio = sum(b * math.log(b / a) for a, b in zip(p_audio, p_lyric, strict=True))  # 0.128374
    kl = kl_audio_to_lyric(np.array([0.6, 0.8, 0.0]), np.array([1.0, 0.0, 0.0]), np.eye(3))
    assert kl == pytest.approx(audio_to_lyric, rel=1e-6) and kl == pytest.approx(0.140851, abs=1e-6)
    assert abs(kl - lyric_to_audio) > 0.01  # the swapped direction would fail
    reverse = kl_lyric_to_audio(np.array([0.6, 0.8, 0.0]), np.array([1.0, 0.0, 0.0]), np.eye(3))
    assert reverse == pytest.approx(lyric_to_audio, rel=1e-6) and reverse == pytest.approx(0.128374, abs=1e-6)


def test_a_lopsided_case_pins_both_directions_in_the_functions_and_in_the_result():
    # keys e1, e2, e3; q_audio = (2, 1, 2)/3, q_lyric = e1; s = 3, so the logits are whole numbers:
    # s·cos(q_audio, k) = [2, 1, 2]  → P_audio = [e², e, e²] / Z_a, Z_a = 2e² + e = 17.496394
    # s·cos(q_lyric, k) = [3, 0, 0]  → P_lyric = [e³, 1, 1] / Z_l, Z_l = e³ + 2 = 22.085537
    # log P_audio − log P_lyric = [2, 1, 2] − [3, 0, 0] + c = [−1, 1, 2] + c, c = log Z_l − log Z_a = 0.232928
    # D_KL(P_audio ‖ P_lyric) = Σ P_audio · ([−1, 1, 2] + c) = (e² + e) / (2e² + e) + c = 0.577681 + c = 0.810609
    # D_KL(P_lyric ‖ P_audio) = Σ P_lyric · ([1, −1, −2] − c) = (e³ − 3) / (e³ + 2) − c = 0.773607 − c = 0.540679
    q_audio, q_lyric = np.array([2.0, 1.0, 2.0]) / 3, np.array([1.0, 0.0, 0.0])
    audio_lyric, lyric_audio = 0.810609, 0.540679
    assert kl_audio_to_lyric(q_audio, q_lyric, np.eye(3), scale=3.0) == pytest.approx(audio_lyric, abs=2e-6)
    assert kl_lyric_to_audio(q_audio, q_lyric, np.eye(3), scale=3.0) == pytest.approx(lyric_audio, abs=2e-6)
    # the same query in the protocol at the model's scale 3: queries 1 and 2 have audio equal to their lyric (KL 0),
    # so each mean is a third of query 0's KL and its interval is 1.96 · std([KL, 0, 0]) / √3, as for every figure
    audio = np.array([q_audio, [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    result = lyric_choice(audio, np.eye(3), ["a", "b", "c"], pool="all", scale=3.0)
    for estimate, kl in ((result.kl_model_scale, audio_lyric), (result.kl_lyric_audio_model_scale, lyric_audio)):
        spread = 1.96 * np.std([kl, 0.0, 0.0], ddof=1) / math.sqrt(3)
        assert (estimate.mean, estimate.ci95, estimate.count) == pytest.approx((kl / 3, spread, 3), abs=2e-6)
    assert result.kl_lyric_audio.mean < result.kl.mean  # at s = 1 too, the two directions are told apart


def test_a_model_that_knows_nothing_has_a_nonzero_kl_in_both_directions():
    # audio embeddings all zero: P_audio is uniform, 1/3 each; lyrics e1, e2, e3 at s = 1:
    # P_lyric = [e, 1, 1] / (e + 2) for query 0 (permuted for the others, so every query has the same KLs)
    # D_KL(U ‖ P_lyric) = −log 3 − ⅓ Σ log P_lyric = −log 3 − ⅓ (1 − 3 log(e + 2)) = log((e + 2)/3) − ⅓ = 0.119499
    # D_KL(P_lyric ‖ U) = log 3 − H(P_lyric) = log 3 + e/(e + 2) − log(e + 2)                      = 0.123284
    result = lyric_choice(np.zeros((3, 3)), np.eye(3), ["a", "b", "c"], pool="all")
    assert (result.kl.mean, result.kl.ci95) == pytest.approx((0.119499, 0.0), abs=1e-6)
    assert (result.kl_lyric_audio.mean, result.kl_lyric_audio.ci95) == pytest.approx((0.123284, 0.0), abs=1e-6)
    assert {k: e.mean for k, e in result.top_k.items()} == pytest.approx(result.chance_top_k)


def test_kl_at_the_models_scale_is_reported_beside_kl_at_one():
    # s = 2: P_audio = softmax([1.2, 1.6, 0]) = [0.358036, 0.534126, 0.107838], P_lyric = softmax([2, 0, 0])
    p_audio = [0.35803553, 0.53412624, 0.10783823]
    p_lyric = [0.78698604, 0.10650698, 0.10650698]
    expected = sum(a * math.log(a / b) for a, b in zip(p_audio, p_lyric, strict=True))  # 0.580595
    # three segments; only query 0's audio differs from its lyric, so the mean KL is a third of its KL
    lyrics = np.eye(3)
    audio = np.array([[0.6, 0.8, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    result = lyric_choice(audio, lyrics, ["a", "b", "c"], pool="all", scale=2.0)
    assert result.kl_model_scale.mean == pytest.approx(expected / 3, rel=1e-6)
    assert result.kl.mean == pytest.approx(0.140851 / 3, abs=1e-6) and result.model_scale == 2.0
    assert result.kl_lyric_audio.mean == pytest.approx(0.128374 / 3, abs=1e-6)
    # query 0's audio is closest to lyric 1, at any scale
    assert result.top_k[1].mean == pytest.approx(200 / 3)


@pytest.mark.parametrize("audio_kind", ["all equal", "all zero"])
def test_a_collapsed_model_scores_chance_not_perfect(audio_kind):
    lyrics, texts = distinct_lyrics(30)
    constant = np.random.default_rng(1).standard_normal(16) if audio_kind == "all equal" else np.zeros(16)
    result = lyric_choice(np.tile(constant, (30, 1)), lyrics, texts, pool=10, draws=5, seed=0)
    assert 7.0 <= result.top_k[1].mean <= 13.0  # 10-way chance, whatever position the query holds
    assert result.chance_top_k == pytest.approx({1: 10.0, 2: 20.0, 4: 40.0, 8: 80.0})
    if audio_kind == "all zero":  # every candidate tied: exactly k/n for every query
        assert {k: e.mean for k, e in result.top_k.items()} == pytest.approx({1: 10.0, 2: 20.0, 4: 40.0, 8: 80.0})
    # whole split as the pool: each rank position belongs to exactly one query, so top-k is k/30 exactly
    whole = lyric_choice(np.tile(constant, (30, 1)), lyrics, texts, pool="all")
    assert {k: e.mean for k, e in whole.top_k.items()} == pytest.approx({k: 100 * k / 30 for k in (1, 2, 4, 8)})


def test_random_audio_embeddings_score_chance():
    lyrics, texts = distinct_lyrics(200)
    audio = np.random.default_rng(5).standard_normal((200, 16))
    result = lyric_choice(audio, lyrics, texts, pool=10, draws=5, seed=0)
    for k, chance in ((1, 10.0), (2, 20.0), (4, 40.0), (8, 80.0)):
        assert abs(result.top_k[k].mean - chance) <= 7.0
    assert result.top_k[1].count == 200  # the interval is over queries, not (query, draw) pairs


@pytest.mark.parametrize("where", ["audio", "lyric"])
def test_non_finite_embeddings_are_one_error_naming_the_model(where):
    lyrics, texts = distinct_lyrics(12)
    audio = lyrics.copy()
    (audio if where == "audio" else lyrics)[4, 2] = np.nan if where == "audio" else np.inf
    with pytest.raises(
        SongalignError, match=rf"^model-x gives non-finite \(NaN or infinite\) {where} embeddings for 1 of 12"
    ):
        lyric_choice(audio, lyrics, texts, model_name="model-x")


def test_repeated_lyrics_count_as_own_and_chance_accounts_for_them():
    # 4 segments; audio of 0 is closest to lyric 1, whose text equals lyric 0's (a repeated chorus)
    lyrics = np.eye(4)
    audio = np.array([[0.1, 1.0, 0, 0], [0, 1.0, 0, 0], [0, 0, 1.0, 0], [0, 0, 0, 1.0]])
    result = lyric_choice(audio, lyrics, ["chorus", "chorus", "x", "y"], pool="all", scale=10.0)
    assert result.top_k[1].mean == 100.0
    # chance top-1: 2/4 for the two chorus queries, 1/4 for the others
    assert result.chance_top_k[1] == pytest.approx(100 * (2 / 4 + 2 / 4 + 1 / 4 + 1 / 4) / 4)
    distinct = lyric_choice(audio, lyrics, ["c0", "c1", "x", "y"], pool="all", scale=10.0)
    assert distinct.top_k[1].mean == 75.0 and distinct.top_k[2].mean == 100.0


def test_intervals_are_over_per_query_means():
    # 3 draws × 2 queries: query 0 always hits, query 1 hits once → per-query means [1, 1/3]
    estimate = Estimate.over_queries(np.array([[1.0, 0.0], [1.0, 1.0], [1.0, 0.0]]))
    spread = 1.96 * np.std([1.0, 1 / 3], ddof=1) / math.sqrt(2)
    assert (estimate.mean, estimate.ci95, estimate.count) == pytest.approx((2 / 3, spread, 2))


def test_pool_draws_are_seeded_and_sized():
    lyrics, texts = distinct_lyrics(30)
    audio = np.random.default_rng(1).standard_normal((30, 16))
    first = lyric_choice(audio, lyrics, texts, pool=10, draws=3, seed=1)
    assert first.to_dict() == lyric_choice(audio, lyrics, texts, pool=10, draws=3, seed=1).to_dict()
    assert first.kl.count == 30 and first.kl_lyric_audio.count == 30 and first.pool == 10 and first.draws == 3
    assert "over 30 queries" in first.interval
    assert first.to_dict() != lyric_choice(audio, lyrics, texts, pool=10, draws=3, seed=2).to_dict()


@pytest.mark.parametrize("pool", [1, 0, -3, "some", True])
def test_a_pool_without_a_rival_candidate_is_one_error_naming_the_option(pool):
    lyrics, texts = distinct_lyrics(12)
    with pytest.raises(SongalignError, match=r"^pool=.* set pool \(--pool\) to 2 or more"):
        lyric_choice(lyrics.copy(), lyrics, texts, pool=pool)


def test_no_draws_is_one_error_naming_the_option():
    lyrics, texts = distinct_lyrics(12)
    with pytest.raises(SongalignError, match=r"^draws=0 .* set draws \(--draws\) to 1 or more"):
        lyric_choice(lyrics.copy(), lyrics, texts, pool=4, draws=0)
    assert lyric_choice(lyrics.copy(), lyrics, texts, pool=2, draws=1).top_k[1].mean == 100.0  # 2 is enough


# the protocol on a score matrix (methods without embeddings: a CTC likelihood, a fusion)


def without_kl(result) -> dict:
    figures = result.to_dict()
    kls = ("kl", "kl_model_scale", "kl_lyric_audio", "kl_lyric_audio_model_scale", "model_scale")
    return {key: value for key, value in figures.items() if key not in kls}


@pytest.mark.parametrize("pool", [3, 10, "all"])
def test_scores_equal_to_the_embedding_products_give_lyric_choices_figures(pool):
    lyrics, texts = distinct_lyrics(25)
    texts[3] = texts[7]  # a repeated chorus
    audio = lyrics + 1.5 * np.random.default_rng(2).standard_normal(lyrics.shape)
    by_embeddings = lyric_choice(audio, lyrics, texts, pool=pool, draws=3, seed=4, scale=5.0)
    scores = normalise(audio) @ normalise(lyrics).T
    by_scores = lyric_choice_from_scores(scores, texts, pool=pool, draws=3, seed=4)
    assert without_kl(by_scores) == without_kl(by_embeddings)
    assert by_scores.kl is None and by_scores.kl_model_scale is None and by_embeddings.kl is not None
    assert by_scores.kl_lyric_audio is None and by_scores.kl_lyric_audio_model_scale is None
    assert by_embeddings.kl_lyric_audio is not None and by_embeddings.kl_lyric_audio_model_scale is not None
    # a monotone transform of the scores changes nothing: only the order within a pool counts
    assert without_kl(lyric_choice_from_scores(np.exp(3 * scores) - 7, texts, pool=pool, draws=3, seed=4)) == (
        without_kl(by_embeddings)
    )


def test_every_method_sees_the_same_seeded_pools():
    pools = list(candidate_pools(12, 4, 2, seed=3))
    assert len(pools) == 24 and [(d, q) for d, q, _ in pools[:2]] == [(0, 0), (0, 1)]
    assert all(c[0] == q and len(set(c)) == 4 for _, q, c in pools)
    assert all((a[2] == b[2]).all() for a, b in zip(pools, candidate_pools(12, 4, 2, seed=3), strict=True))
    assert any((a[2] != b[2]).any() for a, b in zip(pools, candidate_pools(12, 4, 2, seed=4), strict=True))
    assert all(len(c) == 12 for _, _, c in candidate_pools(12, "all", 5, seed=0))


def test_a_perfect_score_matrix_finds_every_lyric_and_a_constant_one_scores_exactly_chance():
    texts = [f"lyric {i}" for i in range(20)]
    texts[5] = texts[6]
    own = np.array([[a == b for b in texts] for a in texts], dtype=float)
    perfect = lyric_choice_from_scores(own, texts, pool=10, draws=5, seed=0)
    assert {k: e.mean for k, e in perfect.top_k.items()} == {1: 100.0, 2: 100.0, 4: 100.0, 8: 100.0}
    for pool in (10, "all"):
        constant = lyric_choice_from_scores(np.full((20, 20), -3.5), texts, pool=pool, draws=5, seed=0)
        assert {k: e.mean for k, e in constant.top_k.items()} == pytest.approx(constant.chance_top_k)
    # −inf is a score like any other: everything but the own lyric ruled out is perfect, all ruled out is chance
    ruled_out = np.where(own > 0, -40.0, -np.inf)
    assert lyric_choice_from_scores(ruled_out, texts, pool=10).top_k[1].mean == 100.0
    nothing = lyric_choice_from_scores(np.full((20, 20), -np.inf), texts, pool=10)
    assert {k: e.mean for k, e in nothing.top_k.items()} == pytest.approx(nothing.chance_top_k)


def test_nan_scores_are_one_error_naming_the_method():
    scores = np.zeros((6, 6))
    scores[2, 4] = np.nan
    with pytest.raises(SongalignError, match=r"^CTC likelihood gives NaN scores for 1 of 36 \(audio, lyrics\) pairs"):
        lyric_choice_from_scores(scores, [f"t{i}" for i in range(6)], pool=3, method_name="CTC likelihood")
    with pytest.raises(ValueError, match=r"\(6, 6\) matrix"):
        lyric_choice_from_scores(np.zeros((6, 5)), [f"t{i}" for i in range(6)], pool=3)


def test_identical_lyric_embeddings_always_tie():
    # a matrix product may round one copy of an embedding differently from another (BLAS edge tiles):
    # the cosines of identical lyric embeddings must be bitwise equal, or a tie would be broken by noise
    rng = np.random.default_rng(3)
    lyrics = normalise(rng.standard_normal((517, 33)))
    copies = rng.choice(517, 100, replace=False)
    lyrics[copies] = lyrics[copies[0]]
    scores = cosine_scores(rng.standard_normal((517, 33)), lyrics)
    assert np.all(scores[:, copies] == scores[:, copies[:1]])
