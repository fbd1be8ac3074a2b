"""``songalign index --engine ray``: the indexer as a Ray Data pipeline, committed to Lance one shard at a time.

The same rows as :func:`songalign.search.indexer.build_index` (the same windows, features, towers,
zero text vectors for empty lyrics, row builder — this module imports them), computed on a Ray
cluster (a local one by default, ``ray.init(num_cpus=..., include_dashboard=False)``; an existing
one with ``address``)::

    read_parquet(segments.parquet)           CPU tasks: the segment columns a row needs
      -> select                              CPU tasks: add ``shard``, keep the split and the shards to do
      -> sort by shard                       Ray Data's distributed sort (the rows without audio or vectors)
      -> decode                              CPU tasks: seek-decode each window, the tower's features
      -> embed                               an actor pool, one model loaded per actor; one GPU per actor
                                             when the cluster has GPUs
      -> write                               CPU tasks: build the rows, write each shard's part as Lance
                                             fragments (``lance.fragment.write_fragments``): files
                                             on disk that no table version refers to yet
      -> driver                              receives only the fragments' metadata, in shard order, and
                                             commits each shard's fragments in one ``LanceOperation.Append``
      -> index                               from ``AnnSettings.distributed_min_rows`` rows, each IVF_PQ index
                                             trained on a sample, built in Ray tasks, committed once
                                             (:mod:`songalign.search.ray_index`)

**Shards.** A segment's shard is :func:`~songalign.search.store.shard_of` its song id (first 8
bytes of its SHA-1, modulo the database's shard count ``S``, recorded in ``songalign-index.json``),
stored in the ``shard`` column; a song's segments are all in one shard. The single-machine indexer
stores the same column, so both engines write equal tables, row for row.

**Exactly once.** Because the pipeline is sorted by shard and keeps its order
(``DataContext.execution_options.preserve_order``), the driver knows a shard is complete when
metadata of a later shard arrives (or the stream ends); it then commits that shard's fragments in
one Lance commit, which is atomic: a run killed at any point leaves every shard either wholly in
the table or not in it at all (fragments written but not committed are invisible files, removed
by Lance's clean-up of unreferenced files). A shard seen again after its commit is an error, never
a second commit.

**Resuming.** Which shards are done is read from the table itself, not from a separate
manifest (a manifest file cannot be committed in the same atomic step as the rows, so after a
kill between the two it would be wrong one way or the other). Before the pipeline, the driver
streams the corpus's ``id`` and ``song_id`` columns and the table's ``id`` and ``shard`` columns,
a batch at a time, and computes per shard the number of rows and a digest (the sum modulo 2⁶⁴ of
the ids' 64-bit SHA-1 prefixes); hashing takes 0.9 s per 10⁶ ids on one core, so about 1.5
minutes per pass at 10⁸ rows. A shard whose table count and digest equal the corpus's is complete and skipped;
a shard with no rows in the table is done whole; a shard with some rows (its segments with
unreadable audio were skipped last time, or the single-machine indexer wrote part of it, or the
database holds other corpora too) is completed with only its missing ids — only those shards' ids
are read. The driver holds ``S`` counters and digests, never the set of every id.

**One writer.** The run holds the database's writer lock (:func:`~songalign.search.lock.writer_lock`)
from before Ray starts until its index build, so a second run into the same database is refused.
As a second line, just before committing a shard the driver checks it against the table
(:func:`shard_unchanged`): when the table's version is neither the plan's nor this run's last
commit, someone committed without the lock, and the shard's count and digest at the latest version
are compared with the plan's; a shard whose rows changed is not committed (its fragments stay
unreferenced) but reported, to be completed by a re-run. (Appends do not conflict in Lance, so a
commit that lands between this check and the driver's own would still go through: the check
narrows the window to milliseconds, the lock closes it.)

**Ray's own ``write_lance``** (``Dataset.write_lance``, and ``lance-ray``'s writer) commits once
per run: every worker writes fragments, and the driver commits all of them in one operation at
the end — so a run killed at 99 % leaves nothing, and a re-run starts over. This module
therefore does not use it: it writes fragments itself with pylance's fragment API in the write
tasks and makes one commit per shard on the driver, which is what those writers do once per run.
"""

