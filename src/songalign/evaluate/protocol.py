"""Seed 000's lyric-choice protocol (audio-to-lyric retrieval among n candidates).

For every query segment ``i`` of the evaluated split and every seeded draw:

1. a pool of ``n`` candidates is drawn: segment ``i`` and ``n − 1`` other segments (or, with
   ``pool="all"``, every segment of the split);
2. ``q_audio`` = audio embedding of ``i``; ``q_lyric`` = text embedding of ``i``'s lyrics;
   ``k_j`` = text embeddings of the candidates' lyrics (all L2-normalised, so dot = cosine);
3. ``P(k | q_audio) = softmax_j(s · cos(q_audio, k_j))`` and
   ``P(k | q_lyric) = softmax_j(s · cos(q_lyric, k_j))``;
4. the KL divergence between the two distributions, in both directions (``P_a = P(k|q_audio)``,
   ``P_l = P(k|q_lyric)``):

   - ``kl`` = ``D_KL(P_a ‖ P_l) = Σ_j P_a(j) · log(P_a(j) / P_l(j))``, the formula as the seed writes
     it (its §6, "Evaluation Process"; SPEC.md §1.1: "KL = D_KL(P(k|q_audio) ‖ P(k|q_lyric))");
   - ``kl_lyric_audio`` = ``D_KL(P_l ‖ P_a) = Σ_j P_l(j) · log(P_l(j) / P_a(j))``, what the sentence
     after that formula means (SPEC.md §1.1: "the audio distribution is the prediction, the
     lyric–lyric distribution the ground truth"; a KL is an expectation under the ground truth) and
     what the authors' evaluation code computes (PyTorch's ``kl_div`` takes the ground truth as its target).

   Both are reported because the seed's formula and its prose disagree and KL is not symmetric:
   neither can be read off the other;
5. top-k hit (k ∈ {1, 2, 4, 8}): the query's own lyric is among the k most probable under
   ``P(k | q_audio)``.

Choices this implementation makes, and why:

- **The softmax scale.** The main KL figure uses ``s = 1`` for every model — the seed's literal
  "softmax of the similarity logits" — because a KL computed at each model's own learned scale
  is not comparable across models (a sharper scale alone moves it). KL at the model's own logit
  scale is reported beside it (``kl_model_scale`` and ``kl_lyric_audio_model_scale``, with
  ``model_scale``). Top-k does not depend on ``s``: a positive scale does not change the order.
- **KL at chance is not 0.** A model that knows nothing (audio embeddings all zero) has a uniform
  ``P_a`` over the ``n`` candidates: ``kl = −log n − mean_j log P_l(j)`` and ``kl_lyric_audio =
  log n − H(P_l)``. Both shrink as ``P_l`` flattens (at ``s = 1`` it is nearly flat), so a low KL
  alone does not mean a good model: read top-k against its chance.
- **Ties never favour the query.** Candidates whose similarity to ``q_audio`` ties with the
  query's own lyric share their ranks: a top-k hit is credited with its expectation under a
  uniformly random order of the tied candidates (:mod:`songalign.evaluate.ranking`). A model
  whose audio embeddings are all zero therefore scores exactly ``k / n``; one whose audio
  embeddings are all equal scores ``k / n`` in expectation over the pools. ``chance_top_k`` is
  the figure of a model that ties every candidate, for the same pools.
- **Repeated lyrics.** A candidate whose lyrics are *identical* to the query's (a repeated
  chorus) counts as the query's own lyric, here and in :mod:`songalign.evaluate.retrieval`:
  no model can tell two copies of one text apart. ``chance_top_k`` accounts for them.
- **Intervals over queries.** The same query recurs in every draw, so its draws are not
  independent: each query's figures are first averaged over the draws, then the mean and a 95%
  interval (mean ± 1.96 · standard error) are taken over the queries; ``count`` is the number
  of queries.
- **Non-finite embeddings** (NaN or infinite) are an error naming the model, not a score.
- **Any score, not only embeddings.** The pools, top-k and chance are computed on a score
  matrix (:func:`lyric_choice_from_scores`; row ``i`` = query ``i``'s score for every segment's
  lyrics, higher = better), so a method without embeddings — a transcriber's CTC likelihood, a
  fusion — is scored on exactly the same pools: for one seed and pool size every method draws the
  same candidates. :func:`lyric_choice` is that function on the cosines ``audio @ lyricsᵀ`` plus
  the KLs, which need embeddings (a score-only result has every KL None). A score of ``−inf`` (a
  candidate the method rules out, e.g. a text too long for the audio's CTC frames) ranks below
  every finite score and ties with the other ``−inf`` candidates; a NaN score is an error.

The seed's published numbers are below 10-way chance, so it most likely ranked against a larger
pool: ``pool`` is therefore explicit in every result.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import asdict, dataclass, field

import numpy as np
from scipy.special import log_softmax

from songalign.errors import SongalignError
from songalign.evaluate.ranking import chance_rank, first_relevant_rank

TOP_KS = (1, 2, 4, 8)


@dataclass
class Estimate:
    """A mean with its 95% interval half-width (normal approximation over ``count`` independent values)."""

    mean: float
    ci95: float
    count: int

    @classmethod
    def of(cls, values: np.ndarray) -> Estimate:
        """Mean ± 1.96 · standard error of ``values (count,)``, taken as independent."""
        values = np.asarray(values, dtype=float)
        if values.size == 0:
            return cls(float("nan"), float("nan"), 0)
        spread = 1.96 * values.std(ddof=1) / np.sqrt(values.size) if values.size > 1 else 0.0
        return cls(float(values.mean()), float(spread), int(values.size))

    @classmethod
    def over_queries(cls, per_draw: np.ndarray) -> Estimate:
        """The estimate from ``per_draw (draws, queries)`` values: each query's mean over draws, then over queries."""
        return cls.of(np.asarray(per_draw, dtype=float).mean(axis=0))


