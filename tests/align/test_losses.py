"""Alignment losses against hand-computed values on tiny batches.

Two fixtures, written un-normalised on purpose (the losses normalise inside):

PAIR2 (B = 2, D = 2): a1 = (1, 0), a2 = (0, 2) → (0, 1); t1 = (2, 0) → (1, 0), t2 = (3, 4) → (0.6, 0.8)
    C = A·Tᵀ = [[1.0, 0.6],
                [0.0, 0.8]]           (audio rows, text columns)

PAIR3 (B = 3, D = 2): a1 = (1, 0), a2 = (0, 1), a3 = (3, 4) → (0.6, 0.8);
                      t1 = (1, 0), t2 = (0, 1), t3 = (4, 3) → (0.8, 0.6)
    C = [[1.0, 0.0, 0.8 ],
         [0.0, 1.0, 0.6 ],
         [0.6, 0.8, 0.96]]            (a3·t3 = 0.6·0.8 + 0.8·0.6 = 0.96)

PAIR3W (B = 3, D = 2), for the weighted loss: every sample's two cross-entropies sum differently, so
weights swapped between samples change the loss (in PAIR3 samples 1 and 2 have equal sums):
                      a1 = (1, 0), a2 = (0, 1), a3 = (4, 3) → (0.8, 0.6);
                      t1 = (1, 0), t2 = (0, 1), t3 = (5, 12) → (5/13, 12/13) = (0.3846154, 0.9230769)
    C = [[1.0, 0.0, 0.3846154],
         [0.0, 1.0, 0.9230769],
         [0.8, 0.6, 0.8615385]]       (a3·t3 = (0.8·5 + 0.6·12)/13 = 11.2/13)

TOWER3 (B = 3, d_t = 3): frozen text-tower outputs for the texts, unlike the projected ones:
    g1 = (1, 0, 0), g2 = (3, 4, 0) → (0.6, 0.8, 0), g3 = (0, 4, 3) → (0, 0.8, 0.6)
    S = Ĝ·Ĝᵀ = [[1,   0.6,  0   ],
                [0.6, 1,    0.64],
                [0,   0.64, 1   ]]

The losses hold no logit scale: the tests pass ``scale=`` (1 unless said), as training passes
``model.scale``.
"""

from __future__ import annotations

import math

import pytest
import torch

from songalign.align.losses import (
    LOSSES,
    SCALE_OPTIONS,
    AlignmentLoss,
    LogitScale,
    LogitScaleSettings,
    MarginContrastiveLoss,
    WeightedInfoNCELoss,
    clamped_scale,
    get_loss,
    loss_with_scale,
    reject_scale_options,
    sentence_similarity,
)
from songalign.errors import SongalignError

PAIR2 = (torch.tensor([[1.0, 0.0], [0.0, 2.0]]), torch.tensor([[2.0, 0.0], [3.0, 4.0]]))
PAIR3 = (torch.tensor([[1.0, 0.0], [0.0, 1.0], [3.0, 4.0]]), torch.tensor([[1.0, 0.0], [0.0, 1.0], [4.0, 3.0]]))
PAIR3W = (torch.tensor([[1.0, 0.0], [0.0, 1.0], [4.0, 3.0]]), torch.tensor([[1.0, 0.0], [0.0, 1.0], [5.0, 12.0]]))
TOWER3 = torch.tensor([[1.0, 0.0, 0.0], [3.0, 4.0, 0.0], [0.0, 4.0, 3.0]])


def needs(loss: AlignmentLoss, tower_text: torch.Tensor, scale: float = 1.0) -> dict[str, object]:
    """What training passes to ``loss``: ``scale`` if it has one, frozen-tower similarities if it weights by them."""
    given: dict[str, object] = {"scale": scale} if loss.uses_logit_scale else {}
    if loss.uses_text_similarity:
        given["text_similarity"] = sentence_similarity(tower_text)
    return given


# -- margin contrastive (seed 000) ------------------------------------------------------------------


