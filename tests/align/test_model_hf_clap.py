"""A tiny Hugging Face ClapModel, saved by the test, used through our towers by path: one training step, save/load."""

from __future__ import annotations

import numpy as np
import torch

from songalign.align.losses import get_loss
from songalign.align.model import AlignModel, FreezePolicy, ModelConfig, TowerSpec
from songalign.towers.testing import TINY_CLIP_SECONDS, TINY_SAMPLE_RATE, write_tiny_clap


def test_tiny_hf_clap_trains_a_step_and_round_trips(tmp_path):
    checkpoint = write_tiny_clap(tmp_path / "tiny-clap")
    config = ModelConfig(
        audio_tower=TowerSpec(name="hf_clap_audio", options={"model": str(checkpoint)}),
        text_tower=TowerSpec(name="hf_clap_text", options={"model": str(checkpoint)}),
        embedding_dim=16,
        clip_seconds=TINY_CLIP_SECONDS,
        freeze=FreezePolicy(text_tower=True),
    )
    model = AlignModel(config)
    assert model.audio_tower.sample_rate == TINY_SAMPLE_RATE
    rng = np.random.default_rng(0)
    clips = [(0.1 * rng.standard_normal(TINY_SAMPLE_RATE)).astype(np.float32) for _ in range(4)]
    texts = ["a calm song", "an angry song", "tears in the rain", "dancing all night"]
    features = torch.stack([model.audio_features(c) for c in clips])
    loss_fn = get_loss("symmetric_infonce")
    optimizer = torch.optim.Adam([p for p in model.parameters() if p.requires_grad], lr=1e-2)
    before = {k: v.clone() for k, v in model.audio_tower.state_dict().items()}
    model.train()
    with torch.no_grad():
        text_tower_out = model.text_tower.encode(texts)
    loss = loss_fn(model.project_audio(features), model.project_text(text_tower_out), scale=model.scale)
    loss.backward()
    optimizer.step()
    changed = [
        k
        for k, v in model.audio_tower.state_dict().items()
        if v.dtype.is_floating_point and not torch.equal(v, before[k])
    ]
    assert changed, "the audio tower did not train"
    assert all(p.grad is None for p in model.text_tower.parameters())  # frozen text tower

    saved = model.save_pretrained(tmp_path / "model", card={"name": "tiny", "data": {"corpus": "none"}})
    loaded = AlignModel.from_pretrained(saved)
    np.testing.assert_allclose(model.embed_audio(clips[:2]), loaded.embed_audio(clips[:2]), atol=1e-5)
    np.testing.assert_allclose(model.embed_text(texts), loaded.embed_text(texts), atol=1e-5)
    assert (saved / "README.md").read_text().count("hf_clap_audio") >= 1
