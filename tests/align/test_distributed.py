"""Training on several processes: gathered losses equal one process's, rank-aware batches, DDP runs that save once.

The loss checks run two real gloo processes on loopback (``torch.multiprocessing`` spawn), each holding its
share of a global batch, and compare what DDP would do with their losses — the mean of the ranks' values,
the mean of the ranks' gradients — with one process holding the whole batch, for every registered loss.
The training checks run real Lightning DDP on the CPU: through ``songalign train --devices 2`` (the CLI)
and through :func:`train` called from Python.
"""

from __future__ import annotations

import json
import math
import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest
import torch
import torch.distributed as dist
import torch.multiprocessing as mp
import yaml
from lightning.pytorch import Callback
from safetensors.torch import load_file

from songalign.align.data import EpochBatches, PairedSet
from songalign.align.losses import LOSSES, clamped_scale, gathered_similarity, get_loss, unsharded
from songalign.align.train import AlignTrainSettings, Recipe, augment_rows, train
from songalign.checkpoint import read_card
from songalign.corpus.records import Segment
from songalign.errors import SongalignError
from songalign.runs import check_processes, ddp_strategy, is_first_process

WORLD = 2
EMBEDDING, TOWER = 5, 6  # D of the shared space, d_t of the frozen text tower
BATCHES = (8, 7)  # 4 + 4 rows, and 4 + 3 (an epoch's last, uneven batch)
LOSS_CASES = [(name, {}) for name in LOSSES.names()] + [
    ("margin_contrastive", {"balance": True}),
    ("margin_contrastive", {"margin": 1.2}),
    ("audio_to_text_infonce", {"reduction": "sum"}),
]


@pytest.fixture(autouse=True)
def _not_inside_a_cluster_job(monkeypatch):
    """These tests launch their own processes: a CI job under SLURM, torchrun or LSF must not look like one."""
    for name in ("SLURM_NTASKS", "TORCHELASTIC_RUN_ID", "LSB_JOBID", "NODE_RANK", "LOCAL_RANK"):
        monkeypatch.delenv(name, raising=False)


def case_id(case: tuple[str, dict]) -> str:
    name, options = case
    return name + "".join(f"-{key}={value}" for key, value in options.items())


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def batch_inputs(batch: int, seed: int) -> dict[str, torch.Tensor]:
    """Audio and text embeddings ``(B, D)`` drawn apart (so a swapped argument shows), frozen-tower text
    ``(B, d_t)`` with a shared component (so MusCALL's weights are far from uniform), a logit scale; float64."""
    generator = torch.Generator().manual_seed(seed)
    shared = torch.randn(1, TOWER, generator=generator, dtype=torch.float64)
    return {
        "audio": torch.randn(batch, EMBEDDING, generator=generator, dtype=torch.float64),
        "text": 0.5 + 2.0 * torch.randn(batch, EMBEDDING, generator=generator, dtype=torch.float64),
        "tower": shared + 0.7 * torch.randn(batch, TOWER, generator=generator, dtype=torch.float64),
        "logit_scale": torch.tensor(1.3, dtype=torch.float64),  # s = e^1.3 ≈ 3.7
    }


def loss_value(case: tuple[str, dict], audio, text, tower, logit_scale) -> torch.Tensor:
    """The loss of ``case`` on these rows, given what training gives it (``scale``, the gathered similarities)."""
    name, options = case
    loss = get_loss(name, **options)
    needs = {}
    if loss.uses_logit_scale:
        needs["scale"] = clamped_scale(logit_scale)
    if loss.uses_text_similarity:
        needs["text_similarity"] = gathered_similarity(tower)
    return loss(audio, text, **needs)


