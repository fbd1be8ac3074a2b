"""The evaluation's small scikit-learn problems with the libraries' thread pools and in one thread.

The quickstart fits the MER probe (logistic regression, ``C`` chosen over 4 values × 5 song-grouped folds:
21 fits per model) and draws a t-SNE map per model. Both are tiny (≈ 130 × 256 train embeddings; ≈ 200
points), so the BLAS and OpenMP pools they run in cost more than they give. This times
:func:`~songalign.evaluate.classify.fit_probe` and :func:`~songalign.evaluate.plots.tsne_map` as the
quickstart calls them, in a process where torch has run (its pool exists, as in the quickstart), with the
pools as they come and inside :func:`~songalign.evaluate.threads.one_thread`, alternating, and checks the
two give the same probe.

    python benchmarks/evaluate_threads.py                 # 3 repeats
"""

from __future__ import annotations

import argparse
import statistics
import time
from contextlib import nullcontext

import numpy as np
import torch
from threadpoolctl import threadpool_limits

import songalign.evaluate.classify as classify
import songalign.evaluate.plots as plots
from songalign.evaluate.classify import fit_probe
from songalign.evaluate.plots import tsne_map


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--train", type=int, default=134, help="train segments the probe is fitted on")
    parser.add_argument("--points", type=int, default=192, help="points of the t-SNE map")
    parser.add_argument("--dim", type=int, default=256)
    args = parser.parse_args()
    torch.set_num_threads(2)
    torch.randn(256, 256) @ torch.randn(256, 256)  # torch's pool as the quickstart has it
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 6, args.train)
    train = rng.standard_normal((args.train, args.dim)).astype(np.float32)
    train[:, :6] += 0.3 * np.eye(6)[labels]
    train /= np.linalg.norm(train, axis=1, keepdims=True)
    groups = [f"song{i // 3}" for i in range(args.train)]
    points = rng.standard_normal((args.points, args.dim)).astype(np.float32)

    times: dict[tuple[str, str], list[float]] = {}
    probes = {}
    for _ in range(args.repeats):
        for name in ("pools of 2", "one thread"):
            # the library enters one_thread itself; for "pools of 2" its name is bound to a no-op meanwhile
            saved = classify.one_thread, plots.one_thread
            if name == "pools of 2":
                classify.one_thread = plots.one_thread = nullcontext
            try:
                with threadpool_limits(limits=2):  # 2 cores: the pools' size by default
                    start = time.perf_counter()
                    probes[name] = fit_probe(train, [str(v) for v in labels], groups)
                    times.setdefault((name, "probe"), []).append(time.perf_counter() - start)
                    start = time.perf_counter()
                    tsne_map(points, 0)
                    times.setdefault((name, "t-SNE"), []).append(time.perf_counter() - start)
            finally:
                classify.one_thread, plots.one_thread = saved
    print(f"probe on {args.train} × {args.dim} (21 fits), t-SNE of {args.points} points; median of {args.repeats}")
    for task in ("probe", "t-SNE"):
        pooled, single = (statistics.median(times[(name, task)]) for name in ("pools of 2", "one thread"))
        print(f"{task}: pools of 2 {pooled:.2f} s, one thread {single:.2f} s, ratio {pooled / single:.2f}")
    same = probes["pools of 2"].cv_accuracy == probes["one thread"].cv_accuracy
    print(f"same probe (C and cross-validated accuracies): {same}")


if __name__ == "__main__":
    main()
