"""The frozen music encoder of the captioner and its precomputed, cached sequence features.

As in ALCAP and BART-fusion, the music encoder is a pretrained tagger, frozen, and its outputs are
computed once: for each song, an excerpt of ``excerpt_seconds`` (15 s at the tower's rate, 16 kHz
for musicnn; the middle of the song, so the same song always gives the same features) goes
through the tower's ``forward_sequence``, giving ``h^m ∈ R^{l_m × d_m}``.

The default tower is the ported **musicnn** MSD tagger (:mod:`songalign.towers.musicnn`, weights
from the ``musicnn`` wheel: ``pip install --no-deps musicnn==0.1.0``): its mid-end features per
16 ms frame (``d_m = 753``), averaged over ``sequence_stride = 8`` frames, so steps of 128 ms and
``l_m = ⌊935 / 8⌋ = 116`` for 15 s (five back-to-back 3 s patches hold 935 of its 938 frames).
That is the time resolution of the papers' encoder, Won et al.'s CNN + self-attention tagger, whose
front end divides the 16 ms frames of 15 s by 8 before its two Transformer layers (≈ 117 steps of
256 dimensions).

The tower is either the audio tower of a trained alignment model folder (``align_model``: e.g. a
CLAP-pre/-emo model from ``songalign train``) or a tower from the registry (``tower``), built with
``seed`` — which only matters for a tower whose options do not load weights (``cnn`` is randomly
initialised: measured in docs/caption.md, the captioners' loss does not depend on its features). Features are cached under
a key made of the audio file's content, the excerpt, the tower's options and a digest of its
weights, so a different encoder (another tower, another musicnn model or stride, another
checkpoint) never reads another's features.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import torch
from pydantic import BaseModel, Field
from rich.progress import track

from songalign.align.model import TowerSpec
from songalign.audio.cache import FeatureCache
from songalign.audio.io import probe_audio
from songalign.audio.windows import fit_length, segment_window
from songalign.caption.data import CaptionItem
from songalign.checkpoint import WEIGHTS_FILE, module_digest
from songalign.errors import BadInputError, SkipReport, SongalignError
from songalign.towers import AudioTower, build_audio_tower

DEFAULT_TOWER = TowerSpec(name="musicnn", options={"model": "MSD_musicnn", "sequence_stride": 8})
"""The captioner's default music encoder: musicnn's MSD tagger, frozen, its mid-end features every 128 ms
(``(116, 753)`` for a 15 s excerpt)."""


class MusicEncoderConfig(BaseModel):
    """Which frozen tower makes the music sequence, and from which excerpt."""

    align_model: Path | None = Field(
        None,
        description="a trained alignment model folder: its audio tower is used, and the captioner's splits follow "
        "that model's corpus by song (songalign.caption.data)",
    )
    tower: TowerSpec = Field(
        default_factory=lambda: DEFAULT_TOWER.model_copy(deep=True),
        description="a registry tower (used without align_model); default the pretrained musicnn MSD tagger",
    )
    seed: int = Field(0, description="initialises a registry tower that loads no weights (ignored with align_model)")
    excerpt_seconds: float = Field(15.0, gt=0, description="seconds of audio per song (ALCAP: 15 s)")


def music_cache_dir(corpus: str | Path) -> Path:
    """Where the music features of a prepared corpus's songs are cached by default."""
    return Path(corpus) / ".cache" / "music"


def build_music_encoder(config: MusicEncoderConfig) -> AudioTower:
    """The frozen tower (eval mode, no gradients) that ``config`` names.

    Built once per process for each configuration (and each version of an ``align_model``'s
    weights file) and then shared: being frozen, one tower serves every caller.
    """
    stamp = None
    if config.align_model is not None:
        weights = Path(config.align_model) / WEIGHTS_FILE
        stamp = weights.stat().st_mtime_ns if weights.is_file() else None
    return _frozen_tower(config.model_dump_json(), stamp)


@lru_cache(maxsize=4)
def _frozen_tower(config_json: str, weights_stamp: int | None) -> AudioTower:
    config = MusicEncoderConfig.model_validate_json(config_json)
    if config.align_model is not None:
        from songalign.align.model import AlignModel

        tower = AlignModel.from_pretrained(config.align_model).audio_tower
    else:
        with torch.random.fork_rng(devices=[]):
            torch.manual_seed(config.seed)
            tower = build_audio_tower(config.tower.name, **config.tower.options)
    tower.eval()
    for parameter in tower.parameters():
        parameter.requires_grad_(False)
    return tower


