"""CTC forced alignment, on emissions built from known word times, and its lyrics written and read back."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch

from songalign.corpus.lyrics_files import read_lrc, write_lrc
from songalign.corpus.records import Line
from songalign.errors import SongalignError
from songalign.transcribe.align import (
    BLANK_FRAME,
    align_lyrics,
    forced_align,
    frames_needed,
    token_spans,
    viterbi_align,
)
from songalign.transcribe.metrics import alignment_scores, even_spread_starts
from songalign.transcribe.symbols import BLANK_INDEX, SPACE_INDEX, SYMBOLS, encode, normalise_text

V = len(SYMBOLS)
SECONDS = 0.032


def log_softmax(logits: np.ndarray) -> np.ndarray:
    return (logits - np.logaddexp.reduce(logits, axis=1, keepdims=True)).astype(np.float32)


def sung_emissions(words: list[str], word_start_frames: list[int], total_frames: int, seed: int = 0):
    """Log-probs (T, V) in which each word's characters peak for 2 frames each, one blank frame after each
    (so doubled letters stay apart), starting at the given frames; a space peaks for 2 frames halfway to the
    next word; all else is blank. Noise everywhere. Returns (log_probs, [(first, last) frame per word])."""
    rng = np.random.default_rng(seed)
    logits = rng.normal(0.0, 0.7, size=(total_frames, V))
    target = np.full(total_frames, BLANK_INDEX)
    spans = []
    for index, (word, start) in enumerate(zip(words, word_start_frames, strict=True)):
        frame = start
        for symbol in encode(word):
            target[frame : frame + 2] = symbol
            frame += 3
        spans.append((start, frame - 2))  # the last character's last frame
        if index + 1 < len(words):
            middle = (frame + word_start_frames[index + 1]) // 2
            target[middle : middle + 2] = SPACE_INDEX
    logits[np.arange(total_frames), target] += 5.0
    return log_softmax(logits), spans


WORDS = ["all", "is", "all", "we", "call", "all"]  # doubled letters and a repeated word
STARTS = [10, 40, 60, 95, 130, 200]


def test_viterbi_recovers_known_word_times_within_one_frame():
    log_probs, spans = sung_emissions(WORDS, STARTS, 260)
    lyrics = align_lyrics(log_probs, ["All, is all", "we call — all!"], emission_seconds=SECONDS, offset=1.5)
    assert [w.text for w in lyrics.words] == ["All,", "is", "all", "we", "call", "—", "all!"]
    assert [w.line for w in lyrics.words] == [0, 0, 0, 1, 1, 1, 1]
    timed = [w for w in lyrics.words if w.text != "—"]
    for word, (first, last) in zip(timed, spans, strict=True):
        assert abs(word.start - (1.5 + first * SECONDS)) <= SECONDS + 1e-9
        assert abs(word.end - (1.5 + (last + 1) * SECONDS)) <= SECONDS + 1e-9
    # The dash normalises to nothing: zero length at the end of "call".
    dash = lyrics.words[5]
    assert dash.start == dash.end == lyrics.words[4].end
    assert lyrics.lines[0] == Line("All, is all", lyrics.words[0].start, lyrics.words[2].end)
    assert lyrics.lines[1].start == lyrics.words[3].start and lyrics.lines[1].end == lyrics.words[6].end
    assert math.isfinite(lyrics.log_likelihood) and lyrics.log_likelihood < 0


def test_frame_map_collapses_to_the_text_and_accepts_torch_tensors():
    log_probs, _ = sung_emissions(WORDS, STARTS, 260)
    tokens = encode(" ".join(WORDS))
    frame_tokens = forced_align(torch.from_numpy(log_probs).requires_grad_(), tokens)
    assert frame_tokens.shape == (260,)
    owned = frame_tokens[frame_tokens != BLANK_FRAME]
    assert np.all(np.diff(owned) >= 0) and np.all(np.diff(owned) <= 1)  # monotone, no token left out
    collapsed = [k for k, _ in itertools.groupby(owned.tolist())]
    assert collapsed == list(range(len(tokens)))
    first, last = token_spans(frame_tokens, len(tokens))
    np.testing.assert_array_equal(first, viterbi_align(log_probs, tokens).first_frames)
    assert np.all(first <= last)


def brute_force_best(log_probs: np.ndarray, tokens: list[int]) -> tuple[float, tuple[int, ...]]:
    """The best path (symbol per frame) whose CTC collapse is ``tokens``, by trying every path."""
    best = (-math.inf, ())
    for path in itertools.product(range(log_probs.shape[1]), repeat=log_probs.shape[0]):
        collapsed = [s for s, _ in itertools.groupby(path) if s != BLANK_INDEX]
        if collapsed == tokens:
            score = float(sum(log_probs[t, s] for t, s in enumerate(path)))
            best = max(best, (score, path))
    return best


@pytest.mark.parametrize(("tokens", "seed"), [([1, 1, 2], 0), ([2, 1, 2], 1), ([3, 3], 2), ([1, 2, 3], 3)])
def test_viterbi_matches_exhaustive_search(tokens, seed):
    rng = np.random.default_rng(seed)
    log_probs = log_softmax(rng.normal(0.0, 2.0, size=(7, 4)))
    score, path = brute_force_best(log_probs, tokens)
    alignment = viterbi_align(log_probs, tokens)
    assert alignment.log_likelihood == pytest.approx(score, abs=1e-5)
    # The path's symbols: the token's symbol where a token is held, else the blank.
    symbols = [tokens[k] if k != BLANK_FRAME else BLANK_INDEX for k in alignment.frame_tokens]
    assert tuple(symbols) == path


def test_too_few_frames_says_how_many_are_needed():
    tokens = encode("all")  # a, l, l: the two l's need a blank between them
    assert frames_needed(tokens) == 4
    with pytest.raises(SongalignError, match="3 frames but the text needs at least 4"):
        viterbi_align(np.zeros((3, V), dtype=np.float32), tokens)
    # With exactly enough frames the path is forced: a, l, blank, l.
    frame_tokens = forced_align(log_softmax(np.zeros((4, V))), tokens)
    assert frame_tokens.tolist() == [0, 1, BLANK_FRAME, 2]
    with pytest.raises(SongalignError, match="at least 10"):
        align_lyrics(np.zeros((8, V), dtype=np.float32), ["all ball"])


def test_different_characters_may_skip_the_blank_between_them():
    assert forced_align(log_softmax(np.zeros((2, V))), encode("ab")).tolist() == [0, 1]


def test_bad_inputs_raise_one_sentence_errors():
    with pytest.raises(SongalignError, match="shape"):
        viterbi_align(np.zeros(10), [2])
    with pytest.raises(SongalignError, match="outside"):
        viterbi_align(np.zeros((5, V)), [V])
    with pytest.raises(SongalignError, match="blank"):
        viterbi_align(np.zeros((5, V)), [2, BLANK_INDEX])
    impossible = np.full((5, V), -np.inf)
    impossible[:, BLANK_INDEX] = 0.0
    with pytest.raises(SongalignError, match="non-zero probability"):
        viterbi_align(impossible, [2])
    with pytest.raises(SongalignError, match="no letters"):
        align_lyrics(np.zeros((5, V)), ["— ¿?", ""])


def test_empty_words_and_lines_keep_their_place_with_zero_length():
    log_probs, spans = sung_emissions(["la", "la", "so"], [20, 50, 90], 130)
    lyrics = align_lyrics(log_probs, ["♪ la", "", "la —", "...", "so"], emission_seconds=SECONDS)
    texts = [(w.text, w.line) for w in lyrics.words]
    assert texts == [("♪", 0), ("la", 0), ("la", 2), ("—", 2), ("...", 3), ("so", 4)]
    first_la, second_la = lyrics.words[1], lyrics.words[2]
    assert lyrics.words[0].start == lyrics.words[0].end == first_la.start  # nothing before: the next start
    for untimed in lyrics.words[3:5]:
        assert untimed.start == untimed.end == second_la.end
    assert [line.text for line in lyrics.lines] == ["♪ la", "", "la —", "...", "so"]
    empty, dots = lyrics.lines[1], lyrics.lines[3]
    assert empty.start == empty.end == lyrics.lines[0].end
    assert dots.start == dots.end == lyrics.lines[2].end
    assert lyrics.lines[2].end == second_la.end  # the dash adds no time to its line
    leading = align_lyrics(log_probs, "\nla la so", emission_seconds=SECONDS)
    assert leading.lines[0].start == leading.lines[0].end == leading.lines[1].start


def test_a_model_that_knows_nothing_spreads_the_words_about_evenly():
    # Equal log-probs up to noise: every path has the same constant part, so the noise alone decides.
    # (Exactly equal log-probs tie every path; ties go to staying, which packs the text at the start.)
    rng = np.random.default_rng(7)
    words = [normalise_text(w) for w in "we were young and the night was ours to keep".split()] * 12
    frames = 3000
    log_probs = log_softmax(rng.normal(0.0, 1e-3, size=(frames, V)))
    lyrics = align_lyrics(log_probs, [" ".join(words)], emission_seconds=SECONDS)
    starts = np.array([w.start for w in lyrics.words])
    assert np.all(np.diff(starts) > 0)
    duration = frames * SECONDS
    even = even_spread_starts(len(words), 0.0, duration)
    deviation = np.abs(starts - even)
    assert deviation.mean() < 0.1 * duration  # about even, loosely
    # Scored against words sung at other times than the even spread, it is no better than the baseline.
    truth = np.sort(rng.uniform(0.0, duration, size=len(words)))
    ours, baseline = alignment_scores([truth], [starts]), alignment_scores([truth], [even])
    assert 0.5 * baseline.aae < ours.aae < 2.0 * baseline.aae
    assert ours.pco < 0.5 and ours.aae > 1.0


def test_exactly_uniform_emissions_tie_and_pack_the_text_early():
    frame_tokens = forced_align(log_softmax(np.zeros((10, V))), encode("ab"))
    assert frame_tokens.tolist() == [0, 1] + [BLANK_FRAME] * 8


def test_aligned_lyrics_write_and_read_back(tmp_path):
    log_probs, _ = sung_emissions(WORDS, STARTS, 260)
    lyrics = align_lyrics(log_probs, ["all is all", "we call all"], emission_seconds=SECONDS)
    path = write_lrc(tmp_path / "a.lrc", lyrics.lines)
    read_lines, _ = read_lrc(path).lines_and_words()
    assert [line.text for line in read_lines] == ["all is all", "we call all"]
    assert read_lines[1].start == pytest.approx(lyrics.lines[1].start, abs=0.005)


def test_no_aligned_time_is_later_than_the_audio():
    log_probs = np.full((10, len(SYMBOLS)), -10.0, dtype=np.float32)
    log_probs[:, 0] = 0.0  # blank everywhere but where the letters are sung
    for frame, symbol in zip((0, 2, 4, 6, 9), "ab cd", strict=True):
        log_probs[frame, SYMBOLS.index(symbol)], log_probs[frame, 0] = 0.0, -10.0
    unclamped = align_lyrics(log_probs, ["ab cd"], emission_seconds=0.032)
    assert unclamped.lines[0].end == pytest.approx(0.32)  # the last frame ends past a 0.3 s recording
    aligned = align_lyrics(log_probs, ["ab cd"], emission_seconds=0.032, duration=0.3)
    assert aligned.lines[0].end == pytest.approx(0.3) and max(w.end for w in aligned.words) <= 0.3
    assert aligned.words[0].start == unclamped.words[0].start
