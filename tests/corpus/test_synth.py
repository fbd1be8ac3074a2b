"""The synthetic corpus generator: layout, ground truth, timing honesty, determinism."""

from __future__ import annotations

import csv
import json
import math
from collections import Counter
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from songalign.corpus.synth import EMOTIONS, GENERATOR_VERSION, lyrics, plan_corpus, synthesize_corpus
from songalign.corpus.synth.render import stems
from songalign.corpus.synth.song import BREAK_MIN, INTRO_MIN, LINE_GAP, SECTION_SPAN, compose_song
from songalign.corpus.synth.voice import SAMPLE_RATE, VOICES, Singer, audible_span, estimate_f0
from songalign.errors import SongalignError

SEED, N_SONGS, DURATION = 0, 3, 25.0  # seed 0 has songs whose sections change emotion
SEGMENTER_MAX_GAP = 3.0  # seconds: the segmenter's default largest gap inside a segment


def read_csv(path: Path) -> list[dict[str, str]]:
    with path.open(newline="", encoding="utf-8") as handle:
        return list(csv.DictReader(handle))


def header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8") as handle:
        return next(csv.reader(handle))


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("synth") / "corpus"
    done = []
    summary = synthesize_corpus(out, n_songs=N_SONGS, seed=SEED, workers=2, duration=DURATION, progress=done.append)
    assert done == list(range(1, N_SONGS + 1))
    assert summary.n_songs == N_SONGS and len(summary.songs) == N_SONGS
    assert sum(summary.emotions.values()) == summary.n_sections
    return out


@pytest.fixture(scope="module")
def names(corpus) -> list[str]:
    return [row["Filepath"].removesuffix(".mp3") for row in read_csv(corpus / "JamendoLyrics.csv")]


def test_layout_and_headers(corpus, names):
    assert header(corpus / "JamendoLyrics.csv") == [
        "URL", "Filepath", "Artist", "Title", "Genre", "LicenseType", "Language", "LyricOverlap", "Polyphonic",
        "NonLexical",
    ]  # fmt: skip
    rows = read_csv(corpus / "JamendoLyrics.csv")
    assert len(rows) == N_SONGS and len(set(names)) == N_SONGS
    assert {row["Language"] for row in rows} == {"English"}
    assert all(row["Genre"] and row["LicenseType"].startswith("CC BY") for row in rows)
    for name in names:
        assert (corpus / "mp3" / f"{name}.mp3").is_file()
        assert (corpus / "lyrics" / f"{name}.txt").is_file()
        assert (corpus / "lyrics" / f"{name}.words.txt").is_file()
        assert header(corpus / "annotations" / "words" / f"{name}.csv") == ["word_start", "word_end", "line_end"]
        assert header(corpus / "annotations" / "lines" / f"{name}.csv") == ["start_time", "end_time", "lyrics_line"]
        assert header(corpus / "metadata" / "notes" / f"{name}.csv") == ["start", "end", "pitch", "word_index", "word"]
    assert header(corpus / "metadata" / "segments.csv") == [
        "Filepath", "section", "start", "end", "emotion", "valence", "arousal", "caption", "lyrics",
    ]  # fmt: skip
    assert len(read_csv(corpus / "metadata" / "songs.csv")) == N_SONGS
    manifest = json.loads((corpus / "metadata" / "synth.json").read_text(encoding="utf-8"))
    assert (manifest["version"], manifest["seed"], manifest["n_songs"]) == (GENERATOR_VERSION, SEED, N_SONGS)


def test_names_look_like_jamendo():
    stems_ = [spec.name for spec in plan_corpus(48, SEED, 40.0)]
    assert len(set(stems_)) == 48
    assert any(not s.isascii() for s in stems_)
    for mark in ("&", "'", "(", "_-_"):
        assert any(mark in s for s in stems_), mark
    assert not any("/" in s or " " in s for s in stems_)


