"""Training the transcriber with Lightning, from a YAML recipe (``configs/alt.yaml``, ``configs/alt_small.yaml``).

The loss is the paper's joint loss, each term weighted by the recipe (``loss``)::

    L = w_ctc · CTC(lyrics) + w_pitch · CE(pitch, 129 classes) + w_onset · BCE(onset)

(``pitched_class_weight`` weights the 128 pitched classes against "no pitch" in the CE: 1 in the
paper, 2 in the authors' code; the CE is the plain mean over frames of ``w_y · CE``, as the authors'
``CrossEntropyLossWithProb`` computes it (:func:`pitch_cross_entropy`); ``onset_pos_weight`` is
BCE's ``pos_weight``: 1 in the paper, 20 in the code). A mode without a network leaves its terms out
(``baseline``/``oracle``: no pitch terms; ``pitch``: no CTC). Adam (β = 0.9, 0.999, ε = 1e-8;
``amsgrad`` false: the paper names plain Adam, the authors' code sets AMSGrad), gradients clipped to
norm ``grad_clip`` (5; neither the paper nor the authors' code clips: null turns it off), the
learning rate ramped up linearly over the
first ``warmup_steps`` batches and constant after; early stopping when the validation WER (greedy
decoding of the validation songs, whole; the phoneme error rate for a phoneme model, the framewise pitch error
for a ``pitch`` model) has not
improved for ``patience`` epochs (never before ``min_epochs``: a CTC model emits nothing for its first
epochs), and the model folder holds the best epoch's weights (the later one on a tie).

A run folder holds ``recipe.yaml``, ``checkpoints/last.ckpt`` (written every ``train.checkpoint_every``
batches and at the end; re-running the recipe into the same folder continues from it and ends with exactly
the weights of an uninterrupted run, even when the run was killed mid-epoch: :class:`ClipBatches` resume at
the first batch not trained on, with torch's random state, and a checkpoint of other training songs, clip
length, batch size, seed, vocal channel or separator weights is refused in one sentence), ``logs/``, ``loss.png`` and ``model/`` (the model folder, whose
card lists the corpus's splits and the songs the weights were fitted on; a lyrics model's folder also
holds ``lm.arpa`` (a character model's), the decoder's word n-gram LM of order ``decode.lm_order``, built from those songs'
lyric lines only, so that no scored song's lyrics are in it).
"""

from __future__ import annotations

import copy
import math
from pathlib import Path
from typing import Any

import lightning as L
import numpy as np
import torch
import torch.nn.functional as F
from pydantic import BaseModel, ConfigDict, Field

from songalign.audio.cache import FeatureCache, file_digest
from songalign.checkpoint import lineage_provenance, lineage_songs, songs_by_split
from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.records import Song
from songalign.errors import SKIPPED_FILE, SkipReport, SongalignError
from songalign.runs import (
    BatchSize,
    CheckpointEvery,
    Curve,
    Epochs,
    GradClip,
    LearningRate,
    ResumableBatches,
    TrainingSettings,
    WarmupSteps,
    digest,
    fit_resuming,
    make_trainer,
    plot_curves,
    read_yaml_recipe,
    start_run,
    validate_recipe,
    warmup_cosine,
)
from songalign.transcribe.data import (
    FEATURES,
    Batch,
    SongTargets,
    clip_windows,
    collate,
    cut_clip,
    features,
    song_targets,
    sung_share,
)
from songalign.transcribe.decode import DecodeSettings, greedy_decode, greedy_phonemes
from songalign.transcribe.listen import check_channel, separator_card, song_audio
from songalign.transcribe.lm import LM_FILE, build_arpa
from songalign.transcribe.metrics import phoneme_error_rate, word_error_rate
from songalign.transcribe.model import Transcriber, TranscriberConfig
from songalign.transcribe.networks import NO_PITCH, output_frames


class TranscribeData(BaseModel):
    model_config = ConfigDict(extra="forbid")

    corpus: Path = Field(description="a prepared corpus (`songalign corpus prepare`) whose songs have words and notes")
    train_split: str = "train"
    val_split: str = "val"
    clip_frames: int = Field(1000, ge=32, description="frames per training clip (1000 = 16 s, the paper's)")
    min_sung_share: float = Field(
        0.0,
        ge=0,
        lt=1,
        description="leave out training clips whose sung share (data.sung_share: words, or notes for a pitch model) "
        "is below this; 0 keeps every clip (the paper), the authors' code keeps clips whose notes cover over 0.1",
    )
    cache_dir: Path | None = Field(None, description="feature cache; default <corpus>/.cache/transcribe")