@dataclass
class LyricChoiceResult:
    """Figures of one run of the protocol; see the module docstring for each choice.

    ``kl`` = ``D_KL(P(k|q_audio) ‖ P(k|q_lyric))`` (the seed's formula) and ``kl_lyric_audio`` =
    ``D_KL(P(k|q_lyric) ‖ P(k|q_audio))`` (its prose and its authors' code) are in nats at ``s = 1``
    (None for a score-only method, which has no embeddings to take a KL of); ``kl_model_scale`` and
    ``kl_lyric_audio_model_scale`` are the same at ``s = model_scale`` (they and ``model_scale`` are
    None when the model has no logit scale of its own); ``top_k`` and ``chance_top_k`` are in %. Every
    estimate's ``count`` is ``queries``.
    """

    pool: int | str
    draws: int
    queries: int
    kl: Estimate | None
    kl_lyric_audio: Estimate | None = None
    top_k: dict[int, Estimate] = field(default_factory=dict)
    chance_top_k: dict[int, float] = field(default_factory=dict)
    model_scale: float | None = None
    kl_model_scale: Estimate | None = None
    kl_lyric_audio_model_scale: Estimate | None = None
    interval: str = ""

    def to_dict(self) -> dict:
        return asdict(self)


def normalise(x: np.ndarray) -> np.ndarray:
    """Rows of ``x (..., D)`` scaled to unit length; an all-zero row stays zero (it ties with everything)."""
    x = np.asarray(x, dtype=np.float64)
    return x / np.maximum(np.linalg.norm(x, axis=-1, keepdims=True), 1e-12)


def require_finite(embeddings: np.ndarray, what: str, model_name: str | None = None) -> None:
    """Raise one sentence naming the model when ``embeddings (N, D)`` hold NaN or infinite values."""
    bad = ~np.isfinite(np.asarray(embeddings, dtype=np.float64)).all(axis=-1)
    if bad.any():
        raise SongalignError(
            f"{model_name or 'the model'} gives non-finite (NaN or infinite) {what} embeddings for "
            f"{int(bad.sum())} of {len(bad)} segments, so it cannot be evaluated; its weights are broken "
            "or its training diverged — retrain it (e.g. with a lower learning rate) or load another checkpoint"
        )


def require_protocol_options(pool: int | str, draws: int) -> None:
    """Raise one sentence naming the option when ``pool`` is not an integer ≥ 2 or ``"all"``, or ``draws`` < 1.

    A pool of 1 holds only the query, which every model then "finds": a trivial 100%.
    """
    if not (pool == "all" or (isinstance(pool, int) and not isinstance(pool, bool) and pool >= 2)):
        raise SongalignError(
            f"pool={pool!r} leaves the lyric-choice protocol nothing to choose from: set pool (--pool) to 2 or more "
            "candidates, the query included, or to 'all' for the whole split"
        )
    if not (isinstance(draws, int) and not isinstance(draws, bool) and draws >= 1):
        raise SongalignError(f"draws={draws!r} draws no pool at all: set draws (--draws) to 1 or more")


def choice_log_probabilities(
    q_audio: np.ndarray, q_lyric: np.ndarray, keys: np.ndarray, scale: float = 1.0
) -> tuple[np.ndarray, np.ndarray]:
    """``(log P(k|q_audio), log P(k|q_lyric))`` for one query, each ``(n,)``, in nats.

    ``q_audio``, ``q_lyric``: ``(D,)``; ``keys``: ``(n, D)`` candidate lyric embeddings; ``scale``
    is the softmax scale ``s`` applied to the cosine similarities.
    """
    q_audio, q_lyric, keys = normalise(q_audio), normalise(q_lyric), normalise(keys)
    return log_softmax(scale * keys @ q_audio), log_softmax(scale * keys @ q_lyric)