def test_lyrics_and_word_annotations_agree(corpus, names):
    for name in names:
        text = (corpus / "lyrics" / f"{name}.txt").read_text(encoding="utf-8")
        paragraphs = text.strip("\n").split("\n\n")
        lines = [line for paragraph in paragraphs for line in paragraph.split("\n")]
        words_txt = (corpus / "lyrics" / f"{name}.words.txt").read_text(encoding="utf-8").split("\n")[:-1]
        assert words_txt == [w for line in lines for w in line.split()]
        assert all(lyrics.MIN_WORDS <= len(line.split()) <= lyrics.MAX_WORDS for line in lines)

        line_rows = read_csv(corpus / "annotations" / "lines" / f"{name}.csv")
        assert [row["lyrics_line"] for row in line_rows] == lines
        word_rows = read_csv(corpus / "annotations" / "words" / f"{name}.csv")
        assert len(word_rows) == len(words_txt)
        starts = [float(row["word_start"]) for row in word_rows]
        ends = [float(row["word_end"]) for row in word_rows]
        assert not any(math.isnan(t) for t in starts + ends)
        assert all(s < e for s, e in zip(starts, ends, strict=True))
        assert all(e <= s for e, s in zip(ends, starts[1:], strict=False)), "words overlap"

        # line_end is nan except on each line's last word, where it is that word's end
        sizes = [len(line.split()) for line in lines]
        last = set(np.cumsum(sizes) - 1)
        for i, row in enumerate(word_rows):
            assert (row["line_end"] == row["word_end"]) if i in last else (row["line_end"] == "nan")
        first = np.concatenate([[0], np.cumsum(sizes)[:-1]])
        for row, a, b in zip(line_rows, first, np.cumsum(sizes) - 1, strict=True):
            assert row["start_time"] == word_rows[a]["word_start"] and row["end_time"] == word_rows[b]["word_end"]


def test_sections_are_the_segments(corpus, names):
    segments = read_csv(corpus / "metadata" / "segments.csv")
    songs = {row["Filepath"]: row for row in read_csv(corpus / "metadata" / "songs.csv")}
    for name in names:
        rows = [row for row in segments if row["Filepath"] == f"{name}.mp3"]
        paragraphs = (corpus / "lyrics" / f"{name}.txt").read_text(encoding="utf-8").strip("\n").split("\n\n")
        line_rows = read_csv(corpus / "annotations" / "lines" / f"{name}.csv")
        duration = float(songs[f"{name}.mp3"]["duration"])
        assert len(rows) == len(paragraphs) == len(songs[f"{name}.mp3"]["emotions"].split(";"))
        i = 0
        previous_end = 0.0
        for row, paragraph in zip(rows, paragraphs, strict=True):
            section_lines = line_rows[i : i + len(paragraph.split("\n"))]
            i += len(section_lines)
            assert 2 <= len(section_lines) <= 3
            assert row["lyrics"] == " / ".join(line["lyrics_line"] for line in section_lines)
            assert row["start"] == section_lines[0]["start_time"] and row["end"] == section_lines[-1]["end_time"]
            start, end = float(row["start"]), float(row["end"])
            assert SECTION_SPAN[0] <= end - start <= SECTION_SPAN[1]
            gaps = [
                float(b["start_time"]) - float(a["end_time"])
                for a, b in zip(section_lines, section_lines[1:], strict=False)
            ]
            assert all(LINE_GAP[0] - 1e-3 <= g <= LINE_GAP[1] for g in gaps)
            gap_before = start - previous_end
            if previous_end == 0.0:
                assert INTRO_MIN[0] <= gap_before < 3.0  # the intro
            else:
                assert gap_before > SEGMENTER_MAX_GAP and BREAK_MIN[0] <= gap_before <= 5.0
            previous_end = end
            assert row["emotion"] in EMOTIONS
            assert -1.0 <= float(row["valence"]) <= 1.0 and -1.0 <= float(row["arousal"]) <= 1.0
            assert "BPM" in row["caption"] and ("major" in row["caption"] or "minor" in row["caption"])
        assert BREAK_MIN[0] <= duration - previous_end <= 5.0  # the outro
    assert len({row["caption"].split()[0] for row in segments}) > 1, "captions share their opening word"


