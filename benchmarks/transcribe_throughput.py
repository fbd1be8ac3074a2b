"""Transcriber throughput: how fast a song is heard, decoded and aligned, against decoding its audio.

One synthetic 60 s, 44.1 kHz WAV (tones and noise; random weights cost the same time as trained ones),
heard whole by the transcriber at the quickstart's sizes (``configs/alt_small.yaml``) and the paper's
(``configs/alt.yaml``), with the same number of CPU threads. Stages, each the median of ``--repeats``:

- ``decode``: ``load_audio(path, 16000)`` — the baseline every ratio is taken against;
- ``features``: the two-channel 80-mel log spectrogram;
- ``network``: :meth:`Transcriber.emissions_from_features` (windows of 16 s);
- ``greedy`` and ``align``: greedy CTC decoding and Viterbi forced alignment of 150 words.

Prints each stage's real-time factor (audio seconds per wall second) and ``ratio: X``, the end-to-end
real-time factor over the decode-only one, per model size.

    python benchmarks/transcribe_throughput.py                 # 2 threads, 3 repeats
    python benchmarks/transcribe_throughput.py --threads 4 --repeats 5 --seconds 120
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
import yaml

from songalign.audio.io import load_audio
from songalign.runs import recipe_path
from songalign.transcribe.align import align_lyrics
from songalign.transcribe.data import SAMPLE_RATE, features
from songalign.transcribe.decode import greedy_decode
from songalign.transcribe.model import Transcriber, TranscriberConfig

FILE_RATE = 44100
WORDS = ("hold me close tonight in the warm summer rain " * 20).split()[:150]


def write_song(path: Path, seconds: float) -> Path:
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * FILE_RATE)) / FILE_RATE
    audio = 0.2 * np.sin(2 * np.pi * 220 * t) + 0.1 * np.sin(2 * np.pi * 330 * t) + 0.02 * rng.standard_normal(len(t))
    sf.write(path, audio.astype(np.float32), FILE_RATE)
    return path


def median_time(run, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        started = time.perf_counter()
        run()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    with tempfile.TemporaryDirectory() as folder:
        path = write_song(Path(folder) / "song.wav", args.seconds)
        decode = median_time(lambda: load_audio(path, SAMPLE_RATE), args.repeats)
        audio, _ = load_audio(path, SAMPLE_RATE)
    mel = features(audio, None)
    feature_time = median_time(lambda: features(audio, None), args.repeats)
    print(f"audio {args.seconds:.0f} s, {args.threads} threads, median of {args.repeats}")
    print(f"decode + resample: {args.seconds / decode:8.1f}x real time (baseline)")
    print(f"features:          {args.seconds / feature_time:8.1f}x real time")
    for recipe in ("alt_small", "alt"):
        tree = yaml.safe_load(recipe_path(recipe).read_text())["model"]
        model = Transcriber(TranscriberConfig.model_validate({**tree, "vocals": "mix"})).eval()
        parameters = sum(p.numel() for p in model.parameters()) / 1e6
        network = median_time(lambda model=model: model.emissions_from_features(mel), args.repeats)
        emissions = model.emissions_from_features(mel)
        greedy = median_time(lambda e=emissions: greedy_decode(e.log_probs), args.repeats)
        align = median_time(lambda e=emissions: align_lyrics(e.log_probs, [" ".join(WORDS)]), args.repeats)
        total = decode + feature_time + network + greedy + align
        print(
            f"{recipe:9s} ({parameters:.1f} M parameters): network {args.seconds / network:7.1f}x, "
            f"greedy {args.seconds / greedy:8.1f}x, align {args.seconds / align:7.1f}x, "
            f"end to end {args.seconds / total:6.1f}x real time; ratio: {decode / total:.3f} of decode-only speed"
        )


if __name__ == "__main__":
    main()
