"""Composing one synthetic song: its sections, emotions, lyrics, melody, sung words and their times.

A song is an instrumental intro (2-3 s), then sections. Each section has one emotion, 2-3 lyric
lines whose sung span lasts 8-12 s (lines 0.3-0.8 s apart) and an instrumental break of
3.5-5 s after it, longer than the segmenter's largest gap inside a segment, so segmentation
recovers one segment per section. The emotion sets the section's music (arousal -> tempo,
drum density, loudness; valence -> major/minor, brightness) and its words.

Each word is sung on one note on a rhythmic grid (eighth or sixteenth notes of the section's
tempo); a word starts on a grid point and the next word starts at the first grid point after it
ends. All times are kept in samples at :data:`SAMPLE_RATE` Hz so that the annotations are
exactly where the words are in the audio.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

import numpy as np

from songalign.corpus.records import Line, Note, Paragraph, Song, Word
from songalign.corpus.synth import languages, lyrics
from songalign.corpus.synth.captions import N_TEMPLATES, describe_music, pick
from songalign.corpus.synth.music import (
    BASS_INSTRUMENTS,
    NOTE_NAMES,
    PENTATONIC,
    PROGRESSIONS,
    SectionMusic,
    scale_notes,
)
from songalign.corpus.synth.sing import Singing, SyllableSinger
from songalign.corpus.synth.voice import SAMPLE_RATE, VOICES, Singer, SungWord, Voice

GENRES = ("Pop", "Rock", "Folk", "Electronic")
LICENCES = ("CC BY 4.0", "CC BY-SA 4.0", "CC BY-NC-SA 4.0")

_GENRE_CHORDS = {
    "Pop": ("piano", "electric piano"),
    "Rock": ("distorted guitar", "organ"),
    "Folk": ("acoustic guitar", "piano"),
    "Electronic": ("synth pad", "electric piano"),
}
_EMOTION_CHORDS = {
    "joy": ("acoustic guitar", "organ", "synth pad"),
    "love": ("electric piano", "string pad", "piano"),
    "calm": ("string pad", "electric piano", "synth pad"),
    "sadness": ("piano", "string pad"),
    "anger": ("distorted guitar",),
    "fear": ("tremolo strings", "synth pad"),
}
_EMOTION_ONLY = ("anger", "fear")  # their own instruments whatever the genre
_GENRE_LEADS = {
    "Pop": ("synth lead", "flute"),
    "Rock": ("synth lead", "violin"),
    "Folk": ("flute", "violin", "clarinet"),
    "Electronic": ("synth lead",),
}
_GENRE_BASS = {
    "Pop": BASS_INSTRUMENTS[:2],
    "Rock": ("bass guitar",),
    "Folk": ("upright bass",),
    "Electronic": ("synth bass",),
}

# Layout, in seconds.
INTRO_MIN = (2.0, 2.15)  # the vocals enter on the first beat after a draw from this range: intro < 3 s
LINE_GAP = (0.3, 0.8)
SECTION_SPAN = (8.0, 12.0)
BREAK_MIN = (3.6, 4.1)  # the next section starts on the first beat after this: breaks of 3.6-5.0 s
TEMPO_RANGE = (72, 150)  # BPM; at 72 BPM a beat is 0.83 s, so a break never exceeds 4.1 + 0.83 s
EMOTION_CHANGE_PROBABILITY = 0.4
_SPAN_MARGIN = 0.2  # aim this far inside SECTION_SPAN
_TYPICAL_SPAN, _TYPICAL_BREAK = 10.0, 4.3  # used to decide how many sections fit the duration
_INTRO_TYPICAL = 2.3
_TYPICAL_WORD = 0.62  # seconds a sung word takes on the grid, to pick line lengths
_TYPICAL_LINE_GAP = 0.45
_TYPICAL_SUNG_WORD = 0.95  # the same for a word sung syllable by syllable, its vowels held
SUNG_MIN_WORDS, SUNG_MAX_WORDS = 3, 7  # words in a line sung syllable by syllable
_MAX_PADDING = 2.0  # at most this many seconds of rests are added to reach a section's target span


@dataclass(frozen=True)
class SongSpec:
    """What the corpus driver decides about a song before it is composed.

    ``index`` is the song's position in the corpus and, with ``seed``, seeds its random
    generator; ``emotion`` is the first section's emotion; ``duration`` the target length (s).
    """

    index: int
    seed: int
    name: str
    artist: str
    title: str
    emotion: str
    duration: float
    language: str = ""
    """An espeak-ng code: the song is sung syllable by syllable in it (:mod:`.sing`, :mod:`.languages`);
    empty for the English corpus of one note per word."""
    backing: str = "synth"
    """``synth`` (additive synthesis, :mod:`.music`) or ``soundfont`` (General MIDI instruments and effects,
    :mod:`.band`): how the backing is played; the song's composition is the same either way."""