def kl_divergence(log_p: np.ndarray, log_q: np.ndarray) -> float:
    """``D_KL(P ‖ Q) = Σ_j P(j) · (log P(j) − log Q(j))`` in nats, from log-probabilities ``(n,)``."""
    return float(np.sum(np.exp(log_p) * (log_p - log_q)))


def kl_audio_to_lyric(q_audio: np.ndarray, q_lyric: np.ndarray, keys: np.ndarray, scale: float = 1.0) -> float:
    """``D_KL(P(k|q_audio) ‖ P(k|q_lyric))`` in nats for one query: the seed's formula (``kl``).

    Arguments as :func:`choice_log_probabilities`.
    """
    log_p_audio, log_p_lyric = choice_log_probabilities(q_audio, q_lyric, keys, scale)
    return kl_divergence(log_p_audio, log_p_lyric)


def kl_lyric_to_audio(q_audio: np.ndarray, q_lyric: np.ndarray, keys: np.ndarray, scale: float = 1.0) -> float:
    """``D_KL(P(k|q_lyric) ‖ P(k|q_audio))`` in nats for one query: the seed's prose and code (``kl_lyric_audio``).

    Arguments as :func:`choice_log_probabilities` (audio first, as in :func:`kl_audio_to_lyric`).
    """
    log_p_audio, log_p_lyric = choice_log_probabilities(q_audio, q_lyric, keys, scale)
    return kl_divergence(log_p_lyric, log_p_audio)


def pool_plan(n_items: int, pool: int | str, draws: int) -> tuple[bool, int, int]:
    """``(whole split?, candidates per pool, draws)`` for ``n_items`` segments: a pool as large as the split is the split."""
    whole = pool == "all" or (isinstance(pool, int) and pool >= n_items)
    return whole, n_items if whole else int(pool), 1 if whole else draws


def candidate_pools(n_items: int, pool: int | str, draws: int, seed: int) -> Iterator[tuple[int, int, np.ndarray]]:
    """Every ``(draw, query, candidates)`` of the protocol, in order; ``candidates (size,)`` holds the query first.

    Draw ``d`` uses ``numpy.random.default_rng([seed, d])`` and draws the queries in order, so the
    pools depend only on ``(n_items, pool, draws, seed)``: every method scored with the same
    options sees the same candidates.
    """
    whole, size, draws = pool_plan(n_items, pool, draws)
    for draw in range(draws):
        rng = np.random.default_rng([seed, draw])
        for query in range(n_items):
            if whole:
                yield draw, query, np.arange(n_items)
            else:
                others = np.delete(np.arange(n_items), query)
                yield draw, query, np.concatenate([[query], rng.choice(others, size - 1, replace=False)])


def require_scores(scores: np.ndarray, n_items: int, method_name: str | None = None) -> np.ndarray:
    """``scores`` as a float64 ``(n_items, n_items)`` matrix; one error naming the method if it holds NaN.

    Infinite scores are kept: ``−inf`` ranks last, ``+inf`` first, equal infinities tie.
    """
    scores = np.asarray(scores, dtype=np.float64)
    if scores.shape != (n_items, n_items):
        raise ValueError(f"give one score per (query, text) pair: a ({n_items}, {n_items}) matrix, not {scores.shape}")
    nan = np.isnan(scores)
    if nan.any():
        raise SongalignError(
            f"{method_name or 'the method'} gives NaN scores for {int(nan.sum())} of {nan.size} (audio, lyrics) "
            "pairs, so it cannot rank the candidates; its inputs (emissions or embeddings) hold NaN — check the "
            "model's checkpoint or retrain it"
        )
    return scores


def cosine_scores(audio: np.ndarray, lyrics: np.ndarray) -> np.ndarray:
    """``(N, M)`` cosines of ``audio (N, D)`` with ``lyrics (M, D)``, identical for identical lyric rows.

    A matrix product's rounding can depend on an item's position (BLAS kernels treat edge tiles
    differently), which would break the tie between two bitwise-identical lyric embeddings by
    noise; each distinct lyric row is therefore scored once and its scores copied to its duplicates.
    """
    audio, lyrics = normalise(audio), normalise(lyrics)
    distinct, inverse = np.unique(lyrics, axis=0, return_inverse=True)
    return (audio @ distinct.T)[:, np.asarray(inverse).reshape(-1)]


