"""Evaluate one alignment model on a prepared corpus: every protocol, one JSON, one Markdown page.

``evaluate_model(model, corpus, split="test")`` computes, on the segments of ``split``:

- the seed-000 lyric-choice protocol (KL, top-1/2/4/8) with pools of ``pool`` candidates and
  with the whole split as the pool;
- retrieval in both directions (R@1/5/10, P@k, mAP@10, MRR, median rank) of audio against the
  segments' lyrics, emotion descriptions and music captions, where the corpus has them;
- zero-shot classification of the emotion (reference labels where the corpus has them,
  otherwise the describer's) and of the genre from prompts;
- a linear probe (MER) on the frozen audio embeddings of *all* segments, cross-validated with
  folds grouped by song.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch

from songalign.align.data import segment_features, text_embeddings
from songalign.align.model import AlignModel
from songalign.audio.cache import FeatureCache
from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.records import Segment
from songalign.errors import SkipReport, SongalignError
from songalign.evaluate.classify import DEFAULT_TEMPLATES, linear_probe, zero_shot
from songalign.evaluate.protocol import lyric_choice
from songalign.evaluate.retrieval import both_directions

EMOTION_KEYS = ("ref_emotion", "emotion")


@dataclass
class Embedded:
    """Normalised embeddings of segments: ``audio (N, D)`` and per text kind ``(N, D)``."""

    segments: list[Segment]
    audio: np.ndarray
    texts: dict[str, tuple[list[str], np.ndarray]] = field(default_factory=dict)

    def select(self, ids: set[str]) -> Embedded:
        """The segments whose id is in ``ids``, in the same order."""
        keep = [i for i, s in enumerate(self.segments) if s.id in ids]
        texts = {kind: ([names[i] for i in keep], vectors[keep]) for kind, (names, vectors) in self.texts.items()}
        return Embedded([self.segments[i] for i in keep], self.audio[keep], texts)


def embed_segments(model: AlignModel, segments: list[Segment], cache_dir: Path, progress: bool = False) -> Embedded:
    """Audio embeddings of the segments' windows and text embeddings of their lyrics, descriptions, captions."""
    cache = FeatureCache(cache_dir)
    kept, features = segment_features(model, segments, cache, SkipReport(), progress)
    if not kept:
        raise SongalignError("no segment with readable audio to evaluate")
    model.eval()
    with torch.no_grad():
        audio = torch.cat([model.project_audio(features[i : i + 64]) for i in range(0, len(kept), 64)]).numpy()
    result = Embedded(kept, audio)
    for kind, getter in (
        ("lyrics", lambda s: s.text),
        ("description", lambda s: s.description),
        ("caption", lambda s: s.caption),
    ):
        texts = [getter(s) for s in kept]
        if all(t.strip() for t in texts):
            with torch.no_grad():
                projected = model.project_text(text_embeddings(model, texts, cache)).numpy()
            result.texts[kind] = (texts, projected)
    return result


def emotion_labels(segments: list[Segment]) -> tuple[list[str], str] | None:
    """Each segment's emotion label and the key it came from (reference labels first)."""
    for key in EMOTION_KEYS:
        labels = [s.labels.get(key) for s in segments]
        if all(isinstance(label, str) and label for label in labels):
            return labels, key
    return None


def logit_scale_of(model: AlignModel) -> float | None:
    """The model's logit scale s, or None when its training loss had none (the protocol then uses 1)."""
    return float(model.scale.detach()) if model.config.logit_scale_trained else None


def evaluate_model(
    model: AlignModel | str | Path,
    corpus: str | Path,
    *,
    split: str = "test",
    pool: int = 10,
    draws: int = 5,
    seed: int = 0,
    templates: tuple[str, ...] = DEFAULT_TEMPLATES,
    progress: bool = False,
) -> dict[str, Any]:
    """All figures for ``model`` on ``split`` of ``corpus`` (see the module docstring), as a JSON-able dict."""
    results, _ = evaluate_splits(
        model, corpus, (split,), pool=pool, draws=draws, seed=seed, templates=templates, progress=progress
    )
    return results[split]


def evaluate_splits(
    model: AlignModel | str | Path,
    corpus: str | Path,
    splits: tuple[str, ...] = ("test",),
    *,
    pool: int = 10,
    draws: int = 5,
    seed: int = 0,
    templates: tuple[str, ...] = DEFAULT_TEMPLATES,
    progress: bool = False,
) -> tuple[dict[str, dict[str, Any]], Embedded]:
    """:func:`evaluate_model` for several splits at once, embedding every segment once.

    Returns the figures per split and the embeddings of all segments (for plots). The probe,
    which uses all segments, is computed once and shared by the splits.
    """
    model = AlignModel.load(model)
    manifest = CorpusManifest.load(corpus)
    members = {split: {s.id for s in manifest.split(split)} for split in splits}
    for split, ids in members.items():
        if len(ids) < 2:
            raise SongalignError(
                f"the '{split}' split of {corpus} has {len(ids)} segment(s); evaluation needs 2 or more"
            )
    everything = embed_segments(model, manifest.segments, Path(corpus) / ".cache" / "features", progress)
    probe = _probe(everything, seed)
    results = {}
    for split in splits:
        embedded = everything.select(members[split])
        if len(embedded.segments) < 2:
            raise SongalignError(f"fewer than 2 segments of the '{split}' split of {corpus} have readable audio")
        result = _split_figures(model, manifest, embedded, pool=pool, draws=draws, seed=seed, templates=templates)
        results[split] = {"split": split} | result | ({"probe": probe} if probe else {})
    return results, everything


