"""Search latency and recall of the segment index at 10⁶ vectors, against exact search in the same run.

What it does, all in one process:

1. draws ``--n`` random unit vectors of the default embedding dimension (256) and ``--queries``
   query vectors (see "data" below), and writes the vectors to a LanceDB table on disk;
2. builds the ANN index exactly as ``songalign index`` does (:func:`songalign.search.store.create_vector_index`
   with :class:`~songalign.search.store.AnnSettings`: compaction, then IVF_FLAT with ~4,096 vectors a
   partition) — timed — and prewarms it as ``songalign serve`` does;
3. computes the exact top-k of every query by brute force (numpy, all vectors in memory) — the
   ground truth — and times single exact queries (numpy, and LanceDB's own flat scan);
4. times single ANN queries through the product's query path (:func:`songalign.search.store.nearest`,
   one query at a time, after 300 untimed ones) for each ``--nprobes`` value, measures recall@k
   against the ground truth, and reads LanceDB's own execution time from its plan metrics.

It prints the p50/p99 latency (ms) and recall@10 of each setting, the index build time, peak
memory (RSS), the ratio of each setting's p50 to brute force, the fixed cost of any query (the
same path on a 1,000-row table) and the machine's thread wake-up latency, so that the index's own
share can be told from the Python-to-LanceDB round trip and the machine's scheduling noise.
``--query-cpus 0`` pins the query phase to one CPU (as ``songalign serve --cpus 0``): on small VMs
wake-ups across CPUs dominate the tail.

Data: ``clustered`` (default) draws vectors from a mixture of ``n / 1000`` Gaussian clusters on
the sphere — random unit centres plus isotropic noise as large as the centre, so that a vector's
cosine to its centre is about 0.71 and two vectors of a cluster have cosine about 0.5 — and
queries are fresh draws from the same mixture (never copies of stored vectors). Embeddings of
real segments are clustered (by song, artist, mood); an isotropic cloud has no neighbourhood
structure at all. ``isotropic`` draws uniformly from the sphere: the worst case for any ANN
index (at 256 dimensions the 10 nearest neighbours are barely nearer than the rest), shown for
reference.

Usage::

    python benchmarks/search_latency.py --query-cpus 0  # 10⁶ vectors (3.4 GiB RAM, ~2.5 min on 2 cores)
    python benchmarks/search_latency.py --n 100000      # quick run
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
from pathlib import Path

import numpy as np
import pyarrow as pa

from songalign.search.store import AnnSettings, create_vector_index, nearest_query, run_async

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
    """The benchmark's data: ``draw(m)`` gives ``(m, dim)`` float32 unit vectors from the chosen distribution."""

    def __init__(self, kind: str, dim: int, clusters: int, seed: int):
        self.kind, self.dim = kind, dim
        self.rng = np.random.default_rng(seed)
        self.centres = (
            unit(self.rng.standard_normal((clusters, dim), dtype=np.float32)) if kind == "clustered" else None
        )

    def draw(self, m: int) -> np.ndarray:
        noise = self.rng.standard_normal((m, self.dim), dtype=np.float32)
        if self.centres is None:
            return unit(noise)
        # noise of norm ≈ 1 around a unit centre: cos(vector, centre) ≈ 1/√2
        return unit(self.centres[self.rng.integers(0, len(self.centres), m)] + noise / np.float32(np.sqrt(self.dim)))


