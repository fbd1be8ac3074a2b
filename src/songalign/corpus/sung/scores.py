"""Scores with lyrics as sung melodies, and the melodies as Festival's singing XML.

A :class:`Melody` is what Festival's singing mode needs and what the backing follows: the sung
words in order, each a list of syllables, each syllable one note or several slurred notes
(:class:`SungNote`: a MIDI pitch and a length in beats), with the rest after each word; plus the
length of one beat in seconds and the beats of silence before the first word. It comes from
Festival's own example songs (:func:`read_singing_xml`) or from a ``music21`` score's melody
part (:func:`melody_from_music21`; ``music21`` is imported by the caller, never here).

:func:`singing_xml` writes a melody in the SINGING DTD of ``singing-mode.scm``:
``<DURATION BEATS="1+0.5,1"><PITCH NOTE="F4+G4,A4">word</PITCH></DURATION>`` (``,`` between
syllables, ``+`` between the notes of a slur) and ``<REST BEATS="0.5"></REST>``. Two conventions
of ``singing-mode.scm`` matter: a beat there lasts ``50 / BPM`` seconds (not 60), and its note
names count octaves from MIDI 0 (``A5`` = MIDI 69 = 440 Hz, one octave above scientific pitch
notation). Both are handled here and nowhere else.

Units: pitches in MIDI note numbers, lengths in beats, :attr:`Melody.beat_seconds` in seconds.
"""

from __future__ import annotations

import math
import re
import unicodedata
import xml.etree.ElementTree as ElementTree
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from songalign.corpus.synth.music import NOTE_NAMES, SCALES
from songalign.errors import BadInputError

FESTIVAL_BEAT_NUMERATOR = 50.0
"""``singing-mode.scm`` makes a beat ``50 / BPM`` seconds long (its comment: "change this back to 60")."""

HIGHEST_SUNG_PITCH = 69
"""The highest MIDI pitch Festival is asked to sing (A4, 440 Hz): its male diphone voice crashes from C5 (72) up."""

LINE_END_PUNCTUATION = ",.;:!?"
"""A word whose text ends with one of these ends its lyric line."""


@dataclass(frozen=True)
class SungNote:
    """One sung note: ``pitch`` a MIDI number, ``beats`` its length in beats (> 0)."""

    pitch: int
    beats: float


@dataclass
class SungWord:
    """One sung word: ``syllables`` in order, each one note or several slurred :class:`SungNote`;
    ``rest`` beats of silence after it; ``line_end`` when a lyric line ends with it."""

    text: str
    syllables: list[list[SungNote]]
    rest: float = 0.0
    line_end: bool = False

    @property
    def beats(self) -> float:
        """The word's sung length in beats (its rest not counted)."""
        return sum(note.beats for syllable in self.syllables for note in syllable)

    @property
    def notes(self) -> list[SungNote]:
        """All its notes in order."""
        return [note for syllable in self.syllables for note in syllable]


@dataclass
class Melody:
    """A sung melody: ``words`` in order after ``lead_in`` beats of silence; a beat lasts ``beat_seconds`` s.

    ``accompaniment`` holds the score's other notes as ``(onset, length, pitch)`` in beats from the
    melody's time zero (the start of the lead-in) and MIDI numbers; empty when the score has none.
    """

    words: list[SungWord]
    beat_seconds: float
    lead_in: float = 0.0
    accompaniment: list[tuple[float, float, int]] = field(default_factory=list)

    def onsets(self) -> list[float]:
        """Each word's nominal start in seconds (the score's time; Festival's own times differ by its consonants)."""
        starts, beat = [], self.lead_in
        for word in self.words:
            starts.append(beat * self.beat_seconds)
            beat += word.beats + word.rest
        return starts

    @property
    def seconds(self) -> float:
        """The melody's length in seconds, lead-in and final rest included."""
        return (self.lead_in + sum(w.beats + w.rest for w in self.words)) * self.beat_seconds


def festival_note(pitch: int) -> str:
    """Festival's name of MIDI ``pitch``: ``festival_note(69) == "A5"``, ``festival_note(61) == "C#5"``."""
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12}"


_NOTE = re.compile(r"^([A-Ga-g])([#b]?)(-?\d+)$")
_STEPS = {"C": 0, "D": 2, "E": 4, "F": 5, "G": 7, "A": 9, "B": 11}


