"""Audio embedding throughput: songalign's default pipeline and musicnn vs Hugging Face CLAP (HTSAT-tiny).

The pipelines do the same job on the same files — decode a 10 s, 44.1 kHz WAV and resample it
to the tower's rate, compute features, embed in batches — with the same number of CPU threads:

- ours: ``load_audio(path, 16000)`` → ``log_mel`` (64 mels, hop 20 ms) → ``cnn`` tower (256-d)
- musicnn: ``load_audio(path, 16000)`` → musicnn's log-mel (librosa, 96 mels, hop 16 ms) → the pretrained
  ``musicnn`` tower (MSD_musicnn's 200-d penultimate, the mean of three 3 s patches); needs the musicnn wheel
- baseline: ``load_audio(path, 48000)`` → ``ClapFeatureExtractor`` → ``ClapAudioModelWithProjection``
  (512-d), randomly initialised from ``ClapAudioConfig()`` — whose defaults are the
  ``laion/clap-htsat-unfused`` audio tower (HTSAT-tiny: depths 2-2-6-2, 96 → 768 channels,
  spec 256, window 8, 64 mels, no fusion) — and ``ClapFeatureExtractor(frequency_min=50,
  truncation="rand_trunc")``: the class defaults except the two keys in which that checkpoint's
  ``preprocessor_config.json`` differs (the default ``truncation="fusion"`` returns 4 stacked
  spectrograms that the unfused model cannot take). No weights are downloaded; random weights cost
  the same time as trained ones.

- ONNX (``--onnx``, the default): the ``cnn`` and ``musicnn`` towers with MLP heads into 256-d, exported with
  ``songalign export onnx --quantize int8`` and run by onnxruntime (fp32 and int8) with the same threads;
  the same decoding and features as their torch pipelines.

Prints the real-time factor of each (audio seconds / wall seconds, median over repeats), a
per-stage breakdown, parameter counts and FLOPs per clip, one ``ratio PIPELINE / HTSAT-tiny`` line per
pipeline, ``ratio: X`` (ours / baseline) and ``ratio musicnn / HTSAT-tiny: Y``.

    python benchmarks/embed_throughput.py                       # 16 clips, batch 8, 2 threads, 5 repeats
    python benchmarks/embed_throughput.py --threads 4 --repeats 9
    python benchmarks/embed_throughput.py --no-onnx             # the torch pipelines alone
"""

from __future__ import annotations

import argparse
import importlib.util
import statistics
import tempfile
import time
from collections import defaultdict
from collections.abc import Callable
from pathlib import Path

import numpy as np
import soundfile as sf
import torch
from torch.utils.flop_counter import FlopCounterMode

from songalign.audio.io import load_audio
from songalign.towers import build_audio_tower

FILE_RATE = 44100


