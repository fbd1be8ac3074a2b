"""Training the transcriber from a recipe: a run folder with a model folder and card, the joint loss's
terms, early stopping's best epoch kept, and a run that resumes where it stopped: a run SIGKILLed mid-epoch and
run again ends with exactly the weights of an uninterrupted run."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import yaml
from safetensors.torch import load_file

import songalign
from songalign.audio.cache import FeatureCache
from songalign.checkpoint import read_card
from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.prepare import prepare_corpus
from songalign.corpus.segmenter import SplitConfig
from songalign.corpus.synth import synthesize_corpus
from songalign.errors import SkipReport, SongalignError
from songalign.runs import OtherTrainingData, read_metrics, recipe_path
from songalign.transcribe.data import collate, cut_clips, sung_share
from songalign.transcribe.model import Transcriber
from songalign.transcribe.testing import TINY_NETWORK, save_tiny_transcriber, tiny_overrides
from songalign.transcribe.train import (
    ClipBatches,
    LossWeights,
    TranscribeRecipe,
    cached_song_features,
    load_recipe,
    load_targets,
    song_targets,
    split_songs,
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
    assert (loaded.train.epochs, loaded.train.warmup_steps) == (10, 100)
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
    assert (recipe.train.epochs, recipe.train.warmup_steps) == (10, 100)
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


# -- resuming exactly -------------------------------------------------------------------------------------

# The corpus's 2 training songs (954 and 938 frames) give 8 clips of 250 frames in each of epochs 0-3 (epoch 4:
# 10, as the windows' offset moves), so 4 batches of 2 an epoch; the lyrics network's dropout (0.1) draws from
# torch's random state at every step. Every clip is kept (data.min_sung_share=0), so that the counts are these.
RESUMABLE = [
    "data.clip_frames=250",
    "data.min_sung_share=0",
    "train.batch_size=2",
    "train.epochs=3",
    "train.min_epochs=1",
    "train.seed=5",
]

SIGKILLED_RUN = """
import json, os, signal, sys
from lightning.pytorch import Callback
from songalign.runs import recipe_path
from songalign.transcribe.train import load_recipe, train
overrides, kill_step = json.loads(sys.argv[1])

class SigkillAt(Callback):
    # checkpoint callbacks run last: at the start of step kill_step + 1 the checkpoint of step kill_step is written
    def on_train_batch_start(self, trainer, module, batch, batch_index):
        if trainer.global_step == kill_step:
            os.kill(os.getpid(), signal.SIGKILL)

train(load_recipe(recipe_path("alt_small"), overrides), progress=False, callbacks=[SigkillAt()])
"""


def run_killed(overrides: list[str], kill_step: int) -> None:
    """Train in a subprocess that SIGKILLs itself as step ``kill_step`` + 1 (counting from 1) begins."""
    source = str(Path(songalign.__file__).parents[1])
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([source, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run(
        [sys.executable, "-c", SIGKILLED_RUN, json.dumps([overrides, kill_step])],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr[-2000:]


def final_weights(run: Path) -> dict[str, torch.Tensor]:
    """The weights at the end of training (``last.ckpt``; the model folder holds the best epoch's)."""
    return torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)["state_dict"]


def assert_same_weights(a: dict[str, torch.Tensor], b: dict[str, torch.Tensor]) -> None:
    # Both runs do the same float operations in the same order on the same CPU kernels (deterministic Lightning,
    # one thread), so equality is bitwise; the interrupted run of today's trainer differed by up to 4e-3.
    assert a.keys() == b.keys()
    different = [key for key in a if not torch.equal(a[key], b[key])]
    assert not different, f"{len(different)} of {len(a)} tensors differ, e.g. {different[0]}"


@pytest.fixture(scope="module")
def uninterrupted(corpus, tmp_path_factory):
    run = tmp_path_factory.mktemp("uninterrupted") / "run"
    folder = train(recipe(corpus, run, *RESUMABLE), progress=False)
    return run, folder