class LossWeights(BaseModel):
    model_config = ConfigDict(extra="forbid")

    ctc: float = Field(1.0, ge=0)
    pitch: float = Field(1.0, ge=0)
    onset: float = Field(1.0, ge=0)
    pitched_class_weight: float = Field(
        1.0, gt=0, description="CE weight of the pitched classes (code: 2); the CE is the mean of w_y·CE over frames"
    )
    onset_pos_weight: float = Field(1.0, gt=0, description="BCE pos_weight of onset frames (code: 20)")


class TranscribeTrainSettings(TrainingSettings):
    """The transcriber's ``train`` section: the shared settings (:class:`~songalign.runs.TrainingSettings`; ``epochs``
    is the most it trains, ``warmup_steps`` the paper's 100-batch warm-up), Adam's ε and early stopping."""

    model_config = ConfigDict(extra="forbid")

    epochs: Epochs = 100
    batch_size: BatchSize = 8
    lr: LearningRate = 5e-4
    warmup_steps: WarmupSteps = 100
    grad_clip: GradClip = 5.0
    checkpoint_every: CheckpointEvery = 20
    eps: float = Field(1e-8, gt=0)
    amsgrad: bool = Field(False, description="Adam's AMSGrad variant (the paper: plain Adam; the authors' code: true)")
    patience: int = Field(10, gt=0, description="epochs without a better validation WER before stopping")
    min_epochs: int = Field(
        1, ge=1, description="epochs trained before early stopping may stop (a CTC model emits nothing at first)"
    )


