"""Alignment a person can trust: a confidence per word and line, lines that cannot be placed, and no
lyrics where nobody sings.

:func:`align_scored` times lyric lines in CTC log-probabilities ``log_probs`` of shape ``(T, V)``
(:mod:`songalign.transcribe.align`'s Viterbi) and says how far to trust each time:

**Confidence.** At frame ``t`` let ``r[t] = log p_t(s_t) − max_v log p_t(v)`` (natural log, ``≤ 0``), where
``s_t`` is the symbol the aligned path spends frame ``t`` on and the maximum is the best free (greedy,
unconstrained) path's symbol at the same frame. A word's confidence is

    confidence(word) = exp( mean of r[t] over the frames spent on the word's characters ),

the geometric mean, over those frames, of the aligned symbol's posterior relative to the best symbol's:
1 when the model would have written exactly these characters there unprompted, near 0 when the text is
forced where the model hears something else (a wrong lyric) or nothing (silence, where the blank wins).
A line's confidence is the same mean over the character frames of all its placed words. Frames spent on
blanks and spaces do not count: on silence or a wrong lyric the path fills them with blanks, which the
free path agrees with, and they would hide where the text disagrees.

Edge cases: the Viterbi path gives every character at least one frame, so a placed word always has a
confidence (a word of one frame: that frame's ``exp(r)``); the blank frames between a doubled letter do
not count; a symbol the model rules out (``-inf``) is allowed in ``log_probs`` and makes ``r = -inf`` where
the path takes it (confidence 0); NaN or ``+inf`` in ``log_probs`` is refused
(:func:`~songalign.transcribe.align.as_log_probs`).

**Lines that cannot be placed.** A line none of whose words holds a symbol the aligner writes (a line of
punctuation, a line in a script outside its alphabet) has no frames: it is *untimed* (``start``/``end``
None) and ``unsure``, with its reason; so is a word that normalises to nothing. A line whose
confidence is under ``min_confidence`` keeps its times but is ``unsure``; so is a line that stretches
across more than :data:`MAX_GAP_SECONDS` without singing.

**Vocal activity.** With ``active`` (boolean ``(T,)``, :func:`songalign.transcribe.activity.vocal_activity`),
each frame outside it costs a character :data:`INACTIVE_PENALTY` nats in the Viterbi search (blanks cost
nothing), so lyrics go where someone sings unless the text cannot fit there at all. Confidence is measured
on the unpenalised ``log_probs``.

Inputs are plain arrays and strings, outputs the corpus layer's records
(:class:`~songalign.corpus.lyrics_files.ScoredLyrics`): any backend that gives per-frame CTC emissions can
use it; one that gives word times with probabilities builds :class:`ScoredLyrics` itself and shares
:func:`mark_unsure` and :func:`unplaced_summary`.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import numpy as np

from songalign.corpus.lyrics_files import ScoredLine, ScoredLyrics, ScoredWord
from songalign.corpus.records import Seconds
from songalign.errors import SongalignError
from songalign.transcribe.activity import gaps
from songalign.transcribe.align import LETTERS, Spelling, as_log_probs, spelt, viterbi_align
from songalign.transcribe.symbols import BLANK_INDEX, EMISSION_SECONDS

MIN_CONFIDENCE = 0.3
"""Lines under this confidence are marked unsure (measured on the synthetic test songs: see the README)."""

INACTIVE_PENALTY = 30.0
"""Nats a character frame outside vocal activity costs in the Viterbi search."""

MAX_GAP_SECONDS = 3.0
"""A placed line that spans a run without singing longer than this (seconds) is marked unsure."""


def frame_ratios(log_probs: Any, frame_symbols: np.ndarray) -> np.ndarray:
    """``r[t] = log_probs[t, frame_symbols[t]] − max_v log_probs[t, v]`` for each frame; shape ``(T,)``, ``≤ 0``.

    ``log_probs``: ``(T, V)`` log-probabilities (:func:`~songalign.transcribe.align.as_log_probs`);
    ``frame_symbols``: ``(T,)`` the symbol a path takes per frame. ``r[t]`` is ``-inf`` where the path takes
    a symbol the model rules out (``-inf``), a frame whose every symbol is ``-inf`` included, never NaN.
    """
    emissions = as_log_probs(log_probs)
    symbols = np.asarray(frame_symbols, dtype=np.int64)
    taken = emissions[np.arange(len(symbols)), symbols]
    with np.errstate(invalid="ignore"):  # -inf − -inf on a frame that rules out every symbol
        ratios = taken - emissions.max(axis=1)
    return np.where(np.isneginf(taken), -np.inf, ratios)


def confidence(ratios: np.ndarray) -> float | None:
    """``exp(mean(ratios))`` in [0, 1] (the module docstring's confidence) of :func:`frame_ratios` ``(n,)``:
    0 when one of them is ``-inf``; None for no frames (``n = 0``). Raises :class:`SongalignError` for a NaN."""
    ratios = np.asarray(ratios, dtype=np.float64)
    if np.isnan(ratios).any():
        raise SongalignError("a frame ratio is NaN; compute the ratios with frame_ratios from log-probabilities")
    return float(math.exp(ratios.mean())) if ratios.size else None


def align_scored(
    log_probs: Any,
    lines: Sequence[str],
    *,
    emission_seconds: Seconds = EMISSION_SECONDS,
    duration: Seconds | None = None,
    active: np.ndarray | None = None,
    min_confidence: float = MIN_CONFIDENCE,
    backend: str = "",
    model_digest: str = "",
    vocals: str = "",
    spelling: Spelling = LETTERS,
) -> ScoredLyrics:
    """``lines`` (lyric lines as written) timed in CTC ``log_probs`` ``(T, V)`` with a confidence per word and
    line (module docstring). ``emission_seconds``: seconds per frame; ``duration``: the audio's length in
    seconds (no time is later); ``active``: vocal activity per frame, boolean ``(T,)`` (None: everywhere);
    ``spelling``: how words become the model's symbols (:data:`~songalign.transcribe.align.LETTERS`, or a phoneme
    model's :class:`~songalign.transcribe.phonemes.PhonemeSpelling`).

    Raises :class:`SongalignError` when no line holds a symbol to align, or the audio is too short for it.
    """
    line_words = [line.split() for line in lines]
    emissions, tokens, spans = spelt(log_probs, line_words, spelling)
    searched = emissions
    if active is not None:
        active = np.asarray(active, dtype=bool)
        if active.shape != (len(emissions),):
            raise SongalignError(
                f"the vocal activity has shape {active.shape} but the emissions have {len(emissions)} frames"
            )
        searched = emissions.copy()
        non_blank = np.arange(emissions.shape[1]) != BLANK_INDEX
        searched[np.ix_(~active, non_blank)] -= INACTIVE_PENALTY
    alignment = viterbi_align(searched, tokens)
    token_array = np.asarray(tokens, dtype=np.int64)
    on_token = alignment.frame_tokens >= 0
    path_symbols = np.where(on_token, token_array[np.maximum(alignment.frame_tokens, 0)], BLANK_INDEX)
    ratios = frame_ratios(emissions, path_symbols)

    def seconds(frame: int) -> float:
        time = frame * emission_seconds
        return float(min(time, duration)) if duration is not None else float(time)

    scored_lines: list[ScoredLine] = []
    position = 0
    for written_line, written in zip(lines, line_words, strict=True):
        words: list[ScoredWord] = []
        line_frames: list[np.ndarray] = []
        for word in written:
            span = spans[position]
            position += 1
            if span is None:
                words.append(ScoredWord(word, None, None, None))
                continue
            frames = np.flatnonzero((alignment.frame_tokens >= span[0]) & (alignment.frame_tokens <= span[1]))
            line_frames.append(frames)
            words.append(
                ScoredWord(
                    word,
                    seconds(int(alignment.first_frames[span[0]])),
                    seconds(int(alignment.last_frames[span[1]]) + 1),
                    confidence(ratios[frames]),
                )
            )
        text_of_line = " ".join(written_line.split())
        placed = [w for w in words if w.start is not None]
        if not placed:
            reason = spelling.why_unplaced(text_of_line)
            scored_lines.append(ScoredLine(text_of_line, None, None, None, words, True, f"not placed: {reason}"))
            continue
        line = ScoredLine(
            text_of_line, placed[0].start, placed[-1].end, confidence(ratios[np.concatenate(line_frames)]), words
        )
        if active is not None:
            first, last = round(line.start / emission_seconds), round(line.end / emission_seconds)
            longest = max((b - a for a, b in gaps(active[first:last])), default=0) * emission_seconds
            if longest > MAX_GAP_SECONDS:
                line.unsure, line.reason = True, f"stretches over {longest:.1f} s without singing"
        scored_lines.append(line)
    return mark_unsure(
        ScoredLyrics(scored_lines, backend=backend, model_digest=model_digest, vocals=vocals), min_confidence
    )


def mark_unsure(lyrics: ScoredLyrics, min_confidence: float) -> ScoredLyrics:
    """``lyrics`` with every placed line whose confidence is under ``min_confidence`` marked unsure (its reason
    said), and ``min_confidence`` recorded; changed in place and returned."""
    if not 0 <= min_confidence <= 1:
        raise SongalignError(f"the minimum confidence is {min_confidence}; give a number between 0 and 1")
    lyrics.min_confidence = min_confidence
    for line in lyrics.lines:
        if line.timed and line.confidence is not None and line.confidence < min_confidence and not line.unsure:
            line.unsure, line.reason = True, f"confidence {line.confidence:.2f} is under {min_confidence:g}"
    return lyrics


def unplaced_summary(lyrics: ScoredLyrics) -> list[str]:
    """One sentence per line marked unsure or left untimed: ``line N "TEXT": REASON``; empty when none."""
    return [f'line {index + 1} "{line.text}": {line.reason}' for index, line in lyrics.unplaced]
