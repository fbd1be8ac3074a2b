"""Training-run plumbing shared by the alignment, captioning and transcription trainers.

Each reads a YAML recipe with ``--set key.sub=value`` overrides into a pydantic model, train with
Lightning into a run folder (``recipe.yaml``, ``checkpoints/last.ckpt``, ``logs/version_<n>/``),
resume from ``last.ckpt`` when it is there, and plot their curves from the CSV logs
(:func:`plot_curves`, each trainer naming its :class:`Curve` s). A recipe's ``train`` section
derives from :class:`TrainingSettings`, the settings every trainer shares under one set of names.

Several devices and nodes (:func:`make_trainer` with ``devices`` × ``num_nodes`` > 1) train with
Lightning's DDP (:func:`ddp_strategy`). When songalign starts the processes itself it uses the
*spawn* launcher: the calling process prepares everything once (caches, pairs), the workers only
fit, and Lightning hands rank 0's weights and metrics back to the caller, which alone saves,
plots and writes the card. That works alike from ``songalign train`` and from Python (a script
needs the usual ``if __name__ == "__main__":`` guard of multiprocessing). Lightning's default
``ddp`` launcher instead re-runs the script (``sys.argv``) once per rank, which from Python re-runs
the caller's whole program (from pytest, pytest itself). When a cluster starts the processes
(``torchrun``, SLURM's ``srun``, LSF, MPI: :func:`processes_started_externally`) every process
runs the whole program, so it is ``ddp`` without a launcher and :func:`is_first_process` picks
the one that writes.
"""

from __future__ import annotations

import csv
import hashlib
import logging
import math
import pickle
import warnings
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal, TypeVar

import lightning as L
import torch
import yaml
from lightning.pytorch.callbacks import Checkpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from pydantic import BaseModel, Field, ValidationError, model_validator

from songalign.errors import SongalignError, first_validation_problem, refused_global

log = logging.getLogger("songalign")

RecipeT = TypeVar("RecipeT", bound=BaseModel)

# The shared settings' types, constraints and meanings, so that a trainer that changes a default keeps them.
Epochs = Annotated[
    int, Field(gt=0, description="passes over the training data (at most, for a trainer that stops early)")
]
BatchSize = Annotated[int, Field(gt=0, description="items per optimizer step (the global batch under DDP)")]
LearningRate = Annotated[float, Field(gt=0, description="the learning rate after the warm-up")]
WarmupSteps = Annotated[
    int, Field(ge=0, description="optimizer steps (batches) over which the learning rate ramps up linearly")
]
GradClip = Annotated[float | None, Field(description="largest gradient norm; null: no clipping")]
CheckpointEvery = Annotated[int, Field(gt=0, description="optimizer steps between resumable checkpoints")]
Precision = Literal["auto", "32", "16-mixed", "bf16-mixed"]

RENAMED_TRAINING_SETTINGS = {"max_epochs": "epochs", "warmup_batches": "warmup_steps"}
"""Old name → name of a training setting (the transcriber's recipes used the old ones); the old names are still
read, with a warning."""


def current_setting_name(name: str) -> str:
    """The name a training setting has now: ``name``, or what an old name became (with a warning saying so)."""
    new = RENAMED_TRAINING_SETTINGS.get(name)
    if new is None:
        return name
    log.warning("the training setting train.%s is now called train.%s; rename it in the recipe", name, new)
    return new


def current_setting_names(settings: dict[str, Any]) -> dict[str, Any]:
    """A ``train`` section with its old names replaced by the current ones (:func:`current_setting_name`);
    a ValueError (one sentence) when a setting is given under both names."""
    current = {}
    for name, value in settings.items():
        new = current_setting_name(name)
        if new != name and new in settings:
            raise ValueError(f"train.{name} and train.{new} are one setting; keep train.{new} only")
        current[new] = value
    return current


