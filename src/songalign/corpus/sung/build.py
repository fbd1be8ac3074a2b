"""``songalign corpus sung-scores``: the public-domain songs of :data:`CATALOGUE`, sung by Festival, in the
JamendoLyrics layout.

Per song (``<name>`` its file stem), under the output folder, the files of the synthetic corpus
(:mod:`songalign.corpus.synth.render`, whose writers are used): ``mp3/<name>.mp3`` (the mix, mono,
22050 Hz), ``stems/<name>.vocals.flac`` (Festival's voice exactly as in the mix), ``lyrics/``,
``annotations/words`` and ``annotations/lines`` (Festival's own word times), and
``metadata/notes/<name>.csv`` (the score's sung notes at the score's times, one row per note, with
its word). ``metadata/sung/<name>.json`` holds the song's ``JamendoLyrics.csv`` row and is written
last, so a song with it is complete and kept on the next run; ``JamendoLyrics.csv`` and
``metadata/sung_scores.json`` (the catalogue, mix levels, Festival's voice) are rewritten from those
at the end of every run.

The backing is the score's other parts (and chord symbols) played by one instrument of the synthetic
corpus (:func:`~songalign.corpus.synth.music.render_lead`); a score with none (Festival's examples, a
lead sheet without chords) gets chords and a bass on the melody's own harmony
(:func:`~songalign.corpus.sung.scores.harmony_progression` through
:func:`~songalign.corpus.synth.music.render_backing`). The vocals sit at
:data:`~songalign.corpus.synth.render.VOCAL_RMS_DB` while sung, the backing :data:`BACKING_RE_VOCALS_DB`
below them.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import soundfile as sf

from songalign.corpus.readers.jamendo import INDEX_FILE, JAMENDO_COLUMNS, NOTES_FOLDER, STEMS_FOLDER
from songalign.corpus.records import Line, Note, Paragraph, Song, Word
from songalign.corpus.sung import festival, scores
from songalign.corpus.synth import music, render
from songalign.errors import MissingDependencyError, SkipReport, SongalignError

SAMPLE_RATE = render.SAMPLE_RATE
"""The corpus's sample rate in Hz (the synthetic corpus's; Festival sings at 16 kHz and is resampled)."""
BACKING_RE_VOCALS_DB = -6.0
"""The backing's RMS over the melody's span, in dB relative to the vocals' RMS while sung."""
TAIL_SECONDS = 1.0
"""Silence after the last sound, in seconds."""
MARKER = Path("metadata") / "sung_scores.json"
SONG_ROWS = Path("metadata") / "sung"
VERSION = "1"
"""Bumped whenever the same catalogue would give different files."""
FESTIVAL_EXAMPLES = Path("/usr/share/doc/festival/examples/songs")


@dataclass(frozen=True)
class SongSource:
    """One song of the set: ``source`` is ``"festival"`` (``paths`` are Festival's example XML files,
    sung one after another as one song) or ``"music21"`` (``paths`` holds one path in music21's corpus).

    ``beat_seconds`` is the length of a beat (Festival's) or a quarter note (music21) in seconds;
    ``backing`` names the :data:`~songalign.corpus.synth.music.TIMBRES` instrument that plays the score's
    other parts. ``rights`` says why the song may be used.
    """

    name: str
    title: str
    artist: str
    language: str
    source: str
    paths: tuple[str, ...]
    beat_seconds: float
    backing: str
    rights: str


