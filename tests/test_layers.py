"""The floors of the code (pyproject.toml's import-linter contract) hold, and the contract would catch a break."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import songalign

ROOT = Path(__file__).resolve().parents[1]
LINT_IMPORTS = Path(sys.executable).with_name("lint-imports")


def lint(package_parent: Path | None = None) -> subprocess.CompletedProcess:
    """``lint-imports`` with the project's contract, on the songalign found first on ``package_parent``."""
    env = {**os.environ}
    if package_parent is not None:
        env["PYTHONPATH"] = str(package_parent)
    command = [str(LINT_IMPORTS), "--config", str(ROOT / "pyproject.toml"), "--no-cache", "--no-logo"]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=300)


def test_every_package_imports_only_from_the_floors_below_it():
    done = lint()
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 kept, 0 broken" in done.stdout


def test_an_import_up_the_floors_breaks_the_contract(tmp_path):
    # the corpus layer reaching up into a task, as the folder reader once did for its aligner
    copy = tmp_path / "songalign"
    shutil.copytree(Path(songalign.__file__).parent, copy, ignore=shutil.ignore_patterns("__pycache__"))
    with (copy / "corpus" / "records.py").open("a", encoding="utf-8") as handle:
        handle.write("\nimport songalign.transcribe.listen  # noqa: E402\n")
    done = lint(tmp_path)
    assert done.returncode != 0
    assert "songalign.corpus is not allowed to import songalign.transcribe" in done.stdout
    assert "songalign.corpus.records -> songalign.transcribe.listen" in done.stdout
