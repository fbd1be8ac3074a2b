"""Training of the alignment model with Lightning, from a YAML recipe.

A recipe (``configs/clap_*.yaml``) names the corpus and the text each segment's audio is paired
with, the towers, the loss and the optimiser settings. A run folder holds::

    recipe.yaml          the resolved recipe (every default filled in)
    checkpoints/last.ckpt  Lightning checkpoint, for resuming an interrupted run
    logs/                CSV and TensorBoard logs
    loss.png             training and validation curves
    skipped.csv          the segments left out of the training pairs and why (when any was)
    model/               the trained model (save_pretrained): weights, config, model card

Re-running the same recipe into the same folder resumes from ``last.ckpt`` and ends with the
weights an uninterrupted run would have (the batches are replayed exactly; a test checks it).

The logit scale ``s`` of the InfoNCE losses is the model's (``model.logit_scale``:
``init_temperature``, ``learnable``, ``max_scale``, the captioner's names too; ``model.scale`` is
passed to the loss); MusCALL's weighted loss gets the cosine similarities of the batch's cached,
frozen text-tower embeddings. A recipe with ``init_from`` takes the model from that folder with the
recipe's ``model.freeze``, and the ``model.logit_scale`` settings the recipe gives explicitly:
``init_temperature`` restarts ``s`` at ``1/τ₀``; ``learnable`` and ``max_scale`` alone keep the
inherited ``s``.

The model card lists the corpus's splits (``data.songs``) and, apart, the songs the weights were
fitted on (``data.trained_songs``: the training pairs' songs, whatever ``data.train_split`` is,
with those of the ``init_from`` model), which evaluation and captioning check against.

Several GPUs or nodes: ``train(recipe, devices=N, num_nodes=M)`` (``songalign train … --devices N
--num-nodes M``) fits with Lightning's DDP (:func:`songalign.runs.ddp_strategy`). ``train.batch_size``
is the *global* batch, split evenly over the ``N × M`` processes, and every step's rows over all
ranks are the single-process step's rows (:class:`~songalign.align.data.EpochBatches`); the
losses gather their negatives across ranks (:mod:`songalign.align.losses`), so a step's loss and
gradients are one process's. The caches (features, frozen-tower outputs, text embeddings) and
the pairs are built before fitting, in the calling process (and in every process when a cluster
launcher started them, which the cache's atomic writes make safe); only the first process writes
``recipe.yaml``, ``skipped.csv``, the model folder, its card and ``loss.png``.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import lightning as L
import torch
from pydantic import BaseModel, Field, field_validator

from songalign.align.augment import AugmentSettings, augment_log_mel, require_handled
from songalign.align.data import EpochBatches, PairedSet, Target, build_pairs
from songalign.align.losses import LogitScale, gathered_similarity, get_loss, reject_scale_options, unsharded
from songalign.align.model import AlignModel, ModelConfig
from songalign.checkpoint import lineage_provenance, lineage_songs, songs_by_split
from songalign.console import print_skip_report
from songalign.corpus.manifest import CorpusManifest
from songalign.errors import SKIPPED_FILE, SkipReport
from songalign.runs import (
    BatchSize,
    CheckpointEvery,
    Curve,
    Epochs,
    TrainingSettings,
    check_processes,
    fit_resuming,
    is_first_process,
    make_trainer,
    plot_curves,
    quiet_lightning,
    read_yaml_recipe,
    start_run,
    validate_recipe,
    warmup_cosine,
)


class LossSpec(BaseModel):
    """The training loss by registry name (:mod:`songalign.align.losses`) with its own options (e.g. ``margin``)."""

    name: str = "symmetric_infonce"
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("options")
    @classmethod
    def _no_scale_options(cls, options: dict[str, Any]) -> dict[str, Any]:
        reject_scale_options(options, "model.logit_scale")  # the model holds the scale: say where its settings go
        return options


class DataSettings(BaseModel):
    corpus: Path
    target: Target = "description"
    train_split: str = "train"
    val_split: str = "val"
    cache_dir: Path | None = Field(None, description="feature cache; default <corpus>/.cache/features")


class AlignTrainSettings(TrainingSettings):
    """The alignment trainer's ``train`` section: the shared settings (:class:`~songalign.runs.TrainingSettings`),
    Adam's weight decay, the cosine decay's floor and the augmentation."""

    epochs: Epochs = 5
    batch_size: BatchSize = 128
    checkpoint_every: CheckpointEvery = 20
    weight_decay: float = Field(0.0, ge=0)
    min_lr_ratio: float = Field(0.0, ge=0, le=1, description="floor of the cosine decay, as a share of lr")
    augment: AugmentSettings | None = Field(
        default_factory=AugmentSettings,
        description="SpecAugment-style masks on log-mel inputs (towers with feature_kind log_mel); null disables",
    )


_OLD_SCALE_FIELDS = {
    "logit_scale_init": "model.logit_scale.init_temperature (τ₀ = exp(−logit_scale_init))",
    "learn_logit_scale": "model.logit_scale.learnable",
}


class Recipe(BaseModel):
    """A training recipe; ``init_from`` starts from a trained model folder (see :func:`build_model`)."""

    name: str
    out: Path | None = None
    init_from: Path | None = None
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: LossSpec = Field(default_factory=LossSpec)
    data: DataSettings
    train: AlignTrainSettings = Field(default_factory=AlignTrainSettings)

    @field_validator("model", mode="before")
    @classmethod
    def _no_old_scale_fields(cls, model: Any) -> Any:
        # the scale's settings were renamed to the captioner's vocabulary: say what the old fields became
        # (here, where renaming them is the fix; a saved folder with them has to be made again instead)
        old = [name for name in _OLD_SCALE_FIELDS if name in model] if isinstance(model, dict) else []
        if old:
            raise ValueError(
                f"{' and '.join(f'model.{name}' for name in old)} {'were' if len(old) > 1 else 'was'} renamed; set "
                f"{' and '.join(_OLD_SCALE_FIELDS[name] for name in old)} instead"
            )
        return model

    @property
    def run_dir(self) -> Path:
        return self.out or Path("runs") / self.name


ALIGN_CURVES = (
    Curve("train/loss_step", "train loss"),
    Curve("val/loss", "val loss", "o-"),
    Curve("val/r1", "val R@1", "s--", share=True),
)
"""What ``loss.png`` shows: training loss per step, validation loss and R@1 per epoch."""


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read a YAML recipe and apply ``key.sub=value`` overrides (values parsed as YAML)."""
    return validate_recipe(Recipe, read_yaml_recipe(path), overrides, str(path))


