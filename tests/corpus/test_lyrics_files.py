"""Every timed-lyrics format: written, read back, and read as other programs write it."""

from __future__ import annotations

import json
import math

import pytest

from songalign.corpus.lyrics_files import (
    LINE_COLUMNS,
    WORD_COLUMNS,
    PlainLyrics,
    lrc_time,
    read_jamendo_lines_csv,
    read_jamendo_words_csv,
    read_lrc,
    read_plain_lyrics,
    read_timed_csv,
    read_timed_json,
    read_words_txt,
    write_jamendo_lines_csv,
    write_jamendo_words_csv,
    write_lrc,
    write_plain_lyrics,
    write_timed_csv,
    write_timed_json,
    write_words_txt,
)
from songalign.corpus.readers.jamendo import _read_lines, _read_words
from songalign.corpus.records import Line, Word
from songalign.errors import BadInputError, SongalignError


def spans(items) -> list[tuple]:
    """``(text, start, end)`` of lines or words."""
    return [(item.text, item.start, item.end) for item in items]


def near(items, seconds: float = 5e-3) -> list[tuple]:
    """What :func:`spans` of ``items`` read back may be: times within ``seconds`` (LRC keeps 10 ms)."""
    return [(text, pytest.approx(a, abs=seconds), pytest.approx(b, abs=seconds)) for text, a, b in spans(items)]


def aligned_example() -> tuple[list[Word], list[Line]]:
    words = [
        Word("Don't", 1.0, 1.4, 0),
        Word("stop,", 1.5, 2.0, 0),
        Word("believin'", 2.25, 3.123456, 0),
        Word("hold", 4.0, 4.5, 1),
        Word("on", 4.6, 5.2, 1),
        Word("feelin'", 65.01, 66.5, 2),
    ]
    lines = [
        Line("Don't stop, believin'", 1.0, 3.123456),
        Line("hold on", 4.0, 5.2),
        Line("feelin'", 65.01, 66.5),
    ]
    return words, lines


# ---------------------------------------------------------------------------------------------- LRC


def test_lrc_reads_back_through_the_folder_reader(tmp_path):
    _, lines = aligned_example()
    lines = [*lines[:1], Line("right on", 3.123456, 3.9), *lines[1:]]  # a line that ends where the next starts
    path = write_lrc(tmp_path / "song.lrc", lines)
    rows = path.read_text(encoding="utf-8").splitlines()
    assert rows[:3] == ["[00:01.00]Don't stop, believin'", "[00:03.12]right on", "[00:03.90]"]
    assert rows[-2:] == ["[01:05.01]feelin'", "[01:06.50]"]
    read_lines, _ = read_lrc(path).lines_and_words()
    assert [line.text for line in read_lines] == [line.text for line in lines]
    for got, want in zip(read_lines, lines, strict=True):
        assert got.start == pytest.approx(want.start, abs=0.005) and got.end == pytest.approx(want.end, abs=0.005)


def test_lrc_times_and_bad_lines():
    assert lrc_time(0.0) == "00:00.00" and lrc_time(59.996) == "01:00.00" and lrc_time(754.321) == "12:34.32"
    with pytest.raises(SongalignError, match="line 1"):
        write_lrc("unused.lrc", [Line("a", 2.0, 3.0), Line("b", 1.0, 1.5)])
    with pytest.raises(SongalignError, match="start <= end"):
        write_lrc("unused.lrc", [Line("a", 2.0, 1.0)])