@dataclass
class SungLine:
    """A lyric line: its words as sung (``SungWord``) and where each starts in the song (samples)."""

    text: str
    words: list[SungWord]
    starts: list[int] = field(default_factory=list)

    def notes(self) -> list[Note]:
        """The line's sung notes in order, start and end in seconds, melody pitch (MIDI), ``word`` the word's
        index in the line: one per word (a :class:`Singer`'s, the word's audible span) or one per syllable (a
        :class:`~songalign.corpus.synth.sing.SyllableSinger`'s)."""
        notes = []
        for index, (word, start) in enumerate(zip(self.words, self.starts, strict=True)):
            if word.notes:
                notes += [
                    Note((start + n.start) / SAMPLE_RATE, (start + n.end) / SAMPLE_RATE, n.midi, index, word.text)
                    for n in word.notes
                ]
            else:
                notes.append(
                    Note(start / SAMPLE_RATE, (start + len(word.samples)) / SAMPLE_RATE, word.midi, index, word.text)
                )
        return notes


@dataclass
class Section:
    """A section: its emotion and affect (valence, arousal in [-1, 1]), music, lines and caption."""

    emotion: str
    valence: float
    arousal: float
    music: SectionMusic
    lines: list[SungLine]
    caption: str


@dataclass(frozen=True)
class SongStyle:
    """What stays the same through a song: genre, licence, voice, singing ``rate`` (words per
    minute), key (``tonic`` pitch class; the mode follows each section), lead and bass
    instruments, and one chord progression per mode."""

    genre: str
    licence: str
    voice: Voice
    rate: int
    tonic: int
    lead: str
    bass: str
    progressions: dict[str, tuple[int, ...]]
    singing: Singing | None = None
    """How a syllable-by-syllable song sings (vibrato, register warp, breath); None for one note per word."""

    @classmethod
    def draw(cls, rng: np.random.Generator, language: str = "") -> SongStyle:
        """A style drawn from ``rng``; with a ``language`` (a sung song), a voice of that language
        (:func:`.languages.draw_voice`), a faster speaking rate (vowels are held afterwards) and :class:`Singing`."""
        genre = pick(rng, GENRES)
        style = cls(
            genre=genre,
            licence=pick(rng, LICENCES),
            voice=VOICES[int(rng.integers(len(VOICES)))],
            rate=int(rng.integers(120, 151)),
            tonic=int(rng.integers(12)),
            lead=pick(rng, _GENRE_LEADS[genre]),
            bass=pick(rng, _GENRE_BASS[genre]),
            progressions={mode: options[int(rng.integers(len(options)))] for mode, options in PROGRESSIONS.items()},
        )
        if not language:
            return style
        return replace(
            style,
            voice=languages.draw_voice(language, rng),
            rate=int(rng.integers(150, 181)),
            singing=Singing.draw(rng),
        )


