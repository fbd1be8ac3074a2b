"""A separator for tests, as another package would register one: deterministic, instant, and counted.

:class:`ScaledVoice` calls a fixed share of the audio its vocals and the rest its accompaniment, at the
input's rate and channels, so a test knows exactly what a transcriber hears; ``calls`` counts the songs it
separated (each subclass has its own count), so a test can tell a cache hit from a separation::

    class HalfVoice(ScaledVoice):
        digest = "00000000000000aa"

    SEPARATORS.register("half-test", HalfVoice)   # then --vocals half-test; unregister afterwards
"""

from __future__ import annotations

import numpy as np

from songalign.separate import Stems


class ScaledVoice:
    """Vocals ``gain · audio``, accompaniment ``(1 - gain) · audio`` (``(channels, samples)`` float32 at the
    input's rate). ``model``, when given, is the weights' digest (16 hex digits); ``digest = None`` on a
    subclass makes a separator that tells its weights apart by nothing (such a separator is never cached)."""

    gain: float = 0.5
    digest: str | None = "00000000000000d1"
    calls: int = 0

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls.calls = 0

    def __init__(self, model: str | None = None) -> None:
        if model:
            self.digest = model

    def separate(self, audio: np.ndarray, sample_rate: int) -> Stems:
        """The stems of ``audio`` (``(samples,)`` or ``(channels, samples)``) at ``sample_rate`` Hz."""
        type(self).calls += 1
        audio = np.atleast_2d(np.asarray(audio, dtype=np.float32))
        return Stems(self.gain * audio, (1 - self.gain) * audio, sample_rate)
