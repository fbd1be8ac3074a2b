"""``songalign tag``: musicnn's tags of audio files, per file and over time (HEAR-style timestamps).

:func:`tag_files` decodes each file at 16 kHz with the one loader, runs a ported musicnn
tagger (:mod:`songalign.towers.musicnn`) over its 3 s patches, and returns one
:class:`FileTags` per file: the tag probabilities of every patch with the patch's start, end
and centre in seconds, and the file's mean. Files that do not decode are skipped and reported;
the rest are tagged. :func:`write_tags` writes the result as CSV (one row per patch) or JSON.
"""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from songalign.audio.io import load_audio
from songalign.errors import BadInputError, SkipReport, SongalignError
from songalign.towers.musicnn import (
    DEFAULT_MODEL,
    FRAME_SECONDS,
    PATCH_FRAMES,
    SAMPLE_RATE,
    MusicnnTagger,
    Taggram,
    musicnn_tagger,
)

if TYPE_CHECKING:
    from songalign.towers.musicnn.onnx import OnnxTagger

PATCH_SECONDS = PATCH_FRAMES * FRAME_SECONDS
"""The span one patch hears: 187 frames of 16 ms (2.99 s)."""
FORMATS = ("table", "csv", "json")


@dataclass
class FileTags:
    """The tags of one file: its ``taggram`` (per patch) and length in ``seconds``."""

    path: Path
    seconds: float
    taggram: Taggram

    def rows(self) -> list[dict[str, Any]]:
        """One dict per patch: ``file``, ``start``, ``end``, ``time`` (centre) in seconds, then every tag's probability."""
        labels = self.taggram.labels
        rows = []
        for time, probabilities in zip(self.taggram.times, self.taggram.probabilities, strict=True):
            start = max(0.0, float(time) - (PATCH_FRAMES - 1) / 2 * FRAME_SECONDS)
            row: dict[str, Any] = {"file": str(self.path), "start": round(start, 3)}
            row["end"] = round(min(self.seconds, start + PATCH_SECONDS), 3)
            row["time"] = round(min(float(time), self.seconds), 3)  # a repeat-padded short file ends first
            row.update({label: round(float(p), 5) for label, p in zip(labels, probabilities, strict=True)})
            rows.append(row)
        return rows

    def to_dict(self, top: int) -> dict[str, Any]:
        return {
            "file": str(self.path),
            "seconds": round(self.seconds, 3),
            "top": [{"tag": tag, "probability": round(p, 5)} for tag, p in self.taggram.top(top)],
            "labels": list(self.taggram.labels),
            "times": [round(float(t), 3) for t in self.taggram.times],
            "probabilities": np.round(self.taggram.probabilities, 5).tolist(),
        }


def tag_files(
    paths: list[Path],
    model: str = DEFAULT_MODEL,
    hop_seconds: float | None = None,
    weights: str | None = None,
    runtime: str = "torch",
    threads: int | None = None,
) -> tuple[list[FileTags], SkipReport]:
    """Tag every file in ``paths`` with musicnn ``model``, one patch every ``hop_seconds`` (default: back to back).

    ``runtime``: ``torch`` (the ported network), ``onnx`` or ``onnx-int8`` (its ONNX graph run by onnxruntime
    with ``threads`` threads: :func:`songalign.towers.musicnn.onnx.onnx_tagger`). A file that does not decode
    (a folder, a missing or empty file) is skipped and reported; the model is loaded at the first file that
    decodes, so a batch of bad files fails fast.
    """
    if runtime not in ("torch", "onnx", "onnx-int8"):
        raise SongalignError(f"--runtime must be one of torch, onnx, onnx-int8; got {runtime!r}")

    def load() -> MusicnnTagger | OnnxTagger:
        if runtime == "torch":
            return musicnn_tagger(model, weights)
        from songalign.towers.musicnn.onnx import onnx_tagger

        return onnx_tagger(model, weights, "int8" if runtime == "onnx-int8" else "fp32", threads)

    tagger = None
    report, results = SkipReport(), []
    for path in paths:
        try:
            audio, _ = load_audio(path, SAMPLE_RATE)
            if audio.size == 0:
                raise BadInputError(path, "holds no audio; give a file with sound in it")
        except BadInputError as error:
            report.add_error(error)
            continue
        tagger = tagger or load()
        results.append(FileTags(Path(path), audio.size / SAMPLE_RATE, tagger.tag(audio, hop_seconds)))
        report.kept += 1
    return results, report


def write_tags(results: list[FileTags], out: Path, format: str, top: int = 5) -> Path:
    """Write ``results`` to ``out``: ``csv`` (one row per patch, every tag a column) or ``json`` (per file)."""
    if format not in ("csv", "json"):
        raise SongalignError(f"tags are written as csv or json; got {format!r}")
    out.parent.mkdir(parents=True, exist_ok=True)
    if format == "json":
        out.write_text(json.dumps([r.to_dict(top) for r in results], indent=1) + "\n", encoding="utf-8")
        return out
    rows = [row for result in results for row in result.rows()]
    with open(out, "w", newline="", encoding="utf-8") as handle:
        if rows:
            writer = csv.DictWriter(handle, fieldnames=list(rows[0]))
            writer.writeheader()
            writer.writerows(rows)
    return out