class TrainingSettings(BaseModel):
    """The settings every trainer's ``train`` section shares, under one set of names.

    A trainer's settings derive from this class, adding their own (optimizer, schedule, early
    stopping) and giving a setting another default by redeclaring it with its type here
    (``epochs: Epochs = 20``). A recipe or a saved recipe that uses an old name
    (:data:`RENAMED_TRAINING_SETTINGS`: ``max_epochs``, ``warmup_batches``) is read as the new
    name, with a warning.
    """

    epochs: Epochs = 10
    batch_size: BatchSize = 32
    lr: LearningRate = 1e-4
    betas: tuple[float, float] = Field((0.9, 0.999), description="Adam's β₁, β₂")
    warmup_steps: WarmupSteps = 0
    grad_clip: GradClip = 1.0
    seed: int = Field(0, description="seeds torch, numpy, Python and the order of the batches")
    precision: Precision = Field("auto", description="auto: bf16 or fp16 mixed on a GPU, 32 on a CPU")
    checkpoint_every: CheckpointEvery = 50
    threads: int | None = Field(None, description="CPU threads for torch; None leaves torch's default")

    @model_validator(mode="before")
    @classmethod
    def _read_old_names(cls, settings: Any) -> Any:
        return current_setting_names(settings) if isinstance(settings, dict) else settings


def read_yaml_recipe(path: str | Path) -> dict[str, Any]:
    """The YAML tree of a recipe file; one sentence naming the file when it cannot be read."""
    path = Path(path)
    try:
        return yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise SongalignError(f"{path}: cannot read the recipe ({error}); check the file") from error


def validate_recipe(
    kind: type[RecipeT], tree: dict[str, Any], overrides: list[str] | None = None, where: str = "recipe"
) -> RecipeT:
    """Apply ``key.sub=value`` overrides (values parsed as YAML) to a copy of ``tree`` and validate it as ``kind``.

    The ``train`` section (a :class:`TrainingSettings`) is read under the current setting names first, from
    the file and from the overrides alike, so that an override wins whichever name either uses.
    """
    tree = yaml.safe_load(yaml.safe_dump(tree))  # a deep copy
    if isinstance(tree.get("train"), dict):
        try:
            tree["train"] = current_setting_names(tree["train"])
        except ValueError as error:
            raise SongalignError(f"{where}: {error}; fix the recipe") from None
    for item in overrides or []:
        if "=" not in item:
            raise SongalignError(f"override '{item}' must look like key.sub=value")
        dotted, value = item.split("=", 1)
        keys = dotted.strip().split(".")
        if keys[0] == "train" and len(keys) == 2:
            keys[1] = current_setting_name(keys[1])
        node = tree
        for key in keys[:-1]:
            node = node.setdefault(key, {})
        node[keys[-1]] = yaml.safe_load(value)
    try:
        return kind.model_validate(tree)
    except ValidationError as error:
        field, problem = first_validation_problem(error)
        raise SongalignError(f"{where}: field '{field}': {problem}; fix the recipe or the --set override") from None


def quiet_lightning() -> None:
    """Keep Lightning's and transformers' tips and known-harmless warnings out of the user's terminal."""
    from transformers.utils import logging as hf_logging

    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    logging.getLogger("lightning.fabric").setLevel(logging.WARNING)
    hf_logging.set_verbosity_error()
    hf_logging.disable_progress_bar()
    for pattern in (
        ".*module\\(s\\) in eval mode.*",
        ".*LeafSpec.*",
        ".*does not have many workers.*",
        ".*litlogger.*",
        ".*exists and is not empty.*",  # a resumed run writes into its own checkpoint folder
    ):
        warnings.filterwarnings("ignore", message=pattern)


def start_run(run: Path, recipe: BaseModel, seed: int, threads: int | None) -> Path:
    """Quiet Lightning, set torch's threads and every seed, create ``run`` and write the resolved ``recipe.yaml``
    (from the first process only, when a cluster started several: :func:`is_first_process`)."""
    quiet_lightning()
    if threads:
        torch.set_num_threads(threads)
    L.seed_everything(seed, workers=True, verbose=False)
    run.mkdir(parents=True, exist_ok=True)
    if is_first_process():
        text = yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False)
        (run / "recipe.yaml").write_text(text, encoding="utf-8")
    return run


