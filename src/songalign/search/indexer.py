"""``songalign index``: embed every segment of a prepared corpus into a search database.

The corpus is read in batches straight from ``segments.parquet`` (only the columns a row
needs), each batch is embedded — the audio tower on the segment's window, exactly as in
training (:func:`~songalign.audio.windows.segment_window`, fitted to ``clip_seconds``, the same
feature-cache key as :func:`~songalign.align.data.window_features`), and the text tower on its
lyrics — and appended to the table in one atomic commit. Memory therefore stays bounded by two
batches (the one being embedded and the next one being decoded; plus the set of segment ids
already indexed, about 100 bytes a row), whatever the corpus size.

Where the time goes, and how it is spent well (``benchmarks/index_throughput.py``):

- Decoding: each segment's window is decoded from the file by seeking (:func:`load_audio` with
  an offset), so only the audio under a window is decoded, never the whole song per segment.
  Windows are decoded by a pool of ``decode_workers`` threads (libsndfile, numpy and soxr release
  the GIL), one batch ahead of the model, so decoding the next batch overlaps with embedding the
  current one.
- Features and the audio tower: one batched call of the tower's ``features`` and one forward
  pass per batch (clips of towers that fit lengths themselves get their features one by one).
- Text: one batched text-tower pass over the segments that have lyrics. A segment with empty
  text (an audio-only segment, from a catalogue without lyrics) gets a **zero** text vector, and
  the text tower is not called for it: an embedding of the empty string would be an arbitrary
  point that every lyrics query lands near. Lyrics-targeted search must leave such rows out
  (their ``lyrics`` is ``""``).

Every row also gets its ``shard`` (a stable hash of its song id, see
:func:`songalign.search.store.shard_of`), computed by the store, so that this engine and the
distributed one (:mod:`songalign.search.ray_engine`, which commits a shard at a time) write equal
tables and either can resume the other's.

The run is idempotent and resumable: segment ids already in the table are skipped before any
work is done, so re-running after a finished run adds nothing, and re-running after a killed
run (a commit is all-or-nothing) embeds only what is missing and ends with the table a clean
run writes. Segments whose audio cannot be read are skipped and reported, and tried again on
the next run; the rest of their batch is indexed.

One run writes a database at a time: the run holds the database's writer lock
(:func:`~songalign.search.lock.writer_lock`) from before it opens the table until its index build,
and a second run into the same ``--db`` is refused in one sentence naming the holder — two runs would
each commit what the table lacked when they started, every row twice.
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from songalign.align.data import window_clip, window_features
from songalign.align.model import AlignModel, EmbeddingRuntime
from songalign.align.onnx import open_runtime
from songalign.audio.cache import FeatureCache
from songalign.checkpoint import CONFIG_FILE, WEIGHTS_FILE, read_card, require_model_folder
from songalign.corpus.manifest import SEGMENTS_FILE, SONGS_FILE
from songalign.errors import BadInputError, SkipReport, SongalignError
from songalign.search.ann import AnnSettings
from songalign.search.lock import writer_lock
from songalign.search.store import VECTOR_COLUMNS, SegmentStore, label_tags, segment_schema

SEGMENT_COLUMNS = ["id", "song_id", "start", "end", "text", "audio_path", "language", "split", "description", "labels"]

NO_AUDIO_REASON = "the segment's song has no audio file; add the audio and re-run"
"""What the skip report says of a segment whose song has no audio file."""

MAX_DECODE_WORKERS = 4
"""Default ceiling of decoding threads (one per CPU up to this), so that a large machine's other cores go to
the tower's torch threads (:func:`default_torch_threads`)."""
DECODE_CHUNK_ROWS = 8
"""Rows one decoding task reads: their features are one batched call, and they pass the tower together
(the tower works on a chunk while the next chunks decode; 8 clips also run faster a clip than 64)."""


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


def require_corpus(corpus: Path) -> None:
    """A clear error unless ``corpus`` is a prepared corpus folder."""
    if not (corpus / SEGMENTS_FILE).is_file() or not (corpus / SONGS_FILE).is_file():
        raise SongalignError(
            f"{corpus} is not a prepared corpus (it needs {SONGS_FILE} and {SEGMENTS_FILE}); "
            "create one with `songalign corpus prepare`"
        )


