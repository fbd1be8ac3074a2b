"""Training of the captioner with Lightning, from a YAML recipe (``configs/alcap.yaml`` & co.).

A recipe names a prepared corpus whose songs carry interpretations (``data.corpus``) and the
variant, the model (BART source or size, the music
encoder, fusion, alignment), the optimiser and the decoding settings. A run folder holds::

    recipe.yaml              the resolved recipe (every default filled in)
    checkpoints/last.ckpt    Lightning checkpoint, for resuming an interrupted run
    checkpoints/best.ckpt    the weights with the lowest validation caption loss
    logs/                    CSV (and TensorBoard) logs
    loss.png                 training and validation curves
    model/                   the trained captioner (best on validation when there is a val split)

Re-running the same recipe into the same folder resumes from ``last.ckpt``; batches are replayed
exactly as in an uninterrupted run (:class:`~songalign.align.data.EpochBatches`).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import lightning as L
import numpy as np
import torch
from lightning.pytorch.callbacks import ModelCheckpoint
from pydantic import BaseModel, Field, model_validator

from songalign.align.data import EpochBatches
from songalign.caption.data import CaptionCorpus, CaptionItem, SplitSource, variant_name
from songalign.caption.model import CaptionModel, CaptionModelConfig, GenerationSettings
from songalign.caption.music import build_music_encoder, music_cache_dir, music_features
from songalign.checkpoint import lineage_provenance, lineage_songs
from songalign.console import print_skip_report
from songalign.errors import SKIPPED_FILE, SkipReport, SongalignError
from songalign.runs import (
    BatchSize,
    Epochs,
    LearningRate,
    TrainingSettings,
    fit_resuming,
    make_trainer,
    read_yaml_recipe,
    start_run,
    validate_recipe,
    warmup_cosine,
)


class CaptionData(BaseModel):
    """The prepared corpus a captioner trains on, which of its interpretations, and whose splits."""

    corpus: Path = Field(description="a prepared corpus whose songs carry interpretations (songalign corpus prepare)")
    variant: str = Field("full", description="full, votes_ge_0 or votes_gt_0")
    splits: SplitSource = Field(
        "align_model",
        description="with model.music_encoder.align_model: follow that model's splits by song (align_model) or keep "
        "the corpus's, refusing val/test songs the tower trained on (corpus)",
    )
    train_split: str = "train"
    val_split: str = "val"
    cache_dir: Path | None = Field(None, description="music feature cache; default <corpus>/.cache/music")

    @model_validator(mode="before")
    @classmethod
    def _no_interpretations_folder(cls, data: Any) -> Any:
        if isinstance(data, dict) and "interpretations" in data:
            raise ValueError(
                "data.interpretations is gone: prepare the interpretations as a corpus "
                "(songalign corpus prepare interpretation|jamendo ...) and name it in data.corpus"
            )
        return data

    def cache(self) -> Path:
        return self.cache_dir or music_cache_dir(self.corpus)


class CaptionTrainSettings(TrainingSettings):
    """The captioner's ``train`` section: the shared settings (:class:`~songalign.runs.TrainingSettings`), a cap
    on optimizer steps, the optimizer, Adam's weight decay and the schedule after the warm-up."""

    epochs: Epochs = 20
    batch_size: BatchSize = 26
    lr: LearningRate = 5e-5
    max_steps: int | None = Field(
        None, gt=0, description="stop after this many optimizer steps (same for every recipe)"
    )
    optimizer: Literal["adamw", "adafactor"] = "adamw"
    weight_decay: float = Field(0.0, ge=0)
    schedule: Literal["cosine", "constant"] = "cosine"
    min_lr_ratio: float = Field(0.0, ge=0, le=1)


class CaptionRecipe(BaseModel):
    """A captioner recipe; ``init_from`` starts from a trained captioner folder (fine-tuning)."""

    name: str
    out: Path | None = None
    init_from: Path | None = None
    data: CaptionData
    model: CaptionModelConfig = Field(default_factory=CaptionModelConfig)
    train: CaptionTrainSettings = Field(default_factory=CaptionTrainSettings)
    generation: GenerationSettings = Field(default_factory=GenerationSettings)

    @property
    def run_dir(self) -> Path:
        return self.out or Path("runs") / "caption" / self.name


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> CaptionRecipe:
    """Read a YAML recipe and apply ``key.sub=value`` overrides (values parsed as YAML)."""
    return recipe_from_tree(read_yaml_recipe(path), overrides, str(path))