def test_some_songs_change_emotion(corpus):
    songs = read_csv(corpus / "metadata" / "songs.csv")
    assert any(len(set(row["emotions"].split(";"))) > 1 for row in songs)


def test_mp3_keeps_length_and_rate(corpus, names):
    songs = {row["Filepath"]: row for row in read_csv(corpus / "metadata" / "songs.csv")}
    for name in names:
        info = sf.info(str(corpus / "mp3" / f"{name}.mp3"))
        assert (info.samplerate, info.channels) == (SAMPLE_RATE, 1)
        audio, _ = sf.read(corpus / "mp3" / f"{name}.mp3", dtype="float32")
        assert abs(len(audio) / SAMPLE_RATE - float(songs[f"{name}.mp3"]["duration"])) < 1e-3
        words = read_csv(corpus / "annotations" / "words" / f"{name}.csv")
        assert float(words[-1]["word_end"]) < len(audio) / SAMPLE_RATE


def test_annotations_are_where_the_vocals_are(corpus, names):
    """Recompose each song (deterministic): its vocal stem is silent outside the annotated words,
    loud in the first 100 ms of every word, and the decoded mix is louder there than in the intro."""
    for spec, name in zip(plan_corpus(N_SONGS, SEED, DURATION), names, strict=True):
        assert spec.name == name
        song = compose_song(spec)
        vocals = stems(song)["vocals"]
        words = read_csv(corpus / "annotations" / "words" / f"{name}.csv")
        spans = [
            (round(float(w["word_start"]) * SAMPLE_RATE), round(float(w["word_end"]) * SAMPLE_RATE)) for w in words
        ]
        outside = np.ones(len(vocals), bool)
        for a, b in spans:
            outside[a:b] = False
        assert not np.any(vocals[outside]), "vocal samples outside the annotated words"
        window = int(0.1 * SAMPLE_RATE)
        sung_rms = np.sqrt(np.mean(np.concatenate([vocals[a:b] for a, b in spans]) ** 2))
        for a, _ in spans:
            assert np.sqrt(np.mean(vocals[a : a + window] ** 2)) > 0.05 * sung_rms  # within 26 dB of the average

        mix, _ = sf.read(corpus / "mp3" / f"{name}.mp3", dtype="float32")
        intro = np.sqrt(np.mean(mix[: spans[0][0]] ** 2))
        onsets = [np.sqrt(np.mean(mix[a : a + window] ** 2)) for a, _ in spans]
        assert np.mean(np.array(onsets) > intro) > 0.9


def test_notes_are_the_sung_words_in_tune(corpus, names):
    """One note per word, at the word's times; the voice sings the note's pitch (espeak's pitch
    setting is an integer and consonants blur the estimate, hence a tolerance)."""
    off_key = []
    for spec, name in zip(plan_corpus(N_SONGS, SEED, DURATION), names, strict=True):
        notes = read_csv(corpus / "metadata" / "notes" / f"{name}.csv")
        words = read_csv(corpus / "annotations" / "words" / f"{name}.csv")
        assert [(n["start"], n["end"]) for n in notes] == [(w["word_start"], w["word_end"]) for w in words]
        sung = [word for section in compose_song(spec).sections for line in section.lines for word in line.words]
        for note, word in zip(notes, sung, strict=True):
            assert float(note["pitch"]) == word.midi
            off_key.append(abs(69 + 12 * np.log2(estimate_f0(word.samples) / 440.0) - word.midi))
    assert np.mean(np.array(off_key) < 0.5) > 0.9, np.round(off_key, 2)