def test_margin_contrastive_2x2_by_hand():
    # D = 1 − C = [[0.0, 0.4], [1.0, 0.2]], m = 0.5
    # positives (diagonal): ½·0.0² = 0,  ½·0.2² = 0.02
    # negatives:            ½·max(0, 0.5 − 0.4)² = ½·0.01 = 0.005,  ½·max(0, 0.5 − 1.0)² = 0
    # mean over 4 pairs: (0 + 0.02 + 0.005 + 0) / 4 = 0.00625
    loss = get_loss("margin_contrastive")
    assert loss.margin == 0.5
    assert loss(*PAIR2).item() == pytest.approx(0.00625, abs=1e-7)


def test_margin_contrastive_3x2_by_hand_plain_and_balanced():
    # D = 1 − C = [[0.0, 1.0, 0.2], [1.0, 0.0, 0.4], [0.4, 0.2, 0.04]], m = 0.5
    # positives: 0, 0, ½·0.04² = 0.0008                                  → sum 0.0008 (3 pairs)
    # negatives: D=1.0 → 0 (twice); D=0.2 → ½·0.3² = 0.045 (twice); D=0.4 → ½·0.1² = 0.005 (twice)
    #                                                                    → sum 0.1 (6 pairs)
    # plain mean over 9 pairs: 0.1008 / 9 = 0.0112
    # balanced: ½·(0.0008/3 + 0.1/6) = ½·(0.00026667 + 0.01666667) = 0.00846667
    assert get_loss("margin_contrastive")(*PAIR3).item() == pytest.approx(0.0112, abs=1e-7)
    balanced = get_loss("margin_contrastive", balance=True)(*PAIR3).item()
    assert balanced == pytest.approx(0.5 * (0.0008 / 3 + 0.1 / 6), abs=1e-7)


def test_margin_contrastive_other_margin():
    # m = 1.2 on PAIR2: negatives ½·(1.2 − 0.4)² = 0.32 and ½·(1.2 − 1.0)² = 0.02; positives 0 + 0.02
    # mean = (0.32 + 0.02 + 0.02) / 4 = 0.09
    assert MarginContrastiveLoss(margin=1.2)(*PAIR2).item() == pytest.approx(0.09, abs=1e-6)


# -- InfoNCE family ----------------------------------------------------------------------------------


def test_symmetric_infonce_2x2_by_hand():
    # s = 1. CE of a row r against index i: −r_i + log Σ_j exp(r_j)
    # audio→text rows of C:   [1, 0.6] → log(1 + e^−0.4) = 0.5130153;  [0, 0.8] → log(1 + e^−0.8) = 0.3711007
    # text→audio rows of Cᵀ:  [1, 0]   → log(1 + e^−1.0) = 0.3132617;  [0.6, 0.8] → log(1 + e^−0.2) = 0.5981389
    # L = ½·[(0.5130153 + 0.3711007)/2 + (0.3132617 + 0.5981389)/2] = ½·(0.4420580 + 0.4557003) = 0.4488791
    assert get_loss("symmetric_infonce")(*PAIR2, scale=1.0).item() == pytest.approx(0.4488791, abs=1e-6)


def test_audio_to_text_infonce_2x2_by_hand_mean_and_sum():
    # only the audio→text rows above: mean (0.5130153 + 0.3711007)/2 = 0.4420580, sum 0.8841159
    assert get_loss("audio_to_text_infonce")(*PAIR2, scale=1.0).item() == pytest.approx(0.4420580, abs=1e-6)
    summed = get_loss("audio_to_text_infonce", reduction="sum")(*PAIR2, scale=1.0).item()
    assert summed == pytest.approx(0.8841159, abs=1e-6)


