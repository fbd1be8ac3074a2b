"""The ``songalign index``, ``songalign search`` and ``songalign serve`` commands (thin: they call the library).

Register them on the main app with ``app.command("index")(index_command)`` and so on.
"""

from __future__ import annotations

import json
import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from songalign.align.commands import ExportOption, Runtime, RuntimeOption
from songalign.console import console, print_skip_report
from songalign.errors import MissingDependencyError, SongalignError


class IndexType(StrEnum):
    auto = "auto"
    ivf_flat = "IVF_FLAT"
    ivf_sq = "IVF_SQ"
    ivf_pq = "IVF_PQ"


class EngineChoice(StrEnum):
    local = "local"
    ray = "ray"


class TargetChoice(StrEnum):
    audio = "audio"
    lyrics = "lyrics"


class GroupChoice(StrEnum):
    song = "song"
    segment = "segment"


def index_command(
    checkpoint: Annotated[
        Path | None, typer.Argument(help="a trained model folder (from `songalign train`)", show_default=False)
    ] = None,
    corpus: Annotated[
        Path | None,
        typer.Argument(help="a prepared corpus folder (from `songalign corpus prepare`)", show_default=False),
    ] = None,
    db: Annotated[Path | None, typer.Option("--db", help="search database folder (created if missing)")] = None,
    batch_size: Annotated[int, typer.Option(help="segments embedded and committed together")] = 64,
    split: Annotated[str, typer.Option(help="index only this split (train, val, test) or 'all'")] = "all",
    cache: Annotated[
        Path | None, typer.Option(help="feature cache to reuse, e.g. <corpus>/.cache/features from training")
    ] = None,
    ann_min_rows: Annotated[int, typer.Option(help="build the ANN index once the table has this many rows")] = 5_000,
    index_type: Annotated[
        IndexType,
        typer.Option(
            help="auto: IVF_FLAT below 3·10⁶ rows, IVF_PQ with refinement above; IVF_FLAT: full vectors, best "
            "recall; IVF_SQ: 8-bit vectors, 1/4 of the memory; IVF_PQ: 40 bytes a vector, re-ranked exactly"
        ),
    ] = IndexType.auto,
    progress: Annotated[bool, typer.Option(help="show a progress bar")] = True,
    threads: Annotated[
        int | None, typer.Option(help="CPU threads for the towers (default: the CPUs the decoders leave, ≥ 1)")
    ] = None,
    decode_workers: Annotated[
        int | None,
        typer.Option(help="threads decoding audio one batch ahead of the towers (default: one per CPU, at most 4)"),
    ] = None,
    engine: Annotated[
        EngineChoice,
        typer.Option(help="local: this process; ray: a Ray Data pipeline committed to Lance a shard at a time"),
    ] = EngineChoice.local,
    address: Annotated[
        str | None,
        typer.Option(help="--engine ray: the Ray cluster to join, e.g. ray://head:10001 (default: a local Ray)"),
    ] = None,
    ray_cpus: Annotated[int | None, typer.Option(help="--engine ray: CPUs of the local Ray (default: all)")] = None,
    embed_actors: Annotated[
        int | None, typer.Option(help="--engine ray: embedding actors (default: one per GPU, else one per 4 CPUs)")
    ] = None,
    shards: Annotated[
        int | None, typer.Option(help="shards of a new database (default 256; an existing one keeps its own)")
    ] = None,
    target_recall: Annotated[
        float | None,
        typer.Option(
            help="tune the index: the fastest search settings (and, building, partitions and sub-vectors) whose "
            "recall@10 against exact search reaches this, e.g. 0.95; recorded in songalign-index.json"
        ),
    ] = None,
    latency_budget_ms: Annotated[
        float | None, typer.Option(help="with --target-recall: the single-query p99 (ms) the setting must keep")
    ] = None,
    tune: Annotated[
        Path | None,
        typer.Option("--tune", help="re-tune the search settings of this existing database (needs --target-recall)"),
    ] = None,
    runtime: RuntimeOption = Runtime.torch,
    export: ExportOption = None,
) -> None:
    """Embed every segment of a corpus into a LanceDB search database (idempotent and resumable);
    or, with --tune DB --target-recall R, re-tune an existing database's search settings."""
    from songalign.search.ann import AnnSettings, TuneTarget

    target = TuneTarget(target_recall, latency_budget_ms) if target_recall is not None else None
    if latency_budget_ms is not None and target is None:
        raise SongalignError("--latency-budget-ms needs --target-recall (e.g. --target-recall 0.95)")
    if tune is not None:
        if checkpoint or corpus or db:
            raise SongalignError("--tune DB re-tunes an existing database: give no model, corpus or --db with it")
        if target is None:
            raise SongalignError("--tune needs --target-recall, e.g. `songalign index --tune DB --target-recall 0.95`")
        _tune_and_report(tune, target, build=False)
        return
    if checkpoint is None or corpus is None or db is None:
        raise SongalignError("give a model folder, a corpus folder and --db DIR (or --tune DB to re-tune one)")
    if ann_min_rows < 1:
        raise SongalignError(f"--ann-min-rows must be at least 1, got {ann_min_rows}")
    if engine != EngineChoice.ray and (address or ray_cpus or embed_actors):
        raise SongalignError("--address, --ray-cpus and --embed-actors need --engine ray")
    if engine == EngineChoice.ray and (runtime != Runtime.torch or export is not None):
        raise SongalignError("--engine ray embeds with torch; leave out --runtime and --export, or use --engine local")
    ann = AnnSettings(min_rows=ann_min_rows, index_type=index_type.value)
    both = {"batch_size": batch_size, "split": split, "cache_dir": cache, "ann": ann, "progress": progress}
    if engine == EngineChoice.ray:
        from songalign.search.ray_engine import build_index_ray

        result = build_index_ray(
            checkpoint, corpus, db, address=address, num_cpus=ray_cpus, shards=shards, embed_actors=embed_actors, **both
        )
    else:
        from songalign.search.indexer import build_index

        result = build_index(
            checkpoint,
            corpus,
            db,
            threads=threads,
            decode_workers=decode_workers,
            shards=shards,
            runtime=runtime.value,
            export_dir=export,
            **both,
        )
    print_skip_report(result.report, "skipped")
    # exit 1 when no segment could be indexed (segments indexed by an earlier run count as done)
    result.report.require_done("segments", "indexed")
    console.print(f"[green]{escape(result.summary())}[/green]")
    if target is not None:
        if not result.ann_index:
            console.print("no ANN index (below --ann-min-rows rows): every query is exact, recall 1; nothing to tune")
            return
        _tune_and_report(db, target, build=True)