def _external_environment() -> Any:
    """The cluster environment that started this process (Lightning's detection, in Lightning's order), or None."""
    from lightning.fabric.plugins.environments import (
        LSFEnvironment,
        MPIEnvironment,
        SLURMEnvironment,
        TorchElasticEnvironment,
    )

    for kind in (TorchElasticEnvironment, SLURMEnvironment, LSFEnvironment, MPIEnvironment):
        if kind.detect():
            return kind()
    return None


def processes_started_externally() -> bool:
    """True when a cluster launcher (torchrun, SLURM, LSF, MPI) started this process as one rank of several."""
    environment = _external_environment()
    return environment is not None and environment.creates_processes_externally


def is_first_process() -> bool:
    """Whether this process is the one that writes a run's files: global rank 0 of an externally started
    job, the process of node 0 (``NODE_RANK``, default 0) otherwise — whose spawned workers write nothing
    but Lightning's checkpoints and logs (from rank 0)."""
    environment = _external_environment()
    if environment is not None and environment.creates_processes_externally:
        return environment.global_rank() == 0
    from lightning.fabric.plugins.environments import LightningEnvironment

    return LightningEnvironment().node_rank() == 0


def check_processes(devices: int, num_nodes: int) -> None:
    """One sentence (:class:`~songalign.errors.SongalignError`) when ``devices`` × ``num_nodes`` cannot be run:
    below 1, or not the number of processes a cluster launcher started (each would train on its own)."""
    if devices < 1 or num_nodes < 1:
        raise SongalignError(f"--devices and --num-nodes must be at least 1; got {devices} and {num_nodes}")
    environment = _external_environment()
    if environment is not None and environment.creates_processes_externally:
        started = environment.world_size()
        if started != devices * num_nodes:
            raise SongalignError(
                f"the cluster launcher started {started} processes but --devices {devices} × --num-nodes "
                f"{num_nodes} is {devices * num_nodes}; give --devices and --num-nodes that multiply to {started}"
            )


def ddp_strategy(devices: int, num_nodes: int) -> str:
    """Lightning's strategy for ``devices`` per node × ``num_nodes``: ``"auto"`` for one process;
    ``"ddp"`` when a cluster started the processes (no launcher); ``"ddp_notebook"`` (fork) in a
    notebook, where spawning is impossible; ``"ddp_spawn"`` otherwise (see the module docstring)."""
    if devices * num_nodes == 1:
        return "auto"
    if processes_started_externally():
        return "ddp"
    from lightning.fabric.utilities.imports import _IS_INTERACTIVE

    return "ddp_notebook" if _IS_INTERACTIVE else "ddp_spawn"


def resolve_precision(precision: Precision) -> str:
    """``auto`` → bf16 mixed precision on a GPU that has it, fp16 mixed on another GPU, ``32`` on a CPU."""
    if precision != "auto":
        return precision
    if not torch.cuda.is_available():
        return "32"
    return "bf16-mixed" if torch.cuda.is_bf16_supported() else "16-mixed"