def test_infonce_uses_the_scale_it_is_given():
    # s = 2: audio→text rows [2, 1.2] → log(1 + e^−0.8) = 0.3711007; [0, 1.6] → log(1 + e^−1.6) = 0.1839007
    # mean = (0.3711007 + 0.1839007)/2 = 0.2775007
    loss = get_loss("audio_to_text_infonce")
    assert loss(*PAIR2, scale=2.0).item() == pytest.approx(0.2775007, abs=1e-6)
    assert loss(*PAIR2, scale=torch.tensor(2.0)).item() == pytest.approx(0.2775007, abs=1e-6)
    fixed = LogitScale(init_temperature=0.5, learnable=False)  # what a model holding τ = 0.5 passes
    assert fixed().item() == pytest.approx(2.0) and not fixed.logit_scale.requires_grad
    assert loss(*PAIR2, scale=fixed()).item() == pytest.approx(0.2775007, abs=1e-6)


@pytest.mark.parametrize("name", ["symmetric_infonce", "audio_to_text_infonce", "weighted_infonce"])
def test_scaled_losses_hold_no_scale_and_require_one(name):
    loss = get_loss(name)
    assert loss.uses_logit_scale and list(loss.parameters()) == []
    with pytest.raises(TypeError, match="scale"):
        loss(*PAIR3, text_similarity=sentence_similarity(TOWER3))


def test_positive_cosine_by_hand():
    # PAIR2: 1 − (1.0 + 0.8)/2 = 0.1;  PAIR3: 1 − (1.0 + 1.0 + 0.96)/3 = 0.0133333
    loss = get_loss("positive_cosine")
    assert loss(*PAIR2).item() == pytest.approx(0.1, abs=1e-7)
    assert loss(*PAIR3).item() == pytest.approx(0.04 / 3, abs=1e-7)
    assert get_loss("positive_cosine", alpha_max=2.0)(*PAIR2).item() == pytest.approx(1.1, abs=1e-6)
    assert not loss.uses_logit_scale and list(loss.parameters()) == []
    assert loss(*PAIR2, scale=5.0).item() == pytest.approx(0.1, abs=1e-7)  # a scale-free loss ignores a scale


# Per-row cross-entropies of PAIR3W at s = 1, CE(row) = log Σ_j exp(row_j) − row_i:
#   audio→text (rows of C):  [1, 0, 0.3846154] → 0.6462193,  [0, 1, 0.9230769] → 0.8302275,
#                            [0.8, 0.6, 0.8615385] → 0.9970162
#   text→audio (rows of Cᵀ): [1, 0, 0.8] → 0.7823525,  [0, 1, 0.6] → 0.7120668,
#                            [0.3846154, 0.9230769, 0.8615385] → 0.9873685
#   per sample, a→t + t→a = (1.4285718, 1.5422943, 1.9843846): all different
PAIR3W_CE = (1.4285718, 1.5422943, 1.9843846)


def weighted_by_hand(weights: list[float]) -> float:
    """½·Σ_i w_i·(CE_i(a→t) + CE_i(t→a)) of PAIR3W, for the weights a test has computed by hand."""
    return 0.5 * sum(w * ce for w, ce in zip(weights, PAIR3W_CE, strict=True))


