"""The port of musicnn's weights: the ``musicnn`` wheel's TensorFlow 1 checkpoints, read without TensorFlow.

The wheel ships ``MTT_musicnn``, ``MSD_musicnn``, ``MTT_vgg`` and ``MSD_vgg``; each checkpoint is read
with :mod:`songalign.towers.tf_checkpoint`, its variables copied into the PyTorch network of
:mod:`songalign.towers.musicnn.network` (TF 1's layer names mapped to the modules), and the result
cached as safetensors in the user's cache, keyed by a digest of the checkpoint files
(:func:`checkpoint_digest`). Install the wheel without its dependencies (its metadata asks for
TensorFlow and numpy < 1.17, neither of which is used)::

    pip install --no-deps musicnn==0.1.0
"""

from __future__ import annotations

import importlib.util
from functools import lru_cache
from pathlib import Path

import numpy as np
import torch
from torch import nn

from songalign.checkpoint import cache_root, cached_state, files_digest
from songalign.errors import BadInputError, SongalignError
from songalign.towers.musicnn.network import DEFAULT_MODEL, MusicnnNet, VggNet, build_network
from songalign.towers.tf_checkpoint import read_tf_checkpoint

INSTALL = "pip install --no-deps musicnn==0.1.0"


def checkpoint_folder(model: str, weights: str | Path | None = None) -> Path:
    """The folder of ``model``'s TensorFlow checkpoint: ``weights`` when given (a folder holding
    ``.index`` and ``.data-00000-of-00001``, such as ``musicnn/MSD_musicnn`` of a musicnn checkout),
    else the installed ``musicnn`` wheel's, found without importing it (its code imports TensorFlow)."""
    if weights is not None:
        folder = Path(weights).expanduser()
        if not (folder / ".index").is_file():
            raise BadInputError(
                folder, f"holds no TensorFlow checkpoint (.index); give the folder of musicnn's {model}"
            )
        return folder
    spec = importlib.util.find_spec("musicnn")
    for location in (spec.submodule_search_locations or []) if spec is not None else []:
        folder = Path(location) / model
        if (folder / ".index").is_file():
            return folder
    raise SongalignError(
        f"musicnn's {model} weights come from the musicnn wheel, which is not installed; install it with: {INSTALL} "
        "(without its dependencies: TensorFlow is not used)"
    )


def musicnn_available() -> bool:
    """Whether the musicnn wheel (its checkpoints) is installed."""
    return importlib.util.find_spec("musicnn") is not None


def checkpoint_digest(folder: Path) -> str:
    """16 hex digits of SHA-256 over the checkpoint's index and data files: the cache key."""
    return files_digest(folder / name for name in (".index", ".data-00000-of-00001"))


def load_tf_weights(network: MusicnnNet | VggNet, tf: dict[str, np.ndarray]) -> None:
    """Copy the variables of a musicnn TensorFlow checkpoint ``tf`` (name → array, as
    :func:`~songalign.towers.tf_checkpoint.read_tf_checkpoint` reads them) into ``network``."""
    if isinstance(network, MusicnnNet):
        _load_musicnn(network, tf)
    else:
        _load_vgg(network, tf)


def _load_musicnn(network: MusicnnNet, tf: dict[str, np.ndarray]) -> None:
    """musicnn's variables, named as TF 1's layers gave them (``conv2d_3/kernel``, ``batch_normalization_7/gamma``)."""
    frontend_norms = [branch.norm for branch in network.frontend]
    bns = [network.input_norm, *frontend_norms, *network.midend_norms, network.pool_norm, network.dense_norm]
    for index, norm in enumerate(bns):
        _copy_bn(norm, tf, "batch_normalization" + (f"_{index}" if index else ""))
    convs = [b.conv for b in network.frontend] + list(network.midend)
    for index, conv in enumerate(convs):
        kernel = tf[f"conv2d{f'_{index}' if index else ''}/kernel"]  # (kh, kw, in, out)
        if isinstance(conv, nn.Conv1d):  # a (7, D, 1, 64) kernel spans every feature: a Conv1d over time
            kernel = kernel[:, :, 0, :].transpose(2, 1, 0)
        else:
            kernel = kernel.transpose(3, 2, 0, 1)
        _copy(conv.weight, kernel)
        _copy(conv.bias, tf[f"conv2d{f'_{index}' if index else ''}/bias"])
    _copy_dense(network.dense, tf, "dense")
    _copy_dense(network.classifier, tf, "dense_1")


def _load_vgg(network: VggNet, tf: dict[str, np.ndarray]) -> None:
    """The VGG baseline's variables (``1CNN/kernel`` … ``5CNN/kernel``, ``dense/kernel``)."""
    for index, norm in enumerate([network.input_norm, *network.norms]):
        _copy_bn(norm, tf, "batch_normalization" + (f"_{index}" if index else ""))
    for index, conv in enumerate(network.convs, start=1):
        _copy(conv.weight, tf[f"{index}CNN/kernel"].transpose(3, 2, 0, 1))
        _copy(conv.bias, tf[f"{index}CNN/bias"])
    _copy_dense(network.classifier, tf, "dense")


def _copy(target: torch.Tensor, value: np.ndarray) -> None:
    if tuple(target.shape) != value.shape:
        raise SongalignError(
            f"a musicnn checkpoint variable has shape {value.shape}, the port expects {tuple(target.shape)}"
        )
    with torch.no_grad():
        target.copy_(torch.from_numpy(np.ascontiguousarray(value)))


def _copy_bn(norm: nn.Module, tf: dict[str, np.ndarray], name: str) -> None:
    _copy(norm.weight, tf[f"{name}/gamma"])
    _copy(norm.bias, tf[f"{name}/beta"])
    _copy(norm.running_mean, tf[f"{name}/moving_mean"])
    _copy(norm.running_var, tf[f"{name}/moving_variance"])


def _copy_dense(layer: nn.Linear, tf: dict[str, np.ndarray], name: str) -> None:
    _copy(layer.weight, tf[f"{name}/kernel"].T)
    _copy(layer.bias, tf[f"{name}/bias"])


@lru_cache(maxsize=8)
def _state(model: str, folder: str, digest: str) -> dict[str, torch.Tensor]:
    def convert() -> dict[str, torch.Tensor]:
        # Building the network draws its initial weights from torch's global generator; converting happens
        # only in the first process that finds no cache, so without this fork a run that converts would
        # train the heads built after the tower from other random numbers than a run that reads the cache.
        with torch.random.fork_rng(devices=[]):
            network = build_network(model)
        load_tf_weights(network, read_tf_checkpoint(folder + "/"))
        state = network.state_dict()
        if not all(torch.isfinite(v).all() for v in state.values() if v.is_floating_point()):
            raise BadInputError(folder, f"holds NaN or infinite weights for {model}; reinstall the musicnn wheel")
        return state

    cached = cache_root() / "musicnn" / f"{model}-{digest}.safetensors"
    return cached_state(cached, convert, source=f"musicnn {model}", digest=digest)


def load_network(model: str = DEFAULT_MODEL, weights: str | Path | None = None) -> MusicnnNet | VggNet:
    """``model``'s network with the musicnn checkpoint's weights, in eval mode, gradients off; its
    ``checkpoint`` attribute is :func:`checkpoint_digest` of the files the weights came from."""
    network = build_network(model)  # an unknown name fails here, before any file is looked for
    folder = checkpoint_folder(model, weights)
    digest = checkpoint_digest(folder)
    network.load_state_dict(_state(model, str(folder), digest))
    network.checkpoint = digest
    for parameter in network.parameters():
        parameter.requires_grad_(False)
    return network.eval()
