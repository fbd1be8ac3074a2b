"""Training with real Lightning on a tiny prepared corpus, evaluation, splits that follow the music tower's
model, the recipes, the α sweep and the CLI."""

from __future__ import annotations

import json

import pytest
import torch
from lightning.pytorch import Callback
from safetensors.torch import load_file
from typer.testing import CliRunner

from songalign.align.losses import LogitScaleSettings
from songalign.align.model import AlignModel, ModelConfig
from songalign.caption.commands import caption_app
from songalign.caption.data import CaptionCorpus
from songalign.caption.evaluate import evaluate_captioner
from songalign.caption.model import CaptionModel
from songalign.caption.music import MusicEncoderConfig
from songalign.caption.study import PACKAGED_CONFIGS, alpha_sweep, shuffle_losses
from songalign.caption.testing import TINY_TOWER, tiny_recipe, write_tiny_bart, write_tiny_caption_corpus
from songalign.caption.train import load_recipe, train
from songalign.checkpoint import WEIGHTS_FILE, read_card, trained_songs
from songalign.errors import SongalignError

CONFIGS = PACKAGED_CONFIGS  # configs/ in the repository links here


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    """A prepared corpus of 6 songs × 2 interpretations: 4 train songs, 1 val (song5), 1 test (song3)."""
    corpus = write_tiny_caption_corpus(tmp_path_factory.mktemp("songs"), n_songs=6, per_song=2)
    assert CaptionCorpus.load(corpus).song_lists() == {
        "train": ["song0", "song1", "song2", "song4"],
        "val": ["song5"],
        "test": ["song3"],
    }
    return corpus


@pytest.fixture(scope="module")
def bart(tmp_path_factory):
    return write_tiny_bart(tmp_path_factory.mktemp("bart") / "tiny-bart")


@pytest.fixture(scope="module")
def trained(songs, bart, tmp_path_factory):
    recipe = tiny_recipe(songs, tmp_path_factory.mktemp("run") / "alcap", bart=bart)
    return recipe, train(recipe, progress=False)


def test_training_writes_a_model_folder_with_curves_and_a_card(trained):
    recipe, folder = trained
    run = recipe.run_dir
    assert (run / "loss.png").is_file() and (run / "recipe.yaml").is_file()
    assert (run / "checkpoints" / "last.ckpt").is_file() and (run / "checkpoints" / "best.ckpt").is_file()
    card = read_card(folder)
    assert card["data"]["train_items"] == 8 and card["data"]["val_items"] == 2  # 4 train songs × 2, 1 val song × 2
    assert card["kind"] == "caption" and card["data"]["corpus"] == str(recipe.data.corpus)
    assert card["data"]["songs"] == CaptionCorpus.load(recipe.data.corpus).song_lists()
    assert card["data"]["splits"] == {"source": "corpus"}
    assert card["data"]["trained_songs"] == ["song0", "song1", "song2", "song4"]  # its train split's songs
    assert "init_from" not in card["provenance"]
    assert card["evaluation"]["steps"] == 4  # 2 epochs of 2 batches
    assert card["evaluation"]["weights"].startswith("best on validation")
    model = CaptionModel.from_pretrained(folder)
    assert model.fusion_layers == [0, 1] and model.config.music_dim == 16  # the tiny cnn tower's frames


def test_evaluation_scores_every_test_interpretation(trained, songs, tmp_path):
    recipe, folder = trained
    result = evaluate_captioner(folder, songs, settings=recipe.generation, out=tmp_path / "eval", progress=False)
    metrics = result.metrics
    assert metrics["items"] == 2 and metrics["songs"] == 1 and metrics["pool"] == 1
    for key in ("rouge1", "rouge2", "rougeL", "p@5", "r@30"):
        assert 0.0 <= metrics[key] <= 100.0
    assert ("meteor" in metrics) != ("meteor_nosyn" in metrics)
    rows = [json.loads(line) for line in (tmp_path / "eval" / "captions.jsonl").read_text().splitlines()]
    assert rows[0]["song_id"] == "song3" and len(rows[0]["references"]) == 2


def test_the_shuffle_test_scores_batches_with_other_songs_music_and_lyrics(trained, songs):
    _, folder = trained
    losses = shuffle_losses(folder, songs, batch_size=4, seed=1)
    assert set(losses) == {"loss", "music_shuffled", "lyrics_shuffled", "moved", "items"}
    assert losses["items"] == 8 and losses["moved"] == 1.0  # 4 train songs × 2: every item got another song's input
    assert all(0.0 < losses[key] < 20.0 for key in ("loss", "music_shuffled", "lyrics_shuffled"))
    assert losses["lyrics_shuffled"] != losses["loss"]  # the lyrics reach the decoder
    assert shuffle_losses(folder, songs, batch_size=4, seed=1) == losses  # seeded


