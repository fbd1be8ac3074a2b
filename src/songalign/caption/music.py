"""The frozen music encoder of the captioner and its precomputed, cached sequence features.

As in ALCAP and BART-fusion, the music encoder is frozen and its outputs are computed once: for
each song, an excerpt of ``excerpt_seconds`` (15 s at the tower's rate, 16 kHz for ``cnn``;
the middle of the song, so the same song always gives the same features) goes through the
tower's ``forward_sequence``, giving ``h^m ∈ R^{l_m × d_m}`` — for the default ``cnn`` tower
``l_m = ⌈frames/16⌉`` steps of 0.32 s (47 for 15 s) and ``d_m = 256``.

The tower is either the audio tower of a trained alignment model folder (``align_model``: e.g. a
CLAP-pre/-emo model from ``songalign train``; a trained tower carries far more than a random one)
or a tower from the registry (``tower``), built with ``seed`` — randomly initialised unless its
options load weights (``hf_clap_audio`` with a checkpoint). Features are cached under a key made
of the audio file's content, the excerpt, the tower's options and a digest of its weights, so a
different encoder never reads another's features.
"""

from __future__ import annotations

import hashlib
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
from songalign.checkpoint import WEIGHTS_FILE
from songalign.errors import BadInputError, SkipReport, SongalignError
from songalign.towers import AudioTower, build_audio_tower


class MusicEncoderConfig(BaseModel):
    """Which frozen tower makes the music sequence, and from which excerpt."""

    align_model: Path | None = Field(
        None,
        description="a trained alignment model folder: its audio tower is used, and the captioner's splits follow "
        "that model's corpus by song (songalign.caption.data)",
    )
    tower: TowerSpec = Field(default_factory=lambda: TowerSpec(name="cnn"))
    seed: int = Field(0, description="initialises a registry tower (ignored with align_model)")
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


def weights_digest(module: torch.nn.Module) -> str:
    """sha1 (16 hex digits) of a module's parameters and buffers, in state-dict order."""
    digest = hashlib.sha1()
    for name, tensor in module.state_dict().items():
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    return digest.hexdigest()[:16]


def encoder_key(config: MusicEncoderConfig, tower: AudioTower) -> str:
    """The cache key part that names the encoder: tower options, excerpt and weights."""
    material = {"tower": tower.name, "options": tower.config(), "excerpt": config.excerpt_seconds}
    return f"caption-music:{json.dumps(material, sort_keys=True, default=str)}:{weights_digest(tower)}"


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