class LastCheckpoint(Checkpoint):
    """Writes the resumable checkpoint ``path`` every ``every`` optimizer steps and when training ends, with the
    state of the training ``batches`` (:class:`ResumableBatches`), which it gives back to them when a run resumes.

    The batches' state is kept here, not only where Lightning keeps its train dataloader's, which it loads only
    when it restarts mid-epoch by its own reckoning. It does not from a checkpoint written at an epoch's end
    (``on_train_end``), nor from one written in an epoch that a run resumed after an epoch's last batch began (it
    goes on with the next epoch without starting it: no ``on_train_epoch_start``, the batch index not reset, and
    a checkpoint of that epoch reads as written at its start), and it draws the first batch before the module's
    ``on_train_epoch_start``: the batches must know their position, and torch's random state be restored, before
    that. On a mid-epoch restart Lightning loads its copy too, which gives the same.

    Every process saves at the same steps (saving is collective under DDP), as Lightning's ``ModelCheckpoint``
    does; a checkpoint written after an epoch's last batch precedes the module's epoch-end hooks (validation), so
    a module that keeps state there catches up on resuming (:class:`songalign.transcribe.train.TranscribeModule`).
    """

    def __init__(self, path: Path, every: int, batches: ResumableBatches | None = None) -> None:
        self.path, self.every, self.batches = Path(path), every, batches
        self._saved_step: int | None = None

    def _save(self, trainer: L.Trainer) -> None:
        if self._saved_step != trainer.global_step:
            trainer.save_checkpoint(self.path)
            self._saved_step = trainer.global_step

    def on_train_batch_end(self, trainer: L.Trainer, pl_module: L.LightningModule, *args: Any) -> None:
        if trainer.global_step % self.every == 0:
            self._save(trainer)

    def on_train_end(self, trainer: L.Trainer, pl_module: L.LightningModule) -> None:
        self._save(trainer)

    def on_save_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        if self.batches is not None:
            checkpoint["batches"] = self.batches.state_dict()

    def on_load_checkpoint(self, trainer: L.Trainer, pl_module: L.LightningModule, checkpoint: dict[str, Any]) -> None:
        if self.batches is not None and "batches" in checkpoint:
            self.batches.load_state_dict(checkpoint["batches"])


def make_trainer(
    run: Path,
    *,
    epochs: int,
    precision: str,
    grad_clip: float | None,
    checkpoint_every: int,
    callbacks: list[L.Callback],
    progress: bool,
    max_steps: int | None = None,
    devices: int = 1,
    num_nodes: int = 1,
    batches: ResumableBatches | None = None,
) -> L.Trainer:
    """A deterministic Trainer logging CSV and TensorBoard into ``run/logs``, on one device or with DDP.

    It writes the resumable ``run/checkpoints/last.ckpt`` every ``checkpoint_every`` optimizer steps
    and at the end (:class:`LastCheckpoint`), with the state of the training ``batches`` (the module's train
    dataloader), besides whatever ``callbacks`` do.

    A resumed run logs into a new ``version_<n>`` folder, so the interrupted run's logs are kept
    (:func:`read_metrics` stitches them).

    ``devices`` per node × ``num_nodes`` > 1 trains with DDP (:func:`ddp_strategy`; the accelerator
    is chosen as for one device: GPUs when present, the CPU with gloo otherwise). On GPUs batch
    norms are synchronised across ranks, so their statistics are the global batch's as in one
    process (PyTorch's SyncBatchNorm runs on GPUs only; on the CPU each rank normalises its rows).
    """
    check_processes(devices, num_nodes)
    distributed = devices * num_nodes > 1
    version = len(list((run / "logs").glob("version_*")))
    last = LastCheckpoint(run / "checkpoints" / "last.ckpt", checkpoint_every, batches)
    return L.Trainer(
        default_root_dir=run,
        max_epochs=epochs,
        max_steps=max_steps or -1,
        accelerator="auto",
        devices=devices,
        num_nodes=num_nodes,
        strategy=ddp_strategy(devices, num_nodes),
        sync_batchnorm=distributed and torch.cuda.is_available(),
        precision=resolve_precision(precision),
        gradient_clip_val=grad_clip,
        logger=[CSVLogger(run, name="logs", version=version), TensorBoardLogger(run, name="logs", version=version)],
        callbacks=[last, *callbacks],
        enable_progress_bar=progress,
        enable_model_summary=False,
        log_every_n_steps=1,
        num_sanity_val_steps=0,
        deterministic=True,
    )


