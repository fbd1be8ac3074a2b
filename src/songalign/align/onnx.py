"""ONNX exports of an alignment model's towers, and :class:`OnnxAlignModel`, which embeds with them.

``export_onnx(model_dir, out)`` writes, from a model folder (:class:`~songalign.align.model.AlignModel`)::

    audio.onnx      features (B, …) float32, as the audio tower's ``features`` gives them
                    → embedding (B, D) float32, unit length: ``AlignModel.project_audio``, what
                    ``embed``/``index`` use
    text.onnx       input_ids, attention_mask (B, tokens) int64 from the tower's own tokenizer
                    → embedding (B, D) unit length (``AlignModel.embed_text`` of a text that fits one
                      window), and pieces (B, d_c): the tower's embedding of each window before pooling
    text_head.onnx  pooled (B, d_c): the mean of a long text's window embeddings (renormalised when the
                    tower normalises) → embedding (B, D): what ``embed_text`` gives for a chunked text
    tagger.onnx     (musicnn audio towers) patches (B, 187, 96) musicnn log-mel → tags (B, 50), sigmoid
                    probabilities: the tagger of ``songalign tag``
    tokenizer/      the text tower's tokenizer; clap_extractor/: CLAP's feature extractor (hf_clap_audio)
    onnx.json       the export's card: opset, every file's inputs and outputs with shapes, dtypes and units,
                    the source folder's weights digest and songalign's version

``quantize="int8"`` adds ``*.int8.onnx`` beside each file (onnxruntime's dynamic quantisation: int8
weights, activations quantised per batch), recorded in the card. The digest is
:func:`songalign.checkpoint.files_digest` of the folder's ``config.json`` and ``model.safetensors``:
a tower the folder references rather than stores (a pretrained CLAP or MiniLM, musicnn's checkpoint,
whose digest the config pins) is covered by the options the config records, not by its bytes.

:class:`OnnxAlignModel` loads an export with onnxruntime and embeds audio and texts with the call shapes
of :class:`AlignModel` (``embed_audio``, ``embed_clips``, ``embed_text``, ``audio_features``), refusing in
one sentence an export that is missing or was made from other weights.

Supported towers: audio ``cnn``, ``musicnn``, ``hf_clap_audio`` (their features: songalign's log-mel,
musicnn's log-mel, CLAP's extractor, computed in numpy/torch without the tower's weights); text
``sentence_transformers`` (MiniLM), ``hf_clap_text``, ``musicnn_tag_prompts`` (MiniLM, then the tag
prompts' softmax).
"""

from __future__ import annotations

import json
import shutil
import tempfile
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from songalign.align.model import AlignModel, embed_audio_items, feature_key
from songalign.audio.windows import fit_length
from songalign.checkpoint import CONFIG_FILE, WEIGHTS_FILE, files_digest
from songalign.errors import MissingDependencyError, SongalignError
from songalign.towers.musicnn.onnx import onnxruntime_session

EXPORT_CARD = "onnx.json"
EXPORT_FORMAT = "songalign onnx export 1"
OPSET = 17
TOKENIZER_DIR = "tokenizer"
EXTRACTOR_DIR = "clap_extractor"
PRECISIONS = ("fp32", "int8")
VARIABLE_FRAMES = {"cnn": 2}
"""Audio towers whose graph takes any number of frames: tower name → the features' time axis."""


def source_digest(model_dir: str | Path) -> str:
    """16 hex digits identifying a model folder's weights: :func:`files_digest` of its ``config.json`` and
    ``model.safetensors`` (those it has)."""
    folder = Path(model_dir)
    return files_digest([folder / name for name in (CONFIG_FILE, WEIGHTS_FILE) if (folder / name).is_file()])


def again(model_dir: str | Path, out: str | Path, options: str = "--force") -> str:
    """The command that (re)writes the export ``out`` of ``model_dir``, with ``options``."""
    return f"`songalign export onnx {model_dir} --out {out}{' ' + options if options else ''}`"


