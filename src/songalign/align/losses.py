"""Alignment losses between a batch of audio embeddings and a batch of text embeddings.

Every loss takes ``audio`` and ``text`` of shape ``(B, D)`` where row ``i`` of each is one pair
(the positive pair is ``(audio[i], text[i])``; every ``(audio[i], text[j])`` with ``i != j`` is a
negative), L2-normalises both inside, and returns a scalar tensor. Below ``a_i`` and ``t_j`` are the
normalised rows, ``cos(a_i, t_j) = a_i · t_j`` and ``C = A·Tᵀ`` is the ``(B, B)`` cosine matrix
(audio rows, text columns).

==========================  ====================================================  ==============
name                        formula                                               logit scale
==========================  ====================================================  ==============
``margin_contrastive``      seed 000: mean over B² pairs of                       no
                            ``(1−Y)·½·D² + Y·½·max(0, m − D)²``, D = 1 − cos
``symmetric_infonce``       CLIP/CLAP/MusCALL: ``½[CE(s·C, I) + CE(s·Cᵀ, I)]``    learnable
``audio_to_text_infonce``   ALCAP eq. 1 (one-sided): ``CE(s·C, I)``               learnable
``positive_cosine``         RECAP eq. 1: ``α_max − mean_i cos(a_i, t_i)``         no
``weighted_infonce``        MusCALL: per-sample weighted symmetric InfoNCE        learnable
==========================  ====================================================  ==============

``CE(L, I)`` is the cross-entropy of each row of the logits ``L`` against the diagonal (row ``i``'s
target is column ``i``), averaged over rows; ``s = exp(logit_scale)`` is the inverse temperature.
Losses with a logit scale own it as a parameter (``loss.logit_scale``, initialised to
``log(1/0.07)``, clamped to at most ``log(100)`` as in CLIP) so put ``loss.parameters()`` in the
optimiser; or pass ``scale=`` to ``forward`` to use a scale held elsewhere (e.g. by the model).

Pick one by name with :func:`get_loss` (``LOSSES`` is the registry)::

    loss = get_loss("symmetric_infonce")
    value = loss(audio_embeddings, text_embeddings)     # scalar
    loss.uses_logit_scale, loss.learnable_logit_scale   # True, True
    loss.scale()                                        # s as a 0-d tensor (None for scale-free losses)
"""

from __future__ import annotations

import math
from typing import Any, ClassVar

import torch
from torch import nn
from torch.nn import functional as F

from songalign.errors import SongalignError

CLIP_INIT_TEMPERATURE = 0.07
"""CLIP's initial temperature: the logit scale starts at ``log(1/0.07) ≈ 2.659``."""
CLIP_MAX_SCALE = 100.0
"""CLIP's cap on ``s``: the logit scale is clamped to at most ``log(100) ≈ 4.605``."""


