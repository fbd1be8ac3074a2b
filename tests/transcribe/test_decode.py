"""CTC decoding (greedy and flashlight-text beam search with KenLM), onset peak picking, notes from onsets."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from songalign.errors import SongalignError
from songalign.transcribe.decode import (
    AUTHORS_ONSET_THRESHOLD,
    LM_WEIGHTS,
    NO_PITCH,
    BeamSearchDecoder,
    DecodeSettings,
    LexiconFreeBeamSearchDecoder,
    LmWeights,
    beam_search_decoder,
    greedy_decode,
    notes_from_emissions,
    notes_from_onsets,
    notes_from_pitch_changes,
    pick_onsets,
)
from songalign.transcribe.symbols import SYMBOLS

# log10 P: "sun" is far likelier than "son" after <s> (-0.2 against -1.5 - 0.3), "run" likeliest after "sun".
SUN_SON_RUN_ARPA = """\\data\\
ngram 1=6
ngram 2=4

\\1-grams:
-99\t<s>\t-0.3
-1.0\t</s>
-2.0\t<unk>
-0.5\tsun\t-0.2
-1.5\tson\t-0.2
-0.7\trun\t-0.2

\\2-grams:
-0.2\t<s> sun
-0.4\tsun run
-0.3\trun </s>
-0.6\tson </s>

