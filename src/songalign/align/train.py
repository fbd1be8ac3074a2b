"""Training of the alignment model with Lightning, from a YAML recipe.

A recipe (``configs/clap_*.yaml``) names the corpus and the text each segment's audio is paired
with, the towers, the loss and the optimiser settings. A run folder holds::

    recipe.yaml          the resolved recipe (every default filled in)
    checkpoints/last.ckpt  Lightning checkpoint, for resuming an interrupted run
    logs/                CSV and TensorBoard logs
    loss.png             training and validation curves
    model/               the trained model (save_pretrained): weights, config, model card

Re-running the same recipe into the same folder resumes from ``last.ckpt`` and ends with the
weights an uninterrupted run would have (the batches are replayed exactly; a test checks it).
"""

from __future__ import annotations

import logging
import math
import warnings
from pathlib import Path
from typing import Any, Literal

import lightning as L
import torch
import yaml
from lightning.pytorch.callbacks import ModelCheckpoint
from lightning.pytorch.loggers import CSVLogger, TensorBoardLogger
from pydantic import BaseModel, Field, ValidationError

from songalign.align.augment import AugmentSettings, augment_log_mel
from songalign.align.data import EpochBatches, PairedSet, Target, build_pairs
from songalign.align.losses import get_loss
from songalign.align.model import AlignModel, FreezePolicy, ModelConfig
from songalign.corpus.manifest import CorpusManifest
from songalign.errors import SkipReport, SongalignError


class LossSpec(BaseModel):
    name: str = "symmetric_infonce"
    options: dict[str, Any] = Field(default_factory=dict)


class DataSettings(BaseModel):
    corpus: Path
    target: Target = "description"
    train_split: str = "train"
    val_split: str = "val"
    cache_dir: Path | None = Field(None, description="feature cache; default <corpus>/.cache/features")


class TrainSettings(BaseModel):
    epochs: int = Field(5, gt=0)
    batch_size: int = Field(128, gt=0)
    lr: float = Field(1e-4, gt=0)
    betas: tuple[float, float] = (0.9, 0.999)
    weight_decay: float = Field(0.0, ge=0)
    warmup_steps: int = Field(0, ge=0)
    min_lr_ratio: float = Field(0.0, ge=0, le=1, description="floor of the cosine decay, as a share of lr")
    grad_clip: float | None = 1.0
    seed: int = 0
    precision: Literal["auto", "32", "16-mixed", "bf16-mixed"] = "auto"
    checkpoint_every: int = Field(20, gt=0, description="optimizer steps between resumable checkpoints")
    threads: int | None = Field(None, description="CPU threads for torch; None leaves torch's default")
    augment: AugmentSettings | None = Field(
        default_factory=AugmentSettings, description="SpecAugment-style masks on log-mel inputs; null disables"
    )


class Recipe(BaseModel):
    """A training recipe; ``init_from`` starts from a trained model folder (its freeze policy replaced)."""

    name: str
    out: Path | None = None
    init_from: Path | None = None
    model: ModelConfig = Field(default_factory=ModelConfig)
    loss: LossSpec = Field(default_factory=LossSpec)
    data: DataSettings
    train: TrainSettings = Field(default_factory=TrainSettings)

    @property
    def run_dir(self) -> Path:
        return self.out or Path("runs") / self.name


def _set_dotted(tree: dict[str, Any], dotted: str, value: Any) -> None:
    keys = dotted.split(".")
    for key in keys[:-1]:
        tree = tree.setdefault(key, {})
    tree[keys[-1]] = value


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> Recipe:
    """Read a YAML recipe and apply ``key.sub=value`` overrides (values parsed as YAML)."""
    path = Path(path)
    try:
        tree = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as error:
        raise SongalignError(f"{path}: cannot read the recipe ({error}); check the file") from error
    for item in overrides or []:
        if "=" not in item:
            raise SongalignError(f"override '{item}' must look like key.sub=value")
        key, value = item.split("=", 1)
        _set_dotted(tree, key.strip(), yaml.safe_load(value))
    try:
        return Recipe.model_validate(tree)
    except ValidationError as error:
        first = error.errors()[0]
        field = ".".join(str(p) for p in first["loc"])
        raise SongalignError(f"{path}: field '{field}': {first['msg']}; fix the recipe or the --set override") from None


def recall_at_1(audio: torch.Tensor, text: torch.Tensor, texts: list[str]) -> float:
    """Share of audio queries whose most similar text equals their own text (duplicate texts count as hits)."""
    best = (audio @ text.T).argmax(dim=1).tolist()
    return sum(texts[j] == texts[i] for i, j in enumerate(best)) / max(len(texts), 1)


