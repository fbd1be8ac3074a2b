"""Regenerate the stored values of the quickstart regression test (``quickstart_16_seed0.json``).

    python tests/regression/make_quickstart_reference.py

``test_quickstart_regression.py`` runs the quickstart with the settings stored in that file and
compares what it measures (:func:`measure`) with the stored values, in two parts:

- **The deterministic stages**, exactly: the synthetic corpus, its segments and splits, the
  emotion descriptions and labels (seeded generators and text rules: the same on every CPU), and
  the log-mel features of the first segment of each split (to float32 precision).
- **The trained figures** (:func:`songalign.studies.quickstart.headline_figures`), each within what
  it can legitimately move. Training sums floats in an order that depends on the CPU's kernels, so
  another machine trains slightly different weights, and on 6 test queries a flipped near-tie
  moves a top-k by 17 points. A figure with a 95% interval over its queries (the lyric-choice top-k
  and KL) may move as far as the two runs' intervals allow (they must overlap); a figure without
  one (retrieval, zero-shot, probe: 6 queries each) is only checked to be there.

A change that moves these — synthesis, segmentation, descriptions, training, losses, the evaluation
protocol — must regenerate the file *knowingly*: run this command, read what moved (it prints a
summary, and ``git diff`` shows the rest), say why in the commit, and regenerate the README's tables
from a full quickstart run as well.
"""

from __future__ import annotations

import hashlib
import json
import math
import tempfile
from pathlib import Path
from typing import Any

from songalign.studies.quickstart import headline_figures, run_quickstart

REFERENCE = Path(__file__).with_name("quickstart_16_seed0.json")
COMMAND = "python tests/regression/make_quickstart_reference.py"
SETTINGS = {"songs": 16, "seed": 0}
"""Small enough to run in a few minutes on a laptop CPU, with every step and split present."""

FEATURE_TOLERANCE = 1e-4
"""Relative tolerance of the feature statistics: float32 FFT and matmul results differ between CPUs in
their last bits (2^-23 relative); sums over ~10^5 bins keep that far below 1e-4."""


def _digest(rows: list[Any]) -> str:
    return hashlib.sha256(json.dumps(rows, sort_keys=True, default=str).encode()).hexdigest()


def deterministic_stages(folder: Path) -> dict[str, Any]:
    """What the quickstart in ``folder`` computed before training: corpus, segments, descriptions, features."""
    import numpy as np
    import torch

    from songalign.audio.features import LogMelConfig, log_mel
    from songalign.audio.io import load_audio
    from songalign.corpus.manifest import CorpusManifest

    summary = json.loads((folder / "results.json").read_text(encoding="utf-8"))
    manifest = CorpusManifest.load(folder / "corpus")
    segments = [
        [s.id, s.song_id, s.split, round(float(s.start), 6), round(float(s.end), 6), s.text, s.description, s.labels]
        for s in sorted(manifest.segments, key=lambda s: s.id)
    ]
    songs = [[song.id, song.genre, round(float(song.duration), 6), len(song.words)] for song in manifest.songs]
    descriptions = {key: summary["descriptions"][key] for key in ("segments", "described", "skipped", "agreement")}
    features, config = {}, LogMelConfig()
    for split in ("train", "val", "test"):
        first = manifest.split(split)[0]
        audio, _ = load_audio(first.audio_path, config.sample_rate, offset=first.start, duration=first.end - first.start)
        mel = log_mel(torch.from_numpy(np.asarray(audio, dtype=np.float32)), config).double().numpy()
        features[split] = {"segment": first.id, "mean": float(mel.mean()), "std": float(mel.std())}
    return {
        "corpus": summary["corpus"],
        "songs": _digest(songs),
        "segments": _digest(segments),
        "descriptions": descriptions,
        "features": features,
    }


def figure_intervals(summary: dict[str, Any]) -> dict[str, float]:
    """The 95% interval half-width (over queries) of every headline figure that has one, by the same paths."""
    intervals = {}
    for name, splits in summary["results"].items():
        for split, result in splits.items():
            for key, protocol in result["lyric_choice"].items():
                at = f"{name}/{split}/lyric_choice/{key}"
                for kl in ("kl", "kl_model_scale", "kl_lyric_audio", "kl_lyric_audio_model_scale"):
                    if protocol.get(kl):
                        intervals[f"{at}/{kl}"] = protocol[kl]["ci95"]
                intervals |= {f"{at}/top_{k}": e["ci95"] for k, e in protocol["top_k"].items()}
    return intervals


def measure(settings: dict[str, int]) -> dict[str, Any]:
    """The deterministic stages, the headline figures and their intervals of a fresh quickstart run."""
    with tempfile.TemporaryDirectory() as folder:
        run_quickstart(folder, **settings, log=lambda _: None, progress=False)
        summary = json.loads((Path(folder) / "results.json").read_text(encoding="utf-8"))
        return {
            "deterministic": deterministic_stages(Path(folder)),
            "figures": headline_figures(summary),
            "intervals": figure_intervals(summary),
        }


def changed_stages(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    """The deterministic stages that differ (features within :data:`FEATURE_TOLERANCE`)."""
    changed = [key for key in ("corpus", "songs", "segments", "descriptions") if old[key] != new[key]]
    for split, stats in old["features"].items():
        now = new["features"][split]
        if stats["segment"] != now["segment"] or not all(
            math.isclose(stats[key], now[key], rel_tol=FEATURE_TOLERANCE) for key in ("mean", "std")
        ):
            changed.append(f"features/{split}")
    return changed


def moved_figures(old: dict[str, Any], new: dict[str, Any]) -> dict[str, tuple[float, float]]:
    """The figures with an interval whose old and new 95% intervals do not overlap."""
    moved = {}
    for path, interval in old["intervals"].items():
        if path not in new["figures"]:
            continue
        before, after = old["figures"][path], new["figures"][path]
        allowed = interval + new["intervals"].get(path, 0.0)
        if not abs(after - before) <= allowed + 1e-9 * max(1.0, abs(before)):
            moved[path] = (before, after)
    return moved


def main() -> None:
    measured = measure(SETTINGS)
    if REFERENCE.is_file():
        old = json.loads(REFERENCE.read_text(encoding="utf-8"))
        if "deterministic" in old:
            print(f"deterministic stages changed: {changed_stages(old['deterministic'], measured['deterministic'])}")
            moved = moved_figures(old, measured)
            print(f"{len(moved)} of {len(old['intervals'])} figures with intervals moved beyond them")
            for path, (before, after) in sorted(moved.items())[:20]:
                print(f"  {path}: {before:.4f} -> {after:.4f}")
        figures = old["figures"]
        print(f"{len(measured['figures'].keys() - figures.keys())} new figures, {len(figures.keys() - measured['figures'].keys())} gone")
    reference = {"settings": SETTINGS, "regenerate_with": COMMAND, **measured}
    REFERENCE.write_text(json.dumps(reference, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {REFERENCE}")


if __name__ == "__main__":
    main()