def encoder_key(config: MusicEncoderConfig, tower: AudioTower) -> str:
    """The cache key part that names the encoder: tower options, excerpt and weights."""
    material = {"tower": tower.name, "options": tower.config(), "excerpt": config.excerpt_seconds}
    return f"caption-music:{json.dumps(material, sort_keys=True, default=str)}:{module_digest(tower)}"


@torch.no_grad()
def sequence_of(tower: AudioTower, audio: np.ndarray) -> np.ndarray:
    """``forward_sequence`` of one clip (mono at the tower's rate): ``(l_m, d_m)`` float32."""
    features = torch.as_tensor(tower.features(audio)).unsqueeze(0).to(tower.device)
    return tower.forward_sequence(features)[0].cpu().numpy().astype(np.float32)


def excerpt_samples(config: MusicEncoderConfig, tower: AudioTower) -> int | None:
    """Samples an excerpt is zero-padded or cut to before the tower: ``excerpt_seconds`` at its rate, or
    None for a tower that pads and crops clips itself (``fits_length_itself``, CLAP's)."""
    return None if tower.fits_length_itself else int(round(config.excerpt_seconds * tower.sample_rate))


def excerpt_window(duration: float | None, path: str, seconds: float) -> tuple[float, float]:
    """``(offset, duration)`` in seconds of the excerpt of a song: its middle ``seconds``, or all of a shorter song."""
    if duration is None:
        duration = probe_audio(path).duration
    return segment_window(0.0, float(duration), seconds)


def music_features(
    items: Sequence[CaptionItem],
    config: MusicEncoderConfig,
    cache_dir: str | Path,
    report: SkipReport | None = None,
    tower: AudioTower | None = None,
    progress: bool = True,
) -> dict[str, np.ndarray]:
    """Sequence features ``(l_m, d_m)`` of each song of ``items``, keyed by song id.

    Each is computed once and then read from ``cache_dir``. Songs without audio, or whose
    audio cannot be read, are left out and added to ``report``; the songs kept are added to
    ``report.kept``.
    """
    report = report if report is not None else SkipReport()
    tower = tower or build_music_encoder(config)
    cache = FeatureCache(Path(cache_dir))
    key = encoder_key(config, tower)
    rate, samples = tower.sample_rate, excerpt_samples(config, tower)
    songs: dict[str, CaptionItem] = {}
    for item in items:
        songs.setdefault(item.song_id, item)
    result: dict[str, np.ndarray] = {}
    for song_id, item in track(list(songs.items()), description="Music features", disable=not progress, transient=True):
        if not item.audio_path:
            report.skip(song_id, "the song has no audio; it is left out of the music-aware models", item=song_id)
            continue
        try:
            offset, duration = excerpt_window(item.duration, item.audio_path, config.excerpt_seconds)
            result[song_id] = cache.features(
                item.audio_path, rate, key, lambda audio: sequence_of(tower, audio), offset, duration, samples=samples
            )
        except BadInputError as error:
            report.add_error(error, item=song_id)
    report.kept += len(result)  # songs, as the skipped entries are
    return result


def audio_file_features(path: str | Path, config: MusicEncoderConfig, tower: AudioTower | None = None) -> np.ndarray:
    """Sequence features ``(l_m, d_m)`` of the excerpt of one audio file (not cached)."""
    from songalign.audio.io import load_audio

    tower = tower or build_music_encoder(config)
    try:
        offset, duration = excerpt_window(None, str(path), config.excerpt_seconds)
        audio, _ = load_audio(path, tower.sample_rate, offset=offset, duration=duration)
    except (OSError, RuntimeError) as error:
        raise SongalignError(f"{path}: cannot read the audio ({error}); give a readable audio file") from error
    samples = excerpt_samples(config, tower)
    return sequence_of(tower, audio if samples is None else fit_length(audio, samples))


def describe(config: MusicEncoderConfig) -> dict[str, Any]:
    """A JSON-ready description of the encoder for model cards."""
    if config.align_model is not None:
        return {"align_model": str(config.align_model), "excerpt_seconds": config.excerpt_seconds}
    return {"tower": config.tower.model_dump(), "seed": config.seed, "excerpt_seconds": config.excerpt_seconds}
