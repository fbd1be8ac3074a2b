"""The folder reader (audio + .lrc/.csv/.json lyrics) and the untimed pairs reader, on files made here."""

from __future__ import annotations

import json
import math
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from songalign.corpus.lyrics_files import LAST_LINE_SECONDS
from songalign.corpus.readers import READERS
from songalign.corpus.readers.folder import read_folder, read_pairs
from songalign.errors import SkipReport, SongalignError

SAMPLE_RATE = 8000


def write_wav(path: Path, seconds: float = 15.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(round(seconds * SAMPLE_RATE))) / SAMPLE_RATE
    sf.write(path, (0.1 * np.sin(2 * np.pi * 220.0 * t)).astype(np.float32), SAMPLE_RATE)
    return path


def write_text(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(text.encode(encoding))
    return path


def spans(items) -> list[tuple]:
    return [(item.text, pytest.approx(item.start), pytest.approx(item.end)) for item in items]


def read_one(folder: Path) -> tuple:
    report = SkipReport()
    songs = list(read_folder(folder, report))
    assert len(songs) == 1, report.skipped
    return songs[0], report


# ---------------------------------------------------------------------------------------------- LRC


def test_lrc_tags_offset_repeats_and_gaps(tmp_path):
    write_wav(tmp_path / "Stem Artist - Stem Title.wav", seconds=20.0)
    write_text(
        tmp_path / "Stem Artist - Stem Title.lrc",
        "[ar:The Band]\n"
        "[ti: Real Title ]\n"
        "[la:en]\n"
        "[al:Album X]\n"
        "[offset:+500]\n"  # lyrics shown 0.5 s earlier than their tags
        "[00:01.50]First line\n"
        "[00:03][00:10.00]Chorus line\n"  # [mm:ss] and a repeated chorus
        "[00:05:50]Third   line\n"  # [mm:ss:xx] (hundredths)
        "[00:08.000]\n"  # an empty line: the end of the third line, an instrumental gap
        "[Chorus]\n"  # untimed text is not lyrics
        "[00:12.25]Last line\r\n",
    )
    song, report = read_one(tmp_path)
    assert not report.skipped
    assert song.id == "Stem Artist - Stem Title"
    assert (song.title, song.artist, song.language) == ("Real Title", "The Band", "en")
    assert song.duration == pytest.approx(20.0)
    assert song.audio_path == str((tmp_path / "Stem Artist - Stem Title.wav").resolve())
    assert song.extra == {
        "annotation_path": str((tmp_path / "Stem Artist - Stem Title.lrc").resolve()),
        "album": "Album X",
    }
    assert spans(song.lines) == [
        ("First line", 1.0, 2.5),
        ("Chorus line", 2.5, 5.0),
        ("Third line", 5.0, 7.5),
        ("Chorus line", 9.5, 11.75),
        ("Last line", 11.75, 11.75 + LAST_LINE_SECONDS),  # no next line: +5 s, inside the 20 s of audio
    ]
    assert song.words == []


def test_lrc_last_line_is_capped_by_the_audio_and_shared_times(tmp_path):
    write_wav(tmp_path / "song.wav", seconds=3.0)
    write_text(tmp_path / "song.lrc", "[00:00.50]original\n[00:00.50]translation\n[00:01.00]last\n")
    song, _ = read_one(tmp_path)
    assert (song.title, song.artist) == ("song", "")
    # both lines at 0.5 s end at the next later line, not at each other
    assert spans(song.lines) == [("original", 0.5, 1.0), ("translation", 0.5, 1.0), ("last", 1.0, 3.0)]


def test_lrc_enhanced_word_times(tmp_path):
    write_wav(tmp_path / "words.wav")
    write_text(
        tmp_path / "words.lrc",
        "[offset:-250]\n"  # negative: lyrics shown later
        "[00:01.00]<00:01.00>Hello <00:01.50>big <00:02.00>world<00:02.80>\n"  # trailing tag ends the line
        "[00:03.00]<00:03.00>hel<00:03.20>lo <00:03.60>again\n"
        "[00:06.00]\n"
        "[00:08.00][00:11.00]<00:08.00>la <00:08.50>la\n",  # repeated: word times follow the repeat
    )
    song, _ = read_one(tmp_path)
    assert spans(song.lines) == [
        ("Hello big world", 1.25, 3.05),
        ("hello again", 3.25, 6.25),
        ("la la", 8.25, 11.25),
        ("la la", 11.25, 15.0),  # the last line ends at +5 s, capped by the 15 s of audio
    ]
    assert spans(song.words) == [
        ("Hello", 1.25, 1.75),
        ("big", 1.75, 2.25),
        ("world", 2.25, 3.05),
        ("hel", 3.25, 3.45),
        ("lo", 3.45, 3.85),
        ("again", 3.85, 6.25),
        ("la", 8.25, 8.75),
        ("la", 8.75, 11.25),
        ("la", 11.25, 11.75),
        ("la", 11.75, 15.0),  # the last word ends with its line
    ]
    assert [w.line for w in song.words] == [0, 0, 0, 1, 1, 1, 2, 2, 3, 3]


def test_lrc_without_time_tags_and_bad_offset(tmp_path):
    write_wav(tmp_path / "a.wav")
    write_text(tmp_path / "a.lrc", "just some lyrics\nwithout any times\n")
    write_wav(tmp_path / "b.wav")
    write_text(tmp_path / "b.lrc", "[offset:soon]\n[00:01.00]hi\n")
    report = SkipReport()
    songs = list(read_folder(tmp_path, report))
    assert [s.id for s in songs] == ["b"] and songs[0].lines[0].start == pytest.approx(1.0)
    reasons = {s.item: s.reason for s in report.skipped}
    assert "holds no timed lines" in reasons["a"]
    assert "[offset:soon] is not a number" in reasons["b"]


# ------------------------------------------------------------------------------------- CSV and JSON


def test_csv_annotations_both_headers(tmp_path):
    write_wav(tmp_path / "one.wav")
    write_text(tmp_path / "one.csv", 'start,end,text\n1.0,2.5,first line\n3,4,\n02.5e0,,"second, with comma"\n')
    write_wav(tmp_path / "two.flac")
    write_text(
        tmp_path / "two.csv",
        "start_time,end_time,lyrics_line\n0:01.5,0:03,hello there\nsoon,5,bad start\n6,7,last\n",
    )
    report = SkipReport()
    one, two = read_folder(tmp_path, report)
    # rows sort by start; an empty text row marks an end; an empty end is filled by the next start
    assert spans(one.lines) == [("first line", 1.0, 2.5), ("second, with comma", 2.5, 3.0)]
    assert two.id == "two" and two.audio_path.endswith("two.flac")
    assert spans(two.lines) == [("hello there", 1.5, 3.0), ("last", 6.0, 7.0)]
    (skipped,) = report.skipped
    assert skipped.item == "two" and Path(skipped.path).name == "two.csv"
    assert skipped.reason == (
        "line 3 has a start 'soon' that is not a time in seconds or mm:ss.xx; it was left out, fix it to keep that line"
    )


def test_csv_with_wrong_header_is_skipped(tmp_path):
    write_wav(tmp_path / "x.wav")
    write_text(tmp_path / "x.csv", "begin,finish,words\n1,2,hi\n")
    report = SkipReport()
    assert list(read_folder(tmp_path, report)) == []
    assert "has the header 'begin,finish,words' but it needs the columns start,end,text" in report.skipped[0].reason


def test_json_annotations_list_and_object(tmp_path):
    write_wav(tmp_path / "list.wav")
    write_text(
        tmp_path / "list.json",
        json.dumps([{"start": 1, "end": 2, "text": "one"}, {"start": "0:03", "text": "two"}, "oops", {"end": 9}]),
    )
    write_wav(tmp_path / "sub" / "Artist - Name.ogg")
    write_text(
        tmp_path / "sub" / "Artist - Name.json",
        json.dumps(
            {
                "title": "Object Title",
                "language": "fr",
                "lines": [
                    {
                        "start": 0.5,
                        "end": 1.5,
                        "text": "bonjour tout",
                        "words": [{"start": 0.5, "end": 0.9, "text": "bonjour"}, {"start": 1.0, "text": "tout"}],
                    }
                ],
            }
        ),
    )
    report = SkipReport()
    first, second = read_folder(tmp_path, report)
    assert spans(first.lines) == [("one", 1.0, 2.0), ("two", 3.0, 3.0 + LAST_LINE_SECONDS)]
    assert [s.reason for s in report.skipped] == [
        "line entry 3 is not an object with start, end and text; it was left out",
        "line entry 4 has no start time; it was left out, fix it to keep that line",
    ]
    assert second.id == "sub/Artist - Name"
    assert (second.title, second.artist, second.language) == ("Object Title", "Artist", "fr")
    assert spans(second.words) == [("bonjour", 0.5, 0.9), ("tout", 1.0, 1.5)]


def test_json_word_with_a_null_start_leaves_the_word_out_and_says_so(tmp_path):
    # an aligner's export: "—" could not be placed (null times); a hand-made word without any start stays an error
    write_wav(tmp_path / "song.wav")
    never = [{"start": None, "end": None, "text": "—"}, {"start": 7.25, "end": 7.5, "text": "never"},
             {"start": 7.5, "end": 8.0, "text": "go"}]  # fmt: skip
    write_text(
        tmp_path / "song.json",
        json.dumps(
            {
                "lines": [
                    {"start": 7.25, "end": 8.0, "text": "— never go", "words": never},
                    {"start": 9.0, "end": 10.0, "text": "hold on", "words": [{"text": "hold"}]},
                ]
            }
        ),
    )
    report = SkipReport()
    (song,) = read_folder(tmp_path, report)
    assert spans(song.lines) == [("— never go", 7.25, 8.0)]
    assert spans(song.words) == [("never", 7.25, 7.5), ("go", 7.5, 8.0)]
    assert [s.reason for s in report.skipped] == [
        "line entry 1 has 1 word(s) with a null start ('—'); the line was kept without them",
        "line entry 2 has an unusable word: it has no start time; it was left out, fix it to keep that line",
    ]


def test_invalid_json_is_skipped(tmp_path):
    write_wav(tmp_path / "x.wav")
    write_text(tmp_path / "x.json", "{not json")
    write_wav(tmp_path / "y.wav")
    write_text(tmp_path / "y.json", json.dumps({"title": "no lines"}))
    report = SkipReport()
    assert list(read_folder(tmp_path, report)) == []
    reasons = [s.reason for s in report.skipped]
    assert reasons[0].startswith("is not valid JSON")
    assert reasons[1].startswith("holds neither a list")


def test_broken_times_are_passed_on_not_crashed_on(tmp_path):
    write_wav(tmp_path / "x.wav", seconds=2.0)
    write_text(tmp_path / "x.csv", "start,end,text\nnan,1,a\n-3,-1,b\n5,4,c\n1,inf,d\n")
    song, report = read_one(tmp_path)
    assert not report.skipped
    texts = [line.text for line in song.lines]
    assert texts == ["b", "d", "c", "a"]  # sorted by start, the NaN one last: clean_song deals with them
    assert math.isnan(song.lines[-1].start)


# ------------------------------------------------------------------------------------ folder-level


def test_audio_without_annotation_and_other_folder_problems(tmp_path):
    write_wav(tmp_path / "lonely.wav")
    write_text(tmp_path / "orphan.lrc", "[00:01.00]no audio for me\n")
    write_wav(tmp_path / "twin.wav")
    write_wav(tmp_path / "twin.flac")
    write_text(tmp_path / "twin.lrc", "[00:01.00]twin\n")
    write_text(tmp_path / "broken.wav", "not audio")
    write_text(tmp_path / "broken.lrc", "[00:01.00]broken\n")
    write_wav(tmp_path / ".hidden" / "secret.wav")
    write_wav(tmp_path / "empty.wav")
    write_text(tmp_path / "empty.lrc", "[00:01.00]\n")
    report = SkipReport()
    songs = list(read_folder(tmp_path, report))
    # audio with no lyrics beside it is kept as an audio-only song, and noted (a missing .lrc is not silent)
    assert [s.id for s in songs] == ["lonely", "twin"] and songs[1].audio_path.endswith("twin.wav")
    assert songs[0].lines == [] and songs[0].extra == {"audio_only": True, "window_seconds": 10.0}
    (noted,) = report.noted
    assert (Path(noted.path).name, noted.item) == ("lonely.wav", "lonely")
    assert noted.reason == (
        "has no lyrics beside it, so it is read as audio-only: 10 s windows with no text; "
        "add lonely.lrc, lonely.csv (start,end,text) or lonely.json to give it lyrics"
    )
    reasons = {Path(s.path).name: s.reason for s in report.skipped}
    assert set(reasons) == {"orphan.lrc", "twin.flac", "broken.wav", "empty.lrc"}
    assert "no audio file with the same name" in reasons["orphan.lrc"]
    assert "shares its name with twin.wav" in reasons["twin.flac"]
    assert "audio" in reasons["broken.wav"]
    assert "no timed lyric lines" in reasons["empty.lrc"]


def test_annotation_precedence_and_nested_ids(tmp_path):
    write_wav(tmp_path / "album" / "disc 1" / "01 Song.wav")
    write_text(tmp_path / "album" / "disc 1" / "01 Song.csv", "start,end,text\n1,2,from csv\n")
    write_text(tmp_path / "album" / "disc 1" / "01 Song.LRC", "[00:01.00]from lrc\n")
    song, _ = read_one(tmp_path)
    assert song.id == "album/disc 1/01 Song"
    assert song.lines[0].text == "from lrc"


def test_text_encodings(tmp_path):
    write_wav(tmp_path / "bom.wav")
    write_text(tmp_path / "bom.lrc", "[ti:Café]\n[00:01.00]déjà vu\n", encoding="utf-8-sig")
    write_wav(tmp_path / "wide.wav")
    write_text(tmp_path / "wide.lrc", "[00:01.00]naïve\n", encoding="utf-16")  # with its byte-order mark
    write_wav(tmp_path / "legacy.wav")
    write_text(tmp_path / "legacy.lrc", "[00:01.00]café\n", encoding="cp1252")
    report = SkipReport()
    bom, wide = read_folder(tmp_path, report)
    assert (bom.title, bom.lines[0].text) == ("Café", "déjà vu")
    assert wide.lines[0].text == "naïve"
    (skipped,) = report.skipped
    assert Path(skipped.path).name == "legacy.lrc"
    assert (
        skipped.reason == "is not UTF-8 text (byte 0xe9 at offset 13); save it as UTF-8 in a text editor and run again"
    )


def test_unusable_folder_raises(tmp_path):
    with pytest.raises(SongalignError, match="is not a folder"):
        read_folder(tmp_path / "missing", SkipReport())
    write_text(tmp_path / "only.lrc", "[00:01.00]hi\n")
    with pytest.raises(SongalignError, match="holds no audio files"):
        read_folder(tmp_path, SkipReport())


# ------------------------------------------------------------------------------------------- pairs


def test_pairs_relative_absolute_and_bad_rows(tmp_path):
    data = tmp_path / "data"
    write_wav(data / "clips" / "a.wav", seconds=2.0)
    elsewhere = write_wav(tmp_path / "elsewhere" / "Some Artist - Some Song.wav", seconds=3.0)
    write_text(
        data / "pairs.csv",
        "audio_path,lyrics,description\n"
        'clips/a.wav,"la la la\nsecond line",a happy tune\n'  # multi-line lyrics inside quotes
        f"{elsewhere},hello,\n"
        ",no audio,\n"
        "clips/a.wav,,\n"
        "clips/missing.wav,words,\n"
        "clips/a.wav,again,another description\n",
    )
    report = SkipReport()
    songs = list(read_pairs(data / "pairs.csv", report))
    assert [s.id for s in songs] == ["clips/a", elsewhere.relative_to("/").with_suffix("").as_posix(), "clips/a#2"]
    first, second, third = songs
    assert first.audio_path == str((data / "clips" / "a.wav").resolve())
    assert first.duration == pytest.approx(2.0)
    assert spans(first.lines) == [("la la la\nsecond line", 0.0, 2.0)]
    assert first.extra == {
        "untimed": True,
        "description": "a happy tune",
        "annotation_path": str((data / "pairs.csv").resolve()),
    }
    assert (second.artist, second.title, second.duration) == ("Some Artist", "Some Song", pytest.approx(3.0))
    assert second.audio_path == str(elsewhere) and second.extra["description"] == ""
    assert third.extra["description"] == "another description"

    reasons = [(s.item, s.reason) for s in report.skipped]
    assert [item for item, _ in reasons] == ["line 5", "line 6", "line 7"]
    assert reasons[0][1].startswith("line 5 has no audio_path; give the audio file's path (relative to")
    assert reasons[1][1] == "line 6 has no lyrics; add the song's lyrics in that column or remove the row"
    assert reasons[2][1].startswith("line 7: ") and "missing.wav: audio file not found" in reasons[2][1]
    assert all(Path(s.path) == data / "pairs.csv" for s in report.skipped)


def test_pairs_text_header_folder_and_errors(tmp_path):
    write_wav(tmp_path / "x.wav", seconds=1.0)
    write_text(tmp_path / "list.csv", "Audio_Path,Text\nx.wav,just words\n")
    (song,) = read_pairs(tmp_path, SkipReport())  # the folder's only CSV
    assert song.lines[0].text == "just words" and song.extra["untimed"] is True

    write_text(tmp_path / "list.csv", "file,lyrics\nx.wav,words\n")
    with pytest.raises(SongalignError, match="needs the columns audio_path,lyrics"):
        read_pairs(tmp_path / "list.csv", SkipReport())
    write_text(tmp_path / "second.csv", "audio_path,lyrics\n")
    with pytest.raises(SongalignError, match="holds 2 .csv files"):
        read_pairs(tmp_path, SkipReport())
    write_text(tmp_path / "latin.csv", "audio_path,lyrics\nx.wav,café\n", encoding="latin-1")
    with pytest.raises(SongalignError, match="save it as UTF-8"):
        read_pairs(tmp_path / "latin.csv", SkipReport())


def test_language_filter(tmp_path):
    write_wav(tmp_path / "en.wav")
    write_text(tmp_path / "en.lrc", "[la:English]\n[00:01.00]hello\n")
    write_wav(tmp_path / "fr.wav")
    write_text(tmp_path / "fr.json", json.dumps({"language": "fr", "lines": [{"start": 1, "text": "salut"}]}))
    write_wav(tmp_path / "none.wav")
    write_text(tmp_path / "none.csv", "start,end,text\n1,2,hi\n")
    assert [s.language for s in read_folder(tmp_path, SkipReport())] == ["english", "fr", ""]
    report = SkipReport()
    assert [s.id for s in read_folder(tmp_path, report, languages=["ENGLISH"])] == ["en"]
    reasons = {s.item: s.reason for s in report.skipped}
    assert reasons["fr"] == "language is 'fr', not one of english; add it to languages to read this song"
    assert reasons["none"].startswith("states no language, and only english songs are read; add a [la:] tag")

    write_text(
        tmp_path / "pairs.csv", "audio_path,lyrics,language\nen.wav,hello,English\nfr.wav,salut,fr\nnone.wav,hi,\n"
    )
    report = SkipReport()
    assert [s.language for s in read_pairs(tmp_path / "pairs.csv", report, languages="english,fr")] == ["english", "fr"]
    assert [s.item for s in report.skipped] == ["line 4"]


def test_prepared_by_the_corpus_pipeline(tmp_path):
    from songalign.corpus.prepare import prepare_corpus

    write_wav(tmp_path / "songs" / "Band - Tune.wav", seconds=30.0)
    lrc = "[la:english]\n" + "".join(f"[00:{2 * i:02d}.00]line number {i}\n" for i in range(12))
    write_text(tmp_path / "songs" / "Band - Tune.lrc", lrc)
    result = prepare_corpus("folder", tmp_path / "songs", tmp_path / "out", progress=False, languages=["english"])
    assert [s.id for s in result.manifest.songs] == ["Band - Tune"]
    assert [(s.start, s.end) for s in result.manifest.segments] == [(0.0, 10.0), (10.0, 20.0), (20.0, 27.0)]

    write_text(tmp_path / "songs" / "pairs.csv", "audio_path,lyrics,description\nBand - Tune.wav,la la,calm\n")
    result = prepare_corpus("pairs", tmp_path / "songs" / "pairs.csv", tmp_path / "out2", progress=False)
    (segment,) = result.manifest.segments
    assert (segment.text, segment.description, segment.start, segment.end) == ("la la", "calm", 0.0, 30.0)


def test_registered_under_their_names():
    assert READERS["folder"] is read_folder
    assert READERS["pairs"] is read_pairs