# With a checkpoint every 3 steps, killed as step 7 begins (step 6 done), the last checkpoint is step 6: epoch 1, 2
# of its 4 batches trained (mid-epoch; step 7 is lost and trained again). With one every 2 steps, killed as step 5
# begins the last checkpoint is step 4: epoch 0's last batch, before epoch 0's validation; that run, run again
# and killed as step 8 begins, leaves step 6's: mid-epoch 1 of a run that resumed at an epoch's end.
@pytest.mark.parametrize(
    ("every", "kills"), [(3, [(6, 1, 2)]), (2, [(4, 0, 4), (7, 1, 2)])], ids=["mid-epoch", "epoch-end-then-mid-epoch"]
)
def test_a_run_sigkilled_mid_epoch_resumes_to_exactly_the_uninterrupted_weights(
    corpus, uninterrupted, tmp_path, every, kills
):
    clean_run, clean_folder = uninterrupted
    run = tmp_path / "run"
    overrides = [f"data.corpus={corpus}", f"out={run}", *TINY, *RESUMABLE, f"train.checkpoint_every={every}"]
    for kill_step, epoch, done in kills:
        run_killed(overrides, kill_step)
        checkpoint = torch.load(run / "checkpoints" / "last.ckpt", map_location="cpu", weights_only=True)
        assert checkpoint["global_step"] == kill_step // every * every
        (position,) = checkpoint["loops"]["fit_loop"]["state_dict"]["combined_loader"]
        assert (position["epoch"], position["done"]) == (epoch, done)
        assert not (run / "model").exists()

    resumed = train(recipe(corpus, run, *RESUMABLE, f"train.checkpoint_every={every}"), progress=False)
    assert_same_weights(final_weights(clean_run), final_weights(run))
    # the model folder holds the best epoch's weights: every epoch was validated, once
    assert_same_weights(load_file(clean_folder / "model.safetensors"), load_file(resumed / "model.safetensors"))
    assert read_card(resumed)["evaluation"]["best_val/wer"] == read_card(clean_folder)["evaluation"]["best_val/wer"]
    rows = read_metrics(run / "logs")
    steps = [int(r["step"]) for r in rows if r.get("train/loss_step")]
    if len(kills) == 1:  # resumed after an epoch's last batch, Lightning logs that epoch's steps one step early
        assert steps == list(range(12))  # 3 epochs of 4 batches, each trained once in the joined history
    # an epoch validated after the checkpoint its run was killed from is validated again on resuming: the same
    validated = {(r["epoch"], r["val/wer"]) for r in rows if r.get("val/wer")}
    clean = {(r["epoch"], r["val/wer"]) for r in read_metrics(clean_run / "logs") if r.get("val/wer")}
    assert validated == clean and len(clean) == 3


def test_another_seed_gives_other_weights(corpus, uninterrupted, tmp_path):
    # so that the resume test can fail: the weights depend on the batches' order and the dropout masks
    train(recipe(corpus, tmp_path / "run", *RESUMABLE, "train.seed=6"), progress=False)
    a, b = final_weights(uninterrupted[0]), final_weights(tmp_path / "run")
    assert any(not torch.equal(a[key], b[key]) for key in a)


def test_a_checkpoint_of_other_batches_is_refused_in_one_sentence(corpus, uninterrupted, tmp_path):
    run = tmp_path / "run"
    run_killed([f"data.corpus={corpus}", f"out={run}", *TINY, *RESUMABLE, "train.checkpoint_every=3"], 6)
    with pytest.raises(SongalignError) as refused:
        train(recipe(corpus, run, *RESUMABLE, "train.batch_size=4"), progress=False)
    assert str(refused.value) == (
        f"{run / 'checkpoints' / 'last.ckpt'} was written by a run with another batch size (2 then, 4 now), so the "
        "run cannot resume from it; train into another folder (out=...) or delete the checkpoint to train this run "
        "from its start"
    )


def training_songs(corpus):
    config = recipe(corpus, "unused").model
    songs = split_songs(CorpusManifest.load(corpus), "train")
    cache = FeatureCache(corpus / ".cache" / "transcribe")
    return load_targets(songs, config, cache, SkipReport(), need_notes=True)


def batch_tokens(batches) -> list[list[int]]:
    return [batch.tokens.tolist() + batch.lengths.tolist() for batch in batches]