def fit_resuming(trainer: L.Trainer, module: L.LightningModule, run: Path) -> dict[str, float]:
    """Fit, resuming from ``run/checkpoints/last.ckpt`` when present; returns the final logged metrics.

    The checkpoint is loaded with ``weights_only=True`` (tensors, containers and plain values only: no
    object whose unpickling runs code), checked first by :func:`check_resumable` so that one that is
    refused stops the run with one sentence before any process starts, and passed explicitly to
    Lightning, whose default defers to ``torch.load``'s (``False`` before torch 2.6).
    """
    last = run / "checkpoints" / "last.ckpt"
    resume = last if last.is_file() else None
    if resume is not None:
        check_resumable(resume)
    try:
        trainer.fit(module, ckpt_path=str(resume) if resume else None, weights_only=True)
    except OtherTrainingData as error:
        raise SongalignError(
            f"{resume} was written by a run with {error}, so the run cannot resume from it; train into another "
            "folder (out=...) or delete the checkpoint to train this run from its start"
        ) from None
    return {k: float(v) for k, v in trainer.callback_metrics.items()}


def check_resumable(checkpoint: Path) -> None:
    """Load ``checkpoint`` as resuming will (``torch.load`` with ``weights_only=True``) and drop it; one
    sentence (:class:`~songalign.errors.SongalignError`) naming the file and the fix when it cannot be.

    A file that holds anything but tensors, containers and plain values — a pickle payload whose
    unpickling would call a function, e.g. one planted in a shared run folder — is refused without
    running any of it, as is a damaged file. A zip checkpoint (what Lightning writes) is memory-mapped,
    so the check reads little more than its index.
    """
    try:
        torch.load(checkpoint, map_location="cpu", weights_only=True, mmap=zipfile.is_zipfile(checkpoint))
    except pickle.UnpicklingError as error:
        called = refused_global(error)
        what = f"a call to {called}" if called else "something other than tensors and training state"
        raise SongalignError(
            f"{checkpoint} is not a checkpoint that loads without running code (it holds {what}), so it was not "
            "loaded; delete it to train the run from its start, and resume only from checkpoints your runs wrote"
        ) from None
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        problem = str(error).split(". ")[0].splitlines()[0][:160] if str(error) else type(error).__name__
        raise SongalignError(
            f"{checkpoint} cannot be read as a checkpoint ({problem}); delete it to train the run from its start"
        ) from None


class OtherTrainingData(SongalignError):
    """A resumed run's batches are not those of the run that wrote its checkpoint (:class:`ResumableBatches`);
    its text completes "written by a run with ..." (:func:`fit_resuming` says which file and what to do)."""


def digest(items: Iterable[object]) -> str:
    """A short hexadecimal digest (12 digits) of ``items`` in order (their ``str``), to tell one list from another."""
    hasher = hashlib.sha1()
    for item in items:
        hasher.update(str(item).encode() + b"\0")
    return hasher.hexdigest()[:12]


def rng_state() -> dict[str, torch.Tensor]:
    """torch's global random state (the CPU's and, when there is one, the current GPU's): what dropout draws from."""
    state = {"cpu": torch.get_rng_state()}
    if torch.cuda.is_available() and torch.cuda.is_initialized():
        state["cuda"] = torch.cuda.get_rng_state()
    return state


def set_rng_state(state: dict[str, torch.Tensor]) -> None:
    """Restore what :func:`rng_state` returned (a GPU's state only where this process has a GPU)."""
    torch.set_rng_state(state["cpu"])
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state(state["cuda"])


