"""The folder reader's plain ``.txt`` lyrics, timed by a transcriber (``--option aligner=MODEL_DIR``).

The transcriber is tiny and randomly initialised (saved here), so the times say nothing about the
singing; what is checked is the plumbing: every written line and word gets a time inside the
audio, in order, grouped into the file's paragraphs, and the songs become segments with text.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from typer.testing import CliRunner

from songalign.cli import app
from songalign.corpus.aligners import ALIGNERS, AlignedLyrics, LyricsAligner
from songalign.corpus.prepare import prepare_corpus
from songalign.corpus.readers.folder import UNALIGNED_KIND, UNTIMED_KIND, read_folder
from songalign.corpus.records import Line, Word
from songalign.corpus.testing import write_audio
from songalign.errors import SkipReport, SongalignError
from songalign.transcribe.model import Transcriber
from songalign.transcribe.testing import save_tiny_transcriber

SONG_LYRICS = {
    "Band - First": "Hello there my friend\nRock & roll tonight\n\n\n  Second   verse here  \nand the end\n",
    "Band - Second": "la la la\nsing it out\n",
}
"""Two songs' .txt lyrics: paragraphs split by (several) blank lines, a word ("&") with no letters to align."""


def save_transcriber(folder: Path, mode: str = "baseline", vocals: str = "mix") -> Path:
    return save_tiny_transcriber(folder, mode, vocals)


@pytest.fixture(scope="module")
def aligner(tmp_path_factory) -> Path:
    return save_transcriber(tmp_path_factory.mktemp("models") / "tiny")


def write_songs(folder: Path, seconds: float = 6.0) -> Path:
    for index, (stem, lyrics) in enumerate(SONG_LYRICS.items()):
        write_audio(folder / f"{stem}.wav", seconds, frequency=220.0 + 110.0 * index)
        (folder / f"{stem}.txt").write_text(lyrics, encoding="utf-8")
    return folder


def written_lines(lyrics: str) -> list[str]:
    return [" ".join(line.split()) for line in lyrics.splitlines() if line.strip()]


def test_txt_lyrics_are_aligned_into_timed_lines_words_paragraphs_and_segments(tmp_path, aligner, monkeypatch):
    src = write_songs(tmp_path / "songs")
    loads = []
    real_load = Transcriber.from_pretrained.__func__
    monkeypatch.setattr(
        Transcriber, "from_pretrained", classmethod(lambda cls, path: loads.append(path) or real_load(cls, path))
    )
    result = prepare_corpus("folder", src, tmp_path / "out", progress=False, aligner=str(aligner))
    assert len(loads) == 1  # once per reader call, not once per song
    assert not result.report.skipped
    songs = {song.id: song for song in result.manifest.songs}
    assert sorted(songs) == sorted(SONG_LYRICS)
    for song_id, lyrics in SONG_LYRICS.items():
        song = songs[song_id]
        assert song.duration == pytest.approx(6.0)
        assert [line.text for line in song.lines] == written_lines(lyrics)
        assert [word.text for word in song.words] == " ".join(written_lines(lyrics)).split()  # one to one
        for line in song.lines:
            assert 0.0 <= line.start <= line.end <= song.duration
        assert all(a.end <= b.start + 1e-9 for a, b in zip(song.lines, song.lines[1:], strict=False))
        assert all(a.end <= b.start + 1e-9 for a, b in zip(song.words, song.words[1:], strict=False))
        for word in song.words:  # each word lies in its own line
            line = song.lines[word.line]
            assert word.text in line.text.split() and line.start <= word.start <= word.end <= line.end
        aligned_by = song.extra["aligned_by"]
        assert aligned_by["transcriber"] == str(aligner.resolve()) and aligned_by["vocals"] == "mix copy"
        assert aligned_by["log_likelihood"] < 0.0
        assert song.extra["annotation_path"] == str((src / f"{song_id}.txt").resolve())
        segments = [s for s in result.manifest.segments if s.song_id == song_id]
        assert segments and all(s.text.strip() for s in segments)
        assert " ".join(s.text for s in segments).split() == [w.text for w in song.words]

    first = songs["Band - First"]
    assert (first.artist, first.title) == ("Band", "First")
    assert [line.paragraph for line in first.lines] == [0, 0, 1, 1]
    assert [p.text for p in first.paragraphs] == [
        "Hello there my friend\nRock & roll tonight",
        "Second verse here\nand the end",
    ]
    assert first.paragraphs[0].start == first.lines[0].start and first.paragraphs[1].end == first.lines[-1].end
    ampersand = next(w for w in first.words if w.text == "&")
    assert ampersand.start == ampersand.end  # no letters to align: a zero-length time after "Rock"
    assert [p.text for p in songs["Band - Second"].paragraphs] == ["la la la\nsing it out"]


