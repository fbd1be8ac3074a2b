"""The JamendoLyrics reader and the preparation pipeline, on corpora the tests write themselves."""

from __future__ import annotations

import math

import numpy as np
import pytest
import soundfile as sf

from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.prepare import prepare_corpus
from songalign.corpus.readers import read_songs
from songalign.corpus.testing import FakeSong, regular_lines, write_audio, write_jamendo_corpus
from songalign.errors import REPAIRED, SKIPPED, SkipReport, SongalignError

QUIRKY = [
    "Zoë_&_Friends_-_Don't_Stop_(Live)",
    "Intro_[Pulsschlag]_-_Zeugen_der_Leere_(2)",
    "¡Óyeme_tiburón!_-_Corrientes",
]


def two_paragraphs(start: float = 1.0) -> list[list[tuple[str, float, float]]]:
    first = regular_lines(3, start=start, length=3.0, gap=0.5, text="hello there")
    second = regular_lines(3, start=start + 16.0, length=3.0, gap=0.5, text="goodbye now")
    return [first, second]


@pytest.fixture
def quirky_corpus(tmp_path):
    songs = [FakeSong(name, two_paragraphs(), duration=30.0, title=f"title {i}") for i, name in enumerate(QUIRKY)]
    songs.append(FakeSong("Missing_-_Audio", two_paragraphs(), write_audio=False))
    songs.append(FakeSong("No_-_Line_File", two_paragraphs(), write_lines=False))
    return write_jamendo_corpus(tmp_path / "jamendo", songs)


def test_reader_handles_quirky_names_nan_line_ends_and_paragraphs(quirky_corpus):
    report = SkipReport()
    songs = {s.id: s for s in read_songs("jamendo", quirky_corpus, report)}
    assert set(QUIRKY) <= set(songs)
    song = songs[QUIRKY[0]]
    assert song.title == "title 0" and song.language == "english" and song.audio_path.endswith("(Live).mp3")
    assert [(ln.start, ln.end) for ln in song.lines] == [
        (a, b) for _, a, b in two_paragraphs()[0] + two_paragraphs()[1]
    ]
    assert [ln.paragraph for ln in song.lines] == [0, 0, 0, 1, 1, 1]
    assert len(song.paragraphs) == 2 and song.paragraphs[1].start == pytest.approx(17.0)
    # 2 words per line ("hello there 0" has 3 words): line indices come from the nan/non-nan line_end column
    assert [w.line for w in song.words[:6]] == [0, 0, 0, 1, 1, 1]
    assert song.words[0].text == "hello" and song.words[0].start == pytest.approx(1.0)
    # the row whose mp3 is absent is reported by name and the batch goes on
    assert any("Missing_-_Audio" in s.path and "not found" in s.reason for s in report.skipped)


def test_lines_are_rebuilt_from_words_when_the_line_file_is_missing(quirky_corpus):
    songs = {s.id: s for s in read_songs("jamendo", quirky_corpus, SkipReport())}
    rebuilt, reference = songs["No_-_Line_File"], songs[QUIRKY[0]]
    assert [ln.text for ln in rebuilt.lines] == [ln.text for ln in reference.lines]
    assert [ln.start for ln in rebuilt.lines] == pytest.approx([ln.start for ln in reference.lines])
    assert [ln.end for ln in rebuilt.lines] == pytest.approx([ln.end for ln in reference.lines])


def test_prepare_round_trips_through_parquet(quirky_corpus, tmp_path):
    result = prepare_corpus("jamendo", quirky_corpus, tmp_path / "prepared", progress=False)
    loaded = CorpusManifest.load(tmp_path / "prepared")
    assert loaded.songs == result.manifest.songs and loaded.segments == result.manifest.segments
    assert len(loaded.songs) == 4  # three quirky songs + the one without a line file
    assert {s.split for s in loaded.segments} <= {"train", "val", "test"}
    by_song = {}
    for segment in loaded.segments:
        by_song.setdefault(segment.song_id, set()).add(segment.split)
    assert all(len(splits) == 1 for splits in by_song.values())  # no song in two splits
    # each paragraph (3 lines spanning 10 s) is one segment; the 6 s gap separates them
    segments = [s for s in loaded.segments if s.song_id == QUIRKY[1]]
    assert [(s.start, s.end) for s in segments] == [(1.0, 11.0), (17.0, 27.0)]
    assert loaded.info["reader"] == "jamendo" and loaded.info["segmenter"]["target_duration"] == 10.0


