"""``songalign index``: embed every segment of a prepared corpus into a search database.

The corpus is read in batches straight from ``segments.parquet`` (only the columns a row
needs), each batch is embedded — the audio tower on the segment's window, exactly as in
training (:func:`~songalign.audio.windows.segment_window`), and the text tower on its lyrics —
and appended to the table in one atomic commit. Memory therefore stays bounded by one batch
(plus the set of segment ids already indexed, about 100 bytes a row), whatever the corpus size.

The run is idempotent and resumable: segment ids already in the table are skipped before any
work is done, so re-running after a finished run adds nothing, and re-running after a killed
run (a commit is all-or-nothing) embeds only what is missing and ends with the table a clean
run writes. Segments whose audio cannot be read are skipped and reported, and tried again on
the next run.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from songalign.align.data import window_features
from songalign.align.model import AlignModel
from songalign.audio.cache import FeatureCache
from songalign.checkpoint import CONFIG_FILE, WEIGHTS_FILE, read_card, require_model_folder
from songalign.corpus.manifest import SEGMENTS_FILE, SONGS_FILE
from songalign.errors import BadInputError, SkipReport, SongalignError
from songalign.search.store import VECTOR_COLUMNS, AnnSettings, SegmentStore, label_tags, segment_schema

SEGMENT_COLUMNS = ["id", "song_id", "start", "end", "text", "audio_path", "language", "split", "description", "labels"]


@dataclass
class IndexResult:
    """What an indexing run did: rows ``added`` this run, ``total`` rows now, whether ANN-indexed."""

    db: Path
    added: int
    total: int
    ann_index: bool
    seconds: float
    report: SkipReport = field(default_factory=SkipReport)

    def summary(self) -> str:
        index = "ANN index" if self.ann_index else "exact search (below the ANN threshold)"
        return (
            f"{self.db}: added {self.added} segment(s), {self.total} in total, {index}; "
            f"skipped {len(self.report)}; {self.seconds:.1f} s"
        )


def model_identity(checkpoint: str | Path) -> tuple[str, str]:
    """``(name, version)`` of a model folder: the card's name (else the folder's), and a 12-hex digest.

    The version hashes ``config.json`` and the weights, so two folders with the same model
    have the same version and a retrained model gets another.
    """
    folder = require_model_folder(checkpoint)
    digest = hashlib.sha1()
    for name in (CONFIG_FILE, WEIGHTS_FILE):
        with open(folder / name, "rb") as handle:
            digest.update(hashlib.file_digest(handle, "sha1").digest())
    name = str(read_card(folder).get("name") or "")
    if not name or name == "unnamed":
        name = folder.resolve().name
    return name, digest.hexdigest()[:12]


def iter_segment_rows(corpus: Path, batch_size: int, split: str = "all") -> Iterator[list[dict[str, Any]]]:
    """Batches of segment rows (dicts of :data:`SEGMENT_COLUMNS`) read from ``segments.parquet``, in file order."""
    handle = pq.ParquetFile(corpus / SEGMENTS_FILE)
    for batch in handle.iter_batches(batch_size=batch_size, columns=SEGMENT_COLUMNS):
        rows = batch.to_pylist()
        yield rows if split == "all" else [r for r in rows if r["split"] == split]


def _songs(corpus: Path) -> dict[str, dict[str, str]]:
    table = pq.read_table(corpus / SONGS_FILE, columns=["id", "title", "artist"])
    return {row["id"]: row for row in table.to_pylist()}


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """Run the block with ``count`` torch CPU threads (``None``: leave torch's setting alone)."""
    if count is None:
        yield
        return
    before = torch.get_num_threads()
    torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(before)


@torch.no_grad()
def embed_rows(
    model: AlignModel, rows: list[dict[str, Any]], report: SkipReport, cache: FeatureCache | None = None
) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:
    """Embed a batch of segment rows: ``(kept rows, audio vectors (B, D), lyric vectors (B, D))``.

    Rows without audio or with unreadable audio are left out and added to ``report``.
    """
    model.eval()
    kept, features = [], []
    # One clip's features are small tensors: extra torch threads only contend (25x slower on a busy 2-core box).
    with torch_threads(1):
        for row in rows:
            if not row["audio_path"]:
                report.skip(
                    row["song_id"], "the segment's song has no audio file; add the audio and re-run", item=row["id"]
                )
                continue
            try:
                # the same window, fitting and cache key as in training
                features.append(
                    torch.as_tensor(window_features(model, row["audio_path"], row["start"], row["end"], cache))
                )
            except BadInputError as error:
                report.add_error(error, item=row["id"])
                continue
            kept.append(row)
    dim = model.config.embedding_dim
    if not kept:
        return [], np.zeros((0, dim), np.float32), np.zeros((0, dim), np.float32)
    audio = model.project_audio(torch.stack(features).to(model.device)).cpu().numpy().astype(np.float32)
    text = model.embed_text([row["text"] or "" for row in kept]).astype(np.float32)
    return kept, audio, text


def rows_table(
    rows: list[dict[str, Any]],
    audio: np.ndarray,
    text: np.ndarray,
    songs: dict[str, dict[str, str]],
    model_name: str,
    model_version: str,
) -> pa.Table:
    """The table rows of embedded segments (see :func:`songalign.search.store.segment_schema`)."""
    dim = audio.shape[1]
    records = []
    for row in rows:
        labels = json.loads(row["labels"]) if row["labels"] else {}
        song = songs.get(row["song_id"], {})
        records.append(
            {
                "id": row["id"],
                "song_id": row["song_id"],
                "title": song.get("title") or "",
                "artist": song.get("artist") or "",
                "language": row["language"] or "",
                "start": float(row["start"]),
                "end": float(row["end"]),
                "lyrics": row["text"] or "",
                "description": row["description"] or "",
                "labels": json.dumps(labels, sort_keys=True, ensure_ascii=False),
                "label_tags": label_tags(labels),
                "audio_path": row["audio_path"],
                "split": row["split"] or "",
                "model_name": model_name,
                "model_version": model_version,
            }
        )
    schema = segment_schema(dim)
    table = pa.Table.from_pylist(records, schema=pa.schema([f for f in schema if f.name not in VECTOR_COLUMNS]))
    vectors = [pa.FixedSizeListArray.from_arrays(pa.array(m.reshape(-1), pa.float32()), dim) for m in (audio, text)]
    return table.append_column("vector", vectors[0]).append_column("text_vector", vectors[1])


def build_index(
    checkpoint: str | Path,
    corpus: str | Path,
    db: str | Path,
    *,
    model: AlignModel | None = None,
    batch_size: int = 64,
    split: str = "all",
    cache_dir: str | Path | None = None,
    ann: AnnSettings | None = None,
    progress: bool = True,
    threads: int | None = None,
    on_batch: Callable[[int], None] | None = None,
) -> IndexResult:
    """Index every segment of the prepared ``corpus`` with the model in folder ``checkpoint`` into ``db``.

    ``model``: the same model already loaded (saves loading it again); ``batch_size``: segments
    embedded and committed together; ``split``: ``all`` or one split's name; ``cache_dir``: a
    feature cache to read from and fill (e.g. the training run's ``<corpus>/.cache/features``;
    default none: features are computed and dropped); ``ann``: index settings; ``threads``: torch
    CPU threads for the batched model passes (``None``: torch's default); ``on_batch``: called
    with the number of rows added so far after each commit.
    """
    started = time.perf_counter()
    checkpoint, corpus, db = Path(checkpoint), Path(corpus), Path(db)
    if not (corpus / SEGMENTS_FILE).is_file() or not (corpus / SONGS_FILE).is_file():
        raise SongalignError(
            f"{corpus} is not a prepared corpus (it needs {SONGS_FILE} and {SEGMENTS_FILE}); "
            "create one with `songalign corpus prepare`"
        )
    if batch_size <= 0:
        raise SongalignError(f"batch size must be a positive number of segments, got {batch_size}")
    name, version = model_identity(checkpoint)
    model = model or AlignModel.from_pretrained(checkpoint)
    meta = {
        "model_name": name,
        "model_version": version,
        "model_path": str(checkpoint.resolve()),
        "embedding_dim": model.config.embedding_dim,
        "corpora": [str(corpus.resolve())],
    }
    store = SegmentStore.create(db, meta, ann)
    done = set(store.ids().to_pylist())  # ids already indexed (and, below, added by this run)
    songs = _songs(corpus)
    cache = FeatureCache(cache_dir) if cache_dir else None
    report = SkipReport()
    if split == "all":
        total = pq.ParquetFile(corpus / SEGMENTS_FILE).metadata.num_rows
    else:  # the progress bar counts the rows of this split only, as the batches below yield them
        total = pq.read_table(corpus / SEGMENTS_FILE, columns=["split"]).column("split").to_pylist().count(split)
    added = 0
    columns = [TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, disable=not progress, transient=True) as bar, torch_threads(threads):
        task = bar.add_task("segments", total=total)
        for rows in iter_segment_rows(corpus, batch_size, split):
            todo = [r for r in rows if r["id"] not in done]
            report.kept += len(rows) - len(todo)
            if todo:
                kept, audio, text = embed_rows(model, todo, report, cache)
                if kept:
                    store.add(rows_table(kept, audio, text, songs, name, version))
                    done.update(r["id"] for r in kept)
                    added += len(kept)
                    report.kept += len(kept)
                    if on_batch is not None:
                        on_batch(added)
            bar.advance(task, len(rows))
    indexed = store.finish(added)
    return IndexResult(db, added, store.count(), indexed, time.perf_counter() - started, report)
