"""The tower contracts and the two registries (:data:`AUDIO_TOWERS`, :data:`TEXT_TOWERS`).

An **audio tower** turns a batch of *features* into embeddings, so that features can be computed
once and cached on disk::

    feats = tower.features(waveform)          # np.ndarray (samples,) at tower.sample_rate Hz → tensor
    emb = tower(torch.stack([feats, ...]))    # (B, embedding_dim)
    seq = tower.forward_sequence(batch)       # (B, T, sequence_dim): frame-level sequence (captioner)

``tower.feature_kind`` says what the features are: ``"log_mel"`` (the one log-mel of
:mod:`songalign.audio.features`, parameters in ``tower.log_mel_config``) or ``"clap"`` (the
Hugging Face ``ClapFeatureExtractor`` of the checkpoint). ``features`` is deterministic: the same
waveform always gives the same tensor.

A **text tower** embeds strings: ``tower.encode(texts) -> (B, embedding_dim)``. It is frozen by
default (``trainable = False``: eval mode, no gradients); text longer than ``tower.max_tokens`` is
split into overlapping token windows whose embeddings are averaged — never silently truncated.

Every tower has ``name``, ``embedding_dim`` and ``config()``, a JSON-serialisable dict such that
``build_*_tower(**tower.config())`` rebuilds it (weights aside). Towers come back from the
builders in eval mode, as Hugging Face models do; call ``.train()`` to fine-tune one.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from songalign.errors import SongalignError
from songalign.registry import Registry
from songalign.towers.chunking import pool_chunks


def module_device(module: nn.Module) -> torch.device:
    """The device of a module's first parameter (CPU for a module without parameters)."""
    for parameter in module.parameters():
        return parameter.device
    return torch.device("cpu")


class AudioTower(nn.Module):
    """Base class of audio towers; see the module docstring for the contract."""

    name: str = ""
    embedding_dim: int
    sequence_dim: int
    sample_rate: int
    feature_kind: str
    fits_length_itself: bool = False
    """True for a tower whose ``features`` pads and crops audio of any length itself (CLAP's extractor),
    so callers must not zero-pad or cut clips to ``clip_seconds`` first; False: callers fit them."""

    def features(self, waveform: np.ndarray | torch.Tensor) -> torch.Tensor:
        """Tower input for mono audio at ``sample_rate`` Hz: ``(samples,)`` → one item, ``(B, samples)`` → batch."""
        raise NotImplementedError

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, ...)`` features → ``(B, embedding_dim)`` embeddings (not normalised)."""
        raise NotImplementedError

    def forward_sequence(self, features: torch.Tensor) -> torch.Tensor:
        """``(B, ...)`` features → ``(B, T, sequence_dim)`` frame-level outputs, in time order."""
        raise NotImplementedError

    def config(self) -> dict[str, Any]:
        """Options that rebuild this tower with ``build_audio_tower(**config)``."""
        raise NotImplementedError

    device = property(module_device)


class FrozenByDefault(nn.Module):
    """A tower that is frozen unless told otherwise (text towers, the pretrained ``musicnn``).

    ``trainable`` (settable) switches gradients and train/eval mode together: a frozen tower stays
    in eval mode even inside a model put in train mode. Set it after the tower's parameters exist.
    """

    _trainable: bool = False

    @property
    def trainable(self) -> bool:
        return self._trainable

    @trainable.setter
    def trainable(self, value: bool) -> None:
        self._trainable = bool(value)
        for parameter in self.parameters():
            parameter.requires_grad_(self._trainable)
        if not self._trainable:
            super().train(False)

    def train(self, mode: bool = True) -> FrozenByDefault:
        return super().train(mode and self._trainable)


class TextTower(FrozenByDefault):
    """Base class of text towers: ``encode(texts) -> (B, embedding_dim)``.

    Frozen by default (:class:`FrozenByDefault`: eval mode, no gradients); a frozen tower encodes
    under ``torch.no_grad``.
    """

    name: str = ""
    embedding_dim: int
    max_tokens: int
    normalized: bool = False

    def chunks(self, text: str) -> list[str]:
        """Pieces of ``text`` that each fit the tower's token limit."""
        raise NotImplementedError

    def _embed(self, pieces: list[str]) -> torch.Tensor:
        """Embeddings ``(len(pieces), embedding_dim)`` of pieces that fit the token limit."""
        raise NotImplementedError

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """Embeddings ``(len(texts), embedding_dim)`` float32 on the tower's device.

        Texts longer than the token limit are chunked and their chunk embeddings mean-pooled
        (renormalised when the tower normalises), never silently truncated.
        """
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return torch.zeros(0, self.embedding_dim, device=self.device)
        pieces, owners = [], []
        for index, text in enumerate(texts):
            for piece in self.chunks(text):
                pieces.append(piece)
                owners.append(index)
        with torch.set_grad_enabled(self.trainable and torch.is_grad_enabled()):
            embeddings = self._embed(pieces)
        if len(pieces) == len(texts):
            return embeddings
        return pool_chunks(embeddings, owners, len(texts), renormalize=self.normalized)

    def config(self) -> dict[str, Any]:
        """Options that rebuild this tower with ``build_text_tower(**config)``."""
        raise NotImplementedError

    device = property(module_device)