def test_without_an_aligner_txt_songs_are_skipped_saying_how_to_time_them(tmp_path):
    src = write_songs(tmp_path / "songs")
    (src / "Band - Second.lrc").write_text("[00:01.00]la la la\n", encoding="utf-8")  # timed lyrics win
    report = SkipReport()
    songs = list(read_folder(src, report))
    assert [song.id for song in songs] == ["Band - Second"] and "aligned_by" not in songs[0].extra
    (skipped,) = report.skipped
    assert (Path(skipped.path).name, skipped.item, skipped.kind) == ("Band - First.txt", "Band - First", UNTIMED_KIND)
    assert skipped.reason == (
        "holds untimed lyrics, so its song was left out; time them with --option aligner=MODEL_DIR "
        "(a transcriber from `songalign transcribe train`), or give an .lrc with times instead"
    )


def test_a_bad_aligner_fails_at_once_naming_the_option(tmp_path, aligner):
    src = write_songs(tmp_path / "songs")
    empty = tmp_path / "empty"
    empty.mkdir()
    for bad in (tmp_path / "missing", empty):
        with pytest.raises(SongalignError, match=r"^option aligner=.* is not a transcriber folder .*transcribe train"):
            read_folder(src, SkipReport(), aligner=bad)  # raised by the call, before any song is read
    pitch_only = save_transcriber(tmp_path / "pitch", mode="pitch")
    with pytest.raises(SongalignError, match=r"mode 'pitch', which writes no lyrics; give one trained with mode"):
        read_folder(src, SkipReport(), aligner=pitch_only)
    separated = save_transcriber(tmp_path / "separated", vocals=str(tmp_path / "no-separator"))
    with pytest.raises(SongalignError, match=r"^the vocal channel \S+no-separator of option aligner=\S+ is neither"):
        read_folder(src, SkipReport(), aligner=separated)

    done = CliRunner().invoke(
        app, ["corpus", "prepare", "folder", str(src), "--out", str(tmp_path / "out"), "--option", f"aligner={empty}"]
    )
    # the CLI's main() prints this one sentence; under CliRunner it is the exception the app raised
    assert isinstance(done.exception, SongalignError) and str(done.exception).startswith(f"option aligner={empty} ")


def test_lyrics_too_long_for_their_audio_skip_that_song_only(tmp_path, aligner):
    src = tmp_path / "songs"
    write_audio(src / "short.wav", 1.0)  # 1 s: about 31 emission frames of 32 ms
    (src / "short.txt").write_text("far too many words to be sung in a single second of audio\n", encoding="utf-8")
    write_audio(src / "fine.wav", 3.0)
    (src / "fine.txt").write_text("oh yeah\n", encoding="utf-8")
    report = SkipReport()
    songs = list(read_folder(src, report, aligner=aligner))
    assert [song.id for song in songs] == ["fine"]
    (skipped,) = report.skipped
    assert (Path(skipped.path).name, skipped.kind) == ("short.txt", UNALIGNED_KIND)
    assert skipped.reason.startswith("could not be aligned to short.wav: the emissions have ")
    assert "align a longer stretch of audio or less text" in skipped.reason