def chord_and_beat(rng: np.random.Generator, t: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """A random major chord and a noise beat at times ``t`` (seconds): the parts of a music-like test signal."""
    root = 110.0 * 2 ** (rng.integers(0, 12) / 12)
    chord = sum(np.sin(2 * np.pi * root * ratio * t) for ratio in (1.0, 1.26, 1.5, 2.0))
    beat = np.exp(-30 * ((t * (1.5 + 0.5 * rng.random())) % 1.0)) * rng.standard_normal(t.shape)
    return chord, beat


def write_clips(folder: Path, count: int, seconds: float) -> list[Path]:
    """``count`` music-like mono WAV files (chords, a beat, noise) of ``seconds`` at 44.1 kHz."""
    rng = np.random.default_rng(0)
    t = np.arange(int(seconds * FILE_RATE)) / FILE_RATE
    paths = []
    for index in range(count):
        chord, beat = chord_and_beat(rng, t)
        signal = 0.1 * chord + 0.2 * beat + 0.01 * rng.standard_normal(t.shape)
        path = folder / f"clip_{index:02d}.wav"
        sf.write(path, (0.9 * signal / np.abs(signal).max()).astype(np.float32), FILE_RATE, subtype="PCM_16")
        paths.append(path)
    return paths


class Pipeline:
    """decode → features → embed, timed per stage."""

    def __init__(self, name: str, rate: int, featurise: Callable, embed: Callable):
        self.name, self.rate, self.featurise, self.embed = name, rate, featurise, embed
        self.stages: dict[str, list[float]] = defaultdict(list)

    @torch.inference_mode()
    def run(self, paths: list[Path], batch: int) -> tuple[float, torch.Tensor]:
        totals = dict.fromkeys(("decode", "features", "model"), 0.0)
        outputs = []
        start = time.perf_counter()
        for i in range(0, len(paths), batch):
            t0 = time.perf_counter()
            clips = [load_audio(path, self.rate)[0] for path in paths[i : i + batch]]
            t1 = time.perf_counter()
            features = self.featurise(clips)
            t2 = time.perf_counter()
            outputs.append(self.embed(features))
            t3 = time.perf_counter()
            totals["decode"] += t1 - t0
            totals["features"] += t2 - t1
            totals["model"] += t3 - t2
        wall = time.perf_counter() - start
        for stage, seconds in totals.items():
            self.stages[stage].append(seconds)
        return wall, torch.cat(outputs)


def ours() -> tuple[Pipeline, torch.nn.Module, torch.Tensor]:
    tower = build_audio_tower("cnn")
    samples = 10 * tower.sample_rate

    def featurise(clips: list[np.ndarray]) -> torch.Tensor:
        fitted = np.stack([np.pad(c[:samples], (0, max(0, samples - len(c)))) for c in clips])
        return tower.features(fitted)  # (B, 64, 501), one batched STFT

    example = tower.features(np.zeros(samples, np.float32))[None]
    return Pipeline("ours (cnn, 16 kHz log-mel)", tower.sample_rate, featurise, tower), tower, example


def musicnn() -> tuple[Pipeline, torch.nn.Module, torch.Tensor]:
    """The pretrained ``musicnn`` tower (MSD_musicnn, 200-d penultimate), three 3 s patches of each 10 s clip."""
    from songalign.towers import musicnn as M

    tower = build_audio_tower("musicnn")
    samples = 10 * tower.sample_rate

    def featurise(clips: list[np.ndarray]) -> torch.Tensor:
        return tower.features(np.stack([np.pad(c[:samples], (0, max(0, samples - len(c)))) for c in clips]))

    def embed(features: torch.Tensor) -> torch.Tensor:
        M.CLIP_MEMO.clear()  # the same clips every repeat: measure the network, not the in-memory memo
        return tower(features)

    example = tower.features(np.zeros(samples, np.float32))[None]
    return (
        Pipeline("musicnn (MSD_musicnn, 16 kHz musicnn log-mel)", tower.sample_rate, featurise, embed),
        tower,
        example,
    )


def baseline() -> tuple[Pipeline, torch.nn.Module, torch.Tensor]:
    from transformers import ClapAudioConfig, ClapAudioModelWithProjection, ClapFeatureExtractor
    from transformers.utils import logging as hf_logging

    hf_logging.set_verbosity_error()
    extractor = ClapFeatureExtractor(frequency_min=50, truncation="rand_trunc")
    model = ClapAudioModelWithProjection(ClapAudioConfig()).eval()
    samples = extractor.nb_max_samples

    def featurise(clips: list[np.ndarray]) -> torch.Tensor:
        fitted = [c[:samples] for c in clips]  # exactly 10 s: no random crop
        return extractor(fitted, sampling_rate=extractor.sampling_rate, return_tensors="pt")["input_features"].float()

    def embed(features: torch.Tensor) -> torch.Tensor:
        return model(input_features=features).audio_embeds

    example = featurise([np.zeros(samples, np.float32)])
    return Pipeline("HF CLAP HTSAT-tiny (48 kHz)", extractor.sampling_rate, featurise, embed), model, example


def onnx_pipelines(folder: Path, threads: int, names: list[str]) -> list[tuple[Pipeline, None, None]]:
    """The ``cnn`` and ``musicnn`` towers exported to ONNX (fp32 and int8) and run by onnxruntime with ``threads``
    threads: a model folder with the tower and MLP heads (as a trained model's) → ``songalign export onnx``.
    Features are the towers' own; the model stage is the exported tower with its projection."""
    from songalign.align.model import AlignModel, ModelConfig, TowerSpec
    from songalign.align.onnx import OnnxAlignModel, export_onnx

    pipelines = []
    for name in names:
        model = AlignModel(ModelConfig(audio_tower=TowerSpec(name=name), clip_seconds=10.0))
        saved = model.save_pretrained(folder / name)
        export = export_onnx(saved, folder / f"{name}-onnx", quantize="int8")
        tower, samples = model.audio_tower, 10 * model.audio_tower.sample_rate

        def featurise(clips: list[np.ndarray], tower=tower, samples=samples) -> torch.Tensor:
            return tower.features(np.stack([np.pad(c[:samples], (0, max(0, samples - len(c)))) for c in clips]))

        for precision in ("fp32", "int8"):
            runtime = OnnxAlignModel.open(saved, export, precision=precision, threads=threads)
            embed = lambda features, runtime=runtime: torch.from_numpy(runtime.embed_features(features))  # noqa: E731
            label = f"{name} ONNX {precision} (onnxruntime, + projection)"
            pipelines.append((Pipeline(label, tower.sample_rate, featurise, embed), None, None))
    return pipelines


def flops(module: Callable, example: torch.Tensor) -> float:
    with FlopCounterMode(display=False) as counter, torch.inference_mode():
        module(example) if not hasattr(module, "audio_model") else module(input_features=example)
    return counter.get_total_flops()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=16)
    parser.add_argument("--seconds", type=float, default=10.0)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument(
        "--onnx", action=argparse.BooleanOptionalAction, default=True, help="add the ONNX pipelines (needs onnx)"
    )
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    torch.manual_seed(0)

    with tempfile.TemporaryDirectory() as folder:
        paths = write_clips(Path(folder), args.clips, args.seconds)
        audio_seconds = args.clips * args.seconds
        print(
            f"{args.clips} clips × {args.seconds:g} s WAV at {FILE_RATE} Hz, batch {args.batch}, "
            f"{torch.get_num_threads()} threads, torch {torch.__version__}, median of {args.repeats} repeats"
        )
        pipelines = []
        builds = [ours, musicnn, baseline]
        if importlib.util.find_spec("musicnn") is None:
            print("musicnn left out: its wheel is not installed (pip install --no-deps musicnn==0.1.0)")
            builds.remove(musicnn)
        built = [build() for build in builds]
        if args.onnx:
            names = ["cnn"] + (["musicnn"] if musicnn in builds else [])
            built[-1:-1] = onnx_pipelines(Path(folder), args.threads, names)  # CLAP's stays last: the baseline
        for pipeline, model, example in built:
            params = sum(p.numel() for p in model.parameters()) if model is not None else None
            gflops = flops(model, example) / 1e9 if model is not None else None
            pipeline.run(paths, args.batch)  # warm-up
            pipeline.stages.clear()
            pipelines.append((pipeline, params, gflops, []))
        # interleave the pipelines so that a change of machine load hits both alike
        for _ in range(args.repeats):
            for pipeline, _, _, walls in pipelines:
                walls.append(pipeline.run(paths, args.batch)[0])
        factors = []
        for pipeline, params, gflops, walls in pipelines:
            factor = audio_seconds / statistics.median(walls)
            factors.append(factor)
            per_stage = ", ".join(
                f"{stage} {audio_seconds / statistics.median(times):,.0f}×" for stage, times in pipeline.stages.items()
            )
            print(f"{pipeline.name}: real-time factor {factor:,.1f}×  (stages alone: {per_stage})")
            if params is not None:
                print(f"    {params / 1e6:.2f} M parameters, {gflops:.3f} GFLOPs per 10 s clip (model only)")
        baseline_factor = factors[-1]
        for (pipeline, *_), factor in zip(pipelines[:-1], factors, strict=False):
            print(f"ratio {pipeline.name} / HTSAT-tiny: {factor / baseline_factor:.2f}")
        print(f"ratio: {factors[0] / baseline_factor:.2f}")
        if musicnn in builds:
            print(f"ratio musicnn / HTSAT-tiny: {factors[1] / baseline_factor:.2f}")


if __name__ == "__main__":
    main()
