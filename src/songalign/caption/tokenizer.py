"""Tokenizers for the captioner: BART's own (by Hugging Face id or folder), or one trained offline.

``facebook/bart-base`` comes with its byte-level BPE tokenizer (50,265 tokens); a BART built
from a config for offline CPU runs has no tokenizer, so :func:`train_tokenizer` trains a small
byte-level BPE of the same kind (the ``tokenizers`` library, in milliseconds) on the training
texts. It has BART's special tokens ``<s>=0 <pad>=1 </s>=2 <unk>=3 <mask>=4`` and the 256 byte
symbols, so it tokenises any text, and it is saved beside the model it was trained for.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from songalign.errors import SongalignError
from songalign.hub import load_pretrained

SPECIAL_TOKENS = ("<s>", "<pad>", "</s>", "<unk>", "<mask>")


def train_tokenizer(texts: Iterable[str], vocab_size: int = 2000, min_frequency: int = 2) -> Any:
    """A byte-level BPE ``BartTokenizer`` with at most ``vocab_size`` tokens, trained on ``texts``."""
    from tokenizers import ByteLevelBPETokenizer
    from transformers import BartTokenizer

    texts = [t for t in texts if t and t.strip()]
    if not texts:
        raise SongalignError("cannot train a tokenizer without text; the training split is empty")
    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        texts,
        vocab_size=vocab_size,
        min_frequency=min_frequency,
        special_tokens=list(SPECIAL_TOKENS),
        show_progress=False,
    )
    model = json.loads(bpe._tokenizer.to_str())["model"]  # the only place the merges are exposed
    merges = [tuple(m.split(" ")) if isinstance(m, str) else tuple(m) for m in model["merges"]]
    try:
        tokenizer = BartTokenizer(vocab=model["vocab"], merges=merges)  # transformers 5
    except TypeError:
        tokenizer = None
    if tokenizer is None or len(tokenizer) < len(model["vocab"]):  # transformers 4 reads files
        from transformers import BartTokenizerFast

        with tempfile.TemporaryDirectory() as folder:
            vocab_file, merges_file = Path(folder) / "vocab.json", Path(folder) / "merges.txt"
            vocab_file.write_text(json.dumps(model["vocab"]), encoding="utf-8")
            merges_file.write_text("#version: 0.2\n" + "".join(f"{a} {b}\n" for a, b in merges), encoding="utf-8")
            tokenizer = BartTokenizerFast(vocab_file=str(vocab_file), merges_file=str(merges_file))
    tokenizer.model_max_length = 1024
    return tokenizer


def load_tokenizer(source: str | Path) -> Any:
    """The tokenizer saved in folder ``source``, or of Hugging Face id ``source`` (local files first)."""
    from transformers import AutoTokenizer

    return load_pretrained(AutoTokenizer, source, "tokenizer")
