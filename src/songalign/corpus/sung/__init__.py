"""An independent sung test set: public-domain scores with lyrics, sung by Festival, in the JamendoLyrics layout.

No model trains on it: a second synthesizer (Festival's singing mode, not espeak-ng), a second voice
and real melodies. :mod:`.scores` turns a score (Festival's example songs, or a ``music21`` score's
melody part and lyrics) into a :class:`~.scores.Melody` and that into Festival's singing XML;
:mod:`.festival` runs Festival for syllable counts, the sung audio and its exact word times;
:mod:`.build` adds the backing, mixes and writes each song (``songalign corpus sung-scores``).
"""

from songalign.corpus.sung.build import CATALOGUE, SongSource, SungSummary, make_sung_scores
from songalign.corpus.sung.festival import FESTIVAL_MISSING, festival_program

__all__ = ["CATALOGUE", "FESTIVAL_MISSING", "SongSource", "SungSummary", "festival_program", "make_sung_scores"]