def test_lrc_round_trips_metadata_and_word_tags(tmp_path):
    lines = [Line("Hold on", 1.0, 2.5), Line("let it go", 3.0, 4.2)]
    words = [
        Word("Hold", 1.0, 1.4, 0),  # ends before the next word: an end tag of its own
        Word("on", 1.5, 2.0, 0),  # its line goes on after it, to 2.5
        Word("let", 3.0, 3.3, 1),
        Word("it", 3.3, 3.6, 1),
        Word("go", 3.6, 4.2, 1),
    ]
    path = write_lrc(
        tmp_path / "song.lrc",
        lines,
        words=words,
        title="Night Drive",
        artist="The Band",
        language="English",
        extra={"album": "Roads", "lrc_author": "songalign", "annotation_path": "not an LRC tag"},
    )
    assert path.read_text(encoding="utf-8").splitlines() == [
        "[ti:Night Drive]",
        "[ar:The Band]",
        "[la:English]",
        "[al:Roads]",
        "[by:songalign]",
        "[00:01.00]<00:01.00>Hold <00:01.40> <00:01.50>on <00:02.00> <00:02.50>",
        "[00:02.50]",
        "[00:03.00]<00:03.00>let <00:03.30>it <00:03.60>go <00:04.20>",
        "[00:04.20]",
    ]
    lyrics = read_lrc(path)
    assert (lyrics.title, lyrics.artist, lyrics.language) == ("Night Drive", "The Band", "english")
    assert lyrics.extra == {"album": "Roads", "lrc_author": "songalign"}
    assert lyrics.problems == []
    read_lines, read_words = lyrics.lines_and_words()
    assert spans(read_lines) == near(lines)
    assert spans(read_words) == near(words)
    assert [word.line for word in read_words] == [word.line for word in words]


def test_lrc_word_tags_of_a_repeated_line_follow_each_of_its_times(tmp_path):
    path = tmp_path / "chorus.lrc"
    path.write_text(
        "[offset:-250]\n"  # a negative offset shows the lyrics 0.25 s later than their tags
        "Chorus (untimed text, not lyrics)\n"
        "[00:10.00][00:30.00]<00:10.00>la <00:10.50>di <00:11.00>\n",
        encoding="utf-8",
    )
    lines, words = read_lrc(path).lines_and_words(duration=60.0)
    assert spans(lines) == near([Line("la di", 10.25, 11.25), Line("la di", 30.25, 31.25)])
    assert spans(words) == near(
        [Word("la", 10.25, 10.75), Word("di", 10.75, 11.25), Word("la", 30.25, 30.75), Word("di", 30.75, 31.25)]
    )
    assert [word.line for word in words] == [0, 0, 1, 1]


def test_lrc_words_must_belong_to_and_spell_their_lines(tmp_path):
    lines = [Line("Hold on", 1.0, 2.0)]
    with pytest.raises(SongalignError, match="belongs to line 1, which is not one of the 1 lines"):
        write_lrc(tmp_path / "a.lrc", lines, words=[Word("Hold", 1.0, 1.5, 0), Word("on", 1.5, 2.0, 1)])
    with pytest.raises(SongalignError, match="do not spell it"):
        write_lrc(tmp_path / "a.lrc", lines, words=[Word("Hold", 1.0, 1.5, 0), Word("off", 1.5, 2.0, 0)])
    with pytest.raises(SongalignError, match="0 <= start <= end"):
        write_lrc(tmp_path / "a.lrc", lines, words=[Word("Hold", 1.0, 1.5, 0), Word("on", 1.9, 1.6, 0)])


def test_an_lrc_without_timed_lines_is_refused_in_one_sentence(tmp_path):
    path = tmp_path / "plain.lrc"
    path.write_text("[ti:Title]\nno tags here\n", encoding="utf-8")
    with pytest.raises(BadInputError, match=r"holds no timed lines \(\[mm:ss.xx\]text\)"):
        read_lrc(path)


# -------------------------------------------------------------------------------- timed CSV and JSON


def test_timed_csv_round_trips_lines(tmp_path):
    lines = [Line('Hello, "world"', 0.5, 2.25), Line("naïve café", 2.25, 4.123456)]
    path = write_timed_csv(tmp_path / "song.csv", lines)
    assert path.read_text(encoding="utf-8").splitlines()[:2] == ["start,end,text", '0.5000,2.2500,"Hello, ""world"""']
    lyrics = read_timed_csv(path)
    assert lyrics.problems == []
    read_lines, read_words = lyrics.lines_and_words()
    assert [line.text for line in read_lines] == [line.text for line in lines] and read_words == []
    for got, want in zip(read_lines, lines, strict=True):
        assert got.start == pytest.approx(want.start, abs=5e-5) and got.end == pytest.approx(want.end, abs=5e-5)


