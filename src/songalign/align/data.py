"""Training pairs: cached audio features of segments and cached frozen-tower text embeddings.

Seed 000 pairs each segment's audio with one text: its *lyrics* (CLAP-lyr), the *description*
of their emotion (CLAP-emo) or, for pretraining, a *caption* of the music (CLAP-pre). Audio
features (the tower's input, computed from a fixed window of the segment) and text-tower
embeddings are computed once and kept on disk, so every epoch after the first reads tensors
only.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import numpy as np
import torch
from rich.progress import track

from songalign.align.model import AlignModel
from songalign.audio.cache import FeatureCache
from songalign.audio.io import load_audio
from songalign.audio.windows import segment_window
from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.records import Segment
from songalign.errors import BadInputError, SkipReport, SongalignError

Target = Literal["caption", "lyrics", "description"]


def target_text(segment: Segment, target: Target) -> str:
    """The text a segment's audio is paired with for ``target``."""
    return {"caption": segment.caption, "lyrics": segment.text, "description": segment.description}[target]


def _key(material: dict) -> str:
    return hashlib.sha1(json.dumps(material, sort_keys=True, default=str).encode()).hexdigest()[:16]


@dataclass
class PairedSet:
    """``N`` (audio, text) pairs as tensors.

    ``features``: ``(N, *feature_shape)`` audio-tower inputs; ``text_embeddings``: ``(N, d_t)``
    text-tower outputs (frozen tower); ``texts`` and ``segments`` in the same order.
    """

    segments: list[Segment]
    texts: list[str]
    features: torch.Tensor
    text_embeddings: torch.Tensor

    def __len__(self) -> int:
        return len(self.segments)


def window_features(
    model: AlignModel, audio_path: str, start: float, end: float, cache: FeatureCache | None = None
) -> np.ndarray:
    """Audio-tower input of the ``clip_seconds`` window centred on ``[start, end]`` (seconds) of a file.

    Read from ``cache`` when given (and stored there on a miss, keyed by the tower and its options),
    computed otherwise; :class:`~songalign.errors.BadInputError` when the audio cannot be read.
    """
    tower = model.audio_tower
    rate, clip = tower.sample_rate, model.config.clip_seconds
    offset, duration = segment_window(float(start), float(end), clip)
    if cache is None:
        audio, _ = load_audio(audio_path, rate, offset=offset, duration=duration)
        return model.audio_features(audio).numpy()
    extractor = f"{tower.name}:{_key(tower.config())}"
    samples = model.clip_samples  # None: the tower pads and crops the window itself

    def extract(audio: np.ndarray) -> np.ndarray:
        return np.asarray(tower.features(audio))

    return cache.features(audio_path, rate, extractor, extract, offset, duration, samples=samples)


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


def text_embeddings(model: AlignModel, texts: list[str], cache: FeatureCache, batch_size: int = 64) -> torch.Tensor:
    """Text-tower outputs ``(N, d_t)`` for ``texts``, each computed once and then read from ``cache``."""
    tower = model.text_tower
    tower_key = f"{tower.name}:{_key(tower.config())}"
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
) -> PairedSet:
    """Pairs of one split for ``target``; segments without that text are left out (and reported)."""
    report = report if report is not None else SkipReport()
    segments = manifest.split(split)
    usable = [s for s in segments if target_text(s, target).strip()]
    if len(usable) < len(segments):
        report.skip(
            f"{split} split",
            f"{len(segments) - len(usable)} segment(s) have no {target}; run `songalign describe` for descriptions",
        )
    cache = FeatureCache(Path(cache_dir))
    kept, features = segment_features(model, usable, cache, report, progress)
    texts = [target_text(s, target) for s in kept]
    if not kept:
        raise SongalignError(f"the {split} split has no segment with a {target} and readable audio")
    return PairedSet(kept, texts, features, text_embeddings(model, texts, cache))


class EpochBatches:
    """Batches of pairs, reshuffled each epoch from ``(seed, epoch)`` — and resumable mid-epoch.

    Each batch is ``{"features": (B, *feature_shape), "text": (B, d_t), "index": (B,)}``: audio-tower
    inputs, the cached *frozen* text-tower embeddings (what MusCALL's weighting compares) and the
    rows of :class:`PairedSet` they came from.

    The training module sets :attr:`epoch` when an epoch starts and calls :meth:`mark_done`
    after each optimiser step. Lightning stores :meth:`state_dict` in its checkpoints; after
    :meth:`load_state_dict` the next iteration replays the interrupted epoch's permutation from
    the first batch not yet trained on, so a resumed run sees exactly the batches an
    uninterrupted one would (the batch prefetched before the interruption is not lost).
    """

    def __init__(self, data: PairedSet, batch_size: int, seed: int):
        self.data, self.batch_size, self.seed = data, batch_size, seed
        self.epoch, self.done = 0, 0
        self._resume_from: int | None = None

    def __len__(self) -> int:
        return -(-len(self.data) // self.batch_size)

    def mark_done(self, batches: int) -> None:
        """Record that ``batches`` batches of the current epoch have been trained on."""
        self.done = batches

    def __iter__(self) -> Iterator[dict[str, torch.Tensor]]:
        start = self._resume_from or 0
        self._resume_from = None
        if start >= len(self):  # interrupted right after an epoch's last batch: go on with the next epoch
            self.epoch, start = self.epoch + 1, 0
        self.done = start
        generator = torch.Generator().manual_seed(self.seed * 100_003 + self.epoch)
        order = torch.randperm(len(self.data), generator=generator)
        for batch_index in range(start, len(self)):
            index = order[batch_index * self.batch_size : (batch_index + 1) * self.batch_size]
            yield {"features": self.data.features[index], "text": self.data.text_embeddings[index], "index": index}

    def state_dict(self) -> dict[str, int]:
        return {"epoch": self.epoch, "done": self.done}

    def load_state_dict(self, state: dict[str, int]) -> None:
        self.epoch = int(state["epoch"])
        self._resume_from = int(state["done"])
