"""Decoding speed of ``load_audio`` with its mono mix as column sums against the old ``mean(axis=1)``.

The files: ``--files`` synthetic stereo songs of ``--seconds`` s at 44.1 kHz (chords, a beat and
noise, different in each channel), written as MP3 (libsndfile/LAME, as a catalogue's files) and as
16-bit WAV. Each file is read whole in one thread, two ways, alternately (old, new, old, new, …) so
that a change of machine load hits both:

- old: libsndfile decodes ``(samples, 2)`` float32 frames → ``frames.mean(axis=1)`` → soxr (HQ);
- new: ``load_audio(path, rate)`` — the same decode, :func:`songalign.audio.io.mix_to_mono`
  (the channels added column by column, the sum divided by their count), the same resampling.

Both are run at the files' own rate (no resampling: the mix weighs most) and at 16 kHz (the ``cnn``
and ``musicnn`` towers' rate). Every new result is checked equal, bit for bit, to the old one.

Prints, per format and rate, the speed of each in × real time (seconds of audio per wall second,
median over ``--repeats``) and ``ratio: X`` (new / old); then, on one decoded file, the mix alone:
``mean(axis=1)``, ``mix_to_mono`` and the bare sum without the division (what dropping the
mean's scale would save), in ms (medians).

    python benchmarks/decode_mix.py                     # 8 files of 30 s, 7 repeats
    python benchmarks/decode_mix.py --files 4 --seconds 60 --repeats 9
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import soxr
from embed_throughput import chord_and_beat  # this folder's scripts: run as python benchmarks/...

from songalign.audio.io import load_audio, mix_to_mono

FILE_RATE = 44100


def write_songs(folder: Path, count: int, seconds: float, suffix: str) -> list[Path]:
    """``count`` stereo files of ``seconds`` at 44.1 kHz: a chord, a beat and noise, each channel its own mix."""
    rng = np.random.default_rng(0)
    t = np.arange(int(round(seconds * FILE_RATE))) / FILE_RATE
    paths = []
    for index in range(count):
        chord, beat = chord_and_beat(rng, t)
        left = 0.1 * chord + 0.2 * beat + 0.01 * rng.standard_normal(t.shape)
        right = 0.15 * chord + 0.1 * beat + 0.01 * rng.standard_normal(t.shape)
        stereo = np.stack([left, right], axis=1)
        path = folder / f"song_{index:02d}{suffix}"
        sf.write(path, (0.9 * stereo / np.abs(stereo).max()).astype(np.float32), FILE_RATE)
        paths.append(path)
    return paths


def old_load(path: Path, rate: int) -> np.ndarray:
    """The loader before: decode, ``mean(axis=1)``, resample — mono float32 at ``rate``."""
    with sf.SoundFile(str(path)) as handle:
        native = handle.samplerate
        frames = handle.read(-1, dtype="float32", always_2d=True)
    audio = frames.mean(axis=1)
    if rate != native:
        audio = soxr.resample(audio, native, rate, quality="HQ")
    return np.ascontiguousarray(audio, dtype=np.float32)


def new_load(path: Path, rate: int) -> np.ndarray:
    return load_audio(path, rate)[0]


def seconds_of(job: Callable[[], object]) -> float:
    started = time.perf_counter()
    job()
    return time.perf_counter() - started


def seconds_to_load(load: Callable[[Path, int], np.ndarray], paths: list[Path], rate: int) -> float:
    """Wall seconds to load every file of ``paths`` at ``rate`` Hz with ``load``."""
    started = time.perf_counter()
    for path in paths:
        load(path, rate)
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--seconds", type=float, default=30.0)
    parser.add_argument("--repeats", type=int, default=7)
    args = parser.parse_args()
    audio_seconds = args.files * args.seconds
    print(f"{args.files} stereo files of {args.seconds:g} s at {FILE_RATE} Hz; medians of {args.repeats} repeats")
    with tempfile.TemporaryDirectory() as tmp:
        for suffix in (".mp3", ".wav"):
            paths = write_songs(Path(tmp), args.files, args.seconds, suffix)
            for rate in (FILE_RATE, 16000):
                for path in paths:  # the same bits, and a first read that warms the file cache
                    if not np.array_equal(old_load(path, rate), new_load(path, rate)):
                        raise SystemExit(f"{path.name} at {rate} Hz: the new loader's samples differ from the old")
                times: dict[str, list[float]] = {"old": [], "new": []}
                for _ in range(args.repeats):
                    for name, load in (("old", old_load), ("new", new_load)):
                        times[name].append(seconds_to_load(load, paths, rate))
                speed = {name: audio_seconds / statistics.median(t) for name, t in times.items()}
                print(
                    f"{suffix[1:]} → {rate} Hz: old (mean) {speed['old']:.0f}× real time, "
                    f"new (column sums) {speed['new']:.0f}×, ratio: {speed['new'] / speed['old']:.2f} (bits equal)"
                )
        with sf.SoundFile(str(paths[0])) as handle:
            frames = handle.read(-1, dtype="float32", always_2d=True)

    def bare_sum() -> np.ndarray:
        return frames[:, 0] + frames[:, 1]

    mix = {
        "mean(axis=1)": lambda: frames.mean(axis=1),
        "mix_to_mono": lambda: mix_to_mono(frames),
        "sum, no /2": bare_sum,
    }
    ms = {name: 1e3 * statistics.median(seconds_of(job) for _ in range(5 * args.repeats)) for name, job in mix.items()}
    print(
        f"the mix alone, {args.seconds:g} s of stereo: "
        + ", ".join(f"{name} {value:.2f} ms" for name, value in ms.items())
        + f"; ratio mean / mix_to_mono: {ms['mean(axis=1)'] / ms['mix_to_mono']:.1f}"
    )


if __name__ == "__main__":
    main()
