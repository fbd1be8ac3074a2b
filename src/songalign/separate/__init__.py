"""Vocal separation: the singing voice of a mix, by a separator chosen by name.

A transcriber hears two channels, the mix and the singing voice; where a song has no vocal stem,
a separator makes one (:mod:`songalign.transcribe.listen` chooses the channel). Every separator
maps a mono mix at 16 kHz, ``(N,)`` float, to its vocals, ``(N,)`` float, the same length::

    separator = SEPARATORS["open-unmix"]("models/umx-vocals")   # a local open-unmix model folder
    vocals = separator.separate(mix)

==============  ====================================================  ====================================
name            implementation                                        what it needs
==============  ====================================================  ====================================
``open-unmix``  ``OpenUnmixSeparator`` in :mod:`.openunmix`          ``pip install openunmix`` and a local
                                                                      vocals model folder
==============  ====================================================  ====================================

Other packages add theirs through the ``songalign.separators`` entry points; a new separator is one
module here with a class ``__init__(model=None, **options)`` and ``separate(mix) -> vocals``, and one
registered name.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np

from songalign.registry import Registry

SAMPLE_RATE = 16000
"""The rate (Hz) at which separators take the mix and give the vocals (the transcriber's)."""


@runtime_checkable
class Separator(Protocol):
    """Separates the singing voice from a mix; built as ``SEPARATORS[name](model, **options)``, which checks
    what it was given in one sentence before any audio is read."""

    def separate(self, mix: np.ndarray) -> np.ndarray:
        """The vocals ``(N,)`` float of ``mix``, a mono 16 kHz float array ``(N,)``."""
        ...


SEPARATORS: Registry[Any] = Registry("separators", what="vocal separator")
"""Vocal separators by name; other packages add theirs through the ``songalign.separators`` entry points."""

SEPARATORS.register("open-unmix", "songalign.separate.openunmix:OpenUnmixSeparator")