from __future__ import annotations

import functools
import hashlib
import json
import logging
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import torch
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from songalign.align.model import AlignModel, ModelConfig
from songalign.audio.cache import FeatureCache
from songalign.checkpoint import read_saved_config
from songalign.corpus.manifest import SEGMENTS_FILE
from songalign.errors import BadInputError, MissingDependencyError, SkipReport, SongalignError
from songalign.search.ann import AnnSettings
from songalign.search.indexer import (
    NO_AUDIO_REASON,
    SEGMENT_COLUMNS,
    IndexResult,
    audio_vectors,
    index_meta,
    require_corpus,
    rows_table,
    song_records,
    text_vectors,
    window_inputs,
)
from songalign.search.lock import writer_lock
from songalign.search.ray_index import ray_vector_builder
from songalign.search.store import (
    SHARD_COLUMN,
    SegmentStore,
    shards_of,
    table_schema,
    with_shard_column,
)

TEST_PAUSE_ENV = "SONGALIGN_RAY_TEST_PAUSE"
"""Tests only: ``after:N`` makes the driver stop for an hour once this run has committed N shards;
``inside:K`` makes the write task stop for an hour after writing the first part of shard K (before
its commit). Either touches the file named by :data:`TEST_SIGNAL_ENV` when it stops, so that a test
can SIGKILL the run at that point."""
TEST_SIGNAL_ENV = "SONGALIGN_RAY_TEST_SIGNAL"

DECODE_TASK_MEMORY = 2**30
"""Memory a decoding task reserves (bytes): its worker's copy of the model and a batch of windows. Stated
also so that Ray Data does not fuse decoding into the embedding actors (it fuses stages whose resource
requests are equal): decoding stays in CPU tasks on any node, the actors (GPUs) only embed."""

DIGEST_BATCH_ROWS = 65536
"""Rows a batch of the planning pass hashes (ids and song ids only)."""

_PROBLEM, _PROBLEM_PATH, _FEATURES, _FEATURES_SHAPE = "problem", "problem_path", "features", "features_shape"


def _require_scale() -> tuple[Any, Any]:
    """The ``ray`` and ``lance`` modules, or one sentence saying how to install them."""
    try:
        import ray
        import ray.data  # noqa: F401
    except ImportError as error:
        raise MissingDependencyError("ray[data]", "songalign index --engine ray", extra="scale") from error
    try:
        import lance
    except ImportError as error:
        raise MissingDependencyError("pylance", "songalign index --engine ray", extra="scale") from error
    return ray, lance


# -- per-shard counts and digests ---------------------------------------------------------------------
def id_hashes(ids: list[str]) -> np.ndarray:
    """The first 8 bytes of each id's SHA-1 (UTF-8), as ``(N,)`` uint64 — the terms of a shard's digest."""
    return np.fromiter(
        (int.from_bytes(hashlib.sha1(i.encode("utf-8")).digest()[:8], "big") for i in ids), np.uint64, len(ids)
    )


def corpus_digests(corpus: Path, shards: int, split: str = "all") -> tuple[np.ndarray, np.ndarray]:
    """``(rows (S,) int64, digest (S,) uint64)`` per shard of the corpus's segments (of ``split``).

    Streams ``segments.parquet`` (ids, song ids and splits, a batch at a time): memory is ``S``
    counters and one batch.
    """
    rows, digest = np.zeros(shards, np.int64), np.zeros(shards, np.uint64)
    handle = pq.ParquetFile(corpus / SEGMENTS_FILE)
    for batch in handle.iter_batches(batch_size=DIGEST_BATCH_ROWS, columns=["id", "song_id", "split"]):
        if split != "all":
            batch = batch.filter(pc.equal(batch["split"], split))
        _add_digests(rows, digest, shards_of(batch["song_id"], shards).to_numpy(zero_copy_only=False), batch["id"])
    return rows, digest


