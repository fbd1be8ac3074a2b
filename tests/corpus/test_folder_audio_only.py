"""Audio-only songs (audio with no lyrics file): fixed windows with no text, in one corpus with songs that
have lyrics; describing, pairing for training and evaluating leave them out and count them."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.prepare import prepare_corpus
from songalign.corpus.readers.folder import AUDIO_ONLY_KIND, read_folder
from songalign.corpus.segmenter import SplitConfig, window_starts
from songalign.errors import SkipReport, SongalignError
from songalign.search.testing import write_song_folder


def test_windows_cover_the_song_and_the_last_one_ends_at_its_end():
    assert window_starts(25.0, 10.0) == [0.0, 10.0, 15.0]  # the last moved back to 15-25: no audio dropped
    assert window_starts(20.0, 10.0) == [0.0, 10.0]  # on a boundary: no extra window
    assert window_starts(20.0 + 1e-9, 10.0) == [0.0, 10.0]  # float noise in a probed length is no new window
    assert window_starts(10.5, 10.0) == [0.0, 0.5]
    assert window_starts(7.0, 10.0) == [0.0]  # shorter than a window: one window, the whole song
    assert window_starts(25.0, 4.0) == [0.0, 4.0, 8.0, 12.0, 16.0, 20.0, 21.0]
    with pytest.raises(ValueError, match="window_seconds must be positive"):
        window_starts(25.0, 0.0)


@pytest.fixture(scope="module")
def mixed_folder(tmp_path_factory):
    """Three audio-only songs (25 s, 12 s, 3 s) and two with lyrics (30 s each)."""
    return write_song_folder(
        tmp_path_factory.mktemp("mixed") / "songs",
        audio_only={"Drone - Long": 25.0, "Drone - Short": 12.0, "Drone - Tiny": 3.0},
        with_lyrics={"Band - First": 30.0, "Band - Second": 30.0},
    )


@pytest.fixture(scope="module")
def mixed_corpus(mixed_folder, tmp_path_factory):
    split = SplitConfig(train=0.6, val=0.2, test=0.2, seed=0)
    return prepare_corpus(
        "folder", mixed_folder, tmp_path_factory.mktemp("prepared") / "c", split=split, progress=False
    )


def test_songs_with_and_without_lyrics_sit_in_one_corpus(mixed_corpus):
    manifest = CorpusManifest.load(mixed_corpus.out)  # what is on disk, not what is in memory
    assert [s.id for s in manifest.songs] == ["Band - First", "Band - Second", "Drone - Long", "Drone - Short"]
    windows = {
        song: [(s.start, s.end) for s in manifest.segments if s.song_id == song]
        for song in ("Drone - Long", "Drone - Short")
    }
    assert windows["Drone - Long"] == [(0.0, 10.0), (10.0, 20.0), (15.0, 25.0)]
    assert windows["Drone - Short"] == [pytest.approx((0.0, 10.0)), pytest.approx((2.0, 12.0))]
    audio_only = [s for s in manifest.segments if s.song_id.startswith("Drone")]
    assert [s.id for s in audio_only][:3] == ["Drone - Long-0000", "Drone - Long-0001", "Drone - Long-0002"]
    assert all(s.text == "" and s.first_line == s.last_line == -1 and s.audio_path for s in audio_only)
    assert manifest.songs[2].lines == [] and manifest.songs[2].extra["audio_only"] is True
    lyric = [s for s in manifest.segments if s.song_id.startswith("Band")]
    assert len(lyric) >= 4 and all("line" in s.text for s in lyric)
    assert {s.split for s in manifest.segments} <= {"train", "val", "test"}
    # the 3 s song is shorter than the shortest segment kept: skipped and said so, not dropped silently
    (tiny,) = [e for e in mixed_corpus.report.skipped if e.item == "Drone - Tiny"]
    assert "lasts 3.00 s, shorter than the shortest segment kept (4.0 s); lower --min" in tiny.reason
    assert sorted(e.item for e in mixed_corpus.report.noted if e.kind == AUDIO_ONLY_KIND) == [
        "Drone - Long",
        "Drone - Short",
        "Drone - Tiny",
    ]


def test_window_length_is_a_reader_option_given_on_the_command_line(mixed_folder, tmp_path):
    from songalign.cli import app

    out = tmp_path / "five"
    result = CliRunner().invoke(
        app, ["corpus", "prepare", "folder", str(mixed_folder), "--out", str(out), "--option", "window_seconds=5"]
    )
    assert result.exit_code == 0, result.output
    manifest = CorpusManifest.load(out)
    assert [(s.start, s.end) for s in manifest.segments if s.song_id == "Drone - Long"] == [
        (0.0, 5.0),
        (5.0, 10.0),
        (10.0, 15.0),
        (15.0, 20.0),
        (20.0, 25.0),
    ]
    assert manifest.info["reader_options"] == {"window_seconds": 5}
    for bad in (0, -1, "ten", True):
        with pytest.raises(SongalignError, match=r"option window_seconds=.* is not a positive number of seconds"):
            read_folder(mixed_folder, SkipReport(), window_seconds=bad)


def test_a_language_filter_leaves_out_songs_without_lyrics_saying_why(mixed_folder):
    report = SkipReport()
    assert [s.id for s in read_folder(mixed_folder, report, languages=["english"])] == ["Band - First", "Band - Second"]
    reason = next(e.reason for e in report.skipped if e.item == "Drone - Long")
    assert reason.startswith("has no lyrics file and states no language, and only english songs are read")


def test_only_audio_no_lyrics_at_all_still_prepares(tmp_path):
    folder = write_song_folder(tmp_path / "songs", audio_only={"a": 10.0, "b": 21.0})
    result = prepare_corpus("folder", folder, tmp_path / "out", progress=False)
    assert [(s.song_id, s.start, s.end) for s in result.manifest.segments] == [
        ("a", 0.0, pytest.approx(10.0)),
        ("b", 0.0, 10.0),
        ("b", 10.0, 20.0),
        ("b", pytest.approx(11.0), pytest.approx(21.0)),
    ]


def test_describing_pairing_and_evaluating_leave_audio_only_segments_out_and_count_them(mixed_corpus, tmp_path):
    import torch

    from songalign.align.data import build_pairs
    from songalign.align.evaluate import evaluate_splits, to_markdown
    from songalign.align.model import AlignModel, ModelConfig, TowerSpec
    from songalign.describe import DescriberConfig, describe_corpus

    corpus = mixed_corpus.out
    manifest = CorpusManifest.load(corpus)
    audio_only = sum(1 for s in manifest.segments if not s.text)
    assert audio_only == 5
    described = describe_corpus(corpus, "lexicon", config=DescriberConfig(seed=0), progress=False)
    skipped = described.stats.skipped.skipped
    assert len(skipped) == audio_only and {e.reason for e in skipped} == {"no lyrics to describe"}
    manifest = CorpusManifest.load(corpus)
    assert all(s.description for s in manifest.segments if s.text) and not any(
        s.description for s in manifest.segments if not s.text
    )

    torch.manual_seed(0)
    tower = TowerSpec(name="cnn", options={"channels": [8, 16], "embedding_dim": 32})
    model = AlignModel(ModelConfig(audio_tower=tower, embedding_dim=16, clip_seconds=4.0))
    report = SkipReport()
    pairs = build_pairs(model, manifest, "all", "lyrics", tmp_path / "cache", report, progress=False)
    assert len(pairs) == len(manifest.segments) - audio_only and all(pairs.texts)
    (skip,) = report.skipped
    assert skip.reason.startswith(f"{audio_only} segment(s) have no lyrics; audio-only segments")

    results, _ = evaluate_splits(model, corpus, ("all",), pool=2, draws=1)
    figures = results["all"]
    assert figures["segments"] == len(manifest.segments) - audio_only
    assert figures["segments_without_lyrics"] == audio_only and "lyric_choice" in figures
    assert f"{audio_only} audio-only segment(s) have no lyrics and were left out." in to_markdown(figures)
