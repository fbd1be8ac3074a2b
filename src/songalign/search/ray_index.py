"""The IVF_PQ index built on Ray: trained once on a sample, each fragment group's part built in a Ray task,
committed once.

For a table too large to index in one process in the time wanted (10⁷–10⁸ rows), the work that
grows with the rows — assigning every vector to its partition and encoding it with the PQ codebook
— is spread over Ray tasks, while the model every part must share is trained once:

1. **Train on a sample** (the driver): pylance's ``IndicesBuilder.prepare_global_ivf_pq`` trains
   the IVF centroids (k-means on ``sample_rate × partitions`` vectors) and the PQ codebook (on
   ``sample_rate × 256`` residuals), cosine distance, as LanceDB would for the whole table.
2. **Build the parts** (Ray tasks, one CPU each): ``LanceDataset.create_index_uncommitted(column,
   "IVF_PQ", fragment_ids=…, ivf_centroids=…, pq_codebook=…)`` writes one index segment per group
   of fragments under ``_indices/`` and returns its metadata; nothing is committed yet.
3. **Merge and commit once** (the driver): ``merge_existing_index_segments`` merges the segments
   (same centroids and codebook: a physical merge into one index), and
   ``commit_existing_index_segments`` publishes it as the column's index (``{column}_idx``,
   LanceDB's name) in one commit — a run killed before that leaves the table as it was.

pylance 14 publishes vector segments this way; its ``merge_index_metadata`` (named in older
guides) now serves scalar indexes only. The ``lance-ray`` package (0.5.0: ``ray[data] >= 2.41``,
``pylance >= 9``, ``lance-namespace``) would install beside the ``scale`` extra's pins and makes
the same three calls (``create_index_uncommitted``, ``commit_existing_index_segments``); it is not
used, to keep one dependency fewer for what is some forty lines here.

Every node must reach the table at the same URI (a shared file system or object store).
"""

from __future__ import annotations

import time
from typing import Any

from songalign.errors import MissingDependencyError
from songalign.search.ann import AnnSettings, IndexPlan, VectorBuilder

SAMPLE_RATE = 256
"""Vectors sampled per IVF partition (and per PQ centroid) to train on, as LanceDB's own default."""


def _lance() -> Any:
    try:
        import lance
        from lance.indices import IndicesBuilder
    except ImportError as error:
        raise MissingDependencyError("pylance", "building the index on Ray", extra="scale") from error
    return lance, IndicesBuilder


def train_ivf_pq(uri: str, column: str, plan: IndexPlan, settings: AnnSettings) -> dict[str, Any]:
    """IVF centroids and PQ codebook (``{"ivf_centroids", "pq_codebook"}``, Arrow fixed-size lists) for
    ``plan``, trained on a sample of the Lance dataset at ``uri`` (cosine distance)."""
    lance, IndicesBuilder = _lance()
    dataset = lance.dataset(uri)
    rows = dataset.count_rows()
    sample_rate = max(2, min(SAMPLE_RATE, rows // max(plan.num_partitions, 2 ** (plan.num_bits or 8))))
    return IndicesBuilder(dataset, column).prepare_global_ivf_pq(
        plan.num_partitions,
        plan.num_sub_vectors,
        distance_type="cosine",
        sample_rate=sample_rate,
        max_iters=settings.max_iterations,
        num_bits=plan.num_bits or 8,
    )


def build_part(uri: str, version: int, column: str, plan: IndexPlan, model: dict[str, Any], fragments: list[int]) -> Any:
    """Index segment of ``fragments`` of the dataset at ``uri`` (``version``), encoded with the shared
    ``model`` (:func:`train_ivf_pq`); written under ``_indices/``, not committed. Returns its metadata."""
    lance, _ = _lance()
    return lance.dataset(uri, version=version).create_index_uncommitted(
        column,
        "IVF_PQ",
        name=f"{column}_idx",
        metric="cosine",
        num_partitions=plan.num_partitions,
        num_sub_vectors=plan.num_sub_vectors,
        num_bits=plan.num_bits or 8,
        ivf_centroids=model["ivf_centroids"],
        pq_codebook=model["pq_codebook"],
        fragment_ids=fragments,
    )


def fragment_groups(fragments: list[tuple[int, int]], parts: int) -> list[list[int]]:
    """``fragments`` as ``(id, rows)`` split into at most ``parts`` groups of about equal rows, in id order
    (each group a contiguous run of fragments; none empty)."""
    parts = max(1, min(parts, len(fragments)))
    total = sum(rows for _, rows in fragments)
    groups: list[list[int]] = [[]]
    done = 0
    for fragment, rows in fragments:
        if groups[-1] and done >= total * len(groups) / parts and len(groups) < parts:
            groups.append([])
        groups[-1].append(fragment)
        done += rows
    return groups


def build_on_ray(uri: str, column: str, plan: IndexPlan, settings: AnnSettings, parts: int | None = None) -> float:
    """Build and commit ``plan``'s IVF_PQ index of ``column`` of the Lance dataset at ``uri`` on the running
    Ray (trained on a sample on the driver, ``parts`` tasks — default one per CPU of the cluster —
    merged and committed once); returns the seconds it took. Any index of ``column`` is replaced."""
    import ray

    lance, _ = _lance()
    started = time.perf_counter()
    dataset = lance.dataset(uri)
    model = train_ivf_pq(uri, column, plan, settings)
    parts = parts or max(1, int(ray.cluster_resources().get("CPU", 1)))
    groups = fragment_groups([(f.fragment_id, f.count_rows()) for f in dataset.get_fragments()], parts)
    task = ray.remote(num_cpus=1)(build_part)
    model_ref = ray.put(model)
    segments = ray.get([task.remote(uri, dataset.version, column, plan, model_ref, group) for group in groups])
    merged = dataset.merge_existing_index_segments(segments) if len(segments) > 1 else segments[0]
    dataset.commit_existing_index_segments(f"{column}_idx", column, [merged])
    return time.perf_counter() - started


def ray_vector_builder(parts: int | None = None) -> VectorBuilder:
    """A :data:`~songalign.search.ann.VectorBuilder` that builds IVF_PQ indexes with :func:`build_on_ray`
    (Ray must be running, or be started by the first ``ray`` call)."""
    import asyncio

    async def build(table: Any, column: str, plan: IndexPlan, settings: AnnSettings) -> None:
        dataset = await table.to_lance()
        await asyncio.to_thread(build_on_ray, dataset.uri, column, plan, settings, parts)

    return build