def lyric_choice_from_scores(
    scores: np.ndarray,
    texts: list[str],
    *,
    pool: int | str = 10,
    draws: int = 5,
    seed: int = 0,
    top_ks: tuple[int, ...] = TOP_KS,
    method_name: str | None = None,
) -> LyricChoiceResult:
    """Top-k and chance of the protocol for any method that scores each (audio, lyrics) pair.

    ``scores (N, N)``: row ``i`` is query ``i``'s score for the lyrics of every segment, higher =
    better (a log-likelihood, a cosine, …; only the order within a pool matters). ``texts`` are
    the ``N`` lyric texts (identical texts count as one another's own lyric). ``pool``, ``draws``
    and ``seed`` are :func:`lyric_choice`'s and draw the same pools. The result has every KL None.
    NaN scores are one error naming ``method_name``; ``−inf`` is a valid score that ranks last.
    """
    require_protocol_options(pool, draws)
    n_items = len(texts)
    if n_items < 2:
        raise ValueError("the lyric-choice protocol needs at least 2 segments")
    scores = require_scores(scores, n_items, method_name)
    whole, size, draws = pool_plan(n_items, pool, draws)
    text_ids = np.unique(np.asarray(texts), return_inverse=True)[1]
    hits = np.zeros((len(top_ks), draws, n_items))
    chance = np.zeros((len(top_ks), draws, n_items))
    for draw, query, candidates in candidate_pools(n_items, pool, draws, seed):
        own = text_ids[candidates] == text_ids[query]
        found, by_chance = first_relevant_rank(scores[query, candidates], own), chance_rank(own)
        hits[:, draw, query] = [found.hit_at(k) for k in top_ks]
        chance[:, draw, query] = [by_chance.hit_at(k) for k in top_ks]
    return LyricChoiceResult(
        pool="all" if whole else size,
        draws=draws,
        queries=n_items,
        kl=None,
        top_k={k: Estimate.over_queries(100.0 * hits[i]) for i, k in enumerate(top_ks)},
        chance_top_k={k: float(100.0 * chance[i].mean()) for i, k in enumerate(top_ks)},
        interval=f"95% interval over {n_items} queries (each query's mean over {draws} draw(s))",
    )


def lyric_choice(
    audio: np.ndarray,
    lyrics: np.ndarray,
    texts: list[str],
    *,
    pool: int | str = 10,
    draws: int = 5,
    seed: int = 0,
    scale: float | None = None,
    top_ks: tuple[int, ...] = TOP_KS,
    model_name: str | None = None,
) -> LyricChoiceResult:
    """Run the protocol on ``N`` segments: ``audio`` and ``lyrics`` are ``(N, D)`` embeddings of the same segments.

    ``texts`` are the ``N`` lyric texts (identical texts count as one another's own lyric).
    ``pool`` is the number of candidates per query (query included, 2 or more) or ``"all"`` for the
    whole split (then one draw suffices: there is nothing to draw). ``scale`` is the model's own logit
    scale, or None when it has none. ``model_name`` names the model in the error raised for
    non-finite embeddings. Top-k and chance are :func:`lyric_choice_from_scores` on the cosines;
    the KLs, in both directions, are added on the same pools, each with its interval over queries.
    """
    require_protocol_options(pool, draws)
    n_items = len(texts)
    if n_items < 2:
        raise ValueError("the lyric-choice protocol needs at least 2 segments")
    if len(audio) != n_items or len(lyrics) != n_items:
        raise ValueError(f"give one audio and one lyric embedding per text ({n_items} texts)")
    require_finite(audio, "audio", model_name)
    require_finite(lyrics, "lyric", model_name)
    audio, lyrics = normalise(audio), normalise(lyrics)
    result = lyric_choice_from_scores(
        cosine_scores(audio, lyrics), texts, pool=pool, draws=draws, seed=seed, top_ks=top_ks, method_name=model_name
    )
    scales = (1.0,) if scale is None else (1.0, float(scale))
    # kls[0]: D_KL(P_audio ‖ P_lyric), kls[1]: D_KL(P_lyric ‖ P_audio); then one row per scale
    kls = np.zeros((2, len(scales), result.draws, n_items))
    for draw, query, candidates in candidate_pools(n_items, pool, draws, seed):
        keys = lyrics[candidates]
        for index, s in enumerate(scales):
            log_p_audio, log_p_lyric = choice_log_probabilities(audio[query], lyrics[query], keys, s)
            kls[0, index, draw, query] = kl_divergence(log_p_audio, log_p_lyric)
            kls[1, index, draw, query] = kl_divergence(log_p_lyric, log_p_audio)
    result.kl, result.kl_lyric_audio = Estimate.over_queries(kls[0, 0]), Estimate.over_queries(kls[1, 0])
    result.model_scale = None if scale is None else float(scale)
    result.kl_model_scale = None if scale is None else Estimate.over_queries(kls[0, 1])
    result.kl_lyric_audio_model_scale = None if scale is None else Estimate.over_queries(kls[1, 1])
    return result