class AlignModule(L.LightningModule):
    """Lightning wrapper: contrastive loss on (audio features, frozen text embeddings) batches."""

    def __init__(self, model: AlignModel, recipe: Recipe, batches: EpochBatches, val: PairedSet | None):
        super().__init__()
        self.model, self.recipe, self.batches, self.val = model, recipe, batches, val
        self.loss = get_loss(recipe.loss.name, **recipe.loss.options)
        self.total_steps = max(1, recipe.train.epochs * len(batches))
        if not self.loss.uses_logit_scale:
            model.logit_scale.requires_grad_(False)  # the scale is not part of this loss: keep it as it is
            model.config = model.config.model_copy(update={"logit_scale_trained": False})
        self.strict_loading = False  # checkpoints leave out the frozen text tower (see on_save_checkpoint)

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        if self.model.config.freeze.text_tower:
            state = checkpoint["state_dict"]
            for key in [k for k in state if k.startswith("model.text_tower.")]:
                del state[key]

    def train_dataloader(self) -> EpochBatches:
        return self.batches

    def _loss(self, features: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        audio = self.model.project_audio(features)
        projected = self.model.project_text(text)
        return self._apply_loss(audio, projected)

    def _apply_loss(self, audio: torch.Tensor, text: torch.Tensor) -> torch.Tensor:
        """The recipe's loss on normalised embeddings; a scaled loss uses the model's logit scale."""
        if self.loss.uses_logit_scale:
            return self.loss(audio, text, scale=self.model.scale)
        return self.loss(audio, text)

    def on_train_start(self) -> None:
        self.model.train()  # towers are built in eval mode for inference; Lightning keeps modules' modes

    def on_train_epoch_start(self) -> None:
        self.batches.epoch = self.current_epoch

    def training_step(self, batch: dict[str, torch.Tensor], batch_index: int) -> torch.Tensor:
        # Marked here, not in on_train_batch_end: checkpoint callbacks run before the module's hook,
        # and a checkpoint written after this batch's optimiser step must count the batch as done.
        self.batches.mark_done(batch_index + 1)
        features = batch["features"]
        if self.recipe.train.augment is not None:
            generator = torch.Generator().manual_seed(self.recipe.train.seed * 1_000_003 + self.global_step)
            features = augment_log_mel(features, self.recipe.train.augment, generator)
        loss = self._loss(features, batch["text"])
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=len(batch["index"]))
        self.log("train/logit_scale", self.model.scale.detach(), on_step=True, on_epoch=False)
        return loss

    def on_train_epoch_end(self) -> None:
        if self.val is None or not len(self.val):
            return
        was_training = self.model.training
        self.model.eval()
        with torch.no_grad():
            audio = self.model.project_audio(self.val.features.to(self.device))
            text = self.model.project_text(self.val.text_embeddings.to(self.device))
            val_loss = self._apply_loss(audio, text)
        self.model.train(was_training)
        self.log("val/loss", val_loss)
        self.log("val/r1", recall_at_1(audio.cpu(), text.cpu(), self.val.texts), prog_bar=True)

    def configure_optimizers(self):
        settings = self.recipe.train
        parameters = [p for p in self.model.parameters() if p.requires_grad]
        optimizer = torch.optim.Adam(parameters, lr=settings.lr, betas=settings.betas, weight_decay=settings.weight_decay)
        warmup, floor = settings.warmup_steps, settings.min_lr_ratio

        def factor(step: int) -> float:
            if step < warmup:
                return (step + 1) / warmup
            progress = min(1.0, (step - warmup) / max(1, self.total_steps - warmup))
            return floor + (1 - floor) * 0.5 * (1 + math.cos(math.pi * progress))

        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, factor)
        return {"optimizer": optimizer, "lr_scheduler": {"scheduler": scheduler, "interval": "step"}}


def build_model(recipe: Recipe) -> AlignModel:
    """A fresh model from the recipe, or the ``init_from`` model with the recipe's freeze policy."""
    if recipe.init_from is None:
        return AlignModel(recipe.model)
    freeze: FreezePolicy = recipe.model.freeze
    return AlignModel.from_pretrained(recipe.init_from, freeze=freeze)


def _quiet_lightning() -> None:
    """Keep Lightning's tips and known-harmless warnings out of the user's terminal."""
    logging.getLogger("lightning.pytorch").setLevel(logging.WARNING)
    logging.getLogger("lightning.fabric").setLevel(logging.WARNING)
    for pattern in (".*module\\(s\\) in eval mode.*", ".*LeafSpec.*", ".*does not have many workers.*", ".*litlogger.*"):
        warnings.filterwarnings("ignore", message=pattern)