def test_a_fine_tuned_captioner_s_card_keeps_its_parent_s_songs_and_lineage(trained, songs, bart, tmp_path):
    _, parent = trained  # trained on song0, song1, song2 and song4
    recipe = tiny_recipe(songs, tmp_path / "tuned", bart=bart)
    recipe.init_from, recipe.data.train_split, recipe.train.epochs = parent, "all", 1  # every song, test song3 too
    card = read_card(train(recipe, progress=False))
    assert card["data"]["trained_songs"] == ["song0", "song1", "song2", "song3", "song4", "song5"]
    assert card["data"]["songs"]["test"] == ["song3"]  # the corpus's split, which the card still lists
    assert card["provenance"]["init_from"]["folder"] == str(parent)
    assert trained_songs(card) >= set(read_card(parent)["data"]["trained_songs"])


class KillAt(Callback):
    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_index):
        if trainer.global_step == self.step:
            raise RuntimeError("simulated kill")


def test_a_killed_run_resumes_to_the_same_weights(trained, songs, bart, tmp_path):
    _, clean = trained
    recipe = tiny_recipe(songs, tmp_path / "killed", bart=bart)
    with pytest.raises(RuntimeError, match="simulated kill"):
        train(recipe, progress=False, callbacks=[KillAt(3)])
    resumed = train(recipe, progress=False)
    a, b = load_file(clean / WEIGHTS_FILE), load_file(resumed / WEIGHTS_FILE)
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)
    a, b = load_file(clean / "bart" / "model.safetensors"), load_file(resumed / "bart" / "model.safetensors")
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_a_lyrics_only_recipe_builds_its_own_bart_and_computes_no_music(tmp_path):
    songs = write_tiny_caption_corpus(tmp_path / "songs", n_songs=4, per_song=1)
    recipe = tiny_recipe(songs, tmp_path / "text", fusion={"enabled": False}, alignment={"loss": None})
    recipe.train.epochs = 1
    model = CaptionModel.from_pretrained(train(recipe, progress=False))
    assert model.fusion_layers == [] and model.config.bart is None and len(model.tokenizer) <= 400
    assert not (songs / ".cache" / "music").exists()  # no audio was read
    assert "music_shuffled" not in shuffle_losses(recipe.run_dir / "model", songs, batch_size=2)


def test_the_four_recipes_load_and_differ_where_the_papers_do():
    recipes = {name: load_recipe(CONFIGS / f"{name}.yaml") for name in ("alcap", "recap", "bart_fusion", "bart_text")}
    assert recipes["alcap"].model.alignment.loss == "audio_to_text_infonce"
    assert recipes["alcap"].model.alignment.options == {}
    assert recipes["alcap"].model.alignment.logit_scale == LogitScaleSettings(init_temperature=0.3, learnable=False)
    assert recipes["recap"].model.alignment.loss == "positive_cosine"
    for name in ("alcap", "recap"):
        assert recipes[name].model.alignment.weight == 0.02 and recipes[name].model.alignment.active
    assert not recipes["bart_fusion"].model.alignment.active and recipes["bart_fusion"].model.fusion.enabled
    assert not recipes["bart_text"].model.fusion.enabled
    assert recipes["alcap"].model.music_encoder.excerpt_seconds == 15.0
    for recipe in recipes.values():  # the pretrained musicnn tagger, frozen: the default music encoder
        assert recipe.model.music_encoder == MusicEncoderConfig()
        assert recipe.model.music_encoder.tower.name == "musicnn"
    drop = {"name", "model"}
    assert len({json.dumps(r.model_dump(mode="json", exclude=drop), sort_keys=True) for r in recipes.values()}) == 1
    overridden = load_recipe(CONFIGS / "alcap.yaml", ["model.bart=facebook/bart-base", "train.lr=5e-5"])
    assert overridden.model.bart == "facebook/bart-base" and overridden.train.lr == 5e-5
    with pytest.raises(SongalignError, match="field 'train.batch_size'"):
        load_recipe(CONFIGS / "alcap.yaml", ["train.batch_size=0"])
    with pytest.raises(SongalignError, match="unknown dataset variant"):
        load_recipe(CONFIGS / "alcap.yaml", ["data.variant=nice"])