def write_bad_corpus(root):
    nan = math.nan
    songs = [
        FakeSong("Good_-_Song", two_paragraphs()),
        FakeSong("Corrupt_-_Audio", two_paragraphs()),
        FakeSong("Empty_-_Audio", two_paragraphs()),
        FakeSong("Truncated_-_Audio", two_paragraphs(), duration=30.0),
        FakeSong(
            "Bad_-_Times",
            [
                [("nan start here", nan, 3.0), ("negative start here", -4.0, -1.0), ("reversed times here", 9.0, 5.0)],
                [
                    ("overlaps next line", 10.0, 14.0),
                    ("starts inside it", 13.0, 16.0),
                    ("runs past the end", 18.0, 45.0),
                    ("starts after the end", 41.0, 44.0),
                ],
            ],
            duration=30.0,
        ),
        FakeSong("Latin1_-_Lyrics", two_paragraphs()),
        FakeSong("Odd_-_Rate", two_paragraphs()),
    ]
    root = write_jamendo_corpus(root, songs)
    (root / "mp3" / "Corrupt_-_Audio.mp3").write_bytes(np.random.default_rng(0).bytes(5000))
    (root / "mp3" / "Empty_-_Audio.mp3").write_bytes(b"")
    whole = (root / "mp3" / "Truncated_-_Audio.mp3").read_bytes()
    (root / "mp3" / "Truncated_-_Audio.mp3").write_bytes(whole[: len(whole) // 2])
    (root / "lyrics" / "Latin1_-_Lyrics.words.txt").write_bytes("caf\xe9 cr\xe8me\n".encode("latin-1"))
    odd = root / "mp3" / "Odd_-_Rate.mp3"
    odd.unlink()
    write_audio(odd.with_suffix(".mp3"), 30.0, sample_rate=11025, channels=2)
    with open(root / "JamendoLyrics.csv", "a", encoding="utf-8") as handle:
        handle.write(",,Nobody,No file,Pop,CC BY,English,false,false,false\n")
    return root


def test_bad_inputs_are_named_skipped_or_repaired_and_the_batch_goes_on(tmp_path):
    root = write_bad_corpus(tmp_path / "bad")
    result = prepare_corpus("jamendo", root, tmp_path / "out", progress=False)
    kept = {s.id for s in result.manifest.songs}
    assert {"Good_-_Song", "Odd_-_Rate", "Bad_-_Times", "Truncated_-_Audio"} <= kept
    assert not kept & {"Corrupt_-_Audio", "Empty_-_Audio", "Latin1_-_Lyrics"}
    reasons = [(s.path, s.reason, s.action) for s in result.report.entries]

    def said(name: str, phrase: str, action: str = SKIPPED) -> bool:
        return any(name in path and phrase in reason and done == action for path, reason, done in reasons)

    assert said("Corrupt_-_Audio.mp3", "cannot be decoded")
    assert said("Empty_-_Audio.mp3", "empty")
    assert said("Latin1_-_Lyrics.words.txt", "not UTF-8")
    assert said("JamendoLyrics.csv", "no Filepath")
    assert said("Bad_-_Times", "not a number")
    assert said("Bad_-_Times", "negative")
    assert said("Bad_-_Times", "ends before it starts")
    assert said("Bad_-_Times", "overlaps the next line", REPAIRED)
    assert said("Bad_-_Times", "after the audio ends")
    truncated = result.manifest.song("Truncated_-_Audio")
    assert truncated.duration < 20.0 and said("Truncated_-_Audio.mp3", "cut short", REPAIRED)
    bad = result.manifest.song("Bad_-_Times")
    assert [ln.text for ln in bad.lines] == ["overlaps next line", "starts inside it", "runs past the end"]
    assert bad.lines[0].end == 13.0 and bad.lines[-1].end == pytest.approx(bad.duration)
    odd = result.manifest.song("Odd_-_Rate")
    assert odd.extra["sample_rate"] == 11025 and odd.extra["channels"] == 2
    assert len(result.report) >= 9 and result.report.kept == len(kept)


def test_prepare_fails_with_one_sentence_when_nothing_is_usable(tmp_path):
    root = write_jamendo_corpus(tmp_path / "c", [FakeSong("A_-_B", two_paragraphs())])
    (root / "mp3" / "A_-_B.mp3").write_bytes(b"not audio at all")
    with pytest.raises(SongalignError, match="no usable song"):
        prepare_corpus("jamendo", root, tmp_path / "out", progress=False)
    with pytest.raises(SongalignError, match="JamendoLyrics.csv"):
        prepare_corpus("jamendo", tmp_path, tmp_path / "out2", progress=False)


def test_mp3_decoding_keeps_timing(tmp_path):
    path = write_audio(tmp_path / "t.mp3", 5.0, sample_rate=22050)
    data, rate = sf.read(str(path))
    assert rate == 22050 and abs(len(data) / rate - 5.0) < 0.06
