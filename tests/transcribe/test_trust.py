"""Confidence, lines that cannot be placed, and vocal activity (songalign.transcribe.trust and .activity)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from songalign.errors import SongalignError
from songalign.transcribe.activity import frame_db, gaps, smoothed, vocal_activity
from songalign.transcribe.symbols import SYMBOLS, encode
from songalign.transcribe.trust import (
    MAX_GAP_SECONDS,
    align_scored,
    confidence,
    path_log_probs,
    unplaced_summary,
)

V = len(SYMBOLS)


def rows(*frames: dict[str, float]) -> np.ndarray:
    """Log-probabilities ``(T, V)``: each frame's named symbols (``"_"`` the blank) get their probability, the
    rest of the mass is spread evenly over the other symbols."""
    out = np.empty((len(frames), V))
    for t, given in enumerate(frames):
        rest = (1.0 - sum(given.values())) / (V - len(given))
        out[t] = rest
        for symbol, p in given.items():
            out[t, SYMBOLS.index(symbol)] = p
    return np.log(out)


def test_confidence_is_the_geometric_mean_of_the_text_s_character_probabilities_on_the_path():
    # frame 0: "a" has p 0.7; frame 3: the model hears "c" (0.5) where the text puts "b" (0.2): the text's
    # character's own probability counts, whatever the model prefers
    log_probs = rows({"a": 0.7}, {"_": 0.9}, {" ": 0.8}, {"c": 0.5, "b": 0.2, "_": 0.05}, {"_": 0.9}, {"_": 0.9})
    lines = ["A!", "b — Привет", "!!! ..."]
    scored = align_scored(log_probs, lines, emission_seconds=0.1, min_confidence=0.6)

    first, second, third = scored.lines
    assert (first.start, first.end, first.confidence) == (0.0, pytest.approx(0.1), pytest.approx(0.7))
    assert not first.unsure
    assert (second.start, second.end) == (pytest.approx(0.3), pytest.approx(0.4))
    assert second.confidence == pytest.approx(0.2)  # p(b), not p(b) / p(c) = 0.4
    assert [w.confidence for w in second.words] == [pytest.approx(0.2), None, None]
    assert [(w.start, w.end) for w in second.words[1:]] == [(None, None), (None, None)]  # no invented times
    assert second.unsure and second.reason == "confidence 0.20 is under 0.6"
    assert (third.start, third.end, third.unsure) == (None, None, True)
    assert third.reason == "not placed: it holds no letters"
    assert unplaced_summary(scored) == [
        'line 2 "b — Привет": confidence 0.20 is under 0.6',
        'line 3 "!!! ...": not placed: it holds no letters',
    ]

    lenient = align_scored(log_probs, lines, emission_seconds=0.1, min_confidence=0.15)
    assert [line.unsure for line in lenient.lines] == [False, False, True]


def test_a_model_that_knows_nothing_scores_chance_and_a_sure_one_near_one():
    uniform = np.full((40, V), -math.log(V))  # every symbol equally likely at every frame
    scored = align_scored(uniform, ["hello there", "my friend"], emission_seconds=0.1)
    for line in scored.lines:
        assert line.confidence == pytest.approx(1 / V, rel=1e-9)  # 1/29: chance, whatever path the tie gives
        assert all(w.confidence == pytest.approx(1 / V, rel=1e-9) for w in line.words)
        assert line.unsure  # chance is under the default threshold
    sure = np.full((40, V), math.log(1e-4 / (V - 1)))
    sure[:, SYMBOLS.index("_")] = math.log(1 - 1e-4)
    for t, character in enumerate("hi yo"):
        sure[3 * t] = math.log(1e-4 / (V - 1))
        sure[3 * t, SYMBOLS.index(character)] = math.log(1 - 1e-4)
    line = align_scored(sure, ["Hi, yo!"], emission_seconds=0.1).lines[0]
    assert line.confidence == pytest.approx(1 - 1e-4) and not line.unsure


def test_a_line_in_another_script_is_reported_not_timed():
    log_probs = rows({"o": 0.9}, {"k": 0.9}, {"_": 0.9})
    scored = align_scored(log_probs, ["ok", "Привет мир"], emission_seconds=0.1)
    cyrillic = scored.lines[1]
    assert (cyrillic.start, cyrillic.end, cyrillic.confidence) == (None, None, None)
    assert cyrillic.reason == "not placed: its letters are outside the aligner's alphabet (a-z)"


def spelled(text: str, frames_per_symbol: int = 3) -> np.ndarray:
    """Peaky emissions of a model that clearly hears ``text``: each character for one frame (p 0.9), then blanks."""
    frames: list[dict[str, float]] = []
    for character in " ".join(text.split()):
        frames.append({character: 0.9})
        frames += [{"_": 0.9}] * (frames_per_symbol - 1)
    return rows(*frames)


def test_the_sung_lyrics_score_high_and_another_songs_low():
    heard = spelled("hello my friend sing along now")
    right = align_scored(heard, ["hello my friend", "sing along now"])
    wrong = align_scored(heard, ["broken winter sky", "cold and grey"])
    assert [line.confidence for line in right.lines] == [pytest.approx(0.9)] * 2  # each character heard at p 0.9
    # most characters of the wrong text sit where the model is sure of another symbol: p = 0.1 / 28
    assert max(line.confidence for line in wrong.lines) < 0.3
    assert all(line.unsure for line in wrong.lines) and not any(line.unsure for line in right.lines)


def test_inactive_frames_keep_characters_out_and_a_split_line_is_unsure():
    frames = 200
    log_probs = np.full((frames, V), -math.log(V))  # a model that hears nothing in particular
    active = np.zeros(frames, dtype=bool)
    active[10:14] = active[160:164] = True  # 4 frames of singing, 4.7 s apart at 32 ms
    scored = align_scored(log_probs, ["ab cd"], active=active)
    assert scored.lines[0].unsure and scored.lines[0].reason.startswith("stretches over 4.")
    assert float(scored.lines[0].reason.split()[2]) > MAX_GAP_SECONDS
    for word in scored.lines[0].words:
        first, last = round(word.start / 0.032), round(word.end / 0.032) - 1
        assert active[first] and active[last]  # the word's first and last character frames are sung

    fits = align_scored(log_probs, ["ab"], active=active, min_confidence=0.0)  # chance confidence let through
    assert not fits.lines[0].unsure
    assert 10 * 0.032 <= fits.lines[0].start < fits.lines[0].end <= 14 * 0.032


def test_frame_db_is_the_rms_level_in_dbfs():
    rate = 1000
    signal = np.concatenate([np.full(32, 0.5), np.full(32, -0.05), np.zeros(32)])
    level = frame_db(signal, rate, 4, frame_seconds=0.032)
    assert level[:2] == pytest.approx([20 * math.log10(0.5), 20 * math.log10(0.05)])
    assert level[2] == level[3] == pytest.approx(-200.0)  # silence, and past the end


def test_vocal_activity_follows_the_voice_not_its_leak_into_the_stem():
    rate = 16000
    seconds = np.arange(6 * rate) / rate
    rng = np.random.default_rng(0)
    backing = 0.1 * rng.standard_normal(seconds.size)
    voice = np.where((seconds >= 1) & (seconds < 2), 0.2, 0.0) * np.sin(2 * np.pi * 330 * seconds)
    leak = 0.005 * backing  # a separator's leak: 46 dB under the backing
    frames = round(6 / 0.032)
    active = vocal_activity(voice + leak, rate, frames, backing)
    sung = np.flatnonzero(active)
    assert 0.8 <= sung[0] * 0.032 <= 1.0 and 2.0 <= (sung[-1] + 1) * 0.032 <= 2.2  # the voice, held 0.16 s
    assert gaps(active) == [(0, int(sung[0])), (int(sung[-1]) + 1, frames)]
    assert not vocal_activity(leak, rate, frames, backing).any()
    assert not vocal_activity(np.zeros(seconds.size), rate, frames).any()


def test_smoothing_drops_a_lone_frame_and_widens_a_run_by_the_hold():
    marks = np.array([0, 1, 0, 0, 1, 1, 1, 0, 0, 0, 0, 0], bool)
    # 3-frame majority: the lone frame 1 goes, frames 4–6 stay; a 2-frame hold widens them to 2–8
    out = smoothed(marks, 0.02, smooth_seconds=0.06, hold_seconds=0.04)
    assert np.flatnonzero(out).tolist() == [2, 3, 4, 5, 6, 7, 8]


def test_gaps_are_the_runs_of_inactive_frames():
    assert gaps(np.array([False, True, True, False, False, True])) == [(0, 1), (3, 5)]
    assert gaps(np.ones(3, dtype=bool)) == []


def test_confidence_of_no_frames_is_none():
    assert confidence(np.array([])) is None
    assert confidence(np.log([0.5, 0.125])) == pytest.approx(0.25)
    assert encode("—") == []


def test_blank_frames_inside_a_word_do_not_count_and_ruled_out_symbols_are_allowed():
    # "all" in exactly the 4 frames it needs (a l _ l); every symbol not named has probability 0 (log -inf)
    named = [{"a": 0.9, "_": 0.1}, {"o": 0.6, "l": 0.3, "_": 0.1}, {"_": 0.9, "l": 0.1}, {"l": 0.8, "_": 0.2}]
    log_probs = np.full((4, V), -np.inf)
    for t, given in enumerate(named):
        for symbol, p in given.items():
            log_probs[t, SYMBOLS.index(symbol)] = math.log(p)
    word = align_scored(log_probs, ["all"], emission_seconds=0.1).lines[0].words[0]
    assert (word.start, word.end) == (0.0, pytest.approx(0.4))
    # p = 0.9, 0.3, 0.8 on the character frames: (0.216) ** (1 / 3) = 0.6; the blank frame (0.9) does not count
    assert word.confidence == pytest.approx(0.6)


def test_path_log_probs_are_minus_inf_not_nan_where_the_path_takes_a_ruled_out_symbol():
    with np.errstate(divide="ignore"):
        log_probs = np.log(np.array([[0.25, 0.75, 0.0], [0.0, 0.0, 0.0]]))  # frame 1 rules out every symbol
    taken = path_log_probs(log_probs, np.array([0, 2]))
    assert taken[0] == pytest.approx(math.log(0.25)) and taken[1] == -np.inf
    assert confidence(taken) == 0.0
    assert confidence(np.array([1e-12, 1e-12])) == 1.0  # a rounding error above 0 does not lift it over 1
    with pytest.raises(SongalignError, match="a frame's log-probability is NaN"):
        confidence(np.array([0.0, np.nan]))


@pytest.mark.parametrize("bad", [np.nan, np.inf])
def test_emissions_with_nan_or_plus_inf_are_refused(bad):
    log_probs = spelled("ok")
    log_probs[1, 3] = bad
    with pytest.raises(SongalignError, match=r"^log_probs holds NaN or \+inf values; check the transcriber's output"):
        align_scored(log_probs, ["ok"])
