"""Split text that is longer than a text model's token limit into overlapping windows.

Text towers never truncate silently: a text whose tokens (special tokens excluded) exceed
``budget`` is cut into windows of at most ``budget`` tokens that overlap by about ``overlap``
tokens; window edges fall on word boundaries where a word fits, so each window is a substring
of the text that re-tokenises to (nearly) the same tokens. The tower embeds every window and
averages the window embeddings (:func:`pool_chunks`).
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch
from torch.nn import functional as F

from songalign.errors import SongalignError


def _tokens(tokenizer: Any, text: str) -> tuple[list[tuple[int, int]], list[int | None]]:
    try:
        encoding = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True, verbose=False)
    except NotImplementedError as error:  # slow (Python) tokenizers have no offsets
        raise SongalignError(
            f"the tokenizer {type(tokenizer).__name__} gives no character offsets, which chunking long text needs; "
            "use a model folder with a fast tokenizer (tokenizer.json)"
        ) from error
    return list(encoding["offset_mapping"]), list(encoding.word_ids())


def token_count(tokenizer: Any, text: str) -> int:
    """Number of tokens of ``text`` without special tokens."""
    return len(tokenizer(text, add_special_tokens=False, verbose=False)["input_ids"])


def chunk_text(tokenizer: Any, text: str, budget: int, overlap: int) -> list[str]:
    """``text`` as one piece, or as overlapping windows of at most ``budget`` tokens each.

    ``tokenizer`` is a Hugging Face fast tokenizer; ``budget`` counts tokens without special tokens;
    ``overlap`` (< ``budget``) is how many tokens consecutive windows share, rounded to whole words.
    """
    if budget < 1:
        raise ValueError(f"the token budget must be positive; got {budget}")
    if not 0 <= overlap < budget:
        raise ValueError(f"overlap must be in [0, budget); got overlap {overlap} for budget {budget}")
    offsets, words = _tokens(tokenizer, text)
    if len(offsets) <= budget:
        return [text]
    count = len(offsets)

    def word_start(index: int, floor: int) -> int:
        """Move ``index`` back to the first token of its word, but not to ``floor`` or before."""
        while index > floor + 1 and words[index] is not None and words[index] == words[index - 1]:
            index -= 1
        return index

    pieces: list[str] = []
    start = 0
    while True:
        end = min(count, start + budget)
        if end < count:
            cut = word_start(end, start)  # do not split the word that straddles the edge ...
            if words[cut] is None or words[cut] != words[cut - 1]:
                end = cut  # ... unless that word alone is longer than the window: then cut inside it
        piece = text[offsets[start][0] : offsets[end - 1][1]]
        if token_count(tokenizer, piece) > budget and end - start > 1:
            # re-tokenised on its own the piece came out longer (e.g. a word without its leading
            # space in byte-level BPE): split it again rather than let the model truncate it
            pieces.extend(chunk_text(tokenizer, piece, budget, min(overlap, budget // 2)))
        else:
            pieces.append(piece)
        if end >= count:
            return pieces
        next_start = word_start(max(end - overlap, start + 1), start)
        start = next_start if next_start > start else end


def pool_chunks(embeddings: torch.Tensor, owners: Sequence[int], count: int, renormalize: bool) -> torch.Tensor:
    """Mean of the chunk ``embeddings`` ``(N, D)`` of each of ``count`` texts (``owners[n]`` = text of
    chunk ``n``), L2-renormalised when ``renormalize``; returns ``(count, D)``."""
    index = torch.as_tensor(list(owners), device=embeddings.device)
    total = torch.zeros(count, embeddings.shape[1], dtype=embeddings.dtype, device=embeddings.device)
    total = total.index_add(0, index, embeddings)
    sizes = torch.bincount(index, minlength=count).clamp_min(1).to(embeddings.dtype)
    mean = total / sizes[:, None]
    return F.normalize(mean, dim=-1) if renormalize else mean
