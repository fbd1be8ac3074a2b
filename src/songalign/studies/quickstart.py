"""The main job: seed 000's experiment in miniature, from nothing to a report.

    synthesise a corpus → segments and splits → emotion descriptions
    → pretrain CLAP-pre on music captions → fine-tune CLAP-lyr (lyrics) and CLAP-emo (descriptions)
    → the same CLAP-pre → CLAP-emo on the frozen, pretrained musicnn tower, and the zero-shot tag bridge
    → evaluate the untrained model, all three variants and the musicnn models → report.md + figures + results.json

Every step keeps its output in the working folder and is skipped when that output is already
there, so an interrupted quickstart resumes where it stopped (training itself resumes from
its last checkpoint).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from songalign.align.evaluate import Embedded, emotion_labels, evaluate_splits
from songalign.align.model import AlignModel, TowerSpec
from songalign.corpus.info import corpus_stats
from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.synth import ensure_synthetic_corpus
from songalign.describe import DescriberConfig, describe_corpus
from songalign.evaluate.plots import plot_top_k, plot_tsne, tsne_map
from songalign.evaluate.tables import (
    CLASSIFICATION_NOTE,
    LYRIC_CHOICE_NOTE,
    RETRIEVAL_NOTE,
    classification_table,
    lyric_choice_table,
    retrieval_table,
)
from songalign.studies.steps import clap_model, prepared, step, trained
from songalign.towers.musicnn import INSTALL as MUSICNN_INSTALL
from songalign.towers.musicnn import musicnn_available

VARIANTS = ("pre", "emo", "lyr")
"""The seed's three variants, in the order of its Table 1."""

SEED_TABLE_1 = {
    "pre": {"kl": 3.400, "top_k": {1: 1.18, 2: 2.44, 4: 4.76, 8: 9.20}},
    "emo": {"kl": 0.087, "top_k": {1: 0.78, 2: 1.56, 4: 3.13, 8: 6.25}},
    "lyr": {"kl": 3.524, "top_k": {1: 3.55, 2: 6.85, 4: 12.12, 8: 20.49}},
}
"""Seed 000's Table 1 (DALI test split, their pool), for reference beside ours."""


def run_quickstart(
    out: str | Path,
    *,
    songs: int = 64,
    seed: int = 0,
    pool: int = 10,
    draws: int = 5,
    epochs: int | None = None,
    log: Callable[[str], None] = print,
    progress: bool = True,
) -> Path:
    """Run every step into ``out``; returns the path of ``report.md``.

    ``epochs`` overrides the recipes' epoch counts (for a quick look or a smoke test).
    """
    out = Path(out)
    raw, corpus, runs = out / "synth", out / "corpus", out / "runs"
    timings: dict[str, float] = {}

    started = step(log, "1. synthetic corpus")
    ensure_synthetic_corpus(raw, n_songs=songs, seed=seed)
    timings["synthesise"] = time.perf_counter() - started

    started = step(log, "2. segments, splits and emotion descriptions")
    prepared(raw, corpus, seed, progress=progress)
    described = describe_corpus(corpus, "lexicon", config=DescriberConfig(seed=seed), progress=progress)
    timings["prepare + describe"] = time.perf_counter() - started

    models: dict[str, Path] = {}
    for variant in ("pre", "lyr", "emo"):
        started = step(log, f"3. train CLAP-{variant}")
        init = {} if variant == "pre" else {"init_from": models["pre"]}
        models[variant] = clap_model(f"clap_{variant}", runs / variant, corpus, seed, epochs, progress=progress, **init)
        timings[f"train {variant}"] = time.perf_counter() - started

    musicnn_models: dict[str, Path] = {}
    if musicnn_available():
        started = step(log, "3b. CLAP-pre and CLAP-emo on the pretrained musicnn tower; the tag bridge")
        musicnn_models = train_on_musicnn(corpus, runs, seed, epochs, progress)
        timings["musicnn"] = time.perf_counter() - started
    else:
        log(f"(musicnn rows left out: the musicnn wheel is not installed; add them with: {MUSICNN_INSTALL})")

    started = step(log, "4. evaluate")
    _seed_everything(seed)
    # same architecture, random weights, and a logit scale nobody learnt (no "KL at the model's s" for it)
    architecture = AlignModel.from_pretrained(models["pre"]).config.model_copy(update={"logit_scale_trained": False})
    untrained = AlignModel(architecture)
    candidates: dict[str, AlignModel | Path] = {"untrained": untrained, **models, **musicnn_models}
    results: dict[str, dict[str, Any]] = {}
    embeddings: dict[str, Embedded] = {}
    for name, model in candidates.items():
        results[name], embeddings[name] = evaluate_splits(
            model,
            corpus,
            ("test", "val"),
            pool=pool,
            draws=draws,
            seed=seed,
            model_name=f"the {model_label(name)} model",
            trained_songs=set() if name == "untrained" else None,  # random weights have seen no song
        )
    timings["evaluate"] = time.perf_counter() - started

    started = step(log, "5. report")
    results_path = out / "results.json"
    manifest = CorpusManifest.load(corpus)
    summary = {
        "songs": songs,
        "seed": seed,
        "pool": pool,
        "draws": draws,
        "corpus": _corpus_summary(manifest),
        "descriptions": described.to_dict(),
        "results": results,
        "timings_s": timings,
    }
    figures = _figures({n: e for n, e in embeddings.items() if n not in musicnn_models}, runs, out, seed)
    figures["top_k"] = str(write_top_k_chart(summary, out / "figures" / "top_k.png").relative_to(out))
    results_path.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    timings["report"] = time.perf_counter() - started
    report = out / "report.md"
    report.write_text(render_report(summary, figures), encoding="utf-8")
    return report


