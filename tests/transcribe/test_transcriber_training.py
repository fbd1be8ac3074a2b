"""Training the transcriber from a recipe: a run folder with a model folder and card, the joint loss's
terms, early stopping's best epoch kept, and a run that resumes where it stopped."""

from __future__ import annotations

import json

import pytest
import torch
import yaml

from songalign.audio.cache import FeatureCache
from songalign.checkpoint import read_card
from songalign.corpus.prepare import prepare_corpus
from songalign.corpus.segmenter import SplitConfig
from songalign.corpus.synth import synthesize_corpus
from songalign.errors import SongalignError
from songalign.runs import read_metrics, recipe_path
from songalign.transcribe.data import collate, cut_clips
from songalign.transcribe.model import Transcriber
from songalign.transcribe.testing import TINY_NETWORK, save_tiny_transcriber, tiny_overrides
from songalign.transcribe.train import (
    LossWeights,
    TranscribeRecipe,
    cached_song_features,
    load_recipe,
    song_targets,
    train,
    transcription_loss,
)

TINY = [*tiny_overrides(lyrics_hidden=16), "train.threads=1", "model.vocals=stem"]  # stems: no separation here


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("transcribe_corpus")
    synthesize_corpus(root / "synth", n_songs=4, seed=2, workers=1, duration=15.0, stems=True)
    split = SplitConfig(train=0.5, val=0.25, test=0.25, seed=2)
    prepare_corpus("jamendo", root / "synth", root / "corpus", split=split, progress=False)
    return root / "corpus"


def recipe(corpus, out, *extra):
    return load_recipe(recipe_path("alt_small"), [f"data.corpus={corpus}", f"out={out}", *TINY, *extra])


def test_training_writes_a_model_folder_whose_card_names_its_songs(corpus, tmp_path):
    folder = train(recipe(corpus, tmp_path / "run", "train.epochs=2", "train.min_epochs=1"), progress=False)
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
    train(recipe(corpus, run, "train.epochs=1", "train.min_epochs=1"), progress=False)
    first_steps = max(int(r["step"]) for r in read_metrics(run / "logs"))
    train(recipe(corpus, run, "train.epochs=2", "train.min_epochs=1"), progress=False)
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
        train(recipe(tmp_path / "corpus", tmp_path / "run", "model.vocals=mix", "model.mode=pitch"), progress=False)


def with_old_setting_names(tree: dict) -> dict:
    """A recipe tree as written before the training settings were renamed (``max_epochs``, ``warmup_batches``)."""
    train = dict(tree["train"])
    train["max_epochs"], train["warmup_batches"] = train.pop("epochs"), train.pop("warmup_steps")
    return {**tree, "train": train}


def songalign_warnings(caplog) -> list[str]:
    return [record.getMessage() for record in caplog.records if record.name == "songalign"]


def test_a_recipe_with_the_old_setting_names_loads_with_a_warning_each(tmp_path, caplog):
    old = tmp_path / "alt_small_old.yaml"
    old.write_text(yaml.safe_dump(with_old_setting_names(yaml.safe_load(recipe_path("alt_small").read_text()))))
    with caplog.at_level("WARNING", logger="songalign"):
        loaded = load_recipe(old)
    assert loaded == load_recipe(recipe_path("alt_small"))
    assert (loaded.train.epochs, loaded.train.warmup_steps) == (12, 100)
    assert songalign_warnings(caplog) == [
        "the training setting train.max_epochs is now called train.epochs; rename it in the recipe",
        "the training setting train.warmup_batches is now called train.warmup_steps; rename it in the recipe",
    ]
    caplog.clear()
    with caplog.at_level("WARNING", logger="songalign"):  # an old --set override still changes the setting
        assert load_recipe(recipe_path("alt_small"), ["train.max_epochs=3"]).train.epochs == 3
    assert songalign_warnings(caplog) == [
        "the training setting train.max_epochs is now called train.epochs; rename it in the recipe"
    ]


