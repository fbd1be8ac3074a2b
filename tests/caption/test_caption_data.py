"""Captioning data on the corpus layer: the interpretation reader, vote variants, splits that follow the tower."""

from __future__ import annotations

import json
import pickle
from dataclasses import dataclass, field

import pytest
from typer.testing import CliRunner

from songalign.caption.data import CaptionCorpus, check_unseen, variant_name
from songalign.checkpoint import save_model_folder
from songalign.cli import app
from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.prepare import prepare_corpus
from songalign.corpus.records import Line, Segment, Song
from songalign.corpus.testing import write_audio
from songalign.errors import SongalignError


def write_corpus(folder, songs: dict[str, tuple[str, list[int | None]]]):
    """A prepared corpus of untimed songs: id → (split, votes of its interpretations)."""
    records, segments = [], []
    for song_id, (split, votes) in songs.items():
        readings = [{"text": f"text {song_id} {n}", "votes": v} for n, v in enumerate(votes, start=1)]
        records.append(
            Song(song_id, lines=[Line("la la", 0.0, 1.0)], extra={"untimed": True, "interpretations": readings})
        )
        segments.append(Segment(f"{song_id}-0000", song_id, 0.0, 1.0, "la la", split=split))
    records.append(Song("plain", lines=[Line("no readings", 0.0, 1.0)]))  # a song without interpretations
    segments.append(Segment("plain-0000", "plain", 0.0, 1.0, "no readings", split="test"))
    return CorpusManifest(records, segments).save(folder)


def write_model_card(
    folder, songs: dict[str, list[str]] | None, trained: list[str] | None = None, parent: dict | None = None
):
    """A model folder whose card lists the song ids of each split of its corpus (None: no list) and the songs
    its weights were fitted on (``trained``: by default its corpus's train songs; None with no ``songs``)."""
    data: dict = {"corpus": "elsewhere"}
    if songs:
        data |= {"songs": songs, "trained_songs": trained if trained is not None else songs.get("train", [])}
    card = {"name": folder.name, "kind": "align", "data": data}
    if parent is not None:
        card["provenance"] = {"init_from": parent}
    return save_model_folder(folder, {}, {}, card, title="songalign model", architecture=[])


@pytest.fixture
def corpus(tmp_path):
    return write_corpus(tmp_path / "corpus", {
        "a": ("train", [5, 0, -2]), "b": ("train", [None]),
        "c": ("val", [1, -1]),
        "d": ("test", [-4, 3]), "e": ("test", [0]),
    })  # fmt: skip


def test_variants_filter_train_and_val_by_votes_but_share_the_test_split(corpus):
    data = CaptionCorpus.load(corpus)
    assert "plain" not in data.songs  # only songs with interpretations are captioning data
    assert [len(data.items("train", v)) for v in ("full", "votes_ge_0", "votes_gt_0")] == [4, 2, 1]
    assert [i.text for i in data.items("val", "positive")] == ["text c 1"]
    for variant in ("full", "votes_ge_0", "votes_gt_0"):
        assert [i.text for i in data.items("test", variant)] == ["text d 1", "text d 2", "text e 1"]
    assert [i.text for i in data.items("test", "votes_gt_0", filter_test=True)] == ["text d 2"]
    assert data.counts()["votes_gt_0"] == {"train": 1, "train_songs": 1, "val": 1, "val_songs": 1, "test": 3,
                                           "test_songs": 2}  # fmt: skip
    assert variant_name(">=0") == "votes_ge_0" and variant_name("Positive") == "votes_gt_0"
    with pytest.raises(SongalignError, match="unknown dataset variant 'best'"):
        data.items("train", "best")


def test_a_corpus_without_interpretations_is_one_clear_error(tmp_path):
    folder = CorpusManifest([Song("x")], [Segment("x-0000", "x", 0.0, 1.0, "la", split="train")]).save(tmp_path / "c")
    with pytest.raises(SongalignError, match="no song with interpretations; prepare the Song Interpretation"):
        CaptionCorpus.load(folder)