def parse_festival_note(name: str) -> int:
    """The MIDI number of a Festival note name (the inverse of :func:`festival_note`): ``"Bb3"`` → 46."""
    match = _NOTE.match(name.strip())
    if not match:
        raise ValueError(f"not a note name: {name!r}")
    letter, accidental, octave = match.groups()
    shift = {"#": 1, "b": -1, "": 0}[accidental]
    return 12 * int(octave) + _STEPS[letter.upper()] + shift


def festival_text(text: str) -> str:
    """``text`` as Festival's English front end can read it: German umlauts and ß spelled out (``ü`` → ``ue``),
    other accents dropped, and only letters and inner apostrophes kept (``"Brünnen,"`` → ``"Bruennen"``)."""
    for letter, spelled in (("ä", "ae"), ("ö", "oe"), ("ü", "ue"), ("Ä", "Ae"), ("Ö", "Oe"), ("Ü", "Ue"), ("ß", "ss")):
        text = text.replace(letter, spelled)
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii")
    return re.sub(r"[^A-Za-z']", "", text).strip("'")


def _beats(value: float) -> str:
    return f"{value:.4f}".rstrip("0").rstrip(".")


def singing_xml(melody: Melody) -> str:
    """``melody`` in Festival's SINGING DTD (see the module docstring), words as :func:`festival_text`.

    ``BPM`` is ``50 / beat_seconds`` so that Festival's beat lasts ``beat_seconds``. Every word must
    have a non-empty :func:`festival_text` and at least one note per syllable.
    """
    bpm = FESTIVAL_BEAT_NUMERATOR / melody.beat_seconds
    parts = [
        '<?xml version="1.0"?>',
        '<!DOCTYPE SINGING PUBLIC "-//SINGING//DTD SINGING mark up//EN" "Singing.v0_1.dtd" []>',
        f'<SINGING BPM="{bpm:.6f}">',
    ]
    if melody.lead_in > 0:
        parts.append(f'<REST BEATS="{_beats(melody.lead_in)}"></REST>')
    for word in melody.words:
        text = festival_text(word.text)
        if not text or not word.syllables or not all(word.syllables):
            raise ValueError(f"word {word.text!r} has no letters Festival can sing or a syllable without notes")
        beats = ",".join("+".join(_beats(n.beats) for n in syllable) for syllable in word.syllables)
        notes = ",".join("+".join(festival_note(n.pitch) for n in syllable) for syllable in word.syllables)
        parts.append(f'<DURATION BEATS="{beats}"><PITCH NOTE="{notes}">{text}</PITCH></DURATION>')
        if word.rest > 0:
            parts.append(f'<REST BEATS="{_beats(word.rest)}"></REST>')
    parts.append("</SINGING>")
    return "\n".join(parts) + "\n"


def read_singing_xml(path: str | Path, beat_seconds: float | None = None) -> Melody:
    """The melody of a Festival singing XML file (either nesting, ``DURATION`` in ``PITCH`` or around it).

    Its beat lasts ``50 / BPM`` seconds (``BPM`` defaults to 120, as in ``singing-mode.scm``'s
    examples that omit it) unless ``beat_seconds`` is given. A rest before the first word becomes
    the lead-in; a word's line ends where a rest follows it and at the last word.
    """
    path = Path(path)
    try:
        root = ElementTree.parse(path).getroot()
    except (ElementTree.ParseError, OSError) as error:
        raise BadInputError(path, f"is not a readable singing XML file ({error}); give a SINGING score") from error
    if root.tag != "SINGING":
        raise BadInputError(path, f"has root <{root.tag}>, not <SINGING>; give a Festival singing score")
    bpm = float(root.get("BPM", "120"))
    melody = Melody([], beat_seconds or FESTIVAL_BEAT_NUMERATOR / bpm)
    for element in root:
        if element.tag == "REST":
            beats = float(element.get("BEATS", "0"))
            if melody.words:
                melody.words[-1].rest += beats
                melody.words[-1].line_end = True
            else:
                melody.lead_in += beats
            continue
        inner = next(iter(element), None)
        tags = {element.tag: element, **({inner.tag: inner} if inner is not None else {})}
        if set(tags) != {"DURATION", "PITCH"}:
            raise BadInputError(path, f"has a <{element.tag}> without both DURATION and PITCH; fix the element")
        text = "".join(element.itertext()).strip()
        beat_groups = [g.split("+") for g in tags["DURATION"].get("BEATS", "").split(",")]
        note_groups = [g.split("+") for g in tags["PITCH"].get("NOTE", "").split(",")]
        if [len(g) for g in beat_groups] != [len(g) for g in note_groups]:
            raise BadInputError(path, f"the word {text!r} has BEATS and NOTE of different shapes; make them match")
        syllables = [
            [SungNote(parse_festival_note(n), float(b)) for b, n in zip(bs, ns, strict=True)]
            for bs, ns in zip(beat_groups, note_groups, strict=True)
        ]
        melody.words.append(SungWord(text, syllables))
    if not melody.words:
        raise BadInputError(path, "holds no sung word; give a score with lyrics")
    melody.words[-1].line_end = True
    return melody


