"""Alignment a person can trust: a confidence per word and line, lines that cannot be placed, and no
lyrics where nobody sings.

:func:`align_scored` times lyric lines in CTC log-probabilities ``log_probs`` of shape ``(T, V)``
(:mod:`songalign.transcribe.align`'s Viterbi) and says how far to trust each time:

**Confidence.** At frame ``t`` let ``s_t`` be the symbol the aligned path spends the frame on and
``log p_t(s_t)`` its log-posterior (natural log, ``≤ 0``) in ``log_probs``. A word's confidence is

    confidence(word) = exp( mean of log p_t(s_t) over the frames spent on the word's characters ),

the geometric mean, over those frames, of the probability the model gives the text's character where the
alignment puts it: a number in [0, 1] that grows with each of those probabilities. Near 1 when the model
hears exactly these characters there; near 0 when the text is forced where the model hears something else
(a wrong lyric) or nothing (silence, where the blank wins); and ``1/V`` for a model that knows nothing
(uniform emissions over its ``V`` output symbols: 1/29 ≈ 0.034 for songalign's symbols), the chance level.
A line's confidence is the same mean over the character frames of all its placed words. Frames spent on
blanks and spaces do not count: a CTC model spends most frames on the blank whatever it hears, and they
would hide where the text disagrees. (The probability is the model's own, not renormalised over the
symbols songalign writes: a wav2vec2 vocabulary with digits keeps their mass.)

Edge cases: the Viterbi path gives every character at least one frame, so a placed word always has a
confidence (a word of one frame: that frame's probability); the blank frames between a doubled letter do
not count; a symbol the model rules out (``-inf``) is allowed in ``log_probs`` and gives confidence 0
where the path takes it; NaN or ``+inf`` in ``log_probs`` is refused
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

MIN_CONFIDENCE = 0.25
"""Lines under this confidence are marked unsure by a CTC backend (``crnn``, ``wav2vec2``) unless told otherwise.
Measured for ``crnn`` (the transcription quickstart's multi-task model, Spleeter's vocals) on the 7 synthetic
test songs aligned to their own lyrics and to another song's (``benchmarks/alignment_trust.py``;
docs/benchmarks.md): every wrong line under 0.228, every right one at least 0.288; 0.25 is near the midpoint."""

INACTIVE_PENALTY = 30.0
"""Nats a character frame outside vocal activity costs in the Viterbi search."""

MAX_GAP_SECONDS = 3.0
"""A placed line that spans a run without singing longer than this (seconds) is marked unsure."""


def path_log_probs(log_probs: Any, frame_symbols: np.ndarray) -> np.ndarray:
    """``log_probs[t, frame_symbols[t]]`` for each frame: the log-posterior (natural log, ``≤ 0``) of the symbol a
    path takes; shape ``(T,)``.

    ``log_probs``: ``(T, V)`` log-probabilities (:func:`~songalign.transcribe.align.as_log_probs`);
    ``frame_symbols``: ``(T,)`` the symbol the path takes per frame. ``-inf`` where the path takes a symbol
    the model rules out, never NaN.
    """
    emissions = as_log_probs(log_probs)
    symbols = np.asarray(frame_symbols, dtype=np.int64)
    return emissions[np.arange(len(symbols)), symbols]


def confidence(log_probs_on_path: np.ndarray) -> float | None:
    """``exp(mean(log_probs_on_path))`` in [0, 1] (the module docstring's confidence) of :func:`path_log_probs`
    ``(n,)``: 0 when one of them is ``-inf``; None for no frames (``n = 0``); at most 1 (a log-probability a
    rounding error put above 0 does not lift it over). Raises :class:`SongalignError` for a NaN."""
    values = np.asarray(log_probs_on_path, dtype=np.float64)
    if np.isnan(values).any():
        raise SongalignError(
            "a frame's log-probability is NaN; compute them with path_log_probs from log-probabilities"
        )
    return min(1.0, float(math.exp(values.mean()))) if values.size else None


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
    on_path = path_log_probs(emissions, path_symbols)

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
                    confidence(on_path[frames]),
                )
            )
        text_of_line = " ".join(written_line.split())
        placed = [w for w in words if w.start is not None]
        if not placed:
            reason = spelling.why_unplaced(text_of_line)
            scored_lines.append(ScoredLine(text_of_line, None, None, None, words, True, f"not placed: {reason}"))
            continue
        line = ScoredLine(
            text_of_line, placed[0].start, placed[-1].end, confidence(on_path[np.concatenate(line_frames)]), words
        )
        if active is not None:
            mark_stretched(line, active, emission_seconds)
        scored_lines.append(line)
    return mark_unsure(
        ScoredLyrics(scored_lines, backend=backend, model_digest=model_digest, vocals=vocals), min_confidence
    )


def mark_stretched(line: ScoredLine, active: np.ndarray, frame_seconds: float) -> ScoredLine:
    """``line`` marked unsure (its reason said) when, between its start and end (seconds), ``active`` (vocal
    activity, boolean per frame of ``frame_seconds``) holds a run without singing longer than
    :data:`MAX_GAP_SECONDS`; an untimed or already unsure line is left as it is. Changed in place and returned."""
    if not line.timed or line.unsure:
        return line
    first, last = round(line.start / frame_seconds), round(line.end / frame_seconds)
    longest = max((b - a for a, b in gaps(np.asarray(active, dtype=bool)[first:last])), default=0) * frame_seconds
    if longest > MAX_GAP_SECONDS:
        line.unsure, line.reason = True, f"stretches over {longest:.1f} s without singing"
    return line


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
