"""Studies: the four captioners compared on the same data, seed and steps; the α grid search.

:func:`compare_recipes` trains lyrics-only BART, BART-fusion, ALCAP and RECAP from their recipes
(``configs/bart_text.yaml``, ``bart_fusion.yaml``, ``alcap.yaml``, ``recap.yaml``) on the same
prepared corpus, seed and number of optimizer steps, evaluates each on the shared test split,
and writes ``report.md`` (one table, numbers as measured), ``results.json`` and heat maps of the
fusion models' cross-attention on the same test songs. :func:`shuffle_losses` is its test of whether
a model uses the music (and the lyrics): the teacher-forced caption loss with each batch's music
(or lyrics) given to the batch's other songs, against the loss as it is. :func:`run_comparison` first synthesises
and prepares a corpus (its interpretations come from the generator), so the whole study runs
offline.

:func:`alpha_sweep` trains one recipe for each contrastive weight α and tabulates and plots the
scores (ALCAP Fig. 5/6, RECAP Fig. 2).
"""

from __future__ import annotations

import json
import platform
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from songalign.caption.data import CaptionCorpus, CaptionItem
from songalign.caption.evaluate import evaluate_captioner, load_for
from songalign.caption.model import CaptionModel
from songalign.caption.music import build_music_encoder, describe, music_cache_dir, music_features
from songalign.caption.plots import attention_entropy, plot_alpha_sweep, plot_attention_grid
from songalign.caption.train import CaptionRecipe, build_dataset, collate, load_recipe, train
from songalign.checkpoint import read_card
from songalign.corpus.segmenter import SplitConfig
from songalign.errors import SkipReport, SongalignError

RECIPES = ("bart_text", "bart_fusion", "alcap", "recap")
"""The four captioners of the comparison, in table order."""
PACKAGED_CONFIGS = Path(__file__).resolve().parents[1] / "configs"
"""The recipes shipped in the package (``configs/`` in the repository points here)."""

LABELS = {"bart_text": "BART (lyrics only)", "bart_fusion": "BART-fusion (α = 0)", "alcap": "ALCAP", "recap": "RECAP"}

COMPARISON_SPLIT = SplitConfig(train=0.7, val=0.1, test=0.2)
"""Song shares of the synthetic corpus :func:`run_comparison` prepares (seeded with its ``seed``)."""


def _overrides(corpus: Path, out: Path, steps: int | None, seed: int, align_model: Path | None) -> list[str]:
    items = [f"data.corpus={corpus}", f"out={out}", f"train.seed={seed}"]
    if steps is not None:
        items += [f"train.max_steps={steps}", "train.epochs=100000"]
    if align_model is not None:
        items.append(f"model.music_encoder.align_model={align_model}")
    return items


def _metric_cells(metrics: dict[str, Any]) -> list[str]:
    meteor = metrics.get("meteor", metrics.get("meteor_nosyn"))
    cells = [f"{metrics['rouge1']:.1f}", f"{metrics['rouge2']:.1f}", f"{metrics['rougeL']:.1f}", f"{meteor:.1f}"]
    cells += [f"{metrics[f'p@{k}']:.1f}" for k in (5, 10)] + [f"{metrics[f'r@{k}']:.1f}" for k in (5, 10)]
    return cells


def attention_figure(
    models: dict[str, Path], corpus: Path, out: Path, songs: int = 3, cache_dir: Path | None = None
) -> dict[str, float]:
    """Heat maps of the fusion models' cross-attention on the first ``songs`` test songs; returns mean entropies.

    The test songs are those of the first fusion model's split of ``corpus``; every model is shown on them.
    """
    maps, entropies, frame = {}, {}, 0.32
    subset: list[CaptionItem] = []
    for name, folder in models.items():
        model = CaptionModel.from_pretrained(folder)
        if not model.fusion_layers:
            continue
        if not subset:
            first_items: dict[str, CaptionItem] = {}
            for item in load_for(model, corpus, folder).items("test"):
                first_items.setdefault(item.song_id, item)
            subset = list(first_items.values())[:songs]
        encoder = model.config.music_encoder
        tower = build_music_encoder(encoder)
        features = music_features(subset, encoder, cache_dir or music_cache_dir(corpus), SkipReport(), tower, False)
        usable = [i for i in subset if i.song_id in features]
        if not usable:
            continue
        music = torch.from_numpy(np.stack([features[i.song_id] for i in usable])).float()
        frame = encoder.excerpt_seconds / music.shape[1]
        maps[LABELS.get(name, name)] = model.attention_maps([i.lyrics for i in usable], music)
        entropies[name] = attention_entropy(maps[LABELS.get(name, name)])
    if maps:
        plot_attention_grid(maps, out, frame, titles=[i.title or i.song_id for i in subset])
    return entropies


