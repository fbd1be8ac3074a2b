"""Training pairs: cached audio features of segments and cached frozen-tower text embeddings.

Seed 000 pairs each segment's audio with one text: its *lyrics* (CLAP-lyr), the *description*
of their emotion (CLAP-emo) or, for pretraining, a *caption* of the music (CLAP-pre). Audio
features (the tower's input, computed from a fixed window of the segment) and text-tower
embeddings are computed once and kept on disk, so every epoch after the first reads tensors
only.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from rich.progress import track

from songalign.align.model import AlignModel, EmbeddingRuntime, feature_key
from songalign.audio.cache import FeatureCache
from songalign.audio.io import load_audio
from songalign.audio.windows import fit_length, segment_window
from songalign.checkpoint import module_digest
from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.records import Segment
from songalign.errors import BadInputError, SkipReport, SongalignError
from songalign.runs import ResumableBatches

Target = Literal["caption", "lyrics", "description"]


def target_text(segment: Segment, target: Target) -> str:
    """The text a segment's audio is paired with for ``target``."""
    return {"caption": segment.caption, "lyrics": segment.text, "description": segment.description}[target]


@dataclass
class PairedSet:
    """``N`` (audio, text) pairs as tensors.

    ``features``: ``(N, *feature_shape)`` audio-tower inputs or, when ``tower_outputs``, the frozen
    audio tower's outputs ``(N, d_a)`` (computed once: :func:`segment_audio`); ``text_embeddings``:
    ``(N, d_t)`` text-tower outputs (frozen tower); ``texts`` and ``segments`` in the same order.
    """

    segments: list[Segment]
    texts: list[str]
    features: torch.Tensor
    text_embeddings: torch.Tensor
    tower_outputs: bool = False

    def __len__(self) -> int:
        return len(self.segments)


def window_clip(model: EmbeddingRuntime, audio_path: str, start: float, end: float) -> np.ndarray:
    """The mono clip ``(samples,)`` at the model's rate of the ``clip_seconds`` window centred on
    ``[start, end]`` (seconds) of a file, decoded by seeking and fitted to ``clip_seconds`` as
    :meth:`AlignModel.audio_features` fits it (not for a tower that fits lengths itself);
    :class:`~songalign.errors.BadInputError` when the audio cannot be read. ``model``: an
    :class:`AlignModel` or its ONNX runtime (:class:`~songalign.align.model.EmbeddingRuntime`)."""
    offset, duration = segment_window(float(start), float(end), model.clip_seconds)
    audio, _ = load_audio(audio_path, model.sample_rate, offset=offset, duration=duration)
    samples = model.clip_samples
    return audio if samples is None else fit_length(audio, samples)


def window_features(
    model: EmbeddingRuntime, audio_path: str, start: float, end: float, cache: FeatureCache | None = None
) -> np.ndarray:
    """Audio-tower input of the ``clip_seconds`` window centred on ``[start, end]`` (seconds) of a file.

    Read from ``cache`` when given (and stored there on a miss, keyed by :attr:`~EmbeddingRuntime.feature_key`:
    the tower and its options, which the torch model and its ONNX export share, as they compute the same
    features), computed otherwise; :class:`~songalign.errors.BadInputError` when the audio cannot be read.
    """
    if cache is None:
        return np.asarray(model.tower_features(window_clip(model, audio_path, start, end)))
    offset, duration = segment_window(float(start), float(end), model.clip_seconds)
    samples = model.clip_samples  # None: the tower pads and crops the window itself

    def extract(audio: np.ndarray) -> np.ndarray:
        return np.asarray(model.tower_features(audio))

    return cache.features(audio_path, model.sample_rate, model.feature_key, extract, offset, duration, samples=samples)


LYRICS_ONLY_NOTE = "a lyrics-only segment (its song has no audio file): alignment needs audio, so it is left out here"
"""What :func:`segment_features` notes for a segment without ``audio_path``: such segments are expected
(corpus preparation keeps them for describers and the lyrics-only captioner), not errors."""