MUSICNN_VARIANTS = {"emo_musicnn": "CLAP-emo (musicnn)", "bridge": "tag bridge (musicnn)"}
"""The models on the pretrained musicnn tower that the report compares with CLAP-emo on ``cnn``."""


def train_on_musicnn(corpus: Path, runs: Path, seed: int, epochs: int | None, progress: bool) -> dict[str, Path]:
    """CLAP-pre → CLAP-emo with the frozen ``musicnn`` tower in place of ``cnn`` (the same recipes; SpecAugment
    off, since the frozen tower's outputs are computed once), and the zero-shot tag bridge.

    Returns ``{"emo_musicnn": folder, "bridge": folder}``; each step is skipped when its folder exists.
    """
    from songalign.align.pretrained import build_pretrained

    folders = {name: runs / name / "model" for name in ("pre_musicnn", "emo_musicnn", "bridge")}
    steps = (
        ("pre_musicnn", "clap_pre", {"model": {"audio_tower": TowerSpec(name="musicnn")}}),
        ("emo_musicnn", "clap_emo", {"init_from": folders["pre_musicnn"]}),
    )
    for name, recipe_name, extra in steps:
        model = {"freeze": {"audio_tower": True}, **extra.pop("model", {})}
        clap_model(recipe_name, runs / name, corpus, seed, epochs, augment=False, progress=progress, model=model, **extra)
    if not trained(folders["bridge"]):
        build_pretrained("musicnn-bridge", folders["bridge"])
    return {"emo_musicnn": folders["emo_musicnn"], "bridge": folders["bridge"]}


def _seed_everything(seed: int) -> None:
    import torch

    torch.manual_seed(seed)
    np.random.seed(seed)


def _corpus_summary(manifest: CorpusManifest) -> dict[str, Any]:
    stats = corpus_stats(manifest)
    return {
        "songs": stats.songs,
        "segments": stats.segments,
        "splits": dict(stats.splits),
        "hours": round(stats.hours, 3),
        "mean_segment_s": round(stats.mean_segment_duration, 2),
    }


def _figures(embeddings: dict[str, Embedded], runs: Path, out: Path, seed: int) -> dict[str, str]:
    """Loss curves and t-SNE maps of each model's audio embeddings of all segments (paths relative to ``out``)."""
    figures_dir = out / "figures"
    figures_dir.mkdir(parents=True, exist_ok=True)
    figures: dict[str, str] = {}
    for variant in ("pre", "lyr", "emo"):
        curve = runs / variant / "loss.png"
        if curve.is_file():
            shutil.copy(curve, figures_dir / f"loss_{variant}.png")
            figures[f"loss_{variant}"] = f"figures/loss_{variant}.png"
    for name, embedded in embeddings.items():
        labels = emotion_labels(embedded.segments)
        colour_by = {"emotion": labels[0]} if labels else {}
        colour_by["song"] = [s.song_id for s in embedded.segments]
        path = figures_dir / f"tsne_{name}.png"
        plot_tsne(tsne_map(embedded.audio, seed), colour_by, model_label(name), path)
        figures[f"tsne_{name}"] = f"figures/{path.name}"
    return figures


def model_label(name: str) -> str:
    """``CLAP-pre`` for a variant, the name itself otherwise (``untrained``)."""
    return f"CLAP-{name}" if name in VARIANTS else name