def test_splits_follow_the_music_towers_model_by_song(corpus, tmp_path):
    tower = write_model_card(tmp_path / "tower", {"train": ["a", "d", "elsewhere"], "val": ["e"], "test": ["b"]})
    data = CaptionCorpus.load(corpus, align_model=tower)
    # d was a test song of the corpus but the tower trained on it: it moves to train; c is unknown to the tower
    assert data.splits == {"a": "train", "b": "test", "c": "val", "d": "train", "e": "val"}
    assert data.split_source == {
        "source": "align_model",
        "align_model": str(tower),
        "matched": 4,
        "moved": 3,
        "checked": True,
    }
    assert data.song_lists() == {"train": ["a", "d"], "val": ["c", "e"], "test": ["b"]}


def test_songs_a_parent_of_the_tower_trained_on_move_to_train(corpus, tmp_path):
    # the parent trained on e; its child's corpus puts e in test and c in val: e may not stay out of train
    parent = {"folder": "runs/parent", "name": "parent", "data": {"trained_songs": ["e", "elsewhere"]}}
    child = write_model_card(tmp_path / "child", {"train": ["a"], "val": ["c"], "test": ["d", "e"]},
                             trained=["a"], parent=parent)  # fmt: skip
    data = CaptionCorpus.load(corpus, align_model=child)
    assert data.splits == {"a": "train", "b": "train", "c": "val", "d": "test", "e": "train"}
    assert (data.split_source["matched"], data.split_source["moved"], data.split_source["checked"]) == (4, 1, True)
    with pytest.raises(SongalignError, match=r"^1 of the captioner's val/test songs \(e\) are songs the music tower"):
        CaptionCorpus.load(corpus, align_model=child, splits="corpus")


def test_following_a_tower_that_heard_every_val_song_is_an_error_not_an_empty_split(corpus, tmp_path):
    tower = write_model_card(tmp_path / "greedy", {"train": ["a", "b", "c", "d", "e"], "val": [], "test": []})
    with pytest.raises(SongalignError) as caught:
        CaptionCorpus.load(corpus, align_model=tower)
    message = str(caught.value)
    assert message.startswith(f"following the splits of {tower} leaves the captioner no val and no test song of ")
    assert "(5 train, 0 val, 0 test)" in message and "\n" not in message
    only_val = write_model_card(tmp_path / "val", {"train": ["a", "b", "c"], "val": [], "test": ["d", "e"]})
    with pytest.raises(SongalignError, match=r"leaves the captioner no val song of .*\(3 train, 0 val, 2 test\)"):
        CaptionCorpus.load(corpus, align_model=only_val)


def test_a_tower_trained_on_unknown_songs_is_a_warning_and_a_note_not_an_error(corpus, tmp_path, caplog):
    songs = {"train": [], "val": [], "test": []}
    card = {"name": "clap-pre", "kind": "align", "data": {"corpus": "", "songs": songs, "trained_songs": None}}
    tower = save_model_folder(tmp_path / "clap", {}, {}, card, title="songalign model", architecture=[])
    for mode in ("align_model", "corpus"):
        with caplog.at_level("WARNING", logger="songalign"):
            data = CaptionCorpus.load(corpus, align_model=tower, splits=mode)
        assert data.splits["d"] == "test" and data.split_source["checked"] is False
        assert "the songs clap-pre trained on are unknown" in data.split_source["note"]
        assert any("clap-pre trained on are unknown" in record.getMessage() for record in caplog.records)
        caplog.clear()


def test_a_missing_align_model_folder_is_named_as_such(corpus, tmp_path):
    with pytest.raises(SongalignError, match=r"^.*nowhere is not an alignment model folder \(it needs config.json"):
        CaptionCorpus.load(corpus, align_model=tmp_path / "nowhere")


def test_a_test_song_the_tower_trained_on_is_an_error_naming_count_folder_and_fix(corpus, tmp_path):
    tower = write_model_card(tmp_path / "tower", {"train": ["a", "d", "e"], "val": [], "test": []})
    with pytest.raises(SongalignError) as caught:
        CaptionCorpus.load(corpus, align_model=tower, splits="corpus")
    message = str(caught.value)
    assert message.startswith("2 of the captioner's val/test songs (d, e) are songs the music tower of ")
    assert str(tower) in message and "\n" not in message
    assert (
        "set data.splits=align_model (the default), which moves every song that tower trained on into train" in message
    )
    assert CaptionCorpus.load(corpus, align_model=write_model_card(tmp_path / "clean", {"train": ["a", "b"]}),
                              splits="corpus").splits["d"] == "test"  # fmt: skip


