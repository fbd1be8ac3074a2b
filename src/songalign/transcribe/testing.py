"""Tiny transcribers for tests: networks small enough to build, run and save in a blink.

``TINY_NETWORK`` is the smallest :class:`NetworkConfig` with both CRNNs' structure;
:func:`tiny_overrides` gives it as a recipe's ``--set`` overrides; :func:`save_tiny_transcriber`
saves a randomly initialised one (seeded) as a model folder.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from songalign.transcribe.networks import NetworkConfig

TINY_NETWORK = NetworkConfig(
    pitch_channels=(4, 1),
    pitch_kernels=(3, 1),
    lyrics_channels=(4, 2),
    lyrics_kernels=(3, 3),
    pitch_hidden=8,
    lyrics_hidden=8,
    lyrics_layers=1,
)


def tiny_settings(**network) -> dict[str, Any]:
    """``{"model": {"network": sizes}}``, the change (for :func:`songalign.runs.updated`) that makes a recipe's
    networks :data:`TINY_NETWORK` (with ``network`` changes)."""
    sizes = TINY_NETWORK.model_copy(update=network).model_dump(
        include={
            "pitch_channels",
            "pitch_kernels",
            "lyrics_channels",
            "lyrics_kernels",
            "pitch_hidden",
            "lyrics_hidden",
            "lyrics_layers",
        }  # fmt: skip
    )
    return {"model": {"network": sizes}}


def tiny_overrides(**network) -> list[str]:
    """The ``--set`` form of :func:`tiny_settings`: ``model.network.*`` overrides."""
    sizes = tiny_settings(**network)["model"]["network"]
    return [f"model.network.{key}={json.dumps(value)}" for key, value in sizes.items()]


def save_tiny_transcriber(folder: str | Path, mode: str = "baseline", vocals: str = "mix", name: str = "tiny") -> Path:
    """A randomly initialised (seed 0) :data:`TINY_NETWORK` transcriber saved as a model folder in ``folder``."""
    import torch

    from songalign.transcribe.model import Transcriber, TranscriberConfig

    torch.manual_seed(0)
    model = Transcriber(TranscriberConfig(mode=mode, vocals=vocals, network=TINY_NETWORK))
    return model.save_pretrained(folder, {"name": name})