class ResumableBatches:
    """A trainer's batches (Lightning's train dataloader, an iterable) drawn from ``(seed, epoch)`` alone, resumable
    mid-epoch: a run killed and run again trains on exactly the batches, and draws exactly the dropout masks, of an
    uninterrupted run.

    A subclass gives :meth:`epoch_length` (the current epoch's batches), :meth:`identity` (what makes the batches
    what they are: data, batch size, seed) and an ``__iter__`` that starts at :meth:`first_batch`. The training
    module sets :attr:`epoch` when an epoch starts and calls :meth:`mark_done` in ``training_step`` (before any
    checkpoint of that step: Lightning's checkpoint callbacks run before the module's ``on_train_batch_end``).

    Lightning stores :meth:`state_dict` in its checkpoints (the fit loop saves its train dataloader's state):
    the epoch, the batches of it trained on, :meth:`identity` and torch's random state at that moment. After
    :meth:`load_state_dict` the next iteration starts the interrupted epoch at its first batch not yet trained on
    (the batch prefetched before the interruption is not lost), or the next epoch when the interrupted one was
    complete; a state whose :meth:`identity` differs is refused (:class:`OtherTrainingData`).
    """

    seed: int

    def __init__(self, seed: int) -> None:
        self.seed = seed
        self.epoch, self.done = 0, 0
        self._resume_at: tuple[int, int] | None = None  # (epoch, batches done) of a loaded state, until iterated

    def epoch_length(self) -> int:
        """The number of batches of the current epoch."""
        raise NotImplementedError

    def identity(self) -> dict[str, int | str]:
        """What the batches are made of, by name (e.g. ``"batch size"``: 8), for refusing a state of other batches."""
        raise NotImplementedError

    def mark_done(self) -> None:
        """Record that one more batch of the current epoch has been trained on.

        Counted here rather than taken from Lightning's batch index, which goes on from the interrupted epoch's
        count when a run resumes right after an epoch's last batch.
        """
        self.done += 1

    def first_batch(self) -> int:
        """The current epoch's batch an iteration starts from: 0, or after :meth:`load_state_dict` the first batch
        of the interrupted epoch not yet trained on (moving :attr:`epoch` on when that epoch was complete)."""
        resume, self._resume_at = self._resume_at, None
        start = 0
        if resume is not None and resume[0] == self.epoch:  # else Lightning has begun a later epoch already
            start = resume[1]
            if start >= self.epoch_length():  # interrupted right after an epoch's last batch: the next epoch
                self.epoch, start = self.epoch + 1, 0
        self.done = start
        return start

    def state_dict(self) -> dict[str, Any]:
        return {"epoch": self.epoch, "done": self.done, "identity": self.identity(), "rng": rng_state()}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        # a state saved before the identity and random state were stored has neither: it resumes as it did then
        for name, then in (state.get("identity") or {}).items():
            now = self.identity().get(name)
            if now != then:
                raise OtherTrainingData(f"another {name} ({then} then, {now} now)")
        self.epoch = int(state["epoch"])
        self._resume_at = (self.epoch, int(state["done"]))
        if "rng" in state:
            set_rng_state(state["rng"])


def warmup_cosine(
    optimizer: torch.optim.Optimizer, warmup: int, total: int, floor: float, constant: bool = False
) -> dict[str, Any]:
    """Lightning's scheduler entry for a per-step learning-rate factor.

    Linear warm-up ``(step + 1) / warmup`` over the first ``warmup`` steps, then cosine decay from 1
    to ``floor`` at step ``total`` (``1`` throughout when ``constant``).
    """

    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        if constant:
            return 1.0
        progress = min(1.0, (step - warmup) / max(1, total - warmup))
        return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

    scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
    return {"scheduler": scheduler, "interval": "step"}


def pyplot():
    """matplotlib's pyplot on the file-only Agg backend (no display needed)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def read_metrics(logs: Path) -> list[dict[str, str]]:
    """Rows of every ``version_*/metrics.csv`` under ``logs``; a resumed run's rows replace the old ones from its step on."""
    rows: list[dict[str, str]] = []
    versions = sorted(Path(logs).glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[-1]))
    for path in versions:
        new = list(csv.DictReader(path.open(encoding="utf-8")))
        if new:
            first = min(int(r["step"]) for r in new)
            rows = [r for r in rows if int(r["step"]) < first] + new
    return rows


