"""musicnn's taggers run by onnxruntime: ``songalign tag --runtime onnx`` (or ``onnx-int8``).

The graph (:func:`export_tagger`) is the torch tagger's ``forward`` from patches to tags::

    patches (B, 187, 96) float32, musicnn log-mel  →  tags (B, 50) float32, sigmoid probabilities

:func:`onnx_tagger` exports a checkpoint's tagger once, into the user's cache beside its safetensors
(:func:`~songalign.towers.musicnn.port.cache_root`), under a name that holds the checkpoint's digest
(:func:`~songalign.towers.musicnn.port.checkpoint_digest`): other weights never read another checkpoint's
graph, and an export is never stale. ``precision="int8"`` adds onnxruntime's dynamic quantisation of it
(int8 weights, activations quantised per batch). :class:`OnnxTagger` tags audio as
:meth:`MusicnnTagger.tag` does (:func:`~songalign.towers.musicnn.tagger.taggram_of`).
"""

from __future__ import annotations

import logging
import tempfile
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from songalign.errors import MissingDependencyError, SongalignError
from songalign.towers.musicnn.network import DEFAULT_MODEL, MODELS, N_MELS, PATCH_FRAMES
from songalign.towers.musicnn.port import cache_root, checkpoint_digest, checkpoint_folder
from songalign.towers.musicnn.tagger import MusicnnTagger, Taggram, musicnn_tagger, taggram_of

OPSET = 17
PRECISIONS = ("fp32", "int8")


class _TagsGraph(nn.Module):
    def __init__(self, tagger: MusicnnTagger):
        super().__init__()
        self.tagger = tagger

    def forward(self, patches: torch.Tensor) -> torch.Tensor:
        return self.tagger(patches)["tags"]


def export_tagger(tagger: MusicnnTagger, path: str | Path, opset: int = OPSET) -> dict[str, Any]:
    """Write ``tagger``'s patches → tags graph to ``path`` (ONNX, any batch size); returns its card entry:
    file inputs and outputs with shapes and units, the model's name, labels and checkpoint digest."""
    try:
        import onnx  # noqa: F401  (torch's exporter writes through it)
    except ImportError as error:
        raise MissingDependencyError("onnx", "an ONNX export of musicnn's tagger", extra="onnx") from error
    patches = torch.from_numpy(np.random.default_rng(0).standard_normal((2, PATCH_FRAMES, N_MELS)).astype(np.float32))
    graph = _TagsGraph(tagger).eval()
    # the tracer warns of every shape it records as a constant; the tests check the graph against torch
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph,
            (patches,),
            str(path),
            input_names=["patches"],
            output_names=["tags"],
            dynamic_axes={"patches": {0: "batch"}, "tags": {0: "batch"}},
            opset_version=opset,
            dynamo=False,
        )
    return {
        "file": Path(path).name,
        "inputs": [
            {"name": "patches", "shape": ["batch", PATCH_FRAMES, N_MELS], "dtype": "float32",
             "units": "musicnn log-mel patches of 187 frames (3 s)"},
        ],
        "outputs": [
            {"name": "tags", "shape": ["batch", len(tagger.labels)], "dtype": "float32",
             "units": "sigmoid probability of each tag"},
        ],
        "model": tagger.model_name,
        "labels": list(tagger.labels),
        "checkpoint": str(getattr(tagger.network, "checkpoint", "")),
    }


def quantize_int8(source: str | Path, target: str | Path) -> None:
    """onnxruntime's dynamic quantisation of the graph ``source`` into ``target``: int8 weights (QInt8),
    activations quantised per batch."""
    from onnxruntime.quantization import QuantType, quantize_dynamic

    logging.disable(logging.WARNING)  # it logs, on the root logger, every tensor it leaves in float
    try:
        quantize_dynamic(Path(source), Path(target), weight_type=QuantType.QInt8)
    finally:
        logging.disable(logging.NOTSET)


def onnxruntime_session(path: str | Path, threads: int | None = None) -> Any:
    """An onnxruntime CPU session of the graph ``path``, ``threads`` intra-op threads (None: its default, one
    per core) and one inter-op thread."""
    try:
        import onnxruntime as ort
    except ImportError as error:
        raise MissingDependencyError("onnxruntime", "the ONNX runtime", extra="onnx") from error
    options = ort.SessionOptions()
    options.inter_op_num_threads = 1
    if threads:
        options.intra_op_num_threads = max(1, int(threads))
    return ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])


class OnnxTagger:
    """A musicnn tagger's ONNX graph run by onnxruntime, with :class:`MusicnnTagger`'s ``tag``.

    ``path``: the graph (:func:`export_tagger`); ``labels``: its 50 tags; ``threads``: onnxruntime's
    intra-op threads (None: its default).
    """

    def __init__(self, path: str | Path, model_name: str, labels: tuple[str, ...], threads: int | None = None):
        self.path, self.model_name, self.labels = Path(path), model_name, tuple(labels)
        self.session = onnxruntime_session(self.path, threads)

    def tags(self, patches: torch.Tensor | np.ndarray) -> torch.Tensor:
        """``(B, 187, 96)`` musicnn log-mel patches → ``(B, 50)`` tag probabilities."""
        batch = np.ascontiguousarray(np.asarray(patches, dtype=np.float32))
        return torch.from_numpy(self.session.run(["tags"], {"patches": batch})[0])

    def tag(self, waveform: np.ndarray, hop_seconds: float | None = None, batch_size: int = 16) -> Taggram:
        """Tags of mono 16 kHz audio per 3 s patch, as :meth:`MusicnnTagger.tag`."""
        return taggram_of(waveform, self.tags, self.labels, hop_seconds, batch_size)


def onnx_tagger(
    name: str = DEFAULT_MODEL, weights: str | Path | None = None, precision: str = "fp32", threads: int | None = None
) -> OnnxTagger:
    """musicnn ``name``'s tagger (checkpoint ``weights``, default the wheel's) run by onnxruntime in ``precision``
    (:data:`PRECISIONS`); its graph is exported on first use into the cache, named by the checkpoint's digest."""
    if name not in MODELS:
        raise SongalignError(f"unknown musicnn model {name!r}; choose one of {', '.join(MODELS)}")
    if precision not in PRECISIONS:
        raise SongalignError(f"the ONNX precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
    digest = checkpoint_digest(checkpoint_folder(name, weights))
    folder = cache_root() / "musicnn"
    fp32 = folder / f"{name}-{digest}.onnx"
    path = fp32 if precision == "fp32" else folder / f"{name}-{digest}.int8.onnx"
    if not path.is_file():
        folder.mkdir(parents=True, exist_ok=True)
        with tempfile.TemporaryDirectory(dir=folder, prefix=".export-") as scratch:
            made = Path(scratch) / fp32.name
            if fp32.is_file():
                made.write_bytes(fp32.read_bytes())
            else:
                export_tagger(musicnn_tagger(name, weights), made)
            if precision == "int8":
                quantize_int8(made, Path(scratch) / path.name)
                made = Path(scratch) / path.name
            made.replace(path)  # whole or not at all: a second process writes the same bytes
    return OnnxTagger(path, name, MODELS[name][1], threads)