def index_meta(
    checkpoint: Path, corpus: Path, embedding_dim: int, shards: int | None = None, runtime: str = "torch"
) -> dict[str, Any]:
    """What ``songalign-index.json`` records of a run: the model's name, version and path, the runtime that
    embedded the rows (``torch``, ``onnx``, ``onnx-int8``: :data:`~songalign.align.onnx.RUNTIMES`), the vector
    size, the corpus and (when given) the shard count."""
    if shards is not None and shards <= 0:
        raise SongalignError(f"shards must be a positive number, got {shards}")
    name, version = model_identity(checkpoint)
    meta: dict[str, Any] = {
        "model_name": name,
        "model_version": version,
        "model_path": str(checkpoint.resolve()),
        "runtime": runtime,
        "embedding_dim": embedding_dim,
        "corpora": [str(corpus.resolve())],
    }
    if shards is not None:
        meta["shards"] = shards
    return meta


def song_records(corpus: Path, song_ids: Iterable[str] | None = None) -> dict[str, dict[str, str]]:
    """``{song id: {"id", "title", "artist"}}`` from ``songs.parquet``: every song, or those of ``song_ids``
    (read with a filter, so a worker holding a block of segments holds only their songs)."""
    wanted = None if song_ids is None else pc.field("id").isin(pa.array(sorted(set(song_ids)), pa.string()))
    table = pq.read_table(corpus / SONGS_FILE, columns=["id", "title", "artist"], filters=wanted)
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


def default_decode_workers() -> int:
    """Decoding threads when none are asked for: one per CPU, at most :data:`MAX_DECODE_WORKERS`."""
    return max(1, min(MAX_DECODE_WORKERS, os.cpu_count() or 1))


def default_torch_threads(decode_workers: int) -> int:
    """Torch threads for the model passes beside ``decode_workers`` decoding threads: the CPUs they leave,
    at least one. (On two cores, two torch threads beside two decoders made indexing 1.5-2x slower.)"""
    return max(1, (os.cpu_count() or 1) - decode_workers)


@torch.no_grad()  # grad mode is per thread: the caller's does not reach a decoding thread
def window_inputs(
    model: EmbeddingRuntime, rows: list[dict[str, Any]], cache: FeatureCache | None = None
) -> list[torch.Tensor | BadInputError]:
    """Audio-tower features of each row's window (:func:`~songalign.align.data.window_clip`, as training
    reads it), or the error that kept it from being read.

    The clips of a tower that takes one clip length get their features in one batched call; with
    ``cache``, each row's features are :func:`~songalign.align.data.window_features`' (read from or
    stored into the cache under training's key). Runs in a decoding thread: the tower's
    ``features`` must be safe to call from several threads (torch and numpy operations are).
    """
    results: list[torch.Tensor | BadInputError | None] = [None] * len(rows)
    clips: dict[int, np.ndarray] = {}
    for index, row in enumerate(rows):
        try:
            if cache is not None:
                path, start, end = row["audio_path"], row["start"], row["end"]
                results[index] = torch.as_tensor(window_features(model, path, start, end, cache))
            else:
                clips[index] = window_clip(model, row["audio_path"], row["start"], row["end"])
        except BadInputError as error:
            results[index] = error
    if clips:
        if model.clip_samples is not None:  # clips of one length: one batched feature call
            for index, features in zip(clips, model.tower_features(np.stack(list(clips.values()))), strict=True):
                results[index] = features
        else:  # the tower pads and crops each clip itself
            for index, clip in clips.items():
                results[index] = model.tower_features(clip)
    return results  # type: ignore[return-value]


@dataclass
class PendingBatch:
    """A batch of segment rows whose windows are being decoded on a thread pool.

    ``tasks`` pairs the positions in ``rows`` of a chunk of rows with the future of their
    :func:`window_inputs`; rows with no audio file are in no chunk.
    """

    rows: list[dict[str, Any]]
    tasks: list[tuple[list[int], Future[list[torch.Tensor | BadInputError]]]]


