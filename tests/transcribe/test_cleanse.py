"""DALI cleansing: the framewise pitch error, the best global shift, the per-song report, and the
pitch references (the transcriber's posteriors; basic-pitch's ONNX model when it is installed)."""

from __future__ import annotations

import csv
import math
from dataclasses import replace

import numpy as np
import pytest
import torch

from songalign.corpus.readers import read_songs
from songalign.corpus.records import Note, Song
from songalign.corpus.synth import synthesize_corpus
from songalign.errors import BadInputError, MissingDependencyError, SkipReport, SongalignError
from songalign.transcribe.cleanse import (
    AUTHORS_CODE_SHIFTS,
    CLEANSE_COLUMNS,
    BasicPitchMissingError,
    annotated_pitch_frames,
    basic_pitch_model_path,
    basic_pitch_reference,
    basic_pitch_song_reference,
    best_pitch_shift,
    cleanse_songs,
    reference_from_posteriors,
)

NAN = math.nan


def read_report(path) -> list[dict[str, str]]:
    with open(path, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        assert tuple(reader.fieldnames) == CLEANSE_COLUMNS
        return list(reader)


def test_annotated_frames_take_the_note_at_each_frame_centre():
    # centres 0, 16, 32, 48, 64, 80, 96 ms; the second note starts inside the first and wins there
    notes = [Note(0.0, 0.05, 60.0), Note(0.04, 0.07, 62.4), Note(0.09, 0.2, NAN)]
    np.testing.assert_array_equal(annotated_pitch_frames(notes, 7), [60.0, 60.0, 60.0, 62.4, 62.4, NAN, NAN])
    np.testing.assert_array_equal(annotated_pitch_frames(notes, 3, frame_seconds=0.03), [60.0, 60.0, 62.4])


def test_the_framewise_error_counts_all_frames_as_the_paper_s_eq_10_does():
    # 100 frames, 30 annotated (MIDI 60); the reference agrees on 12, calls 9 unpitched and hears 9 at 67.
    annotated = np.full(100, NAN)
    annotated[:30] = 60.0
    reference = np.full(100, NAN)
    reference[:12], reference[21:30] = 60.0, 67.0
    # all frames: 18 wrong of 100 (the 70 frames both sides call unpitched are right); the voiced-only
    # measure: 18 wrong of the 30 annotated frames. +7 would fix 9 and break 12: shift 0 stays best.
    assert best_pitch_shift(annotated, reference) == (0, pytest.approx(0.18), pytest.approx(0.18))
    assert best_pitch_shift(annotated, reference, frame_error="voiced") == (0, 0.6, 0.6)
    # a frame the reference hears pitched where the annotation is silent is wrong too, in the all-frames measure only
    reference[50] = 60.0
    assert best_pitch_shift(annotated, reference)[2] == pytest.approx(0.19)
    assert best_pitch_shift(annotated, reference, frame_error="voiced")[2] == 0.6
    with pytest.raises(ValueError, match="frame_error must be 'all' or 'voiced'"):
        best_pitch_shift(annotated, reference, frame_error="pitched")


def test_best_shift_and_errors_by_hand():
    annotated = [60.0, 60.0, 62.0, 62.0, NAN, 64.0]
    reference = [72.0, 72.0, 74.0, NAN, 50.0, 75.0]
    # voiced frames 0,1,2,3,5. +12: 72 72 74 right, frame 3 unpitched in the reference, 76 != 75 -> 2/5.
    # 0: all 5 wrong. +11: only 75 == 75 right -> 4/5.
    assert best_pitch_shift(annotated, reference, frame_error="voiced") == (12, 1.0, 0.4)
    assert best_pitch_shift(annotated, reference, shifts=[0, 11], frame_error="voiced") == (11, 1.0, 0.8)
    # all 6 frames: frame 4 (silent in the annotation, 50 in the reference) is wrong whatever the shift
    assert best_pitch_shift(annotated, reference) == (12, 1.0, 0.5)
    assert best_pitch_shift(annotated, reference, shifts=[0, 11]) == (11, 1.0, pytest.approx(5 / 6))
    # the arguments are not interchangeable: the reference's voiced frames differ
    assert best_pitch_shift(reference, annotated)[0] == -12


def test_rounding_is_half_up_and_a_half_semitone_reference_matches_both_neighbours():
    # 60.4 -> 60 right; 60.5 -> 61 right (half up, not to even); 60.6 -> 61 != 60 wrong
    third = pytest.approx(1 / 3)
    assert best_pitch_shift([60.4, 60.5, 60.6], [60.0, 61.0, 60.0], shifts=[0]) == (0, third, third)
    assert best_pitch_shift([60.0, 61.0], [60.5, 60.5], shifts=[0])[2] == 0.0


def test_ties_prefer_the_smallest_shift_then_the_lower():
    assert best_pitch_shift([60.0, 60.0], [NAN, NAN]) == (0, 1.0, 1.0)
    assert best_pitch_shift([60.0, 61.0], [48.0, 73.0], shifts=[-12, 12]) == (-12, 1.0, 0.5)
    # nothing annotated: every frame the reference hears is wrong, whatever the shift; the voiced-only
    # measure is undefined
    assert best_pitch_shift([NAN, NAN, NAN], [60.0, 61.0, NAN]) == (0, pytest.approx(2 / 3), pytest.approx(2 / 3))
    shift, before, after = best_pitch_shift([NAN, NAN], [60.0, 61.0], frame_error="voiced")
    assert shift == 0 and math.isnan(before) and math.isnan(after)
    shift, before, after = best_pitch_shift([], [])
    assert shift == 0 and math.isnan(before) and math.isnan(after)
    with pytest.raises(ValueError, match="same frames"):
        best_pitch_shift([60.0], [60.0, 61.0])


def sung_song(song_id: str, pitches: list[float], shift: float = 0.0) -> Song:
    """Notes of 0.2 s, one after another from 0.1 s, annotated ``shift`` semitones off."""
    notes = [Note(0.1 + 0.2 * i, 0.3 + 0.2 * i, p + shift, i, f"w{i}") for i, p in enumerate(pitches)]
    return Song(song_id, notes=notes, extra={"source": "test"})


def test_cleansing_recovers_an_octave_and_drops_an_unrelated_song(tmp_path):
    melody = [60.0, 62.0, 64.0, 65.0, 67.0, 65.0, 64.0, 62.0]
    truth = sung_song("truth", melody)
    n_frames = 120  # 1.92 s
    references = {
        "octave_low": annotated_pitch_frames(truth.notes, n_frames),
        "in_tune": annotated_pitch_frames(truth.notes, n_frames),
        "noise": np.random.default_rng(0).integers(40, 80, n_frames).astype(float),
    }
    songs = [
        sung_song("octave_low", melody, shift=-12),
        sung_song("in_tune", melody),
        sung_song("noise", melody),
        Song("no_notes"),
        sung_song("no_audio", melody),
    ]

    def reference(song: Song) -> np.ndarray:
        if song.id not in references:
            raise BadInputError(f"/audio/{song.id}.mp3", "audio file not found")
        return references[song.id]

    report = cleanse_songs(songs, reference, tmp_path / "out" / "cleanse.csv")
    assert [s.id for s in report.songs] == ["octave_low", "in_tune"]
    fixed = report.songs[0]
    assert [n.pitch for n in fixed.notes] == melody
    assert fixed.extra == {"source": "test", "pitch_shift": 12, "pitch_error": 0.0}
    assert [n.pitch for n in songs[0].notes] == [p - 12 for p in melody]  # the input is left as it was

    rows = {row["song_id"]: row for row in read_report(report.csv_path)}
    assert list(rows) == ["octave_low", "in_tune", "noise", "no_notes", "no_audio"]
    # all 120 frames count: before the shift the 100 annotated ones are wrong, the 20 silent ones right
    assert rows["octave_low"] == {
        "song_id": "octave_low", "best_shift": "12", "error_before": "0.8333", "error_after": "0.0000",
        "frames": "120", "voiced_frames": "100", "decision": "kept", "reason": "notes shifted by +12 semitones",
    }  # fmt: skip
    assert (rows["in_tune"]["best_shift"], rows["in_tune"]["decision"]) == ("0", "kept")
    assert rows["noise"]["decision"] == "dropped" and float(rows["noise"]["error_after"]) > 0.5
    assert "exceeds 50%" in rows["noise"]["reason"]
    assert rows["no_notes"]["decision"] == "dropped" and rows["no_notes"]["error_after"] == "nan"
    assert "audio file not found" in rows["no_audio"]["reason"]
    assert report.summary() == "kept 2 of 5 songs (1 shifted), dropped 3 (framewise error of all frames, at most 50%)"


def test_two_octaves_need_the_authors_shift_range(tmp_path):
    melody = [55.0, 57.0, 59.0, 60.0]
    reference = annotated_pitch_frames(sung_song("truth", melody).notes, 60)
    high = [sung_song("two_octaves_high", melody, shift=24)]
    paper = cleanse_songs(high, lambda song: reference, tmp_path / "paper.csv")
    # every shift leaves the 50 annotated frames of 60 wrong
    assert paper.songs == [] and paper.rows[0].best_shift == 0 and paper.rows[0].error_after == pytest.approx(50 / 60)
    authors = cleanse_songs(high, lambda song: reference, tmp_path / "code.csv", shifts=AUTHORS_CODE_SHIFTS)
    assert authors.rows[0].best_shift == -24 and [n.pitch for n in authors.songs[0].notes] == melody


def test_max_error_is_inclusive(tmp_path):
    # 12 frames each (7..18 and 19..30: the edges fall half-way between frame centres)
    song = Song("half", notes=[Note(0.104, 0.296, 60.0), Note(0.296, 0.488, 62.0)])
    reference = annotated_pitch_frames(song.notes[:1], 40)  # the second note unpitched: 12 frames wrong
    voiced = {"frame_error": "voiced"}  # 12 of the 24 annotated frames
    assert cleanse_songs([song], lambda s: reference, tmp_path / "a.csv", **voiced).rows[0].kept
    assert not cleanse_songs([song], lambda s: reference, tmp_path / "b.csv", max_error=0.4, **voiced).rows[0].kept
    # all frames: 12 of 40
    assert cleanse_songs([song], lambda s: reference, tmp_path / "c.csv", max_error=0.3).rows[0].error_after == 0.3
    assert cleanse_songs([song], lambda s: reference, tmp_path / "c.csv", max_error=0.3).rows[0].kept
    assert not cleanse_songs([song], lambda s: reference, tmp_path / "d.csv", max_error=0.29).rows[0].kept


def test_the_report_says_which_measure_it_used(tmp_path):
    song = Song("half", notes=[Note(0.104, 0.296, 60.0), Note(0.296, 0.488, 62.0)])
    reference = annotated_pitch_frames(song.notes[:1], 40)
    report = cleanse_songs([song], lambda s: reference, tmp_path / "all.csv")
    assert report.frame_error == "all" and "of all frames" in report.summary()
    voiced = cleanse_songs([song], lambda s: reference, tmp_path / "voiced.csv", frame_error="voiced", max_error=0.4)
    assert voiced.frame_error == "voiced" and "of the annotated frames" in voiced.summary()
    assert (
        "framewise error 50.0% of the annotated frames after the best shift (+0) exceeds 40%" in voiced.rows[0].reason
    )
    with pytest.raises(ValueError, match="frame_error"):
        cleanse_songs([song], lambda s: reference, tmp_path / "x.csv", frame_error="notes")


def test_reference_from_posteriors():
    probs = np.full((3, 129), 0.001)
    probs[0, 60], probs[1, 128], probs[2, 0] = 0.9, 0.8, 0.5
    np.testing.assert_array_equal(reference_from_posteriors(probs), [60.0, NAN, 0.0])
    np.testing.assert_array_equal(reference_from_posteriors(torch.from_numpy(probs).requires_grad_()), [60.0, NAN, 0.0])
    with pytest.raises(ValueError, match="129"):
        reference_from_posteriors(np.zeros((3, 128)))


def test_basic_pitch_errors_say_how_to_install_or_fix():
    message = str(BasicPitchMissingError())
    assert isinstance(BasicPitchMissingError(), MissingDependencyError)
    assert "pip install --no-deps basic-pitch" in message and "songalign[pitch]" in message
    with pytest.raises(SongalignError, match="nmp.onnx"):
        basic_pitch_model_path("/no/such/model.onnx")


def basic_pitch_or_skip():
    pytest.importorskip("onnxruntime", reason="onnxruntime is not installed (pip install 'songalign[pitch]')")
    try:
        return basic_pitch_model_path()
    except BasicPitchMissingError:
        pytest.skip("basic-pitch's ONNX model is not installed (pip install --no-deps basic-pitch)")


def test_basic_pitch_recovers_a_sine_melody():
    basic_pitch_or_skip()
    rate = 16000
    notes = [Note(0.5, 1.5, 60.0), Note(1.5, 2.4, 64.0), Note(2.6, 3.6, 67.0), Note(3.8, 5.0, 57.0)]
    t = np.arange(int(5.5 * rate)) / rate
    audio = np.zeros_like(t)
    for note in notes:
        inside = (t >= note.start) & (t < note.end)
        phase = 2 * np.pi * 440.0 * 2 ** ((note.pitch - 69) / 12) * t[inside]
        audio[inside] = 0.3 * np.sin(phase) + 0.1 * np.sin(2 * phase)  # a fundamental and its octave
    reference = basic_pitch_reference(audio.astype(np.float32), rate)
    assert reference.shape == (len(audio) // 256 + 1,)
    truth = annotated_pitch_frames(notes, len(reference))
    sung = ~np.isnan(truth)
    assert np.mean(np.abs(reference[sung] - truth[sung]) <= 1.0) > 0.9
    assert np.mean(np.isnan(reference[~sung])) > 0.8


def test_basic_pitch_cleanses_a_synthetic_song_an_octave_off(tmp_path):
    """basic-pitch on the vocal stem finds the octave error injected into a synthetic song's notes."""
    basic_pitch_or_skip()
    corpus = synthesize_corpus(tmp_path / "corpus", n_songs=1, seed=3, workers=1, duration=15.0, stems=True).out_dir
    (song,) = read_songs("jamendo", corpus, SkipReport())
    low = replace(song, notes=[replace(n, pitch=n.pitch - 12) for n in song.notes])
    report = cleanse_songs([low], basic_pitch_song_reference("stem"), tmp_path / "cleanse.csv", frame_error="voiced")
    (row,) = report.rows
    assert row.kept and row.best_shift == 12 and row.error_before > 0.9 and row.error_after < 0.3
    assert [n.pitch for n in report.songs[0].notes] == [n.pitch for n in song.notes]