# -- what is exported ----------------------------------------------------------------------------------
@dataclass
class TextParts:
    """A text tower cut where its long texts are pooled: ``encode`` (ids, mask) → per-window embeddings
    ``(B, d_c)``; ``finish`` pooled window embeddings → the tower's output ``(B, d_t)``; ``chunker``: the tower
    whose tokenizer, ``max_tokens``, ``budget``, ``overlap`` and ``normalized`` split and pool long texts."""

    encode: Callable[[torch.Tensor, torch.Tensor], torch.Tensor]
    finish: Callable[[torch.Tensor], torch.Tensor]
    chunker: Any


def text_parts(tower: Any) -> TextParts:
    """The :class:`TextParts` of a supported text tower; one sentence for another."""
    if tower.name in ("sentence_transformers", "hf_clap_text"):
        return TextParts(tower.embed_tokens, lambda pooled: pooled, tower)
    if tower.name == "musicnn_tag_prompts":
        return TextParts(tower.sentence.embed_tokens, tower.weights_of, tower.sentence)
    raise SongalignError(
        f"the text tower {tower.name!r} has no ONNX export; sentence_transformers, hf_clap_text and "
        "musicnn_tag_prompts have one"
    )


class _AudioGraph(nn.Module):
    def __init__(self, model: AlignModel):
        super().__init__()
        self.model = model

    def forward(self, features: torch.Tensor) -> torch.Tensor:
        return self.model.project_audio(features)


class _TextHead(nn.Module):
    def __init__(self, model: AlignModel, parts: TextParts):
        super().__init__()
        self.model, self.parts = model, parts

    def forward(self, pooled: torch.Tensor) -> torch.Tensor:
        return self.model.project_text(self.parts.finish(pooled))


class _TextGraph(nn.Module):
    def __init__(self, head: _TextHead):
        super().__init__()
        self.head = head

    def forward(self, input_ids: torch.Tensor, attention_mask: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        pieces = self.head.parts.encode(input_ids, attention_mask)
        return self.head(pieces), pieces


def _io(name: str, tensor: torch.Tensor, axes: dict[int, str], units: str) -> dict[str, Any]:
    shape = [axes.get(i, size) for i, size in enumerate(tensor.shape)]
    return {"name": name, "shape": shape, "dtype": str(tensor.dtype).removeprefix("torch."), "units": units}


def _export(graph: nn.Module, inputs: tuple[torch.Tensor, ...], path: Path, spec: dict[str, Any], opset: int) -> None:
    names = [item["name"] for item in spec["inputs"]]
    outputs = [item["name"] for item in spec["outputs"]]
    dynamic = {
        item["name"]: {i: axis for i, axis in enumerate(item["shape"]) if isinstance(axis, str)}
        for item in spec["inputs"] + spec["outputs"]
    }
    # the tracer warns of every shape it records as a constant; the tests check the graphs against torch
    with torch.no_grad(), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            graph.eval(),
            inputs,
            str(path),
            input_names=names,
            output_names=outputs,
            dynamic_axes=dynamic,
            opset_version=opset,
            dynamo=False,
        )


def _features_spec(model: AlignModel) -> tuple[torch.Tensor, dict[str, Any], str]:
    """A batch of two example features, their time axis names and the card's description of the features."""
    tower = model.audio_tower
    samples = model.clip_samples or int(round(model.config.clip_seconds * tower.sample_rate))
    rng = np.random.default_rng(0)
    example = torch.stack([model.audio_features(0.1 * rng.standard_normal(samples).astype(np.float32)) for _ in "ab"])
    axes = {0: "batch"}
    if tower.name in VARIABLE_FRAMES:
        axes[VARIABLE_FRAMES[tower.name]] = "frames"
    units = {
        "log_mel": "natural-log mel power (B, n_mels, frames), one frame every hop_length samples",
        "musicnn_mel": "musicnn's log10(10000·mel + 1) (B, frames, 96), one frame every 256 samples (16 ms)",
        "clap": "CLAP's feature extractor output (B, C, frames, n_mels), dB, one frame every hop_length samples",
    }.get(tower.feature_kind, tower.feature_kind)
    return example, axes, units