def segment_features(
    model: AlignModel, segments: list[Segment], cache: FeatureCache, report: SkipReport, progress: bool = True
) -> tuple[list[Segment], torch.Tensor]:
    """Audio-tower inputs ``(N, *feature_shape)`` of the kept segments' windows, from ``cache`` where present.

    Lyrics-only segments (no ``audio_path``) are left out and noted (:data:`LYRICS_ONLY_NOTE`);
    segments whose audio cannot be read are skipped. Returns the kept segments and their inputs.
    """
    kept, rows = [], []
    for segment in track(segments, description="Audio features", disable=not progress, transient=True):
        if not segment.audio_path:
            report.note(segment.song_id, LYRICS_ONLY_NOTE, item=segment.id)
            continue
        try:
            rows.append(window_features(model, segment.audio_path, segment.start, segment.end, cache))
        except BadInputError as error:
            report.add_error(error, item=segment.id)
            continue
        kept.append(segment)
    if not rows:
        return kept, torch.zeros(0)
    return kept, torch.from_numpy(np.stack(rows))


def frozen_tower_key(model: AlignModel) -> str | None:
    """The cache name of the audio tower's outputs when the model's policy freezes the tower: its
    name, options and a digest of its weights (so a retrained or other tower never reads them);
    None when the tower trains (its outputs change with every step)."""
    if not model.config.freeze.audio_tower:
        return None
    tower = model.audio_tower
    return f"{feature_key(tower)}:{module_digest(tower)}"


@torch.no_grad()
def frozen_tower_outputs(
    model: AlignModel,
    segments: list[Segment],
    cache: FeatureCache,
    report: SkipReport,
    progress: bool = True,
    batch_size: int = 32,
    tower_key: str | None = None,
) -> tuple[list[Segment], torch.Tensor]:
    """The frozen audio tower's outputs ``(N, d_a)`` for the kept segments' windows, each computed once.

    A frozen pretrained tower (musicnn, CLAP's HTSAT) costs far more than the heads trained on it,
    and its outputs never change: they are cached beside the features, keyed by
    :func:`frozen_tower_key` and the window, and read back on every later epoch, run or evaluation.
    Segments are kept and skipped as :func:`segment_features` does. ``tower_key``: the
    :func:`frozen_tower_key` when the caller has it already (it hashes every weight of the tower).
    """
    tower_key = tower_key or frozen_tower_key(model)
    if tower_key is None:
        raise SongalignError("the audio tower trains, so its outputs cannot be computed once; use segment_features")
    tower, name = model.audio_tower, f"tower:{tower_key}|n={model.clip_samples}"
    model.eval()
    kept: list[Segment] = []
    rows: list[np.ndarray | None] = []
    pending: list[tuple[int, str, np.ndarray]] = []

    def flush() -> None:
        if not pending:
            return
        batch = torch.from_numpy(np.stack([features for _, _, features in pending])).to(model.device)
        for (position, key, _), row in zip(pending, tower(batch).float().cpu().numpy(), strict=True):
            cache.put(key, row)
            rows[position] = row
        pending.clear()

    for segment in track(segments, description="Audio tower", disable=not progress, transient=True):
        if not segment.audio_path:
            report.note(segment.song_id, LYRICS_ONLY_NOTE, item=segment.id)
            continue
        try:
            offset, duration = segment_window(float(segment.start), float(segment.end), model.config.clip_seconds)
            key = cache.key(segment.audio_path, name, offset, duration)
            cached = cache.get(key)
            if cached is None:
                # the inputs are not kept: the outputs are what is read back (a 10 s log-mel is 30× their size)
                features = window_features(model, segment.audio_path, segment.start, segment.end, None)
                pending.append((len(rows), key, features))
        except BadInputError as error:
            report.add_error(error, item=segment.id)
            continue
        kept.append(segment)
        rows.append(cached)
        if len(pending) >= batch_size:
            flush()
    flush()
    if not rows:
        return kept, torch.zeros(0, tower.embedding_dim)
    return kept, torch.from_numpy(np.stack(rows).astype(np.float32))