def recall_at_1(audio: torch.Tensor, text: torch.Tensor, texts: list[str]) -> float:
    """Share of audio queries whose most similar text equals their own text (duplicate texts count as hits)."""
    best = (audio @ text.T).argmax(dim=1).tolist()
    return sum(texts[j] == texts[i] for i, j in enumerate(best)) / max(len(texts), 1)


def augment_rows(features: torch.Tensor, settings: AlignTrainSettings, step: int, offset: int = 0) -> torch.Tensor:
    """Step ``step``'s augmentation of log-mel rows ``(b, n_mels, frames)`` that sit at ``offset`` in the
    step's global batch: row ``i`` gets the masks row ``offset + i`` gets in one process (the masks are
    drawn row by row from a generator seeded by ``(seed, step)``; the rows before ``offset`` are drawn
    and dropped), so augmentation does not depend on the number of processes."""
    generator = torch.Generator().manual_seed(settings.seed * 1_000_003 + step)
    if offset:
        augment_log_mel(torch.zeros(offset, *features.shape[1:]), settings.augment, generator)
    return augment_log_mel(features, settings.augment, generator)


class AlignModule(L.LightningModule):
    """Lightning wrapper: contrastive loss on (audio features, frozen text embeddings) batches."""

    def __init__(self, model: AlignModel, recipe: Recipe, batches: EpochBatches, val: PairedSet | None):
        super().__init__()
        self.model, self.recipe, self.batches, self.val = model, recipe, batches, val
        self.loss = get_loss(recipe.loss.name, **recipe.loss.options)
        self.total_steps = max(1, recipe.train.epochs * len(batches))
        if not self.loss.uses_logit_scale:
            model.logit_scale.requires_grad_(False)  # the scale is not part of this loss: keep it as it is
        # s means something when this loss used it (learnt or fixed by the recipe), or the model this
        # run starts from had a meaningful one
        inherited = recipe.init_from is not None and model.config.logit_scale_trained
        scale_trained = self.loss.uses_logit_scale or inherited
        model.config = model.config.model_copy(update={"logit_scale_trained": scale_trained})
        self.strict_loading = False  # checkpoints leave out the frozen text tower (see on_save_checkpoint)

    def setup(self, stage: str) -> None:
        # runs in every process, spawned DDP workers included (fresh interpreters: quiet them, set threads)
        quiet_lightning()
        if self.recipe.train.threads:
            torch.set_num_threads(self.recipe.train.threads)
        self.batches.shard(self.global_rank, self.trainer.world_size)

    @property
    def distributed(self) -> bool:
        return self.trainer.world_size > 1

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.model.config.freeze.text_tower:
            state = checkpoint["state_dict"]
            for key in [k for k in state if k.startswith("model.text_tower.")]:
                del state[key]

    def train_dataloader(self) -> EpochBatches:
        return self.batches

    def batch_loss(self, features: torch.Tensor, tower_text: torch.Tensor) -> torch.Tensor:
        """The recipe's loss on audio-tower features ``(B, ...)`` (or a frozen tower's outputs, when the
        pairs hold them) and frozen text-tower outputs ``(B, d_t)``."""
        audio = self.model.project_audio_inputs(features, self.batches.data.tower_outputs)
        return self._loss_of(audio, self.model.project_text(tower_text), tower_text)

    def _loss_of(self, audio: torch.Tensor, text: torch.Tensor, tower_text: torch.Tensor) -> torch.Tensor:
        """The loss on projected embeddings ``(B, D)``, given what it needs: the model's logit scale
        ``s`` and, for MusCALL's weighting, the similarities of the frozen ``tower_text`` ``(B, d_t)``
        (under DDP this rank's rows; the similarities are the whole batch's, gathered)."""
        needs: dict[str, torch.Tensor] = {}
        if self.loss.uses_logit_scale:
            needs["scale"] = self.model.scale
        if self.loss.uses_text_similarity:
            needs["text_similarity"] = gathered_similarity(tower_text)
        return self.loss(audio, text, **needs)

    def on_train_start(self) -> None:
        self.model.train()  # towers are built in eval mode for inference; Lightning keeps modules' modes

    def on_train_epoch_start(self) -> None:
        self.batches.epoch = self.current_epoch

    def training_step(self, batch: dict[str, torch.Tensor], batch_index: int) -> torch.Tensor:
        # Marked here, not in on_train_batch_end: checkpoint callbacks run before the module's hook,
        # and a checkpoint written after this batch's optimiser step must count the batch as done.
        self.batches.mark_done()
        features = batch["features"]
        if self.recipe.train.augment is not None:
            features = augment_rows(features, self.recipe.train, self.global_step, batch["offset"])
        loss = self.batch_loss(features, batch["text"])
        # under DDP each rank's loss is its share (losses module); their mean, logged, is the batch's loss
        self.log(
            "train/loss",
            loss,
            on_step=True,
            on_epoch=True,
            prog_bar=True,
            batch_size=batch["rows"],
            sync_dist=self.distributed,
        )
        self.log("train/logit_scale", self.model.scale.detach(), on_step=True, on_epoch=False)
        return loss

    def on_train_epoch_end(self) -> None:
        if self.val is None or not len(self.val):
            return
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad(), unsharded():  # every rank holds the whole validation set: nothing to gather
            tower_text = self.val.text_embeddings.to(self.device)
            audio = self.model.project_audio_inputs(self.val.features.to(self.device), self.val.tower_outputs)
            text = self.model.project_text(tower_text)
            val_loss = self._loss_of(audio, text, tower_text)
        self.model.train(was_training)
        self.log("val/loss", val_loss, sync_dist=self.distributed)
        r1 = recall_at_1(audio.cpu(), text.cpu(), self.val.texts)
        self.log("val/r1", torch.tensor(r1, device=self.device), prog_bar=True, sync_dist=self.distributed)

    def configure_optimizers(self):
        settings = self.recipe.train
        parameters = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(
            parameters, lr=settings.lr, betas=settings.betas, weight_decay=settings.weight_decay
        )
        schedule = warmup_cosine(optimizer, settings.warmup_steps, self.total_steps, settings.min_lr_ratio)
        return {"optimizer": optimizer, "lr_scheduler": schedule}