def _audio_card(model: AlignModel) -> dict[str, Any]:
    tower = model.audio_tower
    card: dict[str, Any] = {
        "tower": tower.name,
        "feature_kind": tower.feature_kind,
        "feature_key": feature_key(tower),
        "sample_rate": int(tower.sample_rate),
        "clip_seconds": model.config.clip_seconds,
        "clip_samples": model.clip_samples,
    }
    if tower.feature_kind == "log_mel":
        card["log_mel_config"] = tower.log_mel_config.model_dump()
    elif tower.feature_kind == "clap":
        card["crop"] = tower.crop
    elif tower.feature_kind != "musicnn_mel":
        raise SongalignError(
            f"the audio tower {tower.name!r} (features {tower.feature_kind!r}) has no ONNX export; cnn, musicnn "
            "and hf_clap_audio have one"
        )
    return card


def export_onnx(
    model_dir: str | Path,
    out: str | Path,
    *,
    quantize: str | None = None,
    force: bool = False,
    opset: int = OPSET,
) -> Path:
    """Export ``model_dir``'s towers with their projections (and musicnn's tagger) to ONNX files in ``out``.

    ``quantize="int8"`` also writes dynamically quantised copies. An existing export in ``out`` is replaced
    only with ``force``; a folder that holds anything else is never written into. Returns ``out``.
    """
    model_dir, out = Path(model_dir), Path(out)
    try:
        import onnx  # noqa: F401  (torch's exporter and onnxruntime's quantiser write through it)
    except ImportError as error:
        raise MissingDependencyError("onnx", "songalign export onnx", extra="onnx") from error
    if quantize not in (None, "int8"):
        raise SongalignError(f"--quantize takes int8; got {quantize!r}")
    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        if not (out / EXPORT_CARD).is_file():
            raise SongalignError(f"{out} exists and is not an ONNX export; give a new or empty folder as --out")
        if not force:
            raise SongalignError(f"{out} already holds an ONNX export; add --force to replace it")
    model = AlignModel.from_pretrained(model_dir).eval()
    _audio_card(model), text_parts(model.text_tower)  # refuse a tower without an export before writing anything
    out.parent.mkdir(parents=True, exist_ok=True)
    # a fresh hidden folder beside ``out``, renamed into place when whole: no folder of the user's is reused
    partial = Path(tempfile.mkdtemp(dir=out.parent, prefix=f".{out.name}.partial-"))
    try:
        _write_export(model, model_dir, partial, quantize, opset)
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    if out.exists():
        shutil.rmtree(out) if out.is_dir() else out.unlink()
    partial.rename(out)
    return out