def test_clip_batches_resume_at_the_first_batch_not_trained_on_and_after_a_complete_epoch(corpus):
    songs = training_songs(corpus)
    whole = ClipBatches(songs, 250, 2, seed=5)
    whole.epoch = 1
    epoch_1 = batch_tokens(whole)
    whole.epoch = 2
    epoch_2 = batch_tokens(whole)
    assert len(epoch_1) == 4 and epoch_1 != epoch_2

    interrupted = ClipBatches(songs, 250, 2, seed=5)
    interrupted.epoch = 1
    iterator = iter(interrupted)
    next(iterator), next(iterator), next(iterator)  # the third batch is prefetched, not trained on
    interrupted.mark_done(), interrupted.mark_done()
    resumed = ClipBatches(songs, 250, 2, seed=5)
    resumed.load_state_dict(interrupted.state_dict())
    assert resumed.epoch == 1 and batch_tokens(resumed) == epoch_1[2:]

    interrupted.mark_done(), interrupted.mark_done()  # the epoch's last batch trained: the next iteration is epoch 2's
    resumed = ClipBatches(songs, 250, 2, seed=5)
    resumed.load_state_dict(interrupted.state_dict())
    assert batch_tokens(resumed) == epoch_2 and resumed.epoch == 2


def test_clip_batches_leave_out_the_clips_sung_less_than_the_recipe_s_share(corpus):
    songs = training_songs(corpus)
    every, sung = ClipBatches(songs, 250, 2, seed=5), ClipBatches(songs, 250, 2, seed=5, min_sung_share=0.5)
    shares = {window: sung_share(songs[window[0]], *window[1:]) for window in every.epoch_windows()}
    kept = [window for window in every.epoch_windows() if shares[window] >= 0.5]
    assert 0 < len(kept) < len(shares)  # the corpus has clips on both sides of the threshold
    assert sorted(sung.epoch_windows()) == sorted(kept)  # the others left out
    assert sung.epoch_length() == -(-len(kept) // 2)


def test_clip_batches_restore_torch_s_random_state(corpus):
    songs = training_songs(corpus)
    torch.manual_seed(11)
    state = ClipBatches(songs, 250, 2, seed=5).state_dict()
    expected = torch.rand(3)
    torch.manual_seed(12)
    ClipBatches(songs, 250, 2, seed=5).load_state_dict(state)
    assert torch.equal(torch.rand(3), expected)


@pytest.mark.parametrize(
    ("change", "sentence"),
    [
        ({"clip_frames": 300}, "another clip length (data.clip_frames) (250 then, 300 now)"),
        ({"seed": 6}, "another seed (5 then, 6 now)"),
        ({"songs": 1}, "another set of training songs"),
        ({"vocals": "mix"}, "another vocal channel (model.vocals) (spleeter then, mix now)"),
        ({"min_sung_share": 0.1}, "another least sung share of a clip (data.min_sung_share) (0.0 then, 0.1 now)"),
        (
            {"digest": "00000000000000d2"},
            "another separator's weights (digest) (00000000000000d1 then, 00000000000000d2 now)",
        ),
    ],
)
def test_clip_batches_refuse_the_state_of_other_batches(corpus, change, sentence):
    songs = training_songs(corpus)
    channel = {"vocals": "spleeter", "separator_digest": "00000000000000d1"}
    state = ClipBatches(songs, 250, 2, seed=5, **channel).state_dict()
    other = ClipBatches(
        songs[: change.get("songs", len(songs))],
        change.get("clip_frames", 250),
        2,
        seed=change.get("seed", 5),
        vocals=change.get("vocals", "spleeter"),
        separator_digest=change.get("digest", "00000000000000d1"),
        min_sung_share=change.get("min_sung_share", 0.0),
    )
    with pytest.raises(OtherTrainingData, match="^" + re.escape(sentence)):
        other.load_state_dict(state)
    assert other._resume_at is None and other.epoch == 0  # nothing of the refused state was taken


def test_a_run_resumed_with_another_vocal_channel_is_refused_in_one_sentence(corpus, tmp_path):
    run = tmp_path / "run"
    train(recipe(corpus, run, "train.epochs=1", "train.min_epochs=1"), progress=False)  # stems
    with pytest.raises(SongalignError) as refused:
        train(recipe(corpus, run, "train.epochs=2", "train.min_epochs=1", "model.vocals=mix"), progress=False)
    assert str(refused.value) == (
        f"{run / 'checkpoints' / 'last.ckpt'} was written by a run with another vocal channel (model.vocals) (stem "
        "then, mix now), so the run cannot resume from it; train into another folder (out=...) or delete the "
        "checkpoint to train this run from its start"
    )