def build_model(recipe: Recipe) -> AlignModel:
    """A fresh model from the recipe, or the ``init_from`` model with the recipe's freeze policy and
    the ``model.logit_scale`` settings the recipe gives explicitly (:func:`apply_scale_settings`).

    Fine-tuning CLAP-lyr / CLAP-emo from CLAP-pre (e.g. ``songalign models build clap-pre``) keeps
    its text tower, CLAP's own projection included, frozen when the recipe's policy freezes
    ``text_tower`` (the packaged recipes do); the audio tower then trains from CLAP's weights.
    """
    if recipe.init_from is None:
        return AlignModel(recipe.model)
    model = AlignModel.from_pretrained(recipe.init_from, freeze=recipe.model.freeze)
    if "logit_scale" in recipe.model.model_fields_set:
        apply_scale_settings(model, recipe.model)
    return model


def apply_scale_settings(model: AlignModel, chosen: ModelConfig) -> None:
    """Give a loaded ``model`` the logit-scale settings of ``chosen.logit_scale`` that were set explicitly.

    ``init_temperature`` restarts ``s`` at ``1/τ₀`` (so the inherited ``s`` no longer counts as
    trained); ``learnable`` and ``max_scale`` keep the inherited ``s`` and change whether it trains
    and its cap. Settings left at their defaults keep the loaded model's.
    """
    given = {name: getattr(chosen.logit_scale, name) for name in chosen.logit_scale.model_fields_set}
    if not given:
        return
    settings = model.config.logit_scale.model_copy(update=given)
    scale = LogitScale.from_settings(settings).to(model.device)
    restarted = "init_temperature" in given
    if not restarted:
        scale.logit_scale.data.copy_(model.logit_scale.logit_scale.data)  # the inherited s, trained or CLAP's
    model.logit_scale = scale
    model.config = model.config.model_copy(
        update={"logit_scale": settings, "logit_scale_trained": model.config.logit_scale_trained and not restarted}
    )