class TranscribeRecipe(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    out: Path | None = None
    init_from: Path | None = Field(
        None,
        description="a transcriber folder whose weights start this model: every tensor of the same name and shape "
        "(a lyrics head over other symbols, e.g. a character model's for a phoneme model, starts afresh)",
    )
    model: TranscriberConfig = Field(default_factory=TranscriberConfig)
    data: TranscribeData
    loss: LossWeights = Field(default_factory=LossWeights)
    train: TranscribeTrainSettings = Field(default_factory=TranscribeTrainSettings)
    decode: DecodeSettings = Field(default_factory=DecodeSettings)

    @property
    def run_dir(self) -> Path:
        return self.out or Path("runs") / self.name


def load_recipe(path: str | Path, overrides: list[str] | None = None) -> TranscribeRecipe:
    """Read a YAML recipe and apply ``key.sub=value`` overrides (values parsed as YAML).

    ``model.vocals`` is checked at once, cheaply (a registered separator's name or an open-unmix folder that is
    there; :func:`~songalign.transcribe.listen.check_channel`); :func:`train` builds the separator."""
    recipe = validate_recipe(TranscribeRecipe, read_yaml_recipe(path), overrides, str(path))
    vocals = recipe.model.vocals
    remedy = "set model.vocals to spleeter, stem or mix"
    check_channel(vocals, f"{path}: model.vocals={vocals}", remedy=remedy, build=False)
    return recipe


TRANSCRIBE_CURVES = (
    Curve("train/loss_step", "train loss"),
    Curve("train/ctc_step", "CTC", omit_if_zero=True),
    Curve("val/wer", "val WER (greedy)", "o-", share=True),
    Curve("val/per", "val PER (greedy)", "o-", share=True),
    Curve("val/pitch_error", "val pitch error", "s--", share=True),
)


# -- features and targets -------------------------------------------------------------------------------


def cached_song_features(song: Song, config: TranscriberConfig, cache: FeatureCache) -> torch.Tensor:
    """``(2, 80, T)`` features of ``song`` as ``config`` reads them, from ``cache`` when there.

    Features heard through a separator are keyed by its name and weights' digest (other weights make other
    features); those of a separator without a ``digest`` (a plugin may lack one) are not cached, as its
    separations are not (:func:`~songalign.transcribe.listen.separate_vocals`): nothing tells its weights apart."""
    source: str | None = config.vocals
    if source == "stem":
        source = f"stem:{file_digest(song.extra['vocals_path'])}" if song.extra.get("vocals_path") else "stem:none"
    elif source != "mix":
        separator = separator_card(config.vocals)
        source = f"separator:{separator['name']}:{separator['digest']}" if separator.get("digest") else None
    key = None
    if source is not None:
        key = cache.key(song.audio_path, f"transcribe:{FEATURES.key()}|{source}|{config.channel_order}")
        cached = cache.get(key)
        if cached is not None:
            return torch.from_numpy(cached)
    mix, vocals = song_audio(song, config.vocals)
    mel = features(mix, vocals, config.channel_order)
    if key is not None:
        cache.put(key, mel.numpy())
    return mel


def load_targets(
    songs: list[Song],
    config: TranscriberConfig,
    cache: FeatureCache,
    report: SkipReport,
    *,
    need_notes: bool,
    need_words: bool = True,
) -> list[SongTargets]:
    """Features and targets of the usable ``songs``; the others are reported (no words or no notes when
    needed, audio that cannot be read) and left out."""
    targets = []
    for song in songs:
        if need_words and not any(w.text.strip() for w in song.words):
            report.skip(song.id, "no timed words to train or score a transcriber on")
            continue
        if need_notes and not song.notes:
            report.skip(song.id, "no annotated notes (the pitch/onset targets)")
            continue
        try:
            targets.append(song_targets(song, cached_song_features(song, config, cache), config.network))
        except SongalignError as error:
            report.skip(song.id, str(error))
    return targets


def split_songs(manifest: CorpusManifest, split: str) -> list[Song]:
    """The songs of ``split`` (a song's split is its segments'), in corpus order; ``all`` gives every song."""
    if split == "all":
        return list(manifest.songs)
    wanted = {segment.song_id for segment in manifest.split(split)}
    return [song for song in manifest.songs if song.id in wanted]


# -- the loss -------------------------------------------------------------------------------------------


def pitch_cross_entropy(logits: torch.Tensor, targets: torch.Tensor, pitched_class_weight: float) -> torch.Tensor:
    """The pitch CE of ``N`` frames: ``mean_t(w_{y_t} · CE_t)``, a scalar (natural log).

    ``logits`` ``(N, 129)``, ``targets`` ``(N,)`` class indices (128 = no pitch); ``w`` is
    ``pitched_class_weight`` for the 128 pitched classes and 1 for "no pitch". The mean is over frames,
    as the authors' ``CrossEntropyLossWithProb`` takes it, not over the weights' sum as
    ``F.cross_entropy(weight=...)`` does (with weight 2 on a half-pitched batch that one is 1.5× smaller).
    With weight 1 both are the paper's plain CE.
    """
    per_frame = F.cross_entropy(logits, targets, reduction="none")  # (N,)
    weights = torch.where(targets == NO_PITCH, 1.0, pitched_class_weight).to(per_frame.dtype)
    return (weights * per_frame).mean()


def transcription_loss(
    model: Transcriber, batch: Batch, weights: LossWeights
) -> tuple[torch.Tensor, dict[str, torch.Tensor]]:
    """The weighted joint loss of one batch and its terms (see the module docstring)."""
    out = model(batch.mel, batch.pitch, batch.onset)
    terms: dict[str, torch.Tensor] = {}
    valid = torch.arange(batch.mel.shape[-1], device=batch.mel.device)[None] < batch.lengths[:, None]  # (B, T)
    if out.lyrics is not None:
        log_probs = out.lyrics.log_softmax(-1).transpose(0, 1)  # (T2, B, V)
        terms["ctc"] = F.ctc_loss(
            log_probs, batch.tokens, output_frames(batch.lengths), batch.token_lengths, blank=0, zero_infinity=True
        )
    if out.pitch is not None:
        terms["pitch"] = pitch_cross_entropy(out.pitch[valid], batch.pitch[valid], weights.pitched_class_weight)
        pos_weight = torch.tensor(weights.onset_pos_weight, device=batch.mel.device)
        terms["onset"] = F.binary_cross_entropy_with_logits(out.onset[valid], batch.onset[valid], pos_weight=pos_weight)
    total = sum(getattr(weights, name) * value for name, value in terms.items())
    return total, terms


# -- Lightning ------------------------------------------------------------------------------------------


class ClipBatches(ResumableBatches):
    """The training clips of one epoch, in batches: windows (:func:`~songalign.transcribe.data.clip_windows`) start
    at an offset that moves each epoch (``epoch · 0.618 · clip_frames``), shuffled by ``(seed, epoch)`` and cut when
    their batch is drawn. Lightning reads it as its train dataloader (an iterable of :class:`Batch`); a run killed
    mid-epoch resumes at the first batch it had not trained on, with torch's random state (dropout) as it was
    (:class:`~songalign.runs.ResumableBatches`).

    It has no ``len()``: epochs differ in their number of clips (the offset moves where songs are cut) and Lightning
    would cap every epoch at the first epoch's count; each epoch ends where its clips end instead.
    """

    def __init__(
        self,
        songs: list[SongTargets],
        clip_frames: int,
        batch_size: int,
        seed: int,
        *,
        vocals: str = "",
        separator_digest: str = "",
        min_sung_share: float = 0.0,
    ) -> None:
        super().__init__(seed)
        self.songs, self.clip_frames, self.batch_size = songs, clip_frames, batch_size
        self.vocals, self.separator_digest, self.min_sung_share = vocals, separator_digest, min_sung_share

    def epoch_windows(self) -> list[tuple[int, int, int]]:
        """``(song index, first frame, frames)`` of the current epoch's clips, in the order they are trained on."""
        offset = int(self.epoch * 0.618 * self.clip_frames)
        windows = [
            (index, start, length)
            for index, song in enumerate(self.songs)
            for start, length in clip_windows(song.frames, self.clip_frames, offset)
            if not self.min_sung_share or sung_share(song, start, length) >= self.min_sung_share
        ]
        order = np.random.default_rng([self.seed, self.epoch]).permutation(len(windows))
        return [windows[i] for i in order]

    def epoch_length(self) -> int:
        return math.ceil(len(self.epoch_windows()) / self.batch_size)

    def identity(self) -> dict[str, int | str]:
        return {
            "set of training songs": digest(f"{song.song_id}:{song.frames}" for song in self.songs),
            "clip length (data.clip_frames)": self.clip_frames,
            "batch size": self.batch_size,
            "seed": self.seed,
            "vocal channel (model.vocals)": self.vocals,
            "separator's weights (digest)": self.separator_digest or "none",
            "least sung share of a clip (data.min_sung_share)": self.min_sung_share,
        }

    def __iter__(self):
        start = self.first_batch()
        windows = self.epoch_windows()
        for first in range(start * self.batch_size, len(windows), self.batch_size):
            chosen = windows[first : first + self.batch_size]
            yield collate([cut_clip(self.songs[song], begin, length) for song, begin, length in chosen])


def validation_monitor(config: TranscriberConfig) -> str:
    """The validation score early stopping watches: greedy WER (a character model), PER (a phoneme model) or the
    framewise pitch error (a pitch-only model); lower is better."""
    if not config.hears_lyrics:
        return "val/pitch_error"
    return "val/per" if config.network.symbols == "phonemes" else "val/wer"


def validation_scores(model: Transcriber, songs: list[SongTargets]) -> dict[str, float]:
    """Greedy corpus WER (character models) or PER (phoneme models) and framewise pitch error (pitch models) on
    whole ``songs``."""
    scores: dict[str, float] = {}
    emissions = [model.emissions_from_features(song.mel, song.notes) for song in songs]
    if model.config.hears_lyrics:
        references = [s.text for s in songs]
        if model.config.network.symbols == "phonemes":
            scores["val/per"] = phoneme_error_rate(references, [greedy_phonemes(e.log_probs) for e in emissions]).corpus
        else:
            scores["val/wer"] = word_error_rate(references, [greedy_decode(e.log_probs) for e in emissions]).corpus
    if model.config.hears_pitch:
        wrong = voiced = 0
        for song, emission in zip(songs, emissions, strict=True):
            sung = song.pitch != NO_PITCH
            wrong += int((emission.pitch.argmax(-1)[sung] != song.pitch[sung]).sum())
            voiced += int(sung.sum())
        scores["val/pitch_error"] = wrong / max(voiced, 1)
    return scores


class TranscribeModule(L.LightningModule):
    def __init__(self, model: Transcriber, recipe: TranscribeRecipe, batches: ClipBatches, val: list[SongTargets]):
        super().__init__()
        self.model, self.recipe, self.batches, self.val = model, recipe, batches, val
        self.monitor = validation_monitor(model.config)
        self.best_score = math.inf
        self.best_epoch = 0
        self.best_state: dict[str, torch.Tensor] | None = None
        self.validated = 0  # epochs validated (a checkpoint written after an epoch's last batch precedes its validation)

    def train_dataloader(self) -> ClipBatches:
        return self.batches

    def transfer_batch_to_device(self, batch: Batch, device: torch.device, dataloader_idx: int) -> Batch:
        return Batch(**{name: value.to(device) for name, value in vars(batch).items()})

    def on_train_epoch_start(self) -> None:
        self.batches.epoch = self.current_epoch

    def training_step(self, batch: Batch, batch_index: int) -> torch.Tensor:
        self.batches.mark_done()  # here: a checkpoint written after this step counts it done
        loss, terms = transcription_loss(self.model, batch, self.recipe.loss)
        size = len(batch.lengths)
        self.log("train/loss", loss, on_step=True, on_epoch=True, prog_bar=True, batch_size=size)
        for name, value in terms.items():
            self.log(f"train/{name}", value, on_step=True, on_epoch=False, batch_size=size)
        return loss

    def on_train_start(self) -> None:
        # A run resumed from a checkpoint written after an epoch's last batch starts at the next epoch: that
        # epoch's weights are the model's now, so its validation (best epoch, early stopping) is done first.
        if self.validated < self.current_epoch:
            scores = self.end_epoch(self.current_epoch - 1)
            for logger in self.loggers:  # at this step: the interrupted run's log (read_metrics) keeps the steps before
                logger.log_metrics({**scores, "epoch": self.current_epoch - 1}, step=self.global_step)

    def on_train_epoch_end(self) -> None:
        for name, value in self.end_epoch(self.current_epoch).items():
            self.log(name, value, prog_bar=True)

    def end_epoch(self, epoch: int) -> dict[str, float]:
        """Validate the model as it is at the end of ``epoch``: keep it when it is the best so far, stop training
        when the validation score has not improved for ``patience`` epochs. Returns the validation scores."""
        scores = validation_scores(self.model, self.val) if self.val else {}
        score = scores.get(self.monitor, -epoch)  # no validation songs: the last epoch is the best
        if score < self.best_score:
            self.best_epoch = epoch
        if score <= self.best_score:  # a tie goes to the later, longer-trained epoch
            self.best_score = score
            self.best_state = copy.deepcopy({k: v.detach().cpu() for k, v in self.model.state_dict().items()})
        self.validated = epoch + 1
        settings = self.recipe.train
        # Early stopping, here rather than Lightning's callback: that one, once it has asked to stop before
        # min_epochs, stops at min_epochs even if the model improved in between.
        waited = epoch - self.best_epoch
        if self.val and epoch + 1 >= settings.min_epochs and waited >= settings.patience:
            self.trainer.should_stop = True
        return scores

    def on_save_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        checkpoint["best"] = {
            "score": self.best_score,
            "epoch": self.best_epoch,
            "state": self.best_state,
            "validated": self.validated,
        }

    def on_load_checkpoint(self, checkpoint: dict[str, Any]) -> None:
        best = checkpoint.get("best") or {}
        self.best_score, self.best_state = best.get("score", math.inf), best.get("state")
        self.best_epoch = best.get("epoch", 0)
        # a checkpoint written before this count was kept: no epoch is validated again (as before)
        self.validated = best.get("validated", math.inf)

    def configure_optimizers(self):
        settings = self.recipe.train
        optimizer = torch.optim.Adam(
            self.model.parameters(), lr=settings.lr, betas=settings.betas, eps=settings.eps, amsgrad=settings.amsgrad
        )
        # the paper's schedule: a linear warm-up, then constant (no decay, so no total and no floor)
        schedule = warmup_cosine(optimizer, settings.warmup_steps, total=0, floor=1.0, constant=True)
        return {"optimizer": optimizer, "lr_scheduler": schedule}


def warm_start(model: Transcriber, folder: Path) -> list[str]:
    """Copy into ``model`` every tensor of the transcriber in ``folder`` with the same name and shape; returns the
    names of ``model``'s tensors left as initialised (e.g. a lyrics head over other symbols). One sentence when
    ``folder`` is not a transcriber's or shares no tensor with ``model``."""
    from songalign.checkpoint import read_weights
    from songalign.transcribe.listen import check_transcriber

    check_transcriber(folder, where=f"init_from={folder}")
    own = model.state_dict()
    shared = {k: v for k, v in read_weights(folder).items() if k in own and own[k].shape == v.shape}
    if not shared:
        raise SongalignError(
            f"init_from={folder}: no weight of that transcriber has the name and shape of this recipe's; give a "
            "transcriber of the same network sizes (model.network) or leave init_from out"
        )
    model.load_state_dict({**own, **shared})
    return sorted(k for k in own if k not in shared)


def train(recipe: TranscribeRecipe, *, progress: bool = True, callbacks: list[L.Callback] | None = None) -> Path:
    """Train a transcriber from ``recipe`` into its run folder; returns the saved model folder (resumes a run).

    ``callbacks``: Lightning callbacks added to the trainer's (which writes ``checkpoints/last.ckpt`` every
    ``train.checkpoint_every`` steps)."""
    settings = recipe.train
    run = start_run(recipe.run_dir, recipe, settings.seed, settings.threads)
    manifest = CorpusManifest.load(recipe.data.corpus)
    cache = FeatureCache(recipe.data.cache_dir or Path(recipe.data.corpus) / ".cache" / "transcribe")
    report = SkipReport()
    config = recipe.model
    need_notes = config.mode != "baseline"
    needs = {"need_notes": need_notes, "need_words": config.hears_lyrics}
    # the channel once, before any song: a separator that cannot be had is one sentence, not every song skipped
    check_channel(config.vocals, f"model.vocals={config.vocals}", remedy="set model.vocals to spleeter, stem or mix")
    separator = separator_card(config.vocals)  # {} for mix and stem
    train_split = split_songs(manifest, recipe.data.train_split)
    train_songs = load_targets(train_split, config, cache, report, **needs)
    val_songs = load_targets(split_songs(manifest, recipe.data.val_split), config, cache, report, **needs)
    report.kept = len(train_songs) + len(val_songs)
    if report.entries:
        listing = report.write_csv(run / SKIPPED_FILE)
        if progress:
            from songalign.console import print_skip_report

            print_skip_report(report, "transcription songs", listing=listing)
    if not train_songs:
        raise SongalignError(
            f"{recipe.data.corpus}: no song of split '{recipe.data.train_split}' can train a transcriber "
            f"(see {run / SKIPPED_FILE}); prepare a corpus with timed words" + (" and notes" if need_notes else "")
        )
    model = Transcriber(config)
    fresh = warm_start(model, recipe.init_from) if recipe.init_from is not None else []
    batches = ClipBatches(
        train_songs,
        recipe.data.clip_frames,
        settings.batch_size,
        settings.seed,
        vocals=config.vocals,
        separator_digest=separator.get("digest", ""),
        min_sung_share=recipe.data.min_sung_share,
    )
    module = TranscribeModule(model, recipe, batches, val_songs)
    trainer = make_trainer(
        run,
        epochs=settings.epochs,
        precision=settings.precision,
        grad_clip=settings.grad_clip,
        checkpoint_every=settings.checkpoint_every,
        batches=batches,
        callbacks=callbacks or [],
        progress=progress,
    )
    metrics = fit_resuming(trainer, module, run)
    if module.best_state is not None:
        model.load_state_dict(module.best_state)
    card = {
        "name": recipe.name,
        "data": {
            "corpus": str(recipe.data.corpus),
            "songs": songs_by_split(manifest.segments),
            "trained_songs": lineage_songs((song.song_id for song in train_songs), recipe.init_from),
            "train_split": recipe.data.train_split,
            "train_songs": len(train_songs),
            "val_songs": len(val_songs),
            "vocals": config.vocals,
            "separator": separator,
            "corpus_info": {k: manifest.info.get(k) for k in ("source", "reader", "songs", "segments")},
        },
        "recipe": recipe.model_dump(mode="json"),
        "evaluation": {"final_metrics": metrics, f"best_{module.monitor}": module.best_score},
        "provenance": lineage_provenance(init_from=recipe.init_from),
    }
    if recipe.init_from is not None:
        card["data"]["started_afresh"] = fresh
    writes_words = config.hears_lyrics and config.network.symbols == "characters"
    if writes_words:  # the decoder's word LM, from the lyrics of the songs the weights were fitted on
        fitted = set(card["data"]["trained_songs"])
        lines = [line.text for song in train_split if song.id in fitted for line in song.lines if line.text.strip()]
        card["data"]["lm"] = {"file": LM_FILE, "order": recipe.decode.lm_order, "lines": len(lines)}
    saved = model.save_pretrained(run / "model", card)
    if writes_words:
        build_arpa(lines, saved / LM_FILE, order=recipe.decode.lm_order)
    plot_curves(run / "logs", run / "loss.png", TRANSCRIBE_CURVES, title=recipe.name)
    return saved