def test_weighted_infonce_3x2_by_hand():
    # text–text similarity of the projected texts, S = T̂·T̂ᵀ = [[1, 0, 0.3846154], [0, 1, 0.9230769],
    #                                                          [0.3846154, 0.9230769, 1]]
    #   S̄ = (0.3846154/3, 0.9230769/3, 1.3076923/3) = (0.1282051, 0.3076923, 0.4358974);  Σ S̄ = 0.8717949
    #   n = S̄ / Σ S̄ = (0.1470588, 0.3529412, 0.5)
    # k = 1: w = exp(n) = (1.1584221, 1.4232474, 1.6487213), Σ = 4.2303908 → (0.2738334, 0.3364340, 0.3897326)
    #   L = ½·(0.2738334·1.4285718 + 0.3364340·1.5422943 + 0.3897326·1.9843846) = 0.8417252
    #   (w1 and w2 swapped: 0.8381656; w1 and w3: 0.8095160; w2 and w3: 0.8299438 — each one fails)
    loss = get_loss("weighted_infonce", k=1.0)
    t = torch.nn.functional.normalize(PAIR3W[1], dim=-1)
    similarity = t @ t.T
    assert loss.weights(similarity).tolist() == pytest.approx([0.2738334, 0.3364340, 0.3897326], abs=1e-6)
    assert weighted_by_hand([0.2738334, 0.3364340, 0.3897326]) == pytest.approx(0.8417252, abs=1e-6)
    assert loss(*PAIR3W, scale=1.0, text_similarity=similarity).item() == pytest.approx(0.8417252, abs=1e-6)
    # MusCALL's k = 0.01: w ∝ exp(n/0.01) = (2.4e6, 2.1e15, 5.2e21) puts (1 − 4e−7) of the weight on
    # sample 3 → L = ½·(0.0000004·1.5422943 + 0.9999996·1.9843846) = 0.9921922
    muscall = get_loss("weighted_infonce")(*PAIR3W, scale=1.0, text_similarity=similarity).item()
    assert muscall == pytest.approx(0.9921922, abs=1e-6)


def test_weighted_infonce_weights_come_from_the_frozen_tower_similarities_by_hand():
    # S of TOWER3 (module docstring): S̄ = (0.6/3, (0.6 + 0.64)/3, 0.64/3) = (0.2, 0.4133333, 0.2133333)
    #   Σ S̄ = 0.8266667;  n = S̄ / Σ S̄ = (0.2419355, 0.5, 0.2580645)
    # k = 1: exp(n) = (1.2737120, 1.6487213, 1.2944223), Σ = 4.2168556 → w = (0.3020526, 0.3909836, 0.3069639)
    #   sample 2 now weighs most; by the projected texts' S (test above) sample 3 did
    # L = ½·(0.3020526·1.4285718 + 0.3909836·1.5422943 + 0.3069639·1.9843846) = 0.8218249
    #   (w1 and w2 swapped: 0.8167682; w1 and w3: 0.8204601; w2 and w3: 0.8403971)
    similarity = sentence_similarity(TOWER3)
    torch.testing.assert_close(similarity, torch.tensor([[1.0, 0.6, 0.0], [0.6, 1.0, 0.64], [0.0, 0.64, 1.0]]))
    loss = get_loss("weighted_infonce", k=1.0)
    assert loss.weights(similarity).tolist() == pytest.approx([0.3020526, 0.3909836, 0.3069639], abs=1e-6)
    assert weighted_by_hand([0.3020526, 0.3909836, 0.3069639]) == pytest.approx(0.8218249, abs=1e-6)
    assert loss(*PAIR3W, scale=1.0, text_similarity=similarity).item() == pytest.approx(0.8218249, abs=1e-6)


def test_weighted_infonce_requires_the_similarity_and_reduces_to_symmetric_when_uniform():
    loss = get_loss("weighted_infonce")
    assert loss.uses_text_similarity and not get_loss("symmetric_infonce").uses_text_similarity
    with pytest.raises(TypeError, match="text_similarity"):
        loss(*PAIR3, scale=1.0)  # no silent fallback to the projected text
    with pytest.raises(ValueError, match="must be"):
        loss(*PAIR3, scale=1.0, text_similarity=torch.ones(2, 2))
    uniform = torch.ones(3, 3)  # every caption equally similar to the others → equal weights
    weighted = loss(*PAIR3, scale=1.0, text_similarity=uniform).item()
    # symmetric InfoNCE on PAIR3 = ½·(mean a→t + mean t→a) = 0.8101474 (both means equal here)
    assert weighted == pytest.approx(0.8101474, abs=1e-6)
    assert get_loss("symmetric_infonce")(*PAIR3, scale=1.0).item() == pytest.approx(0.8101474, abs=1e-6)
    # B = 2: S̄_1 = S̄_2 always, so weights are uniform and the loss is the symmetric one
    two = loss(*PAIR2, scale=1.0, text_similarity=sentence_similarity(TOWER3[:2])).item()
    assert two == pytest.approx(0.4488791, abs=1e-6)