def train(recipe: Recipe, *, progress: bool = True, callbacks: list[L.Callback] | None = None) -> Path:
    """Train a model from ``recipe``; returns the saved model folder. Resumes a run found in the run folder."""
    _quiet_lightning()
    settings = recipe.train
    if settings.threads:
        torch.set_num_threads(settings.threads)
    L.seed_everything(settings.seed, workers=True, verbose=False)
    run = recipe.run_dir
    run.mkdir(parents=True, exist_ok=True)
    (run / "recipe.yaml").write_text(yaml.safe_dump(recipe.model_dump(mode="json"), sort_keys=False), encoding="utf-8")
    manifest = CorpusManifest.load(recipe.data.corpus)
    model = build_model(recipe)
    cache = recipe.data.cache_dir or Path(recipe.data.corpus) / ".cache" / "features"
    report = SkipReport()
    train_set = build_pairs(model, manifest, recipe.data.train_split, recipe.data.target, cache, report, progress)
    val_set = (
        build_pairs(model, manifest, recipe.data.val_split, recipe.data.target, cache, report, progress)
        if manifest.split(recipe.data.val_split)
        else None
    )
    batches = EpochBatches(train_set, settings.batch_size, settings.seed)
    module = AlignModule(model, recipe, batches, val_set)
    checkpoint = ModelCheckpoint(
        dirpath=run / "checkpoints", save_last=True, save_top_k=0, every_n_train_steps=settings.checkpoint_every
    )
    precision = settings.precision
    if precision == "auto":
        precision = "16-mixed" if torch.cuda.is_available() else "32"
    version = len(list((run / "logs").glob("version_*")))
    trainer = L.Trainer(
        default_root_dir=run,
        max_epochs=settings.epochs,
        accelerator="auto",
        devices=1,
        precision=precision,
        gradient_clip_val=settings.grad_clip,
        # a resumed run logs into a new version_<n> folder, so the interrupted run's logs are kept
        logger=[CSVLogger(run, name="logs", version=version), TensorBoardLogger(run, name="logs", version=version)],
        callbacks=[checkpoint, *(callbacks or [])],
        enable_progress_bar=progress,
        enable_model_summary=False,
        log_every_n_steps=1,
        num_sanity_val_steps=0,
        deterministic=True,
    )
    last = run / "checkpoints" / "last.ckpt"
    trainer.fit(module, ckpt_path=str(last) if last.is_file() else None)
    metrics = {k: float(v) for k, v in trainer.callback_metrics.items()}
    card = {
        "name": recipe.name,
        "data": {
            "corpus": str(recipe.data.corpus),
            "target": recipe.data.target,
            "train_pairs": len(train_set),
            "val_pairs": len(val_set) if val_set else 0,
            "corpus_info": {k: manifest.info.get(k) for k in ("source", "reader", "songs", "segments")},
        },
        "recipe": recipe.model_dump(mode="json"),
        "evaluation": {"final_metrics": metrics},
    }
    saved = model.save_pretrained(run / "model", card)
    plot_losses(run / "logs", run / "loss.png", title=recipe.name)
    return saved


def read_metrics(logs: Path) -> list[dict[str, str]]:
    """Rows of every ``version_*/metrics.csv`` under ``logs``; a resumed run's rows replace the old ones from its step on."""
    import csv

    rows: list[dict[str, str]] = []
    versions = sorted(logs.glob("version_*/metrics.csv"), key=lambda p: int(p.parent.name.split("_")[-1]))
    for path in versions:
        new = list(csv.DictReader(path.open(encoding="utf-8")))
        if new:
            first = min(int(r["step"]) for r in new)
            rows = [r for r in rows if int(r["step"]) < first] + new
    return rows


def plot_losses(logs: Path, out: Path, title: str = "") -> Path | None:
    """Training loss per step and validation loss/R@1 per epoch from Lightning's CSV logs, as a PNG."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    rows = read_metrics(logs)
    if not rows:
        return None
    steps = [(int(r["step"]), float(r["train/loss_step"])) for r in rows if r.get("train/loss_step")]
    val = [(int(r["step"]), float(r["val/loss"]), float(r["val/r1"])) for r in rows if r.get("val/loss")]
    figure, left = plt.subplots(figsize=(7, 4))
    if steps:
        left.plot(*zip(*steps, strict=True), label="train loss", color="tab:blue", alpha=0.8)
    if val:
        left.plot([s for s, _, _ in val], [v for _, v, _ in val], "o-", label="val loss", color="tab:orange")
        right = left.twinx()
        right.plot([s for s, _, _ in val], [r for _, _, r in val], "s--", label="val R@1", color="tab:green")
        right.set_ylabel("val R@1")
        right.set_ylim(0, 1)
    left.set_xlabel("step")
    left.set_ylabel("loss")
    left.set_title(title)
    figure.legend(loc="upper right")
    figure.tight_layout()
    figure.savefig(out, dpi=110)
    plt.close(figure)
    return out
