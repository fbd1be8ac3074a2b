"""Framewise targets and clips: pitch and onset frames from notes, CTC targets of whole words only,
cut words silenced, and padded batches."""

from __future__ import annotations

import dataclasses

import numpy as np
import torch

from songalign.corpus.records import Note, Song, Word
from songalign.transcribe.data import (
    FRAME_SECONDS,
    SILENCE,
    clip_windows,
    collate,
    cut_clip,
    cut_clips,
    song_targets,
    sung_share,
)
from songalign.transcribe.symbols import SPACE_INDEX, encode


def song() -> Song:
    words = [Word("Hey", 0.10, 0.50, 0), Word("you!", 0.60, 1.00, 0), Word("there", 1.50, 2.00, 0)]
    notes = [Note(0.10, 0.50, 60.4, 0), Note(0.60, 1.00, 64.0, 1), Note(1.50, 2.00, 67.0, 2)]
    return Song("s", words=words, notes=notes)


def test_pitch_and_onset_targets_follow_the_notes():
    targets = song_targets(song(), torch.zeros(2, 80, 150))
    assert targets.text == "hey you there"
    assert targets.pitch[round(0.3 / FRAME_SECONDS)] == 60  # 60.4 rounds to 60
    assert targets.pitch[round(0.8 / FRAME_SECONDS)] == 64 and targets.pitch[round(0.55 / FRAME_SECONDS)] == 128
    assert np.flatnonzero(targets.onset).tolist() == [round(0.1 / 0.016), round(0.6 / 0.016), round(1.5 / 0.016)]
    assert targets.words[1] == (37, 63, encode("you"))  # floor(0.6/0.016), ceil(1.0/0.016)


def test_a_clip_keeps_whole_words_and_silences_the_one_it_cuts():
    targets = song_targets(song(), torch.zeros(2, 80, 150))
    clip = cut_clip(targets, 0, 110)  # 1.76 s: "there" (1.5-2.0 s) is cut
    assert clip.tokens == encode("hey") + [SPACE_INDEX] + encode("you")
    cut = slice(int(1.5 / FRAME_SECONDS), 110)
    assert (clip.mel[..., cut] == SILENCE).all() and (clip.mel[..., :90] == 0).all()
    assert (clip.pitch[cut] == 128).all() and clip.onset[cut].sum() == 0
    later = cut_clip(targets, 50, 100)  # from 0.8 s: "you" (frames 37-63) is cut at its start
    assert later.tokens == encode("there")
    assert (later.mel[..., : 63 - 50] == SILENCE).all() and (later.mel[..., 63 - 50 :] == 0).all()


def test_a_window_s_sung_share_counts_the_words_wholly_in_it_or_else_the_notes():
    targets = song_targets(song(), torch.zeros(2, 80, 150))  # words at frames 6-32, 37-63 and 93-125
    assert sung_share(targets, 0, 110) == (26 + 26) / 110  # "there" is cut (silenced): not sung
    assert sung_share(targets, 50, 100) == 32 / 100  # "you" is cut at its start
    assert sung_share(targets, 64, 20) == 0.0
    unworded = dataclasses.replace(targets, words=[])  # a pitch-only model's song: its notes count
    assert sung_share(unworded, 0, 50) == (25 + 12) / 50  # note frames 7-31 and 38-49 (centres in the notes)


def test_clips_cover_the_song_from_an_offset_and_drop_short_ones():
    targets = song_targets(song(), torch.zeros(2, 80, 200))
    clips = cut_clips(targets, 100, offset=30)
    assert [c.mel.shape[-1] for c in clips] == [100, 70]  # frames 0-30 are under a second: left out
    assert clip_windows(200, 100, offset=30) == [(30, 100), (130, 70)]
    batch = collate(clips)
    assert batch.mel.shape == (2, 2, 80, 100) and batch.lengths.tolist() == [100, 70]
    assert (batch.mel[1, ..., 70:] == SILENCE).all() and (batch.pitch[1, 70:] == 128).all()
    assert batch.token_lengths.sum() == len(batch.tokens)


def test_clip_windows_start_at_the_offset_modulo_the_clip_and_end_at_the_song_s_end():
    # 1 s is 62.5 frames: a window of 62 frames is left out, one of 63 kept
    assert clip_windows(700, 250, offset=0) == [(0, 250), (250, 250), (500, 200)]
    assert clip_windows(700, 250, offset=563) == [(0, 63), (63, 250), (313, 250), (563, 137)]  # 563 % 250 = 63
    assert clip_windows(562, 250, offset=0) == [(0, 250), (250, 250)]  # the last 62 frames: under a second
    assert clip_windows(40, 250) == []