@dataclass
class ComposedSong:
    """A song ready to be mixed: ``n_samples`` long at :data:`SAMPLE_RATE` Hz."""

    spec: SongSpec
    style: SongStyle
    sections: list[Section]
    n_samples: int

    @property
    def duration(self) -> float:
        """Length in seconds."""
        return self.n_samples / SAMPLE_RATE

    def to_song(self, audio_path: str = "") -> Song:
        """The song as a :class:`~songalign.corpus.records.Song` record (times in seconds).

        Paragraphs are the sections; notes are the sung notes (one per word, or per syllable in a sung
        song, MIDI pitch of the melody, which the lead instrument plays exactly); ``extra`` holds the
        section labels (a section's emotion is empty where its lyrics do not carry it:
        :func:`.languages.carries_emotion`). A sung song's ``extra`` also holds its ``language_code`` and
        its ``phonemes``: espeak-ng's phonemes as sung, ``{"start", "end", "ipa", "word"}`` (seconds, IPA as
        espeak writes it, the word's index in ``words``), in order.
        """
        words: list[Word] = []
        lines: list[Line] = []
        paragraphs: list[Paragraph] = []
        notes: list[Note] = []
        phonemes: list[dict] = []
        for section in self.sections:
            first_line = len(lines)
            for line in section.lines:
                for note in line.notes():
                    note.word += len(words)
                    notes.append(note)
                for word, start in zip(line.words, line.starts, strict=True):
                    phonemes += [
                        {
                            "start": (start + p.start) / SAMPLE_RATE,
                            "end": (start + p.end) / SAMPLE_RATE,
                            "ipa": p.ipa,
                            "word": len(words),
                        }
                        for p in word.phonemes
                    ]
                    words.append(
                        Word(word.text, start / SAMPLE_RATE, (start + len(word.samples)) / SAMPLE_RATE, line=len(lines))
                    )
                line_words = words[len(words) - len(line.words) :]
                lines.append(Line(line.text, line_words[0].start, line_words[-1].end, paragraph=len(paragraphs)))
            section_lines = lines[first_line:]
            text = "\n".join(line.text for line in section_lines)
            paragraphs.append(Paragraph(text, section_lines[0].start, section_lines[-1].end))
        language = self.spec.language
        labelled = not language or languages.carries_emotion(language)
        sung = {"language_code": language, "phonemes": phonemes} if language else {}
        return Song(
            id=self.spec.name,
            title=self.spec.title,
            artist=self.spec.artist,
            language=languages.language_names()[language] if language else "English",
            audio_path=audio_path,
            duration=self.duration,
            licence=self.style.licence,
            genre=self.style.genre,
            words=words,
            lines=lines,
            paragraphs=paragraphs,
            notes=notes,
            extra={
                "seed": self.spec.seed,
                "index": self.spec.index,
                "voice": self.style.voice.name,
                "key": NOTE_NAMES[self.style.tonic],
                "sections": [
                    {
                        "emotion": s.emotion if labelled else "",
                        "valence": s.valence,
                        "arousal": s.arousal,
                        "tempo_bpm": s.music.tempo_bpm,
                        "mode": s.music.mode,
                        "caption": s.caption,
                    }
                    for s in self.sections
                ],
                **sung,
            },
        )


def section_emotions(first: str, n_sections: int, rng: np.random.Generator) -> list[str]:
    """Emotions of a song's sections: all ``first``, or (with probability
    :data:`EMOTION_CHANGE_PROBABILITY`, when there are 2+ sections) at least one change."""
    emotions = [first] * n_sections
    if n_sections < 2 or rng.random() >= EMOTION_CHANGE_PROBABILITY:
        return emotions
    for i in range(1, n_sections):
        if rng.random() < 0.6:
            emotions[i] = pick(rng, tuple(e for e in lyrics.EMOTIONS if e != emotions[i - 1]))
        else:
            emotions[i] = emotions[i - 1]
    if len(set(emotions)) == 1:
        emotions[-1] = pick(rng, tuple(e for e in lyrics.EMOTIONS if e != first))
    return emotions


def _affect(emotion: str, rng: np.random.Generator) -> tuple[float, float]:
    """(valence, arousal) near the emotion's centre; the sign of valence stays the emotion's."""
    valence, arousal = lyrics.AFFECT[emotion]
    valence = float(np.clip(valence + rng.uniform(-0.12, 0.12), -1.0, 1.0))
    arousal = float(np.clip(arousal + rng.uniform(-0.12, 0.12), -1.0, 1.0))
    return round(valence, 3), round(arousal, 3)