def table_digests(
    store: SegmentStore, version: int | None = None, shard: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``(rows (S,) int64, digest (S,) uint64)`` per shard of the table's rows, streamed from its Lance
    dataset (columns ``id`` and ``shard``, a batch at a time).

    ``version``: the table version to read (default: the latest); ``shard``: read only that shard's
    rows (the other shards' entries stay 0).
    """
    import lance

    rows, digest = np.zeros(store.shards, np.int64), np.zeros(store.shards, np.uint64)
    dataset = lance.dataset(store.uri, version=version)
    where = None if shard is None else f"{SHARD_COLUMN} = {int(shard)}"
    for batch in dataset.to_batches(columns=["id", SHARD_COLUMN], filter=where, batch_size=DIGEST_BATCH_ROWS):
        _add_digests(rows, digest, batch[SHARD_COLUMN].to_numpy(zero_copy_only=False), batch["id"])
    return rows, digest


def _add_digests(rows: np.ndarray, digest: np.ndarray, shard: np.ndarray, ids: pa.Array) -> None:
    np.add.at(rows, shard, 1)
    np.add.at(digest, shard, id_hashes(ids.to_pylist()))  # uint64: wraps modulo 2**64


@dataclass
class Planned:
    """What the run's plan read of the table: its ``version``, and per shard the ``rows`` and ``digest``
    (:func:`table_digests` at that version); ``own_version``: the table's version after this run's last
    commit, when no other commit came between (``None`` before the first commit, or when one did)."""

    version: int
    rows: np.ndarray
    digest: np.ndarray
    own_version: int | None = None


def shard_unchanged(store: SegmentStore, shard: int, latest: int, planned: Planned) -> bool:
    """Whether ``shard``'s rows in the table at version ``latest`` are still the ones the plan read.

    Only this run commits while it holds the writer lock, so a table whose latest version is the
    plan's (or this run's last commit) is unchanged without reading a row; otherwise some other
    writer committed (one that ignored the lock, or an older songalign), and the shard's rows at
    ``latest`` are counted and digested (a scan of the ``shard`` column) and compared with the plan's.
    """
    if latest in (planned.version, planned.own_version):
        return True
    rows, digest = table_digests(store, latest, shard)
    return bool(rows[shard] == planned.rows[shard] and digest[shard] == planned.digest[shard])


# -- the pipeline's stages (module-level functions and classes: Ray ships them by reference) ---------
@functools.lru_cache(maxsize=2)
def _worker_model(checkpoint: str, device: str = "cpu") -> AlignModel:
    """The model of ``checkpoint``, loaded once per worker process (Ray reuses workers across tasks)."""
    model = AlignModel.from_pretrained(checkpoint).to(device)
    model.eval()
    return model


def _select_rows(batch: pa.Table, shards: int, split: str, todo: list[int], present: frozenset[str]) -> pa.Table:
    """Add ``shard`` to segment rows; keep those of ``split`` in shards ``todo`` whose id is not in ``present``."""
    if split != "all":
        batch = batch.filter(pc.equal(batch["split"], split))
    batch = with_shard_column(batch, shards)
    keep = pc.is_in(batch[SHARD_COLUMN], pa.array(todo, pa.int32()))
    if present:
        keep = pc.and_(keep, pc.invert(pc.is_in(batch["id"], pa.array(sorted(present), pa.string()))))
    return batch.filter(keep)


def _decode_batch(batch: pa.Table, checkpoint: str, cache_dir: str | None) -> pa.Table:
    """Decode the windows of a batch of segment rows and compute the audio tower's features (CPU).

    Adds ``features`` (float32 bytes, C order), ``features_shape``, and ``problem`` /
    ``problem_path`` (why and where a row cannot be embedded; ``""`` when it can).
    """
    model = _worker_model(checkpoint)
    rows = batch.to_pylist()
    with_audio = [i for i, row in enumerate(rows) if row["audio_path"]]
    got = window_inputs(model, [rows[i] for i in with_audio], FeatureCache(cache_dir) if cache_dir else None)
    features, shapes = [b""] * len(rows), [[] for _ in rows]
    problems, paths = [NO_AUDIO_REASON] * len(rows), [row["song_id"] for row in rows]
    for index, result in zip(with_audio, got, strict=True):
        if isinstance(result, BadInputError):
            problems[index], paths[index] = result.problem, str(result.path)
        else:
            array = result.numpy().astype(np.float32)
            features[index], shapes[index], problems[index], paths[index] = array.tobytes(), list(array.shape), "", ""
    return (
        batch.append_column(_FEATURES, pa.array(features, pa.binary()))
        .append_column(_FEATURES_SHAPE, pa.array(shapes, pa.list_(pa.int32())))
        .append_column(_PROBLEM, pa.array(problems, pa.string()))
        .append_column(_PROBLEM_PATH, pa.array(paths, pa.string()))
    )


class SegmentEmbedder:
    """An embedding actor: loads the model once (on the GPU Ray gave it, if any) and embeds decoded batches.

    Returns the batch without its features, with ``vector`` and ``text_vector`` (``(D,)`` float32;
    zero for rows with a problem, which the write stage leaves out).
    """

    def __init__(self, checkpoint: str):
        device = "cuda" if torch.cuda.is_available() else "cpu"  # Ray sets CUDA_VISIBLE_DEVICES per actor
        self.model = _worker_model(checkpoint, device)
        self.dim = self.model.config.embedding_dim

    @torch.no_grad()
    def __call__(self, batch: pa.Table) -> pa.Table:
        problems = batch[_PROBLEM].to_pylist()
        ok = [i for i, problem in enumerate(problems) if not problem]
        audio = np.zeros((len(problems), self.dim), np.float32)
        text = np.zeros((len(problems), self.dim), np.float32)
        if ok:
            blobs, shapes, texts = (
                batch[_FEATURES].to_pylist(),
                batch[_FEATURES_SHAPE].to_pylist(),
                batch["text"].to_pylist(),
            )
            features = [torch.from_numpy(np.frombuffer(blobs[i], np.float32).reshape(shapes[i]).copy()) for i in ok]
            audio[ok] = audio_vectors(self.model, features)
            text[ok] = text_vectors(self.model, [texts[i] or "" for i in ok])
        batch = batch.drop_columns([_FEATURES, _FEATURES_SHAPE])
        for name, matrix in (("vector", audio), ("text_vector", text)):
            batch = batch.append_column(name, pa.FixedSizeListArray.from_arrays(pa.array(matrix.reshape(-1)), self.dim))
        return batch


def _pause(what: str, shard: int, signal_file: str) -> None:
    """The tests' stop (:data:`TEST_PAUSE_ENV`): write ``signal_file`` and sleep, to be SIGKILLed."""
    if signal_file:
        Path(signal_file).write_text(f"{what} {shard}\n", encoding="utf-8")
    time.sleep(3600)


def _write_batch(
    batch: pa.Table,
    uri: str,
    corpus: str,
    model_name: str,
    model_version: str,
    dim: int,
    shards: int,
    pause: str = "",
    signal_file: str = "",
) -> pa.Table:
    """Write the embedded rows of a batch as Lance fragments, one set per shard, uncommitted.

    Returns one row per shard in the batch, in shard order: ``shard``, ``fragments`` (JSON list of
    the fragments' metadata), ``rows`` written and ``skipped`` (JSON list of ``[path, reason, id]``
    of the rows left out). ``pause``: the tests' stop (:data:`TEST_PAUSE_ENV`, read by the driver: a
    cluster's workers do not see the driver's environment).
    """
    from lance.fragment import write_fragments

    columns = [c for c in batch.column_names if c not in ("vector", "text_vector")]
    rows = batch.select(columns).to_pylist()
    audio = batch["vector"].combine_chunks().flatten().to_numpy().reshape(len(rows), dim)
    text = batch["text_vector"].combine_chunks().flatten().to_numpy().reshape(len(rows), dim)
    schema = table_schema(dim)
    out: dict[str, list[Any]] = {"shard": [], "fragments": [], "rows": [], "skipped": []}
    for shard in sorted({row[SHARD_COLUMN] for row in rows}):
        members = [i for i, row in enumerate(rows) if row[SHARD_COLUMN] == shard]
        kept = [i for i in members if not rows[i][_PROBLEM]]
        skipped = [[rows[i][_PROBLEM_PATH], rows[i][_PROBLEM], rows[i]["id"]] for i in members if rows[i][_PROBLEM]]
        fragments: list[dict[str, Any]] = []
        if kept:
            songs = song_records(Path(corpus), {rows[i]["song_id"] for i in kept})
            table = rows_table([rows[i] for i in kept], audio[kept], text[kept], songs, model_name, model_version)
            table = with_shard_column(table, shards).select(schema.names).cast(schema)
            fragments = [f.to_json() for f in write_fragments(table, uri, schema=schema)]
            if pause == f"inside:{shard}":
                _pause("inside", shard, signal_file)
        out["shard"].append(shard)
        out["fragments"].append(json.dumps(fragments))
        out["rows"].append(len(kept))
        out["skipped"].append(json.dumps(skipped, ensure_ascii=False))
    return pa.table(
        {
            "shard": pa.array(out["shard"], pa.int32()),
            "fragments": pa.array(out["fragments"], pa.string()),
            "rows": pa.array(out["rows"], pa.int64()),
            "skipped": pa.array(out["skipped"], pa.string()),
        }
    )


# -- the driver ----------------------------------------------------------------------------------------
def _connect(ray: Any, address: str | None, num_cpus: int | None) -> bool:
    """Join the cluster at ``address``, or start a local Ray; ``True`` when this call started Ray."""
    logging.getLogger("ray.data").setLevel(logging.WARNING)  # not a line per dataset executed
    if ray.is_initialized():
        return False
    with warnings.catch_warnings():  # Ray forks its daemons from here; they exec at once, LanceDB's state unused
        warnings.filterwarnings("ignore", message="lancedb fork support", category=RuntimeWarning)
        if address:
            ray.init(address=address, logging_level=logging.WARNING)
        else:
            ray.init(num_cpus=num_cpus, include_dashboard=False, logging_level=logging.WARNING)
    return True


def default_embed_actors(resources: dict[str, float]) -> tuple[int, float]:
    """``(actors, GPUs per actor)`` for a cluster's ``resources``: one actor per GPU when there are GPUs,
    else one per four CPUs (at least one; the other CPUs decode and write)."""
    gpus = int(resources.get("GPU", 0))
    if gpus:
        return gpus, 1.0
    return max(1, int(resources.get("CPU", 1)) // 4), 0.0


def build_index_ray(
    checkpoint: str | Path,
    corpus: str | Path,
    db: str | Path,
    *,
    address: str | None = None,
    num_cpus: int | None = None,
    shards: int | None = None,
    batch_size: int = 64,
    split: str = "all",
    cache_dir: str | Path | None = None,
    ann: AnnSettings | None = None,
    embed_actors: int | None = None,
    progress: bool = True,
    on_shard: Callable[[int, int], None] | None = None,
) -> IndexResult:
    """Index the prepared ``corpus`` with the model in ``checkpoint`` into ``db`` on Ray (see the module's notes).

    ``address``: a Ray cluster to join (default: start a local Ray with ``num_cpus`` CPUs, all
    of them when ``None``, and stop it at the end; an already initialised Ray is used as it is);
    ``shards``: the shard count of a new database (default
    :data:`~songalign.search.store.DEFAULT_SHARDS`; an existing one keeps its own);
    ``batch_size``: segments a task decodes, an actor embeds and a task writes at once;
    ``embed_actors``: the embedding pool's size (default :func:`default_embed_actors`);
    ``on_shard``: called with ``(shard, rows)`` after each shard's commit. ``split``,
    ``cache_dir`` (a feature cache every worker can reach) and ``ann`` as for
    :func:`~songalign.search.indexer.build_index`, which writes the same table.
    """
    started = time.perf_counter()
    checkpoint, corpus, db = Path(checkpoint).resolve(), Path(corpus).resolve(), Path(db)
    require_corpus(corpus)
    if batch_size <= 0:
        raise SongalignError(f"batch size must be a positive number of segments, got {batch_size}")
    ray, lance = _require_scale()
    config = read_saved_config(checkpoint, ModelConfig, "build or train the model again")
    with writer_lock(db):  # one writer at a time (songalign.search.lock), before Ray starts
        return _build_locked(
            ray, lance, checkpoint, corpus, db, config.embedding_dim, started, address=address, num_cpus=num_cpus,
            shards=shards, batch_size=batch_size, split=split, cache_dir=cache_dir, ann=ann,
            embed_actors=embed_actors, progress=progress, on_shard=on_shard,
        )  # fmt: skip


def _build_locked(
    ray: Any,
    lance: Any,
    checkpoint: Path,
    corpus: Path,
    db: Path,
    embedding_dim: int,
    started: float,
    *,
    address: str | None,
    num_cpus: int | None,
    shards: int | None,
    batch_size: int,
    split: str,
    cache_dir: str | Path | None,
    ann: AnnSettings | None,
    embed_actors: int | None,
    progress: bool,
    on_shard: Callable[[int, int], None] | None,
) -> IndexResult:
    """:func:`build_index_ray`'s run, once it holds the database's writer lock."""
    meta = index_meta(checkpoint, corpus, embedding_dim, shards)
    store = SegmentStore.create(db, meta, ann)
    if not store.has_shard_column():
        raise SongalignError(
            f"{db} was written before songalign stored shards, so `--engine ray` cannot tell which shards "
            "are done; index it with the default engine, or into a new --db"
        )
    count, dim, name, version = store.shards, embedding_dim, meta["model_name"], meta["model_version"]
    started_ray = _connect(ray, address, num_cpus)
    context = ray.data.DataContext.get_current()
    before = (context.execution_options.preserve_order, context.enable_progress_bars, context.use_datasource_v2)
    context.execution_options.preserve_order = True  # shards reach the driver in sorted order
    context.enable_progress_bars = False
    # Ray 2.60's new Parquet reader starts 32 footer-reading actors before the first row (~10 s on 2 CPUs);
    # one corpus manifest is one file, which the classic reader splits by row group just as well
    context.use_datasource_v2 = False
    report = SkipReport()
    present: frozenset[str] = frozenset()
    todo: list[int] = []
    added = 0
    try:
        segments = str(corpus / SEGMENTS_FILE)
        expected_rows, expected_digest = corpus_digests(corpus, count, split)
        store.refresh()
        plan_version = lance.dataset(store.uri).version  # pinned: a commit after it is seen by shard_unchanged
        planned = Planned(plan_version, *table_digests(store, plan_version))
        table_rows, table_digest = planned.rows, planned.digest
        complete = (expected_rows > 0) & (table_rows == expected_rows) & (table_digest == expected_digest)
        todo = [int(k) for k in np.flatnonzero((expected_rows > 0) & ~complete)]
        partial = [k for k in todo if table_rows[k] > 0]
        if partial:  # only the ids of the shards to complete
            where = f"{SHARD_COLUMN} IN ({', '.join(str(k) for k in partial)})"
            present = frozenset(row["id"] for row in store.rows(where, ["id"]))
        report.kept = int(expected_rows[complete].sum())
        if todo:
            added = _run_pipeline(
                ray, lance, store, report, segments, str(checkpoint), str(corpus), name, version, dim, count,
                split, todo, present, batch_size, str(cache_dir) if cache_dir else None, embed_actors, progress,
                on_shard, planned,
            )  # fmt: skip
        store.refresh()
        # large tables: the IVF_PQ index trained on a sample, built in Ray tasks, committed once (ray_index)
        indexed = store.finish(added, builder=ray_vector_builder())
    finally:
        context.execution_options.preserve_order, context.enable_progress_bars, context.use_datasource_v2 = before
        if started_ray:
            ray.shutdown()
    report.kept += len(present)
    return IndexResult(db, added, store.count(), indexed, time.perf_counter() - started, report)


def _run_pipeline(
    ray: Any,
    lance: Any,
    store: SegmentStore,
    report: SkipReport,
    segments: str,
    checkpoint: str,
    corpus: str,
    name: str,
    version: str,
    dim: int,
    shards: int,
    split: str,
    todo: list[int],
    present: frozenset[str],
    batch_size: int,
    cache_dir: str | None,
    embed_actors: int | None,
    progress: bool,
    on_shard: Callable[[int, int], None] | None,
    planned: Planned,
) -> int:
    """Run the pipeline over shards ``todo`` and commit each shard once; returns the rows added.

    Just before each commit the shard is checked against the table (:func:`shard_unchanged`): one whose
    rows changed since ``planned`` is not committed (its fragments stay unreferenced files) and is
    reported, so that no id is ever committed twice.
    """
    from lance.fragment import FragmentMetadata

    pause, signal_file = os.environ.get(TEST_PAUSE_ENV, ""), os.environ.get(TEST_SIGNAL_ENV, "")
    actors, gpus = default_embed_actors(ray.cluster_resources())
    actors = embed_actors or actors
    dataset = (
        ray.data.read_parquet(segments)
        .select_columns(SEGMENT_COLUMNS)
        .map_batches(
            _select_rows,
            batch_format="pyarrow",
            batch_size=None,
            fn_kwargs={"shards": shards, "split": split, "todo": todo, "present": present},
        )
        .sort(SHARD_COLUMN, boundaries=todo[1:])  # one partition per shard
        .map_batches(
            _decode_batch,
            batch_format="pyarrow",
            batch_size=batch_size,
            fn_kwargs={"checkpoint": checkpoint, "cache_dir": cache_dir},
            num_cpus=1,
            memory=DECODE_TASK_MEMORY,
        )
        .map_batches(
            SegmentEmbedder,
            batch_format="pyarrow",
            batch_size=batch_size,
            fn_constructor_kwargs={"checkpoint": checkpoint},
            compute=ray.data.ActorPoolStrategy(size=actors),
            num_gpus=gpus,
            num_cpus=1,
        )
        .map_batches(
            _write_batch,
            batch_format="pyarrow",
            batch_size=batch_size,
            fn_kwargs={
                "uri": store.uri,
                "corpus": corpus,
                "model_name": name,
                "model_version": version,
                "dim": dim,
                "shards": shards,
                "pause": pause,
                "signal_file": signal_file,
            },
        )  # fmt: skip
    )
    committed: set[int] = set()
    added = 0
    current: int | None = None
    pending: list[Any] = []
    pending_rows = 0

    def commit() -> None:
        nonlocal added, pending, pending_rows
        if current is None:
            return
        committed.add(current)
        bar.advance(task)
        if pending:
            latest = lance.dataset(store.uri).version
            if not shard_unchanged(store, current, latest, planned):
                report.skip(
                    str(store.path),
                    f"another writer changed the rows of shard {current} while this run indexed it, so its "
                    f"{pending_rows} row(s) were not committed (they could duplicate ids); re-run `songalign index`, "
                    "one run at a time, to complete the shard",
                    item=f"shard {current}",
                )
                pending, pending_rows = [], 0
                return
            operation = lance.LanceOperation.Append(pending)
            done = lance.LanceDataset.commit(store.uri, operation, read_version=latest)
            # our commit directly on top of the version checked: nobody else committed in between
            planned.own_version = done.version if done.version == latest + 1 else None
        added += pending_rows
        report.kept += pending_rows
        if on_shard is not None:
            on_shard(current, pending_rows)
        if pause == f"after:{len(committed)}":
            _pause("after", current, signal_file)
        pending, pending_rows = [], 0

    columns = [TextColumn("indexing shards"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, disable=not progress, transient=True) as bar:
        task = bar.add_task("shards", total=len(todo))
        for part in dataset.iter_batches(batch_format="pyarrow", batch_size=None):
            for row in part.to_pylist():
                shard = int(row["shard"])
                if shard != current:
                    if shard in committed or (current is not None and shard < current):
                        raise SongalignError(
                            f"shard {shard} reached the driver out of order (after shard {current}); nothing of it "
                            "was committed twice — re-run to complete it"
                        )
                    commit()
                    current = shard
                for path, reason, item in json.loads(row["skipped"]):
                    report.skip(path, reason, item=item)
                pending.extend(FragmentMetadata.from_json(json.dumps(f)) for f in json.loads(row["fragments"]))
                pending_rows += int(row["rows"])
        commit()
    return added