def other_song_order(songs: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
    """A seeded permutation of a batch's rows ``(B,)`` that gives each row another song's row where the batch
    allows it — always when no song holds more than half the batch (items of one song share their music, so a
    plain permutation would often leave a row with its own song's)."""
    order = torch.randperm(len(songs), generator=generator)
    for i in range(len(songs)):
        if songs[order[i]] != songs[i]:
            continue
        for j in range(len(songs)):  # swap with a row whose song differs from both, keeping row j's valid too
            if songs[order[j]] != songs[i] and songs[order[i]] != songs[j]:
                order[[i, j]] = order[[j, i]]
                break
    return order


@torch.no_grad()
def shuffle_losses(
    folder: Path,
    corpus: Path,
    *,
    split: str = "train",
    variant: str = "full",
    batch_size: int = 16,
    seed: int = 0,
    cache_dir: Path | None = None,
) -> dict[str, float]:
    """Does the captioner in ``folder`` use the music and the lyrics? Teacher-forced caption loss on ``split``.

    The items of ``split`` (as the captioner was trained to split ``corpus``) go in seeded batches of
    ``batch_size``; each batch is scored as it is (``loss``), with its music rows permuted among its
    songs (``music_shuffled``, :func:`other_song_order`; absent for a lyrics-only model) and with its
    lyrics permuted the same way (``lyrics_shuffled``). Each is the mean cross-entropy per target token
    (nats), averaged over batches weighted by their size, as the validation loss is; ``moved`` is the share of items that received another song's input. A model that ignores the
    music has ``music_shuffled == loss``.
    """
    model = CaptionModel.from_pretrained(folder).eval()
    items = load_for(model, corpus, folder).items(split, variant)
    features = None
    if model.config.uses_music:
        encoder = model.config.music_encoder
        features = music_features(items, encoder, cache_dir or music_cache_dir(corpus), SkipReport(),
                                  build_music_encoder(encoder), False)  # fmt: skip
    data = build_dataset(model, items, features)
    generator = torch.Generator().manual_seed(seed)
    order = torch.randperm(len(data), generator=generator)
    totals = {"loss": 0.0, "lyrics_shuffled": 0.0} | ({"music_shuffled": 0.0} if features is not None else {})
    moved = 0
    for start in range(0, len(data), batch_size):
        index = order[start : start + batch_size]
        songs = data.song_index[index]
        other = other_song_order(songs, generator)
        moved += int((songs[other] != songs).sum())
        music = data.features[index]
        inputs = {
            "loss": collate(data, index),
            "lyrics_shuffled": collate(data, index, ids=data.text_embeddings[index][other]),
        }
        if features is not None:
            inputs["music_shuffled"] = collate(data, index, music=music[other])
        for name, batch in inputs.items():
            batch = {k: v.to(model.device) for k, v in batch.items()}
            loss = model.losses(batch["input_ids"], batch["attention_mask"], batch["labels"],
                                batch["music"] if features is not None else None, batch["song_index"])  # fmt: skip
            totals[name] += float(loss["caption"]) * len(index)
    means = {name: total / len(data) for name, total in totals.items()}
    return means | {"moved": moved / len(data), "items": len(data)}


def compare_recipes(
    corpus: Path,
    out: Path,
    *,
    configs: Path = PACKAGED_CONFIGS,
    names: Sequence[str] = RECIPES,
    steps: int | None = 300,
    seed: int = 0,
    align_model: Path | None = None,
    extra_overrides: Sequence[str] = (),
    command: str = "",
    progress: bool = True,
) -> dict[str, Any]:
    """Train and evaluate each recipe in ``names`` on the prepared ``corpus`` with the same seed and steps; write the report."""
    out.mkdir(parents=True, exist_ok=True)
    results: dict[str, Any] = {}
    models: dict[str, Path] = {}
    for name in names:
        path = configs / f"{name}.yaml"
        if not path.is_file():
            raise SongalignError(f"{path}: recipe not found; pass --configs with a folder holding {name}.yaml")
        recipe = load_recipe(path, _overrides(corpus, out / name, steps, seed, align_model) + list(extra_overrides))
        started = time.perf_counter()
        models[name] = train(recipe, progress=progress)
        trained = time.perf_counter() - started
        evaluation = evaluate_captioner(models[name], corpus, split="test", settings=recipe.generation,
                                        out=out / name / "eval", cache_dir=recipe.data.cache(), seed=seed,
                                        progress=progress)  # fmt: skip
        card = read_card(models[name])
        shuffles = {
            split: shuffle_losses(models[name], corpus, split=split, variant=recipe.data.variant,
                                  batch_size=recipe.train.batch_size, seed=seed, cache_dir=recipe.data.cache())
            for split in ("train", "test")
        }  # fmt: skip
        results[name] = {
            "metrics": evaluation.metrics,
            "train_seconds": round(trained, 1),
            "steps": card["evaluation"]["steps"],
            "weights": card["evaluation"]["weights"],
            "example": next(iter(evaluation.captions.items())),
            "shuffle": shuffles,
            "music_encoder": describe(recipe.model.music_encoder) if recipe.model.uses_music else None,
        }
    entropies = attention_figure(models, corpus, out / "attention.png")
    for name, value in entropies.items():
        results[name]["attention_entropy"] = value
    (out / "results.json").write_text(json.dumps(results, indent=2, default=str) + "\n", encoding="utf-8")
    split = CaptionCorpus.for_captioner(corpus, align_model, next(iter(models.values())))
    write_report(results, out / "report.md", split, steps, seed, command)
    return results


def _split_words(source: dict[str, Any]) -> str:
    if source.get("source") == "align_model":
        words = f"splits of the music tower's model {source['align_model']}, by song, where it lists the song"
    else:
        words = "the corpus's song-level splits"
    return f"{words}; unchecked: {source['note']}" if source.get("note") else words


def write_report(
    results: dict[str, Any], path: Path, data: CaptionCorpus, steps: int | None, seed: int, command: str
) -> Path:
    """The Markdown report of a comparison on ``data`` (the corpus as the models split it): one table, as measured."""
    first = next(iter(results.values()))["metrics"]
    meteor_name = "METEOR" if "meteor" in first else "METEOR (no synonyms)"
    counts = data.counts()["full"]
    encoders = sorted({json.dumps(r["music_encoder"]) for r in results.values() if r.get("music_encoder")})
    lines = [
        "# Captioning comparison: lyrics-only BART, BART-fusion, ALCAP, RECAP",
        "",
        f"Data: `{data.path}` ({_split_words(data.split_source)}) — {counts['train']} train / {counts['val']} val / {counts['test']} test "
        f"interpretations ({counts['train_songs']} / {counts['val_songs']} / {counts['test_songs']} songs), variant full. "
        f"Same seed ({seed}) and {steps if steps else 'recipe'} optimizer steps for every model; weights with the lowest "
        "validation caption loss.",
        "",
        *([f"Music encoder (frozen, features precomputed): `{'`, `'.join(encoders)}`.", ""] if encoders else []),
        f"| model | R-1 | R-2 | R-L | {meteor_name} | p@5 | p@10 | r@5 | r@10 | attention entropy | train s |",
        "|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name, result in results.items():
        entropy = result.get("attention_entropy")
        cells = _metric_cells(result["metrics"]) + [
            f"{entropy:.2f}" if entropy is not None else "—",
            f"{result['train_seconds']:.0f}",
        ]
        lines.append(f"| {LABELS.get(name, name)} | " + " | ".join(cells) + " |")
    if all("shuffle" in result for result in results.values()):
        lines += [
            "",
            "Shuffle test: teacher-forced caption loss (nats per token) with each batch's music, or its lyrics, given to "
            "the batch's other songs (seeded batches of the recipe's size), against the loss as it is:",
            "",
            "| model | train | music shuffled | lyrics shuffled | test | music shuffled | lyrics shuffled |",
            "|---|---|---|---|---|---|---|",
        ]
        for name, result in results.items():
            cells = []
            for split in ("train", "test"):
                losses = result["shuffle"][split]
                cells += [f"{losses['loss']:.3f}", f"{losses['music_shuffled']:.3f}" if "music_shuffled" in losses
                          else "—", f"{losses['lyrics_shuffled']:.3f}"]  # fmt: skip
            lines.append(f"| {LABELS.get(name, name)} | " + " | ".join(cells) + " |")
        moved = {split: min(r["shuffle"][split]["moved"] for r in results.values()) for split in ("train", "test")}
        if min(moved.values()) < 1.0:  # a batch of mostly one song cannot give every item another song's input
            lines += ["", "Items given another song's input: " + ", ".join(f"{k} {100 * v:.0f} %" for k, v in moved.items())
                      + " (the rest kept their own song's: a shuffled loss there is the loss as it is)."]  # fmt: skip
    pool = int(first["pool"])
    lines += [
        "",
        f"ROUGE and METEOR in %, averaged over {int(first['items'])} test interpretations; METEOR's WordNet: "
        f"`{first.get('wordnet', 'none')}`. Retrieval: one sentence of each reference is the query, the {pool} test songs "
        f"are ranked by Sentence-BERT similarity to their generated captions (p@k, r@k in %; with a pool of {pool} songs "
        f"r@k is 100 for k ≥ {pool}; p@20 and p@30 are in results.json). Attention entropy: mean entropy (nats) of each "
        f"lyrics token's attention over the music frames, last fusion layer (uniform = log of the number of frames).",
        "",
        "Heat maps: `attention.png` (rows: models; columns: test songs; y: lyrics tokens; x: music time).",
        "",
        "Examples (first test song):",
        "",
    ]
    for name, result in results.items():
        song, caption = result["example"]
        shown = caption if len(caption) <= 400 else caption[:400] + " …"
        lines.append(f"- **{LABELS.get(name, name)}** ({song}): {shown}")
    lines += ["", f"Machine: {platform.machine()}, torch {torch.__version__}, {torch.get_num_threads()} threads."]
    if command:
        lines += ["", "Command:", "", "```", command, "```"]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def run_comparison(
    out: Path,
    *,
    songs: int = 48,
    seed: int = 0,
    steps: int | None = 300,
    corpus: Path | None = None,
    configs: Path = PACKAGED_CONFIGS,
    align_model: Path | None = None,
    extra_overrides: Sequence[str] = (),
    command: str = "",
    progress: bool = True,
) -> dict[str, Any]:
    """:func:`compare_recipes` on the prepared ``corpus``, or on a synthetic corpus of ``songs`` songs it
    synthesises (``out/synth``) and prepares (``out/corpus``, :data:`COMPARISON_SPLIT` seeded with ``seed``)."""
    out.mkdir(parents=True, exist_ok=True)
    if corpus is None:
        from songalign.corpus.prepare import prepare_corpus
        from songalign.corpus.synth import ensure_synthetic_corpus

        raw = ensure_synthetic_corpus(out / "synth", n_songs=songs, seed=seed)
        corpus = out / "corpus"
        split = COMPARISON_SPLIT.model_copy(update={"seed": seed})
        prepare_corpus("jamendo", raw, corpus, split=split, progress=progress)  # cheap: re-done, so never stale
    return compare_recipes(corpus, out, configs=configs, steps=steps, seed=seed, align_model=align_model,
                           extra_overrides=extra_overrides, command=command, progress=progress)  # fmt: skip


def alpha_sweep(
    recipe: CaptionRecipe, alphas: Sequence[float], out: Path, *, split: str = "val", progress: bool = True
) -> list[dict[str, Any]]:
    """Train ``recipe`` once per α and score each on ``split``; writes ``alpha_sweep.md``, ``.json`` and ``.png``."""
    if recipe.model.alignment.loss is None:
        raise SongalignError("the α sweep needs a recipe with an alignment loss (alcap.yaml or recap.yaml)")
    out.mkdir(parents=True, exist_ok=True)
    rows = []
    for alpha in alphas:
        variant = recipe.model_copy(deep=True)
        variant.model.alignment.weight = float(alpha)
        variant.out = out / f"alpha_{alpha:g}"
        folder = train(variant, progress=progress)
        evaluation = evaluate_captioner(folder, variant.data.corpus, split=split, variant=variant.data.variant,
                                        settings=variant.generation, out=variant.out / "eval",
                                        cache_dir=variant.data.cache(), seed=variant.train.seed,
                                        progress=progress)  # fmt: skip
        rows.append({"alpha": float(alpha)} | {k: v for k, v in evaluation.metrics.items() if k != "generation"})
    (out / "alpha_sweep.json").write_text(json.dumps(rows, indent=2) + "\n", encoding="utf-8")
    meteor = "meteor" if "meteor" in rows[0] else "meteor_nosyn"
    lines = [
        f"# α sweep: {recipe.name} ({split} split)",
        "",
        f"| α | R-1 | R-2 | R-L | {meteor} | r@5 |",
        "|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(f"| {row['alpha']:g} | {row['rouge1']:.1f} | {row['rouge2']:.1f} | {row['rougeL']:.1f} | "
                     f"{row[meteor]:.1f} | {row['r@5']:.1f} |")  # fmt: skip
    (out / "alpha_sweep.md").write_text("\n".join(lines) + "\n", encoding="utf-8")
    plot_alpha_sweep(rows, out / "alpha_sweep.png")
    return rows
