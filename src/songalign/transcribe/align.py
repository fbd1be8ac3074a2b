"""CTC forced alignment: word and line times for known lyrics from a transcriber's emissions.

Given CTC log-probabilities ``log_probs`` of shape ``(T, V)`` (one row per emission frame, blank at
index 0, see :mod:`songalign.transcribe.symbols`) and the lyrics as plain text, :func:`align_lyrics`
finds the most probable frame-by-frame path through the text (Viterbi) and reads word and line times
off it. This is how timed lyrics are made from plain lyrics (Stoller et al. 2019).

The trellis is the text's ``L`` symbols with blanks interleaved: ``2L + 1`` states ``_ c1 _ c2 _ … cL _``.
From one frame to the next a path stays in its state, advances by one, or skips the blank between two
*different* characters (two equal characters in a row need a blank between them, or CTC would merge
them). A path starts in state 0 or 1 and ends in state ``2L - 1`` or ``2L``. So the text needs at least
``L + (number of doubled characters)`` frames.

Words and lines (:func:`align_lyrics`):

- The text aligned is every line's words (split on whitespace, as the user wrote them) normalised one
  by one with :func:`~songalign.transcribe.symbols.normalise_text` and joined by single spaces; this
  equals ``normalise_text(" ".join(lines))``.
- A word starts at the first frame of its first character and ends after the last frame of its last
  character: ``start = first_frame * emission_seconds + offset``, ``end = (last_frame + 1) *
  emission_seconds + offset`` (seconds). Emission ``k`` pools the 16 ms input frames centred at
  ``0.032·k`` and ``0.032·k + 0.016`` s, so a start is the centre of its first input frame, up to 16 ms
  before the centre of the pair that heard it.
- Every word the user wrote is kept, with its original text, so that the words match the lyrics file
  one to one (as JamendoLyrics' ``words.txt`` does). A word that normalises to nothing (``"—"``,
  ``"&"``, a word in a script the transcriber does not write) has no frames: it gets a zero-length time
  at the end of the word before it (at the start of the next word when it comes first).
- Every line is kept in its place: it spans its words. A line that normalises to nothing gets a
  zero-length time at the end of the line before it (at the start of the next line when it comes
  first). So pass lyric lines, not the blank lines between paragraphs, if a writer's output is to
  hold lyric lines only.

(These zero-length times keep every word a corpus record for the folder reader; ``transcribe align`` uses
:func:`songalign.transcribe.trust.align_scored` instead, which leaves such words and lines untimed and says
how far to trust the rest.)

The words and lines of :class:`AlignedLyrics` are the corpus records, written as timed-lyrics files
by :mod:`songalign.corpus.lyrics_files`: JamendoLyrics' annotation CSVs
(:func:`~songalign.corpus.lyrics_files.write_jamendo_words_csv`,
:func:`~songalign.corpus.lyrics_files.write_jamendo_lines_csv`) and ``.lrc``
(:func:`~songalign.corpus.lyrics_files.write_lrc`).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np

from songalign.corpus.aligners import AlignedLyrics
from songalign.corpus.records import Line, Seconds, Word
from songalign.errors import SongalignError
from songalign.transcribe.symbols import BLANK_INDEX, EMISSION_SECONDS, SYMBOLS, encode, normalise_text

BLANK_FRAME = -1
"""What :func:`forced_align` writes for a frame spent on a blank."""

_STAY, _ADVANCE, _SKIP = 0, 1, 2  # how a state was entered, as stored in the backpointers


@dataclass
class Alignment:
    """The best CTC path of a token sequence through emissions.

    ``frame_tokens`` (shape ``(T,)``, int64): for each emission frame the index (into the token list)
    of the token it is spent on, or :data:`BLANK_FRAME`. ``first_frames`` and ``last_frames`` (shape
    ``(L,)``, int64): the first and last frame of each token (every token gets at least one frame).
    ``log_likelihood``: the path's summed log-probability (natural log).
    """

    frame_tokens: np.ndarray
    first_frames: np.ndarray
    last_frames: np.ndarray
    log_likelihood: float


def as_log_probs(log_probs: Any) -> np.ndarray:
    """CTC emissions as every aligner here takes them: a float64 array of shape ``(T, V)`` (frames, symbols).

    ``log_probs``: a numpy array, a nested sequence or a torch tensor (on any device, with or without grad)
    of natural-log probabilities. ``-inf`` (a symbol the model rules out) is kept. Raises
    :class:`SongalignError` in one sentence for another number of dimensions, a NaN or a ``+inf``.
    """
    if hasattr(log_probs, "detach"):  # a torch tensor, possibly on a GPU or requiring grad
        log_probs = log_probs.detach().cpu().numpy()
    array = np.asarray(log_probs, dtype=np.float64)
    if array.ndim != 2:
        raise SongalignError(
            f"log_probs has shape {array.shape}; forced alignment needs CTC log-probabilities of shape (frames, symbols)"
        )
    if np.isnan(array).any() or np.isposinf(array).any():
        raise SongalignError(
            "log_probs holds NaN or +inf values; check the transcriber's output (log-probabilities) before aligning"
        )
    return array


def frames_needed(tokens: Sequence[int]) -> int:
    """The fewest emission frames a CTC path of ``tokens`` takes: one per token plus a blank between repeats."""
    repeats = sum(1 for a, b in zip(tokens, tokens[1:], strict=False) if a == b)
    return len(tokens) + repeats


def viterbi_align(log_probs: Any, tokens: Sequence[int]) -> Alignment:
    """The most probable CTC path of ``tokens`` through ``log_probs`` (Viterbi over the 2L+1 trellis).

    ``log_probs``: CTC log-probabilities, shape ``(T, V)``, blank at index 0 (numpy or torch).
    ``tokens``: symbol indices (no blanks), e.g. from :func:`~songalign.transcribe.symbols.encode`.
    Time is O(T·L) with one numpy pass over the states per frame; memory is one int8 backpointer per
    frame and state (7,500 frames × 3,000 states ≈ 22 MB). Ties go to staying, then to advancing.

    Raises :class:`SongalignError` when ``T`` is below :func:`frames_needed`, when a token is not a
    symbol of ``log_probs`` (or is the blank), or when every path has probability zero.
    """
    emissions = as_log_probs(log_probs)
    frames, symbols = emissions.shape
    token_array = np.asarray(list(tokens), dtype=np.int64)
    if token_array.size and (token_array.min() < 0 or token_array.max() >= symbols):
        raise SongalignError(
            f"the tokens hold indices outside 0..{symbols - 1}; encode the text with the transcriber's symbols"
        )
    if (token_array == BLANK_INDEX).any():
        raise SongalignError("the tokens hold the CTC blank (index 0); align the text's characters only")
    needed = frames_needed(token_array.tolist())
    if frames < needed:
        raise SongalignError(
            f"the emissions have {frames} frames but the text needs at least {needed} "
            f"({token_array.size} characters and {needed - token_array.size} blanks between doubled letters); "
            "align a longer stretch of audio or less text"
        )
    if token_array.size == 0:
        return Alignment(
            np.full(frames, BLANK_FRAME, dtype=np.int64),
            np.zeros(0, dtype=np.int64),
            np.zeros(0, dtype=np.int64),
            float(emissions[:, BLANK_INDEX].sum()),
        )

    states = 2 * token_array.size + 1
    labels = np.full(states, BLANK_INDEX, dtype=np.int64)
    labels[1::2] = token_array
    # A character state may be entered from two states back (skipping the blank) unless it repeats the character.
    can_skip = np.zeros(states, dtype=bool)
    can_skip[3::2] = token_array[1:] != token_array[:-1]

    score = np.full(states, -np.inf)
    score[:2] = emissions[0, labels[:2]]
    backpointers = np.zeros((frames, states), dtype=np.int8)
    advanced = np.empty(states)
    skipped = np.empty(states)
    for t in range(1, frames):
        advanced[0] = -np.inf
        advanced[1:] = score[:-1]
        skipped[:2] = -np.inf
        np.copyto(skipped[2:], score[:-2])
        skipped[~can_skip] = -np.inf
        take_advance = advanced > score
        best = np.where(take_advance, advanced, score)
        take_skip = skipped > best
        best = np.where(take_skip, skipped, best)
        choice = backpointers[t]
        choice[take_advance] = _ADVANCE
        choice[take_skip] = _SKIP
        score = best + emissions[t, labels]

    state = states - 1 if score[states - 1] >= score[states - 2] else states - 2
    log_likelihood = float(score[state])
    if not math.isfinite(log_likelihood):
        raise SongalignError(
            "no CTC path of the text has a non-zero probability under these emissions; "
            "check that the emissions are log-probabilities of the same symbols as the text"
        )
    path = np.empty(frames, dtype=np.int64)
    for t in range(frames - 1, -1, -1):
        path[t] = state
        state -= int(backpointers[t, state])
    frame_tokens = np.where(path % 2 == 1, (path - 1) // 2, BLANK_FRAME)
    first_frames, last_frames = token_spans(frame_tokens, token_array.size)
    return Alignment(frame_tokens, first_frames, last_frames, log_likelihood)


def forced_align(log_probs: Any, tokens: Sequence[int]) -> np.ndarray:
    """For each emission frame, the index of the token it is spent on, or -1 for a blank; shape ``(T,)``.

    See :func:`viterbi_align` for the inputs, the errors and the path's score.
    """
    return viterbi_align(log_probs, tokens).frame_tokens


def token_spans(frame_tokens: np.ndarray, n_tokens: int) -> tuple[np.ndarray, np.ndarray]:
    """First and last frame of each of ``n_tokens`` tokens in a ``(T,)`` frame-to-token map (-1: blank).

    Returns two int64 arrays of shape ``(n_tokens,)``; a token with no frame gets -1 in both.
    """
    frame_tokens = np.asarray(frame_tokens)
    first = np.full(n_tokens, -1, dtype=np.int64)
    last = np.full(n_tokens, -1, dtype=np.int64)
    frames = np.flatnonzero(frame_tokens >= 0)
    owners = frame_tokens[frames]
    # Going backwards, the earliest frame of each token is written last; going forwards, the latest.
    first[owners[::-1]] = frames[::-1]
    last[owners] = frames
    return first, last


def lyric_text(line_words: Sequence[Sequence[str]]) -> tuple[str, list[tuple[int, int] | None]]:
    """The text aligned for lines of written words, and each word's characters in it.

    Returns ``(text, spans)``: ``text`` is every word normalised (:func:`normalise_text`) and joined by single
    spaces, ``spans`` one ``(first, last)`` character index pair per written word, in order, or None for a word
    that normalises to nothing. Raises :class:`SongalignError` when no word holds a character to align.
    """
    pieces: list[str] = []  # the normalised text of each aligned word
    spans: list[tuple[int, int] | None] = []
    cursor = 0
    for words in line_words:
        for word in words:
            piece = normalise_text(word)
            if not piece:
                spans.append(None)
                continue
            if pieces:
                cursor += 1  # the space before it
            pieces.append(piece)
            spans.append((cursor, cursor + len(piece) - 1))
            cursor += len(piece)
    if not pieces:
        raise SongalignError(
            "the lyrics hold no letters the transcriber writes (a-z and apostrophes after normalisation); "
            "give the song's lyric lines"
        )
    return " ".join(pieces), spans


class Spelling(Protocol):
    """How lyric words become the symbols a CTC model writes: :data:`LETTERS` (characters, the default) or
    :class:`songalign.transcribe.phonemes.PhonemeSpelling` (espeak-ng's phonemes in a language).

    ``symbols`` are the model's output classes (blank first); :meth:`spell` gives, for lines of written words,
    ``(tokens, spans)``: the symbol indices aligned and each written word's ``(first, last)`` token index in
    them (None for a word with nothing to align), raising :class:`SongalignError` when no word has any;
    :meth:`why_unplaced` says in a few words why a line or word got no tokens.
    """

    name: str
    symbols: tuple[str, ...]

    def spell(self, line_words: Sequence[Sequence[str]]) -> tuple[list[int], list[tuple[int, int] | None]]: ...

    def why_unplaced(self, text: str) -> str: ...


class LetterSpelling:
    """Lyrics spelt in :data:`~songalign.transcribe.symbols.SYMBOLS`: every word normalised and joined by
    spaces (:func:`lyric_text`), a character a token."""

    name = "characters"
    symbols = SYMBOLS

    def spell(self, line_words: Sequence[Sequence[str]]) -> tuple[list[int], list[tuple[int, int] | None]]:
        text, spans = lyric_text(line_words)
        return encode(text), spans

    def why_unplaced(self, text: str) -> str:
        if any(ch.isalpha() for ch in text):
            return "its letters are outside the aligner's alphabet (a-z)"
        return "it holds no letters"


LETTERS = LetterSpelling()
"""The character spelling every model that writes letters aligns with."""


def spelt(log_probs: Any, line_words: Sequence[Sequence[str]], spelling: Spelling):
    """``(emissions (T, V) float64, tokens, spans)`` of lines of written words in ``spelling``; one sentence
    when the emissions' ``V`` is not the number of the spelling's symbols (a phoneme model's emissions
    aligned as letters, or the reverse)."""
    emissions = as_log_probs(log_probs)
    if emissions.shape[1] != len(spelling.symbols):
        raise SongalignError(
            f"the emissions give {emissions.shape[1]} symbols per frame but lyrics spelt in {spelling.name} have "
            f"{len(spelling.symbols)}; align with the spelling of the model that made them"
        )
    tokens, spans = spelling.spell(line_words)
    return emissions, tokens, spans


def align_lyrics(
    log_probs: Any,
    lines: Sequence[str] | str,
    emission_seconds: Seconds = EMISSION_SECONDS,
    offset: Seconds = 0.0,
    duration: Seconds | None = None,
    spelling: Spelling = LETTERS,
) -> AlignedLyrics:
    """Word and line times of ``lines`` (lyric lines as written) from CTC ``log_probs`` of shape ``(T, V)``.

    A single string is split into its lines (``str.splitlines``), blank lines included.

    ``emission_seconds``: seconds per emission frame (0.032 for the lyrics branch); ``offset``: the time
    in seconds of frame 0 (the start of the clip in the song); ``duration``, when given, the audio's
    length in seconds: no time is later (the last emission frame can run a few ms past the end). See the module docstring for how words
    that normalise to nothing and empty lines are timed. ``spelling``: how words become the model's symbols
    (:data:`LETTERS`; a phoneme model's :class:`~songalign.transcribe.phonemes.PhonemeSpelling`). Raises
    :class:`SongalignError` when the lyrics hold no character the transcriber writes, or (see
    :func:`viterbi_align`) the audio is too short.
    """
    if not emission_seconds > 0:
        raise SongalignError(f"emission_seconds is {emission_seconds!r}; give the seconds per emission frame (> 0)")
    if isinstance(lines, str):
        lines = lines.splitlines()
    line_words = [line.split() for line in lines]
    emissions, tokens, spans = spelt(log_probs, line_words, spelling)
    alignment = viterbi_align(emissions, tokens)
    starts = alignment.first_frames * emission_seconds + offset
    ends = (alignment.last_frames + 1) * emission_seconds + offset
    if duration is not None:
        starts, ends = np.minimum(starts, duration), np.minimum(ends, duration)

    times: list[tuple[float, float] | None] = [
        None if span is None else (float(starts[span[0]]), float(ends[span[1]])) for span in spans
    ]
    times = _fill_untimed(times)
    words: list[Word] = []
    aligned_lines: list[Line] = []
    line_times: list[tuple[float, float] | None] = []
    position = 0
    for line_index, written in enumerate(line_words):
        own = []
        for word in written:
            start, end = times[position]
            words.append(Word(word, start, end, line_index))
            if spans[position] is not None:
                own.append((start, end))
            position += 1
        line_times.append((own[0][0], own[-1][1]) if own else None)
    for line, span in zip(lines, _fill_untimed(line_times), strict=True):
        aligned_lines.append(Line(" ".join(line.split()), span[0], span[1]))
    return AlignedLyrics(words, aligned_lines, alignment.log_likelihood)


def _fill_untimed(times: list[tuple[float, float] | None]) -> list[tuple[float, float]]:
    """``times`` with each None made zero-length at the previous end (at the next start when none came before)."""
    filled: list[tuple[float, float]] = []
    following = next((t for t in times if t is not None), None)
    previous_end: float | None = None
    for item in times:
        if item is None:
            at = previous_end if previous_end is not None else following[0]  # type: ignore[index]
            filled.append((at, at))
        else:
            filled.append(item)
            previous_end = item[1]
    return filled