def _melody(n_notes: int, notes: list[int], tonic: int, rng: np.random.Generator) -> list[int]:
    """A stepwise melody over ``notes`` (MIDI, ascending) that ends on the tonic or the fifth."""
    i = int(rng.integers(len(notes) // 3, 2 * len(notes) // 3 + 1))
    melody = []
    for _ in range(n_notes):
        melody.append(notes[i])
        i = int(np.clip(i + rng.choice((-2, -1, -1, 0, 1, 1, 2)), 0, len(notes) - 1))
    resting = [n for n in notes if (n - tonic) % 12 in (0, 7)]
    melody[-1] = min(resting, key=lambda n: abs(n - melody[-1]))
    return melody


class _SectionSinger:
    """Sings the lines of one section and lays them out on its rhythmic grid: a word on a note with a
    :class:`Singer`, a syllable on a note in ``language`` with a :class:`SyllableSinger`."""

    def __init__(
        self, emotion: str, singer: Singer | SyllableSinger, notes: list[int], tonic: int, grid: float, rng,
        language: str = "",
    ):  # fmt: skip
        self.emotion, self.singer, self.language = emotion, singer, language
        self.notes, self.tonic, self.grid, self.rng = notes, tonic, grid, rng
        if language:  # held syllables make longer words than spoken ones
            self.min_words, self.max_words, self.typical_word = SUNG_MIN_WORDS, SUNG_MAX_WORDS, _TYPICAL_SUNG_WORD
        else:
            self.min_words, self.max_words, self.typical_word = lyrics.MIN_WORDS, lyrics.MAX_WORDS, _TYPICAL_WORD

    def line(self, min_words: int | None = None, max_words: int | None = None) -> SungLine:
        """A new lyric line of ``min_words`` to ``max_words`` words (default: the section's limits), sung to a
        new melody."""
        min_words = self.min_words if min_words is None else min_words
        max_words = self.max_words if max_words is None else max_words
        if self.language:
            return self._sung_line(min_words, max_words)
        text = lyrics.make_line(self.emotion, self.rng, min_words, max_words)
        words = text.split()
        pitches = _melody(len(words), self.notes, self.tonic, self.rng)
        return SungLine(text, [self.singer.sing(w, p) for w, p in zip(words, pitches, strict=True)])

    def _sung_line(self, min_words: int, max_words: int) -> SungLine:
        """A line in the section's language, a syllable per note of a stepwise melody (as :func:`_melody`)
        that ends on the tonic or the fifth, its last syllable held :attr:`Singing.final_hold` steps more. A
        word espeak-ng reads as several words, or as nothing, is left out of the line."""
        rng, notes, singer = self.rng, self.notes, self.singer
        assert isinstance(singer, SyllableSinger)
        resting = [n for n in notes if (n - self.tonic) % 12 in (0, 7)]
        while True:
            words = languages.make_line(self.language, self.emotion, rng, min_words, max_words).split()
            i = int(rng.integers(len(notes) // 3, 2 * len(notes) // 3 + 1))
            kept: list[tuple[str, list[float]]] = []
            for word in words:
                try:
                    n_syllables = singer.syllables(word, float(notes[i]))
                except ValueError:
                    continue
                pitches = []
                for _ in range(n_syllables):
                    pitches.append(float(notes[i]))
                    i = int(np.clip(i + rng.choice((-2, -1, -1, 0, 1, 1, 2)), 0, len(notes) - 1))
                kept.append((word, pitches))
            if kept:
                break
        last = kept[-1][1]
        last[-1] = float(min(resting, key=lambda n: abs(n - last[-1])))
        final_hold = int(rng.integers(singer.singing.final_hold[0], singer.singing.final_hold[1] + 1))
        sung = [
            singer.sing(word, pitches, self.grid, final_hold if k == len(kept) - 1 else 0)
            for k, (word, pitches) in enumerate(kept)
        ]
        return SungLine(" ".join(word for word, _ in kept), sung)

    def layout(
        self, lines: list[SungLine], rests: dict[tuple[int, int], int], gaps: dict[int, int]
    ) -> list[list[float]]:
        """Word start times (s from the section's first word): each word on the first grid point
        after the previous word (plus ``rests[(line, word)]`` grid steps), each line on the first
        grid point :data:`LINE_GAP` [0] after the previous line (plus ``gaps[line]`` steps)."""
        starts: list[list[float]] = []
        step = 0  # position in grid steps
        for j, line in enumerate(lines):
            if j:
                previous_end = starts[-1][-1] + lines[j - 1].words[-1].duration
                step = math.ceil((previous_end + LINE_GAP[0]) / self.grid - 1e-9) + gaps.get(j, 0)
            line_starts = []
            for k, word in enumerate(line.words):
                step += rests.get((j, k), 0)
                line_starts.append(step * self.grid)
                step += math.ceil(word.duration / self.grid - 1e-9)
            starts.append(line_starts)
        return starts

    @staticmethod
    def span(lines: list[SungLine], starts: list[list[float]]) -> float:
        return starts[-1][-1] + lines[-1].words[-1].duration

    def sing(self, target: float) -> tuple[list[SungLine], list[list[float]]]:
        """Lines and their word start times (s from the first word) whose sung span is within
        :data:`SECTION_SPAN` and close to ``target`` seconds (at most :data:`_MAX_PADDING` short
        of it before rests pad it, at most 1 s over it, 2 s with three lines)."""
        rng, low, high = self.rng, SECTION_SPAN[0] + _SPAN_MARGIN, SECTION_SPAN[1] - _SPAN_MARGIN
        n_lines = 3 if rng.random() < 0.5 else 2
        words = (target - _TYPICAL_LINE_GAP * (n_lines - 1)) / (self.typical_word * n_lines)
        if n_lines == 3 and words < self.min_words and rng.random() < 0.6:  # three lines would overshoot
            n_lines, words = 2, (target - _TYPICAL_LINE_GAP) / (self.typical_word * 2)
        fewest = int(np.clip(round(words) - 1, self.min_words, self.max_words))
        most = int(np.clip(round(words) + 1, fewest, self.max_words))
        lines = [self.line(fewest, most) for _ in range(n_lines)]

        def span(candidate: list[SungLine]) -> float:
            return self.span(candidate, self.layout(candidate, {}, {}))

        floor = max(low, target - _MAX_PADDING)
        for _ in range(30):
            current = span(lines)
            sizes = [len(line.words) for line in lines]
            overshoot = 2.0 if len(lines) == 3 else 1.0  # three short lines may run a little long
            if current > min(high, target + overshoot):  # shorten: drop a third line, or rewrite the longest shorter
                if len(lines) == 3 and (span(lines[:2]) >= floor or max(sizes) == self.min_words):
                    lines.pop()
                elif max(sizes) > self.min_words:
                    j = int(np.argmax(sizes))
                    lines[j] = self.line(self.min_words, sizes[j] - 1)
                else:
                    break
            elif current < floor:  # lengthen: rewrite the shortest line longer, or add a line
                if min(sizes) < self.max_words:
                    j = int(np.argmin(sizes))
                    lines[j] = self.line(sizes[j] + 1, self.max_words)
                elif len(lines) < 3:
                    lines.append(self.line())
                else:
                    break
            else:
                break
        if not low - _MAX_PADDING <= span(lines) <= high:
            raise RuntimeError(f"could not fit a section of {self.emotion} lines in {SECTION_SPAN} s")
        # Pad up to the target with whole grid steps: longer line gaps (within LINE_GAP), then rests.
        starts = self.layout(lines, {}, {})
        n_steps = max(0, math.floor((max(target, low) - self.span(lines, starts)) / self.grid))
        gaps = {}
        for j in range(1, len(lines)):
            gap = starts[j][0] - (starts[j - 1][-1] + lines[j - 1].words[-1].duration)
            if n_steps and gap + self.grid <= LINE_GAP[1] and rng.random() < 0.5:
                gaps[j], n_steps = 1, n_steps - 1
        slots = [(j, k) for j, line in enumerate(lines) for k in range(1, len(line.words))]
        rests: dict[tuple[int, int], int] = {}
        for slot in rng.integers(len(slots), size=n_steps):
            rests[slots[slot]] = rests.get(slots[slot], 0) + 1
        return lines, self.layout(lines, rests, gaps)


def _first_beat_after(origin: float, at_least: float, beat: float) -> float:
    """The first beat (``origin + n * beat``, n >= 1) at or after ``origin + at_least`` seconds."""
    return origin + max(1, math.ceil(at_least / beat - 1e-9)) * beat


def n_sections_for(duration: float) -> int:
    """How many sections fit in a song of ``duration`` seconds (at least one)."""
    return max(1, round((duration - _INTRO_TYPICAL) / (_TYPICAL_SPAN + _TYPICAL_BREAK)))


def compose_song(spec: SongSpec) -> ComposedSong:
    """Compose ``spec``: choose everything from its seed, sing its words, lay out its sections."""
    rng = np.random.default_rng([spec.seed, spec.index])
    style = SongStyle.draw(rng, spec.language)
    emotions = section_emotions(spec.emotion, n_sections_for(spec.duration), rng)
    # A fresh espeak-ng per song: its words depend on nothing else.
    if style.singing is not None:
        with SyllableSinger(style.voice, style.rate, style.singing) as singer:
            sections = _compose_sections(spec.duration, style, emotions, singer, rng, spec.language)
    else:
        with Singer(style.voice, style.rate) as singer:
            sections = _compose_sections(spec.duration, style, emotions, singer, rng)
    return ComposedSong(spec, style, sections, round(sections[-1].music.end * SAMPLE_RATE))


def _compose_sections(
    duration: float,
    style: SongStyle,
    emotions: list[str],
    singer: Singer | SyllableSinger,
    rng: np.random.Generator,
    language: str = "",
) -> list[Section]:
    """The sections of a song of about ``duration`` seconds, one after another on the time line;
    the melody keeps to the top octave of the singer's range."""
    tonic = style.tonic
    register = (singer.pitch_table.highest - 12.5, singer.pitch_table.highest - 0.3)
    chord_instruments: dict[str, str] = {}
    caption_templates = rng.permutation(N_TEMPLATES)  # no two sections of a song phrased alike
    sections: list[Section] = []
    region_start = 0.0
    for i, emotion in enumerate(emotions):
        # Share the time left among the sections left, so that the song ends near spec.duration.
        time_left = duration - region_start - (0.0 if sections else _INTRO_TYPICAL)
        span_target = time_left / (len(emotions) - i) - _TYPICAL_BREAK
        valence, arousal = _affect(emotion, rng)
        tempo = float(np.clip(round(100 + 38 * arousal + rng.uniform(-6, 6)), *TEMPO_RANGE))
        beat = 60.0 / tempo
        mode = "major" if valence >= 0 else "minor"
        if emotion not in chord_instruments:
            options = _EMOTION_CHORDS[emotion] + (() if emotion in _EMOTION_ONLY else _GENRE_CHORDS[style.genre])
            chord_instruments[emotion] = pick(rng, options)
        grid = beat / 2 if beat / 2 <= 0.25 else beat / 4
        notes = scale_notes(tonic, mode, *register, PENTATONIC[mode])
        target = float(np.clip(span_target + rng.uniform(-0.4, 0.4), SECTION_SPAN[0] + 0.3, SECTION_SPAN[1] - 0.2))
        lines, starts = _SectionSinger(emotion, singer, notes, tonic, grid, rng, language).sing(target)
        vocal_start = region_start if sections else _first_beat_after(0.0, rng.uniform(*INTRO_MIN), beat)
        origin = round(vocal_start * SAMPLE_RATE)
        for line, line_starts in zip(lines, starts, strict=True):
            line.starts = [origin + round(t * SAMPLE_RATE) for t in line_starts]
        sung_end = (lines[-1].starts[-1] + len(lines[-1].words[-1].samples)) / SAMPLE_RATE
        region_end = _first_beat_after(region_start, sung_end - region_start + rng.uniform(*BREAK_MIN), beat)
        music = SectionMusic(
            start=region_start,
            end=region_end,
            tempo_bpm=tempo,
            tonic=tonic,
            mode=mode,
            progression=style.progressions[mode],
            brightness=float(np.clip(0.5 + 0.35 * valence + 0.15 * arousal, 0.0, 1.0)),
            drum_level=int(np.searchsorted((-0.35, 0.15, 0.6), arousal, side="right")),
            chords=chord_instruments[emotion],
            bass=style.bass,
            lead=style.lead,
        )
        caption = describe_music(music, style.voice, style.genre, arousal, rng, int(caption_templates[i]))
        sections.append(Section(emotion, valence, arousal, music, lines, caption))
        region_start = region_end
    return sections
