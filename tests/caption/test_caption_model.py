"""The captioner: a tiny BART written by the test loads by path, trains a step, generates, round-trips."""

from __future__ import annotations

import json

import pytest
import torch

from songalign.align.losses import LogitScale, get_loss
from songalign.caption.model import (
    AlignmentConfig,
    AlignmentHead,
    BartSize,
    CaptionModel,
    CaptionModelConfig,
    CrossModalFusion,
    FusionConfig,
    GenerationSettings,
)
from songalign.caption.testing import SENTENCES, write_tiny_bart
from songalign.errors import SongalignError

MUSIC_DIM = 12
LYRICS = ["I sing of joy tonight\nall this joy in my heart", "rain and tears\nI cry alone", "fire and rage"]


@pytest.fixture(scope="module")
def bart_folder(tmp_path_factory):
    return write_tiny_bart(tmp_path_factory.mktemp("bart") / "tiny-bart")


def alcap_config(bart_folder, **changes) -> CaptionModelConfig:
    config = {
        "bart": str(bart_folder),
        "music_dim": MUSIC_DIM,
        "alignment": {"loss": "audio_to_text_infonce", "logit_scale": {"init_temperature": 0.3, "learnable": False}},
    } | changes
    return CaptionModelConfig.model_validate(config)


def batch(model: CaptionModel, n: int = 3, seed: int = 0):
    tokens = model.tokenize_lyrics(LYRICS[:n])
    labels = model.tokenize_targets(SENTENCES[:n])
    music = torch.randn(n, 7, MUSIC_DIM, generator=torch.Generator().manual_seed(seed))
    return tokens["input_ids"], tokens["attention_mask"], labels, music


def test_a_tiny_bart_loads_by_path_trains_a_step_generates_and_round_trips(bart_folder, tmp_path):
    torch.manual_seed(0)
    model = CaptionModel.build(alcap_config(bart_folder))
    assert model.bart.config.d_model == 32 and model.fusion_layers == [0, 1]  # the last two of two layers
    ids, mask, labels, music = batch(model)
    song_index = torch.tensor([0, 1, 2])
    before = {k: v.clone() for k, v in model.named_parameters()}
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
    model.train()
    losses = model.losses(ids, mask, labels, music, song_index)
    assert torch.isfinite(losses["loss"]) and float(losses["contrast"]) > 0
    losses["loss"].backward()
    optimizer.step()
    changed = {k for k, v in model.named_parameters() if not torch.equal(v, before[k])}
    assert any(k.startswith("fusion.") for k in changed) and any(k.startswith("alignment_head.") for k in changed)
    assert any(k.startswith("bart.model.encoder.") for k in changed)

    settings = GenerationSettings(num_beams=2, max_length=12)
    captions = model.generate(LYRICS[:2], music[:2], settings)
    assert len(captions) == 2 and all(isinstance(c, str) for c in captions)
    assert all(len(model.tokenizer(c)["input_ids"]) <= 12 + 2 for c in captions)
    sampled = model.generate(
        LYRICS[:2], music[:2], GenerationSettings(do_sample=True, top_p=0.9, max_length=12, seed=5)
    )
    assert sampled == model.generate(
        LYRICS[:2], music[:2], GenerationSettings(do_sample=True, top_p=0.9, max_length=12, seed=5)
    )

    folder = model.save_pretrained(tmp_path / "captioner", card={"name": "tiny"})
    assert {"bart", "tokenizer", "model.safetensors", "config.json", "README.md", "card.json"} <= {
        p.name for p in folder.iterdir()
    }
    loaded = CaptionModel.from_pretrained(folder)
    model.eval()
    with torch.no_grad():
        a = model.losses(ids, mask, labels, music, song_index)
        b = loaded.losses(ids, mask, labels, music, song_index)
    torch.testing.assert_close(a["loss"], b["loss"])
    assert loaded.generate(LYRICS[:2], music[:2], settings) == model.generate(LYRICS[:2], music[:2], settings)

    # a folder from before the scale moved to alignment.logit_scale: one sentence, and the fix is to retrain
    config = json.loads((folder / "config.json").read_text())
    config["alignment"]["options"] = {"init_temperature": 0.3}
    (folder / "config.json").write_text(json.dumps(config))
    with pytest.raises(SongalignError) as raised:
        CaptionModel.from_pretrained(folder)
    assert str(raised.value) == (
        f"{folder / 'config.json'} does not fit this version of songalign (field 'alignment.options' is refused), "
        "so another version wrote it or it was edited; train it again with `songalign caption train`"
    )


def test_fusion_is_a_scaled_residual_cross_attention():
    fusion = CrossModalFusion(MUSIC_DIM, 16, FusionConfig(heads=2, residual_scale=0.0, dropout=0.0)).eval()
    text, music = torch.randn(2, 5, 16), torch.randn(2, 7, MUSIC_DIM)
    fused, weights = fusion(text, music, need_weights=True)
    torch.testing.assert_close(fused, fusion.norm(text))  # scale 0: LayerNorm(h)
    assert weights.shape == (2, 5, 7)  # text tokens × music frames, heads averaged
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 5))
    gated = CrossModalFusion(MUSIC_DIM, 16, FusionConfig(forget_gate=True, dropout=0.0)).eval()
    assert gated.gate is not None and gated(text, music)[0].shape == (2, 5, 16)


