"""Alignment: the dual-tower model, its losses, training, pretrained models by name, and ONNX exports.

:mod:`songalign.align.onnx` exports a model folder's towers with their projections to ONNX
(``songalign export onnx``) and runs an export with onnxruntime (:class:`~songalign.align.onnx.OnnxAlignModel`,
the commands' ``--runtime onnx``).

:data:`PRETRAINED` is the registry of pretrained-model factories (``songalign models build NAME``,
whose NAME choices it supplies). It lives here, with its entries as lazy ``"module:attribute"``
strings, so that listing the names imports no torch; the factories themselves are in
:mod:`songalign.align.pretrained`. Other packages add theirs through the
``songalign.pretrained_models`` entry points. An entry's ``card`` metadata is the function that
writes the model card of what the factory built (called with the factory's options).
"""

from __future__ import annotations

from typing import Any

from songalign.registry import Registry

PRETRAINED: Registry[Any] = Registry("pretrained_models", what="pretrained model")
"""Factories ``(**options) -> AlignModel`` by name; ``card`` metadata gives each its model card."""

PRETRAINED.register("clap-pre", "songalign.align.pretrained:clap_pre", card="songalign.align.pretrained:clap_pre_card")
PRETRAINED.register(
    "musicnn-bridge", "songalign.align.pretrained:musicnn_bridge", card="songalign.align.pretrained:musicnn_bridge_card"
)
