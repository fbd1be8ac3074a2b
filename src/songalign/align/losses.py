"""Alignment losses between a batch of audio embeddings and a batch of text embeddings.

Every loss takes ``audio`` and ``text`` of shape ``(B, D)`` where row ``i`` of each is one pair
(the positive pair is ``(audio[i], text[i])``; every ``(audio[i], text[j])`` with ``i != j`` is a
negative), L2-normalises both inside, and returns a scalar tensor. Below ``a_i`` and ``t_j`` are the
normalised rows, ``cos(a_i, t_j) = a_i · t_j`` and ``C = A·Tᵀ`` is the ``(B, B)`` cosine matrix
(audio rows, text columns).

==========================  ====================================================  ==============
name                        formula                                               needs
==========================  ====================================================  ==============
``margin_contrastive``      seed 000: mean over B² pairs of                       —
                            ``(1−Y)·½·D² + Y·½·max(0, m − D)²``, D = 1 − cos
``symmetric_infonce``       CLIP/CLAP/MusCALL: ``½[CE(s·C, I) + CE(s·Cᵀ, I)]``    ``scale``
``audio_to_text_infonce``   ALCAP eq. 1 (one-sided): ``CE(s·C, I)``               ``scale``
``positive_cosine``         RECAP eq. 1: ``α_max − mean_i cos(a_i, t_i)``         —
``weighted_infonce``        MusCALL: per-sample weighted symmetric InfoNCE        ``scale``,
                                                                                  ``text_similarity``
==========================  ====================================================  ==============

``CE(L, I)`` is the cross-entropy of each row of the logits ``L`` against the diagonal (row ``i``'s
target is column ``i``), averaged over rows; ``s`` is the inverse temperature (the logit scale).

The losses hold no logit scale: the model that is trained owns it, as a :class:`LogitScale`
(``AlignModel.logit_scale``, whose ``.scale`` is ``s``; a captioner's ``alignment_scale``), and
passes ``scale=s`` to every loss that has ``uses_logit_scale``. Both set it up from the same
settings, :class:`LogitScaleSettings` (``init_temperature``, ``learnable``, ``max_scale``: an
alignment recipe's ``model.logit_scale``, a captioner's ``model.alignment.logit_scale``). So there
is one module, one clamp and one vocabulary for its initial value. MusCALL's weighting takes
``text_similarity=`` — the cosine similarities of the *frozen* sentence embeddings
(:func:`sentence_similarity`), not of the trainable projected text.

Pick one by name with :func:`get_loss` (``LOSSES`` is the registry)::

    loss = get_loss("symmetric_infonce")
    value = loss(audio_embeddings, text_embeddings, scale=model.scale)     # scalar
    loss.uses_logit_scale, loss.uses_text_similarity                       # True, False

Several processes (DDP): negatives gathered across ranks
--------------------------------------------------------

When ``torch.distributed`` is initialised with a world of ``W > 1`` processes, each process holds
``B_k`` rows of a global batch of ``B = Σ_k B_k`` rows (rank ``k``'s rows are rows
``o_k … o_k + B_k − 1`` of the global batch, ``o_k = Σ_{j<k} B_j``), and every loss gives —
averaged over the ranks, as DDP averages gradients — the value and the gradients of one process
holding the whole batch. As in open_clip's ``ClipLoss``
(``gather_with_grad``, ``local_loss``), all in one place, :func:`share_batch`:

- the rows of every rank are gathered, **with gradients** (:func:`gather_rows`: an all-gather
  whose backward all-reduces the gradient of the gathered ``(B, D)`` rows and hands each rank the
  slice of its own rows, so a negative on rank ``j`` gets the gradients every rank computed for it;
  our own small autograd function rather than ``torch.distributed.nn.functional.all_gather``,
  which torch 2.13 deprecates and which needs equal shapes on every rank, while an epoch's last
  batch may split unevenly);
- each rank computes only *its* rows of the ``(B, B)`` matrices, against every column:
  ``s·A_k·Tᵀ`` and ``s·T_k·Aᵀ`` ``(B_k, B)``, and row ``i`` of rank ``k``'s block has its positive
  at column ``o_k + i`` (the offset labels);
- a global mean ``(1/n) Σ_all x`` becomes, on rank ``k``, ``(W/n) Σ_{rank k's terms} x``
  (:meth:`BatchShare.share_of_mean`). DDP averages the parameters' gradients over the ranks, i.e.
  it differentiates ``(1/W) Σ_k L_k``, and ``(1/W) Σ_k (W/n) Σ_{terms of k} x = (1/n) Σ_all x``:
  exactly one process's loss. (With equal shards ``W/n = 1/B_k`` for a mean over rows: the local
  mean of the local rows of the global logits, as in open_clip.)

Per loss, with ``n`` the count of the single-process mean (``B`` rows or ``B²`` pairs):

==========================  =================================================================
``symmetric_infonce``       ``L_k = ½ (W/B) Σ_{i∈k} [CE_i(s·A_k·Tᵀ) + CE_i(s·T_k·Aᵀ)]``, target ``o_k + i``
``audio_to_text_infonce``   ``L_k = (W/B) Σ_{i∈k} CE_i(s·A_k·Tᵀ)`` (``reduction="sum"``: ``W Σ_{i∈k}``)
``margin_contrastive``      ``L_k = (W/B²) Σ_{i∈k, all j} L_ij`` (rank ``k`` holds rows ``i`` of the
                            ``B × B`` pairs, so each pair counts once); ``balance=True``:
                            ``½ W [Σ_{i∈k} L_ii / B + Σ_{i∈k, j≠i} L_ij / (B² − B)]``
``positive_cosine``         ``L_k = α_max − (W/B) Σ_{i∈k} cos(a_i, t_i)``: no embeddings gathered,
                            only the row counts (so ``B`` is the global batch's)
``weighted_infonce``        the weights ``w`` come from the *global* ``(B, B)`` similarity of the
                            frozen tower outputs (every rank passes ``text_similarity`` of the
                            gathered tower outputs, :func:`gathered_similarity`); ``L_k = ½ W
                            Σ_{i∈k} w_i [CE_i(s·A_k·Tᵀ) + CE_i(s·T_k·Aᵀ)]`` with ``Σ_all w = 1``
==========================  =================================================================

The mean over ranks of the ``L_k`` (what Lightning logs with ``sync_dist``) is the single-process
loss; a test with two gloo processes checks values and gradients (embeddings and logit scale) of
every registered loss against one process. Code that calls a loss on rows that are *not* split
over the ranks (validation on the whole set, on every rank) wraps the call in
:func:`unsharded`, and the losses then do not gather. A loss registered from outside gathers
when it builds its terms with :func:`share_batch`; one that does not sees its rank's rows only.
"""