def test_weighted_infonce_weights_do_not_overflow_with_small_k():
    loss = WeightedInfoNCELoss(k=1e-4)
    similarity = torch.tensor([[1.0, 0.9, -0.5], [0.9, 1.0, 0.1], [-0.5, 0.1, 1.0]])
    w = loss.weights(similarity)
    assert torch.isfinite(w).all() and w.sum().item() == pytest.approx(1.0)


# -- logit scale (held by the model, clamped once) ------------------------------------------------------


def test_logit_scale_starts_at_clip_value_and_is_clamped_to_100():
    scale = LogitScale()
    assert scale.logit_scale.requires_grad and scale.logit_scale.item() == pytest.approx(math.log(1 / 0.07))
    assert scale().item() == pytest.approx(1 / 0.07, rel=1e-5)
    with torch.no_grad():
        scale.logit_scale.fill_(10.0)  # s would be e^10 ≈ 22026
    assert scale().item() == pytest.approx(100.0, rel=1e-5)
    loss = get_loss("symmetric_infonce")
    loss(*PAIR2, scale=scale()).backward()
    assert scale.logit_scale.grad.item() == 0.0  # clamped: no gradient pushes it further
    assert clamped_scale(torch.tensor(1.0)).item() == pytest.approx(math.e)  # below the cap: exp
    assert clamped_scale(torch.tensor(3.0), max_scale=10.0).item() == pytest.approx(10.0)


def test_logit_scale_gets_a_gradient_below_the_clamp():
    scale = LogitScale()
    get_loss("symmetric_infonce")(*PAIR3, scale=scale()).backward()
    assert scale.logit_scale.grad is not None and scale.logit_scale.grad.item() != 0.0


def test_loss_with_scale_builds_the_scale_from_its_settings():
    settings = LogitScaleSettings(init_temperature=0.5, learnable=False)
    loss, scale = loss_with_scale("audio_to_text_infonce", {"reduction": "sum"}, settings)
    assert isinstance(scale, LogitScale) and scale().item() == pytest.approx(2.0)
    assert not scale.logit_scale.requires_grad and loss.reduction == "sum"
    _, default = loss_with_scale("symmetric_infonce", {})
    assert default.logit_scale.requires_grad and default().item() == pytest.approx(1 / 0.07, rel=1e-6)  # CLIP's
    loss, scale = loss_with_scale("margin_contrastive", {"margin": 0.3})
    assert scale is None and loss.margin == 0.3
    with pytest.raises(SongalignError, match="has no logit scale, so model.alignment.logit_scale means nothing"):
        loss_with_scale("positive_cosine", {}, settings, scale_at="model.alignment.logit_scale")
    with pytest.raises(SongalignError, match="does not take"):
        get_loss("symmetric_infonce", init_temperature=0.3)  # not a loss option any more


def test_scale_settings_are_one_vocabulary_and_old_option_names_say_where_they_went():
    assert SCALE_OPTIONS == ("init_temperature", "learnable", "max_scale")
    capped = LogitScale.from_settings(LogitScaleSettings(init_temperature=0.01, max_scale=50.0))
    assert capped().item() == pytest.approx(50.0, rel=1e-6)  # 1/0.01 = 100, capped at 50
    with pytest.raises(ValueError, match="greater than 0"):
        LogitScaleSettings(init_temperature=0.0)
    with pytest.raises(ValueError, match="learnabel"):
        LogitScaleSettings.model_validate({"learnabel": False})  # a misspelt setting is not ignored
    with pytest.raises(ValueError, match="init_temperature, learnable: not a loss option.*set "
                       "model.logit_scale.init_temperature, model.logit_scale.learnable instead"):  # fmt: skip
        reject_scale_options({"init_temperature": 0.3, "learnable": False, "margin": 0.2}, "model.logit_scale")
    reject_scale_options({"margin": 0.2}, "model.logit_scale")  # a loss's own options pass