_PD = "public domain (published before 1929)"
CATALOGUE: tuple[SongSource, ...] = (
    SongSource("Harry_Dacre_-_Daisy_Bell", "Daisy Bell", "Harry Dacre", "english", "festival",
               ("daisy.xml",), 0.625, "piano", f"{_PD}; Festival's example score"),
    SongSource("Traditional_-_Loch_Lomond", "Loch Lomond", "Traditional", "english", "festival",
               ("lochlomond.xml",), 0.0, "piano", "traditional, public domain; Festival's example score"),
    SongSource("Samuel_Ward_-_America_the_Beautiful", "America the Beautiful", "Samuel A. Ward, Katharine Lee Bates",
               "english", "festival", ("america1.xml", "america2.xml", "america3.xml", "america4.xml"), 0.0,
               "organ", f"{_PD}; Festival's example score"),
    SongSource("Stephen_Foster_-_Jeanie_with_the_Light_Brown_Hair", "Jeanie with the Light Brown Hair",
               "Stephen Foster", "english", "music21", ("leadSheet/fosterBrownHair.mxl",), 0.6, "piano", _PD),
    SongSource("J_Rosamond_Johnson_-_Lift_Every_Voice_and_Sing", "Lift Every Voice and Sing",
               "J. Rosamond Johnson, James Weldon Johnson", "english", "music21",
               ("johnson_j_r/lift_every_voice.mxl",), 0.6, "string pad", _PD),
    SongSource("Amy_Beach_-_A_Prayer_of_a_Tired_Child", "A Prayer of a Tired Child", "Amy Beach", "english",
               "music21", ("beach/prayer_of_a_tired_child.musicxml",), 0.65, "piano", _PD),
    SongSource("Franz_Schubert_-_Der_Lindenbaum", "Der Lindenbaum", "Franz Schubert, Wilhelm Müller", "german",
               "music21", ("schubert/Lindenbaum.xml",), 0.55, "piano", _PD),
    *(
        SongSource(f"Johann_Sebastian_Bach_-_BWV_{bwv}", f"Chorale BWV {bwv}", "Johann Sebastian Bach", "german",
                   "music21", (f"bach/bwv{bwv}.mxl",), 0.75, "organ", _PD)
        for bwv in ("10.7", "101.7", "108.6", "11.6", "110.7", "13.6")
    ),
)  # fmt: skip
"""The songs, in corpus order. Left out: Festival's ``doremi.xml`` (a scale from a copyrighted musical) and
``spice*.xml`` (a copyrighted pop song). ``beat_seconds`` 0 keeps the score's own tempo."""


@dataclass
class SungSummary:
    """What :func:`make_sung_scores` did: ``made`` and ``kept`` song names, ``report`` (skipped songs),
    ``minutes`` of audio in the corpus by language, and ``elapsed`` wall seconds."""

    out_dir: Path
    made: list[str]
    kept: list[str]
    report: SkipReport
    minutes: dict[str, float] = field(default_factory=dict)
    elapsed: float = 0.0


def load_melody(source: SongSource, festival_examples: Path = FESTIVAL_EXAMPLES) -> scores.Melody:
    """The melody of ``source``: Festival's example XML files joined (a rest of one beat between them), or
    the music21 score's (``music21`` imported here; a missing package is one sentence)."""
    if source.source == "festival":
        melodies = [scores.read_singing_xml(festival_examples / p) for p in source.paths]
        beat = source.beat_seconds or melodies[0].beat_seconds
        joined = scores.Melody([], beat, melodies[0].lead_in)
        for melody in melodies:
            if joined.words:
                joined.words[-1].rest += 1.0 + melody.lead_in
                joined.words[-1].line_end = True
            joined.words.extend(melody.words)
        return joined
    try:
        from music21 import corpus as music21_corpus
    except ImportError as error:
        raise MissingDependencyError("music21", "Singing the music21 scores", extra="sung") from error
    try:
        score = music21_corpus.parse(source.paths[0])
    except Exception as error:  # music21 raises its own exception classes for a score it cannot read
        raise SongalignError(f"music21 could not read {source.paths[0]} ({error})") from error
    return scores.melody_from_music21(score, source.beat_seconds)


def fit_to_festival(melody: scores.Melody) -> scores.Melody:
    """``melody`` with each word's syllables fitted to Festival's count for it (:func:`scores.fit_syllables`)."""
    counts = festival.syllable_counts([scores.festival_text(w.text) for w in melody.words])
    words = [scores.fit_syllables(w, max(1, c)) for w, c in zip(melody.words, counts, strict=True)]
    return scores.Melody(words, melody.beat_seconds, melody.lead_in, melody.accompaniment)


def _drop_unsingable(melody: scores.Melody) -> scores.Melody:
    """Words without a letter Festival can read (``"—"``) become rests of their length."""
    words: list[scores.SungWord] = []
    lead_in = melody.lead_in
    for word in melody.words:
        if scores.festival_text(word.text):
            words.append(word)
        elif words:
            words[-1].rest += word.beats + word.rest
            words[-1].line_end = words[-1].line_end or word.line_end
        else:
            lead_in += word.beats + word.rest
    return scores.Melody(words, melody.beat_seconds, lead_in, melody.accompaniment)


def backing_audio(melody: scores.Melody, instrument: str, n_samples: int) -> np.ndarray:
    """The backing, float32 of shape ``(n_samples,)`` at :data:`SAMPLE_RATE` Hz, peak not set (the mix sets it)."""
    beat = melody.beat_seconds
    if melody.accompaniment:
        notes = [Note(onset * beat, (onset + length) * beat, pitch) for onset, length, pitch in melody.accompaniment]
        return music.render_lead(notes, instrument, 0.5, n_samples, SAMPLE_RATE)
    tonic = scores.melody_key(melody)
    section = music.SectionMusic(
        start=0.0,
        end=melody.seconds,
        tempo_bpm=60.0 / beat,
        tonic=tonic,
        mode="major",
        progression=scores.harmony_progression(melody, tonic, music.BEATS_PER_BAR),
        brightness=0.5,
        drum_level=0,
        chords=instrument,
        bass="upright bass",
        lead="flute",
    )
    return music.render_backing(section, n_samples, SAMPLE_RATE, np.random.default_rng(0))