def test_a_tower_whose_card_lists_no_songs_cannot_be_followed(corpus, tmp_path):
    tower = write_model_card(tmp_path / "old", None)
    with pytest.raises(SongalignError, match="does not list the songs of its splits .* set data.splits=corpus"):
        CaptionCorpus.load(corpus, align_model=tower)
    unchecked = CaptionCorpus.load(corpus, align_model=tower, splits="corpus")
    assert unchecked.splits["d"] == "test" and unchecked.split_source["checked"] is False
    assert "the songs old trained on are unknown" in unchecked.split_source["note"]


def test_evaluation_refuses_songs_the_captioner_trained_on(corpus, tmp_path):
    captioner = write_model_card(tmp_path / "captioner", {"train": ["a", "b", "e"], "val": ["c"], "test": ["d"]})
    with pytest.raises(SongalignError, match=r"^1 of the captioner's val/test songs \(e\) are songs the captioner "):
        CaptionCorpus.for_captioner(corpus, None, captioner)
    assert CaptionCorpus.for_captioner(corpus, None, tmp_path / "no-card").song_ids("test") == ["d", "e"]
    check_unseen({"x": "train"}, ["x"], "m", "the captioner", "fix it")  # train songs are meant to be seen


def test_an_older_captioner_card_without_trained_songs_is_checked_against_its_train_split(corpus, tmp_path, caplog):
    # written before cards recorded data.trained_songs: its train split is a part of what it trained on
    card = {"name": "old", "kind": "caption", "data": {"songs": {"train": ["a", "e"], "val": ["c"], "test": ["d"]}}}
    captioner = save_model_folder(tmp_path / "old", {}, {}, card, title="songalign captioner", architecture=[])
    with (
        caplog.at_level("WARNING", logger="songalign"),
        pytest.raises(SongalignError, match=r"^1 of the captioner's val/test songs \(e\) are songs the captioner "),
    ):
        CaptionCorpus.for_captioner(corpus, None, captioner)
    assert any("records no data.trained_songs" in r.getMessage() and "may not be every song" in r.getMessage()
               for r in caplog.records)  # fmt: skip
    clean = {"name": "old", "kind": "caption", "data": {"songs": {"train": ["a", "b"], "val": [], "test": []}}}
    captioner = save_model_folder(tmp_path / "clean", {}, {}, clean, title="songalign captioner", architecture=[])
    assert CaptionCorpus.for_captioner(corpus, None, captioner).song_ids("test") == ["d", "e"]


def release_records() -> list[dict]:
    return [
        {
            "music4all_id": "m1",
            "songmeanings_id": 11,
            "lyrics": "line one\nline two",
            "comment": "about love",
            "votes": 4,
        },
        {"music4all_id": "m1", "lyrics": "line one\nline two", "comment": "meh", "votes": -2},
        {"music4all_id": "m2", "lyrics": "other", "comments": [["war song", 7], {"text": "peace", "rating": 0}]},
        {"music4all_id": "m3", "lyrics": "", "comment": "no lyrics"},
        {"music4all_id": "m4", "lyrics": "la", "comments": []},
    ] + [{"music4all_id": f"x{i}", "lyrics": "la", "comment": f"c{i}", "votes": 1} for i in range(20)]


def test_the_interpretation_reader_writes_the_manifests_of_every_corpus(tmp_path):
    audio = tmp_path / "audios"
    write_audio(audio / "m1.wav", 4.5)  # at least --min (4 s), as every segment with audio
    path = tmp_path / "release.json"
    path.write_text(json.dumps(release_records()))
    result = prepare_corpus("interpretation", path, tmp_path / "corpus", audio_dir=audio, audio_extension=".wav",
                            progress=False)  # fmt: skip
    manifest = CorpusManifest.load(tmp_path / "corpus")
    songs = {song.id: song for song in manifest.songs}
    assert sorted(songs) == sorted(["m1", "m2"] + [f"x{i}" for i in range(20)])  # m3, m4: skipped
    m1, m2 = songs["m1"], songs["m2"]
    assert m1.extra["interpretations"] == [{"text": "about love", "votes": 4}, {"text": "meh", "votes": -2}]
    assert (m1.extra["songmeanings_id"], m1.audio_path) == ("11", str((audio / "m1.wav").resolve()))
    assert m1.duration == pytest.approx(4.5)
    assert m2.extra["interpretations"] == [{"text": "war song", "votes": 7}, {"text": "peace", "votes": 0}]
    assert m2.audio_path == "" and m2.duration is None  # kept without audio, for lyrics-only captioners
    segments = {s.song_id: s for s in manifest.segments}
    assert len(manifest.segments) == len(songs)  # one untimed segment per song: the whole excerpt
    assert (segments["m1"].text, segments["m1"].start, segments["m1"].end) == ("line one\nline two", 0.0, 4.5)
    assert {s.split for s in manifest.segments} == {"train", "val", "test"}
    data = CaptionCorpus.load(tmp_path / "corpus")
    assert data.items("all")[0].lyrics == "line one\nline two"
    reasons = {s.item: s.reason for s in result.report.skipped}
    assert "no song id or no lyrics" in reasons["m3"] and "no interpretation" in reasons["m4"]
    assert {s.item: s.reason for s in result.report.noted}["m2"].startswith("audio file not found; the song is kept")
    assert result.report.kept == len(songs) and len(result.report) == 2  # m2 is kept, not skipped


