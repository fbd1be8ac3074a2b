"""Training with real Lightning on a tiny corpus: resume after a kill, save/load, the embedding API."""

from __future__ import annotations

import csv
import pickle
from dataclasses import replace

import numpy as np
import pytest
import torch
from lightning.pytorch import Callback
from safetensors.torch import load_file

from songalign.align.data import LYRICS_ONLY_NOTE, EpochBatches, PairedSet, build_pairs
from songalign.align.evaluate import embed_segments
from songalign.align.losses import LogitScale, get_loss, sentence_similarity
from songalign.align.model import AlignModel, ModelConfig, TowerSpec
from songalign.align.train import (
    AlignModule,
    AlignTrainSettings,
    DataSettings,
    LossSpec,
    Recipe,
    build_model,
    load_recipe,
    train,
)
from songalign.checkpoint import read_card, trained_songs, unknown_training
from songalign.corpus.manifest import CorpusManifest
from songalign.errors import SKIPPED_FILE, SkipReport, SongalignError
from songalign.runs import read_metrics
from songalign.towers.testing import write_tiny_clap

TINY_AUDIO = TowerSpec(name="cnn", options={"channels": [8, 16], "embedding_dim": 32})


def recipe(corpus, out, loss: str = "symmetric_infonce", data: dict | None = None, init_from=None, **train) -> Recipe:
    settings = {"epochs": 3, "batch_size": 4, "lr": 1e-3, "warmup_steps": 2, "checkpoint_every": 1, "seed": 7} | train
    return Recipe(
        name="tiny",
        out=out,
        init_from=init_from,
        model=ModelConfig(audio_tower=TINY_AUDIO, embedding_dim=16, clip_seconds=4.0),
        loss=LossSpec(name=loss),
        data=DataSettings(corpus=corpus, target="lyrics", **(data or {})),
        train=AlignTrainSettings(**settings),
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


class WritesMarker:
    """A pickle payload: unpickling it calls ``exec``, which writes the file ``marker``."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return exec, (f"open({self.marker!r}, 'w').write('code ran')",)


@pytest.mark.parametrize(
    ("form", "named"),
    [
        ("bare pickle", "something other than tensors and training state"),  # refused at its first opcode
        ("torch.save'd checkpoint", "a call to exec"),  # refused at the payload's global, named
    ],
)
def test_a_pickle_payload_planted_in_last_ckpt_is_refused_without_running(corpus, tmp_path, form, named):
    with pytest.raises(RuntimeError, match="simulated kill"):  # a real run folder, with its last.ckpt
        train(recipe(corpus, tmp_path / "run"), progress=False, callbacks=[KillAt(step=2)])
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    marker = tmp_path / "marker"
    real = torch.load(last, map_location="cpu", weights_only=True)  # what songalign writes loads safely
    if form == "bare pickle":
        last.write_bytes(pickle.dumps(WritesMarker(marker)))
    else:  # a real checkpoint's contents with the payload among them
        torch.save({**real, "hyper_parameters": {"note": WritesMarker(marker)}}, last)
    # the payload is live: an unsafe load would run it (so this test can fail)
    pickle.loads(pickle.dumps(WritesMarker(tmp_path / "live")))
    assert (tmp_path / "live").read_text() == "code ran"

    with pytest.raises(SongalignError) as refused:
        train(recipe(corpus, tmp_path / "run"), progress=False)
    assert not marker.exists()  # no code from the checkpoint ran
    assert str(refused.value) == (
        f"{last} is not a checkpoint that loads without running code (it holds {named}), so it was not "
        "loaded; delete it to train the run from its start, and resume only from checkpoints your runs wrote"
    )
    last.unlink()  # the fix the sentence gives: the run trains from its start
    assert (train(recipe(corpus, tmp_path / "run"), progress=False) / "model.safetensors").is_file()
    assert not marker.exists()


def test_a_damaged_last_ckpt_is_one_sentence(corpus, tmp_path):
    with pytest.raises(RuntimeError, match="simulated kill"):
        train(recipe(corpus, tmp_path / "run"), progress=False, callbacks=[KillAt(step=2)])
    last = tmp_path / "run" / "checkpoints" / "last.ckpt"
    last.write_bytes(last.read_bytes()[: last.stat().st_size // 2])  # cut short, as by a full disk
    with pytest.raises(SongalignError, match=r"last.ckpt cannot be read as a checkpoint \(.+\); delete it to train"):
        train(recipe(corpus, tmp_path / "run"), progress=False)


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
    data = read_card(saved)["data"]  # the songs of each split of the corpus it trained on
    manifest = CorpusManifest.load(corpus)
    assert read_card(saved)["kind"] == "align" and set(data["songs"]) == {"train", "val", "test"}
    for split, songs in data["songs"].items():
        assert songs == sorted({s.song_id for s in manifest.split(split)})
    assert data["songs"]["train"] and not set(data["songs"]["train"]) & set(data["songs"]["test"])
    assert data["trained_songs"] == data["songs"]["train"]  # it trained on the train split
    assert trained_songs(read_card(saved)) == set(data["songs"]["train"])
    assert list((run / "logs").glob("version_0/events.out.tfevents*"))  # TensorBoard log too


def test_cards_record_the_songs_really_trained_on_down_a_lineage(corpus, tmp_path):
    manifest = CorpusManifest.load(corpus)
    songs = {split: {s.song_id for s in manifest.split(split)} for split in ("train", "val", "test")}
    assert all(songs.values()) and not songs["train"] & songs["test"]
    # a trains on every split, b (from a) on val only, c (from b) on val only
    a = train(recipe(corpus, tmp_path / "a", data={"train_split": "all"}, epochs=1), progress=False)
    b_recipe = recipe(corpus, tmp_path / "b", data={"train_split": "val"}, init_from=a, epochs=1)
    b = train(b_recipe, progress=False)
    c = train(b_recipe.model_copy(update={"out": tmp_path / "c", "init_from": b}), progress=False)
    card_a, card_c = read_card(a), read_card(c)
    assert card_a["data"]["songs"]["train"] == sorted(songs["train"])  # the corpus's split, as before
    assert trained_songs(card_a) == songs["train"] | songs["val"] | songs["test"]  # test songs included
    assert card_a["data"]["train_split"] == "all"
    assert set(read_card(b)["data"]["trained_songs"]) == trained_songs(card_a)  # a's, inherited
    # c itself fitted val songs only, but its weights descend from a's, which saw the test songs
    assert trained_songs(card_c) >= songs["test"]
    grandparent = card_c["provenance"]["init_from"]["provenance"]["init_from"]
    assert grandparent["folder"] == str(a) and set(grandparent["data"]["trained_songs"]) == trained_songs(card_a)
    assert unknown_training(card_c) == []  # every model of the lineage says what it trained on


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


# -- what the loss is given: the model's logit scale, the frozen text tower's similarities -------------


def module_for(loss: str, batch: int = 4, feature_frames: int = 50) -> AlignModule:
    """A training module around a fresh tiny model, on ``batch`` pairs of zero features (never iterated here)."""
    model_config = ModelConfig(audio_tower=TINY_AUDIO, embedding_dim=16, clip_seconds=1.0)
    run = Recipe(name="unit", model=model_config, loss=LossSpec(name=loss), data=DataSettings(corpus="unused"))
    model = AlignModel(model_config)
    pairs = PairedSet(
        [], ["t"] * batch, torch.zeros(batch, 64, feature_frames), torch.zeros(batch, model.text_tower.embedding_dim)
    )
    return AlignModule(model, run, EpochBatches(pairs, batch, seed=0), None)


def test_muscall_weights_come_from_the_frozen_tower_embeddings_not_the_projected_text():
    torch.manual_seed(0)
    weighted, symmetric = module_for("weighted_infonce"), module_for("symmetric_infonce")
    weighted.model.load_state_dict(symmetric.model.state_dict())
    model = weighted.model.eval()
    d_t = model.text_tower.embedding_dim
    with torch.no_grad():  # the text projection reads only the first 8 tower dimensions
        for module in (weighted, symmetric):
            module.model.text_projection.net[0].weight[:, 8:] = 0.0
    shared = torch.randn(4, 8)
    first = torch.cat([shared, torch.randn(4, d_t - 8)], dim=1)
    second = torch.cat([shared, 5.0 * torch.randn(4, d_t - 8)], dim=1)  # other sentences to the frozen tower
    features = torch.randn(4, 64, 50)
    with torch.no_grad():
        torch.testing.assert_close(model.project_text(first), model.project_text(second))  # same projected text
        assert not torch.allclose(sentence_similarity(first), sentence_similarity(second), atol=1e-3)
        loss = get_loss("weighted_infonce")
        w1, w2 = loss.weights(sentence_similarity(first)), loss.weights(sentence_similarity(second))
        assert (w1 - w2).abs().max() > 0.05  # the two batches weigh their samples differently
        a, b = weighted.batch_loss(features, first), weighted.batch_loss(features, second)
        assert abs(float(a) - float(b)) > 1e-4
        audio, text = model.project_audio(features), model.project_text(first)
        expected = loss(audio, text, scale=model.scale, text_similarity=sentence_similarity(first))
        torch.testing.assert_close(a, expected)
        projected = loss(audio, text, scale=model.scale, text_similarity=text @ text.T)  # the old, wrong source
        assert abs(float(a) - float(projected)) > 1e-4
        # the unweighted loss sees only the projected text: the same value for both batches
        symmetric.model.eval()
        torch.testing.assert_close(symmetric.batch_loss(features, first), symmetric.batch_loss(features, second))


def test_the_loss_uses_the_model_scale_and_holds_none():
    module = module_for("symmetric_infonce")
    model = module.model.eval()
    assert list(module.loss.parameters()) == []
    torch.manual_seed(1)
    features, tower = torch.randn(4, 64, 50), torch.randn(4, model.text_tower.embedding_dim)
    with torch.no_grad():
        before = module.batch_loss(features, tower)
        model.logit_scale.logit_scale.fill_(0.0)  # s = 1
        at_one = module.batch_loss(features, tower)
        audio, text = model.project_audio(features), model.project_text(tower)
    assert not torch.allclose(before, at_one)
    torch.testing.assert_close(at_one, get_loss("symmetric_infonce")(audio, text, scale=1.0))
    assert [n for n, p in module.named_parameters() if "logit_scale" in n] == ["model.logit_scale.logit_scale"]
    assert isinstance(model.logit_scale, LogitScale)  # the same module a captioner holds


def test_the_config_records_whether_the_loss_used_the_scale(corpus, tmp_path):
    def trained(loss: str, out: str) -> AlignModel:
        return AlignModel.from_pretrained(train(recipe(corpus, tmp_path / out, loss, epochs=1), progress=False))

    assert not AlignModel(ModelConfig(audio_tower=TINY_AUDIO)).config.logit_scale_trained  # untrained: no s yet
    margin = trained("margin_contrastive", "margin")
    assert not margin.config.logit_scale_trained
    assert margin.logit_scale.logit_scale.item() == pytest.approx(np.log(1 / 0.07), abs=1e-6)  # left as it was
    weighted = trained("weighted_infonce", "w")
    assert weighted.config.logit_scale_trained
    assert weighted.logit_scale.logit_scale.item() != pytest.approx(np.log(1 / 0.07), abs=1e-6)  # trained
    rows = read_metrics(tmp_path / "w" / "logs")
    assert any(r.get("val/loss") for r in rows)  # validation ran through the weighted loss too


def test_old_scale_settings_name_where_they_went(tmp_path):
    path = tmp_path / "old.yaml"
    path.write_text("name: old\ndata: {corpus: c}\nloss: {name: symmetric_infonce, options: {init_temperature: 0.1}}\n")
    with pytest.raises(
        SongalignError, match="init_temperature: not a loss option.*model.logit_scale.init_temperature"
    ) as caught:
        load_recipe(path)
    assert "Value error" not in str(caught.value)  # the validator's own sentence, without pydantic's prefix
    path.write_text("name: old\ndata: {corpus: c}\nmodel: {logit_scale_init: 2.0, learn_logit_scale: false}\n")
    with pytest.raises(SongalignError, match="model.logit_scale.init_temperature .* and model.logit_scale.learnable"):
        load_recipe(path)


def test_the_scale_settings_are_the_captioner_s(tmp_path):
    path = tmp_path / "fixed.yaml"
    path.write_text(
        "name: fixed\ndata: {corpus: c}\nmodel: {logit_scale: {init_temperature: 0.25, learnable: false}}\n"
    )
    model = AlignModel(load_recipe(path).model.model_copy(update={"audio_tower": TINY_AUDIO}))
    assert float(model.scale.detach()) == pytest.approx(4.0) and not model.logit_scale.logit_scale.requires_grad
    capped = load_recipe(path, ["model.logit_scale.max_scale=2.0"]).model
    assert float(AlignModel(capped.model_copy(update={"audio_tower": TINY_AUDIO})).scale) == pytest.approx(2.0)
    with pytest.raises(SongalignError, match="model.logit_scale.learnabel"):
        load_recipe(path, ["model.logit_scale.learnabel=true"])  # a misspelt setting is not ignored
    with pytest.raises(SongalignError, match="field 'model.embeding_dim': Extra inputs are not permitted"):
        load_recipe(path, ["model.embeding_dim=8"])  # nor a misspelt model field


def test_init_from_takes_the_scale_settings_the_recipe_gives(tmp_path):
    parent = AlignModel(ModelConfig(audio_tower=TINY_AUDIO, embedding_dim=16, logit_scale_trained=True))
    parent.logit_scale.logit_scale.data.fill_(np.log(20.0))  # as if training had moved s to 20
    folder = parent.save_pretrained(tmp_path / "parent")
    path = tmp_path / "tune.yaml"
    path.write_text(f"name: tune\ninit_from: {folder}\ndata: {{corpus: c}}\n")

    def tuned(*overrides: str) -> AlignModel:
        return build_model(load_recipe(path, list(overrides)))

    inherited = tuned()  # no logit_scale in the recipe: the parent's s, learnable as saved
    assert float(inherited.scale.detach()) == pytest.approx(20.0) and inherited.logit_scale.logit_scale.requires_grad
    fixed = tuned("model.logit_scale.learnable=false")  # the parent's s, kept fixed
    assert float(fixed.scale.detach()) == pytest.approx(20.0) and not fixed.logit_scale.logit_scale.requires_grad
    assert fixed.config.logit_scale_trained and not fixed.config.logit_scale.learnable
    capped = tuned("model.logit_scale.max_scale=5.0")
    assert float(capped.scale.detach()) == pytest.approx(5.0) and capped.logit_scale.logit_scale.requires_grad
    restarted = tuned("model.logit_scale.init_temperature=0.25")  # s restarts at 1/τ₀: not the trained one
    assert float(restarted.scale.detach()) == pytest.approx(4.0) and not restarted.config.logit_scale_trained


def test_lyrics_only_segments_are_left_out_of_training_and_evaluation_and_noted(corpus, tmp_path):
    manifest = CorpusManifest.load(corpus)
    train_segments = manifest.split("train")
    # what the interpretation reader makes of a song without audio: one segment, no audio_path, start = end = 0
    lyrics_only = [replace(s, id=f"{s.id}-text", audio_path="", start=0.0, end=0.0) for s in train_segments[:2]]
    manifest.segments = lyrics_only + manifest.segments
    model = AlignModel(ModelConfig(audio_tower=TINY_AUDIO, embedding_dim=16, clip_seconds=4.0))
    report = SkipReport()
    pairs = build_pairs(model, manifest, "train", "lyrics", tmp_path / "cache", report, progress=False)
    assert [s.id for s in pairs.segments] == [s.id for s in train_segments]  # every segment with audio, no other
    assert [(e.item, e.reason) for e in report.noted] == [(s.id, LYRICS_ONLY_NOTE) for s in lyrics_only]
    assert len(report) == 0  # noted, not counted as skipped: the corpus keeps them on purpose
    embedded = embed_segments(model, lyrics_only + train_segments, tmp_path / "cache")
    assert [s.id for s in embedded.segments] == [s.id for s in train_segments]
    # end to end: a corpus holding them trains, and the run folder lists what was left out
    saved = train(recipe(manifest.save(tmp_path / "corpus"), tmp_path / "run", epochs=1), progress=False)
    assert read_card(saved)["data"]["train_pairs"] == len(train_segments)
    with (tmp_path / "run" / SKIPPED_FILE).open(encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert [(r["action"], r["item"]) for r in rows] == [("noted", s.id) for s in lyrics_only]


def test_augmentation_on_features_it_cannot_mask_stops_before_any_work(corpus, tmp_path):
    clap = write_tiny_clap(tmp_path / "tiny-clap")
    run = recipe(corpus, tmp_path / "run").model_copy(
        update={
            "model": ModelConfig(
                audio_tower=TowerSpec(name="hf_clap_audio", options={"model": str(clap)}), embedding_dim=16
            ),
            "data": DataSettings(corpus=corpus, target="lyrics", cache_dir=tmp_path / "cache"),
        }
    )
    with pytest.raises(SongalignError, match="'hf_clap_audio' makes 'clap' features; set train.augment to null"):
        train(run, progress=False)
    assert not (tmp_path / "cache").exists()  # no feature was computed