def test_alignment_head_pools_real_tokens_and_projects_the_wider_side():
    head = AlignmentHead(music_dim=24, text_dim=8)
    assert head.side == "music" and head.project.weight.shape == (8, 24)
    music, text = torch.randn(2, 5, 24), torch.randn(2, 4, 8)
    mask = torch.tensor([[1, 1, 0, 0], [1, 1, 1, 1]])
    z_music, z_text = head(music, text, mask)
    torch.testing.assert_close(z_text[0], text[0, :2].mean(0))  # padding is left out of the mean
    torch.testing.assert_close(z_music, head.project(music.mean(1)))
    assert AlignmentHead(8, 8).side is None


def test_the_contrastive_loss_is_alcap_eq1_on_each_songs_first_item(bart_folder):
    torch.manual_seed(1)
    model = CaptionModel.build(alcap_config(bart_folder)).eval()
    ids, mask, labels, music = batch(model)
    music[1] = music[0]  # items 0 and 1 are the same song
    song_index = torch.tensor([4, 4, 9])
    with torch.no_grad():
        losses = model.losses(ids, mask, labels, music, song_index)
        encoded = model.encode(ids, mask, music)
        z_music, z_text = model.alignment_head(music[[0, 2]], encoded.text_states[[0, 2]], mask[[0, 2]])
        expected = get_loss("audio_to_text_infonce")(z_music, z_text, scale=1 / 0.3)  # ALCAP: fixed τ = 0.3
    torch.testing.assert_close(losses["contrast"], expected)
    recap = CaptionModel.build(alcap_config(bart_folder, alignment={"loss": "positive_cosine"})).eval()
    with torch.no_grad():
        value = recap.losses(ids, mask, labels, music, song_index)["contrast"]
    assert 0.0 <= float(value) <= 2.0  # 1 − mean cosine


def test_the_alignment_scale_uses_the_alignment_model_s_settings(bart_folder):
    model = CaptionModel.build(alcap_config(bart_folder))
    assert isinstance(model.alignment_scale, LogitScale)  # the module AlignModel holds too
    assert float(model.alignment_scale().detach()) == pytest.approx(1 / 0.3)
    assert not model.alignment_scale.logit_scale.requires_grad
    default = CaptionModel.build(alcap_config(bart_folder, alignment={"loss": "audio_to_text_infonce"}))
    assert float(default.alignment_scale().detach()) == pytest.approx(1 / 0.07, rel=1e-6)  # CLIP's, learnable
    assert default.alignment_scale.logit_scale.requires_grad
    with pytest.raises(SongalignError, match="'positive_cosine' has no logit scale, so model.alignment.logit_scale"):
        CaptionModel.build(alcap_config(bart_folder, alignment={"loss": "positive_cosine", "logit_scale": {}}))
    old = {"loss": "audio_to_text_infonce", "options": {"init_temperature": 0.3}}  # before the one vocabulary
    with pytest.raises(
        ValueError, match="init_temperature: not a loss option.*model.alignment.logit_scale.init_temperature"
    ):
        alcap_config(bart_folder, alignment=old)


def test_alignment_reads_the_text_before_fusion(bart_folder):
    model = CaptionModel.build(alcap_config(bart_folder, fusion={"layers": [1]})).eval()
    assert model.alignment_layer == 1  # the state entering the first fusion layer: layer 0's output
    ids, mask, _, music = batch(model)
    with torch.no_grad():
        a = model.encode(ids, mask, music)
        b = model.encode(ids, mask, music + 1.0)
    torch.testing.assert_close(a.text_states, b.text_states)  # the music has not entered yet
    assert not torch.allclose(a.last_hidden_state, b.last_hidden_state)  # but it reaches the output


def test_a_lyrics_only_model_needs_no_music_and_a_fusion_model_refuses_to_run_without(bart_folder):
    text_only = CaptionModel.build(CaptionModelConfig(bart=str(bart_folder), fusion={"enabled": False}))
    assert text_only.fusion_layers == [] and text_only.alignment_head is None
    ids, mask, labels, _ = batch(text_only)
    assert torch.isfinite(text_only.losses(ids, mask, labels)["loss"])
    fusion = CaptionModel.build(alcap_config(bart_folder))
    with pytest.raises(SongalignError, match="music features"):
        fusion.encode(ids, mask)
    with pytest.raises(RuntimeError, match="CaptionModel.encode"):
        fusion.bart.get_encoder()(input_ids=ids, attention_mask=mask)


def test_bad_configurations_fail_with_one_sentence(bart_folder):
    with pytest.raises(ValueError, match="alignment needs music"):
        CaptionModelConfig(fusion=FusionConfig(enabled=False), alignment=AlignmentConfig(loss="positive_cosine"))
    with pytest.raises(SongalignError, match="fusion.layers"):
        CaptionModel.build(alcap_config(bart_folder, fusion={"layers": [5]}))
    with pytest.raises(SongalignError, match="not a captioner folder"):
        CaptionModel.from_pretrained(bart_folder)
    with pytest.raises(SongalignError, match="BART model folder not found"):
        CaptionModel.build(CaptionModelConfig(bart="./no/such/bart", music_dim=4))


def test_a_bart_built_from_a_size_trains_its_own_tokenizer():
    config = CaptionModelConfig(size=BartSize(d_model=32, encoder_layers=1, decoder_layers=1, ffn_dim=32, vocab_size=400),
                                music_dim=MUSIC_DIM)  # fmt: skip
    model = CaptionModel.build(config, SENTENCES * 2)
    assert len(model.tokenizer) <= 400 and model.bart.config.vocab_size == len(model.tokenizer)
    assert model.bart.config.init_std == pytest.approx(32**-0.5 if 32**-0.5 < 0.1 else 0.1)
    assert (
        model.tokenizer.decode(model.tokenizer("Ünïcode café ♫")["input_ids"], skip_special_tokens=True)
        == "Ünïcode café ♫"
    )
