"""Regenerate the stored figures of the quickstart regression test (``quickstart_16_seed0.json``).

    python tests/regression/make_quickstart_reference.py

``test_quickstart_regression.py`` runs the quickstart with the settings stored in that file and
compares its figures (:func:`songalign.studies.quickstart.headline_figures`) with the stored ones. A
change that moves them — training, losses, segmentation, descriptions, the evaluation protocol —
must regenerate the file *knowingly*: run this command, read what moved (it prints a summary,
and ``git diff`` shows the rest), say why in the commit, and regenerate the README's tables from
a full quickstart run as well.
"""

from __future__ import annotations

import json
import math
import tempfile
from pathlib import Path

from songalign.studies.quickstart import headline_figures, run_quickstart

REFERENCE = Path(__file__).with_name("quickstart_16_seed0.json")
COMMAND = "python tests/regression/make_quickstart_reference.py"
SETTINGS = {"songs": 16, "seed": 0}
"""Small enough to run in about a minute on a laptop CPU, with every step and split present."""


def measure(settings: dict[str, int]) -> dict[str, float]:
    """The headline figures of a fresh quickstart run with ``settings`` (in a temporary folder)."""
    with tempfile.TemporaryDirectory() as folder:
        run_quickstart(folder, **settings, log=lambda _: None, progress=False)
        return headline_figures(json.loads((Path(folder) / "results.json").read_text(encoding="utf-8")))


RELATIVE_TOLERANCE = 1e-3
ABSOLUTE_TOLERANCE = 1e-6
"""The run is seeded and deterministic on a CPU: only float noise may differ (KL at s = 1 is ~1e-3 nats)."""


def moved_figures(old: dict[str, float], new: dict[str, float]) -> dict[str, tuple[float, float]]:
    """The figures present in both whose values differ by more than the tolerances."""
    return {
        path: (old[path], new[path])
        for path in old.keys() & new.keys()
        if not math.isclose(old[path], new[path], rel_tol=RELATIVE_TOLERANCE, abs_tol=ABSOLUTE_TOLERANCE)
    }


def main() -> None:
    figures = measure(SETTINGS)
    if REFERENCE.is_file():
        old = json.loads(REFERENCE.read_text(encoding="utf-8"))["figures"]
        moved = moved_figures(old, figures)
        print(
            f"{len(moved)} of {len(old)} figures moved; {len(figures.keys() - old.keys())} new, "
            f"{len(old.keys() - figures.keys())} gone"
        )
        for path, (before, after) in sorted(moved.items())[:20]:
            print(f"  {path}: {before:.4f} -> {after:.4f}")
    reference = {"settings": SETTINGS, "regenerate_with": COMMAND, "figures": figures}
    REFERENCE.write_text(json.dumps(reference, indent=1, sort_keys=True) + "\n", encoding="utf-8")
    print(f"wrote {REFERENCE}")


if __name__ == "__main__":
    main()
