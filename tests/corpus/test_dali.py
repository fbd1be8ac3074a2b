"""The DALI reader on real ``DALI.Annotations`` objects written the way the DALI package writes them."""

from __future__ import annotations

import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

DALI = pytest.importorskip("DALI")
from DALI import utilities as dali_utilities  # noqa: E402

from songalign.corpus.readers import READERS  # noqa: E402
from songalign.corpus.readers.dali import read_dali  # noqa: E402
from songalign.errors import SkipReport, SongalignError  # noqa: E402

SAMPLE_RATE = 8000


def _item(text, start, end, freq, index=None):
    item = {"text": text, "time": [start, end], "freq": [freq[0], freq[1]]}
    if index is not None:
        item["index"] = index
    return item


def make_entry(dali_id: str, language: str = "english") -> DALI.Annotations:
    """One song: a paragraph of two lines, four words and five notes (times in seconds)."""
    entry = DALI.Annotations(dali_id)
    entry.info["artist"] = "The Testers"
    entry.info["title"] = f"Song {dali_id}"
    entry.info["audio"] = {"url": "yt-" + dali_id, "working": True, "path": "None"}
    entry.info["metadata"] = {
        "album": "First Album",
        "release_date": "1999",
        "genres": ["Pop", "Rock"],
        "language": language,
    }
    entry.info["scores"] = {"NCC": 0.91, "manual": 0.0}
    entry.annotations["type"] = "horizontal"
    entry.annotations["annot"] = {
        "paragraphs": [_item("hello world la la", 1.0, 4.0, (220.0, 880.0))],
        "lines": [
            _item("hello world", 1.0, 2.0, (261.63, 440.0), 0),
            _item("la la", 2.5, 4.0, (220.0, 880.0), 0),
        ],
        "words": [
            _item("hello", 1.0, 1.5, (261.63, 440.0), 0),
            _item("world", 1.5, 2.0, (430.0, 450.0), 0),
            _item("la", 2.5, 3.0, (880.0, 880.0), 1),
            _item("la", 3.0, 4.0, (220.0, 220.0), 1),
        ],
        "notes": [
            _item("hel", 1.0, 1.2, (440.0, 440.0), 0),
            _item("lo", 1.2, 1.5, (261.6255653, 261.6255653), 0),
            _item("world", 1.5, 2.0, (430.0, 450.0), 1),
            _item("la", 2.5, 3.0, (880.0, 880.0), 2),
            _item("la", 3.0, 4.0, (220.0, 220.0), 3),
        ],
    }
    return entry


def write_entry(folder: Path, entry) -> Path:
    """Gzip-pickle ``entry`` exactly as DALI does (``utilities.write_in_gzip``, protocol 2)."""
    folder.mkdir(parents=True, exist_ok=True)
    dali_utilities.write_in_gzip(str(folder.resolve()), entry.info["id"], entry)
    return folder / f"{entry.info['id']}.gz"