def recipe_from_tree(tree: dict[str, Any], overrides: list[str] | None = None, where: str = "recipe") -> CaptionRecipe:
    """Validate a recipe given as a dict, after ``key.sub=value`` overrides."""
    recipe = validate_recipe(CaptionRecipe, tree, overrides, where)
    variant_name(recipe.data.variant)  # fails with one sentence on an unknown variant
    return recipe


# -- data -------------------------------------------------------------------------------------------------


@dataclass
class CaptionDataset:
    """``N`` items as tensors, in the shape :class:`EpochBatches` indexes.

    ``features``: music ``(N, l_m, d_m)`` (``(N, 1, 1)`` zeros for a lyrics-only model);
    ``text_embeddings``: lyrics token ids ``(N, l_t)`` padded with ``pad_id``; ``labels``:
    interpretation ids ``(N, l_y)`` padded with −100; ``song_index``: ``(N,)`` song numbers.
    """

    items: list[CaptionItem]
    features: torch.Tensor
    text_embeddings: torch.Tensor
    labels: torch.Tensor
    song_index: torch.Tensor
    pad_id: int

    def __len__(self) -> int:
        return len(self.items)


def build_dataset(
    model: CaptionModel, items: list[CaptionItem], features: dict[str, np.ndarray] | None
) -> CaptionDataset:
    """Tokenise ``items`` and gather each one's music (items whose song has no features are dropped)."""
    if features is not None:
        items = [i for i in items if i.song_id in features]
    if not items:
        raise SongalignError("no item is left to train or validate on (no song with readable audio and lyrics)")
    tokens = model.tokenize_lyrics([i.lyrics for i in items])
    labels = model.tokenize_targets([i.text for i in items])
    songs: dict[str, int] = {}
    song_index = torch.tensor([songs.setdefault(i.song_id, len(songs)) for i in items])
    if features is None:
        music = torch.zeros(len(items), 1, 1)
    else:
        music = torch.from_numpy(np.stack([features[i.song_id] for i in items])).float()
    return CaptionDataset(items, music, tokens["input_ids"], labels, song_index, model.tokenizer.pad_token_id)


class CaptionBatches(EpochBatches):
    """:class:`EpochBatches` over a :class:`CaptionDataset`, each batch trimmed to its longest text.

    Yields ``{"music", "input_ids", "attention_mask", "labels", "song_index", "index"}``.
    """

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        for batch in super().__iter__():
            yield collate(self.data, batch["index"], batch["features"], batch["text"])


def collate(
    data: CaptionDataset, index: torch.Tensor, music: torch.Tensor | None = None, ids: torch.Tensor | None = None
):
    """The batch of ``data`` at ``index``, with padding columns no row uses removed."""
    music = data.features[index] if music is None else music
    ids = data.text_embeddings[index] if ids is None else ids
    mask = (ids != data.pad_id).long()
    mask[:, 0] = 1  # <s> is never padding, even when pad and bos share an id
    width = int(mask.sum(1).max())
    labels = data.labels[index]
    label_width = int((labels != -100).sum(1).max())
    return {
        "music": music,
        "input_ids": ids[:, :width].contiguous(),
        "attention_mask": mask[:, :width].contiguous(),
        "labels": labels[:, :label_width].contiguous(),
        "song_index": data.song_index[index],
        "index": index,
    }


# -- Lightning ----------------------------------------------------------------------------------------------