def test_same_seed_same_corpus_different_seed_different(corpus, names, tmp_path):
    again = synthesize_corpus(tmp_path / "again", n_songs=N_SONGS, seed=SEED, workers=1, duration=DURATION)
    texts = [p.relative_to(corpus) for p in corpus.rglob("*") if p.is_file() and p.suffix != ".mp3"]
    assert len(texts) > 5 * N_SONGS
    for path in texts:
        assert (again.out_dir / path).read_bytes() == (corpus / path).read_bytes(), path
    for name in names:
        a, _ = sf.read(corpus / "mp3" / f"{name}.mp3", dtype="float32")
        b, _ = sf.read(again.out_dir / "mp3" / f"{name}.mp3", dtype="float32")
        np.testing.assert_allclose(a, b, atol=1e-6)

    other = synthesize_corpus(tmp_path / "other", n_songs=1, seed=SEED + 1, duration=15.0)
    assert other.songs[0].id not in names
    assert other.songs[0].lines[0].text != again.songs[0].lines[0].text


def test_refuses_a_foreign_folder_and_replaces_its_own(tmp_path):
    (tmp_path / "notes.txt").write_text("mine", encoding="utf-8")
    with pytest.raises(SongalignError, match="not empty"):
        synthesize_corpus(tmp_path, n_songs=1, duration=15.0)
    with pytest.raises(SongalignError, match="n_songs"):
        synthesize_corpus(tmp_path / "new", n_songs=0)
    with pytest.raises(SongalignError, match="duration"):
        synthesize_corpus(tmp_path / "new", n_songs=1, duration=5.0)
    out = tmp_path / "corpus"
    synthesize_corpus(out, n_songs=2, seed=5, workers=1, duration=15.0)
    synthesize_corpus(out, n_songs=1, seed=6, workers=1, duration=15.0)
    assert len(list((out / "mp3").iterdir())) == 1
    assert len(read_csv(out / "JamendoLyrics.csv")) == 1


def test_singer_is_deterministic_in_tune_and_trimmed():
    voice = VOICES[0]
    words = ["moon", "tears", "celebrate"]
    with Singer(voice, rate=130) as singer:
        first = [singer.sing(w, 55.0) for w in words]
        low, high = singer.pitch_table.lowest, singer.pitch_table.highest
    with Singer(voice, rate=130) as singer:
        second = [singer.sing(w, 55.0) for w in words]
    for a, b in zip(first, second, strict=True):
        np.testing.assert_array_equal(a.samples, b.samples)
        start, stop = audible_span(a.samples)
        fade = int(0.003 * SAMPLE_RATE)  # the cut edges are faded over 3 ms
        assert start <= fade and stop >= len(a.samples) - fade  # trimmed to the audible span
    assert low < 55.0 < high
    sung = 69 + 12 * np.log2(estimate_f0(first[0].samples) / 440.0)
    assert abs(sung - 55.0) < 0.5


def test_lyric_lines_carry_their_emotion():
    """An NRC-lexicon reader finds each negative emotion and joy in its lines; love and calm read positive."""
    from nrclex import NRCLex
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    rng = np.random.default_rng(0)
    for emotion in EMOTIONS:
        counts: Counter[str] = Counter()
        valence = []
        for _ in range(60):
            line = lyrics.make_line(emotion, rng)
            reader = NRCLex()
            reader.load_token_list(line.lower().split())
            counts.update(
                {k: v for k, v in reader.raw_emotion_scores.items() if k in ("anger", "fear", "joy", "sadness")}
            )
            valence.append(vader.polarity_scores(line)["compound"])
        if emotion in ("anger", "fear", "joy", "sadness"):
            assert counts.most_common(1)[0][0] == emotion, (emotion, counts)
        expected_sign = 1 if emotion in ("joy", "love", "calm") else -1
        assert expected_sign * np.mean(valence) > 0.1, (emotion, np.mean(valence))
