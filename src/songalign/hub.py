"""Loading Hugging Face models (a hub id or a local folder) offline first, with one clear error.

Every pretrained part songalign uses — CLAP's towers, sentence-transformers models, BART and
its tokenizer — loads through :func:`load_pretrained`::

    model = load_pretrained(ClapModel, "laion/clap-htsat-unfused", "CLAP checkpoint")
    st = load_pretrained(SentenceTransformer, folder, "sentence-transformers model", device="cpu")

It tries local files first (a folder, or an id already in the local Hugging Face cache), so a
cached model never touches the network. Only when that fails and ``HF_HUB_OFFLINE`` is not set
does it let the library download. A failure ends in one sentence naming the id or folder and
what to do. Loading is quiet: no progress bars, and no warnings about checkpoint weights a
half-model does not use (loading CLAP's audio half reports the text half's weights as
"unexpected", as intended).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from songalign.errors import SongalignError

_TRUE = {"1", "on", "yes", "true"}


def hub_offline() -> bool:
    """Whether ``HF_HUB_OFFLINE`` asks for no network (read now, not at import time)."""
    return os.environ.get("HF_HUB_OFFLINE", "").strip().lower() in _TRUE


def looks_like_path(source: str) -> bool:
    """Whether ``source`` is written as a filesystem path rather than a hub id (``owner/name``)."""
    return source.startswith((".", "/", "~")) or "\\" in source or source.count("/") > 1


def check_model_folder(source: str | Path, what: str) -> None:
    """Fail with one clear sentence when ``source`` looks like a local path (not a hub id) and is no folder."""
    source = str(source)
    if (looks_like_path(source) or Path(source).expanduser().exists()) and not Path(source).expanduser().is_dir():
        raise SongalignError(f"{source}: {what} folder not found; check the path (or give a Hugging Face id)")


@contextmanager
def quiet_transformers() -> Iterator[None]:
    """No per-file progress bars or tips from transformers while loading or saving (restored afterwards)."""
    try:
        from transformers.utils import logging as hf_logging
    except ImportError:  # nothing to quieten
        yield
        return
    bars, verbosity = hf_logging.is_progress_bar_enabled(), hf_logging.get_verbosity()
    hf_logging.disable_progress_bar()
    hf_logging.set_verbosity_error()
    try:
        yield
    finally:
        hf_logging.set_verbosity(verbosity)
        if bars:
            hf_logging.enable_progress_bar()


def _call(loader: Any, source: str, options: dict[str, Any]) -> Any:
    load = getattr(
        loader, "from_pretrained", loader
    )  # a transformers class, or a constructor such as SentenceTransformer
    return load(source, **options)


def load_pretrained(loader: Any, source: str | Path, what: str, **options: Any) -> Any:
    """``loader.from_pretrained(source, **options)`` (or ``loader(source, **options)``), local files first.

    ``source`` is a local folder or a Hugging Face id; ``what`` names the thing for the error
    ("CLAP checkpoint", "tokenizer"). Raises :class:`SongalignError` with one sentence when the
    folder does not exist, or the model is neither local nor downloadable.
    """
    source = str(Path(source).expanduser()) if looks_like_path(str(source)) else str(source)
    check_model_folder(source, what)
    with quiet_transformers():
        try:
            return _call(loader, source, {**options, "local_files_only": True})
        except (OSError, ValueError) as error:
            local_error: Exception = error
        if Path(source).is_dir() or hub_offline():
            raise _load_error(source, what, local_error, offline=not Path(source).is_dir()) from local_error
        try:
            return _call(loader, source, options)
        except (OSError, ValueError) as error:
            raise _load_error(source, what, error, offline=False) from error


def _load_error(source: str, what: str, error: Exception, *, offline: bool) -> SongalignError:
    reason = f"{type(error).__name__}: {(str(error).splitlines() or [''])[0]}"
    if Path(source).is_dir():
        fix = "check that the folder holds a complete saved model (config and weights, and processor files)"
    elif offline:
        fix = (
            "it is not in the local Hugging Face cache and HF_HUB_OFFLINE is set, so give a local folder "
            "or download it once with `hf download " + source + "`"
        )
    else:
        fix = "give a local folder or the id of an existing Hugging Face model"
    return SongalignError(f"cannot load the {what} {source!r} ({reason}); {fix}")