def fit_syllables(word: SungWord, count: int) -> SungWord:
    """``word`` with exactly ``count`` syllables (Festival's syllabification of its text), notes kept in order.

    Extra syllables of the score are slurred onto the last one Festival has; missing ones are
    made by splitting the word's longest note in two halves of the same pitch (repeatedly), then
    regrouping the notes one per syllable from the start with the remainder slurred onto the
    last. The word's total beats never change.
    """
    if count < 1:
        raise ValueError("a word has at least one syllable")
    if len(word.syllables) == count:
        return word
    if len(word.syllables) > count:
        kept = [list(s) for s in word.syllables[: count - 1]]
        kept.append([note for syllable in word.syllables[count - 1 :] for note in syllable])
        return replace(word, syllables=kept)
    notes = word.notes
    while len(notes) < count:
        longest = max(range(len(notes)), key=lambda i: (notes[i].beats, -i))
        half = SungNote(notes[longest].pitch, notes[longest].beats / 2)
        notes = [*notes[:longest], half, half, *notes[longest + 1 :]]
    syllables = [[note] for note in notes[: count - 1]] + [notes[count - 1 :]]
    return replace(word, syllables=syllables)


def transpose_for_voice(melody: Melody, highest: int = HIGHEST_SUNG_PITCH) -> Melody:
    """``melody`` moved down by whole octaves until its highest note is at most ``highest`` (a soprano's part
    sung an octave lower, as a man sings it); unchanged when it already fits. The accompaniment keeps its pitch."""
    top = max(note.pitch for word in melody.words for note in word.notes)
    shift = 12 * max(0, math.ceil((top - highest) / 12))
    if not shift:
        return melody
    words = [
        replace(w, syllables=[[SungNote(n.pitch - shift, n.beats) for n in s] for s in w.syllables])
        for w in melody.words
    ]
    return replace(melody, words=words)


def lines_of(words: list[SungWord], most: int = 12) -> list[list[int]]:
    """The word indices of each lyric line: a line ends at a word marked ``line_end``, one whose text ends
    with :data:`LINE_END_PUNCTUATION`, one followed by a rest, or after ``most`` words."""
    lines: list[list[int]] = [[]]
    for index, word in enumerate(words):
        lines[-1].append(index)
        ends = word.line_end or word.rest > 0 or word.text.rstrip()[-1:] in LINE_END_PUNCTUATION
        if (ends or len(lines[-1]) >= most) and index + 1 < len(words):
            lines.append([])
    return lines


def melody_key(melody: Melody) -> int:
    """The tonic pitch class (0 = C) of the major scale that holds the most of the melody's beats;
    ties go to the last note's pitch class, then to the lowest tonic."""
    weight = [0.0] * 12
    for word in melody.words:
        for note in word.notes:
            weight[note.pitch % 12] += note.beats
    last = melody.words[-1].notes[-1].pitch % 12
    return max(
        range(12),
        key=lambda t: (sum(weight[(t + s) % 12] for s in SCALES["major"]), t == last, -t),
    )


