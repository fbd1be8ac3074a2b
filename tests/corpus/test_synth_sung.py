"""The sung corpus (`corpus synth --languages`): syllables on notes, word and phoneme times against espeak-ng's
own events, determinism, and a two-language corpus read back with its languages and phonemes."""

from __future__ import annotations

import math

import numpy as np
import pytest

from songalign.corpus.readers.jamendo import read_jamendo
from songalign.corpus.synth import generate, render, song
from songalign.corpus.synth.languages import check_languages
from songalign.corpus.synth.sing import VOWEL_LETTERS, Singing, SyllableSinger, is_vowel, syllable_starts
from songalign.corpus.synth.voice import SAMPLE_RATE, Espeak, Voice, estimate_f0
from songalign.errors import SkipReport, SongalignError
from songalign.transcribe import phonemes as inventory
from songalign.transcribe.symbols import BLANK_INDEX, EMISSION_SECONDS, FRAME_SECONDS

FRAME = round(FRAME_SECONDS * SAMPLE_RATE)  # one 16 ms feature frame, in samples


def test_vowel_letters_are_the_inventorys():
    assert VOWEL_LETTERS == frozenset(inventory.VOWELS)


@pytest.mark.parametrize(
    ("names", "starts"),
    [
        (["k", "ˌo", "ɾ", "a", "θ", "ˈo", "n"], [0, 2, 4]),  # corazón: ko|ra|θon
        (["b", "e", "l", "l", "ˈi", "ss", "i", "m", "a"], [0, 3, 5, 7]),  # bellissima: the last consonant opens
        (["ʃ", "ɑ̃", "t", "ʁ", "ˈɛ"], [0, 3]),  # chanteraient: ʃɑ̃t|ʁɛ
        (["ˈa", "i"], [0, 1]),  # two vowels meet: the second starts its syllable
        (["p", "s", "t"], [0]),  # no vowel: one syllable
    ],
)
def test_syllables_start_at_the_last_consonant_before_their_vowel(names, starts):
    assert syllable_starts(names) == starts


def _offset(haystack: np.ndarray, needle: np.ndarray, around: int, reach: int) -> int:
    """The lag (samples) in ``[-reach, reach]`` at which ``needle`` best matches ``haystack`` from ``around``,
    by normalised cross-correlation."""
    padded = np.pad(haystack.astype(np.float64), reach + len(needle))
    scores = []
    for lag in range(-reach, reach + 1):
        first = around + lag + reach + len(needle)
        chunk = padded[first : first + len(needle)]
        scores.append(float(chunk @ needle) / (np.linalg.norm(chunk) * np.linalg.norm(needle) + 1e-12))
    return int(np.argmax(scores)) - reach


def test_a_sung_word_keeps_espeaks_phonemes_where_its_events_put_them():
    """Each phoneme's annotated start holds the audio espeak-ng spoke at that phoneme's event (in the take of its
    syllable's note, spoken again: espeak's state makes a second take differ a little), within one frame; the syllables fill whole grid steps, the last one short of its release."""
    singing = Singing(breath_db=-200.0, warp=1.0)
    grid = 0.25
    with SyllableSinger(Voice("es+f2", "female", "Spanish"), 160, singing) as singer:
        assert singer.syllables("corazón", 55.0) == 3
        word = singer.sing("corazón", [55.0, 57.0, 59.0], grid, hold_steps=2)
        takes = [singer.speak("corazón", singer.pitch_table.setting_for(p)) for p in (55.0, 57.0, 59.0)]
    assert [p.ipa for p in word.phonemes] == ["k", "ˌo", "ɾ", "a", "θ", "ˈo", "n"]
    syllable_of = [0, 0, 1, 1, 2, 2, 2]
    step = grid * SAMPLE_RATE
    for k, note in enumerate(word.notes):
        steps = (note.end - note.start) / step
        if k < 2:
            assert abs(steps - round(steps)) * step <= 1  # whole grid steps
        else:
            assert abs(note.end - note.start + 0.04 * SAMPLE_RATE - round(steps + 0.04 / grid) * step) <= 1
    assert word.notes[-1].end == len(word.samples)
    lags = []
    for phoneme, k, event in zip(word.phonemes, syllable_of, takes[0].phonemes, strict=True):
        if not is_vowel(phoneme.ipa):  # a consonant's noise is espeak's random draw, different in each take
            continue
        take = takes[k]
        spoken_start = next(s for name, s, _ in take.phonemes if name == event[0])
        if phoneme.start == 0:  # the word's first phoneme starts where it becomes audible
            spoken_start = take.audible[0]
        n = min(440, phoneme.end - phoneme.start - 120)  # clear of the 3 ms and 1.5 ms fades at the joins
        needle = take.samples[spoken_start + 80 : spoken_start + 80 + n].astype(np.float64)
        lags.append(_offset(word.samples, needle, phoneme.start + 80, FRAME))
    assert len(lags) == 3 and max(map(abs, lags)) <= FRAME, lags
    for a, b in zip(word.phonemes, word.phonemes[1:], strict=False):
        assert a.start < a.end <= b.start