def _tune_and_report(db: Path, target: object, build: bool) -> None:
    """Tune ``db``'s index to ``target`` under its writer lock, print the frontier and the choice, and exit 1
    (after recording it) when the target was not met."""
    from songalign.search.lock import writer_lock
    from songalign.search.query import tuning_text_queries
    from songalign.search.store import SegmentStore

    text = tuning_text_queries(db)
    if text is None:
        console.print("the model that built the database is not where it says: tuning on its rows only")
    with writer_lock(db):
        store = SegmentStore.open(db, read_consistency_seconds=0)
        plan = store.tune(target, build=build, text_queries=text)  # type: ignore[arg-type]
    tuning = plan.tuning or {}
    console.print(index_record_table(plan.to_dict()))
    if tuning.get("met"):
        console.print(f"[green]{escape(tuning['message'])}[/green]")
        return
    console.print(f"[red]{escape(tuning.get('message', ''))}[/red]")
    raise typer.Exit(1)


def index_record_table(record: dict) -> Table:
    """The tuner's frontier of an index record (``songalign-index.json``'s ``"index"``) as a table, the chosen
    setting marked; a record without tuning gives the rule's settings only."""
    tuning = record.get("tuning") or {}
    title = (
        f"{record.get('index_type')}, {record.get('num_partitions')} partitions, nprobes {record.get('nprobes')}, "
        f"refine factor {record.get('refine_factor')}"
    )
    if tuning:
        title += f"; tuned to recall@{tuning['k']} ≥ {tuning['target_recall']:g}"
        if tuning.get("latency_budget_ms"):
            title += f" within p99 ≤ {tuning['latency_budget_ms']:g} ms"
    table = Table(title=title)
    for column in ("partitions", "sub-vectors", "nprobes", "refine", "recall", "p50 (ms)", "p99 (ms)", ""):
        table.add_column(column, justify="right")
    for row in tuning.get("frontier", []):
        chosen = "chosen" if row == tuning.get("chosen") else ""
        table.add_row(
            str(row["num_partitions"]), str(row["num_sub_vectors"] or "—"), str(row["nprobes"]),
            str(row["refine_factor"] or "—"), f"{row['recall']:.3f}", f"{row['p50_ms']:.2f}", f"{row['p99_ms']:.2f}",
            chosen,
        )  # fmt: skip
    return table