def harmony_progression(melody: Melody, tonic: int, bar_beats: int = 4) -> tuple[int, ...]:
    """One chord per bar of ``bar_beats`` beats from the melody's time zero, as a major-scale degree
    (0 = I, 3 = IV, 4 = V, 5 = vi): the triad whose pitch classes hold the most of that bar's sung
    beats (ties to the earlier of I, V, IV, vi; a bar with no singing keeps the previous chord).
    """
    triads = {d: {(tonic + SCALES["major"][(d + k) % 7]) % 12 for k in (0, 2, 4)} for d in (0, 4, 3, 5)}
    bars = max(1, math.ceil(melody.seconds / melody.beat_seconds / bar_beats))
    weights: list[dict[int, float]] = [{} for _ in range(bars)]
    beat = melody.lead_in
    for word in melody.words:
        for note in word.notes:
            bar = min(int(beat // bar_beats), bars - 1)
            weights[bar][note.pitch % 12] = weights[bar].get(note.pitch % 12, 0.0) + note.beats
            beat += note.beats
        beat += word.rest
    progression, previous = [], 0
    for held in weights:
        if held:
            previous = max(triads, key=lambda d: sum(held.get(pc, 0.0) for pc in triads[d]))
        progression.append(previous)
    return tuple(progression)


def melody_from_music21(score: Any, beat_seconds: float) -> Melody:
    """The sung melody of a ``music21`` score: its first part whose notes carry lyrics, one verse, once through.

    Each note takes its lowest-numbered lyric (verse 1; a note that has only a later verse's, as in a
    second ending, takes that one); syllables are joined into words by their ``syllabic``
    (``begin``/``middle``/``end``/``single``); a note without a lyric, or tied on, is slurred onto
    the syllable before it (a melisma); rests become the rest after the word before them, or the
    lead-in. Verse numbers written into the text (``"1. Was"``) are dropped. A fermata on a word's
    last note ends its line. Repeats are not taken. A beat is a quarter note lasting ``beat_seconds`` s.
    The other parts' notes (chord notes each on their own) and the score's chord symbols (sounding
    until the next one) form :attr:`Melody.accompaniment`.
    """
    parts = list(score.parts)
    sung = next((p for p in parts if any(n.lyrics for n in p.flatten().notes)), None)
    if sung is None:
        raise ValueError("no part of the score carries lyrics")
    melody = Melody([], beat_seconds)
    open_word = False
    for element in sung.flatten().notesAndRests:
        if element.isRest or element.duration.quarterLength == 0:
            if element.isRest and element.duration.quarterLength > 0:
                if melody.words:
                    melody.words[-1].rest += float(element.duration.quarterLength)
                else:
                    melody.lead_in += float(element.duration.quarterLength)
            continue
        pitch = int(round(element.pitches[-1].ps))  # the top note of a chord
        note = SungNote(pitch, float(element.duration.quarterLength))
        lyric = min(element.lyrics, key=lambda ly: ly.number or 0) if element.lyrics else None
        text = re.sub(r"^\d+\.\s*", "", lyric.text or "").strip() if lyric is not None else ""
        tied_on = element.tie is not None and element.tie.type in ("stop", "continue")
        if not text or tied_on or not any(c.isalpha() for c in text):
            if melody.words and melody.words[-1].rest == 0:
                melody.words[-1].syllables[-1].append(note)
            elif melody.words:  # a wordless note after a rest: held as silence
                melody.words[-1].rest += note.beats
            else:
                melody.lead_in += note.beats
            continue
        syllabic = lyric.syllabic or "single"
        if open_word and syllabic in ("middle", "end") and melody.words and melody.words[-1].rest == 0:
            melody.words[-1].text += text
            melody.words[-1].syllables.append([note])
        else:
            melody.words.append(SungWord(text, [[note]]))
        open_word = syllabic in ("begin", "middle")
        if any(getattr(e, "name", "") == "fermata" for e in element.expressions):
            melody.words[-1].line_end = True
    if not melody.words:
        raise ValueError("the sung part has no lyrics")
    melody.words[-1].line_end = True
    for part in parts:
        if part is sung:
            continue
        for element in part.stripTies().flatten().notes:  # a tied note sounds until its tie ends
            if element.duration.quarterLength > 0 and "ChordSymbol" not in element.classes:
                for p in element.pitches:
                    onset, length = float(element.offset), float(element.duration.quarterLength)
                    melody.accompaniment.append((onset, length, int(round(p.ps))))
    symbols = [s for s in score.flatten().getElementsByClass("ChordSymbol") if s.pitches]
    end = melody.seconds / beat_seconds
    for index, symbol in enumerate(symbols):
        onset = float(symbol.offset)
        until = float(symbols[index + 1].offset) if index + 1 < len(symbols) else end
        for p in symbol.pitches:
            melody.accompaniment.append((onset, until - onset, int(round(p.ps))))
    melody.accompaniment = [a for a in melody.accompaniment if a[1] > 0]
    melody.accompaniment.sort()
    return melody