def segment_audio(
    model: AlignModel, segments: list[Segment], cache: FeatureCache, report: SkipReport, progress: bool = True
) -> tuple[list[Segment], torch.Tensor, bool]:
    """What training and evaluation feed the audio side: ``(kept, tensor, tower_outputs)``.

    The frozen tower's outputs (:func:`frozen_tower_outputs`, ``tower_outputs`` True) when the model
    freezes its audio tower, the tower's inputs (:func:`segment_features`) otherwise; project them
    with :meth:`AlignModel.project_audio_inputs`.
    """
    tower_key = frozen_tower_key(model)
    if tower_key is not None:
        return (*frozen_tower_outputs(model, segments, cache, report, progress, tower_key=tower_key), True)
    return (*segment_features(model, segments, cache, report, progress), False)


def text_embeddings(model: AlignModel, texts: list[str], cache: FeatureCache, batch_size: int = 64) -> torch.Tensor:
    """Text-tower outputs ``(N, d_t)`` for ``texts``, each computed once and then read from ``cache``."""
    tower = model.text_tower
    tower_key = feature_key(tower)
    keys = [hashlib.sha1(f"{tower_key}|{text}".encode()).hexdigest() for text in texts]
    found = {key: cache.get(key) for key in set(keys)}
    missing = sorted({t for t, k in zip(texts, keys, strict=True) if found[k] is None})
    with torch.no_grad():
        for i in range(0, len(missing), batch_size):
            chunk = missing[i : i + batch_size]
            for text, row in zip(chunk, tower.encode(chunk).cpu().numpy(), strict=True):
                key = hashlib.sha1(f"{tower_key}|{text}".encode()).hexdigest()
                cache.put(key, row)
                found[key] = row
    if not texts:
        return torch.zeros(0, tower.embedding_dim)
    return torch.from_numpy(np.stack([found[k] for k in keys]).astype(np.float32))


def build_pairs(
    model: AlignModel,
    manifest: CorpusManifest,
    split: str,
    target: Target,
    cache_dir: str | Path,
    report: SkipReport | None = None,
    progress: bool = True,
    precompute_tower: bool = True,
) -> PairedSet:
    """Pairs of one split for ``target``; segments without that text are left out (and reported).

    ``precompute_tower``: hold a frozen audio tower's outputs instead of its inputs (:func:`segment_audio`);
    False keeps the inputs, for training that changes them (augmentation).
    """
    report = report if report is not None else SkipReport()
    segments = manifest.split(split)
    usable = [s for s in segments if target_text(s, target).strip()]
    if len(usable) < len(segments):
        why = {
            "lyrics": "audio-only segments (songs without lyrics) cannot be paired with lyrics",
            "description": "run `songalign describe` for descriptions (audio-only segments get none)",
            "caption": "give the corpus music captions",
        }[target]
        report.skip(f"{split} split", f"{len(segments) - len(usable)} segment(s) have no {target}; {why}")
    cache = FeatureCache(Path(cache_dir))
    if precompute_tower:
        kept, audio, tower_outputs = segment_audio(model, usable, cache, report, progress)
    else:
        (kept, audio), tower_outputs = segment_features(model, usable, cache, report, progress), False
    texts = [target_text(s, target) for s in kept]
    if not kept:
        raise SongalignError(f"the {split} split has no segment with a {target} and readable audio")
    return PairedSet(kept, texts, audio, text_embeddings(model, texts, cache), tower_outputs)