from __future__ import annotations

import contextlib
import contextvars
import math
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar

import torch
import torch.distributed as dist
from pydantic import BaseModel, ConfigDict, Field
from torch import nn
from torch.nn import functional as F

from songalign.errors import SongalignError
from songalign.registry import Registry

CLIP_INIT_TEMPERATURE = 0.07
"""CLIP's initial temperature: the logit scale starts at ``log(1/0.07) ≈ 2.659``."""
CLIP_MAX_SCALE = 100.0
"""CLIP's cap on ``s``: the logit scale is clamped to at most ``log(100) ≈ 4.605``."""


class LogitScaleSettings(BaseModel):
    """How a model's logit scale starts and moves: the one vocabulary of alignment and captioning recipes.

    ``init_temperature`` τ₀ (> 0): ``s`` starts at ``1/τ₀`` (CLIP: 0.07, so 14.29); ``learnable``:
    whether training moves it (ALCAP's code keeps τ = 0.3 fixed); ``max_scale``: the cap on ``s``
    (CLIP: 100).
    """

    model_config = ConfigDict(extra="forbid")

    init_temperature: float = Field(CLIP_INIT_TEMPERATURE, gt=0, description="τ₀: s starts at 1/τ₀")
    learnable: bool = Field(True, description="false keeps s = 1/τ₀ fixed")
    max_scale: float = Field(CLIP_MAX_SCALE, gt=0, description="the cap on s (CLIP: 100)")


