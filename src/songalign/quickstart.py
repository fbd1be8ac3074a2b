"""The main job: seed 000's experiment in miniature, from nothing to a report.

    synthesise a corpus → segments and splits → emotion descriptions
    → pretrain CLAP-pre on music captions → fine-tune CLAP-lyr (lyrics) and CLAP-emo (descriptions)
    → evaluate the untrained model and all three variants → report.md + figures + results.json

Every step keeps its output in the working folder and is skipped when that output is already
there, so an interrupted quickstart resumes where it stopped (training itself resumes from
its last checkpoint).
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from importlib.resources import files
from pathlib import Path
from typing import Any

import numpy as np

from songalign.align.model import AlignModel
from songalign.align.train import load_recipe, train
from songalign.corpus.info import corpus_stats
from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.prepare import prepare_corpus
from songalign.corpus.segmenter import SplitConfig
from songalign.corpus.synth import ensure_synthetic_corpus
from songalign.describe import DescriberConfig, describe_corpus
from songalign.evaluate.plots import plot_top_k, plot_tsne, tsne_map
from songalign.evaluate.run import Embedded, emotion_labels, evaluate_splits

VARIANTS = ("pre", "emo", "lyr")
"""The seed's three variants, in the order of its Table 1."""

SEED_TABLE_1 = {
    "pre": {"kl": 3.400, "top_k": {1: 1.18, 2: 2.44, 4: 4.76, 8: 9.20}},
    "emo": {"kl": 0.087, "top_k": {1: 0.78, 2: 1.56, 4: 3.13, 8: 6.25}},
    "lyr": {"kl": 3.524, "top_k": {1: 3.55, 2: 6.85, 4: 12.12, 8: 20.49}},
}
"""Seed 000's Table 1 (DALI test split, their pool), for reference beside ours."""

TARGET_OF = {"pre": "caption", "lyr": "lyrics", "emo": "description"}

QUICKSTART_SPLIT = SplitConfig(train=0.7, val=0.15, test=0.15)
"""Larger evaluation splits than the usual 80/10/10: with 64 songs, 10 songs (~30 segments) each."""


def recipe_path(name: str) -> Path:
    """The packaged recipe ``configs/<name>.yaml``."""
    return Path(str(files("songalign") / "configs" / f"{name}.yaml"))


def _step(log: Callable[[str], None], title: str) -> float:
    log(title)
    return time.perf_counter()


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

    started = _step(log, "1. synthetic corpus")
    ensure_synthetic_corpus(raw, n_songs=songs, seed=seed)
    timings["synthesise"] = time.perf_counter() - started

    started = _step(log, "2. segments, splits and emotion descriptions")
    if not (corpus / "segments.parquet").is_file():
        prepare_corpus(
            "jamendo", raw, corpus, split=QUICKSTART_SPLIT.model_copy(update={"seed": seed}), progress=progress
        )
    described = describe_corpus(corpus, "lexicon", config=DescriberConfig(seed=seed), progress=progress)
    timings["prepare + describe"] = time.perf_counter() - started

    models: dict[str, Path] = {}
    for variant in ("pre", "lyr", "emo"):
        started = _step(log, f"3. train CLAP-{variant}")
        overrides = [f"data.corpus={corpus}", f"out={runs / variant}", f"train.seed={seed}"]
        if epochs is not None:
            overrides.append(f"train.epochs={epochs}")
        if variant != "pre":
            overrides.append(f"init_from={models['pre']}")
        folder = runs / variant / "model"
        models[variant] = (
            folder
            if (folder / "model.safetensors").is_file()
            else train(load_recipe(recipe_path(f"clap_{variant}"), overrides), progress=progress)
        )
        timings[f"train {variant}"] = time.perf_counter() - started

    started = _step(log, "4. evaluate")
    _seed_everything(seed)
    untrained = AlignModel(AlignModel.from_pretrained(models["pre"]).config)  # same architecture, random weights
    candidates: dict[str, AlignModel | Path] = {"untrained": untrained, **models}
    results: dict[str, dict[str, Any]] = {}
    embeddings: dict[str, Embedded] = {}
    for name, model in candidates.items():
        results[name], embeddings[name] = evaluate_splits(
            model, corpus, ("test", "val"), pool=pool, draws=draws, seed=seed
        )
    timings["evaluate"] = time.perf_counter() - started

    started = _step(log, "5. report")
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
    figures = _figures(embeddings, runs, out, seed)
    figures["top_k"] = str(write_top_k_chart(summary, out / "figures" / "top_k.png").relative_to(out))
    results_path.write_text(json.dumps(summary, indent=2, default=str) + "\n", encoding="utf-8")
    timings["report"] = time.perf_counter() - started
    report = out / "report.md"
    report.write_text(render_report(summary, figures), encoding="utf-8")
    return report


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
        plot_tsne(tsne_map(embedded.audio, seed), colour_by, f"CLAP-{name}" if name in VARIANTS else name, path)
        figures[f"tsne_{name}"] = f"figures/{path.name}"
    return figures