\\end\\
"""

UNSURE_VOWEL = {"o": 0.5, "u": 0.45}  # acoustically "son", but barely


def emissions(frames: list[str | dict[str, float]]) -> np.ndarray:
    """CTC log-probabilities (T, V): each frame a symbol ("_" blank) at 0.99, or a {symbol: probability} dict."""
    probs = np.full((len(frames), len(SYMBOLS)), 1e-4)
    for t, frame in enumerate(frames):
        for symbol, p in ({frame: 0.99} if isinstance(frame, str) else frame).items():
            probs[t, SYMBOLS.index(symbol)] = p
    probs /= probs.sum(axis=1, keepdims=True)
    return np.log(probs).astype(np.float32)


@pytest.fixture
def arpa(tmp_path):
    path = tmp_path / "sun.arpa"
    path.write_text(SUN_SON_RUN_ARPA)
    return path


def test_greedy_collapses_repeats_before_dropping_blanks():
    assert greedy_decode(emissions(list("hhe_ll_llo"))) == "hello"
    assert greedy_decode(emissions(list("hhelllo"))) == "helo"  # no blank between the l's: one l
    assert greedy_decode(emissions(list("  a__  _b b "))) == "a b b"
    assert greedy_decode(torch.from_numpy(emissions(list("_o_k_")))) == "ok"
    assert greedy_decode(np.zeros((0, len(SYMBOLS)), dtype=np.float32)) == ""
    with pytest.raises(SongalignError, match="shape"):
        greedy_decode(np.zeros((4, 5)))


def test_the_word_lm_resolves_an_ambiguous_vowel_that_greedy_gets_wrong(arpa):
    unsure = emissions(["_", "s", "_", UNSURE_VOWEL, "_", "n", "n", "_"])  # no space after the last word
    assert greedy_decode(unsure) == "son"
    decoder = BeamSearchDecoder(arpa)
    assert set(decoder.words) == {"sun", "son", "run"}
    assert decoder.decode(unsure) == "sun"
    assert BeamSearchDecoder(arpa, lm_weight=0.0).decode(unsure) == "son"  # the LM, not the search, decides

    two_words = emissions(["s", UNSURE_VOWEL, "n", " ", "_", "r", "u", "_", "n", " "])
    assert greedy_decode(two_words) == "son run"
    assert decoder.decode(torch.from_numpy(two_words)) == "sun run"
    assert decoder.decode_batch([unsure, two_words[:4]]) == ["sun", "sun"]
    assert decoder.decode(np.zeros((0, len(SYMBOLS)), dtype=np.float32)) == ""


def test_the_lexicon_limits_what_the_beam_search_writes(arpa):
    clear_son = emissions(["s", "_", "o", "_", "n"])
    assert BeamSearchDecoder(arpa).decode(clear_son) == "son"  # clear acoustics outweigh the LM
    assert BeamSearchDecoder(arpa, lexicon_words=["sun", "run"]).decode(clear_son) == "sun"
    with pytest.raises(SongalignError, match="lexicon"):
        BeamSearchDecoder(arpa, lexicon_words=["Ünïcode words", ""])


def test_a_decoder_built_from_lyric_lines_prefers_the_lines_it_has_seen(tmp_path):
    lines = ["the sun will shine", "the sun is mine", "my son"]
    decoder = BeamSearchDecoder.from_lines(lines, tmp_path, order=3, beam_size=10)
    the_s_n = emissions(["t", "h", "e", " ", "s", UNSURE_VOWEL, "n", " ", "i", "s", " ", "m", "i", "n", "e"])
    assert greedy_decode(the_s_n) == "the son is mine"
    assert decoder.decode(the_s_n) == "the sun is mine"
    assert (tmp_path / "lm.arpa").is_file()


def test_the_lexicon_free_decoder_spells_with_a_character_lm(tmp_path):
    lines = ["the sun", "sun sun run", "run to the sun"] * 2
    decoder = LexiconFreeBeamSearchDecoder.from_lines(lines, tmp_path, order=4)
    unsure = emissions(["s", "_", UNSURE_VOWEL, "_", "n", "n", " ", "r", "u", "n"])
    assert decoder.decode(unsure) == "sun run"
    plain = LexiconFreeBeamSearchDecoder(tmp_path / "chars.arpa", lm_weight=0.0)
    assert plain.decode(unsure) == "son run"
    assert plain.decode(emissions(list("zebra"))) == "zebra"  # no lexicon: any spelling can come out


def test_peak_picking_keeps_window_maxima_above_the_threshold():
    # 16 ms frames, 50 ms window: a frame competes with its neighbours one frame (16 ms) either side.
    prob = np.array([0.0, 0.3, 0.9, 0.95, 0.2, 0.1, 0.45, 0.1, 0.3, 0.7, 0.2, 0.6, 0.6, 0.0])
    # 2 and 3 are 16 ms apart (< 25 ms): one onset, at the higher; 6 passes 0.4 only; 9 and 11 are 32 ms apart:
    # two onsets; 11 and 12 tie: the first.
    assert pick_onsets(prob) == pytest.approx([3 * 0.016, 6 * 0.016, 9 * 0.016, 11 * 0.016])
    assert pick_onsets(prob, threshold=AUTHORS_ONSET_THRESHOLD) == pytest.approx([0.048, 0.144, 0.176])
    assert pick_onsets(np.full(5, 0.39)).size == 0  # below threshold: no onset
    assert pick_onsets(prob, window_seconds=0.1) == pytest.approx([0.048, 0.144])  # ±50 ms: 9 beats 11
    assert pick_onsets(torch.tensor([0.0, 0.8, 0.0]), frame_seconds=0.01) == pytest.approx([0.01])
    with pytest.raises(SongalignError, match="one value per frame"):
        pick_onsets(np.zeros((3, 2)))


def test_notes_run_from_each_onset_to_the_last_pitched_frame_before_the_next():
    frames = [60, 60, 62, 62, 62, NO_PITCH, NO_PITCH, 64, NO_PITCH, 65, 67, NO_PITCH, NO_PITCH, NO_PITCH]
    probs = np.full((len(frames), NO_PITCH + 1), 0.001)
    probs[np.arange(len(frames)), frames] = 0.9
    frame = 0.016
    # onsets at frames 0, 7, 11 (11 has no pitched frame: no note) and one past the end (ignored).
    notes = notes_from_onsets([7 * frame, 0.0, 11 * frame, 0.0, 30 * frame], probs, frame_seconds=frame)
    assert [(n.start, n.end, n.pitch) for n in notes] == [
        pytest.approx((0.0, 5 * frame, 62.0)),  # median of 60 60 62 62 62; ends where pitch stops (frame 5)
        pytest.approx((7 * frame, 11 * frame, 65.0)),  # 64, 65, 67 (the no-pitch frame 8 inside is skipped)
    ]
    assert notes_from_onsets([0.0], probs[:, :], frame_seconds=frame)[0].end == pytest.approx(11 * frame)
    assert notes_from_onsets([0.0, 2 * frame], probs)[0].pitch == 60.0  # lower median of 60 60
    assert notes_from_onsets([], probs) == []
    with pytest.raises(SongalignError, match="129"):
        notes_from_onsets([0.0], np.zeros((4, 128)))


def posteriors(frames: list[int]) -> np.ndarray:
    """``(T, 129)`` pitch posteriors whose best class at frame ``t`` is ``frames[t]``."""
    probs = np.full((len(frames), NO_PITCH + 1), 0.001)
    probs[np.arange(len(frames)), frames] = 0.9
    return probs


def test_the_authors_notes_start_at_each_onset_and_each_change_of_pitch_class():
    frame = 0.016
    # one onset, 10 frames at MIDI 60 then 10 at 62: two notes (one note, of the lower median 60, from onsets alone)
    rising = posteriors([60] * 10 + [62] * 10)
    assert [(n.start, n.end, n.pitch) for n in notes_from_pitch_changes([0.0], rising)] == [
        pytest.approx((0.0, 10 * frame, 60.0)),
        pytest.approx((10 * frame, 20 * frame, 62.0)),
    ]
    assert [n.pitch for n in notes_from_onsets([0.0], rising)] == [60.0]

    # frames: no pitch, 60 x3, 62 x2, no pitch x2, 62 x4, no pitch; onsets inside the 60 and the second 62 run
    frames = [NO_PITCH, 60, 60, 60, 62, 62, NO_PITCH, NO_PITCH, 62, 62, 62, 62, NO_PITCH]
    onsets = [9 * frame, 2 * frame, 40 * frame]  # unsorted; the last is past the end (ignored)
    notes = notes_from_pitch_changes(onsets, posteriors(frames), frame_seconds=frame)
    # starts 0 1 2 4 6 8 9 12; the runs without pitch (0, 6-7, 12) give no note; a note ends where the next starts
    assert [(n.start, n.end, n.pitch) for n in notes] == [
        pytest.approx((1 * frame, 2 * frame, 60.0)),
        pytest.approx((2 * frame, 4 * frame, 60.0)),
        pytest.approx((4 * frame, 6 * frame, 62.0)),
        pytest.approx((8 * frame, 9 * frame, 62.0)),
        pytest.approx((9 * frame, 12 * frame, 62.0)),
    ]
    # onsets alone: 2..8 (median of 60 60 62 62 62 -> 62, to the last pitched frame 8) and 9..11
    assert [(n.start, n.pitch) for n in notes_from_onsets(onsets, posteriors(frames))] == [
        pytest.approx((2 * frame, 62.0)),
        pytest.approx((9 * frame, 62.0)),
    ]
    # as in the authors' code, the class before the first frame counts as 0: a leading MIDI 0 starts no note
    # unless an onset does
    assert [(n.start, n.pitch) for n in notes_from_pitch_changes([], posteriors([0, 0, 60]))] == [
        pytest.approx((2 * frame, 60.0))
    ]
    assert [n.pitch for n in notes_from_pitch_changes([0.0], posteriors([0, 0, 60]))] == [0.0, 60.0]
    assert notes_from_pitch_changes([], posteriors([NO_PITCH] * 4)) == []
    assert notes_from_pitch_changes([], np.zeros((0, NO_PITCH + 1))) == []
    with pytest.raises(SongalignError, match="129"):
        notes_from_pitch_changes([0.0], np.zeros((4, 128)))


def test_the_decode_settings_choose_the_note_rule():
    frame = 0.016
    onset_prob = np.zeros(20)
    onset_prob[0] = 0.9
    pitch = posteriors([60] * 10 + [62] * 10)
    assert DecodeSettings().note_rule == "onsets"
    assert [n.pitch for n in notes_from_emissions(onset_prob, pitch, frame, DecodeSettings())] == [60.0]
    authors = DecodeSettings(note_rule="pitch_changes")
    assert [n.pitch for n in notes_from_emissions(onset_prob, pitch, frame, authors)] == [60.0, 62.0]
    # the threshold still picks the onsets: none above 0.95, so only pitch changes start notes
    high = DecodeSettings(note_rule="pitch_changes", onset_threshold=0.95)
    assert [(n.start, n.pitch) for n in notes_from_emissions(onset_prob, pitch, frame, high)] == [
        pytest.approx((0.0, 60.0)),
        pytest.approx((10 * frame, 62.0)),
    ]
    assert notes_from_emissions(onset_prob, pitch, frame, DecodeSettings(onset_threshold=0.95)) == []


def test_the_authors_lm_weights_are_alpha_on_natural_log_scores_and_beta_per_word(arpa):
    # Their DeepSpeech scorer divides KenLM's log10 by log10(e) before α multiplies it; flashlight's lm_weight
    # multiplies the log10 score itself, so α = 0.75 becomes 0.75 · ln 10 here. β = 1.85 is added per word.
    assert LM_WEIGHTS["authors"] == LmWeights(lm_weight=pytest.approx(0.75 * math.log(10)), word_score=1.85)
    assert LM_WEIGHTS["songalign"] == LmWeights(lm_weight=2.0, word_score=0.0)
    clear = emissions([*"sun", " ", *"run"])
    decoder = beam_search_decoder(arpa, DecodeSettings(lm_weights="authors"))
    text, score = decoder.decode_scored(clear)
    assert text == "sun run"
    # the path's acoustic score (natural log), + 0.75 · ln P(sun | <s>) P(run | sun) P(</s> | run) + 1.85 · 2 words;
    # log10 of the three: -0.2, -0.4, -0.3. float32 emissions: 7 digits.
    acoustic = float(clear.max(axis=1).astype(np.float64).sum())
    expected = acoustic + 0.75 * math.log(10**-0.9) + 1.85 * 2
    assert score == pytest.approx(expected, abs=1e-5)
    assert abs(score - (acoustic + 0.75 * -0.9 + 1.85 * 2)) > 0.8  # α applied to log10 would be 0.88 off
    # the settings' own weights and explicit values
    default = beam_search_decoder(arpa, DecodeSettings())
    assert default.decode_scored(clear)[1] == pytest.approx(acoustic + 2.0 * -0.9, abs=1e-5)
    chosen = DecodeSettings(lm_weights="authors", word_score=0.5)
    assert chosen.weights() == LmWeights(lm_weight=pytest.approx(0.75 * math.log(10)), word_score=0.5)
    assert DecodeSettings(lm_weight=1.0).weights() == LmWeights(1.0, 0.0)


def test_a_command_s_lm_weights_replace_the_recipe_s_weights(tmp_path):
    import json

    from songalign.transcribe.decode import decode_settings

    card = {"recipe": {"decode": {"lm_order": 3, "lm_weight": 2.0, "word_score": 0.0, "beam_size": 10}}}
    (tmp_path / "card.json").write_text(json.dumps(card))  # as a model trained before the presets stored it
    assert decode_settings(tmp_path).weights() == LmWeights(2.0, 0.0)
    authors = decode_settings(tmp_path, lm_weights="authors")
    assert authors.weights() == LM_WEIGHTS["authors"] and authors.beam_size == 10
    assert decode_settings(tmp_path, lm_weights="authors", lm_weight=1.5).weights() == LmWeights(1.5, 1.85)
    with pytest.raises(SongalignError, match="--lm-weights"):
        decode_settings(tmp_path, lm_weights="deepspeech")
