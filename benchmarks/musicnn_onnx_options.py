"""musicnn's ONNX graph under onnxruntime's options: batch size, graph optimisation, static int8.

The ``musicnn`` tower with an MLP head into 256-d (random head weights; the tower is the wheel's
MSD_musicnn) is exported with ``songalign export onnx`` and run on the same 10 s clips' musicnn log-mel
(chords and a beat, :func:`embed_throughput.chord_and_beat`), the model stage alone, with the same
threads, every variant alternating on every repeat; the baseline is the export as ``--runtime onnx``
runs it (fp32, batches of 8, all graph optimisations). Variants:

- fp32 in batches of 1 and of 24 clips; ``ORT_ENABLE_EXTENDED`` instead of ``ORT_ENABLE_ALL``;
- static int8 (``onnxruntime.quantization.quantize_static``, QDQ, per-channel weights, calibrated on
  16 other clips), activations signed (s8s8) or unsigned (u8s8).

Prints each variant's real-time factor, its speed against the baseline, and how far its embeddings are
from the baseline's (largest difference, smallest cosine).

    python benchmarks/musicnn_onnx_options.py               # 24 clips, 2 threads, median of 3
"""

from __future__ import annotations

import argparse
import logging
import statistics
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from embed_throughput import chord_and_beat  # this folder's scripts: run as python benchmarks/...

from songalign.align.model import AlignModel, ModelConfig, TowerSpec
from songalign.align.onnx import export_onnx
from songalign.towers.musicnn.network import SAMPLE_RATE, musicnn_log_mel


def clips_features(count: int, seed: int) -> np.ndarray:
    """``(count, 626, 96)`` musicnn log-mel of music-like 10 s clips."""
    rng = np.random.default_rng(seed)
    t = np.arange(10 * SAMPLE_RATE) / SAMPLE_RATE
    clips = []
    for _ in range(count):
        chord, beat = chord_and_beat(rng, t)
        clips.append((0.1 * chord + 0.2 * beat + 0.01 * rng.standard_normal(t.shape)).astype(np.float32))
    return np.stack([musicnn_log_mel(clip) for clip in clips])


def main() -> None:
    import onnxruntime as ort
    from onnxruntime.quantization import CalibrationDataReader, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=24)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    folder = Path(tempfile.mkdtemp())
    model = AlignModel(ModelConfig(audio_tower=TowerSpec(name="musicnn"), clip_seconds=10.0))
    export_onnx(model.save_pretrained(folder / "model"), folder / "export")
    fp32 = folder / "export" / "audio.onnx"
    features = clips_features(args.clips, 0)
    calibration = clips_features(16, 1)
    name = ort.InferenceSession(str(fp32)).get_inputs()[0].name

    class Calibration(CalibrationDataReader):
        def __init__(self) -> None:
            self.batches = iter([{name: calibration[i : i + 4]} for i in range(0, len(calibration), 4)])

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self.batches, None)

    prepared = folder / "prepared.onnx"
    quant_pre_process(str(fp32), str(prepared), skip_symbolic_shape=True)
    logging.disable(logging.WARNING)  # the quantiser logs every tensor it leaves in float
    int8 = {}
    for label, activations in (("s8s8", QuantType.QInt8), ("u8s8", QuantType.QUInt8)):
        int8[label] = folder / f"{label}.onnx"
        quantize_static(
            str(prepared), str(int8[label]), Calibration(), quant_format=QuantFormat.QDQ,
            activation_type=activations, weight_type=QuantType.QInt8, per_channel=True,
        )  # fmt: skip
    logging.disable(logging.NOTSET)

    def session(path: Path, level: ort.GraphOptimizationLevel = ort.GraphOptimizationLevel.ORT_ENABLE_ALL):
        options = ort.SessionOptions()
        options.intra_op_num_threads, options.inter_op_num_threads = args.threads, 1
        options.graph_optimization_level = level
        return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])

    variants = {
        "fp32, batches of 8 (--runtime onnx)": (session(fp32), 8),
        "fp32, batches of 1": (session(fp32), 1),
        f"fp32, batches of {args.clips}": (session(fp32), args.clips),
        "fp32, ORT_ENABLE_EXTENDED": (session(fp32, ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED), 8),
        "static int8 s8s8, per channel": (session(int8["s8s8"]), 8),
        "static int8 u8s8, per channel": (session(int8["u8s8"]), 8),
    }
    times: dict[str, list[float]] = {label: [] for label in variants}
    outputs = {}
    for repeat in range(args.repeats + 1):  # the first round warms up
        for label, (runner, batch) in variants.items():
            start = time.perf_counter()
            runs = [runner.run(None, {name: features[i : i + batch]})[0] for i in range(0, len(features), batch)]
            if repeat:
                times[label].append(time.perf_counter() - start)
            outputs[label] = np.concatenate(runs)
    seconds = 10.0 * args.clips
    baseline_label = next(iter(variants))
    baseline, reference = statistics.median(times[baseline_label]), outputs[baseline_label]
    print(
        f"{args.clips} clips of 10 s, {args.threads} threads, onnxruntime {ort.__version__}, median of {args.repeats}"
    )
    for label in variants:
        median, out = statistics.median(times[label]), outputs[label]
        cosine = (out * reference).sum(1) / np.linalg.norm(out, axis=1) / np.linalg.norm(reference, axis=1)
        print(
            f"{label}: {seconds / median:.1f}× real time, speed against the baseline {baseline / median:.2f}, "
            f"largest difference {np.abs(out - reference).max():.1e}, smallest cosine {cosine.min():.4f}"
        )


if __name__ == "__main__":
    main()