# -- properties shared by all losses ------------------------------------------------------------------


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_gradients_flow_to_both_inputs(name):
    torch.manual_seed(0)
    audio = torch.randn(4, 8, requires_grad=True)
    text = torch.randn(4, 8, requires_grad=True)
    loss = get_loss(name)
    value = loss(audio, text, **needs(loss, torch.randn(4, 5), scale=5.0))
    assert value.dim() == 0 and torch.isfinite(value)
    value.backward()
    for tensor in (audio, text):
        assert tensor.grad is not None and torch.isfinite(tensor.grad).all() and tensor.grad.abs().sum() > 0


@pytest.mark.parametrize("name", ["margin_contrastive", "symmetric_infonce", "positive_cosine"])
def test_symmetric_losses_do_not_care_which_side_is_audio(name):
    torch.manual_seed(1)
    audio, text = torch.randn(5, 6), torch.randn(5, 6)
    loss = get_loss(name)
    given = needs(loss, text, scale=3.0)
    assert loss(audio, text, **given).item() == pytest.approx(loss(text, audio, **given).item(), rel=1e-6)


def test_weighted_infonce_is_symmetric_given_the_same_similarity():
    torch.manual_seed(2)
    audio, text = torch.randn(5, 6), torch.randn(5, 6)
    similarity = torch.nn.functional.normalize(text, dim=-1) @ torch.nn.functional.normalize(text, dim=-1).T
    loss = get_loss("weighted_infonce", k=0.5)
    forward = loss(audio, text, scale=3.0, text_similarity=similarity).item()
    assert forward == pytest.approx(loss(text, audio, scale=3.0, text_similarity=similarity).item(), rel=1e-6)


def test_the_one_sided_loss_is_not_symmetric():
    loss = get_loss("audio_to_text_infonce")
    # audio→text mean 0.4420580 vs text→audio mean 0.4557003 on PAIR2
    assert loss(*PAIR2, scale=1.0).item() == pytest.approx(0.4420580, abs=1e-6)
    assert loss(PAIR2[1], PAIR2[0], scale=1.0).item() == pytest.approx(0.4557003, abs=1e-6)


@pytest.mark.parametrize("name", sorted(LOSSES))
def test_perfect_alignment_scores_lower_than_random(name):
    torch.manual_seed(3)
    aligned = torch.linalg.qr(torch.randn(8, 8))[0][:6]  # 6 orthonormal rows
    loss = get_loss(name)
    tower = torch.randn(6, 10)  # the frozen-tower similarities weight both cases alike
    perfect = loss(aligned * 3.0, aligned, **needs(loss, tower, scale=14.0)).item()  # rows are normalised inside
    random = loss(torch.randn(6, 8), torch.randn(6, 8), **needs(loss, tower, scale=14.0)).item()
    assert perfect < random
    if name in ("positive_cosine", "margin_contrastive"):
        assert perfect == pytest.approx(0.0, abs=1e-6)


def test_registry_and_errors():
    assert LOSSES.names() == sorted(
        ["margin_contrastive", "symmetric_infonce", "audio_to_text_infonce", "positive_cosine", "weighted_infonce"]
    )
    for name, cls in LOSSES.items():
        assert cls.name == name and isinstance(get_loss(name), AlignmentLoss)
    assert [n for n in LOSSES.names() if get_loss(n).uses_logit_scale] == [
        "audio_to_text_infonce",
        "symmetric_infonce",
        "weighted_infonce",
    ]
    with pytest.raises(SongalignError, match="unknown loss 'triplet'"):
        get_loss("triplet")
    with pytest.raises(SongalignError, match="does not take"):
        get_loss("positive_cosine", margin=0.3)
    with pytest.raises(ValueError, match="same shape"):
        get_loss("positive_cosine")(torch.zeros(2, 3), torch.zeros(3, 3))
