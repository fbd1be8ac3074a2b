"""Training with real Lightning on a tiny corpus: resume after a kill, save/load, the embedding API."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from lightning.pytorch import Callback
from safetensors.torch import load_file

from songalign.align.model import AlignModel, ModelConfig, TowerSpec
from songalign.align.train import DataSettings, LossSpec, Recipe, TrainSettings, read_metrics, train
from songalign.corpus.prepare import prepare_jamendo
from songalign.testing import FakeSong, regular_lines, write_jamendo_corpus

TINY_AUDIO = TowerSpec(name="cnn", options={"channels": [8, 16], "embedding_dim": 32})


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    root = tmp_path_factory.mktemp("tiny")
    songs = [
        FakeSong(
            f"Artist_{i}_-_Song_{i}",
            [regular_lines(3, start=1.0 + 14 * p, length=2.5, gap=0.3, text=f"word{i} line{p}") for p in range(2)],
            duration=30.0,
        )
        for i in range(8)
    ]
    write_jamendo_corpus(root / "raw", songs)
    prepare_jamendo(root / "raw", root / "prepared", progress=False)
    return root / "prepared"


def recipe(corpus, out, **train) -> Recipe:
    settings = {"epochs": 3, "batch_size": 4, "lr": 1e-3, "warmup_steps": 2, "checkpoint_every": 1, "seed": 7} | train
    return Recipe(
        name="tiny",
        out=out,
        model=ModelConfig(audio_tower=TINY_AUDIO, embedding_dim=16, clip_seconds=4.0),
        loss=LossSpec(name="symmetric_infonce"),
        data=DataSettings(corpus=corpus, target="lyrics"),
        train=TrainSettings(**settings),
    )


class KillAt(Callback):
    """Simulates a crash part-way through an epoch."""

    def __init__(self, step: int):
        self.step = step

    def on_train_batch_end(self, trainer, module, outputs, batch, batch_index):
        if trainer.global_step == self.step:
            raise RuntimeError("simulated kill")  # Lightning turns KeyboardInterrupt into a graceful stop


@pytest.fixture(scope="module")
def clean_run(corpus, tmp_path_factory):
    return train(recipe(corpus, tmp_path_factory.mktemp("clean")), progress=False)


# 12 training pairs in batches of 4: 3 steps an epoch. Killed at step 5 the last checkpoint is
# step 4 (mid-epoch); killed at step 4 it is step 3, the end of the first epoch.
@pytest.mark.parametrize("kill_step", [5, 4])
def test_a_killed_run_resumes_to_the_same_weights(corpus, clean_run, tmp_path, kill_step):
    clean = clean_run
    with pytest.raises(RuntimeError, match="simulated kill"):
        train(recipe(corpus, tmp_path / "killed"), progress=False, callbacks=[KillAt(step=kill_step)])
    assert (tmp_path / "killed" / "checkpoints" / "last.ckpt").is_file()
    resumed = train(recipe(corpus, tmp_path / "killed"), progress=False)
    # the interrupted run's log is kept beside the resumed one's, and they join into one history
    assert sorted(p.name for p in (tmp_path / "killed" / "logs").iterdir()) == ["version_0", "version_1"]
    steps = [int(r["step"]) for r in read_metrics(tmp_path / "killed" / "logs") if r.get("train/loss_step")]
    assert steps == sorted(steps) and len(steps) == len(set(steps)) == 9
    a, b = load_file(clean / "model.safetensors"), load_file(resumed / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-5, atol=1e-6)


def test_another_seed_gives_other_weights(corpus, clean_run, tmp_path):
    a = load_file(clean_run / "model.safetensors")
    other = load_file(train(recipe(corpus, tmp_path / "other", seed=8), progress=False) / "model.safetensors")
    assert any(not torch.allclose(a[k].float(), other[k].float()) for k in a)  # so the resume check can fail


def test_training_writes_logs_curves_card_and_lowers_the_loss(corpus, tmp_path):
    saved = train(recipe(corpus, tmp_path / "run", epochs=6), progress=False)
    run = tmp_path / "run"
    assert (run / "loss.png").stat().st_size > 1000 and (run / "recipe.yaml").is_file()
    rows = [r for r in read_metrics(run / "logs") if r.get("train/loss_epoch")]
    losses = [float(r["train/loss_epoch"]) for r in rows]
    assert len(losses) == 6 and losses[-1] < losses[0]
    card = (saved / "README.md").read_text()
    assert "Training data" in card and "lyrics" in card and "val/r1" in card
    assert list((run / "logs").glob("version_0/events.out.tfevents*"))  # TensorBoard log too


def test_save_load_round_trip_and_deterministic_embeddings(corpus, tmp_path):
    saved = train(recipe(corpus, tmp_path / "run", epochs=1), progress=False)
    model = AlignModel.from_pretrained(saved)
    again = AlignModel.from_pretrained(saved)
    rng = np.random.default_rng(0)
    clip = (0.1 * rng.standard_normal(16000 * 9)).astype(np.float32)  # 9 s: three 4 s windows, the last shorter
    first = model.embed_audio([clip])
    np.testing.assert_array_equal(first, model.embed_audio([clip]))
    np.testing.assert_allclose(first, again.embed_audio([clip]), atol=1e-6)
    assert first.shape == (1, 16) and np.linalg.norm(first) == pytest.approx(1.0, abs=1e-5)
    texts = model.embed_text(["word1 line0 0", "another text"])
    np.testing.assert_allclose(texts, again.embed_text(["word1 line0 0", "another text"]), atol=1e-6)
    # the frozen text tower is referenced, not copied
    assert "text_tower" not in " ".join(load_file(saved / "model.safetensors"))