def test_timed_csv_leaves_out_bad_rows_and_refuses_a_bad_header(tmp_path):
    path = tmp_path / "song.csv"
    path.write_text("start_time,end_time,lyrics_line\n1:02.5,,first\nsoon,3,second\n", encoding="utf-8")
    lyrics = read_timed_csv(path)
    assert [(e.start, e.end, e.text) for e in lyrics.entries] == [(62.5, None, "first")]
    assert lyrics.problems == [
        "line 3 has a start 'soon' that is not a time in seconds or mm:ss.xx; it was left out, fix it to keep that line"
    ]
    path.write_text("begin,words\n1,la\n", encoding="utf-8")
    with pytest.raises(BadInputError, match="has the header 'begin,words' but it needs the columns start,end,text"):
        read_timed_csv(path)


def test_timed_json_round_trips_lines_words_and_metadata_exactly(tmp_path):
    words, lines = aligned_example()
    path = write_timed_json(
        tmp_path / "song.json", lines, words=words, title="Journey", artist="A Band", language="english"
    )
    document = json.loads(path.read_text(encoding="utf-8"))
    assert document["lines"][1] == {
        "start": 4.0,
        "end": 5.2,
        "text": "hold on",
        "words": [{"start": 4.0, "end": 4.5, "text": "hold"}, {"start": 4.6, "end": 5.2, "text": "on"}],
    }
    lyrics = read_timed_json(path)
    assert (lyrics.title, lyrics.artist, lyrics.language, lyrics.problems) == ("Journey", "A Band", "english", [])
    assert lyrics.lines_and_words() == (lines, words)


def test_timed_json_refuses_what_is_not_lyrics(tmp_path):
    path = tmp_path / "song.json"
    path.write_text('{"lines": 3}', encoding="utf-8")
    with pytest.raises(BadInputError, match='holds neither a list of {"start", "end", "text"} objects'):
        read_timed_json(path)
    path.write_text("[{", encoding="utf-8")
    with pytest.raises(BadInputError, match="is not valid JSON"):
        read_timed_json(path)


# ---------------------------------------------------------------------------------- plain lyrics


def test_plain_lyrics_round_trip_with_both_views(tmp_path):
    paragraphs = [["Hold on", "let it go"], ["la la la"]]
    path = write_plain_lyrics(tmp_path / "song.txt", paragraphs)
    assert path.read_text(encoding="utf-8") == "Hold on\nlet it go\n\nla la la\n"
    lyrics = read_plain_lyrics(path)
    assert lyrics == PlainLyrics(paragraphs)
    assert lyrics.lines == ["Hold on", "let it go", "la la la"]


def test_plain_lyrics_as_people_type_them(tmp_path):
    path = tmp_path / "song.txt"
    path.write_bytes("\ufeff\n  Hold   on \r\nlet it go\r\n \t \r\n\r\nla la la\n\n".encode())
    assert read_plain_lyrics(path).paragraphs == [["Hold on", "let it go"], ["la la la"]]
    path.write_text(" \n\n", encoding="utf-8")
    assert read_plain_lyrics(path) == PlainLyrics([])
    with pytest.raises(BadInputError, match="holds no lyric lines; write the song's lyrics in it"):
        read_plain_lyrics(path, require_lines=True)
    with pytest.raises(BadInputError, match="is not a file; give the song's lyrics as a .txt file"):
        read_plain_lyrics(tmp_path / "missing.txt")