def submit_batch(
    pool: ThreadPoolExecutor,
    model: EmbeddingRuntime,
    rows: list[dict[str, Any]],
    cache: FeatureCache | None = None,
    chunk: int = DECODE_CHUNK_ROWS,
) -> PendingBatch:
    """Start decoding the windows of ``rows`` on ``pool``, ``chunk`` rows a task; returns at once."""
    with_audio = [index for index, row in enumerate(rows) if row["audio_path"]]
    tasks = []
    for first in range(0, len(with_audio), chunk):
        positions = with_audio[first : first + chunk]
        tasks.append((positions, pool.submit(window_inputs, model, [rows[i] for i in positions], cache)))
    return PendingBatch(rows, tasks)


def text_vectors(model: EmbeddingRuntime, texts: list[str]) -> np.ndarray:
    """Normalised text embeddings ``(N, D)`` float32 of ``texts``; an empty (or blank) text gets a zero row.

    The text tower sees only the non-empty texts, in one batched pass.
    """
    vectors = np.zeros((len(texts), model.embedding_dim), np.float32)
    filled = [i for i, text in enumerate(texts) if text.strip()]
    if filled:
        vectors[filled] = model.embed_text([texts[i] for i in filled]).astype(np.float32)
    return vectors


def audio_vectors(model: EmbeddingRuntime, features: list[torch.Tensor]) -> np.ndarray:
    """Normalised audio embeddings ``(N, D)`` float32 of ``N`` windows' tower features (:func:`window_inputs`),
    in one pass of the tower and projection (``model.embed_features``)."""
    return np.asarray(model.embed_features(torch.stack(features)), dtype=np.float32)


