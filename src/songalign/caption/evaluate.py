"""Generate captions for a split of a prepared corpus and score them: ROUGE-1/2/L, METEOR, caption-based retrieval.

One caption is generated per song (every interpretation of a song has the same input); each
test *item* — a (song, interpretation) pair, as in the Song Interpretation test split — scores
its song's caption against its own interpretation, and the scores are averaged over items. The
retrieval queries are one sentence per item (seeded), the pool is the split's songs. The corpus
is split as the captioner was trained (:meth:`CaptionCorpus.for_captioner`): following its music
tower's model, and never scoring a song the captioner trained on.

``evaluate_captioner`` writes into ``out``::

    captions.jsonl   song id, lyrics, generated caption and the references
    metrics.json     the figures (ROUGE and METEOR as fractions × 100), counts, settings
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from rich.progress import track

from songalign.caption.data import CaptionCorpus, CaptionItem
from songalign.caption.metrics import caption_retrieval, meteor, query_sentences, rouge
from songalign.caption.model import CaptionModel, GenerationSettings
from songalign.caption.music import build_music_encoder, music_cache_dir, music_features
from songalign.errors import SkipReport, SongalignError


@dataclass
class Evaluation:
    """Figures (``metrics``), the generated caption of each song, and what was skipped."""

    metrics: dict[str, Any]
    captions: dict[str, str]
    report: SkipReport = field(default_factory=SkipReport, repr=False)


def song_inputs(
    model: CaptionModel, items: list[CaptionItem], cache_dir: Path, report: SkipReport, progress: bool = True
) -> tuple[list[str], list[str], torch.Tensor | None]:
    """The songs of ``items`` that the model can caption: ids, lyrics and music ``(S, l_m, d_m)`` (None if unused)."""
    lyrics = {}
    for item in items:
        lyrics.setdefault(item.song_id, item.lyrics)
    if not model.config.uses_music:
        return list(lyrics), list(lyrics.values()), None
    encoder = model.config.music_encoder
    features = music_features(items, encoder, cache_dir, report, build_music_encoder(encoder), progress)
    songs = [s for s in lyrics if s in features]
    if not songs:
        raise SongalignError("no song of the split has readable audio, so the music-aware captioner cannot caption it")
    return songs, [lyrics[s] for s in songs], torch.from_numpy(np.stack([features[s] for s in songs])).float()


def load_for(
    model: CaptionModel, corpus: CaptionCorpus | str | Path, folder: str | Path | None = None
) -> CaptionCorpus:
    """``corpus`` split as ``model`` (saved in ``folder``, when known) was trained; a loaded corpus is used as it is."""
    if isinstance(corpus, CaptionCorpus):
        return corpus
    return CaptionCorpus.for_captioner(corpus, model.config.music_encoder.align_model, folder)


def caption_songs(
    model: CaptionModel,
    lyrics: list[str],
    music: torch.Tensor | None,
    settings: GenerationSettings,
    progress: bool = True,
) -> list[str]:
    """Captions of songs in batches of ``settings.batch_size`` (with a progress bar)."""
    captions: list[str] = []
    starts = range(0, len(lyrics), settings.batch_size)
    for start in track(starts, description="Captioning", disable=not progress, transient=True):
        chunk = None if music is None else music[start : start + settings.batch_size]
        captions += model.generate(lyrics[start : start + settings.batch_size], chunk, settings)
    return captions


def score(items: list[CaptionItem], captions: dict[str, str], seed: int = 0, retrieval: bool = True) -> dict[str, Any]:
    """Metrics of ``captions`` (song id → caption) against the items' interpretations (× 100)."""
    scored = [i for i in items if i.song_id in captions]
    if not scored:
        raise SongalignError("no item has a generated caption to score")
    predictions = [captions[i.song_id] for i in scored]
    references = [i.text for i in scored]
    metrics: dict[str, Any] = {k: 100 * v for k, v in rouge(predictions, references).items()}
    found = meteor(predictions, references)
    metrics |= {k: 100 * v if isinstance(v, float) else v for k, v in found.items()}
    if retrieval:
        songs = list(captions)
        queries = query_sentences(references, seed)
        metrics |= caption_retrieval(queries, [i.song_id for i in scored], [captions[s] for s in songs], songs)
    metrics |= {"items": len(scored), "songs": len({i.song_id for i in scored})}
    return metrics


def evaluate_captioner(
    model: CaptionModel | str | Path,
    corpus: CaptionCorpus | str | Path,
    *,
    split: str = "test",
    variant: str = "full",
    settings: GenerationSettings | None = None,
    out: str | Path | None = None,
    cache_dir: str | Path | None = None,
    seed: int = 0,
    retrieval: bool = True,
    progress: bool = True,
) -> Evaluation:
    """Caption every song of ``split`` and score the captions; writes ``captions.jsonl`` and ``metrics.json`` to ``out``.

    ``model`` is a captioner or its folder; ``corpus`` a prepared corpus folder (split with
    :meth:`CaptionCorpus.for_captioner`, which checks a folder's card) or a :class:`CaptionCorpus`.
    """
    started = time.perf_counter()
    folder = Path(model) if isinstance(model, str | Path) else None
    model = model if isinstance(model, CaptionModel) else CaptionModel.from_pretrained(model)
    data = load_for(model, corpus, folder)
    items = data.items(split, variant)
    if not items:
        raise SongalignError(f"{data.path}: the {split} split of variant {variant} is empty; nothing to evaluate")
    cache = Path(cache_dir) if cache_dir else music_cache_dir(data.path)
    report = SkipReport()
    settings = settings or GenerationSettings()
    songs, lyrics, music = song_inputs(model, items, cache, report, progress)
    generated = caption_songs(model, lyrics, music, settings, progress)
    captions = dict(zip(songs, generated, strict=True))
    metrics = score(items, captions, seed, retrieval)
    metrics |= {"split": split, "variant": variant, "seconds": round(time.perf_counter() - started, 1),
                "generation": settings.model_dump()}  # fmt: skip
    if out is not None:
        out = Path(out)
        out.mkdir(parents=True, exist_ok=True)
        with (out / "captions.jsonl").open("w", encoding="utf-8") as handle:
            references: dict[str, list[str]] = {}
            for item in items:
                references.setdefault(item.song_id, []).append(item.text)
            for song, text, caption in zip(songs, lyrics, generated, strict=True):
                row = {"song_id": song, "caption": caption, "references": references.get(song, []), "lyrics": text}
                handle.write(json.dumps(row, ensure_ascii=False) + "\n")
        (out / "metrics.json").write_text(json.dumps(metrics, indent=2) + "\n", encoding="utf-8")
    return Evaluation(metrics, captions, report)