def leaves(inputs: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    return {key: value.clone().requires_grad_(key != "tower") for key, value in inputs.items()}


def rank_worker(rank: int, port: int, out: str) -> None:
    """One of ``WORLD`` gloo processes: its rows' loss, then what DDP makes of it (the means over ranks)."""
    dist.init_process_group("gloo", init_method=f"tcp://127.0.0.1:{port}", rank=rank, world_size=WORLD)
    results = {}
    try:
        for batch in BATCHES:
            rows = torch.tensor_split(torch.arange(batch), WORLD)[rank]  # rank r's contiguous share
            for case in LOSS_CASES:
                given = leaves(batch_inputs(batch, seed=batch))
                mine = (given[key][rows] for key in ("audio", "text", "tower"))
                value = loss_value(case, *mine, given["logit_scale"])
                value.backward()
                # DDP: the parameters' gradients averaged over ranks, and the logged loss averaged likewise
                found = {"loss": value.detach().clone()}
                for key in ("audio", "text", "logit_scale"):
                    found[key] = given[key].grad if given[key].grad is not None else torch.zeros_like(given[key])
                with unsharded():  # the same rows without gathering, to show that gathering matters
                    local = {key: given[key][rows].detach() for key in ("audio", "text", "tower")}
                    found["ungathered"] = loss_value(case, *local.values(), given["logit_scale"].detach())
                for key, tensor in found.items():
                    dist.all_reduce(tensor)
                    found[key] = tensor / WORLD
                results[(batch, case_id(case))] = found
        if rank == 0:
            torch.save(results, out)
    finally:
        dist.destroy_process_group()


@pytest.fixture(scope="module")
def two_process_results(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("gloo") / "results.pt"
    mp.start_processes(rank_worker, args=(free_port(), str(out)), nprocs=WORLD, start_method="spawn")
    return torch.load(out, weights_only=True)  # tensors in dicts keyed by tuples: no code runs


@pytest.mark.slow
@pytest.mark.parametrize("batch", BATCHES)
@pytest.mark.parametrize("case", LOSS_CASES, ids=case_id)
def test_two_gloo_processes_give_one_process_s_loss_and_gradients(two_process_results, case, batch):
    found = two_process_results[(batch, case_id(case))]
    given = leaves(batch_inputs(batch, seed=batch))
    value = loss_value(case, given["audio"], given["text"], given["tower"], given["logit_scale"])
    value.backward()
    torch.testing.assert_close(found["loss"], value.detach(), rtol=1e-10, atol=1e-12)
    for key in ("audio", "text"):
        assert given[key].grad.abs().sum() > 0
        torch.testing.assert_close(found[key], given[key].grad, rtol=1e-9, atol=1e-12)
    uses_scale = get_loss(case[0], **case[1]).uses_logit_scale
    expected_scale = given["logit_scale"].grad if uses_scale else torch.zeros(())
    torch.testing.assert_close(found["logit_scale"], expected_scale.to(found["logit_scale"].dtype))
    # each rank alone (no gathering) would train on another loss: the check above can fail
    if case[0] != "positive_cosine" or batch % WORLD:
        assert abs(float(found["ungathered"]) - float(value.detach())) > 1e-6


# -- rank-aware batches --------------------------------------------------------------------------------------


def pairs(count: int) -> PairedSet:
    """``count`` pairs whose features and text embeddings hold their row number."""
    rows = torch.arange(count, dtype=torch.float32)
    segments = [Segment(f"s{i}", f"song{i}", float(i), float(i) + 1, f"text {i}") for i in range(count)]
    texts = [segment.text for segment in segments]
    return PairedSet(segments, texts, rows[:, None, None].expand(count, 2, 3), rows[:, None])


@pytest.mark.parametrize("count", [12, 13, 15, 18])
@pytest.mark.parametrize("world", [2, 4])
def test_each_step_s_rows_over_the_ranks_are_the_single_process_batch(count, world):
    batch = 4
    for epoch in (0, 1):
        single = EpochBatches(pairs(count), batch, seed=3)
        single.epoch = epoch
        expected = [b["index"] for b in single]
        ranks = []
        for rank in range(world):
            share = EpochBatches(pairs(count), batch, seed=3, rank=rank, world_size=world)
            share.epoch = epoch
            ranks.append(list(share))
            assert len(share) == len(ranks[-1])
        tail = count % batch
        dropped = 0 < tail < world  # a last batch too small to give every rank a row is left out
        assert len(ranks[0]) == len(expected) - dropped and all(len(r) == len(ranks[0]) for r in ranks)
        for step, steps in enumerate(zip(*ranks, strict=True)):
            union = torch.cat([b["index"] for b in steps])
            assert torch.equal(union, expected[step])  # the same rows, in rank order
            sizes = [len(b["index"]) for b in steps]
            assert min(sizes) >= 1 and max(sizes) - min(sizes) <= 1
            assert [b["offset"] for b in steps] == [sum(sizes[:r]) for r in range(world)]
            assert all(b["rows"] == len(expected[step]) for b in steps)
            for b in steps:  # the tensors are those rows' features and texts
                assert torch.equal(b["text"][:, 0], b["index"].float())


def test_batches_resume_per_rank_and_reject_an_uneven_global_batch():
    data = pairs(20)
    whole = list(EpochBatches(data, 4, seed=1, rank=1, world_size=2))
    interrupted = EpochBatches(data, 4, seed=1, rank=1, world_size=2)
    iterator = iter(interrupted)
    next(iterator), next(iterator)
    interrupted.mark_done(), interrupted.mark_done()
    resumed = EpochBatches(data, 4, seed=1, rank=1, world_size=2)
    resumed.load_state_dict(interrupted.state_dict())
    assert [b["index"].tolist() for b in resumed] == [b["index"].tolist() for b in whole[2:]]
    with pytest.raises(SongalignError, match=r"batch_size 6 is the global batch .* multiple of the 4 processes"):
        EpochBatches(data, 6, seed=1, world_size=4)
    with pytest.raises(SongalignError, match="3 training pair"):
        EpochBatches(pairs(3), 4, seed=1, world_size=4)


def test_a_rank_s_rows_get_the_augmentation_they_get_in_one_process():
    settings = AlignTrainSettings(seed=4)  # the default augmentation: shifts, gains, time and frequency masks
    full = torch.randn(6, 16, 40, generator=torch.Generator().manual_seed(0))
    whole = augment_rows(full, settings, step=9)
    torch.testing.assert_close(augment_rows(full[:3], settings, step=9, offset=0), whole[:3])
    torch.testing.assert_close(augment_rows(full[3:], settings, step=9, offset=3), whole[3:])
    assert not torch.allclose(augment_rows(full[3:], settings, step=9), whole[3:])  # the offset matters


def test_processes_a_cluster_launcher_started_decide_the_strategy_and_who_writes(monkeypatch):
    assert ddp_strategy(1, 1) == "auto" and ddp_strategy(2, 1) == "ddp_spawn" and ddp_strategy(1, 2) == "ddp_spawn"
    assert is_first_process()
    monkeypatch.setenv("NODE_RANK", "1")  # the second node of a run songalign launches on each node
    assert not is_first_process()
    monkeypatch.delenv("NODE_RANK")
    torchrun = {"TORCHELASTIC_RUN_ID": "t", "RANK": "1", "LOCAL_RANK": "1", "WORLD_SIZE": "2"}
    for name, value in torchrun.items():
        monkeypatch.setenv(name, value)
    assert ddp_strategy(2, 1) == "ddp" and not is_first_process()  # torchrun's rank 1: no launcher, no writing
    check_processes(2, 1)
    with pytest.raises(SongalignError, match="started 2 processes but --devices 1 × --num-nodes 1 is 1"):
        check_processes(1, 1)
    monkeypatch.setenv("RANK", "0")
    assert is_first_process()


# -- real DDP training on the CPU ----------------------------------------------------------------------------

TINY_AUDIO = {"name": "cnn", "options": {"channels": [8, 16], "embedding_dim": 32}}


def recipe_tree(corpus: Path, out: Path, **model) -> dict:
    return {
        "name": "tiny-ddp",
        "out": str(out),
        "model": {"audio_tower": TINY_AUDIO, "embedding_dim": 16, "clip_seconds": 4.0, **model},
        "loss": {"name": "symmetric_infonce"},
        "data": {"corpus": str(corpus), "target": "lyrics"},
        "train": {"epochs": 2, "batch_size": 4, "lr": 1e-3, "warmup_steps": 1, "checkpoint_every": 2, "seed": 5},
    }


@pytest.mark.slow
def test_songalign_train_on_two_cpu_processes_saves_one_model_folder(corpus, tmp_path):
    out = tmp_path / "run"
    recipe = tmp_path / "tiny.yaml"
    recipe.write_text(yaml.safe_dump(recipe_tree(corpus, out)), encoding="utf-8")
    command = [str(Path(sys.executable).with_name("songalign")), "train", str(recipe), "--devices", "2"]
    environment = {**os.environ, "COLUMNS": "200"}
    done = subprocess.run(command, capture_output=True, text=True, timeout=500, env=environment)
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("model saved in") == 1
    assert sorted(p.relative_to(out).as_posix() for p in out.rglob("model.safetensors")) == ["model/model.safetensors"]
    assert sorted(p.name for p in (out / "logs").iterdir()) == ["version_0"]  # one logger wrote
    card = read_card(out / "model")
    assert card["provenance"]["processes"] == {"devices": 2, "num_nodes": 1, "global_batch_size": 4}
    assert (out / "model" / "README.md").is_file() and (out / "loss.png").stat().st_size > 1000
    assert (out / "checkpoints" / "last.ckpt").is_file() and "train/loss" in card["evaluation"]["final_metrics"]
    # an uneven split is refused before any work, in one sentence
    bad = subprocess.run([*command[:-1], "3"], capture_output=True, text=True, timeout=200, env=environment)
    assert bad.returncode == 1 and "must be a multiple of the 3 processes" in " ".join(bad.stderr.split())


class RecordRows(Callback):
    """Writes every step's rows, per rank, to ``folder/rank<r>.jsonl`` (one file per process)."""

    def __init__(self, folder: Path):
        self.folder = folder

    def on_train_batch_start(self, trainer, module, batch, batch_index):
        line = {"epoch": trainer.current_epoch, "step": batch_index, "rows": batch["index"].tolist()}
        with open(self.folder / f"rank{trainer.global_rank}.jsonl", "a", encoding="utf-8") as handle:
            handle.write(json.dumps(line) + "\n")


def recorded(folder: Path, rank: int) -> dict[tuple[int, int], list[int]]:
    lines = (folder / f"rank{rank}.jsonl").read_text(encoding="utf-8").splitlines()
    return {(row["epoch"], row["step"]): row["rows"] for row in map(json.loads, lines)}


@pytest.mark.slow
def test_ddp_from_python_sees_the_single_process_batches_and_reaches_its_weights(corpus, tmp_path):
    # a frozen audio tower (its outputs computed once) leaves no batch norm in training, so the two
    # processes' weights must be the single process's — gathered negatives, averaged gradients and all
    tree = recipe_tree(corpus, tmp_path / "one", freeze={"audio_tower": True})
    recipe = Recipe.model_validate(tree)
    (tmp_path / "rows1").mkdir()
    (tmp_path / "rows2").mkdir()
    single = train(recipe, progress=False, callbacks=[RecordRows(tmp_path / "rows1")])
    two = recipe.model_copy(update={"out": tmp_path / "two"})
    double = train(two, progress=False, callbacks=[RecordRows(tmp_path / "rows2")], devices=2)
    assert double == tmp_path / "two" / "model"
    one_process = recorded(tmp_path / "rows1", 0)
    ranks = [recorded(tmp_path / "rows2", rank) for rank in range(2)]
    assert len(one_process) == 2 * 3 and ranks[0].keys() == ranks[1].keys() == one_process.keys()
    for step, rows in one_process.items():
        assert len(ranks[0][step]) == len(ranks[1][step]) == 2
        assert ranks[0][step] + ranks[1][step] == rows
    a, b = load_file(single / "model.safetensors"), load_file(double / "model.safetensors")
    assert a.keys() == b.keys()
    for key in a:
        torch.testing.assert_close(a[key], b[key], rtol=1e-4, atol=1e-5)
    assert float(a["logit_scale.logit_scale"]) != pytest.approx(math.log(1 / 0.07), abs=1e-4)  # it trained
    assert read_card(double)["provenance"]["processes"]["devices"] == 2