@dataclass
class SungSong:
    """One song sung and mixed: ``mix`` and ``vocals`` float32 of shape ``(n,)`` at :data:`SAMPLE_RATE` Hz
    (the vocals exactly as in the mix), and its record (words and lines at Festival's times, the score's notes)."""

    mix: np.ndarray
    vocals: np.ndarray
    record: Song


def sing_song(source: SongSource, melody: scores.Melody) -> SungSong:
    """Sing ``melody`` with Festival, add its backing and mix (see the module docstring)."""
    melody = fit_to_festival(scores.transpose_for_voice(_drop_unsingable(melody)))
    sung = festival.sing(scores.singing_xml(melody), SAMPLE_RATE)
    if len(sung.words) != len(melody.words):
        raise festival.FestivalError(f"Festival sang {len(sung.words)} words of the score's {len(melody.words)}")
    accompaniment_end = max((o + d for o, d, _ in melody.accompaniment), default=0.0) * melody.beat_seconds
    n = int(round((max(sung.seconds, melody.seconds, accompaniment_end) + TAIL_SECONDS) * SAMPLE_RATE))
    vocals = np.zeros(n, np.float32)
    vocals[: len(sung.audio)] = sung.audio[:n]
    sung_mask = np.zeros(n, bool)
    for _, start, end in sung.words:
        sung_mask[round(start * SAMPLE_RATE) : round(end * SAMPLE_RATE)] = True
    vocals *= np.float32(render.db_gain(render.VOCAL_RMS_DB) / render.rms(vocals[sung_mask]))
    backing = backing_audio(melody, source.backing, n)
    span = backing[: int(round(max(melody.seconds, accompaniment_end) * SAMPLE_RATE))]
    if render.rms(span) > 0:
        backing *= np.float32(render.db_gain(render.VOCAL_RMS_DB + BACKING_RE_VOCALS_DB) / render.rms(span))
    mix = vocals + backing
    scale = np.float32(min(1.0, render.PEAK / float(np.abs(mix).max())))
    return SungSong(mix * scale, vocals * scale, _record(source, melody, sung, n / SAMPLE_RATE))


def _record(source: SongSource, melody: scores.Melody, sung: festival.SungAudio, duration: float) -> Song:
    """The song's record: words at Festival's times with the score's texts, lines and one paragraph per
    blank-line group (lines split by :func:`scores.lines_of`), notes at the score's times."""
    words: list[Word] = []
    lines: list[Line] = []
    for line_index, members in enumerate(scores.lines_of(melody.words)):
        for i in members:
            words.append(Word(melody.words[i].text, sung.words[i][1], sung.words[i][2], line_index))
        text = " ".join(melody.words[i].text for i in members)
        lines.append(Line(text, sung.words[members[0]][1], sung.words[members[-1]][2], 0))
    notes, beat = [], melody.lead_in
    for index, word in enumerate(melody.words):
        for note in word.notes:
            start = beat * melody.beat_seconds
            notes.append(Note(start, start + note.beats * melody.beat_seconds, note.pitch, index, word.text))
            beat += note.beats
        beat += word.rest
    paragraph = Paragraph("\n".join(line.text for line in lines), lines[0].start, lines[-1].end)
    return Song(
        id=source.name,
        title=source.title,
        artist=source.artist,
        language=source.language,
        duration=duration,
        licence=source.rights,
        genre="sung score",
        words=words,
        lines=lines,
        paragraphs=[paragraph],
        notes=notes,
    )


def _jamendo_row(source: SongSource) -> dict[str, str]:
    return {
        "URL": "",
        "Filepath": f"{source.name}.mp3",
        "Artist": source.artist,
        "Title": source.title,
        "Genre": "sung score",
        "LicenseType": source.rights,
        "Language": source.language,
        "LyricOverlap": "False",
        "Polyphonic": "False",
        "NonLexical": "False",
    }


