"""The quickstart against stored reference values, in a way that holds on any CPU (open-unmix style).

What it guards against: an unintended change to what the quickstart computes. The deterministic
stages — the synthetic corpus, its segments and splits, the emotion descriptions and labels, the
log-mel features — must be exactly as stored (features to float32 precision). The trained figures
depend on the CPU's floating-point kernels (another machine trains slightly different weights), so
each lyric-choice figure must stay consistent with the stored one: their 95% intervals over the
queries overlap. A broken loss or protocol (a model at chance with a tight interval where it used to
be far above) fails; float noise on another machine does not. See ``make_quickstart_reference.py``.

A change that moves these values must say so: regenerate the reference knowingly with
``python tests/regression/make_quickstart_reference.py`` and commit the new JSON with the reason.
"""

from __future__ import annotations

import json

import pytest
from make_quickstart_reference import COMMAND, REFERENCE, changed_stages, measure, moved_figures


@pytest.mark.slow
def test_quickstart_matches_the_stored_reference():
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    measured = measure(reference["settings"])
    changed = changed_stages(reference["deterministic"], measured["deterministic"])
    assert not changed, (
        f"the quickstart's deterministic stages changed: {', '.join(changed)}; if that is intended, regenerate "
        f"the reference with `{COMMAND}` and say why in the commit"
    )
    figures, expected = measured["figures"], reference["figures"]
    assert figures.keys() == expected.keys(), (
        f"the quickstart now reports {sorted(figures.keys() - expected.keys())[:5]} and no longer "
        f"{sorted(expected.keys() - figures.keys())[:5]}; if that is intended, regenerate the reference with `{COMMAND}`"
    )
    moved = moved_figures(reference, measured)
    examples = "; ".join(f"{path}: {old:.4f} -> {new:.4f}" for path, (old, new) in sorted(moved.items())[:5])
    assert not moved, (
        f"{len(moved)} of {len(reference['intervals'])} lyric-choice figures moved beyond their 95% intervals "
        f"({examples}); if the change is meant to move them, regenerate the reference with `{COMMAND}` and say why"
    )


def test_a_figure_moves_only_when_the_two_intervals_do_not_overlap():
    old = {"figures": {"a/top_1": 50.0, "b/top_1": 100.0, "c/kl": 0.2}, "intervals": {"a/top_1": 20.0, "b/top_1": 0.0, "c/kl": 0.01}}
    new = {"figures": {"a/top_1": 16.7, "b/top_1": 83.3, "c/kl": 0.5}, "intervals": {"a/top_1": 14.0, "b/top_1": 32.7, "c/kl": 0.02}}
    # a: 33.3 apart, intervals 20 + 14 = 34 (overlap); b: 16.7 apart, 0 + 32.7 (overlap); c: 0.3 apart, 0.03 (moved)
    assert moved_figures(old, new) == {"c/kl": (0.2, 0.5)}
    stages = {"corpus": {"songs": 16}, "songs": "x", "segments": "y", "descriptions": {}, "features": {
        "test": {"segment": "s1", "mean": -4.0, "std": 2.0}}}  # fmt: skip
    assert changed_stages(stages, stages) == []
    drifted = {**stages, "features": {"test": {"segment": "s1", "mean": -4.0 * (1 + 1e-6), "std": 2.0}}}
    assert changed_stages(stages, drifted) == []  # float32 noise in the features
    changed = {**stages, "segments": "z", "features": {"test": {"segment": "s1", "mean": -4.1, "std": 2.0}}}
    assert changed_stages(stages, changed) == ["segments", "features/test"]