def _write_export(model: AlignModel, model_dir: Path, partial: Path, quantize: str | None, opset: int) -> None:
    """Write the export of ``model`` (from ``model_dir``) into the empty folder ``partial``."""
    audio_card = _audio_card(model)
    parts = text_parts(model.text_tower)
    dim = model.config.embedding_dim
    files: dict[str, dict[str, Any]] = {}

    features, axes, units = _features_spec(model)
    audio = _AudioGraph(model)
    files["audio"] = {
        "file": "audio.onnx",
        "inputs": [_io("features", features, axes, units)],
        "outputs": [_io("embedding", audio(features), {0: "batch"}, f"unit-length joint embedding, D = {dim}")],
    }

    tokenizer = parts.chunker.tokenizer
    tokens = tokenizer(["a calm song", "tears in the rain tonight"], padding=True, return_tensors="pt")
    ids, mask = tokens["input_ids"].long(), tokens["attention_mask"].long()
    head = _TextHead(model, parts)
    text = _TextGraph(head)
    embedding, pieces = text(ids, mask)
    token_axes = {0: "batch", 1: "tokens"}
    files["text"] = {
        "file": "text.onnx",
        "inputs": [
            _io(
                "input_ids", ids, token_axes, f"token ids of the tower's tokenizer, at most {parts.chunker.max_tokens}"
            ),
            _io("attention_mask", mask, token_axes, "1 for a token, 0 for padding"),
        ],
        "outputs": [
            _io("embedding", embedding, {0: "batch"}, f"unit-length joint embedding, D = {dim}"),
            _io("pieces", pieces, {0: "batch"}, "the text tower's embedding of each window, before pooling"),
        ],
    }
    files["text_head"] = {
        "file": "text_head.onnx",
        "inputs": [_io("pooled", pieces, {0: "batch"}, "mean of a text's window embeddings (renormalised if noted)")],
        "outputs": [_io("embedding", head(pieces), {0: "batch"}, f"unit-length joint embedding, D = {dim}")],
    }
    graphs: dict[str, tuple[nn.Module, tuple[torch.Tensor, ...]]] = {
        "audio": (audio, (features,)),
        "text": (text, (ids, mask)),
        "text_head": (head, (pieces,)),
    }
    for key, (graph, inputs) in graphs.items():
        _export(graph, inputs, partial / files[key]["file"], files[key], opset)
    tagger = getattr(model.audio_tower, "tagger", None)
    if tagger is not None:  # musicnn's tagger, as `songalign tag --runtime onnx` runs it
        from songalign.towers.musicnn.onnx import export_tagger

        files["tagger"] = export_tagger(tagger, partial / "tagger.onnx", opset)
    tokenizer.save_pretrained(partial / TOKENIZER_DIR)
    if audio_card["feature_kind"] == "clap":
        model.audio_tower.extractor.save_pretrained(partial / EXTRACTOR_DIR)
    if quantize == "int8":
        from songalign.towers.musicnn.onnx import quantize_int8

        for entry in files.values():
            entry["int8"] = entry["file"].replace(".onnx", ".int8.onnx")
            quantize_int8(partial / entry["file"], partial / entry["int8"])

    import songalign

    card = {
        "format": EXPORT_FORMAT,
        "songalign_version": songalign.__version__,
        "torch_version": torch.__version__,
        "opset": opset,
        "source": {"folder": str(model_dir.resolve()), "digest": source_digest(model_dir)},
        "embedding_dim": dim,
        "precisions": ["fp32", "int8"] if quantize else ["fp32"],
        "quantization": (
            "onnxruntime quantize_dynamic: int8 weights (QInt8), activations quantised per batch" if quantize else None
        ),
        "audio": audio_card,
        "text": {
            "tower": model.text_tower.name,
            "max_tokens": int(parts.chunker.max_tokens),
            "budget": int(parts.chunker.budget),
            "overlap": int(parts.chunker.overlap),
            "renormalize_pieces": bool(parts.chunker.normalized),
        },
        "files": files,
    }
    (partial / EXPORT_CARD).write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")


# -- the runtime -------------------------------------------------------------------------------------------
def read_export(model_dir: str | Path, export_dir: str | Path) -> dict[str, Any]:
    """The card of the export ``export_dir`` of ``model_dir``, checked: one sentence when it is missing or was
    exported from other weights than the folder's now."""
    export_dir = Path(export_dir)
    path = export_dir / EXPORT_CARD
    if not path.is_file():
        raise SongalignError(
            f"{export_dir} holds no ONNX export of {model_dir} (no {EXPORT_CARD}); "
            f"run {again(model_dir, export_dir, '')} first"
        )
    try:
        card = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as error:
        raise SongalignError(f"{path} cannot be read ({error}); run {again(model_dir, export_dir)} again") from None
    if card.get("format") != EXPORT_FORMAT:
        raise SongalignError(f"{path} is not a {EXPORT_FORMAT}; run {again(model_dir, export_dir)} again")
    if card["source"]["digest"] != source_digest(model_dir):
        raise SongalignError(
            f"{export_dir} was exported from other weights than {model_dir}'s; run {again(model_dir, export_dir)} again"
        )
    return card