class EvenSpreadAligner:
    """A lyrics aligner as another package would register one: every line gets an equal share of the audio.

    It implements :class:`~songalign.corpus.aligners.LyricsAligner` with no transcriber, so the folder
    reader's path through the registry is checked on its own.
    """

    def __init__(self, model, *, seconds: float = 6.0) -> None:
        self.model, self.seconds = str(model), seconds

    def align(self, audio_path, lines, report):
        share = self.seconds / len(lines)
        timed = [Line(text, index * share, (index + 1) * share) for index, text in enumerate(lines)]
        words = [Word(word, line.start, line.end, index) for index, line in enumerate(timed) for word in line.text.split()]
        return AlignedLyrics(words, timed, log_likelihood=-1.5, vocals="none (spread evenly)")

    def describe(self):
        return {"aligner": "even-spread-test", "model": self.model}


def test_a_registered_aligner_is_chosen_by_name_and_recorded(tmp_path):
    assert isinstance(EvenSpreadAligner("x"), LyricsAligner)
    if "even-spread-test" not in ALIGNERS:
        ALIGNERS.register("even-spread-test", EvenSpreadAligner)
    src = write_songs(tmp_path / "songs")
    report = SkipReport()
    songs = {song.id: song for song in read_folder(src, report, aligner="anything", aligner_kind="even-spread-test")}
    assert set(songs) == set(SONG_LYRICS) and not report.skipped
    first = songs["Band - First"]
    assert [line.text for line in first.lines] == written_lines(SONG_LYRICS["Band - First"])
    assert [(line.start, line.end) for line in first.lines] == [(0.0, 1.5), (1.5, 3.0), (3.0, 4.5), (4.5, 6.0)]
    assert [line.paragraph for line in first.lines] == [0, 0, 1, 1]
    assert first.extra["aligned_by"] == {
        "aligner": "even-spread-test",
        "model": "anything",
        "vocals": "none (spread evenly)",
        "log_likelihood": -1.5,
    }
    with pytest.raises(SongalignError, match="^unknown lyrics aligner 'nope'; choose one of: ctc, even-spread-test"):
        read_folder(src, SkipReport(), aligner="anything", aligner_kind="nope")
    with pytest.raises(SongalignError) as raised:  # this aligner hears no vocal channel: said before any song
        read_folder(src, SkipReport(), aligner="anything", aligner_kind="even-spread-test", aligner_vocals="mix")
    assert str(raised.value) == (
        "option aligner_vocals=mix is given, but the lyrics aligner 'even-spread-test' hears no vocal channel; "
        "leave aligner_vocals out or choose an aligner that takes one (ctc)"
    )


def test_the_aligner_hears_the_vocal_channel_the_reader_option_names(tmp_path):
    src = write_songs(tmp_path / "songs", seconds=3.0)
    stems_model = save_transcriber(tmp_path / "stems", mode="multitask", vocals="stem")
    own, chosen = SkipReport(), SkipReport()
    list(read_folder(src, own, aligner=stems_model))
    songs = list(read_folder(src, chosen, aligner=stems_model, aligner_vocals="mix"))
    (said,) = [e.reason for e in own.entries if "trained on" in e.reason]
    assert said.startswith("was trained on vocal stems, which plain audio lacks")
    notes = [e.reason for e in chosen.entries if "trained on" in e.reason]
    assert notes == ["was trained on vocal stems and now hears a copy of the mix; it may transcribe less well"]
    assert {song.extra["aligned_by"]["vocals"] for song in songs} == {"mix copy"}
    with pytest.raises(SongalignError) as raised:  # checked at once, named as the reader's option
        read_folder(src, SkipReport(), aligner=stems_model, aligner_vocals=str(tmp_path / "nope"))
    assert str(raised.value).startswith(f"option aligner_vocals={tmp_path / 'nope'} is neither 'mix', 'stem', a ")
    assert str(raised.value).endswith("; give option aligner_vocals=spleeter, option aligner_vocals=mix, an existing "
                                      "separator folder or a stem file")  # fmt: skip
    with pytest.raises(SongalignError) as raised:
        read_folder(src, SkipReport(), aligner_vocals="spleeter")
    assert str(raised.value) == (
        "option aligner_vocals=spleeter chooses what a lyrics aligner hears, but no aligner was given; add --option "
        "aligner=MODEL_DIR or leave aligner_vocals out"
    )