class EpochBatches(ResumableBatches):
    """Batches of pairs, reshuffled each epoch from ``(seed, epoch)`` — resumable mid-epoch, and rank-aware.

    Each batch is ``{"features": (b, *feature_shape), "text": (b, d_t), "index": (b,), "offset": int,
    "rows": int}``: audio-tower inputs, the cached *frozen* text-tower embeddings (what MusCALL's
    weighting compares), the rows of :class:`PairedSet` they came from, and where they sit in the
    step's global batch (``offset``, this process's first row in it; ``rows``, its size).

    ``batch_size`` is the **global** batch: the rows of one optimiser step over all processes, so a
    recipe trains the same on one device or many. With ``world_size`` ``W`` processes each
    epoch's permutation is the same on every rank (it depends on ``(seed, epoch)`` only); step
    ``b``'s global batch is rows ``b·B … (b+1)·B − 1`` of it, exactly the single-process batch, and
    rank ``r`` takes the ``r``-th of ``W`` contiguous, equal parts (the epoch's last, smaller batch
    is split as evenly as it goes; when it has fewer rows than processes it is left out, since
    every rank needs a row — those pairs are trained in other epochs, which are shuffled anew).
    ``batch_size`` must be a multiple of ``W``. ``len()`` counts steps, the same on every rank.

    The training module sets :attr:`epoch` when an epoch starts, its rank with :meth:`shard`, and
    calls :meth:`mark_done` after each optimiser step; resuming mid-epoch is
    :class:`~songalign.runs.ResumableBatches`'s (a resumed run sees exactly the batches an
    uninterrupted one would; a checkpoint of other pairs, batch size or seed is refused). The state
    counts global steps, so a run may resume on another number of processes.
    """

    def __init__(self, data: PairedSet, batch_size: int, seed: int, rank: int = 0, world_size: int = 1):
        super().__init__(seed)
        self.data, self.batch_size = data, batch_size
        self.shard(rank, world_size)

    def shard(self, rank: int, world_size: int) -> None:
        """Take rank ``rank``'s part of every batch among ``world_size`` processes (``0, 1``: all of it).

        :class:`~songalign.errors.SongalignError` when the global batch does not split evenly or
        there are fewer pairs than processes.
        """
        if not 0 <= rank < world_size:
            raise ValueError(f"rank {rank} is not one of {world_size} processes")
        self.require_even_split(self.batch_size, world_size)
        if world_size > 1 and len(self.data) < world_size:
            raise SongalignError(
                f"{len(self.data)} training pair(s) cannot be shared among {world_size} processes; use fewer devices"
            )
        self.rank, self.world_size = rank, world_size

    @staticmethod
    def require_even_split(batch_size: int, world_size: int) -> None:
        """:class:`~songalign.errors.SongalignError` unless the global ``batch_size`` splits evenly over ``world_size``."""
        if world_size < 1:
            raise SongalignError(f"training needs at least one process (devices × nodes); got {world_size}")
        if batch_size % world_size:
            nearest = world_size * max(1, round(batch_size / world_size))
            raise SongalignError(
                f"train.batch_size {batch_size} is the global batch and must be a multiple of the {world_size} "
                f"processes (devices × nodes); set train.batch_size to {nearest} (--set train.batch_size={nearest})"
            )

    def __len__(self) -> int:
        full, tail = divmod(len(self.data), self.batch_size)
        return full + (tail >= self.world_size)  # a tail too small to give every rank a row is left out

    def epoch_length(self) -> int:
        return len(self)

    def identity(self) -> dict[str, int | str]:
        return {"number of training pairs": len(self.data), "batch size": self.batch_size, "seed": self.seed}

    def global_batch(self, order: torch.Tensor, batch_index: int) -> torch.Tensor:
        """Rows of :class:`PairedSet` in step ``batch_index``'s global batch, given the epoch's permutation."""
        return order[batch_index * self.batch_size : (batch_index + 1) * self.batch_size]

    def epoch_order(self) -> torch.Tensor:
        """The current epoch's permutation of the pairs, from ``(seed, epoch)`` alone (the same on every rank)."""
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        return torch.randperm(len(self.data), generator=generator)

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        start = self.first_batch()
        order = self.epoch_order()
        for batch_index in range(start, len(self)):
            rows = self.global_batch(order, batch_index)
            parts = torch.tensor_split(rows, self.world_size)
            index = parts[self.rank]
            offset = sum(len(part) for part in parts[: self.rank])
            yield {
                "features": self.data.features[index],
                "text": self.data.text_embeddings[index],
                "index": index,
                "offset": offset,
                "rows": len(rows),
            }
