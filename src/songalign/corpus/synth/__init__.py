"""The synthetic song corpus: songs whose audio really carries what their text says.

:func:`synthesize_corpus` writes, deterministically from a seed, songs in the JamendoLyrics
MultiLang layout (so the Jamendo reader reads them) plus per-section ground truth (emotion,
valence, arousal, a caption of the music) and song-level interpretations with votes, for
captioning (:mod:`.interpretations`), in ``metadata/``. Lyrics come from an emotion grammar
(:mod:`.lyrics`), vocals from espeak-ng (:mod:`.voice`), the backing from numpy synthesis that
follows each section's emotion (:mod:`.music`); :mod:`.song` lays the song out and
:mod:`.render` mixes and writes it. With ``languages``, songs are sung syllable by syllable
(:mod:`.sing`) in those espeak-ng languages, lyrics from :mod:`.languages`, with phoneme times.
"""

from songalign.corpus.synth.generate import (
    GENERATOR_VERSION,
    SynthSummary,
    ensure_synthetic_corpus,
    plan_corpus,
    synthesize_corpus,
)
from songalign.corpus.synth.lyrics import AFFECT, EMOTIONS

__all__ = [
    "AFFECT",
    "EMOTIONS",
    "GENERATOR_VERSION",
    "SynthSummary",
    "ensure_synthetic_corpus",
    "plan_corpus",
    "synthesize_corpus",
]
