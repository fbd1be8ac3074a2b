"""Describe segments with caching and progress; describe a prepared corpus in place.

``describe_corpus(corpus_dir, "lexicon")`` loads the corpus manifest, describes every segment
that has lyrics (reusing cached descriptions), writes descriptions and labels back into
``segments.parquet`` and returns a :class:`DescribeResult` with the diversity report. It also
writes ``describe.json`` beside the manifest: the backend, the options given (API key left out),
the describer's cache identity (every option that changes its output, defaults included), the
counts and the report's figures.

Resuming: descriptions enter the cache as each chunk of segments finishes (and, when a
describer fails partway, those it did finish), so running the same command again after an
interruption describes only what is missing.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from rich.console import Console, Group

from songalign.console import progress_bar
from songalign.corpus.manifest import SEGMENTS_FILE, CorpusManifest
from songalign.corpus.records import Segment
from songalign.describe.base import DescribeInterrupted, Describer, Description, get_describer
from songalign.describe.cache import DescriptionCache, cache_key
from songalign.describe.config import DescriberConfig
from songalign.describe.diversity import DiversityReport
from songalign.errors import SkipReport, SongalignError

CACHE_SUBDIR = Path(".cache") / "describe"
"""Default cache folder, relative to the corpus folder."""
RUN_INFO_FILE = "describe.json"


@dataclass
class DescribeStats:
    """What a describing pass did: newly described, taken from the cache, skipped."""

    described: int = 0
    cached: int = 0
    skipped: SkipReport = field(default_factory=SkipReport)


def describe_segments(
    segments: Sequence[Segment],
    describer: Describer,
    *,
    cache: DescriptionCache | None = None,
    progress: bool = False,
    source: str = SEGMENTS_FILE,
) -> DescribeStats:
    """Describe ``segments`` in place (``description`` and ``labels``), using and filling ``cache``.

    Segments without lyrics are skipped and reported under ``source``. Raises the describer's
    :class:`SongalignError` after caching whatever was finished.
    """
    stats = DescribeStats()
    todo: list[tuple[Segment, str]] = []
    for segment in segments:
        if not segment.text.strip():
            stats.skipped.skip(source, "no lyrics to describe", item=segment.id)
            continue
        key = cache_key(describer, segment)
        hit = cache.get(key) if cache is not None else None
        if hit is None:
            todo.append((segment, key))
        else:
            hit.apply_to(segment)
            stats.cached += 1
    stats.skipped.kept = len(segments) - len(stats.skipped)

    def keep(segment: Segment, key: str, description: Description) -> None:
        if cache is not None:
            cache.put(key, description)
        description.apply_to(segment)
        stats.described += 1

    with progress_bar(progress) as bar:
        task = bar.add_task(f"describing ({describer.name})", total=len(todo))
        for start in range(0, len(todo), describer.chunk_size):
            chunk = todo[start : start + describer.chunk_size]
            try:
                descriptions = describer.describe([segment for segment, _ in chunk])
            except SongalignError as exc:
                if isinstance(exc, DescribeInterrupted):
                    for position, description in sorted(exc.completed.items()):
                        keep(*chunk[position], description)
                if cache is None or not stats.described:
                    raise
                raise SongalignError(
                    f"{exc} ({stats.described} new descriptions are cached in {cache.directory}; "
                    "run the same command again to resume)"
                ) from exc
            if len(descriptions) != len(chunk):
                raise SongalignError(
                    f"describer '{describer.name}' returned {len(descriptions)} descriptions for {len(chunk)} segments"
                )
            for (segment, key), description in zip(chunk, descriptions, strict=True):
                keep(segment, key, description)
            bar.advance(task, len(chunk))
    return stats


@dataclass
class DescribeResult:
    """What ``describe_corpus`` did and the diversity report of the corpus's descriptions."""

    corpus_dir: Path
    backend: str
    describer: str
    """``name@version`` of the describer."""
    segments: int
    stats: DescribeStats
    report: DiversityReport

    def summary(self) -> str:
        return (
            f"{self.segments} segments: {self.stats.described} described, {self.stats.cached} from cache, "
            f"{len(self.stats.skipped)} skipped ({self.describer})"
        )

    def to_markdown(self) -> str:
        return f"**{self.corpus_dir}** — {self.summary()}\n\n{self.report.to_markdown()}\n"

    def to_rich(self) -> Group:
        return Group(self.summary(), self.report.to_rich())

    def print(self, console: Console | None = None) -> None:
        (console or Console()).print(self.to_rich())

    def to_dict(self) -> dict[str, Any]:
        report = self.report
        return {
            "backend": self.backend,
            "describer": self.describer,
            "segments": self.segments,
            "described": self.stats.described,
            "cached": self.stats.cached,
            "skipped": len(self.stats.skipped),
            "descriptions": report.n_descriptions,
            "top_opening": report.top_opening,
            "top_opening_share": report.top_opening_share,
            "distinct_2": report.distinct_2,
            "agreement": report.agreement.share,
            "agreement_count": report.agreement.total,
        }


def describe_corpus(
    corpus_dir: Path,
    backend: str = "lexicon",
    *,
    config: DescriberConfig | None = None,
    cache_dir: Path | None = None,
    progress: bool = True,
) -> DescribeResult:
    """Describe every segment of the prepared corpus in ``corpus_dir`` and save them into it.

    ``backend`` is a registered describer name (``lexicon``, ``llm``, or a plugin's); ``config``
    holds the seed and that backend's options; the cache defaults to ``<corpus_dir>/.cache/describe``.
    """
    corpus_dir = Path(corpus_dir)
    config = config or DescriberConfig()
    options = config.describer_options()
    describer = get_describer(backend, **options)
    manifest = CorpusManifest.load(corpus_dir)
    cache = DescriptionCache(cache_dir if cache_dir is not None else corpus_dir / CACHE_SUBDIR)
    stats = describe_segments(
        manifest.segments, describer, cache=cache, progress=progress, source=str(corpus_dir / SEGMENTS_FILE)
    )
    manifest.save_segments(corpus_dir)
    label = f"{describer.name}@{describer.version}"
    result = DescribeResult(
        corpus_dir, backend, label, len(manifest.segments), stats, DiversityReport.from_segments(manifest.segments)
    )
    given = {key: value for key, value in options.items() if key != "api_key"}  # never write a secret
    info = {"options": given, "identity": describer.cache_identity(), **result.to_dict()}
    (corpus_dir / RUN_INFO_FILE).write_text(json.dumps(info, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    return result