def write_wav(path: Path, seconds: float = 5.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    t = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    sf.write(path, (0.1 * np.sin(2 * np.pi * 440.0 * t)).astype(np.float32), SAMPLE_RATE)
    return path


@pytest.fixture
def corpus(tmp_path: Path) -> tuple[Path, Path]:
    """``tmp/annot`` with songs a1 (english), b2 (french), c3 (no language); ``tmp/wavs`` with their audio."""
    annot, audio = tmp_path / "annot", tmp_path / "wavs"
    write_entry(annot, make_entry("a1"))
    write_entry(annot, make_entry("b2", language="french"))
    write_entry(annot, make_entry("c3", language="None"))
    for dali_id in ("a1", "b2", "c3"):
        write_wav(audio / f"{dali_id}.wav")
    return annot, audio


def test_reads_horizontal_annotations(corpus):
    annot, audio = corpus
    report = SkipReport()
    songs = list(read_dali(annot, report, audio_dir=audio, trust_pickles=True))
    assert [s.id for s in songs] == ["a1"]
    song = songs[0]
    assert (song.title, song.artist, song.language, song.genre) == ("Song a1", "The Testers", "english", "Pop")
    assert song.audio_path == str((audio / "a1.wav").resolve())
    assert song.duration is None
    assert song.extra == {
        "album": "First Album",
        "release_date": "1999",
        "genres": ["Pop", "Rock"],
        "url": "yt-a1",
        "working": True,
        "ncc": 0.91,
        "dataset_version": 0.0,
        "ground_truth": False,
        "annotation_path": str((annot / "a1.gz").resolve()),
    }
    assert [(p.text, p.start, p.end) for p in song.paragraphs] == [("hello world la la", 1.0, 4.0)]
    assert [(x.text, x.start, x.end, x.paragraph) for x in song.lines] == [
        ("hello world", 1.0, 2.0, 0),
        ("la la", 2.5, 4.0, 0),
    ]
    assert [(w.text, w.start, w.end, w.line) for w in song.words] == [
        ("hello", 1.0, 1.5, 0),
        ("world", 1.5, 2.0, 0),
        ("la", 2.5, 3.0, 1),
        ("la", 3.0, 4.0, 1),
    ]
    assert [(n.text, n.start, n.end, n.word) for n in song.notes] == [
        ("hel", 1.0, 1.2, 0),
        ("lo", 1.2, 1.5, 0),
        ("world", 1.5, 2.0, 1),
        ("la", 2.5, 3.0, 2),
        ("la", 3.0, 4.0, 3),
    ]
    # 440 Hz is A4 = MIDI 69; middle C (261.63 Hz) is 60; 880 Hz and 220 Hz are an octave either side of A4;
    # the note at [430, 450] Hz takes the mean of its range, 440 Hz.
    assert [n.pitch for n in song.notes] == pytest.approx([69.0, 60.0, 69.0, 81.0, 57.0], abs=1e-6)
    song.to_dict()  # extras are JSON-friendly plain values


def test_vertical_annotations_are_converted_with_the_package(corpus, tmp_path):
    _, audio = corpus
    entry = make_entry("v9")
    entry.horizontal2vertical()  # DALI's own conversion to its hierarchical layout
    assert entry.is_vertical()
    folder = tmp_path / "vertical"
    write_entry(folder, entry)
    write_wav(audio / "v9.wav")
    (song,) = read_dali(folder, SkipReport(), audio_dir=audio, trust_pickles=True)
    assert [(w.text, w.start, w.end, w.line) for w in song.words] == [
        ("hello", 1.0, 1.5, 0),
        ("world", 1.5, 2.0, 0),
        ("la", 2.5, 3.0, 1),
        ("la", 3.0, 4.0, 1),
    ]
    assert [(x.text, x.start, x.end, x.paragraph) for x in song.lines] == [
        ("hello world", 1.0, 2.0, 0),
        ("la la", 2.5, 4.0, 0),
    ]
    assert [p.text for p in song.paragraphs] == ["hello world la la"]
    assert [(n.start, n.word) for n in song.notes] == [(1.0, 0), (1.2, 0), (1.5, 1), (2.5, 2), (3.0, 3)]
    assert [n.pitch for n in song.notes] == pytest.approx([69.0, 60.0, 69.0, 81.0, 57.0], abs=1e-6)


def test_language_filter(corpus):
    annot, audio = corpus
    report = SkipReport()
    assert [s.id for s in read_dali(annot, report, audio_dir=audio, trust_pickles=True)] == ["a1"]
    # one entry per song skipped for its language, naming the language
    assert [(Path(s.path).name, s.item) for s in report.skipped] == [("b2.gz", "b2"), ("c3.gz", "c3")]
    assert "'french'" in report.skipped[0].reason and "not given" in report.skipped[1].reason

    french = list(read_dali(annot, SkipReport(), audio_dir=audio, trust_pickles=True, languages=["French"]))
    assert [s.id for s in french] == ["b2"]
    every = list(read_dali(annot, SkipReport(), audio_dir=audio, trust_pickles=True, languages=None))
    assert [s.id for s in every] == ["a1", "b2", "c3"]
    assert every[2].language == ""  # DALI writes the string 'None' for an unknown value


def test_song_without_audio_is_skipped(corpus):
    annot, audio = corpus
    (audio / "a1.wav").unlink()
    write_wav(audio / "b2.flac")  # another id's audio in another format does not count
    report = SkipReport()
    songs = list(read_dali(annot, report, audio_dir=audio, trust_pickles=True, languages=None))
    assert [s.id for s in songs] == ["b2", "c3"]
    assert songs[0].audio_path.endswith("b2.wav")  # .wav comes before .flac in AUDIO_EXTENSIONS
    (skipped,) = report.skipped
    assert skipped.item == "a1"
    assert f"no audio file a1.<ext> in {audio.resolve()}" in skipped.reason
    assert "DALI.get_audio" in skipped.reason


def test_default_audio_folders(tmp_path):
    annot = tmp_path / "dali" / "annot"
    write_entry(annot, make_entry("a1"))

    report = SkipReport()
    assert list(read_dali(annot, report, trust_pickles=True)) == []
    (skipped,) = report.skipped
    assert "no audio_dir was given" in skipped.reason and "DALI.get_audio" in skipped.reason

    write_wav(tmp_path / "dali" / "audio" / "a1.wav")  # beside the annotation folder
    (song,) = read_dali(annot, SkipReport(), trust_pickles=True)
    assert Path(song.audio_path) == (tmp_path / "dali" / "audio" / "a1.wav").resolve()

    write_wav(annot / "audio" / "a1.flac")  # inside the annotation folder wins
    (song,) = read_dali(annot, SkipReport(), trust_pickles=True)
    assert Path(song.audio_path) == (annot / "audio" / "a1.flac").resolve()

    # a single annotation file can be read too
    (song,) = read_dali(annot / "a1.gz", SkipReport(), trust_pickles=True)
    assert song.id == "a1"


def test_corrupt_and_foreign_files_are_skipped(corpus):
    annot, audio = corpus
    good = (annot / "a1.gz").read_bytes()
    (annot / "x1.gz").write_bytes(b"this is not gzip at all")
    (annot / "x2.gz").write_bytes(good[: len(good) // 2])  # truncated download
    with gzip.open(annot / "x3.gz", "wb") as handle:
        handle.write(pickle.dumps(["a", "list"], protocol=2))
    for name in ("x1", "x2", "x3"):
        write_wav(audio / f"{name}.wav")
    report = SkipReport()
    songs = list(read_dali(annot, report, audio_dir=audio, trust_pickles=True, languages=None))
    assert [s.id for s in songs] == ["a1", "b2", "c3"]
    reasons = {s.item: s.reason for s in report.skipped}
    assert set(reasons) == {"x1", "x2", "x3"}
    assert "cannot be read as a DALI annotation file" in reasons["x1"]
    assert "cannot be read as a DALI annotation file" in reasons["x2"]
    assert "not a DALI Annotations object" in reasons["x3"]


def test_untrusted_pickles_are_refused_before_any_is_loaded(tmp_path):
    marker = tmp_path / "pwned"

    class Payload:
        def __reduce__(self):
            return (open, (str(marker), "w"))  # what a hostile pickle could do on load

    annot = tmp_path / "annot"
    annot.mkdir()
    with gzip.open(annot / "evil.gz", "wb") as handle:
        handle.write(pickle.dumps(Payload()))
    with pytest.raises(SongalignError) as caught:
        read_dali(annot, SkipReport(), audio_dir=tmp_path)
    message = str(caught.value)
    assert "pickles" in message and "run any code" in message and "--trust-pickles" in message
    assert "trust" in message.split("--trust-pickles")[1]
    assert not marker.exists()


def test_unusable_sources_raise(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(SongalignError, match="holds no DALI annotation files"):
        read_dali(tmp_path / "empty", SkipReport(), trust_pickles=True)
    write_entry(tmp_path / "annot", make_entry("a1"))
    with pytest.raises(SongalignError, match="audio folder .* does not exist"):
        read_dali(tmp_path / "annot", SkipReport(), audio_dir=tmp_path / "nowhere", trust_pickles=True)


def test_broken_values_do_not_crash(tmp_path):
    entry = make_entry("a1")
    annot = entry.annotations["annot"]
    annot["notes"][0]["freq"] = [0.0, 0.0]  # unvoiced: no pitch
    annot["words"][1]["time"] = [float("nan"), 2.0]  # repaired later by clean_song, not here
    annot["words"][2].pop("index")
    annot["words"][3]["time"] = None
    write_entry(tmp_path / "annot", entry)
    write_wav(tmp_path / "audio" / "a1.wav")
    report = SkipReport()
    (song,) = read_dali(tmp_path / "annot", report, trust_pickles=True)
    assert len(song.notes) == 4 and song.notes[0].text == "lo"
    assert "1 note(s) have no positive frequency" in report.skipped[0].reason
    assert np.isnan(song.words[1].start) and song.words[2].line == -1 and np.isnan(song.words[3].end)


def test_prepared_by_the_corpus_pipeline(corpus, tmp_path):
    from songalign.corpus.prepare import prepare_corpus
    from songalign.corpus.segmenter import SegmenterConfig

    annot, audio = corpus
    result = prepare_corpus(
        "dali",
        annot,
        tmp_path / "out",
        segmenter=SegmenterConfig(min_duration=1.0),
        progress=False,
        audio_dir=audio,
        trust_pickles=True,
        languages=["english"],
    )
    assert [s.id for s in result.manifest.songs] == ["a1"]
    assert result.manifest.songs[0].duration == pytest.approx(5.0)
    assert [(s.text, s.start, s.end) for s in result.manifest.segments] == [("hello world\nla la", 1.0, 4.0)]


def test_registered_under_its_name():
    assert READERS["dali"] is read_dali
