"""Search latency and recall of the segment index at 10⁶–10⁷ vectors, against exact search in the same run.

What it does, all in one process:

1. draws ``--rows`` (alias ``--n``) unit vectors of the default embedding dimension (256) chunk
   by chunk (``--chunk`` rows at a time, each chunk from its own seeded generator, so that no
   more than one chunk is ever in memory: 10⁷ × 256 float32 would be 10 GB) and streams them
   into a LanceDB table on disk in one commit; ``--queries`` query vectors are drawn first (see
   "data" below);
2. while it writes, computes the exact top-k of every query chunk by chunk (queries × chunk
   matmul, a running top-k) — the ground truth;
3. builds the ANN index exactly as ``songalign index`` does (compaction, then
   :func:`songalign.search.ann.create_vector_index` with
   :class:`~songalign.search.ann.AnnSettings`; ``--index auto`` chooses by size as the
   product does: IVF_FLAT with ~4,096 vectors a partition below 3·10⁶ rows, IVF_PQ with
   refinement from there on) — timed — and prewarms it as ``songalign serve`` does;
4. times single exact queries (numpy over the vectors of the first 10⁶ rows held in memory,
   and LanceDB's own flat scan over the whole table);
5. times single ANN queries through the product's query path (:func:`songalign.search.ann.nearest_query`,
   one query at a time, after ``--warmup`` untimed ones) for each ``--nprobes`` × ``--refine-factor``
   value, measures recall@k against the ground truth, and reads LanceDB's own execution time
   from its plan metrics.

It prints the p50/p99 latency (ms) and recall@10 of each setting, the index build time, peak
memory (RSS) during the build and for the whole run, the ratio of each setting's p50 to brute
force, the fixed cost of any query (the same path on a 1,000-row table) and the machine's thread
wake-up latency, so that the index's own share can be told from the Python-to-LanceDB round trip
and the machine's scheduling noise. ``--query-cpus 0`` pins the query phase to one CPU (as
``songalign serve --cpus 0``): on small VMs wake-ups across CPUs dominate the tail.

Data: ``clustered`` (default) draws vectors from a mixture of ``rows / 1000`` Gaussian clusters on
the sphere — random unit centres plus isotropic noise as large as the centre, so that a vector's
cosine to its centre is about 0.71 and two vectors of a cluster have cosine about 0.5 — and
queries are fresh draws from the same mixture (never copies of stored vectors). Embeddings of
real segments are clustered (by song, artist, mood); an isotropic cloud has no neighbourhood
structure at all. ``song`` draws segments shaped like song embeddings (20 consecutive rows a song,
songs grouped by style, spreads measured on real embeddings: ``benchmarks/song_vectors.py``), its
queries half new segments of stored songs and half text-like queries near a style.
``isotropic`` draws uniformly from the sphere: the worst case for any ANN
index (at 256 dimensions the 10 nearest neighbours are barely nearer than the rest), shown for
reference.

Usage::

    python benchmarks/search_latency.py --query-cpus 0  # 10⁶ vectors, IVF_FLAT (~3 min on 2 cores)
    python benchmarks/search_latency.py --rows 100000   # quick run
    python benchmarks/search_latency.py --rows 1000000 --index ivf_pq --query-cpus 0
    python benchmarks/search_latency.py --rows 10000000 --index ivf_pq --query-cpus 0 --flat-queries 3
    python benchmarks/search_latency.py --data isotropic --nprobes 1,4,16
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import tempfile
import threading
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import pyarrow as pa
from song_vectors import SongVectors

from songalign.search.ann import (
    AnnSettings,
    RunningTopK,
    TunedSetting,
    TuneTarget,
    create_vector_index,
    nearest_query,
    tune_index,
)
from songalign.search.store import run_async

PAGE = os.sysconf("SC_PAGE_SIZE")


class PeakMemory:
    """Peak resident memory (bytes) of this process while the block runs, sampled every 20 ms."""

    def __enter__(self) -> PeakMemory:
        self.peak, self._stop = rss(), threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def _sample(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, rss())

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.peak = max(self.peak, rss())


def rss() -> int:
    with open("/proc/self/statm") as handle:
        return int(handle.read().split()[1]) * PAGE


def gib(n_bytes: float) -> str:
    return f"{n_bytes / 2**30:.2f} GiB"


def unit(x: np.ndarray) -> np.ndarray:
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    return x


class Vectors:
    """The benchmark's data, drawn chunk by chunk: ``chunk(i, m)`` gives chunk ``i`` as ``(m, dim)``
    float32 unit vectors, the same for the same seed whatever the order or size of the run;
    ``queries(m)`` gives ``m`` query vectors from the same distribution (another stream)."""

    def __init__(self, kind: str, dim: int, clusters: int, seed: int, rows: int = 0, chunk_rows: int = 100_000):
        self.kind, self.dim, self.seed, self.rows = kind, dim, seed, rows
        rng = np.random.default_rng([seed, 0])
        self.centres = unit(rng.standard_normal((clusters, dim), dtype=np.float32)) if kind == "clustered" else None
        self.songs = SongVectors(dim, seed, chunk_rows=chunk_rows) if kind == "song" else None

    def _draw(self, rng: np.random.Generator, m: int) -> np.ndarray:
        noise = rng.standard_normal((m, self.dim), dtype=np.float32)
        if self.centres is None:
            return unit(noise)
        # noise of norm ≈ 1 around a unit centre: cos(vector, centre) ≈ 1/√2
        return unit(self.centres[rng.integers(0, len(self.centres), m)] + noise / np.float32(np.sqrt(self.dim)))

    def chunk(self, index: int, m: int) -> np.ndarray:
        if self.songs is not None:
            return self.songs.chunk(index, m)
        return self._draw(np.random.default_rng([self.seed, 2, index]), m)

    def queries(self, m: int) -> np.ndarray:
        if self.songs is not None:
            return self.songs.queries(m, self.rows)
        return self._draw(np.random.default_rng([self.seed, 1]), m)


def exact_top_k(data: np.ndarray, queries: np.ndarray, k: int, chunk: int = 100_000) -> np.ndarray:
    """Indices ``(Q, k)`` of the exact k nearest (largest cosine) rows of ``data`` for each query."""
    top = RunningTopK(queries, k)
    for i in range(0, len(data), chunk):
        top.update(data[i : i + chunk], np.arange(i, i + len(data[i : i + chunk])))
    return top.result()


def pin_process(cpus: set[int]) -> None:
    """Restrict every thread of this process (LanceDB's runtime threads included) to ``cpus``."""
    for task in os.listdir("/proc/self/task"):
        try:
            os.sched_setaffinity(int(task), cpus)
        except (ProcessLookupError, PermissionError):
            pass
    os.sched_setaffinity(0, cpus)


def handoff_us(rounds: int = 1000) -> list[float]:
    """Round trips (µs) of a hand-off between two idle threads: the machine's wake-up latency.

    Each LanceDB query crosses threads about ten times (Python → event loop → LanceDB's runtime
    and back, batch by batch), so this sets a floor under the query latency that no index removes.
    """
    import queue

    ping: queue.Queue = queue.Queue()
    pong: queue.Queue = queue.Queue()

    def echo() -> None:
        while (item := ping.get()) is not None:
            pong.put(item)

    thread = threading.Thread(target=echo, daemon=True)
    thread.start()
    out = []
    for i in range(rounds):
        time.sleep(0.001)  # let the other thread go idle, as between queries
        started = time.perf_counter()
        ping.put(i)
        pong.get()
        out.append((time.perf_counter() - started) * 1e6)
    ping.put(None)
    thread.join()
    return out


def engine_ms(table: object, query: np.ndarray, k: int, settings: AnnSettings) -> float:
    """LanceDB's own elapsed time (ms) for one query, from its execution plan's metrics (no Python round trip)."""
    import re

    text = run_async(nearest_query(table, query, "vector", k, settings).analyze_plan())
    value, unit = re.search(r"AnalyzeExec verbose=true, elapsed=([\d.]+)(ms|µs|ns|s)", text).groups()
    return float(value) * {"s": 1000.0, "ms": 1.0, "µs": 1e-3, "ns": 1e-6}[unit]


def percentiles(ms: list[float]) -> str:
    values = np.asarray(ms)
    return (
        f"p50 {np.percentile(values, 50):.2f} ms  p99 {np.percentile(values, 99):.2f} ms  mean {values.mean():.2f} ms"
    )


def index_type_name(value: str) -> str:
    """``ivf_pq`` → ``IVF_PQ``; ``auto`` stays ``auto``."""
    return "auto" if value.lower() == "auto" else value.upper()


def folder_bytes(folder: Path) -> int:
    return sum(f.stat().st_size for f in folder.rglob("*") if f.is_file()) if folder.exists() else 0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rows", "--n", dest="n", type=int, default=1_000_000, help="vectors in the table")
    parser.add_argument("--dim", type=int, default=None, help="dimension (default: ModelConfig().embedding_dim)")
    parser.add_argument("--chunk", type=int, default=100_000, help="vectors generated and scored at a time")
    parser.add_argument("--queries", type=int, default=1000, help="timed single queries per setting")
    parser.add_argument(
        "--warmup", type=int, default=300, help="untimed queries per setting first (bring the index into cache)"
    )
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument(
        "--data",
        choices=["clustered", "isotropic", "song"],
        default="clustered",
        help="song: segments by song, songs by style (benchmarks/song_vectors.py)",
    )
    parser.add_argument(
        "--target-recall",
        type=float,
        default=None,
        help="after the build, tune the index as `songalign index --target-recall` does (pinned as --query-cpus) and "
        "measure the chosen setting",
    )
    parser.add_argument("--latency-budget-ms", type=float, default=None, help="with --target-recall: the p99 budget")
    parser.add_argument("--tune-queries", type=int, default=200, help="held-out rows the tuner searches")
    parser.add_argument("--max-builds", type=int, default=1, help="with --target-recall: indexes the tuner may build")
    parser.add_argument("--clusters", type=int, default=None, help="clusters of the clustered data (default n/1000)")
    parser.add_argument(
        "--index",
        "--index-type",
        dest="index_type",
        type=index_type_name,
        default="IVF_FLAT",
        choices=["auto", "IVF_SQ", "IVF_FLAT", "IVF_PQ", "IVF_HNSW_SQ"],
        help="auto: chosen by size as `songalign index` does; or one LanceDB IVF index (ivf_pq, ivf_flat, ...)",
    )
    parser.add_argument(
        "--partition-size", type=int, default=None, help="vectors per IVF partition (default: AnnSettings')"
    )
    parser.add_argument("--sub-vector-dims", type=int, default=AnnSettings.pq_dims_per_sub_vector, help="IVF_PQ")
    parser.add_argument(
        "--nprobes", default=None, help="comma-separated nprobes values to measure (default: around the index's own)"
    )
    parser.add_argument(
        "--refine-factor",
        default=None,
        help="comma-separated refine factors to measure (0: none; default: the index's own, IVF_PQ 10)",
    )
    parser.add_argument("--flat-queries", type=int, default=10, help="timed exact LanceDB flat scans (slow)")
    parser.add_argument(
        "--brute-rows", type=int, default=1_000_000, help="vectors held in memory for the numpy brute-force timing"
    )
    parser.add_argument(
        "--db", type=Path, default=None, help="folder for the table (default: a temporary one, removed)"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --db: query the table and index a previous run left there (same rows, seed)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--query-cpus",
        default=None,
        help="pin every thread to these CPUs (e.g. 0) for the query phase; on small VMs cross-CPU wake-ups set the tail",
    )
    args = parser.parse_args()
    if args.dim is None:
        from songalign.align.model import ModelConfig

        args.dim = ModelConfig().embedding_dim
    args.clusters = args.clusters or max(1, args.n // 1000)
    sizes = {}
    if args.partition_size:
        sizes = {"target_partition_size": args.partition_size, "pq_partition_size": args.partition_size}
    ann = AnnSettings(index_type=args.index_type, pq_dims_per_sub_vector=args.sub_vector_dims, **sizes)
    plan = ann.plan(args.n, args.dim)
    workdir = args.db or Path(tempfile.mkdtemp(prefix="songalign-bench-"))
    cpus = len(os.sched_getaffinity(0))
    pq = f", {plan.num_sub_vectors} sub-vectors of {plan.num_bits} bits" if plan.num_sub_vectors else ""
    print(
        f"songalign search latency: {args.n:,} x {args.dim}-d unit vectors ({args.data}"
        f"{f', {args.clusters} clusters' if args.data == 'clustered' else ''}), {args.queries} queries, k={args.k}; "
        f"{plan.index_type}, {plan.num_partitions} partitions{pq} ({plan.bytes_per_vector} bytes a vector in the "
        f"index); {cpus} CPUs, load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    try:
        run(args, ann, workdir)
    finally:
        if args.db is None:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, ann: AnnSettings, workdir: Path) -> None:
    import lancedb

    source = Vectors(args.data, args.dim, args.clusters, args.seed, args.n, args.chunk)
    queries = source.queries(args.queries + args.warmup)
    timed = queries[args.warmup :]
    truth = RunningTopK(timed, args.k)
    brute_rows = min(args.n, args.brute_rows)
    held = np.empty((brute_rows, args.dim), dtype=np.float32)  # the vectors the numpy brute force times
    chunks = [(i, start, min(args.chunk, args.n - start)) for i, start in enumerate(range(0, args.n, args.chunk))]
    schema = pa.schema([("id", pa.int64()), ("vector", pa.list_(pa.float32(), args.dim))])
    spent = {"generate": 0.0, "truth": 0.0}

    def batches(write: bool):
        """Each chunk once: drawn, scored against the queries, kept if among the held rows, and yielded to the writer."""
        for i, start, size in chunks:
            t = time.perf_counter()
            block = source.chunk(i, size)
            spent["generate"] += time.perf_counter() - t
            t = time.perf_counter()
            truth.update(block, np.arange(start, start + size))
            spent["truth"] += time.perf_counter() - t
            if start < brute_rows:
                held[start : start + size][: brute_rows - start] = block[: brute_rows - start]
            if write:
                vectors = pa.FixedSizeListArray.from_arrays(pa.array(block.reshape(-1)), args.dim)
                yield pa.record_batch([pa.array(np.arange(start, start + size)), vectors], schema=schema)
            del block

    async def write() -> object:
        db = await lancedb.connect_async(str(workdir))
        table = await db.create_table("bench", schema=schema, mode="overwrite")
        await table.add(pa.RecordBatchReader.from_batches(schema, batches(write=True)))  # streamed, one commit
        return table

    async def reopen() -> object:
        db = await lancedb.connect_async(str(workdir))
        table = await db.open_table("bench")
        if await table.count_rows() != args.n or not await table.list_indices():
            raise SystemExit(f"{workdir} holds no indexed table of {args.n} vectors: run once without --reuse")
        return table

    if args.reuse:
        table = run_async(reopen())
        for _ in batches(write=False):
            pass
        print(f"reusing the table and index in {workdir}", flush=True)
    else:
        with PeakMemory() as write_memory:
            started = time.perf_counter()
            table = run_async(write())
            written = time.perf_counter() - started
        with PeakMemory() as build_memory:
            started = time.perf_counter()
            run_async(table.optimize())  # as `songalign index` does before building: one compacted fragment set
            compact = time.perf_counter() - started
            plan = run_async(create_vector_index(table, "vector", ann, args.n, args.dim))
            build = time.perf_counter() - started
        disk = folder_bytes(workdir)
        index_disk = folder_bytes(workdir / "bench.lance" / "_indices")
        started = time.perf_counter()
        os.sync()  # flush the new files now, so that their write-back does not land in the timed queries
        flushed = time.perf_counter() - started
        pq = f", {plan.num_sub_vectors} sub-vectors x {plan.num_bits} bits" if plan.num_sub_vectors else ""
        print(
            f"index build time: {build:.1f} s ({compact:.1f} s compaction + {build - compact:.1f} s {plan.index_type}, "
            f"{plan.num_partitions} partitions{pq}, {ann.max_iterations} k-means iterations); data generation "
            f"{spent['generate']:.1f} s and exact ground truth {spent['truth']:.1f} s (chunks of {args.chunk:,}), "
            f"within the table write of {written:.1f} s; peak RSS while writing {gib(write_memory.peak)}, during the "
            f"build {gib(build_memory.peak)} (the benchmark holds {gib(held.nbytes)} of vectors for brute force); "
            f"{gib(disk)} on disk, the index {gib(index_disk)}; flushed in {flushed:.1f} s",
            flush=True,
        )
    expected = truth.result()

    brute = []
    for q in timed[: min(200, len(timed))]:
        t = time.perf_counter()
        scores = held @ q
        top = np.argpartition(-scores, args.k)[: args.k]
        top[np.argsort(-scores[top])]
        brute.append((time.perf_counter() - t) * 1000)
    brute_p50 = float(np.percentile(brute, 50)) * args.n / brute_rows  # brute force scales linearly with rows
    scaled = (
        ""
        if brute_rows == args.n
        else f" over {brute_rows:,} rows held in memory, x{args.n / brute_rows:g} for the table"
    )
    print(
        f"exact brute force (numpy, single queries{scaled}): {percentiles(brute)}; "
        f"ground truth for {len(timed)} queries in {spent['truth']:.1f} s",
        flush=True,
    )
    flat = []
    for q in timed[: args.flat_queries]:
        t = time.perf_counter()
        run_async(
            table.query()
            .nearest_to(q)
            .distance_type("cosine")
            .bypass_vector_index()
            .limit(args.k)
            .select(["id"])
            .to_arrow()
        )
        flat.append((time.perf_counter() - t) * 1000)
    if flat:
        print(f"exact flat scan (LanceDB on disk, no index, {len(flat)} queries): {percentiles(flat)}", flush=True)

    async def tiny() -> object:  # the fixed cost of any query: Python <-> LanceDB async bridge, planning, one take
        db = await lancedb.connect_async(str(workdir))
        vectors = pa.FixedSizeListArray.from_arrays(pa.array(held[:1000].reshape(-1)), args.dim)
        return await db.create_table(
            "floor", pa.table({"id": pa.array(np.arange(len(vectors))), "vector": vectors}), mode="overwrite"
        )

    started = time.perf_counter()
    for index in run_async(table.list_indices()):
        run_async(table.prewarm_index(index.name))  # as `songalign serve` does at start-up
    print(f"index prewarm requested in {time.perf_counter() - started:.1f} s", flush=True)
    floor_table = run_async(tiny())
    if args.query_cpus:
        pin_process({int(c) for c in args.query_cpus.split(",")})
        print(f"query phase pinned to CPU(s) {args.query_cpus}", flush=True)
    exact = AnnSettings(nprobes=1)
    floor = []
    for q in queries[:300]:
        t = time.perf_counter()
        run_async(nearest_query(floor_table, q, "vector", args.k, exact).to_arrow())
        floor.append((time.perf_counter() - t) * 1000)
    print(
        f"round-trip floor (the same query path on a 1,000-row table, exact scan): {percentiles(floor[20:])}",
        flush=True,
    )
    handoffs = handoff_us()
    print(
        f"thread hand-off round trip on this machine: p50 {np.percentile(handoffs, 50):.0f} µs  "
        f"p99 {np.percentile(handoffs, 99):.0f} µs",
        flush=True,
    )

    plan = ann.plan(args.n, args.dim)
    if args.target_recall:
        target = TuneTarget(
            args.target_recall, args.latency_budget_ms, args.k, args.tune_queries, max_builds=args.max_builds
        )
        # song data: tuned on held-out rows alone, then with text-like queries too (fresh draws, as a model's
        # text embeddings of mood phrases join the rows in `songalign index --target-recall`)
        extras = [None]
        if args.data == "song":
            extras.append(source.queries(args.tune_queries + 2 * len(queries))[2 * len(queries) :][1::2])
        for extra in extras:
            with PeakMemory() as tune_memory:
                tuned = tune_index(
                    table, ["vector"], ann, plan, target, run_async, build=args.max_builds > 1,
                    extra_queries=extra, extra_source="text-like queries near a style",
                )  # fmt: skip
            tuning = tuned.tuning
            print(
                f"tuner ({tuning['query_source']}; {tuning['seconds']:.0f} s, peak RSS {gib(tune_memory.peak)}):",
                flush=True,
            )
            for row in tuning["frontier"]:
                setting = TunedSetting.from_dict(row)
                print(f"  {setting.describe(args.k)}{'  <- chosen' if row == tuning['chosen'] else ''}", flush=True)
            print(f"tuner: {tuning['message']}", flush=True)
        if not args.nprobes:
            args.nprobes, args.refine_factor = str(tuned.nprobes), str(tuned.refine_factor or 0)
        plan = tuned
    nprobes_values = (
        [int(x) for x in args.nprobes.split(",") if x.strip()]
        if args.nprobes
        else sorted({max(1, plan.nprobes // 2), plan.nprobes, plan.nprobes * 2})
    )
    refine_values = (
        [int(x) or None for x in args.refine_factor.split(",") if x.strip()]
        if args.refine_factor
        else [plan.refine_factor]
    )
    for refine in refine_values:
        for nprobes in nprobes_values:
            settings = replace(ann, nprobes=nprobes, refine_factor=refine)
            for q in queries[: args.warmup]:
                run_async(nearest_query(table, q, "vector", args.k, settings).to_arrow())
            latencies, hits = [], []
            for q, want in zip(timed, expected, strict=True):
                t = time.perf_counter()
                got = run_async(nearest_query(table, q, "vector", args.k, settings).to_arrow())
                latencies.append((time.perf_counter() - t) * 1000)
                hits.append(len(set(got.column("id").to_pylist()) & set(want.tolist())))
            recall = sum(hits) / (args.k * len(timed))
            if args.data == "song":  # the queries alternate: new segments of stored songs, text-like queries
                kinds = [np.asarray(hits[start::2]) for start in (args.warmup % 2, 1 - args.warmup % 2)]
                print(
                    f"  recall@{args.k} of the segment queries {kinds[0].mean() / args.k:.4f}, of the text-like "
                    f"queries {kinds[1].mean() / args.k:.4f}",
                    flush=True,
                )
            p50 = float(np.percentile(latencies, 50))
            engine = [engine_ms(table, q, args.k, settings) for q in timed[: min(200, len(timed))]]
            print(
                f"{plan.index_type} nprobes={nprobes}{f' refine_factor={refine}' if refine else ''}: "
                f"{percentiles(latencies)}  recall@{args.k} {recall:.4f}  (p50 {brute_p50 / p50:.1f}x faster than "
                f"numpy brute force"
                f"{f', {float(np.percentile(flat, 50)) / p50:.0f}x faster than the LanceDB flat scan' if flat else ''}); "
                f"LanceDB's own execution time {percentiles(engine)}; load average {os.getloadavg()[0]:.1f}",
                flush=True,
            )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"peak RSS of the whole run: {gib(peak)}", flush=True)


if __name__ == "__main__":
    main()