@dataclass(frozen=True)
class Curve:
    """One line of a training plot: the ``metrics.csv`` column ``key`` against the optimizer step.

    ``style`` is a matplotlib format (``"o-"`` for per-epoch points). ``share=True`` draws it on a
    second y axis from 0 to 1 (a share such as R@1, not a loss). ``omit_if_zero=True`` leaves out
    a curve whose every value is 0 — a loss term switched off (e.g. α = 0), not a result.
    """

    key: str
    label: str
    style: str = "-"
    share: bool = False
    omit_if_zero: bool = False


def curve_points(rows: Sequence[dict[str, str]], curves: Sequence[Curve]) -> list[tuple[int, list[tuple[int, float]]]]:
    """``(index in curves, [(step, value), ...])`` of each curve with something to draw, from metrics rows.

    A curve is left out when no row has its column, or when ``omit_if_zero`` and every value is 0.
    """
    drawn = []
    for index, curve in enumerate(curves):
        points = [(int(r["step"]), float(r[curve.key])) for r in rows if r.get(curve.key)]
        if points and not (curve.omit_if_zero and not any(value for _, value in points)):
            drawn.append((index, points))
    return drawn


def plot_curves(logs: Path, out: Path, curves: Sequence[Curve], title: str = "") -> Path | None:
    """A PNG of ``curves`` from Lightning's CSV logs under ``logs`` (see :func:`read_metrics`); ``None`` without logs.

    Losses go on the left axis (``loss``), shares on a right axis from 0 to 1; one legend for both.
    """
    rows = read_metrics(Path(logs))
    if not rows:
        return None
    plt = pyplot()
    figure, left = plt.subplots(figsize=(7, 4))
    right = None
    for index, points in curve_points(rows, curves):
        curve = curves[index]
        if curve.share and right is None:
            right = left.twinx()
            right.set_ylim(0, 1)
            right.set_ylabel(curve.label)
        axis = right if curve.share else left
        # colours by position in ``curves``: the twin axis would otherwise restart the colour cycle
        axis.plot(*zip(*points, strict=True), curve.style, label=curve.label, color=f"C{index}", alpha=0.85)
    left.set_xlabel("step")
    left.set_ylabel("loss")
    left.set_title(title)
    figure.legend(loc="upper right")
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out


# -- recipes --------------------------------------------------------------------------------------------


def recipe_path(name: str) -> Path:
    """The recipe ``configs/<name>.yaml`` packaged with songalign (e.g. ``clap_emo``, ``alt_small``)."""
    from importlib.resources import files

    return Path(str(files("songalign") / "configs" / f"{name}.yaml"))


def updated(recipe: RecipeT, **changes: Any) -> RecipeT:
    """A validated copy of ``recipe`` with fields replaced, typed (the Python form of ``--set`` overrides).

    A dict given for a field that holds a sub-model updates that sub-model's fields (recursively);
    any other value replaces the field. The copy is validated again as its class, with what was
    set explicitly kept apart from the defaults (``model_fields_set``), as when read from YAML::

        updated(recipe, out=folder, train={"seed": 1, "epochs": 2}, model={"freeze": {"audio_tower": True}})

    Raises :class:`SongalignError` naming the field when a value does not fit.
    """
    update: dict[str, Any] = {}
    for name, value in changes.items():
        if name not in type(recipe).model_fields:
            raise SongalignError(f"{type(recipe).__name__} has no field '{name}'; check the setting's name")
        current = getattr(recipe, name)
        update[name] = updated(current, **value) if isinstance(value, dict) and isinstance(current, BaseModel) else value
    copied = recipe.model_copy(update=update)
    try:
        return type(recipe).model_validate(copied.model_dump(exclude_unset=True))
    except ValidationError as error:
        field, problem = first_validation_problem(error)
        raise SongalignError(f"{type(recipe).__name__}: field '{field}': {problem}; fix the setting") from None