def info_command(
    db: Annotated[Path, typer.Argument(help="a search database folder (from `songalign index`)")],
    as_json: Annotated[bool, typer.Option("--json", help="print the record as JSON")] = False,
) -> None:
    """What a search database holds: rows, model, and its ANN index record (with the tuner's frontier)."""
    from songalign.search.store import SegmentStore

    store = SegmentStore.open(db)
    info = {
        "segments": store.count(),
        "model_name": store.meta.get("model_name", ""),
        "model_version": store.meta.get("model_version", ""),
        "embedding_dim": int(store.meta.get("embedding_dim", 0)),
        "index": store.index_info(),
    }
    if as_json:
        typer.echo(json.dumps(info, ensure_ascii=False, indent=2))
        return
    console.print(
        f"{escape(str(db))}: {info['segments']} segment(s) of model {escape(str(info['model_name']))} "
        f"({info['model_version']}), {info['embedding_dim']} dimensions"
    )
    if info["index"] is None:
        console.print("no ANN index: every query scans all vectors (exact)")
        return
    console.print(index_record_table(info["index"]))
    tuning = info["index"].get("tuning")
    if tuning:
        console.print(escape(tuning["message"]))


def search_command(
    db: Annotated[Path, typer.Argument(help="a search database folder (from `songalign index`)")],
    text: Annotated[str | None, typer.Option("--text", help="a mood description or lyrics")] = None,
    audio: Annotated[Path | None, typer.Option("--audio", help="an audio clip (WAV, FLAC, MP3, Ogg)")] = None,
    like_song: Annotated[str | None, typer.Option("--like-song", help="a song id: more like this song")] = None,
    k: Annotated[int, typer.Option("--k", "-k", help="number of results")] = 10,
    target: Annotated[
        TargetChoice | None,
        typer.Option(help="match audio vectors or lyric vectors (default: audio for --text, lyrics for --audio)"),
    ] = None,
    language: Annotated[str | None, typer.Option(help="only segments in this language")] = None,
    song: Annotated[str | None, typer.Option("--song", help="only segments of this song id")] = None,
    label: Annotated[
        list[str] | None, typer.Option(help="only segments with this label, key=value (repeatable)")
    ] = None,
    by: Annotated[
        GroupChoice,
        typer.Option(
            "--by",
            help="song: k songs, each its best segment with the song's other matching segments folded under it; "
            "segment: the k best segments as they are",
        ),
    ] = GroupChoice.song,
    model: Annotated[Path | None, typer.Option(help="the model folder, if it moved since indexing")] = None,
    as_json: Annotated[bool, typer.Option("--json", help="print results as JSON lines")] = False,
    runtime: RuntimeOption = Runtime.torch,
    export: ExportOption = None,
) -> None:
    """Search a database by text (--text), audio clip (--audio) or song (--like-song).

    Lyrics-targeted searches leave out audio-only segments (no lyrics) and say how many.
    """
    from songalign.search.query import SongSearch, parse_label_filters, without_lyrics_note
    from songalign.search.store import Filters

    if sum(x is not None for x in (text, audio, like_song)) != 1:
        raise SongalignError('give exactly one of --text "...", --audio clip.wav or --like-song SONG_ID')
    filters = Filters(language=language, song_id=song, labels=parse_label_filters(label))
    search = SongSearch.open(db, model, runtime=runtime.value, export_dir=export)
    group = by.value
    searched = TargetChoice.audio
    if text is not None:
        searched = target or TargetChoice.audio
        hits = search.by_text(text, k, searched.value, filters, group)
    elif audio is not None:
        searched = target or TargetChoice.lyrics
        hits = search.by_audio(audio, k, searched.value, filters, group=group)
    else:
        hits = search.by_song(like_song or "", k, filters, group)
    note = without_lyrics_note(search.without_lyrics(filters)) if searched == TargetChoice.lyrics else ""
    if as_json:
        for hit in hits:  # JSON lines, unformatted: for scripts
            typer.echo(json.dumps(hit.to_dict(), ensure_ascii=False))
        if note:
            typer.echo(note, err=True)  # stdout stays JSON lines
        return
    what = "song(s)" if group == GroupChoice.song else "segment(s)"
    table = Table(title=f"{len(hits)} {what}", show_lines=True)
    columns = [("score", "right"), ("song", "left"), ("time (s)", "right"), ("lyrics", "left")]
    if group == GroupChoice.song:
        columns.append(("other segments (s, score)", "left"))
    for column, justify in columns:
        table.add_column(column, justify=justify)  # type: ignore[arg-type]
    for hit in hits:
        who = f"{hit.title or hit.song_id} — {hit.artist}" if hit.artist else (hit.title or hit.song_id)
        cells = [f"{hit.score:.3f}", escape(who), f"{hit.start:.2f}–{hit.end:.2f}", escape(hit.lyrics.strip())]
        if group == GroupChoice.song:
            cells.append("\n".join(f"{o.start:.2f}–{o.end:.2f} ({o.score:.3f})" for o in hit.other_segments))
        table.add_row(*cells)
    console.print(table)
    if note:
        console.print(escape(note))