def test_a_model_folder_whose_card_has_the_old_setting_names_still_loads(tmp_path, caplog):
    folder = save_tiny_transcriber(tmp_path / "m")
    old_recipe = with_old_setting_names(load_recipe(recipe_path("alt_small")).model_dump(mode="json"))
    card = json.loads((folder / "card.json").read_text())
    (folder / "card.json").write_text(json.dumps({**card, "recipe": old_recipe}))  # as the old trainer wrote it
    assert Transcriber.from_pretrained(folder).config.mode == "baseline"
    with caplog.at_level("WARNING", logger="songalign"):
        recipe = TranscribeRecipe.model_validate(read_card(folder)["recipe"])
    assert (recipe.train.epochs, recipe.train.warmup_steps) == (12, 100)
    assert len(songalign_warnings(caplog)) == 2


def test_the_weighted_pitch_loss_is_the_plain_mean_of_w_y_times_ce_as_in_the_authors_code():
    from songalign.transcribe.train import pitch_cross_entropy

    # frame 0 (MIDI 60) gives its class 1/2, frame 1 (no pitch, class 128) 1/4: CE ln 2 and ln 4.
    probs = torch.full((2, 129), 0.5 / 128)
    probs[0, 60] = 0.5
    probs[1] = 0.75 / 128
    probs[1, 128] = 0.25
    logits, targets = probs.log(), torch.tensor([60, 128])
    ln2 = torch.log(torch.tensor(2.0))
    # pitched frames weigh 2: (2·ln 2 + 1·ln 4) / 2 frames = 2 ln 2. torch's cross_entropy(weight=...) divides
    # by the weights' sum instead, (2 ln 2 + ln 4) / 3 = 4/3 ln 2, 1.5× smaller; the weight on the wrong frame
    # would give (ln 2 + 2 ln 4) / 2 = 2.5 ln 2.
    torch.testing.assert_close(pitch_cross_entropy(logits, targets, pitched_class_weight=2.0), 2 * ln2)
    torch.testing.assert_close(pitch_cross_entropy(logits, targets, pitched_class_weight=1.0), 1.5 * ln2)
    unweighted = torch.nn.functional.cross_entropy(logits, targets)  # weight 1: the paper's plain CE
    torch.testing.assert_close(pitch_cross_entropy(logits, targets, pitched_class_weight=1.0), unweighted)


def test_adam_s_amsgrad_and_the_gradient_clipping_are_recipe_settings():
    from songalign.transcribe.train import TranscribeModule

    for name in ("alt_small", "alt"):
        text = recipe_path(name).read_text()
        assert "amsgrad:" in text and "grad_clip:" in text  # stated, with why, in both recipes
        loaded = load_recipe(recipe_path(name))
        assert loaded.train.amsgrad is False and loaded.train.grad_clip == 5.0
    authors = load_recipe(
        recipe_path("alt_small"), ["data.corpus=unused", "train.amsgrad=true", "train.grad_clip=null"]
    )
    assert authors.train.amsgrad is True and authors.train.grad_clip is None
    model = Transcriber(authors.model.model_copy(update={"network": TINY_NETWORK}))
    optimizer = TranscribeModule(model, authors, None, []).configure_optimizers()["optimizer"]
    assert isinstance(optimizer, torch.optim.Adam) and optimizer.defaults["amsgrad"] is True
    assert optimizer.defaults["eps"] == 1e-8 and optimizer.defaults["betas"] == (0.9, 0.999)


def test_the_authors_code_settings_the_paper_recipe_lists_all_load():
    import re

    text = recipe_path("alt").read_text()
    header = text[: text.index("name: alt")]
    overrides = re.findall(r"--set (\S+)", header[header.index("The authors' code differs") :])
    authors = load_recipe(recipe_path("alt"), overrides)
    assert authors.train.amsgrad is True and authors.train.grad_clip is None
    assert authors.loss.pitched_class_weight == 2 and authors.decode.lm_weights == "authors"
    assert authors.decode.note_rule == "pitch_changes" and authors.model.channel_order == "vocals_first"