def test_alpha_sweep_trains_once_per_alpha(songs, bart, tmp_path):
    recipe = tiny_recipe(songs, tmp_path / "unused", bart=bart)
    recipe.train.epochs, recipe.train.max_steps = 1, 1
    rows = alpha_sweep(recipe, [0.0, 0.5], tmp_path / "sweep", progress=False)
    assert [r["alpha"] for r in rows] == [0.0, 0.5]
    assert (tmp_path / "sweep" / "alpha_sweep.png").is_file() and "| 0.5 |" in (
        tmp_path / "sweep" / "alpha_sweep.md"
    ).read_text()
    assert not CaptionModel.from_pretrained(tmp_path / "sweep" / "alpha_0" / "model").config.alignment.active


def test_cli_generates_evaluates_and_reports_user_errors(trained, songs, tmp_path):
    _, folder = trained
    runner = CliRunner()
    lyrics = tmp_path / "lyrics.txt"
    lyrics.write_text("I sing of joy tonight\nall this joy in my heart\n")
    audio = songs.parent / "audio" / "song0.wav"
    result = runner.invoke(caption_app, ["data", str(songs)])
    assert result.exit_code == 0 and "│ 4 (4 songs) │ 1 (1 songs) │   2 (1 songs) │" in result.output, result.output
    result = runner.invoke(
        caption_app, ["generate", str(folder), "--lyrics", str(lyrics), "--audio", str(audio), "--beams", "1"]
    )
    assert result.exit_code == 0, result.output
    out = tmp_path / "captions.jsonl"
    result = runner.invoke(caption_app, ["generate", str(folder), "--corpus", str(songs), "--out", str(out)])
    assert result.exit_code == 0, result.output
    assert json.loads(out.read_text().splitlines()[0])["song_id"] == "song3"
    result = runner.invoke(
        caption_app, ["evaluate", str(folder), "--corpus", str(songs), "--out", str(tmp_path / "ev")]
    )
    assert result.exit_code == 0, result.output
    assert "rougeL" in result.output and (tmp_path / "ev" / "metrics.json").is_file()
    result = runner.invoke(
        caption_app, ["attention", str(folder), "--corpus", str(songs), "--out", str(tmp_path / "a.png")]
    )
    assert result.exit_code == 0 and (tmp_path / "a.png").is_file(), result.output
    result = runner.invoke(caption_app, ["generate", str(folder), "--lyrics", str(lyrics)])
    assert isinstance(result.exception, SongalignError) and "--audio" in str(result.exception)


def write_align_model(folder, songs: dict[str, list[str]], elsewhere: list[str] = ()):
    """A real (untrained) alignment model with the tiny cnn audio tower, its card listing ``songs`` per split;
    its weights fitted the train songs and ``elsewhere``, songs of no split of this corpus."""
    torch.manual_seed(0)
    model = AlignModel(ModelConfig(audio_tower=TINY_TOWER, embedding_dim=16))
    data = {"corpus": "c", "songs": songs, "trained_songs": [*songs["train"], *elsewhere]}
    return model.save_pretrained(folder, {"name": "tower", "kind": "align", "data": data})


def test_with_an_align_models_tower_the_splits_follow_its_corpus_and_a_leak_is_refused(songs, bart, tmp_path):
    songs_of_tower = {"train": ["song3", "song1"], "val": [], "test": ["song0"]}
    tower = write_align_model(tmp_path / "tower", songs_of_tower, elsewhere=["other_corpus_song"])
    recipe = tiny_recipe(songs, tmp_path / "follow", bart=bart)
    recipe.model.music_encoder.align_model = tower
    recipe.train.epochs = 1
    folder = train(recipe, progress=False)
    card = read_card(folder)
    # the corpus's test song song3 trained the tower: the captioner trains on it and tests on song0 instead
    assert card["data"]["songs"] == {"train": ["song1", "song2", "song3", "song4"], "val": ["song5"], "test": ["song0"]}
    assert card["data"]["splits"]["source"] == "align_model" and card["data"]["splits"]["moved"] == 2
    # the tower's model is on the card's lineage: the audio its weights saw counts as the captioner's too
    assert card["provenance"]["music_tower"]["folder"] == str(tower)
    assert "other_corpus_song" in trained_songs(card) and "other_corpus_song" not in card["data"]["trained_songs"]
    result = evaluate_captioner(folder, songs, settings=recipe.generation, progress=False)
    assert set(result.captions) == {"song0"}

    recipe.data.splits = "corpus"  # keep the corpus's splits: song3 is a test song the tower trained on
    recipe.out = tmp_path / "leak"
    with pytest.raises(SongalignError, match=r"^1 of the captioner's val/test songs \(song3\) are songs the music "):
        train(recipe, progress=False)
    with pytest.raises(SongalignError, match="data.interpretations is gone"):
        load_recipe(CONFIGS / "alcap.yaml", ["data.interpretations=old"])
