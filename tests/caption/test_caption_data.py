"""Interpretation records: vote variants with a shared test split, the BART-fusion release, synthetic texts."""

from __future__ import annotations

import json
import pickle
from collections import Counter
from dataclasses import dataclass, field

import pytest

from songalign.caption.data import Interpretation, InterpretationSet, read_release, variant_name
from songalign.caption.synth import synthesize_interpretations
from songalign.corpus.synth import synthesize_corpus
from songalign.errors import SkipReport, SongalignError


def item(song: str, votes: int | None, split: str, n: int = 1) -> Interpretation:
    return Interpretation(
        id=f"{song}#{n}", song_id=song, lyrics="la la", text=f"text {song} {n}", votes=votes, split=split
    )


@pytest.fixture
def records():
    return InterpretationSet([
        item("a", 5, "train"), item("a", 0, "train", 2), item("a", -2, "train", 3), item("b", None, "train"),
        item("c", 1, "val"), item("c", -1, "val", 2),
        item("d", -4, "test"), item("d", 3, "test", 2), item("e", 0, "test"),
    ])  # fmt: skip


def test_variants_filter_train_and_val_by_votes_but_share_the_test_split(records):
    assert [len(records.select("train", v)) for v in ("full", "votes_ge_0", "votes_gt_0")] == [4, 2, 1]
    assert [i.id for i in records.select("val", "positive")] == ["c#1"]
    for variant in ("full", "votes_ge_0", "votes_gt_0"):
        assert [i.id for i in records.select("test", variant)] == ["d#1", "d#2", "e#1"]
    assert [i.id for i in records.select("test", "votes_gt_0", filter_test=True)] == ["d#2"]
    assert variant_name(">=0") == "votes_ge_0" and variant_name("Positive") == "votes_gt_0"
    with pytest.raises(SongalignError, match="unknown dataset variant 'best'"):
        records.select("train", "best")


def test_save_and_load_round_trip(records, tmp_path):
    folder = records.save(tmp_path / "set")
    loaded = InterpretationSet.load(folder)
    assert loaded.items == records.items
    info = json.loads((folder / "info.json").read_text())
    assert info["counts"]["votes_gt_0"]["train"] == 1 and info["songs"] == 5
    with pytest.raises(SongalignError, match="holds no interpretations.jsonl"):
        InterpretationSet.load(tmp_path / "empty")


def test_the_release_reader_takes_both_record_shapes_and_splits_by_song(tmp_path):
    audio = tmp_path / "audios"
    audio.mkdir()
    (audio / "m1.mp3").write_bytes(b"")
    release = [
        {
            "music4all_id": "m1",
            "songmeanings_id": "s1",
            "lyrics": "line one\nline two",
            "comment": "about love",
            "votes": 4,
        },
        {"music4all_id": "m1", "lyrics": "line one\nline two", "comment": "meh", "votes": -2},
        {"music4all_id": "m2", "lyrics": "other", "comments": [["war song", 7], {"text": "peace", "rating": 0}]},
        {"music4all_id": "m3", "lyrics": ""},  # no lyrics: reported
    ] + [{"music4all_id": f"x{i}", "lyrics": "la", "comment": f"c{i}", "votes": 1} for i in range(20)]
    path = tmp_path / "release.json"
    path.write_text(json.dumps(release))
    report = SkipReport()
    data = read_release(path, audio, report=report)
    assert len(data) == 2 + 2 + 20
    first = data.items[0]
    assert (first.song_id, first.votes, first.extra, first.audio_path) == (
        "m1",
        4,
        {"songmeanings_id": "s1"},
        str((audio / "m1.mp3").resolve()),
    )
    assert [(i.text, i.votes) for i in data.items if i.song_id == "m2"] == [("war song", 7), ("peace", 0)]
    splits = {}
    for entry in data.items:
        splits.setdefault(entry.song_id, set()).add(entry.split)
    assert all(len(s) == 1 for s in splits.values())  # no song in two splits
    assert {s for (v,) in splits.values() for s in [v]} == {"train", "val", "test"}
    assert any("m3" in s.item for s in report.skipped) and any(
        "audio file not found" in s.reason for s in report.skipped
    )


@dataclass
class MusicData:  # stands in for the release's own class; the reader does not need it installed
    music4all_id: str
    songmeanings_id: str
    lyrics: str
    comments: list = field(default_factory=list)


def test_the_release_pickle_needs_an_explicit_trust_flag(tmp_path):
    path = tmp_path / "dataset.pkl"
    path.write_bytes(pickle.dumps([MusicData("m9", "s9", "la la", [("a reading", 2), ("another", -1)])]))
    with pytest.raises(SongalignError, match="trust-pickle"):
        read_release(path)
    data = read_release(path, trust_pickle=True)
    assert [(i.song_id, i.text, i.votes) for i in data] == [("m9", "a reading", 2), ("m9", "another", -1)]


@pytest.fixture(scope="module")
def synthetic(tmp_path_factory):
    corpus = tmp_path_factory.mktemp("synth") / "corpus"
    synthesize_corpus(corpus, n_songs=3, seed=5, workers=1, duration=16.0)
    return corpus, synthesize_interpretations(corpus, per_song=4, seed=1)


def test_synthetic_interpretations_speak_of_the_theme_and_the_music_in_varied_words(synthetic):
    corpus, data = synthetic
    assert len(data) == 12 and len(data.songs()) == 3
    assert synthesize_interpretations(corpus, per_song=4, seed=1).items == data.items  # deterministic
    songs = {row.split(",")[0]: row for row in (corpus / "metadata" / "songs.csv").read_text().splitlines()[1:]}
    for entry in data:
        assert entry.audio_path.endswith(".mp3") and entry.lyrics and entry.split in ("train", "val", "test")
        kind = entry.extra["kind"]
        if kind == "full":
            assert "BPM" in entry.text or "beats per minute" in entry.text
            tonic = songs[f"{entry.song_id}.mp3"].split(",")[9]
            assert tonic in entry.text  # the key the audio is in
            quoted = entry.text.split('"')[1]
            assert quoted in entry.lyrics.splitlines()  # a real line of the song
        if kind == "off":
            assert entry.votes < 0
        else:
            assert entry.votes >= 0
    assert all(data.items[k * 4].extra["kind"] == "full" for k in range(3))
    openings = Counter(" ".join(i.text.split()[:3]) for i in data)
    assert len(openings) > 3  # no shared prefix for the model to learn
