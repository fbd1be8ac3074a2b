"""Audio-conditioned lyric selection: rank candidate lyrics for a piece of audio.

Three ways to score a candidate text for a segment's audio, all "higher = better":

- **CTC likelihood** — ``log P(text | audio)`` in nats under the transcriber's CTC emissions
  (:func:`ctc_log_likelihoods`): the sum over every alignment of the text's characters to the
  emission frames (``torch.nn.functional.ctc_loss``, blank 0, texts normalised and encoded with
  :func:`songalign.transcribe.symbols.encode`). A text the frames cannot hold (more characters,
  plus a blank between each repeated pair, than there are frames) and an empty normalised text
  get ``−inf``: they rank below every possible text and tie with one another. ``−inf`` is kept
  rather than mapped to a large finite number, because the lyric-choice protocol and
  :func:`fuse` treat it exactly (a tie at the bottom), whereas a stand-in value could outrank
  a genuine but very unlikely text.
- **Embedding cosine** — the joint-embedding model's (CLAP-lyr's) cosine between the audio
  embedding and each text embedding (:func:`embedding_scores`).
- **Fusion** — per audio row, each score is standardised over that row's finite candidates and
  combined as ``weight · z_ctc + (1 − weight) · z_embedding`` (:func:`fuse`). Log-likelihoods
  and cosines live on unrelated scales; z-scores put them on one without a trained calibration.

:func:`lyric_selection` scores all three with seed 000's lyric-choice protocol
(:mod:`songalign.evaluate.protocol`), on the same seeded pools; any acoustic backend's scores
(:func:`backend_log_likelihoods`, e.g. ``whisper``'s token log-probabilities) take the CTC
likelihood's place there. :func:`rank_candidates` ranks a
user's candidates for one piece of audio; :func:`read_candidates` reads them from a file.
"""

from __future__ import annotations

import csv
import io
import json
import math
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import torch

from songalign.errors import BadInputError, SongalignError
from songalign.evaluate.protocol import (
    TOP_KS,
    LyricChoiceResult,
    cosine_scores,
    lyric_choice,
    lyric_choice_from_scores,
    require_finite,
)
from songalign.transcribe.align import frames_needed
from songalign.transcribe.symbols import BLANK_INDEX, SYMBOLS, encode

if TYPE_CHECKING:
    from songalign.transcribe.backends import Backend, Sound

CTC_METHOD = "CTC likelihood"
EMBEDDING_METHOD = "CLAP-lyr"
FUSION_METHOD = "fusion"

PAIR_BUDGET = 1 << 24
"""Most ``pairs × frames × max(CTC states, symbols)`` one ``ctc_loss`` call holds: its trellis and its
inputs are each at most that many float32 values (64 MiB)."""


def _as_array(values: np.ndarray | torch.Tensor) -> np.ndarray:
    if isinstance(values, torch.Tensor):
        values = values.detach().cpu().numpy()
    return np.asarray(values)


def _checked_emissions(log_probs: Sequence[np.ndarray | torch.Tensor]) -> list[np.ndarray]:
    """Each ``(T_i, V)`` emission as float32, with one error naming the segment for a bad shape or NaN."""
    checked = []
    for index, emission in enumerate(log_probs):
        emission = _as_array(emission).astype(np.float32, copy=False)
        if emission.ndim != 2 or emission.shape[1] != len(SYMBOLS):
            raise SongalignError(
                f"the emissions of segment {index} have shape {emission.shape}, not (frames, {len(SYMBOLS)}): "
                f"give the transcriber's CTC log-probabilities over its {len(SYMBOLS)} symbols (blank first)"
            )
        if np.isnan(emission).any() or np.isposinf(emission).any():
            raise SongalignError(
                f"the emissions of segment {index} hold NaN or +inf log-probabilities, so no text can be scored "
                "against them; the transcriber's checkpoint is broken — retrain it or load another one"
            )
        checked.append(emission)
    return checked