def _probe(everything: Embedded, seed: int) -> dict[str, Any]:
    emotions = emotion_labels(everything.segments)
    if not emotions:
        return {}
    probe = linear_probe(everything.audio, emotions[0], [s.song_id for s in everything.segments], seed=seed)
    return {"emotion": probe | {"segments": len(everything.segments), "label_source": emotions[1]}}


def _split_figures(
    model: AlignModel,
    manifest: CorpusManifest,
    embedded: Embedded,
    *,
    pool: int,
    draws: int,
    seed: int,
    templates: tuple[str, ...],
) -> dict[str, Any]:
    """Lyric choice, retrieval and zero-shot figures on one split's embeddings."""
    scale = logit_scale_of(model)
    result: dict[str, Any] = {"segments": len(embedded.segments), "seed": seed}
    lyrics_texts, lyrics = embedded.texts["lyrics"]
    result["lyric_choice"] = {
        f"pool_{pool}": lyric_choice(
            embedded.audio, lyrics, lyrics_texts, pool=pool, draws=draws, seed=seed, scale=scale
        ).to_dict(),
        "pool_all": lyric_choice(embedded.audio, lyrics, lyrics_texts, pool="all", seed=seed, scale=scale).to_dict(),
    }
    result["retrieval"] = {
        kind: both_directions(embedded.audio, vectors, texts) for kind, (texts, vectors) in embedded.texts.items()
    }
    emotions = emotion_labels(embedded.segments)
    result["zero_shot"] = {}
    if emotions:
        vocabulary = sorted(set(emotions[0]))
        result["zero_shot"]["emotion"] = zero_shot(embedded.audio, emotions[0], vocabulary, model.embed_text, templates)
        result["zero_shot"]["emotion"]["label_source"] = emotions[1]
    genres = [manifest.song(s.song_id).genre for s in embedded.segments]
    if all(genres) and len(set(genres)) > 1:
        result["zero_shot"]["genre"] = zero_shot(
            embedded.audio, genres, sorted(set(genres)), model.embed_text, templates
        )
    return result


def to_markdown(result: dict[str, Any], title: str = "Evaluation") -> str:
    """A readable page of the figures in ``result`` (from :func:`evaluate_model`)."""
    lines = [f"# {title}", "", f"Split `{result['split']}`, {result['segments']} segments, seed {result['seed']}.", ""]
    lines += [
        "## Lyric choice (seed 000 protocol)",
        "",
        "| pool | KL | top-1 % | top-2 % | top-4 % | top-8 % | s |",
        "|---|---|---|---|---|---|---|",
    ]
    for protocol in result["lyric_choice"].values():
        cells = [f"{protocol['kl']['mean']:.3f} ± {protocol['kl']['ci95']:.3f}"]
        cells += [
            f"{protocol['top_k'][k]['mean']:.1f} ± {protocol['top_k'][k]['ci95']:.1f}"
            for k in sorted(protocol["top_k"], key=int)
        ]
        lines.append(
            f"| {protocol['pool']} | "
            + " | ".join(cells)
            + f" | {protocol['scale']:.2f} ({protocol['scale_source']}) |"
        )
    lines += [
        "",
        "## Retrieval",
        "",
        "| text | direction | R@1 | R@5 | R@10 | mAP@10 | MRR | median rank |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for kind, directions in result["retrieval"].items():
        for direction, m in directions.items():
            lines.append(
                f"| {kind} | {direction.replace('_', ' ')} | {m['R@1']:.1f} | {m['R@5']:.1f} | {m['R@10']:.1f} | "
                f"{m['mAP@10']:.3f} | {m['MRR']:.3f} | {m['median_rank']:.0f} |"
            )
    if result.get("zero_shot") or result.get("probe"):
        lines += [
            "",
            "## Classification",
            "",
            "| task | accuracy % | macro ROC-AUC | macro PR-AUC |",
            "|---|---|---|---|",
        ]
        for name, section in (("zero-shot", result.get("zero_shot", {})), ("linear probe", result.get("probe", {}))):
            for label, m in section.items():
                lines.append(
                    f"| {name} {label} | {m['accuracy']:.1f} | {m.get('roc_auc_macro', float('nan')):.3f} | "
                    f"{m.get('pr_auc_macro', float('nan')):.3f} |"
                )
    return "\n".join(lines) + "\n"


def write_evaluation(result: dict[str, Any], out: str | Path, title: str = "Evaluation") -> tuple[Path, Path]:
    """Write ``evaluation.json`` and ``evaluation.md`` into ``out``."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    json_path, md_path = out / "evaluation.json", out / "evaluation.md"
    json_path.write_text(json.dumps(result, indent=2) + "\n", encoding="utf-8")
    md_path.write_text(to_markdown(result, title), encoding="utf-8")
    return json_path, md_path
