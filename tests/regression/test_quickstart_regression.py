"""The quickstart's figures against stored reference values (open-unmix style).

A change that moves the quickstart's numbers must say so: regenerate the reference knowingly with
``python tests/regression/make_quickstart_reference.py`` and commit the new JSON with the reason.
"""

from __future__ import annotations

import json

import pytest
from make_quickstart_reference import COMMAND, REFERENCE, measure, moved_figures


@pytest.mark.slow
def test_quickstart_figures_match_the_stored_reference():
    reference = json.loads(REFERENCE.read_text(encoding="utf-8"))
    figures = measure(reference["settings"])
    expected = reference["figures"]
    assert figures.keys() == expected.keys(), (
        f"the quickstart now reports {sorted(figures.keys() - expected.keys())[:5]} and no longer "
        f"{sorted(expected.keys() - figures.keys())[:5]}; if that is intended, regenerate the reference with `{COMMAND}`"
    )
    moved = moved_figures(expected, figures)
    examples = "; ".join(f"{path}: {old:.4f} -> {new:.4f}" for path, (old, new) in sorted(moved.items())[:5])
    assert not moved, (
        f"{len(moved)} of {len(expected)} quickstart figures moved from the stored reference ({examples}); "
        f"if the change is meant to move them, regenerate the reference with `{COMMAND}` and say why in the commit"
    )