def _seed_reference(name: str) -> str:
    seed = SEED_TABLE_1.get(name)
    return f"{seed['kl']:.3f} / " + " / ".join(f"{seed['top_k'][k]:.2f}" for k in (1, 2, 4, 8)) if seed else "—"


def render_report(summary: dict[str, Any], figures: dict[str, str]) -> str:
    """The Markdown report of a quickstart run; its tables are :mod:`songalign.evaluate.tables`'s."""
    results, pool = summary["results"], summary["pool"]
    corpus = summary["corpus"]
    names = ("untrained", *VARIANTS)
    seed_column = {
        "seed 000 on DALI: KL / top-1 / top-2 / top-4 / top-8": {(model_label(n),): _seed_reference(n) for n in names}
    }
    lines = [
        "# songalign quickstart report",
        "",
        'Seed 000\'s experiment ("Learning Audio-Lyric Alignment via Emotional Sentiment") in miniature, on the',
        f"synthetic corpus: {corpus['songs']} songs, {corpus['segments']} segments of {corpus['mean_segment_s']} s on average "
        f"(splits {corpus['splits']}), seed {summary['seed']}. Every number below was measured by this run; the seed's",
        "numbers (DALI, their pool, their scale) are shown for reference only — the corpora differ.",
        "",
        f"## 1. Lyric choice (seed 000, Table 1 shape): test split, pools of {pool}, {summary['draws']} seeded draws",
        "",
        LYRIC_CHOICE_NOTE + " A split with fewer segments than the pool is ranked whole (pool `all`). The seed's "
        "KL column is from its authors' code, which computes KL lyric‖audio.",
        "",
    ]
    sampled = {(model_label(n),): results[n]["test"]["lyric_choice"][f"pool_{pool}"] for n in names}
    whole = {(model_label(n),): results[n]["test"]["lyric_choice"]["pool_all"] for n in names}
    if all(result["pool"] == "all" for result in sampled.values()):  # a small split: both are the whole split
        lines += [*lyric_choice_table(whole, ("model",), seed_column), ""]
    else:
        lines += [
            *lyric_choice_table(sampled, ("model",), seed_column),
            "",
            "With the whole test split as the pool:",
            "",
        ]
        lines += [*lyric_choice_table(whole, ("model",), seed_column), ""]
    lines += ["## 2. Each fine-tuned variant against CLAP-pre on its own target", ""]
    lines += [
        "| variant | target | split | pool | metric | variant | CLAP-pre | untrained | chance | variant − pre |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for variant, kind in (("lyr", "lyrics"), ("emo", "description")):
        for split in ("test", "val"):
            for metric in ("R@1", "R@5", "MRR"):
                figures_of = {n: results[n][split]["retrieval"][kind]["audio_to_text"] for n in names}
                ours, pre, base = (figures_of[n][metric] for n in (variant, "pre", "untrained"))
                chance, size = figures_of[variant][f"chance_{metric}"], figures_of[variant]["pool"]
                lines.append(
                    f"| CLAP-{variant} | audio → {kind} | {split} | {size:.0f} | {metric} | {ours:.2f} | {pre:.2f} | "
                    f"{base:.2f} | {chance:.2f} | {ours - pre:+.2f} |"
                )
    lines += ["", "## 3. Retrieval (test split, audio → text)", "", RETRIEVAL_NOTE, ""]
    lines += retrieval_table(
        {
            (model_label(n), kind): directions["audio_to_text"]
            for n in names
            for kind, directions in results[n]["test"]["retrieval"].items()
        },
        ("model", "text"),
    )
    lines += ["", "## 4. Zero-shot classification and the MER linear probe (test split)", "", CLASSIFICATION_NOTE, ""]
    rows = {}
    for n in names:
        test = results[n]["test"]
        rows |= {(model_label(n), f"zero-shot {label}"): m for label, m in test.get("zero_shot", {}).items()}
        rows |= {(model_label(n), f"probe {label}"): m for label, m in test.get("probe", {}).items()}
    lines += classification_table(rows, ("model", "task"))
    lines += musicnn_section(results, pool)
    lines += ["", "## 5. Figures", ""]
    for key, path in figures.items():
        lines.append(f"![{key}]({path})")
    timings = summary["timings_s"]
    lines += ["", "## 6. Run", "", "| step | seconds |", "|---|---|"]
    lines += [f"| {step} | {seconds:.1f} |" for step, seconds in timings.items()]
    lines += ["", "All numbers: `results.json`. Per-variant pages: `songalign evaluate RUN/model --corpus CORPUS`.", ""]
    return "\n".join(lines)


def musicnn_section(results: dict[str, dict[str, Any]], pool: int) -> list[str]:
    """The report's comparison of CLAP-emo on ``cnn``, CLAP-emo on the pretrained ``musicnn`` tower and the
    zero-shot tag bridge (test split); nothing when the run had no musicnn models."""
    present = [name for name in MUSICNN_VARIANTS if name in results]
    if not present:
        return []
    labels = {"emo": "CLAP-emo (cnn)", **MUSICNN_VARIANTS}
    names = ["emo", *present]
    lines = [
        "",
        "## 4b. A tower pretrained on real music: musicnn",
        "",
        "CLAP-emo trained with the frozen `musicnn` tower (MSD_musicnn's 200-d penultimate layer, the musicnn "
        "wheel's weights) in place of `cnn`, through the same CLAP-pre → CLAP-emo recipes (SpecAugment off: "
        "the frozen tower's outputs are computed once), and the tag bridge (`songalign models build "
        "musicnn-bridge`: musicnn's tag probabilities against MiniLM similarities between the text and the "
        "tag names; nothing trained, a reference row). Test split; the synthetic songs are far from the "
        "Last.fm music musicnn learnt from, so read these against chance, not as what musicnn does on real songs.",
        "",
        f"Lyric choice, pools of {pool}:",
        "",
    ]
    sampled = {(labels[n],): results[n]["test"]["lyric_choice"][f"pool_{pool}"] for n in names}
    lines += [*lyric_choice_table(sampled, ("model",)), "", "Zero-shot classification (test split):", ""]
    rows = {(labels[n], label): m for n in names for label, m in results[n]["test"].get("zero_shot", {}).items()}
    lines += [*classification_table(rows, ("model", "task")), "", "Audio → description retrieval (test split):", ""]
    retrieval = {(labels[n],): results[n]["test"]["retrieval"]["description"]["audio_to_text"] for n in names}
    lines += retrieval_table(retrieval, ("model",))
    return lines


def headline_figures(summary: dict[str, Any]) -> dict[str, float]:
    """The figures of a quickstart's ``results.json`` that its regression test pins, by path.

    Paths read like ``pre/test/lyric_choice/pool_10/top_1``: per model and split, the lyric-choice
    KL in both directions (``kl``: audio‖lyric, ``kl_lyric_audio``: lyric‖audio; at s = 1 and at the
    model's scale, ``…_model_scale``) and top-k means, R@1, R@5 and MRR of every retrieval,
    zero-shot and probe accuracies; plus the corpus's song and segment counts.
    """
    corpus = summary["corpus"]
    figures = {"corpus/songs": float(corpus["songs"]), "corpus/segments": float(corpus["segments"])}
    figures |= {f"corpus/splits/{split}": float(count) for split, count in corpus["splits"].items()}
    for name, splits in summary["results"].items():
        for split, result in splits.items():
            at = f"{name}/{split}"
            for key, protocol in result["lyric_choice"].items():
                for kl in ("kl", "kl_model_scale", "kl_lyric_audio", "kl_lyric_audio_model_scale"):
                    if protocol.get(kl):
                        figures[f"{at}/lyric_choice/{key}/{kl}"] = protocol[kl]["mean"]
                figures |= {f"{at}/lyric_choice/{key}/top_{k}": e["mean"] for k, e in protocol["top_k"].items()}
            for kind, directions in result["retrieval"].items():
                for direction, metrics in directions.items():
                    figures |= {f"{at}/retrieval/{kind}/{direction}/{m}": metrics[m] for m in ("R@1", "R@5", "MRR")}
            for task in ("zero_shot", "probe"):
                for label, metrics in result.get(task, {}).items():
                    if "accuracy" in metrics:
                        figures[f"{at}/{task}/{label}/accuracy"] = metrics["accuracy"]
    return figures


def write_top_k_chart(summary: dict[str, Any], out: Path) -> Path:
    """The top-k bar chart of the lyric-choice protocol across variants."""
    pool = summary["pool"]
    top_k = {
        name: {
            int(k): v["mean"]
            for k, v in summary["results"][name]["test"]["lyric_choice"][f"pool_{pool}"]["top_k"].items()
        }
        for name in ("untrained", *VARIANTS)
    }
    return plot_top_k(top_k, out, title=f"Lyric choice, pool of {pool} (test)")