def _prepare(out_dir: Path, catalogue: Sequence[SongSource]) -> None:
    """Create the layout and its marker first (so that an interrupted run resumes); refuse a non-empty folder that holds no sung-scores set (nothing of the user's is
    overwritten)."""
    if out_dir.exists() and not out_dir.is_dir():
        raise SongalignError(f"{out_dir} is a file; give a folder for the sung test set")
    if out_dir.is_dir() and any(out_dir.iterdir()) and not (out_dir / MARKER).is_file():
        raise SongalignError(f"{out_dir} is not empty and holds no sung test set; give an empty or new folder")
    for folder in ("mp3", "lyrics", "annotations/words", "annotations/lines", str(NOTES_FOLDER), str(STEMS_FOLDER),
                   str(SONG_ROWS)):  # fmt: skip
        (out_dir / folder).mkdir(parents=True, exist_ok=True)
    _write_marker(out_dir / MARKER, catalogue)


def write_sung_song(source: SongSource, song: SungSong, out_dir: Path) -> None:
    """Write one song's files (the module docstring), its ``metadata/sung/<name>.json`` last."""
    sf.write(out_dir / "mp3" / f"{source.name}.mp3", song.mix, SAMPLE_RATE, format="MP3")
    stem = render.vocal_stem_path(out_dir, source.name)
    sf.write(stem, song.vocals, SAMPLE_RATE, format="FLAC", subtype="PCM_16")
    render.write_annotations(song.record, out_dir)
    row = {"jamendo": _jamendo_row(source), "duration": song.record.duration, "words": len(song.record.words)}
    (out_dir / SONG_ROWS / f"{source.name}.json").write_text(json.dumps(row, indent=1) + "\n", encoding="utf-8")


def make_sung_scores(
    out_dir: Path,
    force: bool = False,
    songs: Sequence[str] | None = None,
    catalogue: Sequence[SongSource] = CATALOGUE,
    festival_examples: Path = FESTIVAL_EXAMPLES,
    progress: Callable[[str], None] | None = None,
) -> SungSummary:
    """Sing the songs of ``catalogue`` (only those named in ``songs``, by file stem, when given) into ``out_dir``.

    A song already there (its ``metadata/sung/<name>.json``) is kept unless ``force``; a song Festival
    fails on, or whose score cannot be read, is skipped into the summary's report and the batch goes
    on. ``JamendoLyrics.csv`` then lists every complete song in catalogue order. Deterministic: the
    same catalogue and Festival give the same files. ``progress`` is called with each song's name as it
    starts. Raises :class:`SongalignError` where Festival is missing (one sentence: what to install).
    """
    started = time.perf_counter()
    festival.require_festival()
    out_dir = Path(out_dir)
    known = {s.name for s in catalogue}
    unknown = sorted(set(songs or ()) - known)
    if unknown:
        raise SongalignError(f"no song named {', '.join(unknown)}; the songs are: {', '.join(sorted(known))}")
    _prepare(out_dir, catalogue)
    summary = SungSummary(out_dir, [], [], SkipReport())
    for source in catalogue:
        if songs and source.name not in songs:
            continue
        row = out_dir / SONG_ROWS / f"{source.name}.json"
        if row.is_file() and not force:
            summary.kept.append(source.name)
            summary.report.kept += 1
            continue
        if progress is not None:
            progress(source.name)
        row.unlink(missing_ok=True)  # made again: the song is incomplete until its row is written back
        try:
            song = sing_song(source, load_melody(source, festival_examples))
        except (SongalignError, ValueError, OSError) as error:
            where = festival_examples / source.paths[0] if source.source == "festival" else source.paths[0]
            summary.report.skip(where, f"{error}; the song is left out", item=source.name)
            continue
        write_sung_song(source, song, out_dir)
        summary.made.append(source.name)
        summary.report.kept += 1
    rows = []
    for source in catalogue:
        path = out_dir / SONG_ROWS / f"{source.name}.json"
        if path.is_file():
            row = json.loads(path.read_text(encoding="utf-8"))
            rows.append(row["jamendo"])
            language = row["jamendo"]["Language"]
            summary.minutes[language] = summary.minutes.get(language, 0.0) + row["duration"] / 60.0
    render.write_table(out_dir / INDEX_FILE, JAMENDO_COLUMNS, rows)
    summary.elapsed = time.perf_counter() - started
    return summary


def _write_marker(path: Path, catalogue: Sequence[SongSource]) -> None:
    manifest = {
        "generator": "songalign.corpus.sung",
        "version": VERSION,
        "singer": f"Festival singing mode, {festival.VOICE}",
        "sample_rate": SAMPLE_RATE,
        "audio_format": "MP3 (mono); stems/<name>.vocals.flac (FLAC, mono, 16-bit)",
        "mix_db": {"vocal_rms": render.VOCAL_RMS_DB, "backing_re_vocals": BACKING_RE_VOCALS_DB},
        "songs": [asdict(s) for s in catalogue],
    }
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
