"""The log-mel audio towers (``cnn``, ``ast``) and the registries."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from torch.utils.flop_counter import FlopCounterMode

from songalign.audio.features import LogMelConfig, log_mel
from songalign.corpus.testing import tone
from songalign.errors import SongalignError
from songalign.towers import AUDIO_TOWERS, TEXT_TOWERS, AudioTower, build_audio_tower, build_text_tower
from songalign.towers import cnn as cnn_module

SMALL_AST = {"dim": 32, "depth": 2, "heads": 2, "max_frames": 301}


def clips(seconds: float, count: int, rate: int = 16000) -> np.ndarray:
    return np.stack([tone(seconds, rate, frequency=220.0 * (i + 1)) for i in range(count)])


def test_registries_list_the_towers():
    assert AUDIO_TOWERS.names() == ["ast", "cnn", "hf_clap_audio", "musicnn"]
    assert TEXT_TOWERS.names() == ["hf_clap_text", "musicnn_tag_prompts", "sentence_transformers"]
    with pytest.raises(SongalignError, match="unknown audio tower 'vggish'.*ast, cnn, hf_clap_audio, musicnn"):
        build_audio_tower("vggish")
    with pytest.raises(SongalignError, match="unknown text tower"):
        build_text_tower("bow")
    with pytest.raises(SongalignError, match="does not take"):
        build_audio_tower("cnn", hidden=3)


def test_a_registered_tower_is_built_by_name():
    class Identity(AudioTower):
        name = "identity"

        def __init__(self, size: int = 3):
            super().__init__()
            self.embedding_dim = size

        def forward(self, features):
            return features

    AUDIO_TOWERS.register("identity", Identity)
    try:
        tower = build_audio_tower("identity", size=5)
        assert tower.embedding_dim == 5 and not tower.training
    finally:
        AUDIO_TOWERS.unregister("identity")


def test_cnn_features_are_the_one_log_mel_and_shapes_hold():
    tower = build_audio_tower("cnn")
    assert (tower.name, tower.feature_kind, tower.sample_rate, tower.embedding_dim) == ("cnn", "log_mel", 16000, 256)
    assert tower.log_mel_config == LogMelConfig()  # 16 kHz, hop 320 (20 ms), 64 mels
    audio = clips(10.0, 3)
    one = tower.features(audio[0])
    assert one.shape == (64, 501) and one.dtype == torch.float32
    torch.testing.assert_close(one, log_mel(audio[0], tower.log_mel_config))
    batch = tower.features(audio)
    assert batch.shape == (3, 64, 501)
    with torch.no_grad():
        assert tower(batch).shape == (3, 256)
        sequence = tower.forward_sequence(batch)
    assert sequence.shape == (3, 32, 256)  # ⌈501 / 16⌉ steps of 0.32 s


def test_cnn_size_and_flops_match_its_docstring():
    tower = build_audio_tower("cnn")
    assert sum(p.numel() for p in tower.parameters()) == 524_272
    with FlopCounterMode(display=False) as counter, torch.no_grad():
        tower(torch.zeros(1, 64, 501))
    assert counter.get_total_flops() == pytest.approx(0.3077e9, rel=1e-3)
    assert "524,272 parameters" in cnn_module.__doc__ and "0.308 GFLOPs per 10 s clip" in cnn_module.__doc__


@pytest.mark.parametrize("name,options", [("cnn", {}), ("ast", SMALL_AST)])
def test_towers_are_deterministic_in_eval_mode(name, options):
    torch.manual_seed(0)
    tower = build_audio_tower(name, **options)
    audio = clips(3.0, 2)
    first, second = tower.features(audio), tower.features(audio)
    assert torch.equal(first, second)
    with torch.no_grad():
        assert torch.equal(tower(first), tower(second))
        assert torch.equal(tower.forward_sequence(first), tower.forward_sequence(second))


@pytest.mark.parametrize("name,options", [("cnn", {}), ("ast", SMALL_AST)])
def test_config_rebuilds_the_same_tower(name, options):
    torch.manual_seed(1)
    tower = build_audio_tower(name, **options, embedding_dim=48)
    config = tower.config()
    assert config["name"] == name
    rebuilt = build_audio_tower(**json.loads(json.dumps(config)))
    rebuilt.load_state_dict(tower.state_dict())
    features = tower.features(clips(2.0, 2))
    with torch.no_grad():
        assert torch.equal(tower(features), rebuilt(features))
    assert rebuilt.embedding_dim == 48


@pytest.mark.parametrize("name,options", [("cnn", {}), ("ast", SMALL_AST)])
def test_towers_train_and_accept_any_clip_length(name, options):
    tower = build_audio_tower(name, **options).train()
    features = tower.features(clips(1.0, 4))
    loss = tower(features).pow(2).mean() + tower.forward_sequence(features).mean()
    loss.backward()
    grads = [p.grad for p in tower.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)
    tower.eval()
    with torch.no_grad():
        for seconds in (0.05, 0.5, 4.0, 12.0):  # shorter than one patch / pooling window, and longer than max_frames
            assert tower(tower.features(clips(seconds, 1))).shape == (1, tower.embedding_dim)


def test_ast_tokens_follow_the_patch_grid():
    tower = build_audio_tower("ast", **SMALL_AST)
    assert tower.log_mel_config.n_mels == 128 and tower.log_mel_config.hop_length == 160  # AST front end
    features = tower.features(clips(3.0, 2))  # 301 frames → (301 − 16) // 16 + 1 = 18 time patches
    assert features.shape == (2, 128, 301)
    with torch.no_grad():
        assert tower(features).shape == (2, 32)
        assert tower.forward_sequence(features).shape == (2, 8 * 18, 32)  # 8 frequency × 18 time patches
    overlapping = build_audio_tower("ast", **SMALL_AST, patch_stride=(16, 10))
    with torch.no_grad():
        assert overlapping.forward_sequence(features).shape == (2, 8 * 29, 32)  # (301 − 16) // 10 + 1 = 29


def test_wrong_features_give_a_clear_error():
    tower = build_audio_tower("cnn")
    with pytest.raises(ValueError, match=r"expects log-mel features \(B, 64, frames\)"):
        tower(torch.zeros(2, 128, 100))
    with pytest.raises(ValueError, match="mono"):
        tower.features(np.zeros((2, 2, 100), np.float32))
    with pytest.raises(ValueError, match="empty"):
        tower.features(np.zeros(0, np.float32))