def _audio_features_function(card: dict[str, Any], export_dir: Path) -> Callable[[np.ndarray], torch.Tensor]:
    """The audio tower's ``features`` rebuilt from the card without its weights."""
    audio = card["audio"]
    kind = audio["feature_kind"]
    if kind == "log_mel":
        from songalign.towers.logmel import LogMelAudioTower

        return LogMelAudioTower(audio["log_mel_config"]).features
    if kind == "musicnn_mel":
        from songalign.towers.musicnn.tower import musicnn_features

        return musicnn_features
    if kind == "clap":
        from transformers import ClapFeatureExtractor

        from songalign.towers.hf_clap import clap_features

        extractor = ClapFeatureExtractor.from_pretrained(str(export_dir / EXTRACTOR_DIR))
        return lambda waveform: clap_features(extractor, waveform, audio["crop"])
    raise SongalignError(f"{export_dir / EXPORT_CARD} names features {kind!r}, which this songalign cannot compute")


class OnnxAlignModel:
    """An alignment model's ONNX export run by onnxruntime, with :class:`AlignModel`'s embedding calls.

    ``OnnxAlignModel.open(model_dir, export_dir, precision="fp32" | "int8", threads=None)``; ``threads``
    sets onnxruntime's intra-op threads (None: its default, one per core), as ``--threads`` sets torch's.
    """

    def __init__(self, model_dir: Path, export_dir: Path, card: dict[str, Any], precision: str, threads: int | None):
        if precision not in PRECISIONS:
            raise SongalignError(f"the ONNX precision must be one of {', '.join(PRECISIONS)}; got {precision!r}")
        if precision not in card["precisions"]:
            raise SongalignError(
                f"{export_dir} holds no {precision} export; run {again(model_dir, export_dir, '--quantize int8')}"
            )
        self.model_dir, self.export_dir, self.card, self.precision = model_dir, export_dir, card, precision
        self.threads = threads
        self._sessions: dict[str, Any] = {}
        audio = card["audio"]
        self.embedding_dim = int(card["embedding_dim"])
        self.sample_rate = int(audio["sample_rate"])
        self.clip_seconds = float(audio["clip_seconds"])
        self.clip_samples: int | None = audio["clip_samples"]
        self.feature_key = str(audio["feature_key"])
        self._features = _audio_features_function(card, export_dir)
        self._tokenizer: Any = None

    @classmethod
    def open(
        cls,
        model_dir: str | Path,
        export_dir: str | Path | None = None,
        *,
        precision: str = "fp32",
        threads: int | None = None,
    ) -> OnnxAlignModel:
        """The export ``export_dir`` (default ``model_dir/onnx``) of ``model_dir``, checked against its weights."""
        model_dir = AlignModel.require_folder(model_dir)
        export_dir = Path(export_dir) if export_dir is not None else default_export_dir(model_dir)
        return cls(model_dir, export_dir, read_export(model_dir, export_dir), precision, threads)

    def session(self, key: str) -> Any:
        """The onnxruntime session of the export's ``key`` file (``audio``, ``text``, ``text_head``, ``tagger``)."""
        if key not in self._sessions:
            entry = self.card["files"].get(key)
            if entry is None:
                raise SongalignError(f"{self.export_dir} holds no {key} graph; export a model that has one")
            name = entry["file"] if self.precision == "fp32" else entry["int8"]
            self._sessions[key] = onnxruntime_session(self.export_dir / name, self.threads)
        return self._sessions[key]

    # -- audio ---------------------------------------------------------------------------------------
    def tower_features(self, clips: np.ndarray) -> torch.Tensor:
        """The audio tower's ``features`` of clips already fitted, computed without its weights (as
        :meth:`AlignModel.tower_features`): ``(samples,)`` → one clip's, ``(B, samples)`` → a batch's."""
        return torch.as_tensor(self._features(clips))

    def audio_features(self, audio: np.ndarray) -> torch.Tensor:
        """Tower features of one clip of mono audio at :attr:`sample_rate`, fitted to ``clip_seconds`` (as
        :meth:`AlignModel.audio_features`)."""
        samples = self.clip_samples
        return self.tower_features(audio if samples is None else fit_length(audio, samples))

    def embed_features(self, features: torch.Tensor | np.ndarray) -> np.ndarray:
        """``(B, …)`` tower features → ``(B, D)`` unit embeddings (``AlignModel.project_audio``)."""
        batch = np.ascontiguousarray(np.asarray(features, dtype=np.float32))
        return self.session("audio").run(["embedding"], {"features": batch})[0]

    def embed_clips(self, clips: Sequence[np.ndarray], batch_size: int = 16) -> np.ndarray:
        """Embeddings ``(N, D)`` of clips (mono arrays at the tower's rate), as :meth:`AlignModel.embed_clips`."""
        out = [
            self.embed_features(torch.stack([self.audio_features(c) for c in clips[i : i + batch_size]]))
            for i in range(0, len(clips), batch_size)
        ]
        return np.concatenate(out) if out else np.zeros((0, self.embedding_dim), np.float32)

    def embed_audio(
        self, items: Sequence[str | Path | np.ndarray], sample_rate: int | None = None, hop_seconds: float | None = None
    ) -> np.ndarray:
        """Whole-item embeddings ``(N, D)`` of audio files or arrays, as :meth:`AlignModel.embed_audio`."""
        return embed_audio_items(items, self.embed_clips, self.sample_rate, self.clip_seconds, sample_rate, hop_seconds)

    # -- text ----------------------------------------------------------------------------------------
    @property
    def tokenizer(self) -> Any:
        if self._tokenizer is None:
            from transformers import AutoTokenizer

            self._tokenizer = AutoTokenizer.from_pretrained(str(self.export_dir / TOKENIZER_DIR))
        return self._tokenizer

    def _tokens(self, pieces: list[str]) -> dict[str, np.ndarray]:
        encoded = self.tokenizer(
            pieces, padding=True, truncation=True, max_length=self.card["text"]["max_tokens"], return_tensors="np"
        )
        return {name: np.asarray(encoded[name], dtype=np.int64) for name in ("input_ids", "attention_mask")}

    def embed_text(self, texts: Sequence[str], batch_size: int = 64) -> np.ndarray:
        """Unit text embeddings ``(N, D)``, as :meth:`AlignModel.embed_text`: a text longer than the tower's
        token limit is split into overlapping windows whose embeddings are pooled before the head."""
        from songalign.towers.chunking import chunk_text, pool_chunks

        settings = self.card["text"]
        texts = [texts] if isinstance(texts, str) else list(texts)
        out = []
        for start in range(0, len(texts), batch_size):
            batch = texts[start : start + batch_size]
            pieces, owners = [], []
            for index, text in enumerate(batch):
                for piece in chunk_text(self.tokenizer, text, settings["budget"], settings["overlap"]):
                    pieces.append(piece)
                    owners.append(index)
            embedding, window = self.session("text").run(["embedding", "pieces"], self._tokens(pieces))
            if len(pieces) == len(batch):
                out.append(embedding)
                continue
            pooled = pool_chunks(torch.from_numpy(window), owners, len(batch), settings["renormalize_pieces"])
            out.append(self.session("text_head").run(["embedding"], {"pooled": pooled.numpy()})[0])
        return np.concatenate(out) if out else np.zeros((0, self.embedding_dim), np.float32)

    # -- musicnn's tagger ----------------------------------------------------------------------------
    def tag_patches(self, patches: torch.Tensor | np.ndarray) -> np.ndarray:
        """``(B, 187, 96)`` musicnn log-mel patches → ``(B, 50)`` tag probabilities (musicnn audio towers)."""
        batch = np.ascontiguousarray(np.asarray(patches, dtype=np.float32))
        return self.session("tagger").run(["tags"], {"patches": batch})[0]