class CaptionModule(L.LightningModule):
    """Lightning wrapper: ``L_cap + α·L_contrast`` on batches of (music, lyrics, interpretation)."""

    def __init__(self, model: CaptionModel, recipe: CaptionRecipe, batches: CaptionBatches, val: CaptionDataset | None):
        super().__init__()
        self.model, self.recipe, self.batches, self.val = model, recipe, batches, val
        per_epoch = len(batches)
        planned = recipe.train.epochs * per_epoch
        self.total_steps = max(1, min(planned, recipe.train.max_steps or planned))

    def train_dataloader(self) -> CaptionBatches:
        return self.batches

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        # dropout draws from torch's generator: a resumed run must continue its sequence to match an uninterrupted one
        checkpoint["torch_rng_state"] = torch.get_rng_state()
        if torch.cuda.is_available():
            checkpoint["cuda_rng_state"] = torch.cuda.get_rng_state_all()

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if "torch_rng_state" in checkpoint:
            torch.set_rng_state(checkpoint["torch_rng_state"])
        if "cuda_rng_state" in checkpoint and torch.cuda.is_available():
            torch.cuda.set_rng_state_all(checkpoint["cuda_rng_state"])

    def _step(self, batch: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        music = batch["music"] if self.model.config.uses_music else None
        return self.model.losses(
            batch["input_ids"], batch["attention_mask"], batch["labels"], music, batch["song_index"]
        )

    def on_train_start(self) -> None:
        self.model.train()  # from_pretrained gives eval mode (no dropout); Lightning keeps modules' modes

    def on_train_epoch_start(self) -> None:
        self.batches.epoch = self.current_epoch

    def training_step(self, batch: dict[str, torch.Tensor], batch_index: int) -> torch.Tensor:
        self.batches.mark_done()  # see songalign.align.train: before any checkpoint of this step
        losses = self._step(batch)
        size = len(batch["index"])
        self.log("train/loss", losses["loss"], on_step=True, on_epoch=True, prog_bar=True, batch_size=size)
        self.log("train/caption", losses["caption"], on_step=True, on_epoch=False, batch_size=size)
        self.log("train/contrast", losses["contrast"], on_step=True, on_epoch=False, batch_size=size)
        return losses["loss"]

    def on_train_epoch_end(self) -> None:
        if self.val is None:
            return
        self.log("val/loss", validation_loss(self.model, self.val, self.recipe.train.batch_size), prog_bar=True)

    def configure_optimizers(self):
        settings = self.recipe.train
        parameters = [p for p in self.model.parameters() if p.requires_grad]
        if settings.optimizer == "adafactor":
            from transformers.optimization import Adafactor

            optimizer = Adafactor(parameters, lr=settings.lr, relative_step=False, scale_parameter=False,
                                  warmup_init=False, weight_decay=settings.weight_decay)  # fmt: skip
        else:
            optimizer = torch.optim.AdamW(
                parameters, lr=settings.lr, betas=settings.betas, weight_decay=settings.weight_decay
            )
        schedule = warmup_cosine(optimizer, settings.warmup_steps, self.total_steps, settings.min_lr_ratio,
                                 constant=settings.schedule == "constant")  # fmt: skip
        return {"optimizer": optimizer, "lr_scheduler": schedule}


@torch.no_grad()
def validation_loss(model: CaptionModel, data: CaptionDataset, batch_size: int) -> float:
    """Mean teacher-forced caption cross-entropy over ``data`` (eval mode), weighted by batch size."""
    was_training = model.training
    model.eval()
    total, count = 0.0, 0
    for start in range(0, len(data), batch_size):
        index = torch.arange(start, min(start + batch_size, len(data)))
        batch = {k: v.to(model.device) for k, v in collate(data, index).items()}
        music = batch["music"] if model.config.uses_music else None
        losses = model.losses(batch["input_ids"], batch["attention_mask"], batch["labels"], music, batch["song_index"])
        total += float(losses["caption"]) * len(index)
        count += len(index)
    model.train(was_training)
    return total / max(count, 1)


# -- the run ------------------------------------------------------------------------------------------------


@dataclass
class Prepared:
    """A model ready to train with its data: the split corpus, train and val items, music features per song."""

    model: CaptionModel
    corpus: CaptionCorpus
    train: list[CaptionItem]
    val: list[CaptionItem]
    features: dict[str, np.ndarray] | None
    report: SkipReport


def prepare(recipe: CaptionRecipe, progress: bool = True) -> Prepared:
    """Split the corpus (following the music tower's model), compute (or read) the music features, build the model."""
    config = recipe.model.model_copy(deep=True)
    corpus = CaptionCorpus.load(recipe.data.corpus, align_model=config.music_encoder.align_model,
                                splits=recipe.data.splits)  # fmt: skip
    train_items = corpus.items(recipe.data.train_split, recipe.data.variant)
    val_items = corpus.items(recipe.data.val_split, recipe.data.variant)
    if not train_items:
        raise SongalignError(
            f"{recipe.data.corpus}: the {recipe.data.train_split} split of variant {recipe.data.variant} is empty; "
            "pick another variant or split"
        )
    report = SkipReport()
    features = None
    if config.uses_music:
        tower = build_music_encoder(config.music_encoder)
        features = music_features(
            train_items + val_items, config.music_encoder, recipe.data.cache(), report, tower, progress
        )
        if not features:
            raise SongalignError(
                "no song has readable audio, so a music-aware captioner cannot train; check the audio paths"
            )
        config.music_dim = int(next(iter(features.values())).shape[-1])
    if recipe.init_from is not None:
        model = CaptionModel.from_pretrained(recipe.init_from)
    else:
        texts = [i.text for i in train_items] + list({i.song_id: i.lyrics for i in train_items}.values())
        model = CaptionModel.build(config, texts)
    return Prepared(model, corpus, train_items, val_items, features, report)


def train(recipe: CaptionRecipe, *, progress: bool = True, callbacks: list[L.Callback] | None = None) -> Path:
    """Train a captioner from ``recipe``; returns the saved model folder. Resumes a run found in the run folder."""
    settings = recipe.train
    run = start_run(recipe.run_dir, recipe, settings.seed, settings.threads)
    prepared = prepare(recipe, progress)
    if prepared.report.entries:  # songs left out of the music features: summed up here, listed in the run folder
        listing = prepared.report.write_csv(run / SKIPPED_FILE)
        if progress:
            print_skip_report(prepared.report, "music features", listing=listing)
    model = prepared.model
    L.seed_everything(settings.seed, workers=True, verbose=False)  # the same draws whatever prepare() consumed
    train_set = build_dataset(model, prepared.train, prepared.features)
    val_set = build_dataset(model, prepared.val, prepared.features) if prepared.val else None
    batches = CaptionBatches(train_set, settings.batch_size, settings.seed)
    module = CaptionModule(model, recipe, batches, val_set)
    checkpoints: list[L.Callback] = []
    best = None
    if val_set is not None:
        best = ModelCheckpoint(dirpath=run / "checkpoints", filename="best", monitor="val/loss", mode="min", save_top_k=1,
                               save_weights_only=True, enable_version_counter=False)  # fmt: skip
        checkpoints.append(best)
    trainer = make_trainer(
        run,
        epochs=settings.epochs,
        max_steps=settings.max_steps,
        precision=settings.precision,
        grad_clip=settings.grad_clip,
        checkpoint_every=settings.checkpoint_every,
        batches=batches,
        callbacks=[*checkpoints, *(callbacks or [])],
        progress=progress,
    )
    metrics = fit_resuming(trainer, module, run)
    chosen = "last"
    if best is not None and best.best_model_path and Path(best.best_model_path).is_file():
        state = torch.load(best.best_model_path, map_location="cpu", weights_only=True)["state_dict"]
        module.load_state_dict(state)
        chosen = f"best on validation (val/loss {float(best.best_model_score):.4f})"
    model.eval()
    music_tower = recipe.model.music_encoder.align_model if recipe.model.uses_music else None  # features' source
    card = {
        "name": recipe.name,
        "kind": "caption",
        "data": {
            "corpus": str(recipe.data.corpus),
            "songs": prepared.corpus.song_lists(),
            "trained_songs": lineage_songs((item.song_id for item in train_set.items), recipe.init_from),
            "train_split": recipe.data.train_split,
            "splits": prepared.corpus.split_source,
            "variant": variant_name(recipe.data.variant),
            "train_items": len(train_set),
            "val_items": len(val_set) if val_set else 0,
            "train_songs": int(train_set.song_index.max()) + 1,
            "skipped": len(prepared.report),
        },
        "recipe": recipe.model_dump(mode="json"),
        "evaluation": {"final_metrics": metrics, "weights": chosen, "steps": int(trainer.global_step)},
        "provenance": lineage_provenance(init_from=recipe.init_from, music_tower=music_tower),
    }
    saved = model.save_pretrained(run / "model", card)
    from songalign.caption.plots import plot_training

    plot_training(run / "logs", run / "loss.png", title=recipe.name)
    return saved