def _ctc_batch(
    emission_table: torch.Tensor,
    target_table: torch.Tensor,
    frames: np.ndarray,
    lengths: np.ndarray,
    audio_ids: np.ndarray,
    text_ids: np.ndarray,
) -> np.ndarray:
    """``log P(text | audio)`` of the pairs ``(audio_ids[b], text_ids[b])``: ``(B,)`` float64, ``−inf`` if impossible.

    ``emission_table (N, T_max, V)`` and ``target_table (M, S_max)`` are padded; ``frames (N,)``
    and ``lengths (M,)`` give their true lengths.
    """
    device = emission_table.device
    batch_frames, batch_length = int(frames[audio_ids].max()), int(lengths[text_ids].max())
    inputs = emission_table[torch.from_numpy(audio_ids).to(device), :batch_frames].transpose(0, 1)  # (T, B, V)
    with torch.no_grad():
        negative = torch.nn.functional.ctc_loss(
            inputs,
            target_table[torch.from_numpy(text_ids).to(device), :batch_length],
            torch.from_numpy(frames[audio_ids]),
            torch.from_numpy(lengths[text_ids]),
            blank=BLANK_INDEX,
            reduction="none",
            zero_infinity=False,
        )
    return -negative.double().cpu().numpy()


def ctc_log_likelihoods(
    log_probs: Sequence[np.ndarray | torch.Tensor], texts: Sequence[str], *, device: str | torch.device = "cpu"
) -> np.ndarray:
    """``(N_audio, N_texts)`` natural-log CTC likelihoods ``log P(text_j | audio_i)`` of every pair.

    ``log_probs``: one ``(T_i, V)`` array of CTC log-probabilities per audio segment (frames of
    0.032 s, ``V = len(SYMBOLS)``, blank at 0; rows are used as given, not renormalised).
    ``texts``: raw lyric texts, normalised and encoded with :func:`~songalign.transcribe.symbols.encode`.
    Impossible texts (too long for ``T_i`` frames) and empty normalised texts get ``−inf``.

    Texts that encode alike are scored once (so they tie exactly), impossible pairs are skipped,
    and the rest go to ``ctc_loss`` (float32, as the emissions are) in batches sorted by text
    length, each under :data:`PAIR_BUDGET` trellis cells. ``device`` runs the batches there (e.g. ``"cuda"``).
    """
    emissions = _checked_emissions(log_probs)
    encoded = [tuple(encode(text)) for text in texts]
    distinct = sorted(set(encoded), key=lambda symbols: (len(symbols), symbols))
    distinct_index = {symbols: index for index, symbols in enumerate(distinct)}
    scores = np.full((len(emissions), len(distinct)), -math.inf)
    frames = np.array([len(emission) for emission in emissions], dtype=np.int64)
    needed = np.array([frames_needed(symbols) for symbols in distinct], dtype=np.int64)
    lengths = np.array([len(symbols) for symbols in distinct], dtype=np.int64)
    # the (audio, text) pairs that can have an alignment; the others stay −inf
    text_of_pair, audio_of_pair = np.nonzero((needed[:, None] <= frames[None, :]) & (lengths[:, None] > 0))
    if len(text_of_pair) and len(emissions):
        longest = int(frames.max())
        padded = np.zeros((len(emissions), longest, len(SYMBOLS)), dtype=np.float32)
        for index, emission in enumerate(emissions):
            padded[index, : len(emission)] = emission
        emission_table = torch.from_numpy(padded).to(device)
        targets = np.zeros((len(distinct), max(int(lengths.max()), 1)), dtype=np.int64)
        for index, symbols in enumerate(distinct):
            targets[index, : len(symbols)] = symbols
        target_table = torch.from_numpy(targets).to(device)
        order = np.argsort(lengths[text_of_pair], kind="stable")  # by text length, so that a batch pads little
        text_of_pair, audio_of_pair = text_of_pair[order], audio_of_pair[order]

        def cells(count: int, length: int) -> int:  # the larger of a batch's trellis and its inputs
            return count * longest * max(2 * length + 1, len(SYMBOLS))

        start = 0
        while start < len(text_of_pair):
            stop = min(len(text_of_pair), start + max(1, PAIR_BUDGET // cells(1, int(lengths[text_of_pair[start]]))))
            while stop - start > 1 and cells(stop - start, int(lengths[text_of_pair[stop - 1]])) > PAIR_BUDGET:
                stop = start + max(1, PAIR_BUDGET // cells(1, int(lengths[text_of_pair[stop - 1]])))
            chunk = slice(start, stop)
            scores[audio_of_pair[chunk], text_of_pair[chunk]] = _ctc_batch(
                emission_table, target_table, frames, lengths, audio_of_pair[chunk], text_of_pair[chunk]
            )
            start = stop
    columns = np.array([distinct_index[symbols] for symbols in encoded], dtype=np.int64)
    return scores[:, columns] if len(texts) else np.zeros((len(emissions), 0))


def embedding_scores(audio_embeddings: np.ndarray, text_embeddings: np.ndarray) -> np.ndarray:
    """``(N, M)`` cosines of ``audio_embeddings (N, D)`` with ``text_embeddings (M, D)``; a zero row scores 0.

    Bitwise-identical text embeddings get identical scores (see :func:`~songalign.evaluate.protocol.cosine_scores`).
    Non-finite embeddings are one error.
    """
    audio_embeddings, text_embeddings = _as_array(audio_embeddings), _as_array(text_embeddings)
    require_finite(audio_embeddings, "audio")
    require_finite(text_embeddings, "lyric")
    return cosine_scores(audio_embeddings, text_embeddings)


def row_z_scores(scores: np.ndarray) -> np.ndarray:
    """``scores (N, M)`` standardised per row over that row's finite entries; ``−inf`` stays ``−inf``.

    ``z = (x − mean) / std`` with the population standard deviation of the row's finite entries;
    a row whose finite entries are all equal (or that has one) gets ``z = 0`` for them.
    """
    finite = np.isfinite(scores)
    counts = finite.sum(axis=1, keepdims=True)
    values = np.where(finite, scores, 0.0)
    mean = values.sum(axis=1, keepdims=True) / np.maximum(counts, 1)
    spread = np.sqrt(np.where(finite, (values - mean) ** 2, 0.0).sum(axis=1, keepdims=True) / np.maximum(counts, 1))
    z = np.where(spread > 0, (values - mean) / np.where(spread > 0, spread, 1.0), 0.0)
    return np.where(finite, z, -math.inf)


def _checked_scores(scores: np.ndarray, what: str) -> np.ndarray:
    scores = np.asarray(_as_array(scores), dtype=np.float64)
    if scores.ndim != 2:
        raise ValueError(f"{what} scores must be an (audio, candidates) matrix, not shape {scores.shape}")
    if np.isnan(scores).any() or np.isposinf(scores).any():
        raise SongalignError(
            f"the {what} scores hold NaN or +inf, so they cannot be fused; the model that produced them is "
            "broken — retrain it or load another checkpoint"
        )
    return scores


def fuse(ctc: np.ndarray, embedding: np.ndarray, weight: float = 0.5) -> np.ndarray:
    """``(N, M)`` fused scores ``weight · z(ctc) + (1 − weight) · z(embedding)``, per-row z-scores (:func:`row_z_scores`).

    ``ctc`` (log-likelihoods) and ``embedding`` (cosines) are ``(N, M)``, finite or ``−inf``.
    The z-scores of a row use that row's finite candidates, so the scales of the two scores drop
    out. A candidate that a component with a positive weight rules out (``−inf``) is ruled out in
    the fusion too (``−inf``: it ranks last, tied with the others ruled out); a component with
    weight 0 does not count, ``−inf`` or not. ``weight`` = 1 orders as the CTC score, 0 as the
    embedding.
    """
    if not (isinstance(weight, int | float) and 0.0 <= weight <= 1.0):
        raise SongalignError(f"weight={weight!r} is not a fusion weight: set the weight (--weight) between 0 and 1")
    ctc, embedding = _checked_scores(ctc, "CTC"), _checked_scores(embedding, "embedding")
    if ctc.shape != embedding.shape:
        raise ValueError(f"the CTC scores {ctc.shape} and the embedding scores {embedding.shape} must pair up")
    fused = np.zeros(ctc.shape)
    for component, share in ((row_z_scores(ctc), weight), (row_z_scores(embedding), 1.0 - weight)):
        if share > 0:
            fused = fused + share * component  # −inf · share stays −inf; −inf + finite is −inf
    return fused


@dataclass(frozen=True)
class RankedCandidate:
    """One candidate lyric's place for a piece of audio.

    ``rank`` is 1-based and shared by ties (two candidates tied for first both have rank 1, the
    next has rank 3); ``index`` is the candidate's position in the input; ``ctc_log_likelihood``
    is ``log P(text | audio)`` in nats (``−inf`` when impossible); ``embedding_score`` the cosine
    and ``fused`` the :func:`fuse` score, both None without embeddings (the CTC score then ranks).
    """

    rank: int
    index: int
    ctc_log_likelihood: float
    embedding_score: float | None
    fused: float | None
    text: str


def rank_candidates(
    emission_log_probs: np.ndarray | torch.Tensor | None,
    candidates: Sequence[str],
    embedding_scores_row: np.ndarray | None = None,
    weight: float = 0.5,
    *,
    log_likelihoods: np.ndarray | None = None,
) -> list[RankedCandidate]:
    """``candidates`` ranked for one piece of audio, best first (ties in input order).

    ``emission_log_probs (T, V)``: the audio's CTC log-probabilities, or None when ``log_likelihoods (M,)``
    gives each candidate's log-likelihood already (an acoustic backend's
    :meth:`~songalign.transcribe.backends.Backend.score`). ``embedding_scores_row (M,)``:
    each candidate's embedding cosine with the audio (:func:`embedding_scores`), or None to rank by
    the CTC likelihood alone; with it, candidates rank by :func:`fuse` at ``weight`` (z-scores
    over these candidates).
    """
    if not candidates:
        raise SongalignError("there are no candidate lyrics to rank: give at least one candidate")
    if log_likelihoods is not None:
        ctc = np.asarray(log_likelihoods, dtype=np.float64).reshape(-1)
        if len(ctc) != len(candidates):
            raise ValueError(f"give one log-likelihood per candidate ({len(candidates)}), not {len(ctc)}")
    elif emission_log_probs is None:
        raise ValueError("give the audio's CTC log-probabilities or the candidates' log-likelihoods")
    else:
        ctc = ctc_log_likelihoods([emission_log_probs], candidates)[0]
    if embedding_scores_row is None:
        cosines, fused, ranking = None, None, ctc
    else:
        cosines = np.asarray(_as_array(embedding_scores_row), dtype=np.float64).reshape(-1)
        if len(cosines) != len(candidates):
            raise ValueError(f"give one embedding score per candidate ({len(candidates)}), not {len(cosines)}")
        fused = fuse(ctc[None], cosines[None], weight)[0]
        ranking = fused
    order = sorted(range(len(candidates)), key=lambda index: -ranking[index])  # stable: ties keep input order
    return [
        RankedCandidate(
            rank=1 + int(np.sum(ranking > ranking[index])),
            index=index,
            ctc_log_likelihood=float(ctc[index]),
            embedding_score=None if cosines is None else float(cosines[index]),
            fused=None if fused is None else float(fused[index]),
            text=candidates[index],
        )
        for index in order
    ]


def _read_text(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8-sig")
    except FileNotFoundError:
        raise BadInputError(
            path, "no such file; give the path of a .txt, .json or .csv file of candidate lyrics"
        ) from None
    except UnicodeDecodeError:
        raise BadInputError(path, "is not UTF-8 text; save the candidate lyrics as UTF-8") from None
    except OSError as error:
        raise BadInputError(path, f"cannot be read ({error.strerror}); check the path and its permissions") from None


def read_candidates(path: str | Path) -> list[str]:
    """Candidate lyrics from ``path``, in file order.

    - ``.txt``: candidates separated by blank lines; a candidate may span several lines (kept,
      joined by newlines, each stripped);
    - ``.json``: a list of strings;
    - ``.csv``: a ``lyrics`` column, one candidate per row.

    A missing, unreadable, malformed or empty file is one :class:`~songalign.errors.BadInputError`
    naming the file and the fix.
    """
    path = Path(path)
    suffix = path.suffix.lower()
    if suffix not in (".txt", ".json", ".csv"):
        raise BadInputError(
            path,
            "is not a .txt, .json or .csv file; give candidate lyrics as a .txt (separated by blank lines), "
            "a .json list of strings or a .csv with a 'lyrics' column",
        )
    text = _read_text(path)
    if suffix == ".txt":
        candidates, current = [], []
        for line in [*text.splitlines(), ""]:
            if line.strip():
                current.append(line.strip())
            elif current:
                candidates.append("\n".join(current))
                current = []
    elif suffix == ".json":
        try:
            candidates = json.loads(text)
        except json.JSONDecodeError as error:
            raise BadInputError(path, f"is not valid JSON (line {error.lineno}); give a JSON list of strings") from None
        if not (isinstance(candidates, list) and all(isinstance(c, str) for c in candidates)):
            raise BadInputError(path, 'is not a JSON list of strings; write the candidates as ["first", "second"]')
    else:
        try:
            reader = csv.DictReader(io.StringIO(text, newline=""))
            columns = [name.strip() for name in (reader.fieldnames or [])]
            if "lyrics" not in columns:
                raise BadInputError(
                    path, f"has no 'lyrics' column (its columns: {columns}); name the candidates' column 'lyrics'"
                )
            column = (reader.fieldnames or [])[columns.index("lyrics")]
            candidates = [(row.get(column) or "").strip() for row in reader]
        except csv.Error as error:
            raise BadInputError(path, f"is not valid CSV ({error}); give a CSV file with a 'lyrics' column") from None
    if not candidates:
        raise BadInputError(path, "holds no candidate lyrics; add at least one candidate")
    return candidates


def backend_log_likelihoods(backend: Backend, sounds: Sequence[Sound], texts: Sequence[str]) -> np.ndarray:
    """``(len(sounds), len(texts))`` natural-log scores of every text given each sound under an acoustic
    ``backend`` (:meth:`~songalign.transcribe.backends.Backend.score`: CTC log-likelihoods for ``crnn`` and
    ``wav2vec2``, the known text's token log-probabilities for ``whisper``), for :func:`lyric_selection`."""
    return np.stack([np.asarray(backend.score(sound, list(texts)), dtype=np.float64) for sound in sounds])


def lyric_selection(
    emissions: Sequence[np.ndarray | torch.Tensor] | None,
    texts: Sequence[str],
    audio_embeddings: np.ndarray | None = None,
    lyric_embeddings: np.ndarray | None = None,
    *,
    pool: int | str = 10,
    draws: int = 5,
    seed: int = 0,
    weight: float = 0.5,
    scale: float | None = None,
    top_ks: tuple[int, ...] = TOP_KS,
    embedding_name: str = EMBEDDING_METHOD,
    device: str | torch.device = "cpu",
    log_likelihoods: np.ndarray | None = None,
) -> dict[str, LyricChoiceResult]:
    """Seed 000's lyric-choice figures for choosing each segment's lyrics among ``pool`` candidates.

    ``emissions``: one ``(T_i, V)`` CTC log-probability array per segment; ``texts``: the ``N``
    segments' lyrics; ``audio_embeddings``, ``lyric_embeddings``: the joint-embedding model's
    ``(N, D)`` embeddings of the same segments, or both None. Any acoustic backend instead gives
    ``log_likelihoods`` ``(N, N)`` with ``emissions`` None: row ``i`` its natural-log scores of every
    segment's lyrics given segment ``i``'s audio (:func:`backend_log_likelihoods`). Returns, in this order,
    ``"CTC likelihood"`` (scores :func:`ctc_log_likelihoods`, or the backend's), ``embedding_name`` (the embedding
    model by :func:`~songalign.evaluate.protocol.lyric_choice`, with its KL at ``scale``) and
    ``"fusion"`` (:func:`fuse` at ``weight``, z-scores over each segment's whole row), the last
    two only with embeddings. Every method is scored on the same seeded pools; each result gives
    its pool size and chance top-k.
    """
    texts = list(texts)
    if (emissions is None) == (log_likelihoods is None):
        raise ValueError("give the segments' emissions or a backend's log-likelihoods, one of the two")
    if emissions is not None and len(emissions) != len(texts):
        raise ValueError(f"give one emission per text ({len(texts)} texts, {len(emissions)} emissions)")
    if (audio_embeddings is None) != (lyric_embeddings is None):
        raise ValueError("give both the audio and the lyric embeddings, or neither")
    options = {"pool": pool, "draws": draws, "seed": seed, "top_ks": top_ks}
    ctc = ctc_log_likelihoods(emissions, texts, device=device) if emissions is not None else log_likelihoods
    results = {CTC_METHOD: lyric_choice_from_scores(ctc, texts, method_name="the transcriber", **options)}
    if audio_embeddings is not None and lyric_embeddings is not None:
        audio_embeddings, lyric_embeddings = _as_array(audio_embeddings), _as_array(lyric_embeddings)
        results[embedding_name] = lyric_choice(
            audio_embeddings, lyric_embeddings, texts, scale=scale, model_name=embedding_name, **options
        )
        fused = fuse(ctc, embedding_scores(audio_embeddings, lyric_embeddings), weight)
        results[FUSION_METHOD] = lyric_choice_from_scores(fused, texts, method_name=FUSION_METHOD, **options)
    return results