@pytest.fixture(scope="module")
def english_song():
    """An English song sung syllable by syllable (the grammar needs no word list), composed and mixed."""
    spec = generate.plan_corpus(1, seed=5, duration=16.0, languages=["en"])[0]
    composed = song.compose_song(spec)
    return composed, composed.to_song(), render.mixed_stems(composed)["vocals"]


def test_a_rendered_songs_words_sound_where_they_are_annotated(english_song):
    """In the mixed vocals, each word's audio (espeak's, from its first phoneme event on, after the warp and the
    holds) starts within one 16 ms frame of its annotated start: the frame before it is near silence (the
    previous word released, or a rest) and the first frame of the word is audible; so is its last frame."""
    _, record, vocals = english_song
    for word in record.words:
        first, last = round(word.start * SAMPLE_RATE), round(word.end * SAMPLE_RATE)
        peak = float(np.max(np.abs(vocals[first:last])))
        before = float(np.max(np.abs(vocals[max(first - FRAME, 0) : first])))
        opening = float(np.max(np.abs(vocals[first : first + FRAME])))
        closing = float(np.max(np.abs(vocals[last - FRAME : last])))
        assert before < 0.03 * peak and opening > 0.03 * peak and closing > 0.01 * peak, word.text


def test_phonemes_are_ordered_and_inside_their_words(english_song):
    _, record, _ = english_song
    phonemes = record.extra["phonemes"]
    assert record.extra["language_code"] == "en" and record.language == "English"
    assert {p["word"] for p in phonemes} == set(range(len(record.words)))
    for a, b in zip(phonemes, phonemes[1:], strict=False):
        assert a["start"] < a["end"] <= b["start"] + 1e-9 and a["word"] <= b["word"]
    for index, word in enumerate(record.words):
        own = [p for p in phonemes if p["word"] == index]
        assert own[0]["start"] == word.start and own[-1]["end"] == word.end
        assert all(word.start <= p["start"] and p["end"] <= word.end for p in own)


def test_held_notes_are_sung_in_tune(english_song):
    """A sung note of 0.2 s or more is in tune: its f0 (YIN over its middle) within 50 cents of the note espeak
    was asked for, for nine notes in ten at least (vibrato swings at most 60 cents around it)."""
    _, record, vocals = english_song
    cents = []
    for note in record.notes:
        if note.end - note.start >= 0.2:
            middle = vocals[round(note.start * SAMPLE_RATE) + 1000 : round(note.end * SAMPLE_RATE) - 1000]
            if len(middle) > 3000:
                cents.append(1200 * math.log2(estimate_f0(middle) / (440 * 2 ** ((note.pitch - 69) / 12))))
    assert len(cents) >= 10
    assert np.mean(np.abs(cents) <= 50) >= 0.9, np.round(cents)


