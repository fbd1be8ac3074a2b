"""The characters the transcriber hears, its frame rates, and the one text normalisation every metric states.

Normalisation (:func:`normalise_text`), used for CTC targets, for the language model's training
text and for WER/CER alike: ß, æ, ø, œ and ł spelled in a–z (ss, ae, o, oe, l), NFKD, accents
stripped, lower case; typographic apostrophes become
``'``; every character outside ``a-z``, ``'`` and space becomes a space; runs of spaces collapse
and the ends are trimmed. So "Don't STOP—believin’!" becomes ``"don't stop believin'"``.

The output alphabet is the paper's: the CTC blank first (index 0), then space, apostrophe and
``a``–``z`` (29 symbols). The authors' code emits 34 symbols (blank first); its extra five never
occur in normalised English lyrics, so the paper's alphabet loses nothing.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence

SAMPLE_RATE = 16000
"""The transcriber's audio rate, in Hz."""

FRAME_SECONDS = 0.016
"""Seconds per input frame (hop 256 at 16 kHz), and so per pitch and onset output."""

EMISSION_SECONDS = 2 * FRAME_SECONDS
"""Seconds per CTC emission frame (0.032): the lyrics network halves the frame rate."""

PITCH_CLASSES = 129
"""Pitch output classes: MIDI notes 0–127 and "no pitch" (index :data:`NO_PITCH`)."""

NO_PITCH = 128

BLANK = "_"
"""How the CTC blank prints (index 0); never part of a normalised text."""

CHARACTERS: tuple[str, ...] = (" ", "'", *"abcdefghijklmnopqrstuvwxyz")
"""The characters a transcriber writes, in output order after the blank."""

SYMBOLS: tuple[str, ...] = (BLANK, *CHARACTERS)
"""Output classes: the blank (index 0) and :data:`CHARACTERS`."""

BLANK_INDEX = 0
SPACE_INDEX = SYMBOLS.index(" ")
_INDEX = {symbol: index for index, symbol in enumerate(SYMBOLS)}
_APOSTROPHES = str.maketrans({"\u2019": "'", "\u2018": "'", "\u02bc": "'", "`": "'", "\u00b4": "'"})
_LETTERS = str.maketrans(
    {"ß": "ss", "æ": "ae", "Æ": "AE", "ø": "o", "Ø": "O", "œ": "oe", "Œ": "OE", "ł": "l", "Ł": "L"}
)
_OUTSIDE = re.compile(r"[^a-z' ]+")
_SPACES = re.compile(r" +")


def normalise_text(text: str) -> str:
    """``text`` lower-cased, without accents, with only ``a-z``, ``'`` and single spaces (see the module docstring)."""
    decomposed = unicodedata.normalize("NFKD", text.translate(_APOSTROPHES).translate(_LETTERS))
    plain = "".join(ch for ch in decomposed if not unicodedata.combining(ch)).lower()
    return _SPACES.sub(" ", _OUTSIDE.sub(" ", plain)).strip()


def encode(text: str) -> list[int]:
    """Symbol indices of ``normalise_text(text)`` (never the blank)."""
    return [_INDEX[ch] for ch in normalise_text(text)]


def decode(indices: Sequence[int]) -> str:
    """The text of symbol ``indices``, as they are (no CTC collapsing; blanks are dropped)."""
    return "".join(SYMBOLS[i] for i in indices if i != BLANK_INDEX)
