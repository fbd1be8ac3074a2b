"""Indexing throughput: mp3 files in, LanceDB rows out, against decoding the same files.

``--songs`` synthetic songs (``--min-seconds`` to ``--max-seconds`` long; chords, a beat and a
lead, written as 44.1 kHz stereo MP3 by libsndfile/LAME like a real catalogue's files) are prepared
as two corpora over the same files, and each is indexed by :func:`songalign.search.indexer.build_index`
with the default model (``AlignModel(ModelConfig())``: the ``cnn`` audio tower and the bundled
MiniLM text tower, randomly initialised projections — random weights cost what trained ones do)
saved as a model folder, batches of 64, into a fresh database each repeat, with no feature cache:

- ``lyrics``: lyric lines in verses with instrumental breaks of 3.5-5 s, cut into segments of about
  10 s by ``corpus prepare``'s segmenter (the windows cover about two thirds of the audio);
- ``audio-only``: the same songs cut into consecutive 10 s windows with no text (a catalogue without
  lyrics: every second of audio is embedded, and no text is).

The baseline, measured in the same process and interleaved with the indexing runs (decode, index,
decode, index, …) so that a change of machine load hits both: decoding every file whole and
resampling it to the tower's 16 kHz with ``load_audio(path, 16000)``, the project's one loader, in
as many threads as the indexer decodes with — the floor of any indexer on a CPU (one thread's
figure is printed beside it).

Prints both speeds in × real time (seconds of audio in the files per wall second, median of
``--repeats``) and ``ratio: X``, the indexing speed over the decode-only speed.

    python benchmarks/index_throughput.py                        # 12 songs of 40-60 s, 3 repeats, both corpora
    python benchmarks/index_throughput.py --corpus audio-only --repeats 5 --threads 2
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import soundfile as sf
import torch

from songalign.align.model import AlignModel, ModelConfig
from songalign.audio.io import load_audio
from songalign.audio.windows import song_windows
from songalign.corpus.manifest import SEGMENTS_FILE, CorpusManifest
from songalign.corpus.prepare import prepare_corpus
from songalign.corpus.records import Segment
from songalign.corpus.testing import FakeSong, regular_lines, write_jamendo_corpus
from songalign.search.indexer import build_index, default_decode_workers, default_torch_threads

FILE_RATE = 44100
WORDS = ("hold me close", "under the rain", "we were young", "burning lights", "slow river", "lonely night")


def song_audio(index: int, seconds: float) -> np.ndarray:
    """A music-like stereo signal ``(samples, 2)`` at 44.1 kHz: a chord per bar, a beat, a lead and noise."""
    rng = np.random.default_rng(index)
    t = np.arange(int(round(seconds * FILE_RATE))) / FILE_RATE
    root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    bar = np.floor(t / 2.0)
    shift = 2 ** ((bar % 4) * 5 / 12)
    chord = sum(np.sin(2 * np.pi * root * shift * ratio * t) for ratio in (1.0, 1.26, 1.5, 2.0))
    beat = np.exp(-30 * ((t * (1.5 + 0.5 * rng.random())) % 1.0)) * rng.standard_normal(t.shape)
    lead = np.sin(2 * np.pi * 2 * root * 2 ** (np.floor(t * 2) % 7 / 12) * t) * (np.sin(np.pi * t) > 0)
    left = 0.1 * chord + 0.2 * beat + 0.15 * lead + 0.01 * rng.standard_normal(t.shape)
    right = 0.1 * chord + 0.15 * beat + 0.2 * lead + 0.01 * rng.standard_normal(t.shape)
    stereo = np.stack([left, right], axis=1)
    return (0.9 * stereo / np.abs(stereo).max()).astype(np.float32)


def write_corpus(folder: Path, songs: int, min_seconds: float, max_seconds: float) -> tuple[Path, list[Path]]:
    """Write and prepare the ``lyrics`` corpus; returns ``(prepared folder, the mp3 files)``."""
    rng = np.random.default_rng(0)
    fakes = []
    for index in range(songs):
        seconds = float(rng.uniform(min_seconds, max_seconds))
        verses, start = [], 2.0 + float(rng.uniform(0, 2))
        while True:  # verses of 3-4 lines of 3 s (about 10-14 s), breaks of 3.5-5 s between them
            text = f"{WORDS[(index + len(verses)) % len(WORDS)]} verse {len(verses)}"
            verse = regular_lines(int(rng.integers(3, 5)), start=start, length=3.0, gap=0.5, text=text)
            if verse[-1][2] > seconds - 0.5:
                break
            verses.append(verse)
            start = verse[-1][2] + float(rng.uniform(3.5, 5.0))
        fakes.append(FakeSong(f"song{index:02d}", verses, duration=seconds, title=f"Song {index}", write_audio=False))
    raw = write_jamendo_corpus(folder / "raw", fakes, audio_format="mp3")
    paths = []
    for index, fake in enumerate(fakes):
        path = raw / "mp3" / f"{fake.name}.mp3"
        sf.write(str(path), song_audio(index, fake.duration), FILE_RATE, format="MP3")
        paths.append(path)
    prepared = prepare_corpus("jamendo", raw, folder / "lyrics", progress=False).out
    return prepared, paths


def audio_only_corpus(lyrics: Path, out: Path, window: float) -> Path:
    """The same songs as the prepared ``lyrics`` corpus, cut into consecutive ``window``-second segments
    with no text (the last one shorter), as a catalogue without lyrics is prepared."""
    manifest = CorpusManifest.load(lyrics)
    segments = []
    for song in manifest.songs:
        split = next(s.split for s in manifest.segments if s.song_id == song.id)
        for index, (offset, duration) in enumerate(song_windows(song.duration or 0.0, window)):
            segments.append(
                Segment(
                    id=f"{song.id}-w{index:04d}",
                    song_id=song.id,
                    start=offset,
                    end=offset + duration,
                    text="",
                    audio_path=song.audio_path,
                    language=song.language,
                    split=split,
                )
            )
    return CorpusManifest(manifest.songs, segments, {**manifest.info, "segments": len(segments)}).save(out)


def decode_all(paths: list[Path], rate: int, workers: int = 1) -> float:
    """Wall seconds to decode and resample every file whole in ``workers`` threads (the baseline)."""
    started = time.perf_counter()
    with ThreadPoolExecutor(workers) as pool:
        list(pool.map(lambda path: load_audio(path, rate), paths))
    return time.perf_counter() - started


def index_all(
    model_folder: Path, model: AlignModel, corpus: Path, db: Path, args: argparse.Namespace
) -> tuple[float, int]:
    """Wall seconds and rows added indexing ``corpus`` into a fresh ``db``."""
    started = time.perf_counter()
    result = build_index(
        model_folder, corpus, db, model=model, progress=False, threads=args.threads, decode_workers=args.decode_workers
    )
    seconds = time.perf_counter() - started
    if result.report.skipped:
        raise SystemExit(f"indexing skipped segments: {result.report.skipped}")
    return seconds, result.added


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--songs", type=int, default=12)
    parser.add_argument("--min-seconds", type=float, default=40.0)
    parser.add_argument("--max-seconds", type=float, default=60.0)
    parser.add_argument("--corpus", choices=("lyrics", "audio-only", "both"), default="both")
    parser.add_argument("--threads", type=int, default=None, help="the indexer's torch threads (default: its own)")
    parser.add_argument("--decode-workers", type=int, default=None, help="the indexer's decoding threads")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    torch.manual_seed(0)

    with tempfile.TemporaryDirectory() as scratch:
        folder = Path(scratch)
        lyrics, paths = write_corpus(folder, args.songs, args.min_seconds, args.max_seconds)
        model = AlignModel(ModelConfig()).eval()
        model_folder = model.save_pretrained(folder / "model", card={"name": "benchmark-random"})
        rate, clip = model.audio_tower.sample_rate, model.config.clip_seconds
        corpora = {"lyrics": lyrics, "audio-only": audio_only_corpus(lyrics, folder / "audio-only", clip)}
        if args.corpus != "both":
            corpora = {args.corpus: corpora[args.corpus]}
        audio_seconds = sum(sf.info(str(p)).duration for p in paths)
        info = sf.info(str(paths[0]))
        print(
            f"{len(paths)} mp3 files ({info.samplerate} Hz, {info.channels} channels), {audio_seconds:.0f} s of audio"
        )
        for name, corpus in corpora.items():
            segments = pq.read_table(corpus / SEGMENTS_FILE, columns=["start", "end"]).to_pylist()
            covered = sum(min(s["end"] - s["start"], clip) for s in segments)
            print(f"  {name} corpus: {len(segments)} segments, windows covering {covered:.0f} s")
        workers = args.decode_workers or default_decode_workers()
        print(
            f"torch {torch.__version__}, {args.threads or default_torch_threads(workers)} torch threads and "
            f"{workers} decoding threads in the indexer, "
            f"{os.cpu_count()} CPUs; median of {args.repeats} repeats, decode and index interleaved, "
            "fresh database each, no feature cache"
        )
        decode_all(paths, rate)  # warm-up: imports, the text tower's first call, LanceDB's runtime
        for name, corpus in corpora.items():
            index_all(model_folder, model, corpus, folder / f"db-warmup-{name}", args)
        decodes: list[float] = []
        single: list[float] = []
        indexes: dict[str, list[float]] = {name: [] for name in corpora}
        for repeat in range(args.repeats):
            single.append(decode_all(paths, rate))
            decodes.append(decode_all(paths, rate, workers))
            line = f"  repeat {repeat + 1}: decode {audio_seconds / decodes[-1]:6.1f}x ({workers} threads)"
            for name, corpus in corpora.items():
                seconds, added = index_all(model_folder, model, corpus, folder / f"db-{name}-{repeat}", args)
                indexes[name].append(seconds)
                line += f"; {name} {audio_seconds / seconds:6.1f}x ({added} rows, ratio {decodes[-1] / seconds:.2f})"
            print(line)
        decode = statistics.median(decodes)
        print(
            f"decode + resample to {rate} Hz in {workers} threads, as many as the indexer decodes with: "
            f"{audio_seconds / decode:7.1f}x real time (baseline; one thread: "
            f"{audio_seconds / statistics.median(single):.1f}x)"
        )
        for name in corpora:
            index = statistics.median(indexes[name])
            print(
                f"index {name + ':':12s}        {audio_seconds / index:7.1f}x real time; "
                f"ratio: {decode / index:.3f} of decode-only speed"
            )


if __name__ == "__main__":
    main()