@dataclass
class MusicData:  # stands in for the release's own class; the reader does not need it installed
    music4all_id: str
    songmeanings_id: str
    lyrics: str
    comments: list = field(default_factory=list)


def test_the_release_pickle_needs_the_trust_pickles_flag_of_corpus_prepare(tmp_path):
    path = tmp_path / "dataset.pkl"
    path.write_bytes(pickle.dumps([MusicData("m9", "s9", "la la", [("a reading", 2), ("another", -1)])]))
    runner = CliRunner()
    refused = runner.invoke(app, ["corpus", "prepare", "interpretation", str(path), "--out", str(tmp_path / "no")])
    assert isinstance(refused.exception, SongalignError) and "--trust-pickles" in str(refused.exception)
    assert not (tmp_path / "no").exists()
    out = tmp_path / "corpus"
    done = runner.invoke(app, ["corpus", "prepare", "interpretation", str(path), "--out", str(out), "--trust-pickles"])
    assert done.exit_code == 0, done.output
    (song,) = CorpusManifest.load(out).songs
    assert song.id == "m9" and song.extra["interpretations"] == [
        {"text": "a reading", "votes": 2},
        {"text": "another", "votes": -1},
    ]


def test_music_features_count_the_songs_they_keep_and_those_they_leave_out(tmp_path):
    from songalign.caption.data import CaptionItem
    from songalign.caption.music import MusicEncoderConfig, music_features
    from songalign.caption.testing import TINY_TOWER
    from songalign.errors import SkipReport

    write_audio(tmp_path / "a.wav", 3.0)
    (tmp_path / "broken.wav").write_bytes(b"RIFF not really a wav file")
    items = [
        CaptionItem("a", "la", "one reading", audio_path=str(tmp_path / "a.wav")),
        CaptionItem("a", "la", "another reading of the same song", audio_path=str(tmp_path / "a.wav")),
        CaptionItem("b", "la", "a song without audio"),
        CaptionItem("c", "la", "a song whose audio is broken", audio_path=str(tmp_path / "broken.wav")),
    ]
    report = SkipReport()
    config = MusicEncoderConfig(tower=TINY_TOWER, excerpt_seconds=2.0)
    features = music_features(items, config, tmp_path / "cache", report, progress=False)
    assert sorted(features) == ["a"]
    # songs, not interpretations: a (kept once for its two readings), b and c (left out)
    assert report.summary() == "kept 1, skipped 2"
    assert [entry.item for entry in report.skipped] == ["b", "c"]


def test_caption_training_prints_and_lists_the_songs_its_music_features_left_out(tmp_path, capsys):
    from songalign.caption.testing import tiny_recipe, write_tiny_caption_corpus
    from songalign.caption.train import train

    songs = write_tiny_caption_corpus(tmp_path / "songs", n_songs=4, per_song=1)
    data = CaptionCorpus.load(songs)
    used = data.song_ids("train") + data.song_ids("val")
    (songs.parent / "audio" / f"{used[0]}.wav").write_bytes(b"RIFF broken since the corpus was prepared")
    recipe = tiny_recipe(songs, tmp_path / "run")
    recipe.train.epochs, recipe.train.max_steps = 1, 1
    train(recipe, progress=True)
    printed = capsys.readouterr().out
    assert f"music features: kept {len(used) - 1}, skipped 1" in printed
    listing = recipe.run_dir / "skipped.csv"
    assert str(listing) in printed.replace("\n", "") and used[0] in listing.read_text()