def _table_1_row(name: str, protocol: dict[str, Any]) -> str:
    cells = [f"{protocol['kl']['mean']:.3f} ± {protocol['kl']['ci95']:.3f}"]
    cells += [f"{protocol['top_k'][k]['mean']:.1f} ± {protocol['top_k'][k]['ci95']:.1f}" for k in (1, 2, 4, 8)]
    seed = SEED_TABLE_1.get(name)
    reference = f"{seed['kl']:.3f} / " + " / ".join(f"{seed['top_k'][k]:.2f}" for k in (1, 2, 4, 8)) if seed else "—"
    label = f"CLAP-{name}" if name in VARIANTS else name
    return f"| {label} | " + " | ".join(cells) + f" | {reference} |"


def render_report(summary: dict[str, Any], figures: dict[str, str]) -> str:
    """The Markdown report of a quickstart run."""
    results, pool = summary["results"], summary["pool"]
    corpus = summary["corpus"]
    lines = [
        "# songalign quickstart report",
        "",
        'Seed 000\'s experiment ("Learning Audio-Lyric Alignment via Emotional Sentiment") in miniature, on the',
        f"synthetic corpus: {corpus['songs']} songs, {corpus['segments']} segments of {corpus['mean_segment_s']} s on average "
        f"(splits {corpus['splits']}), seed {summary['seed']}. Every number below was measured by this run; the seed's",
        "numbers (DALI, their pool) are shown for reference only — the corpora differ.",
        "",
        f"## 1. Lyric choice (seed 000, Table 1 shape): test split, pool of {pool}, {summary['draws']} draws",
        "",
        "KL = D_KL(P(k|q_audio) ‖ P(k|q_lyric)) in nats; top-k in %; ± is a 95% interval over (query, draw) pairs.",
        "",
        "| model | KL | top-1 | top-2 | top-4 | top-8 | seed 000 on DALI: KL / top-1 / top-2 / top-4 / top-8 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ("untrained", *VARIANTS):
        lines.append(_table_1_row(name, results[name]["test"]["lyric_choice"][f"pool_{pool}"]))
    scale = results["pre"]["test"]["lyric_choice"][f"pool_{pool}"]
    lines += [
        "",
        f"The softmax scale s is each model's own logit scale (CLAP-pre: {scale['scale']:.2f}). With the whole test split as",
        "the pool:",
        "",
        "| model | KL | top-1 | top-2 | top-4 | top-8 | seed 000 |",
        "|---|---|---|---|---|---|---|",
    ]
    for name in ("untrained", *VARIANTS):
        lines.append(_table_1_row(name, results[name]["test"]["lyric_choice"]["pool_all"]))
    lines += ["", "## 2. Each fine-tuned variant against CLAP-pre on its own target", ""]
    lines += [
        "| variant | target | split | metric | variant | CLAP-pre | untrained | variant − pre |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for variant, kind in (("lyr", "lyrics"), ("emo", "description")):
        for split in ("test", "val"):
            for metric in ("R@1", "R@5", "MRR"):
                ours = results[variant][split]["retrieval"][kind]["audio_to_text"][metric]
                pre = results["pre"][split]["retrieval"][kind]["audio_to_text"][metric]
                base = results["untrained"][split]["retrieval"][kind]["audio_to_text"][metric]
                lines.append(
                    f"| CLAP-{variant} | audio → {kind} | {split} | {metric} | {ours:.2f} | {pre:.2f} | {base:.2f} | {ours - pre:+.2f} |"
                )
    lines += ["", "## 3. Retrieval (test split, audio → text)", ""]
    lines += ["| model | text | R@1 | R@5 | R@10 | mAP@10 | MRR | median rank |", "|---|---|---|---|---|---|---|---|"]
    for name in ("untrained", *VARIANTS):
        for kind, directions in results[name]["test"]["retrieval"].items():
            m = directions["audio_to_text"]
            lines.append(
                f"| {name} | {kind} | {m['R@1']:.1f} | {m['R@5']:.1f} | {m['R@10']:.1f} | {m['mAP@10']:.3f} | "
                f"{m['MRR']:.3f} | {m['median_rank']:.0f} |"
            )
    lines += ["", "## 4. Zero-shot classification (test) and the MER linear probe (all segments, folds by song)", ""]
    lines += ["| model | task | accuracy % | macro ROC-AUC | macro PR-AUC |", "|---|---|---|---|---|"]
    for name in ("untrained", *VARIANTS):
        test = results[name]["test"]
        for task, section in (("zero-shot", test.get("zero_shot", {})), ("probe", test.get("probe", {}))):
            for label, m in section.items():
                lines.append(
                    f"| {name} | {task} {label} | {m['accuracy']:.1f} | {m.get('roc_auc_macro', float('nan')):.3f} | "
                    f"{m.get('pr_auc_macro', float('nan')):.3f} |"
                )
    lines += ["", "## 5. Figures", ""]
    for key, path in figures.items():
        lines.append(f"![{key}]({path})")
    timings = summary["timings_s"]
    lines += ["", "## 6. Run", "", "| step | seconds |", "|---|---|"]
    lines += [f"| {step} | {seconds:.1f} |" for step, seconds in timings.items()]
    lines += ["", "All numbers: `results.json`. Per-variant pages: `songalign evaluate RUN/model --corpus CORPUS`.", ""]
    return "\n".join(lines)


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
