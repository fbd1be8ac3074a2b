"""The synthetic path end to end: ``corpus synth`` writes interpretations, ``corpus prepare`` carries them into
the manifests, a tiny captioner trains on the prepared corpus and is evaluated on its test songs."""

from __future__ import annotations

import csv
from collections import Counter

import pytest
from typer.testing import CliRunner

from songalign.caption.data import CaptionCorpus
from songalign.caption.evaluate import evaluate_captioner
from songalign.caption.testing import tiny_recipe
from songalign.caption.train import train
from songalign.checkpoint import read_card
from songalign.cli import app
from songalign.corpus.synth.interpretations import INTERPRETATION_COLUMNS, PER_SONG

N_SONGS = 3


@pytest.fixture(scope="module")
def prepared(tmp_path_factory):
    root = tmp_path_factory.mktemp("synthetic")
    runner = CliRunner()
    made = runner.invoke(app, ["corpus", "synth", "--out", str(root / "raw"), "--songs", str(N_SONGS), "--seed", "5",
                               "--duration", "16", "--workers", "1"])  # fmt: skip
    assert made.exit_code == 0, made.output
    done = runner.invoke(app, ["corpus", "prepare", "jamendo", str(root / "raw"), "--out", str(root / "corpus")])
    assert done.exit_code == 0, done.output
    return root


def test_the_generator_writes_interpretations_that_speak_of_the_theme_and_the_music(prepared):
    with (prepared / "raw" / "metadata" / "interpretations.csv").open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert tuple(rows[0]) == INTERPRETATION_COLUMNS and len(rows) == N_SONGS * PER_SONG
    data = CaptionCorpus.load(prepared / "corpus")
    assert len(data.songs) == N_SONGS and {s for s in data.splits.values()} == {"train", "val", "test"}
    with (prepared / "raw" / "metadata" / "songs.csv").open(encoding="utf-8") as handle:
        songs = {row["Filepath"].removesuffix(".mp3"): row for row in csv.DictReader(handle)}
    items = data.items("all")
    assert len(items) == N_SONGS * PER_SONG
    kinds = {(row["Filepath"].removesuffix(".mp3"), row["text"]): row["kind"] for row in rows}
    for item in items:
        kind = kinds[(item.song_id, item.text)]
        assert item.audio_path.endswith(".mp3") and item.lyrics and item.duration
        if kind == "full":
            assert "BPM" in item.text or "beats per minute" in item.text
            assert songs[item.song_id]["key"] in item.text  # the key the audio is in
            quoted = item.text.split('"')[1]
            assert quoted in item.lyrics.splitlines()  # a real line of the song
        assert (item.votes < 0) == (kind == "off")  # votes follow the quality, so the variants differ
    assert [kinds[(i.song_id, i.text)] for i in items[::PER_SONG]] == ["full"] * N_SONGS  # each song's first
    openings = Counter(" ".join(i.text.split()[:3]) for i in items)
    assert len(openings) > 3  # no shared prefix for the model to learn


def test_a_tiny_captioner_trains_on_the_prepared_synthetic_corpus_and_is_evaluated(prepared, tmp_path):
    corpus = prepared / "corpus"
    recipe = tiny_recipe(corpus, tmp_path / "run")
    recipe.train.epochs = 1
    folder = train(recipe, progress=False)
    card = read_card(folder)
    splits = CaptionCorpus.load(corpus).song_lists()
    assert card["data"]["songs"] == splits and card["data"]["train_items"] == PER_SONG * len(splits["train"])
    result = evaluate_captioner(folder, corpus, settings=recipe.generation, out=tmp_path / "eval", progress=False)
    assert sorted(result.captions) == splits["test"] and result.metrics["items"] == PER_SONG * len(splits["test"])
    assert 0.0 <= result.metrics["rougeL"] <= 100.0 and (tmp_path / "eval" / "metrics.json").is_file()