def exact_top_k(data: np.ndarray, queries: np.ndarray, k: int, chunk: int = 64) -> np.ndarray:
    """Indices ``(Q, k)`` of the exact k nearest (largest cosine) rows of ``data`` for each query."""
    out = np.empty((len(queries), k), dtype=np.int64)
    for i in range(0, len(queries), chunk):
        scores = queries[i : i + chunk] @ data.T
        part = np.argpartition(-scores, k, axis=1)[:, :k]
        order = np.take_along_axis(scores, part, axis=1).argsort(axis=1)[:, ::-1]
        out[i : i + chunk] = np.take_along_axis(part, order, axis=1)
    return out


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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000, help="vectors in the table")
    parser.add_argument("--dim", type=int, default=None, help="dimension (default: ModelConfig().embedding_dim)")
    parser.add_argument("--queries", type=int, default=1000, help="timed single queries per setting")
    parser.add_argument(
        "--warmup", type=int, default=300, help="untimed queries per setting first (bring the index into cache)"
    )
    parser.add_argument("--k", type=int, default=10)
    parser.add_argument("--data", choices=["clustered", "isotropic"], default="clustered")
    parser.add_argument("--clusters", type=int, default=None, help="clusters of the clustered data (default n/1000)")
    parser.add_argument(
        "--index-type", default=AnnSettings.index_type, choices=["IVF_SQ", "IVF_FLAT", "IVF_PQ", "IVF_HNSW_SQ"]
    )
    parser.add_argument("--partition-size", type=int, default=AnnSettings.target_partition_size)
    parser.add_argument("--nprobes", default="1,2,4", help="comma-separated nprobes values to measure")
    parser.add_argument("--refine-factor", type=int, default=None)
    parser.add_argument("--flat-queries", type=int, default=10, help="timed exact LanceDB flat scans (slow)")
    parser.add_argument(
        "--db", type=Path, default=None, help="folder for the table (default: a temporary one, removed)"
    )
    parser.add_argument(
        "--reuse",
        action="store_true",
        help="with --db: query the table and index a previous run left there (same n, seed)",
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
    ann = AnnSettings(
        index_type=args.index_type, target_partition_size=args.partition_size, refine_factor=args.refine_factor
    )
    workdir = args.db or Path(tempfile.mkdtemp(prefix="songalign-bench-"))
    cpus = len(os.sched_getaffinity(0))
    print(
        f"songalign search latency: {args.n:,} x {args.dim}-d unit vectors ({args.data}"
        f"{f', {args.clusters} clusters' if args.data == 'clustered' else ''}), {args.queries} queries, k={args.k}; "
        f"{ann.index_type}, {ann.partitions(args.n)} partitions; {cpus} CPUs, load average {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    try:
        run(args, ann, workdir)
    finally:
        if args.db is None:
            shutil.rmtree(workdir, ignore_errors=True)


def run(args: argparse.Namespace, ann: AnnSettings, workdir: Path) -> None:
    import lancedb

    source = Vectors(args.data, args.dim, args.clusters, args.seed)
    data = np.empty((args.n, args.dim), dtype=np.float32)
    started = time.perf_counter()
    for i in range(0, args.n, 100_000):
        data[i : i + 100_000] = source.draw(min(100_000, args.n - i))
    queries = source.draw(args.queries + args.warmup)
    generated = time.perf_counter() - started

    async def write() -> object:
        db = await lancedb.connect_async(str(workdir))
        schema = pa.schema([("id", pa.int64()), ("vector", pa.list_(pa.float32(), args.dim))])
        table = await db.create_table("bench", schema=schema, mode="overwrite")
        for i in range(0, args.n, 100_000):
            block = data[i : i + 100_000]
            vectors = pa.FixedSizeListArray.from_arrays(pa.array(block.reshape(-1)), args.dim)
            await table.add(pa.table({"id": pa.array(np.arange(i, i + len(block))), "vector": vectors}))
        return table

    async def reopen() -> object:
        db = await lancedb.connect_async(str(workdir))
        table = await db.open_table("bench")
        if await table.count_rows() != args.n or not await table.list_indices():
            raise SystemExit(f"{workdir} holds no indexed table of {args.n} vectors: run once without --reuse")
        return table

    if args.reuse:
        table = run_async(reopen())
        print(f"reusing the table and index in {workdir}", flush=True)
    else:
        started = time.perf_counter()
        table = run_async(write())
        written = time.perf_counter() - started
        with PeakMemory() as build_memory:
            started = time.perf_counter()
            run_async(table.optimize())  # as `songalign index` does before building: one compacted fragment set
            compact = time.perf_counter() - started
            run_async(create_vector_index(table, "vector", ann, args.n))
            build = time.perf_counter() - started
        disk = sum(f.stat().st_size for f in workdir.rglob("*") if f.is_file())
        started = time.perf_counter()
        os.sync()  # flush the new files now, so that their write-back does not land in the timed queries
        flushed = time.perf_counter() - started
        print(
            f"index build time: {build:.1f} s ({compact:.1f} s compaction + {build - compact:.1f} s {ann.index_type}, "
            f"{ann.partitions(args.n)} partitions, {ann.max_iterations} k-means iterations); data generation "
            f"{generated:.1f} s, table write {written:.1f} s; peak RSS during the build {gib(build_memory.peak)} "
            f"(the benchmark's own vectors take {gib(data.nbytes)}); {gib(disk)} on disk, flushed in {flushed:.1f} s",
            flush=True,
        )

    timed = queries[args.warmup :]
    started = time.perf_counter()
    truth = exact_top_k(data, timed, args.k)
    truth_seconds = time.perf_counter() - started
    brute = []
    for q in timed[: min(200, len(timed))]:
        t = time.perf_counter()
        scores = data @ q
        top = np.argpartition(-scores, args.k)[: args.k]
        top[np.argsort(-scores[top])]
        brute.append((time.perf_counter() - t) * 1000)
    brute_p50 = float(np.percentile(brute, 50))
    print(
        f"exact brute force (numpy, vectors in memory, single queries): {percentiles(brute)}; "
        f"ground truth for {len(timed)} queries in {truth_seconds:.1f} s",
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
        vectors = pa.FixedSizeListArray.from_arrays(pa.array(data[:1000].reshape(-1)), args.dim)
        return await db.create_table(
            "floor", pa.table({"id": pa.array(np.arange(1000)), "vector": vectors}), mode="overwrite"
        )

    started = time.perf_counter()
    for index in run_async(table.list_indices()):
        run_async(table.prewarm_index(index.name))  # as `songalign serve` does at start-up
    print(f"index prewarm requested in {time.perf_counter() - started:.1f} s", flush=True)
    floor_table = run_async(tiny())
    if args.query_cpus:
        pin_process({int(c) for c in args.query_cpus.split(",")})
        print(f"query phase pinned to CPU(s) {args.query_cpus}", flush=True)
    floor = []
    for q in queries[:300]:
        t = time.perf_counter()
        run_async(nearest_query(floor_table, q, "vector", args.k, ann).to_arrow())
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

    for nprobes in [int(x) for x in args.nprobes.split(",") if x.strip()]:
        settings = AnnSettings(**{**ann.to_dict(), "nprobes": nprobes})
        for q in queries[: args.warmup]:
            run_async(nearest_query(table, q, "vector", args.k, settings).to_arrow())
        latencies, hits = [], 0
        for q, expected in zip(timed, truth, strict=True):
            t = time.perf_counter()
            got = run_async(nearest_query(table, q, "vector", args.k, settings).to_arrow())
            latencies.append((time.perf_counter() - t) * 1000)
            hits += len(set(got.column("id").to_pylist()) & set(expected.tolist()))
        recall = hits / (args.k * len(timed))
        p50 = float(np.percentile(latencies, 50))
        engine = [engine_ms(table, q, args.k, settings) for q in timed[: min(200, len(timed))]]
        print(
            f"{ann.index_type} nprobes={nprobes}"
            f"{f' refine_factor={ann.refine_factor}' if ann.refine_factor else ''}: {percentiles(latencies)}  "
            f"recall@{args.k} {recall:.4f}  (p50 {brute_p50 / p50:.1f}x faster than numpy brute force"
            f"{f', {float(np.percentile(flat, 50)) / p50:.0f}x faster than the LanceDB flat scan' if flat else ''}); "
            f"LanceDB's own execution time {percentiles(engine)}; load average {os.getloadavg()[0]:.1f}",
            flush=True,
        )
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    print(f"peak RSS of the whole run: {gib(peak)}", flush=True)


if __name__ == "__main__":
    main()