def default_export_dir(model_dir: str | Path) -> Path:
    """Where ``songalign export onnx MODEL`` writes and ``--runtime onnx`` looks by default: ``MODEL/onnx``."""
    return Path(model_dir) / "onnx"


RUNTIMES = ("torch", "onnx", "onnx-int8")
"""What ``--runtime`` takes: the torch model, its fp32 ONNX export, or the export's int8 copy."""


def open_runtime(
    model_dir: str | Path, runtime: str = "torch", export_dir: str | Path | None = None, threads: int | None = None
) -> AlignModel | OnnxAlignModel:
    """The model of ``model_dir`` run by ``runtime`` (:data:`RUNTIMES`): an :class:`AlignModel`, or an
    :class:`OnnxAlignModel` of its export ``export_dir`` (default ``model_dir/onnx``) with ``threads`` threads."""
    if runtime == "torch":
        return AlignModel.from_pretrained(model_dir)
    if runtime not in RUNTIMES:
        raise SongalignError(f"--runtime must be one of {', '.join(RUNTIMES)}; got {runtime!r}")
    precision = "int8" if runtime == "onnx-int8" else "fp32"
    return OnnxAlignModel.open(model_dir, export_dir, precision=precision, threads=threads)


def int8_top10_overlap(
    model_dir: str | Path, export_dir: str | Path, corpus: str | Path, split: str = "test", k: int = 10
) -> dict[str, Any]:
    """How far the int8 export ranks like the torch model: text→audio queries over the ``split`` segments of a
    prepared ``corpus`` (the pool: every segment with audio; the queries: their distinct descriptions, else
    their lyrics; ``split="all"``: every split), each query's top ``k`` segments by cosine under torch fp32 and under the export's int8 copy,
    and the mean of ``|top_torch ∩ top_int8| / k``. Returns ``{"value", "k", "pool", "queries", "split",
    "corpus"}``; a pool of at most ``k`` segments is refused (every top-k would be the whole pool)."""
    import pyarrow.parquet as pq

    from songalign.align.data import window_features
    from songalign.corpus.manifest import SEGMENTS_FILE
    from songalign.errors import BadInputError

    corpus = Path(corpus)
    if not (corpus / SEGMENTS_FILE).is_file():
        raise SongalignError(f"{corpus} is not a prepared corpus (no {SEGMENTS_FILE}); give one to --measure-overlap")
    rows = [r for r in pq.read_table(corpus / SEGMENTS_FILE).to_pylist() if split in ("all", r["split"]) and r["audio_path"]]
    torch_model = AlignModel.from_pretrained(model_dir)
    int8 = OnnxAlignModel.open(model_dir, export_dir, precision="int8")
    features, kept = [], []
    for row in rows:
        try:
            features.append(torch.as_tensor(window_features(torch_model, row["audio_path"], row["start"], row["end"])))
            kept.append(row)
        except BadInputError:
            continue
    if len(kept) <= k:
        raise SongalignError(
            f"the {split} split of {corpus} has {len(kept)} segments with audio, not more than the top {k}; "
            "measure on a larger corpus or split"
        )
    column = "description" if any((r.get("description") or "").strip() for r in kept) else "text"
    queries = sorted({(r.get(column) or "").strip() for r in kept} - {""})
    batch = torch.stack(features)
    ranked = {}
    for name, model in (("torch", torch_model), ("int8", int8)):
        audio = np.concatenate([model.embed_features(batch[i : i + 16]) for i in range(0, len(batch), 16)])
        scores = model.embed_text(queries) @ audio.T
        ranked[name] = np.argsort(-scores, axis=1, kind="stable")[:, :k]
    shared = [len(set(a) & set(b)) / k for a, b in zip(ranked["torch"], ranked["int8"], strict=True)]
    return {
        "value": round(float(np.mean(shared)), 4),
        "k": k,
        "pool": len(kept),
        "queries": len(queries),
        "query_text": column,
        "split": split,
        "corpus": str(corpus.resolve()),
    }


def record_overlap(export_dir: str | Path, measured: dict[str, Any]) -> None:
    """Write ``measured`` (:func:`int8_top10_overlap`) into the export's card as ``int8_top10_overlap``."""
    path = Path(export_dir) / EXPORT_CARD
    card = json.loads(path.read_text(encoding="utf-8"))
    card["int8_top10_overlap"] = measured
    path.write_text(json.dumps(card, indent=1) + "\n", encoding="utf-8")
