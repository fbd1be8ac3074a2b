"""The sung test set (``corpus sung-scores``): scores to Festival's singing XML, Festival's word times, the layout."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from songalign.corpus.readers import read_songs
from songalign.corpus.sung import FESTIVAL_MISSING, SongSource, festival_program, make_sung_scores
from songalign.corpus.sung.festival import require_festival, sing
from songalign.corpus.sung.scores import (
    Melody,
    SungNote,
    SungWord,
    festival_note,
    fit_syllables,
    harmony_progression,
    lines_of,
    melody_key,
    parse_festival_note,
    read_singing_xml,
    singing_xml,
    transpose_for_voice,
)
from songalign.errors import SkipReport, SongalignError

needs_festival = pytest.mark.skipif(festival_program() is None, reason=FESTIVAL_MISSING)
PCM16_STEP = 1.0 / 32768


def test_festival_note_names_count_octaves_from_midi_zero():
    # singing-mode.scm: A5 = MIDI 69 = 440 Hz (scientific A4), so Festival's octave is MIDI // 12
    assert festival_note(69) == "A5"
    assert festival_note(60) == "C5"
    assert festival_note(46) == "Bb3"
    assert parse_festival_note("Bb3") == 46
    assert parse_festival_note("F#4") == 54
    assert all(parse_festival_note(festival_note(p)) == p for p in range(36, 84))


def test_music21_stream_becomes_singing_xml():
    music21 = pytest.importorskip("music21", reason="music21 is not installed (pip install 'songalign[sung]')")
    stream, note = music21.stream, music21.note
    voice = stream.Part()
    for pitch, length, text, syllabic in (
        ("C4", 1.0, "Hel", "begin"),
        ("D4", 0.5, "lo", "end"),
        ("E4", 0.5, None, None),
    ):
        n = note.Note(pitch, quarterLength=length)
        if text:
            n.addLyric(text)
            n.lyrics[0].syllabic = syllabic
        voice.append(n)
    voice.append(note.Rest(quarterLength=1.0))
    last = note.Note("G4", quarterLength=2.0)
    last.addLyric("world.")
    voice.append(last)
    bass = stream.Part()
    bass.append(note.Note("C3", quarterLength=3.0))
    bass.append(note.Note("G2", quarterLength=2.0))
    score = stream.Score([voice, bass])

    from songalign.corpus.sung.scores import melody_from_music21

    melody = melody_from_music21(score, beat_seconds=0.5)
    # "Hel-lo": C4 one beat, then D4 slurred into the wordless E4 (a melisma); a rest of one beat; "world."
    assert [w.text for w in melody.words] == ["Hello", "world."]
    assert melody.words[0].syllables == [[SungNote(60, 1.0)], [SungNote(62, 0.5), SungNote(64, 0.5)]]
    assert melody.words[0].rest == 1.0
    assert melody.accompaniment == [(0.0, 3.0, 48), (3.0, 2.0, 43)]
    xml = singing_xml(melody)
    assert '<SINGING BPM="100.000000">' in xml  # Festival's beat is 50 / BPM s: 0.5 s
    assert '<DURATION BEATS="1,0.5+0.5"><PITCH NOTE="C5,D5+E5">Hello</PITCH></DURATION>' in xml
    assert '<REST BEATS="1"></REST>' in xml
    assert '<DURATION BEATS="2"><PITCH NOTE="G5">world</PITCH></DURATION>' in xml
    assert melody.onsets() == [0.0, (1.0 + 0.5 + 0.5 + 1.0) * 0.5]  # three beats sung and rested, 0.5 s each


def test_festival_xml_reads_back_and_syllables_fit():
    melody = Melody(
        [
            SungWord("Daisy", [[SungNote(65, 1.0)], [SungNote(62, 1.0)]], rest=0.5),
            SungWord("give", [[SungNote(55, 0.25)]]),
        ],
        beat_seconds=0.625,
        lead_in=2.0,
    )
    back = read_singing_xml_text(singing_xml(melody))
    assert back.beat_seconds == pytest.approx(0.625, rel=1e-6)
    assert back.lead_in == 2.0
    assert [(w.text, w.syllables, w.rest) for w in back.words] == [(w.text, w.syllables, w.rest) for w in melody.words]
    three = SungWord("x", [[SungNote(60, 1.0)], [SungNote(62, 0.5)], [SungNote(64, 1.5)]])
    assert fit_syllables(three, 2).syllables == [[SungNote(60, 1.0)], [SungNote(62, 0.5), SungNote(64, 1.5)]]
    one = SungWord("x", [[SungNote(60, 2.0)]])
    # the longest note halves (the first of equals first): 2 -> 1, 1 -> 0.5, 0.5, 1
    assert fit_syllables(one, 3).syllables == [[SungNote(60, 0.5)], [SungNote(60, 0.5)], [SungNote(60, 1.0)]]
    assert fit_syllables(one, 3).beats == 2.0


def read_singing_xml_text(xml: str) -> Melody:
    import tempfile

    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "song.xml"
        path.write_text(xml, encoding="ascii")
        return read_singing_xml(path)


def test_high_melody_moves_down_by_octaves_and_harmony_follows_the_melody():
    words = [
        SungWord("a", [[SungNote(76, 2.0)], [SungNote(79, 2.0)]]),  # E5 G5: bar 1, C major's I
        SungWord("b", [[SungNote(77, 2.0)], [SungNote(81, 2.0)]]),  # F5 A5: bar 2, IV
        SungWord("c", [[SungNote(74, 2.0)], [SungNote(71, 2.0)]], line_end=True),  # D5 B4: bar 3, V
    ]
    melody = Melody(words, beat_seconds=0.5)
    low = transpose_for_voice(melody)
    assert [n.pitch for w in low.words for n in w.notes] == [64, 67, 65, 69, 62, 59]  # top 81 -> 69
    assert transpose_for_voice(low) is low
    assert melody_key(melody) == 0
    assert harmony_progression(melody, 0, bar_beats=4) == (0, 3, 4)
    assert lines_of([SungWord("one,", [[SungNote(60, 1)]]), SungWord("two", [[SungNote(60, 1)]])]) == [[0], [1]]


def test_missing_festival_is_one_sentence(monkeypatch):
    monkeypatch.setenv("PATH", os.devnull)
    assert festival_program() is None
    with pytest.raises(SongalignError, match="apt-get install festival festvox-kallpc16k"):
        require_festival()


@needs_festival
def test_festival_sings_two_words_with_ordered_times_and_energy():
    melody = Melody(
        [
            SungWord("hello", [[SungNote(57, 1.0)], [SungNote(60, 1.0)]], rest=2.0),
            SungWord("world", [[SungNote(55, 2.0)]]),
        ],
        beat_seconds=0.5,
        lead_in=1.0,
    )
    sung = sing(singing_xml(melody), 22050)
    assert sung.sample_rate == 22050
    assert [w[0] for w in sung.words] == ["hello", "world"]
    (_, a0, a1), (_, b0, b1) = sung.words
    assert 0 <= a0 < a1 <= b0 < b1 <= sung.seconds
    # Festival starts a word on its note, less its first consonant's lead (at most 0.1 s in singing-mode.scm)
    assert a0 == pytest.approx(0.5, abs=0.1) and b0 == pytest.approx(2.5, abs=0.1)  # (1 + 2 + 2) beats of 0.5 s

    def level(start: float, end: float) -> float:
        part = sung.audio[int(start * 22050) : int(end * 22050)]
        return float(np.sqrt(np.mean(np.square(part, dtype=np.float64))))

    rest = level(a1 + 0.1, b0 - 0.1)  # the two-beat rest between the words
    assert level(a0, a1) > 30 * max(rest, PCM16_STEP) and level(b0, b1) > 30 * max(rest, PCM16_STEP)


def _example(folder: Path, name: str, body: str) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    (folder / name).write_text(f'<?xml version="1.0"?>\n<SINGING BPM="100">\n{body}\n</SINGING>\n', encoding="ascii")


@needs_festival
def test_layout_loads_through_the_jamendo_reader_and_resumes(tmp_path):
    examples = tmp_path / "examples"
    _example(
        examples,
        "tune.xml",
        '<DURATION BEATS="1"><PITCH NOTE="C4">sing</PITCH></DURATION>\n'
        '<DURATION BEATS="1,1"><PITCH NOTE="E4,G4">softly</PITCH></DURATION><REST BEATS="1"></REST>\n'
        '<DURATION BEATS="2"><PITCH NOTE="C4">now</PITCH></DURATION>',
    )
    _example(examples, "broken.xml", '<DURATION BEATS="1"><PITCH NOTE="C4">oops</DURATION>')
    catalogue = [
        SongSource("Anon_-_Broken", "Broken", "Anon", "english", "festival", ("broken.xml",), 0.0, "piano", "test"),
        SongSource("Anon_-_Tune", "Tune", "Anon", "english", "festival", ("tune.xml",), 0.0, "organ", "test"),
    ]
    out = tmp_path / "sung"
    summary = make_sung_scores(out, catalogue=catalogue, festival_examples=examples)
    assert summary.made == ["Anon_-_Tune"]
    assert [e.item for e in summary.report.skipped] == ["Anon_-_Broken"]
    report = SkipReport()
    (song,) = list(read_songs("jamendo", out, report))
    assert [w.text for w in song.words] == ["sing", "softly", "now"]
    assert [line.text for line in song.lines] == ["sing softly", "now"]  # the rest ends the first line
    assert song.language == "english"
    starts = [w.start for w in song.words]
    assert starts == sorted(starts) and all(w.end > w.start for w in song.words)
    # Festival's beat is 50 / 100 = 0.5 s: "now" is sung after 1 + 2 + 1 beats, its consonant a little earlier
    assert song.words[2].start == pytest.approx(2.0, abs=0.1)
    stem, rate = sf.read(song.extra["vocals_path"], dtype="float32")
    mix, mix_rate = sf.read(song.audio_path, dtype="float32")
    assert rate == mix_rate == 22050 and len(stem) == len(mix)
    assert song.words[-1].end <= len(stem) / rate
    mp3 = out / "mp3" / "Anon_-_Tune.mp3"
    made_at = mp3.stat().st_mtime_ns
    again = make_sung_scores(out, catalogue=catalogue, festival_examples=examples, songs=["Anon_-_Tune"])
    assert again.kept == ["Anon_-_Tune"] and not again.made and mp3.stat().st_mtime_ns == made_at
    forced = make_sung_scores(out, catalogue=catalogue, festival_examples=examples, songs=["Anon_-_Tune"], force=True)
    assert forced.made == ["Anon_-_Tune"]
    assert sf.read(out / "stems" / "Anon_-_Tune.vocals.flac", dtype="float32")[0].tobytes() == stem.tobytes()


@needs_festival
def test_a_folder_of_the_users_is_refused(tmp_path):
    (tmp_path / "mine.txt").write_text("keep me\n", encoding="utf-8")
    with pytest.raises(SongalignError, match="not empty and holds no sung test set"):
        make_sung_scores(tmp_path, catalogue=[])
    assert (tmp_path / "mine.txt").read_text(encoding="utf-8") == "keep me\n"