def test_english_sections_keep_their_emotion(english_song):
    _, record, _ = english_song
    assert all(section["emotion"] for section in record.extra["sections"])


def test_a_language_espeak_lacks_is_one_sentence():
    with pytest.raises(SongalignError, match="espeak-ng speaks no language 'xx'"):
        check_languages(["en", "xx"])
    with pytest.raises(SongalignError, match="twice"):
        check_languages(["en", "EN"])


@pytest.fixture(scope="module")
def bilingual(tmp_path_factory):
    pytest.importorskip("wordfreq")
    out = tmp_path_factory.mktemp("sung") / "corpus"
    summary = generate.synthesize_corpus(out, n_songs=2, seed=3, duration=16.0, workers=2, languages=["fr", "en"])
    return out, summary


def test_same_seed_same_bytes(bilingual, tmp_path):
    out, _ = bilingual
    again = tmp_path / "again"
    generate.synthesize_corpus(again, n_songs=2, seed=3, duration=16.0, workers=1, languages=["fr", "en"])
    files = sorted(p.relative_to(out) for p in out.rglob("*") if p.is_file())
    assert files == sorted(p.relative_to(again) for p in again.rglob("*") if p.is_file())
    assert any(str(f).startswith("annotations/phonemes/") for f in files)
    for name in files:
        assert (out / name).read_bytes() == (again / name).read_bytes(), name


def test_a_two_language_corpus_reads_back_with_languages_and_phonemes(bilingual):
    out, summary = bilingual
    report = SkipReport()
    songs = list(read_jamendo(out, report))
    assert [s.language for s in songs] == ["french", "english"]
    assert [s.extra["language_code"] for s in songs] == ["fr", "en"]
    french, english = songs
    assert [s.language for s in list(read_jamendo(out, SkipReport(), languages="french"))] == ["french"]
    # French lyrics are words from wordfreq's list: no emotion label; English keeps the grammar's.
    assert all("emotion" not in section for section in french.extra["reference_sections"])
    assert all(section["emotion"] for section in english.extra["reference_sections"])
    for read, made in zip(songs, summary.songs, strict=True):
        assert len(read.extra["phonemes"]) == len(made.extra["phonemes"])
        for a, b in zip(read.extra["phonemes"], made.extra["phonemes"], strict=True):
            assert a["ipa"] == b["ipa"] and a["word"] == b["word"] and abs(a["start"] - b["start"]) <= 5e-5
    # A trainer's per-frame targets: every French word's frames hold phonemes, the gaps between lines blanks.
    timed = inventory.annotated_phonemes(french.extra["phonemes"])
    frames = math.ceil(french.words[-1].end / EMISSION_SECONDS) + 5
    targets = inventory.frame_targets(timed, frames)
    for word in french.words:
        inside = targets[math.ceil(word.start / EMISSION_SECONDS) : math.floor(word.end / EMISSION_SECONDS)]
        assert len(inside) == 0 or (inside != BLANK_INDEX).all(), word.text
    assert targets[-1] == BLANK_INDEX and targets[0] == BLANK_INDEX
    assert {inventory.PHONEME_SYMBOLS[t] for t in targets} & {"ʁ", "ɑ̃", "ɛ̃", "ɔ̃", "y", "ø", "œ"}  # French sounds


def test_a_broken_phoneme_file_is_noted_and_the_song_kept(bilingual, tmp_path):
    import shutil

    out, _ = bilingual
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    broken = sorted((copy / "annotations" / "phonemes").iterdir())[0]
    broken.write_text("start,end,phoneme,word_index\n0.1,oops,a,0\n", encoding="utf-8")
    report = SkipReport()
    songs = list(read_jamendo(copy, report))
    assert len(songs) == 2 and sum("phonemes" in s.extra for s in songs) == 1
    assert any("row 2" in entry.reason and "phonemes" in entry.reason for entry in report.entries)


def test_espeak_is_free_after_the_corpus():
    with Espeak("fr"):
        pass