@torch.no_grad()
def embed_pending(
    model: EmbeddingRuntime, batch: PendingBatch, report: SkipReport, skip: set[str] | None = None
) -> tuple[list[dict[str, Any]], np.ndarray, np.ndarray]:
    """Wait for a batch's windows and embed it: ``(kept rows, audio vectors (B, D), text vectors (B, D))``.

    Rows without audio or with unreadable audio are left out and added to ``report``; rows whose
    id is in ``skip`` (indexed since the batch was read ahead: an id listed twice) are left out and
    counted as kept. Text vectors of rows with empty text are zero (:func:`text_vectors`). The
    text tower runs first, while the windows are still being decoded.
    """
    dim = model.embedding_dim
    wanted = [i for i, row in enumerate(batch.rows) if not (skip is not None and row["id"] in skip)]
    report.kept += len(batch.rows) - len(wanted)
    with_audio = [i for i in wanted if batch.rows[i]["audio_path"]]
    text_of = dict(zip(with_audio, text_vectors(model, [batch.rows[i]["text"] or "" for i in with_audio]), strict=True))
    # each chunk goes through the audio tower as soon as it is decoded, while the pool decodes the next ones
    audio_of: dict[int, np.ndarray | BadInputError] = {}
    for positions, future in batch.tasks:
        readable, features = [], []
        for index, got in zip(positions, future.result(), strict=True):
            if isinstance(got, BadInputError):
                audio_of[index] = got
            else:
                readable.append(index)
                features.append(got)
        if readable:
            audio_of.update(zip(readable, audio_vectors(model, features), strict=True))
    kept, audio, text = [], [], []
    for index in wanted:
        row = batch.rows[index]
        vector = audio_of.get(index)
        if vector is None:
            report.skip(row["song_id"], NO_AUDIO_REASON, item=row["id"])
        elif isinstance(vector, BadInputError):
            report.add_error(vector, item=row["id"])
        else:
            kept.append(row)
            audio.append(vector)
            text.append(text_of[index])
    if not kept:
        return [], np.zeros((0, dim), np.float32), np.zeros((0, dim), np.float32)
    return kept, np.stack(audio), np.stack(text)


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
                "lyrics": row["text"]
                if (row["text"] or "").strip()
                else "",  # blank: no lyrics, as its zero text vector says
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
    runtime: str = "torch",
    export_dir: str | Path | None = None,
    batch_size: int = 64,
    split: str = "all",
    cache_dir: str | Path | None = None,
    ann: AnnSettings | None = None,
    progress: bool = True,
    threads: int | None = None,
    decode_workers: int | None = None,
    on_batch: Callable[[int], None] | None = None,
    shards: int | None = None,
) -> IndexResult:
    """Index every segment of the prepared ``corpus`` with the model in folder ``checkpoint`` into ``db``.

    ``model``: the same model already loaded (saves loading it again); ``runtime``: what embeds the segments
    (:func:`~songalign.align.onnx.open_runtime`: ``torch``, or the model's ONNX export ``export_dir``, default
    ``MODEL/onnx``, as ``onnx`` or ``onnx-int8``; a database holds rows of one runtime); ``batch_size``: segments
    embedded and committed together; ``split``: ``all`` or one split's name; ``cache_dir``: a
    feature cache to read from and fill (e.g. the training run's ``<corpus>/.cache/features``;
    default none: features are computed and dropped); ``ann``: index settings; ``decode_workers``:
    threads decoding audio (and computing the tower's features) one batch ahead of the model
    (default :func:`default_decode_workers`); ``threads``: CPU threads for the model passes (torch's or onnxruntime's)
    (default :func:`default_torch_threads`: the CPUs the decoders leave, at least one);
    ``on_batch``: called with the number of rows added so far after each commit; ``shards``: the
    database's shard count when it is created (default :data:`~songalign.search.store.DEFAULT_SHARDS`;
    an existing database keeps its own) — rows get the ``shard`` the distributed engine
    (:mod:`songalign.search.ray_engine`) would give them, so both engines write equal tables.

    Segments with empty text are stored with a zero ``text_vector`` (see the module's notes).
    """
    started = time.perf_counter()
    checkpoint, corpus, db = Path(checkpoint), Path(corpus), Path(db)
    require_corpus(corpus)
    if batch_size <= 0:
        raise SongalignError(f"batch size must be a positive number of segments, got {batch_size}")
    if decode_workers is not None and decode_workers <= 0:
        raise SongalignError(f"decode workers must be a positive number of threads, got {decode_workers}")
    if model is not None and runtime != "torch":
        raise SongalignError(f"a loaded model runs with torch; leave out runtime {runtime!r} or the model")
    workers = decode_workers or default_decode_workers()
    threads = threads or default_torch_threads(workers)
    with writer_lock(db):  # one writer at a time (songalign.search.lock), from the meta file to the index build
        runner: EmbeddingRuntime = model or open_runtime(checkpoint, runtime, export_dir, threads)
        meta = index_meta(checkpoint, corpus, runner.embedding_dim, shards, runtime)
        name, version = meta["model_name"], meta["model_version"]
        store = SegmentStore.create(db, meta, ann)
        done = set(store.ids().to_pylist())  # ids already indexed (and, below, added by this run)
        songs = song_records(corpus)
        cache = FeatureCache(cache_dir) if cache_dir else None
        report = SkipReport()
        if split == "all":
            total = pq.ParquetFile(corpus / SEGMENTS_FILE).metadata.num_rows
        else:  # the progress bar counts the rows of this split only, as the batches below yield them
            total = pq.read_table(corpus / SEGMENTS_FILE, columns=["split"]).column("split").to_pylist().count(split)
        added = 0
        columns = [TextColumn("indexing"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
        pool = ThreadPoolExecutor(workers, thread_name_prefix="decode")
        # (rows read, their pending decode): the next batch decodes while the current one is embedded
        pending: deque[tuple[int, PendingBatch]] = deque()
        batches = iter_segment_rows(corpus, batch_size, split)

        def read_ahead() -> None:
            rows = next(batches, None)
            if rows is not None:
                todo = [r for r in rows if r["id"] not in done]
                report.kept += len(rows) - len(todo)
                pending.append((len(rows), submit_batch(pool, runner, todo, cache)))

        try:
            with (
                Progress(*columns, disable=not progress, transient=True) as bar,
                torch_threads(threads),
            ):
                task = bar.add_task("segments", total=total)
                read_ahead()
                while pending:
                    read_ahead()
                    count, batch = pending.popleft()
                    if batch.rows:
                        kept, audio, text = embed_pending(runner, batch, report, skip=done)
                        if kept:
                            store.add(rows_table(kept, audio, text, songs, name, version))
                            done.update(r["id"] for r in kept)
                            added += len(kept)
                            report.kept += len(kept)
                            if on_batch is not None:
                                on_batch(added)
                    bar.advance(task, count)
        finally:
            pool.shutdown(wait=True, cancel_futures=True)
        indexed = store.finish(added)
        return IndexResult(db, added, store.count(), indexed, time.perf_counter() - started, report)
