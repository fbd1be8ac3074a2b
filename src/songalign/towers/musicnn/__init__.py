"""musicnn (Pons & Serra, 2019) in PyTorch: the MagnaTagATune and Million Song Dataset taggers.

The weights are the ones the ``musicnn`` wheel ships (``MTT_musicnn``, ``MSD_musicnn``,
``MTT_vgg``, ``MSD_vgg``: TensorFlow 1 checkpoints), read without TensorFlow and cached as
safetensors in the user's cache. Install the wheel without its dependencies::

    pip install --no-deps musicnn==0.1.0

- :mod:`~songalign.towers.musicnn.network`: the input (log-mel patches of 16 kHz audio, exactly as
  musicnn computes them) and the two networks, :class:`MusicnnNet` and :class:`VggNet`.
- :mod:`~songalign.towers.musicnn.port`: reading the wheel's checkpoints, mapping their variables onto
  the networks, the safetensors cache and its digest; :func:`load_network`.
- :mod:`~songalign.towers.musicnn.tagger`: :class:`MusicnnTagger` and its :class:`Taggram`; the named
  factories (open-unmix style) ``msd_musicnn()``, ``mtt_musicnn()``, ``msd_vgg()``, ``mtt_vgg()``
  (or ``musicnn_tagger(name)``).
- :mod:`~songalign.towers.musicnn.tower`: :class:`MusicnnAudioTower`, registered as the ``musicnn``
  audio tower.

The public names of the four modules are importable from here.
"""

from __future__ import annotations

from songalign.towers.musicnn.network import (
    DEFAULT_MODEL,
    FRAME_SECONDS,
    MODELS,
    MSD_LABELS,
    MTT_LABELS,
    N_MELS,
    PATCH_FRAMES,
    SAMPLE_RATE,
    MusicnnNet,
    VggNet,
    build_network,
    cut_patches,
    hop_frames,
    musicnn_log_mel,
    patch_starts,
    patch_times,
)
from songalign.towers.musicnn.port import (
    INSTALL,
    cache_root,
    checkpoint_digest,
    checkpoint_folder,
    load_network,
    load_tf_weights,
    musicnn_available,
)
from songalign.towers.musicnn.tagger import (
    MusicnnTagger,
    Taggram,
    msd_musicnn,
    msd_vgg,
    mtt_musicnn,
    mtt_vgg,
    musicnn_tagger,
    taggram_of,
)
from songalign.towers.musicnn.tower import CLIP_MEMO, OUTPUTS, ClipMemo, MusicnnAudioTower

__all__ = [
    "CLIP_MEMO",
    "DEFAULT_MODEL",
    "FRAME_SECONDS",
    "INSTALL",
    "MODELS",
    "MSD_LABELS",
    "MTT_LABELS",
    "N_MELS",
    "OUTPUTS",
    "PATCH_FRAMES",
    "SAMPLE_RATE",
    "ClipMemo",
    "MusicnnAudioTower",
    "MusicnnNet",
    "MusicnnTagger",
    "Taggram",
    "VggNet",
    "build_network",
    "cache_root",
    "checkpoint_digest",
    "checkpoint_folder",
    "cut_patches",
    "hop_frames",
    "load_network",
    "load_tf_weights",
    "msd_musicnn",
    "msd_vgg",
    "mtt_musicnn",
    "mtt_vgg",
    "musicnn_available",
    "musicnn_log_mel",
    "musicnn_tagger",
    "taggram_of",
    "patch_starts",
    "patch_times",
]
