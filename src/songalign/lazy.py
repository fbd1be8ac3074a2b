"""Packages whose public names are imported on first use (PEP 562), so that importing them is cheap.

A package lists where each public name lives and hands the two module hooks this builds::

    _EXPORTS = {"CaptionModel": "model", "CaptionCorpus": "data"}   # name → submodule
    __getattr__, __dir__ = lazy_exports(__name__, _EXPORTS)
    __all__ = sorted(_EXPORTS)

``songalign.caption.CaptionModel`` then imports ``songalign.caption.model`` the first time it is
used (later lookups find the name in the package itself), and ``import songalign.caption`` alone
imports neither torch nor transformers.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Mapping
from importlib import import_module
from typing import Any


def lazy_exports(package: str, exports: Mapping[str, str]) -> tuple[Callable[[str], Any], Callable[[], list[str]]]:
    """The ``__getattr__`` and ``__dir__`` of ``package`` whose names ``exports`` maps to submodules."""

    def __getattr__(name: str) -> Any:
        if name not in exports:
            raise AttributeError(f"module {package!r} has no attribute {name!r}")
        value = getattr(import_module(f"{package}.{exports[name]}"), name)
        setattr(sys.modules[package], name, value)  # later lookups skip this function
        return value

    def __dir__() -> list[str]:
        return sorted({*vars(sys.modules[package]), *exports})

    return __getattr__, __dir__