def _normalised_pair(audio: torch.Tensor, text: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    if audio.dim() != 2 or text.dim() != 2:
        raise ValueError(f"audio and text embeddings must be (B, D); got {tuple(audio.shape)} and {tuple(text.shape)}")
    if audio.shape != text.shape:
        raise ValueError(f"audio {tuple(audio.shape)} and text {tuple(text.shape)} embeddings must have the same shape")
    if audio.shape[0] == 0:
        raise ValueError("an alignment loss needs at least one pair; the batch is empty")
    return F.normalize(audio, dim=-1), F.normalize(text, dim=-1)


class AlignmentLoss(nn.Module):
    """Base class: ``forward(audio (B, D), text (B, D)) -> scalar``.

    ``uses_logit_scale`` says whether the formula has an inverse temperature ``s``;
    ``learnable_logit_scale`` whether that ``s`` is a trained parameter of this loss.
    """

    name: ClassVar[str] = ""
    uses_logit_scale: ClassVar[bool] = False
    learnable_logit_scale: bool = False

    def scale(self) -> torch.Tensor | None:
        """The inverse temperature ``s`` this loss multiplies cosines by, or ``None`` if it has none."""
        return None

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
    """

    name = "margin_contrastive"

    def __init__(self, margin: float = 0.5, balance: bool = False):
        super().__init__()
        if not 0.0 < margin <= 2.0:
            raise ValueError(f"margin is a cosine distance in (0, 2]; got {margin}")
        self.margin = float(margin)
        self.balance = bool(balance)

    def forward(self, audio: torch.Tensor, text: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        a, t = _normalised_pair(audio, text)
        distance = 1.0 - a @ t.T  # (B, B)
        positive = torch.eye(len(a), dtype=torch.bool, device=a.device)
        per_pair = torch.where(
            positive, 0.5 * distance.pow(2), 0.5 * torch.clamp(self.margin - distance, min=0.0).pow(2)
        )
        if not self.balance:
            return per_pair.mean()
        if len(a) == 1:  # no negatives in a batch of one
            return per_pair[positive].mean()
        return 0.5 * (per_pair[positive].mean() + per_pair[~positive].mean())


class _ScaledLoss(AlignmentLoss):
    """A loss with an inverse temperature ``s = exp(logit_scale)``, learnable unless told otherwise.

    ``init_temperature`` τ₀ sets ``logit_scale = log(1/τ₀)`` (default 0.07, so ``s = 14.29``);
    ``max_scale`` caps ``s`` (default 100): the value used in ``forward`` is
    ``exp(min(logit_scale, log(max_scale)))`` and :meth:`clamp_` clamps the parameter in place
    (call it after each optimiser step, as CLIP and MusCALL do). ``learnable=False`` keeps ``s`` fixed.
    """

    uses_logit_scale = True

    def __init__(
        self,
        init_temperature: float = CLIP_INIT_TEMPERATURE,
        learnable: bool = True,
        max_scale: float = CLIP_MAX_SCALE,
    ):
        super().__init__()
        if init_temperature <= 0 or max_scale <= 0:
            raise ValueError("init_temperature and max_scale must be positive")
        self.learnable_logit_scale = bool(learnable)
        self.max_log_scale = math.log(max_scale)
        self.logit_scale = nn.Parameter(torch.tensor(math.log(1.0 / init_temperature)), requires_grad=learnable)

    def scale(self) -> torch.Tensor:
        """``s = exp(min(logit_scale, log(max_scale)))``, a 0-d tensor that carries the gradient."""
        return self.logit_scale.clamp(max=self.max_log_scale).exp()

    @torch.no_grad()
    def clamp_(self) -> None:
        """Clamp the parameter itself to ``log(max_scale)`` (after an optimiser step)."""
        self.logit_scale.clamp_(max=self.max_log_scale)

    def _logits(self, audio: torch.Tensor, text: torch.Tensor, scale: torch.Tensor | float | None) -> torch.Tensor:
        """``s · A·Tᵀ`` on normalised rows: ``(B, B)``, audio rows, text columns."""
        a, t = _normalised_pair(audio, text)
        s = self.scale() if scale is None else scale
        return s * (a @ t.T)


class SymmetricInfoNCELoss(_ScaledLoss):
    """Symmetric InfoNCE of CLIP / CLAP / MusCALL::

        L = ½ [ CE(s·A·Tᵀ, I) + CE(s·T·Aᵀ, I) ]
          = ½ [ mean_i −log softmax_j(s·cos(a_i, t_j))_i + mean_i −log softmax_j(s·cos(t_i, a_j))_i ]

    ``s = exp(logit_scale)``, learnable, initialised to ``1/0.07`` and clamped to at most 100.
    ``forward(..., scale=s)`` uses a given ``s`` instead of this loss's own parameter.
    """

    name = "symmetric_infonce"

    def forward(
        self, audio: torch.Tensor, text: torch.Tensor, *, scale: torch.Tensor | float | None = None, **kwargs: Any
    ) -> torch.Tensor:
        logits = self._logits(audio, text, scale)
        target = torch.arange(len(logits), device=logits.device)
        return 0.5 * (F.cross_entropy(logits, target) + F.cross_entropy(logits.T, target))


class AudioToTextInfoNCELoss(_ScaledLoss):
    """One-sided InfoNCE of ALCAP (eq. 1), audio → text only::

        L = −(1/B) Σ_i log [ exp(a_i·t_i / τ) / Σ_k exp(a_i·t_k / τ) ] = CE(s·A·Tᵀ, I),   s = 1/τ

    ALCAP's eq. 1 sums over ``i`` and does not say the codes are normalised; here they are
    L2-normalised (so ``a_i·t_k`` is a cosine) and the sum is averaged (``reduction="mean"``) so
    the loss does not grow with the batch size; ``reduction="sum"`` gives the paper's sum. The
    temperature is learnable as in CLIP (``learnable=False`` with ``init_temperature=τ`` fixes it).
    """

    name = "audio_to_text_infonce"

    def __init__(
        self,
        init_temperature: float = CLIP_INIT_TEMPERATURE,
        learnable: bool = True,
        max_scale: float = CLIP_MAX_SCALE,
        reduction: str = "mean",
    ):
        super().__init__(init_temperature, learnable, max_scale)
        if reduction not in ("mean", "sum"):
            raise ValueError(f"reduction must be 'mean' or 'sum'; got {reduction!r}")
        self.reduction = reduction

    def forward(
        self, audio: torch.Tensor, text: torch.Tensor, *, scale: torch.Tensor | float | None = None, **kwargs: Any
    ) -> torch.Tensor:
        logits = self._logits(audio, text, scale)
        target = torch.arange(len(logits), device=logits.device)
        return F.cross_entropy(logits, target, reduction=self.reduction)


class PositiveCosineLoss(AlignmentLoss):
    """Positive-only cosine alignment of RECAP (eq. 1)::

        L = α_max − (1/B) Σ_i cos(a_i, t_i)

    ``α_max`` (default 1) is the largest possible mean cosine, so ``L ≥ 0`` and ``L = 0`` exactly
    when every pair is aligned. Negatives play no part (RECAP's argument: non-corresponding pairs
    may well belong together).
    """

    name = "positive_cosine"

    def __init__(self, alpha_max: float = 1.0):
        super().__init__()
        self.alpha_max = float(alpha_max)

    def forward(self, audio: torch.Tensor, text: torch.Tensor, **kwargs: Any) -> torch.Tensor:
        a, t = _normalised_pair(audio, text)
        return self.alpha_max - (a * t).sum(dim=-1).mean()


class WeightedInfoNCELoss(_ScaledLoss):
    """MusCALL's content-aware weighted symmetric InfoNCE.

    Seed 001 names the weighting ("per-sample weights from text–text similarity") but its text
    stops before the definition; this follows MusCALL's reference implementation
    (``weighted_loss`` in github.com/ilaria-manco/muscall, ``muscall/models/muscall.py``), in which
    ``S`` is the cosine similarity of the captions' Sentence-BERT embeddings (all-MiniLM-L6-v2,
    normalised)::

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

    ``forward(audio, text, text_similarity=S)`` takes ``S`` ``(B, B)``. To reproduce MusCALL, pass
    the cosine similarities of the frozen sentence-model outputs (e.g. the ``sentence_transformers``
    text tower's embeddings, before any trainable projection). Without it ``S`` is computed from
    the ``text`` argument itself (detached, normalised).
    """

    name = "weighted_infonce"

    def __init__(
        self,
        init_temperature: float = CLIP_INIT_TEMPERATURE,
        learnable: bool = True,
        max_scale: float = CLIP_MAX_SCALE,
        k: float = 0.01,
    ):
        super().__init__(init_temperature, learnable, max_scale)
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
        text_similarity: torch.Tensor | None = None,
        scale: torch.Tensor | float | None = None,
        **kwargs: Any,
    ) -> torch.Tensor:
        logits = self._logits(audio, text, scale)
        if text_similarity is None:
            t = F.normalize(text.detach(), dim=-1)
            text_similarity = t @ t.T
        weight = self.weights(text_similarity).to(logits.dtype)
        target = torch.arange(len(logits), device=logits.device)
        audio_to_text = (weight * F.cross_entropy(logits, target, reduction="none")).sum()
        text_to_audio = (weight * F.cross_entropy(logits.T, target, reduction="none")).sum()
        return 0.5 * (audio_to_text + text_to_audio)


LOSSES: dict[str, type[AlignmentLoss]] = {
    cls.name: cls
    for cls in (
        MarginContrastiveLoss,
        SymmetricInfoNCELoss,
        AudioToTextInfoNCELoss,
        PositiveCosineLoss,
        WeightedInfoNCELoss,
    )
}
"""The loss registry: name → class."""


def loss_names() -> list[str]:
    """Names :func:`get_loss` accepts."""
    return sorted(LOSSES)


def get_loss(name: str, **kwargs: Any) -> AlignmentLoss:
    """The loss called ``name``, built with ``kwargs`` (e.g. ``margin=0.3``, ``init_temperature=0.1``)."""
    if name not in LOSSES:
        raise SongalignError(f"unknown loss {name!r} in the recipe; choose one of: {', '.join(loss_names())}")
    try:
        return LOSSES[name](**kwargs)
    except TypeError as error:
        raise SongalignError(f"loss {name!r} got an option it does not take ({error}); check the recipe") from error