def serve_command(
    db: Annotated[Path, typer.Argument(help="a search database folder (from `songalign index`)")],
    host: Annotated[str, typer.Option(help="interface to listen on (127.0.0.1: this machine only)")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    api_key: Annotated[
        str | None,
        typer.Option(envvar="SONGALIGN_API_KEY", help="require this key in X-API-Key (env SONGALIGN_API_KEY)"),
    ] = None,
    model: Annotated[Path | None, typer.Option(help="the model folder, if it moved since indexing")] = None,
    max_upload_mb: Annotated[float, typer.Option(help="largest upload (MiB)")] = 10.0,
    max_audio_seconds: Annotated[float, typer.Option(help="longest uploaded clip (s)")] = 60.0,
    timeout: Annotated[float, typer.Option(help="seconds a query may take before a 504")] = 20.0,
    max_connections: Annotated[
        int,
        typer.Option(help="requests served at once (one per connection); the next gets a JSON 503 with Retry-After"),
    ] = 256,
    threads: Annotated[int | None, typer.Option(help="CPU threads of the runtime (default: its choice)")] = None,
    runtime: RuntimeOption = Runtime.torch,
    export: ExportOption = None,
    cpus: Annotated[
        str | None, typer.Option(help="run on these CPUs only, e.g. 0 or 0,1 (on small VMs one CPU cuts tail latency)")
    ] = None,
) -> None:
    """Serve the search API (its operations at /docs, the OpenAPI spec at /openapi.json) and the search page at
    http://HOST:PORT/."""
    from songalign.search.query import SongSearch

    try:
        from songalign.search.service import ServiceSettings, serve
    except ImportError as error:
        raise MissingDependencyError(error.name or "fastapi", "songalign serve", extra="search") from error

    if max_upload_mb <= 0 or max_audio_seconds <= 0 or timeout <= 0:
        raise SongalignError("--max-upload-mb, --max-audio-seconds and --timeout must be positive")
    if max_connections < 1:
        raise SongalignError(f"--max-connections must be at least 1, got {max_connections}")
    settings = ServiceSettings(
        api_key=api_key or os.environ.get("SONGALIGN_API_KEY") or None,
        max_upload_bytes=int(max_upload_mb * 2**20),
        max_audio_seconds=max_audio_seconds,
        request_timeout=timeout,
        max_connections=max_connections,
    )
    if cpus:
        try:
            os.sched_setaffinity(0, {int(c) for c in cpus.split(",")})  # threads started from here on inherit it
        except (ValueError, OSError) as error:
            raise SongalignError(f"--cpus {cpus!r} is not a usable CPU list ({error}); give e.g. 0 or 0,1") from None
    if threads is not None:
        import torch

        torch.set_num_threads(max(1, threads))
    search = SongSearch.open(db, model, runtime=runtime.value, export_dir=export, threads=threads)
    search.store.prewarm()  # load the vector indexes now rather than on the first queries
    console.print(f"serving {db} on http://{host}:{port}/ (API docs: /docs); Ctrl+C stops")
    serve(search, host, port, settings)
