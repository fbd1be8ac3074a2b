"""Training the transcriber from a recipe: a run folder with a model folder and card, the joint loss's
terms, early stopping's best epoch kept, and a run that resumes where it stopped."""

from __future__ import annotations

import pytest
import torch

from songalign.audio.cache import FeatureCache
from songalign.checkpoint import read_card
from songalign.corpus.prepare import prepare_corpus
from songalign.corpus.segmenter import SplitConfig
from songalign.corpus.synth import synthesize_corpus
from songalign.errors import SongalignError
from songalign.runs import read_metrics, recipe_path
from songalign.transcribe.data import collate, cut_clips
from songalign.transcribe.model import Transcriber
from songalign.transcribe.testing import tiny_overrides
from songalign.transcribe.train import (
    LossWeights,
    cached_song_features,
    load_transcribe_recipe,
    song_targets,
    train_transcriber,
    transcription_loss,
)

TINY = [*tiny_overrides(lyrics_hidden=16), "train.threads=1"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("transcribe_corpus")
    synthesize_corpus(root / "synth", n_songs=4, seed=2, workers=1, duration=15.0, stems=True)
    split = SplitConfig(train=0.5, val=0.25, test=0.25, seed=2)
    prepare_corpus("jamendo", root / "synth", root / "corpus", split=split, progress=False)
    return root / "corpus"


def recipe(corpus, out, *extra):
    return load_transcribe_recipe(recipe_path("alt_small"), [f"data.corpus={corpus}", f"out={out}", *TINY, *extra])


def test_training_writes_a_model_folder_whose_card_names_its_songs(corpus, tmp_path):
    folder = train_transcriber(recipe(corpus, tmp_path / "run", "train.max_epochs=2", "train.min_epochs=1"),
                               progress=False)  # fmt: skip
    card = read_card(folder)
    assert card["kind"] == "transcribe" and card["data"]["vocals"] == "stem"
    assert set(card["data"]["trained_songs"]) == set(card["data"]["songs"]["train"])
    assert "best_val/wer" in card["evaluation"]
    model = Transcriber.from_pretrained(folder)
    assert model.config.mode == "multitask"
    assert (tmp_path / "run" / "loss.png").is_file() and (tmp_path / "run" / "recipe.yaml").is_file()


def test_the_joint_loss_has_the_terms_of_the_mode(corpus):
    config = recipe(corpus, "unused").model
    from songalign.corpus.manifest import CorpusManifest

    song = CorpusManifest.load(corpus).songs[0]
    targets = song_targets(song, cached_song_features(song, config, FeatureCache(corpus / ".cache" / "transcribe")))
    batch = collate(cut_clips(targets, 250)[:2])
    for mode, terms in (("multitask", {"ctc", "pitch", "onset"}), ("baseline", {"ctc"}), ("pitch", {"pitch", "onset"})):
        model = Transcriber(config.model_copy(update={"mode": mode}))
        total, parts = transcription_loss(model, batch, LossWeights(pitch=0.5))
        assert set(parts) == terms
        expected = sum((0.5 if name == "pitch" else 1.0) * value for name, value in parts.items())
        torch.testing.assert_close(total, expected)


def test_an_interrupted_run_resumes_from_its_last_checkpoint(corpus, tmp_path):
    run = tmp_path / "run"
    train_transcriber(recipe(corpus, run, "train.max_epochs=1", "train.min_epochs=1"), progress=False)
    first_steps = max(int(r["step"]) for r in read_metrics(run / "logs"))
    train_transcriber(recipe(corpus, run, "train.max_epochs=2", "train.min_epochs=1"), progress=False)
    rows = read_metrics(run / "logs")
    assert len(list((run / "logs").glob("version_*"))) == 2  # the second call continued, logging apart
    assert min(int(r["step"]) for r in rows if r.get("epoch") == "1") > first_steps - 1
    assert {r["epoch"] for r in rows} == {"0", "1"}


def test_a_corpus_without_notes_cannot_train_a_pitch_model(tmp_path):
    from songalign.corpus.testing import FakeSong, write_jamendo_corpus

    songs = [FakeSong(name, [[("la la la", 1.0, 3.0), ("oh oh", 4.0, 6.0)]], duration=8.0) for name in ("a", "b")]
    write_jamendo_corpus(tmp_path / "raw", songs)
    prepare_corpus("jamendo", tmp_path / "raw", tmp_path / "corpus", split=SplitConfig(train=1.0, val=0.0, test=0.0),
                   progress=False)  # fmt: skip
    with pytest.raises(SongalignError, match="no song of split 'train' can train a transcriber"):
        train_transcriber(recipe(tmp_path / "corpus", tmp_path / "run", "model.vocals=mix", "model.mode=pitch"),
                          progress=False)  # fmt: skip