SCALE_OPTIONS = tuple(LogitScaleSettings.model_fields)
"""The fields of :class:`LogitScaleSettings`; they belong to the model holding the scale, not to a loss."""


def reject_scale_options(options: Mapping[str, Any], settings_at: str) -> None:
    """Fail (``ValueError``, for a pydantic validator) when a loss's ``options`` hold logit-scale settings.

    ``settings_at`` is where a recipe sets them instead (``"model.logit_scale"``), named in the message.
    """
    moved = sorted(set(options) & set(SCALE_OPTIONS))
    if moved:
        raise ValueError(
            f"{', '.join(moved)}: not a loss option (the model holds the logit scale); set "
            f"{', '.join(f'{settings_at}.{name}' for name in moved)} instead"
        )


def clamped_scale(logit_scale: torch.Tensor, max_scale: float = CLIP_MAX_SCALE) -> torch.Tensor:
    """``s = exp(min(logit_scale, log(max_scale)))``: the one clamp of the logit scale (CLIP caps ``s`` at 100).

    ``logit_scale`` is a 0-d tensor (a parameter, so ``s`` carries its gradient below the cap and
    none above it, which keeps the optimiser from pushing it further).
    """
    return logit_scale.clamp(max=math.log(max_scale)).exp()


class LogitScale(nn.Module):
    """A learnable (or fixed) inverse temperature for a model that holds one: ``forward() -> s`` (0-d).

    ``init_temperature`` τ₀ sets ``logit_scale = log(1/τ₀)`` (default 0.07, so ``s = 14.29``);
    ``max_scale`` caps ``s`` (default 100, see :func:`clamped_scale`); ``learnable=False`` keeps
    ``s = 1/τ₀`` fixed (ALCAP's code: τ = 0.3). :meth:`from_settings` builds one from a recipe's
    :class:`LogitScaleSettings`.
    """

    def __init__(
        self,
        init_temperature: float = CLIP_INIT_TEMPERATURE,
        learnable: bool = True,
        max_scale: float = CLIP_MAX_SCALE,
    ):
        super().__init__()
        if init_temperature <= 0 or max_scale <= 0:
            raise ValueError("init_temperature and max_scale must be positive")
        self.max_scale = float(max_scale)
        self.logit_scale = nn.Parameter(torch.tensor(-math.log(init_temperature)), requires_grad=learnable)

    @classmethod
    def from_settings(cls, settings: LogitScaleSettings) -> LogitScale:
        return cls(settings.init_temperature, settings.learnable, settings.max_scale)

    def forward(self) -> torch.Tensor:
        return clamped_scale(self.logit_scale, self.max_scale)


def sentence_similarity(tower_embeddings: torch.Tensor) -> torch.Tensor:
    """Cosine similarities ``(B, B)`` of frozen text-tower outputs ``(B, d_t)``, detached (no gradient).

    What MusCALL weights its loss by: the captions' sentence embeddings, normalised, before any
    trainable projection.
    """
    if tower_embeddings.dim() != 2:
        raise ValueError(f"text-tower embeddings must be (B, d_t); got {tuple(tower_embeddings.shape)}")
    unit = F.normalize(tower_embeddings.detach().float(), dim=-1)
    return unit @ unit.T