def test_words_txt_round_trips(tmp_path):
    texts = ["Don't", "stop,", "naïve"]
    path = write_words_txt(tmp_path / "song.words.txt", texts)
    assert path.read_text(encoding="utf-8") == "Don't\nstop,\nnaïve\n"
    assert read_words_txt(path) == texts
    path.write_text(" Don't \n\nstop,\n", encoding="utf-8")
    assert read_words_txt(path) == ["Don't", "stop,"]


# ------------------------------------------------------------------------------------ JamendoLyrics


def test_jamendo_csvs_read_back_through_the_jamendo_reader(tmp_path):
    words, lines = aligned_example()
    (tmp_path / "annotations" / "words").mkdir(parents=True)
    (tmp_path / "annotations" / "lines").mkdir(parents=True)
    (tmp_path / "lyrics").mkdir()
    (tmp_path / "lyrics" / "Song_-_X.words.txt").write_text("".join(w.text + "\n" for w in words), encoding="utf-8")
    words_path = write_jamendo_words_csv(tmp_path / "annotations" / "words" / "Song_-_X.csv", words)
    lines_path = write_jamendo_lines_csv(tmp_path / "annotations" / "lines" / "Song_-_X.csv", lines)

    raw = words_path.read_text(encoding="utf-8").splitlines()
    assert raw[0] == ",".join(WORD_COLUMNS)
    assert raw[1:4] == ["1.0000,1.4000,nan", "1.5000,2.0000,nan", "2.2500,3.1235,3.1235"]
    assert lines_path.read_text(encoding="utf-8").splitlines()[0] == ",".join(LINE_COLUMNS)

    read_words = _read_words(tmp_path, "Song_-_X")
    assert [(w.text, w.line) for w in read_words] == [(w.text, w.line) for w in words]
    for got, want in zip(read_words, words, strict=True):
        assert got.start == pytest.approx(want.start, abs=5e-5) and got.end == pytest.approx(want.end, abs=5e-5)
    read_lines = _read_lines(tmp_path, "Song_-_X")
    assert [line.text for line in read_lines] == [line.text for line in lines]
    for got, want in zip(read_lines, lines, strict=True):
        assert got.start == pytest.approx(want.start, abs=5e-5) and got.end == pytest.approx(want.end, abs=5e-5)


def test_jamendo_csvs_round_trip_and_keep_unreadable_times_as_nan(tmp_path):
    words, lines = aligned_example()
    read_words = read_jamendo_words_csv(write_jamendo_words_csv(tmp_path / "words.csv", words))
    assert [(w.text, w.line) for w in read_words] == [("", w.line) for w in words]  # texts live in words.txt
    assert spans(read_words) == [("", start, end) for _, start, end in near(words, 5e-5)]
    read_lines = read_jamendo_lines_csv(write_jamendo_lines_csv(tmp_path / "lines.csv", lines))
    assert spans(read_lines) == near(lines, 5e-5)
    # A JamendoLyrics line CSV is a timed CSV too (its column names are accepted there).
    assert spans(read_timed_csv(tmp_path / "lines.csv").lines_and_words()[0]) == near(lines, 5e-5)

    (tmp_path / "lines.csv").write_text("start_time,end_time,lyrics_line\n1.0,?,la\n", encoding="utf-8")
    (only,) = read_jamendo_lines_csv(tmp_path / "lines.csv")
    assert only.text == "la" and only.start == 1.0 and math.isnan(only.end)


def test_jamendo_csvs_with_a_wrong_header_are_refused_naming_it(tmp_path):
    path = tmp_path / "words.csv"
    path.write_text("start,word_end\n1,2\n", encoding="utf-8")
    with pytest.raises(BadInputError, match=r"missing column\(s\) word_start; the header must be word_start,word_end"):
        read_jamendo_words_csv(path)
    path = tmp_path / "lines.csv"
    path.write_text("start_time,end_time,text\n1,2,la\n", encoding="utf-8")
    with pytest.raises(BadInputError, match="the header must be start_time,end_time,lyrics_line"):
        read_jamendo_lines_csv(path)
