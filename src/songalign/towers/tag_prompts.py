"""``musicnn_tag_prompts``: a text tower that maps a query onto musicnn's 50 tags, with no training.

The text side of the zero-shot tag bridge (:func:`songalign.align.pretrained.musicnn_bridge`)::

    prompts:  for each tag k, the mean of the unit MiniLM embeddings of "{tag}", "{tag} music" and
              "a {tag} song" (renormalised)                          → P (50, 384)
    query q:  e = MiniLM(q) / |MiniLM(q)|                                (384,)
              w = softmax(P·e / τ)                                        (50,)  weights over the tags

so the query's vector lives where musicnn's tag probabilities do, and the cosine between ``w`` and
an audio clip's 50 probabilities ranks clips for the query (and queries for a clip). ``τ``
(``temperature``, default 0.05) sets how sharply a query picks its nearest tags: cosine
similarities of MiniLM embeddings between related words differ by a few tenths, so 0.05 turns a
difference of 0.1 into a factor e² ≈ 7.4. Long queries are chunked by the sentence tower itself.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.nn import functional as F

from songalign.errors import SongalignError
from songalign.towers.base import TextTower
from songalign.towers.musicnn import DEFAULT_MODEL, MODELS
from songalign.towers.sentence import SentenceTransformerTower

TEMPLATES = ("{tag}", "{tag} music", "a {tag} song")
"""How each tag name becomes prompts; their embeddings are averaged."""


class MusicnnTagPromptTower(TextTower):
    """Text → weights over a musicnn model's tags: ``encode(texts) -> (B, 50)``, each row summing to 1.

    Options: ``tagger`` (whose tags: ``MSD_musicnn`` …, see :data:`songalign.towers.musicnn.MODELS`),
    ``temperature`` (τ > 0), ``model`` (the sentence-transformers model; None = the bundled
    all-MiniLM-L6-v2), ``device``.
    """

    name = "musicnn_tag_prompts"
    loads_pretrained_weights = True  # the prompts are rebuilt from the options

    def __init__(
        self,
        tagger: str = DEFAULT_MODEL,
        temperature: float = 0.05,
        model: str | None = None,
        device: str | None = None,
    ):
        super().__init__()
        if tagger not in MODELS:
            raise SongalignError(
                f"unknown musicnn model {tagger!r} for the tag prompts; choose one of {', '.join(MODELS)}"
            )
        if not temperature > 0:
            raise SongalignError(f"the tag prompts' temperature must be positive; got {temperature}")
        self.tagger, self.temperature, self.model_name = tagger, float(temperature), model
        self.labels = MODELS[tagger][1]
        self.sentence = SentenceTransformerTower(model=model, device=device)
        self.max_tokens = self.sentence.max_tokens
        self.embedding_dim = len(self.labels)
        prompts = [template.format(tag=label.lower()) for label in self.labels for template in TEMPLATES]
        with torch.no_grad():
            embedded = F.normalize(self.sentence.encode(prompts), dim=-1).view(len(self.labels), len(TEMPLATES), -1)
        self.register_buffer("prompts", F.normalize(embedded.mean(dim=1), dim=-1), persistent=False)
        self.trainable = False

    def tag_similarities(self, texts: Sequence[str]) -> torch.Tensor:
        """``(B, 50)`` cosine similarities between each text and each tag's prompts."""
        return self.similarities_of(self.sentence.encode(list(texts)))

    def similarities_of(self, sentence_embeddings: torch.Tensor) -> torch.Tensor:
        """``(B, d)`` sentence-tower embeddings → ``(B, 50)`` cosine similarities to each tag's prompts."""
        return F.normalize(sentence_embeddings, dim=-1) @ self.prompts.T

    def weights_of(self, sentence_embeddings: torch.Tensor) -> torch.Tensor:
        """``(B, d)`` sentence-tower embeddings → ``(B, 50)`` weights over the tags: ``softmax(similarities / τ)``."""
        return torch.softmax(self.similarities_of(sentence_embeddings) / self.temperature, dim=-1)

    def encode(self, texts: Sequence[str]) -> torch.Tensor:
        """``(len(texts), 50)``: ``softmax(similarities / temperature)``, one weight per tag."""
        texts = [texts] if isinstance(texts, str) else list(texts)
        if not texts:
            return torch.zeros(0, self.embedding_dim, device=self.prompts.device)
        with torch.no_grad():
            return self.weights_of(self.sentence.encode(texts))

    def config(self) -> dict[str, Any]:
        return {"name": self.name, "tagger": self.tagger, "temperature": self.temperature, "model": self.model_name}