def _normalised_pair(audio: torch.Tensor, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if audio.dim() != 2 or text.dim() != 2:
        raise ValueError(f"audio and text embeddings must be (B, D); got {tuple(audio.shape)} and {tuple(text.shape)}")
    if audio.shape != text.shape:
        raise ValueError(f"audio {tuple(audio.shape)} and text {tuple(text.shape)} embeddings must have the same shape")
    if audio.shape[0] == 0:
        raise ValueError("an alignment loss needs at least one pair (on every process); the batch is empty")
    return F.normalize(audio, dim=-1), F.normalize(text, dim=-1)


# -- several processes: the one place where a batch is split over ranks --------------------------------

_UNSHARDED: contextvars.ContextVar[bool] = contextvars.ContextVar("songalign_unsharded", default=False)


@contextlib.contextmanager
def unsharded() -> Iterator[None]:
    """Inside this block the losses take their rows as the whole batch, even under DDP (no gathering).

    For rows that every rank holds in full (validation on the whole validation set, on every rank),
    where gathering would count each row ``W`` times.
    """
    token = _UNSHARDED.set(True)
    try:
        yield
    finally:
        _UNSHARDED.reset(token)


def rank_and_world() -> tuple[int, int]:
    """``(rank, W)`` of the processes a batch is split over: ``(0, 1)`` without an initialised
    ``torch.distributed``, with a world of one, or inside :func:`unsharded`."""
    if _UNSHARDED.get() or not (dist.is_available() and dist.is_initialized()):
        return 0, 1
    world = dist.get_world_size()
    return (dist.get_rank(), world) if world > 1 else (0, 1)


def row_counts(rows: int, device: torch.device | str = "cpu") -> list[int]:
    """How many rows each rank holds, in rank order (``[rows]`` in one process); a collective under DDP."""
    _, world = rank_and_world()
    if world == 1:
        return [rows]
    mine = torch.tensor([rows], dtype=torch.long, device=device)
    counts = [torch.zeros_like(mine) for _ in range(world)]
    dist.all_gather(counts, mine)
    return [int(count) for count in counts]


class _GatherRows(torch.autograd.Function):
    """All ranks' rows in rank order, ``(Σ counts, ...)``; the backward sums every rank's gradient of
    the gathered rows (an all-reduce) and gives each rank the slice of its own rows."""

    @staticmethod
    def forward(ctx: Any, rows: torch.Tensor, counts: tuple[int, ...]) -> torch.Tensor:
        rank = dist.get_rank()
        padded = rows.new_zeros((max(counts), *rows.shape[1:]))  # all_gather needs equal shapes
        padded[: len(rows)] = rows
        pieces = [torch.empty_like(padded) for _ in counts]
        dist.all_gather(pieces, padded)
        ctx.own = (sum(counts[:rank]), sum(counts[: rank + 1]))
        return torch.cat([piece[:count] for piece, count in zip(pieces, counts, strict=True)])

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> tuple[torch.Tensor, None]:
        summed = grad.contiguous().clone()
        dist.all_reduce(summed, op=dist.ReduceOp.SUM)
        start, stop = ctx.own
        return summed[start:stop], None


def gather_rows(rows: torch.Tensor, counts: list[int] | None = None) -> torch.Tensor:
    """Every rank's ``rows`` ``(B_k, ...)`` stacked in rank order, ``(B, ...)``, carrying gradients back to
    each rank's own rows; ``rows`` itself in one process (or inside :func:`unsharded`).

    ``counts``: the ranks' row counts when already known (:func:`row_counts`), saving a collective.
    Ranks may hold different counts (an epoch's last, smaller batch).
    """
    _, world = rank_and_world()
    if world == 1:
        return rows
    counts = counts or row_counts(len(rows), rows.device)
    return _GatherRows.apply(rows.contiguous(), tuple(counts))


def gathered_similarity(tower_embeddings: torch.Tensor) -> torch.Tensor:
    """:func:`sentence_similarity` of the whole batch's frozen text-tower outputs: ``(B, B)`` from this
    rank's ``(B_k, d_t)`` (gathered under DDP; the same as :func:`sentence_similarity` in one process).
    What :class:`WeightedInfoNCELoss` takes as ``text_similarity``."""
    return sentence_similarity(gather_rows(tower_embeddings.detach()))


class BatchShare:
    """This rank's rows of a batch and the whole batch's, L2-normalised: the terms every loss is built from.

    ``audio``, ``text``: this rank's rows ``(B_k, D)``; ``all_audio``, ``all_text``: the whole batch's
    ``(B, D)``, gathered with gradients on first use (:func:`gather_rows`); ``offset`` ``o_k``: the
    index of this rank's first row in the whole batch; ``total`` ``B``; ``world`` ``W``. In one
    process ``all_audio is audio``, ``offset == 0`` and ``total == B_k``. Every rank must use the
    same properties in the same order (each is a collective under DDP), which the same loss code does.
    """

    def __init__(self, audio: torch.Tensor, text: torch.Tensor):
        self.audio, self.text = _normalised_pair(audio, text)
        self.rank, self.world = rank_and_world()
        self.counts = row_counts(len(self.audio), self.audio.device)
        self.offset = sum(self.counts[: self.rank])
        self.total = sum(self.counts)
        self._gathered: dict[str, torch.Tensor] = {}

    def _all(self, side: str) -> torch.Tensor:
        if side not in self._gathered:
            self._gathered[side] = gather_rows(getattr(self, side), self.counts)
        return self._gathered[side]

    @property
    def all_audio(self) -> torch.Tensor:
        return self._all("audio")

    @property
    def all_text(self) -> torch.Tensor:
        return self._all("text")

    def positives(self) -> torch.Tensor:
        """``(B_k,)``: the column of each local row's positive in a ``(B_k, B)`` block, ``o_k + i``."""
        return torch.arange(self.offset, self.offset + len(self.audio), device=self.audio.device)

    def positive_mask(self) -> torch.Tensor:
        """``(B_k, B)`` bool, true at ``(i, o_k + i)``: the positive pairs of this rank's rows."""
        mask = torch.zeros(len(self.audio), self.total, dtype=torch.bool, device=self.audio.device)
        mask[torch.arange(len(self.audio), device=mask.device), self.positives()] = True
        return mask

    def share_of_mean(self, local_sum: torch.Tensor, count: int) -> torch.Tensor:
        """This rank's part of the global mean ``(1/count) Σ_all x``, given ``Σ_{this rank's terms} x``:
        ``(W/count) · local_sum``, so that the mean over ranks (DDP's gradient averaging) is the global mean."""
        return local_sum * (self.world / count)


def share_batch(audio: torch.Tensor, text: torch.Tensor) -> BatchShare:
    """The :class:`BatchShare` of ``audio`` and ``text`` ``(B_k, D)``: this rank's rows (all of them in one process)."""
    return BatchShare(audio, text)


class AlignmentLoss(nn.Module):
    """Base class: ``forward(audio (B, D), text (B, D), **needs) -> scalar``.

    ``uses_logit_scale``: the formula has an inverse temperature ``s``, which the caller passes as
    ``scale=`` (the loss holds none). ``uses_text_similarity``: it also takes
    ``text_similarity=`` ``(B, B)``, the frozen text-tower similarities (:func:`sentence_similarity`;
    under DDP the whole batch's, :func:`gathered_similarity`).
    A caller may pass either to any loss; a loss that does not use one ignores it.
    Under DDP ``audio`` and ``text`` are this rank's rows and the loss is this rank's share
    (see the module docstring); the losses here build their terms with :func:`share_batch`.
    """

    name: ClassVar[str] = ""
    uses_logit_scale: ClassVar[bool] = False
    uses_text_similarity: ClassVar[bool] = False

    def __init__(self) -> None:
        # an explicit signature (nn.Module's takes **kwargs), so a recipe's stray option is named, not swallowed
        super().__init__()

    def forward(self, audio: torch.Tensor, text: torch.Tensor, **kwargs: Any) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


class MarginContrastiveLoss(AlignmentLoss):
    """The margin contrastive loss of seed 000 (Hadsell et al. 2006 form), over all B² pairs of a batch.

    For every pair ``(i, j)``::

        D_ij = 1 − cos(a_i, t_j)                       cosine DISTANCE, in [0, 2]
        Y_ij = 0 if i == j (positive) else 1 (negative)
        L_ij = (1 − Y_ij)·½·D_ij² + Y_ij·½·max(0, m − D_ij)²

    and the loss is ``mean_ij L_ij`` over all ``B²`` pairs (``B`` positives, ``B² − B`` negatives).
    With ``balance=True`` it is instead ``½·(mean over positives + mean over negatives)``, so the
    ``B² − B`` negatives do not outweigh the ``B`` positives as the batch grows.

    The paper writes that D "is calculated as cosine similarity"; with a similarity the formula
    would pull positives towards similarity 0 and push negatives above the margin, the opposite of
    what is intended, so D here is the cosine distance ``1 − cos``, for which the formula makes sense
    (positives pulled to distance 0, negatives pushed beyond distance ``m``).

    ``margin`` ``m`` (default 0.5, in cosine-distance units): the paper gives no value; 0.5 means
    negatives stop contributing once their cosine similarity drops below 0.5.

    Under DDP each rank holds the rows ``i`` of its audio against every text ``j`` (``(B_k, B)``
    pairs), so each of the ``B²`` pairs is counted once, on one rank.
    """

    name = "margin_contrastive"

    def __init__(self, margin: float = 0.5, balance: bool = False):
        super().__init__()
        if not 0.0 < margin <= 2.0:
            raise ValueError(f"margin is a cosine distance in (0, 2]; got {margin}")
        self.margin = float(margin)
        self.balance = bool(balance)

    def forward(self, audio: torch.Tensor, text: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        share = share_batch(audio, text)
        distance = 1.0 - share.audio @ share.all_text.T  # (B_k, B)
        positive = share.positive_mask()
        per_pair = torch.where(
            positive, 0.5 * distance.pow(2), 0.5 * torch.clamp(self.margin - distance, min=0.0).pow(2)
        )
        batch = share.total
        if not self.balance:
            return share.share_of_mean(per_pair.sum(), batch * batch)
        positives = share.share_of_mean(per_pair[positive].sum(), batch)
        if batch == 1:  # no negatives in a batch of one
            return positives
        return 0.5 * (positives + share.share_of_mean(per_pair[~positive].sum(), batch * batch - batch))


class _ScaledLoss(AlignmentLoss):
    """A loss over the logits ``s · A·Tᵀ``; ``s`` comes from the caller (``scale=model.scale``), already clamped."""

    uses_logit_scale = True


def _cross_entropies(share: BatchShare, scale: torch.Tensor | float, both: bool) -> tuple[torch.Tensor, ...]:
    """Per-row cross-entropies ``(B_k,)`` of this rank's rows against the whole batch, targets ``o_k + i``:
    ``CE_i(s·A_k·Tᵀ)`` (audio → text) and, when ``both``, ``CE_i(s·T_k·Aᵀ)`` (text → audio)."""
    target = share.positives()
    audio_to_text = F.cross_entropy(scale * (share.audio @ share.all_text.T), target, reduction="none")
    if not both:
        return (audio_to_text,)
    text_to_audio = F.cross_entropy(scale * (share.text @ share.all_audio.T), target, reduction="none")
    return audio_to_text, text_to_audio


class SymmetricInfoNCELoss(_ScaledLoss):
    """Symmetric InfoNCE of CLIP / CLAP / MusCALL::

        L = ½ [ CE(s·A·Tᵀ, I) + CE(s·T·Aᵀ, I) ]
          = ½ [ mean_i −log softmax_j(s·cos(a_i, t_j))_i + mean_i −log softmax_j(s·cos(t_i, a_j))_i ]

    ``forward(audio, text, scale=s)``; ``s`` is the model's logit scale (CLIP: learnable,
    initialised to ``1/0.07``, clamped to at most 100).
    """

    name = "symmetric_infonce"

    def forward(
        self, audio: torch.Tensor, text: torch.Tensor, *, scale: torch.Tensor | float, **kwargs: Any
    ) -> torch.Tensor:
        share = share_batch(audio, text)
        audio_to_text, text_to_audio = _cross_entropies(share, scale, both=True)
        return 0.5 * share.share_of_mean(audio_to_text.sum() + text_to_audio.sum(), share.total)


class AudioToTextInfoNCELoss(_ScaledLoss):
    """One-sided InfoNCE of ALCAP (eq. 1), audio → text only::

        L = −(1/B) Σ_i log [ exp(a_i·t_i / τ) / Σ_k exp(a_i·t_k / τ) ] = CE(s·A·Tᵀ, I),   s = 1/τ

    ALCAP's eq. 1 sums over ``i`` and does not say the codes are normalised; here they are
    L2-normalised (so ``a_i·t_k`` is a cosine) and the sum is averaged (``reduction="mean"``) so
    the loss does not grow with the batch size; ``reduction="sum"`` gives the paper's sum.
    ``forward(audio, text, scale=s)``: ALCAP's code fixes τ = 0.3, i.e. a model holding
    ``LogitScale(init_temperature=0.3, learnable=False)``.
    """

    name = "audio_to_text_infonce"

    def __init__(self, reduction: str = "mean"):
        super().__init__()
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum'; got {reduction!r}")
        self.reduction = reduction

    def forward(
        self, audio: torch.Tensor, text: torch.Tensor, *, scale: torch.Tensor | float, **kwargs: Any
    ) -> torch.Tensor:
        share = share_batch(audio, text)
        (audio_to_text,) = _cross_entropies(share, scale, both=False)
        # a sum over all rows is a "mean" with count 1: each rank's part is W times its own sum
        return share.share_of_mean(audio_to_text.sum(), share.total if self.reduction == "mean" else 1)


class PositiveCosineLoss(AlignmentLoss):
    """Positive-only cosine alignment of RECAP (eq. 1)::

        L = α_max − (1/B) Σ_i cos(a_i, t_i)

    ``α_max`` (default 1) is the largest possible mean cosine, so ``L ≥ 0`` and ``L = 0`` exactly
    when every pair is aligned. Negatives play no part (RECAP's argument: non-corresponding pairs
    may well belong together), so under DDP nothing is gathered but the row counts (``B`` is the
    whole batch's).
    """

    name = "positive_cosine"

    def __init__(self, alpha_max: float = 1.0):
        super().__init__()
        self.alpha_max = float(alpha_max)

    def forward(self, audio: torch.Tensor, text: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        share = share_batch(audio, text)
        return self.alpha_max - share.share_of_mean((share.audio * share.text).sum(), share.total)


class WeightedInfoNCELoss(_ScaledLoss):
    """MusCALL's content-aware weighted symmetric InfoNCE.

    Seed 001 names the weighting ("per-sample weights from text–text similarity") but its text
    stops before the definition; this follows MusCALL's reference implementation
    (``weighted_loss`` in github.com/ilaria-manco/muscall, ``muscall/models/muscall.py``), in which
    ``S`` is the cosine similarity of the captions' Sentence-BERT embeddings (all-MiniLM-L6-v2,
    normalised) — the frozen sentence model's outputs, not the trained projection::

        S̄_i = (1/B) Σ_{j≠i} S_ij              mean similarity of caption i to the others
                                               (the zeroed diagonal still counts in the 1/B)
        n_i = S̄_i / Σ_k S̄_k                    normalised over the batch
        w_i = exp(n_i / k)                       k = 0.01
        L_dir = Σ_i w_i · CE_i / Σ_i w_i         CE_i: cross-entropy of row i of the logits
        L = ½ [ L_text→audio + L_audio→text ]    the same w_i in both directions

    A caption that resembles many others in the batch gets a larger weight. The weights carry no
    gradient. ``w_i / Σ w`` is computed as ``softmax(n / k)`` — the same value, without the overflow
    of ``exp(n_i / k)`` for small ``k``. If ``Σ_k S̄_k`` is zero (e.g. ``B = 1``) the weights are
    uniform, i.e. plain :class:`SymmetricInfoNCELoss`.

    ``forward(audio, text, scale=s, text_similarity=S)`` with ``S`` ``(B, B)``: training passes
    :func:`gathered_similarity` of the batch's cached text-tower embeddings (under DDP ``S`` is the
    whole batch's, and each rank weights its rows by their ``w_i``). ``S`` is required: a
    similarity silently taken from the projected ``text`` would weight by what is being trained.
    """

    name = "weighted_infonce"
    uses_text_similarity = True

    def __init__(self, k: float = 0.01):
        super().__init__()
        if k <= 0:
            raise ValueError(f"k must be positive; got {k}")
        self.k = float(k)

    def weights(self, text_similarity: torch.Tensor) -> torch.Tensor:
        """Normalised per-sample weights ``w_i / Σ_k w_k``, shape ``(B,)``, summing to 1."""
        similarity = text_similarity.detach().float()
        batch = similarity.shape[0]
        if similarity.shape != (batch, batch):
            raise ValueError(f"text_similarity must be (B, B); got {tuple(similarity.shape)}")
        off_diagonal = similarity * (1.0 - torch.eye(batch, device=similarity.device))
        mean_similarity = off_diagonal.mean(dim=-1)  # divides by B, as MusCALL does
        total = mean_similarity.sum()
        if batch == 1 or total.abs() < 1e-12:
            return torch.full((batch,), 1.0 / batch, device=similarity.device)
        return torch.softmax(mean_similarity / total / self.k, dim=0)

    def forward(
        self,
        audio: torch.Tensor,
        text: torch.Tensor,
        *,
        scale: torch.Tensor | float,
        text_similarity: torch.Tensor,
        **kwargs: Any,
    ) -> torch.Tensor:
        share = share_batch(audio, text)
        if text_similarity.shape != (share.total, share.total):
            where = " (the whole batch's under DDP: gathered_similarity)" if share.world > 1 else ""
            raise ValueError(
                f"text_similarity {tuple(text_similarity.shape)} must be (B, B) for a batch of {share.total}{where}"
            )
        weight = self.weights(text_similarity)[share.offset : share.offset + len(share.audio)]
        audio_to_text, text_to_audio = _cross_entropies(share, scale, both=True)
        weight = weight.to(audio_to_text.dtype)
        # Σ over all rows of w_i·CE_i is a "mean" with count 1 (the weights already sum to 1)
        return 0.5 * share.share_of_mean((weight * audio_to_text).sum() + (weight * text_to_audio).sum(), 1)


def loss_with_scale(
    name: str, options: Mapping[str, Any], scale: LogitScaleSettings | None = None, *, scale_at: str = "logit_scale"
) -> tuple[AlignmentLoss, LogitScale | None]:
    """The loss ``name`` built with its ``options`` and, if it uses one, a :class:`LogitScale` from ``scale``.

    ``scale`` None gives a loss with a logit scale CLIP's defaults. A loss without a logit scale
    given ``scale`` is an error in one sentence naming the recipe field ``scale_at``.
    """
    loss = get_loss(name, **options)
    if not loss.uses_logit_scale:
        if scale is not None:
            raise SongalignError(
                f"loss {name!r} has no logit scale, so {scale_at} means nothing; remove it from the recipe"
            )
        return loss, None
    return loss, LogitScale.from_settings(scale or LogitScaleSettings())


LOSSES: Registry[type[AlignmentLoss]] = Registry("losses", what="loss")
"""The loss registry: name → class; other packages add losses through the ``songalign.losses`` entry points."""
for _loss in (
    MarginContrastiveLoss,
    SymmetricInfoNCELoss,
    AudioToTextInfoNCELoss,
    PositiveCosineLoss,
    WeightedInfoNCELoss,
):
    LOSSES.register(_loss.name, _loss)


def get_loss(name: str, **kwargs: Any) -> AlignmentLoss:
    """The loss called ``name``, built with ``kwargs`` (e.g. ``margin=0.3``, ``k=0.01``)."""
    return LOSSES.build(name, **kwargs)