def train(
    recipe: Recipe,
    *,
    progress: bool = True,
    callbacks: list[L.Callback] | None = None,
    devices: int = 1,
    num_nodes: int = 1,
) -> Path:
    """Train a model from ``recipe``; returns the saved model folder. Resumes a run found in the run folder.

    ``devices`` per node × ``num_nodes`` > 1 trains with DDP (see the module docstring); from a script,
    call it under ``if __name__ == "__main__":`` (the workers are spawned). Every process returns the
    folder; the first one (global rank 0) writes it.
    """
    settings = recipe.train
    check_processes(devices, num_nodes)  # before any work
    world = devices * num_nodes
    EpochBatches.require_even_split(settings.batch_size, world)
    run = start_run(recipe.run_dir, recipe, settings.seed, settings.threads)
    manifest = CorpusManifest.load(recipe.data.corpus)
    model = build_model(recipe)
    require_handled(settings.augment, model.audio_tower.name, model.audio_tower.feature_kind)  # before any work
    cache = recipe.data.cache_dir or Path(recipe.data.corpus) / ".cache" / "features"
    report = SkipReport()
    # a frozen audio tower's outputs are computed once, unless augmentation changes its training inputs
    # every step (validation never augments)
    once = settings.augment is None
    train_set = build_pairs(model, manifest, recipe.data.train_split, recipe.data.target, cache, report, progress, once)
    val_set = (
        build_pairs(model, manifest, recipe.data.val_split, recipe.data.target, cache, report, progress, True)
        if manifest.split(recipe.data.val_split)
        else None
    )
    report.kept = len(train_set) + (len(val_set) if val_set else 0)
    # segments left out of the pairs (no text, no audio): summed up here, listed in the run (by one process)
    if report.entries and is_first_process():
        listing = report.write_csv(run / SKIPPED_FILE)
        if progress:
            print_skip_report(report, "training pairs", listing=listing)
    batches = EpochBatches(train_set, settings.batch_size, settings.seed, world_size=world)  # checked before fitting
    module = AlignModule(model, recipe, batches, val_set)
    trainer = make_trainer(
        run,
        epochs=settings.epochs,
        precision=settings.precision,
        grad_clip=settings.grad_clip,
        checkpoint_every=settings.checkpoint_every,
        batches=batches,
        callbacks=callbacks or [],
        progress=progress,
        devices=devices,
        num_nodes=num_nodes,
    )
    metrics = fit_resuming(trainer, module, run)
    folder = run / "model"
    if not trainer.is_global_zero:  # a cluster-started rank other than 0: wait for rank 0's folder
        trainer.strategy.barrier("model folder saved")
        return folder
    card = {
        "name": recipe.name,
        "kind": "align",
        "data": {
            "corpus": str(recipe.data.corpus),
            "songs": songs_by_split(manifest.segments),
            "trained_songs": lineage_songs((segment.song_id for segment in train_set.segments), recipe.init_from),
            "target": recipe.data.target,
            "train_split": recipe.data.train_split,
            "train_pairs": len(train_set),
            "val_pairs": len(val_set) if val_set else 0,
            "corpus_info": {k: manifest.info.get(k) for k in ("source", "reader", "songs", "segments")},
        },
        "recipe": recipe.model_dump(mode="json"),
        "evaluation": {"final_metrics": metrics},
        "provenance": {
            **lineage_provenance(init_from=recipe.init_from),
            "processes": {"devices": devices, "num_nodes": num_nodes, "global_batch_size": settings.batch_size},
        },
    }
    saved = model.save_pretrained(folder, card)
    plot_curves(run / "logs", run / "loss.png", ALIGN_CURVES, title=recipe.name)
    trainer.strategy.barrier("model folder saved")  # no-op unless this process is in a live process group
    return saved