# -- registries ----------------------------------------------------------------------------------------
# Entries are "module:Class" strings so that importing songalign.towers does not import
# transformers / sentence-transformers; a factory callable can be registered too
# (AUDIO_TOWERS.register("mine", MyTower)), and other packages add towers through the
# songalign.audio_towers / songalign.text_towers entry points. AUDIO_TOWERS.names() lists them.

Factory = Callable[..., nn.Module]

AUDIO_TOWERS: Registry[Factory] = Registry("audio_towers", what="audio tower")
TEXT_TOWERS: Registry[Factory] = Registry("text_towers", what="text tower")

AUDIO_TOWERS.register("cnn", "songalign.towers.cnn:CnnAudioTower")
AUDIO_TOWERS.register("ast", "songalign.towers.patch_transformer:AstAudioTower")
AUDIO_TOWERS.register("hf_clap_audio", "songalign.towers.hf_clap:HfClapAudioTower")
AUDIO_TOWERS.register("musicnn", "songalign.towers.musicnn.tower:MusicnnAudioTower")
TEXT_TOWERS.register("sentence_transformers", "songalign.towers.sentence:SentenceTransformerTower")
TEXT_TOWERS.register("hf_clap_text", "songalign.towers.hf_clap:HfClapTextTower")
TEXT_TOWERS.register("musicnn_tag_prompts", "songalign.towers.tag_prompts:MusicnnTagPromptTower")

DEFAULT_AUDIO_TOWER = "cnn"
DEFAULT_TEXT_TOWER = "sentence_transformers"


def build_audio_tower(name: str = DEFAULT_AUDIO_TOWER, **options: Any) -> AudioTower:
    """The audio tower registered as ``name``, built with ``options``, in eval mode."""
    return AUDIO_TOWERS.build(name, **options).eval()


def build_text_tower(name: str = DEFAULT_TEXT_TOWER, **options: Any) -> TextTower:
    """The text tower registered as ``name``, built with ``options``, in eval mode (frozen by default)."""
    return TEXT_TOWERS.build(name, **options).eval()


def resolve_overlap(overlap: int | None, budget: int) -> int:
    """Tokens shared by consecutive windows of a long text: ``budget // 8`` by default, and less than ``budget``."""
    if overlap is None:
        return budget // 8
    if not 0 <= overlap < budget:
        raise SongalignError(
            f"overlap must be at least 0 and below the {budget} tokens a window holds; got {overlap} (lower it)"
        )
    return int(overlap)


def as_waveform_batch(waveform: np.ndarray | torch.Tensor) -> tuple[torch.Tensor, bool]:
    """``(samples,)`` or ``(B, samples)`` float audio → ``((B, samples) float32 tensor, was_single)``."""
    signal = torch.as_tensor(np.asarray(waveform) if not isinstance(waveform, torch.Tensor) else waveform)
    signal = signal.to(torch.float32)
    if signal.dim() not in (1, 2):
        raise ValueError(f"a waveform must be mono, (samples,) or (batch, samples); got shape {tuple(signal.shape)}")
    if signal.shape[-1] == 0:
        raise ValueError("the waveform is empty (0 samples)")
    single = signal.dim() == 1
    return (signal.unsqueeze(0) if single else signal), single
