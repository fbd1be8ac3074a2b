"""Mixing a composed song and writing it in the JamendoLyrics MultiLang layout.

Per song, under the corpus folder (``<name>`` is the song's file stem):

- ``mp3/<name>.mp3``: mono MP3 at 22050 Hz (soundfile/libsndfile with LAME; decoding with
  soundfile gives back exactly the same number of samples, with no offset);
- ``lyrics/<name>.txt``: one lyric line per line, a blank line between sections;
- ``lyrics/<name>.words.txt``: one word per line;
- ``annotations/words/<name>.csv``: ``word_start,word_end,line_end`` in seconds, ``line_end``
  is ``nan`` except on a line's last word, where it equals that word's end;
- ``annotations/lines/<name>.csv``: ``start_time,end_time,lyrics_line``;
- ``metadata/notes/<name>.csv``: ``start,end,pitch,word_index,word``, the sung notes (one per
  word, or per syllable in a sung song; pitch as a MIDI number; the lead instrument plays exactly these);
- ``annotations/phonemes/<name>.csv`` (sung songs, ``corpus synth --languages``): ``start,end,phoneme,word_index``,
  each phoneme espeak-ng sang, in order: start and end in seconds, ``phoneme`` espeak's IPA for it with stress
  and length marks as espeak writes them (``ˈa``, ``iː``; one event may be several symbols, e.g. ``ts``, ``aɪ``),
  ``word_index`` the word's index in the song (0-based, as in ``lyrics/<name>.words.txt``). Phonemes cover
  their word from its start to its end; spans between words are silence.
- ``stems/<name>.vocals.flac`` (only when stems are asked for): the vocals exactly as they are in
  the mix (same peak-limit factor), mono 16-bit FLAC at 22050 Hz, as many samples as the mix and
  no offset. FLAC rather than MP3 because it is lossless and has no encoder delay, so the stem is
  the mix's vocals to 16-bit precision (an oracle separation); the vocals peak far below full scale.

The corpus-wide tables (``JamendoLyrics.csv``, ``metadata/segments.csv``, ``metadata/songs.csv``)
are written from the rows :func:`write_song` returns. Times are written with 4 decimals (0.1 ms).
"""

from __future__ import annotations

import csv
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import soundfile as sf

from songalign.corpus.lyrics_files import (
    write_jamendo_lines_csv,
    write_jamendo_words_csv,
    write_plain_lyrics,
    write_words_txt,
)
from songalign.corpus.readers.jamendo import (
    LANGUAGE_CODE_COLUMN,
    NOTE_COLUMNS,
    NOTES_FOLDER,
    PHONEME_COLUMNS,
    PHONEMES_FOLDER,
    STEMS_FOLDER,
    VOCALS_MARK,
)
from songalign.corpus.records import Song
from songalign.corpus.synth.music import render_backing, render_lead
from songalign.corpus.synth.song import ComposedSong
from songalign.corpus.synth.voice import SAMPLE_RATE

VOCALS_SUFFIX = f"{VOCALS_MARK}flac"
"""A vocal stem's file name is the song's file stem plus this."""
SEGMENT_COLUMNS = ("Filepath", "section", "start", "end", "emotion", "valence", "arousal", "caption", "lyrics")
SONG_COLUMNS = ("Filepath", "seed", "index", "duration", "genre", "voice", "voice_gender", "voice_accent",
                "rate_wpm", "key", "modes", "tempi_bpm", "emotions", "instruments")  # fmt: skip
BAND_COLUMNS = ("backing", "vocal_db", "mix")
"""The columns ``metadata/songs.csv`` has after :data:`SONG_COLUMNS` in a corpus with the band backing:
``backing`` (``soundfont``), ``vocal_db`` (the vocals re the backing, dB) and ``mix`` (the song's
:class:`~.band.BandMix` as JSON)."""

# Mix levels, in dB.
VOCAL_RMS_DB = -22.0  # the vocals while sung, re full scale
BACKING_DB = (-8.0, 4.0)  # backing re vocals: -8 dB + 4 dB per unit of arousal
LEAD_DB = -12.0  # the lead instrument re vocals
SECTION_GAIN_DB = 3.0  # whole-mix gain per unit of arousal
PEAK = 0.9  # a louder mix is scaled down to this peak
_RAMP = int(0.05 * SAMPLE_RATE)  # gain changes between sections take 50 ms
_FADE_OUT = int(1.0 * SAMPLE_RATE)


def db_gain(value: float) -> float:
    """The amplitude factor of ``value`` dB."""
    return 10.0 ** (value / 20.0)


def rms(x: np.ndarray) -> float:
    """Root mean square of ``x`` (0 for an empty array)."""
    return float(np.sqrt(np.mean(np.square(x, dtype=np.float64)))) if len(x) else 0.0


def _spans(notes, n_samples: int) -> np.ndarray:
    """Boolean mask, shape ``(n_samples,)``: True inside any of ``notes`` (times in seconds)."""
    mask = np.zeros(n_samples, bool)
    for note in notes:
        mask[round(note.start * SAMPLE_RATE) : round(note.end * SAMPLE_RATE)] = True
    return mask


def stems(song: ComposedSong) -> dict[str, np.ndarray]:
    """The song's ``vocals`` and ``accompaniment`` (backing and lead), as mixed, before the peak limit.

    Each is float32, shape ``(song.n_samples,)``, at :data:`SAMPLE_RATE` Hz. Vocals are placed
    sample-exactly at their annotated starts and scaled to :data:`VOCAL_RMS_DB` while sung. Each
    section's backing is scaled to :data:`BACKING_DB` relative to the vocals (closer when
    aroused) and its lead to :data:`LEAD_DB`; the whole section gets :data:`SECTION_GAIN_DB` per
    unit of arousal, ramped over 50 ms at section boundaries (which lie in instrumental breaks).

    With the band backing (``song.spec.backing == "soundfont"``, :mod:`.band`) the backing and lead are played
    on General MIDI instruments, the accompaniment goes through the song's EQ, compressor and reverb and the
    vocals through a light reverb (before they are scaled), and the accompaniment is then scaled so that the
    vocals' RMS over the sung notes is the song's :attr:`~.band.BandMix.vocal_db` above its RMS there.
    """
    n = song.n_samples
    band = song.spec.backing == "soundfont"
    if band:
        from songalign.corpus.synth.band import BandMix, render_band_backing, render_band_lead
        from songalign.corpus.synth.soundfont import general_midi

        font, settings = general_midi(), BandMix.draw(song.spec.seed, song.spec.index)
    rng = np.random.default_rng([song.spec.seed, song.spec.index, 2])  # drum noise
    vocals = np.zeros(n, np.float32)
    for section in song.sections:
        for line in section.lines:
            for word, start in zip(line.words, line.starts, strict=True):
                vocals[start : start + len(word.samples)] += word.samples
    all_notes = [note for section in song.sections for line in section.lines for note in line.notes()]
    sung = _spans(all_notes, n)
    if band:
        vocals = settings.treat_vocals(vocals, SAMPLE_RATE)
    vocals *= db_gain(VOCAL_RMS_DB) / rms(vocals[sung])

    accompaniment = np.zeros(n, np.float32)
    gain = np.ones(n, np.float32)
    previous_gain = None
    for section in song.sections:
        music = section.music
        first, last = round(music.start * SAMPLE_RATE), round(music.end * SAMPLE_RATE)
        if band:
            backing = render_band_backing(music, n, SAMPLE_RATE, font)
        else:
            backing = render_backing(music, n, SAMPLE_RATE, rng)
        backing *= db_gain(VOCAL_RMS_DB + BACKING_DB[0] + BACKING_DB[1] * section.arousal) / rms(backing[first:last])
        notes = [note for line in section.lines for note in line.notes()]
        if band:
            lead = render_band_lead(notes, music.lead, n, SAMPLE_RATE, font)
        else:
            lead = render_lead(notes, music.lead, music.brightness, n, SAMPLE_RATE)
        lead *= db_gain(VOCAL_RMS_DB + LEAD_DB) / rms(lead[_spans(notes, n)])
        accompaniment += backing + lead
        section_gain = db_gain(SECTION_GAIN_DB * section.arousal)
        gain[first:last] = section_gain
        if previous_gain is not None:
            gain[first - _RAMP // 2 : first + _RAMP // 2] = np.linspace(previous_gain, section_gain, 2 * (_RAMP // 2))
        previous_gain = section_gain
    if band:
        accompaniment = settings.treat_backing(accompaniment, SAMPLE_RATE)
        accompaniment *= db_gain(VOCAL_RMS_DB - settings.vocal_db) / rms(accompaniment[sung])
    accompaniment[n - _FADE_OUT :] *= np.linspace(1.0, 0.0, _FADE_OUT, dtype=np.float32)
    return {"vocals": vocals * gain, "accompaniment": accompaniment * gain}


def mixed_stems(song: ComposedSong) -> dict[str, np.ndarray]:
    """The song's ``mix`` (the sum of its :func:`stems`, scaled down if needed to peak at
    :data:`PEAK`) and its ``vocals`` and ``accompaniment`` scaled by the same factor, so that each
    stem is exactly what the mix holds of it.

    Each is float32, shape ``(song.n_samples,)``, at :data:`SAMPLE_RATE` Hz.
    """
    parts = stems(song)
    audio = parts["vocals"] + parts["accompaniment"]
    peak = float(np.abs(audio).max())
    if peak <= PEAK:
        return {"mix": audio, **parts}
    scale = np.float32(PEAK / peak)
    return {"mix": audio * scale, "vocals": parts["vocals"] * scale, "accompaniment": parts["accompaniment"] * scale}


def mix(song: ComposedSong) -> np.ndarray:
    """The song's audio: the sum of its :func:`stems`, scaled down if needed to peak at :data:`PEAK`.

    Float32, shape ``(song.n_samples,)``, at :data:`SAMPLE_RATE` Hz.
    """
    return mixed_stems(song)["mix"]


def _seconds(value: float) -> str:
    return f"{value:.4f}"


def _write_csv(path: Path, header: tuple[str, ...], rows: list) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle)
        writer.writerow(header)
        writer.writerows(rows)


def write_table(path: Path, columns: tuple[str, ...], rows: list[dict]) -> None:
    """Write dict ``rows`` as a CSV with ``columns`` in that order."""
    _write_csv(path, columns, [[row[c] for c in columns] for row in rows])


def write_annotations(record: Song, out_dir: Path) -> None:
    """The lyrics, word, line and note files of ``record`` (see the module docstring)."""
    name = record.id
    paragraphs = [[line.text for line in record.lines if line.paragraph == p] for p in range(len(record.paragraphs))]
    write_plain_lyrics(out_dir / "lyrics" / f"{name}.txt", paragraphs)
    write_words_txt(out_dir / "lyrics" / f"{name}.words.txt", [word.text for word in record.words])
    write_jamendo_words_csv(out_dir / "annotations" / "words" / f"{name}.csv", record.words)
    write_jamendo_lines_csv(out_dir / "annotations" / "lines" / f"{name}.csv", record.lines)
    note_rows = [[_seconds(n.start), _seconds(n.end), f"{n.pitch:g}", n.word, n.text] for n in record.notes]
    _write_csv(out_dir / NOTES_FOLDER / f"{name}.csv", NOTE_COLUMNS, note_rows)
    if "phonemes" in record.extra:
        phoneme_rows = [
            [_seconds(p["start"]), _seconds(p["end"]), p["ipa"], p["word"]] for p in record.extra["phonemes"]
        ]
        (out_dir / PHONEMES_FOLDER).mkdir(parents=True, exist_ok=True)
        _write_csv(out_dir / PHONEMES_FOLDER / f"{name}.csv", PHONEME_COLUMNS, phoneme_rows)


@dataclass
class SongRows:
    """What one song contributes to the corpus-wide tables, and its record."""

    record: Song
    jamendo: dict
    segments: list[dict]
    song: dict


def vocal_stem_path(out_dir: Path, name: str) -> Path:
    """Where the vocal stem of the song ``name`` (its file stem) lives in the corpus ``out_dir``."""
    return out_dir / STEMS_FOLDER / f"{name}{VOCALS_SUFFIX}"


def write_song(song: ComposedSong, out_dir: Path, vocal_stem: bool = False) -> SongRows:
    """Mix ``song``, write its MP3 and annotation files under ``out_dir``, and return its table rows.

    With ``vocal_stem``, its vocals (scaled as in the mix) go to :func:`vocal_stem_path` too, and
    the record's ``extra["vocals_path"]`` is that file's absolute path.
    """
    filepath = f"{song.spec.name}.mp3"
    mp3 = out_dir / "mp3" / filepath
    audio = mixed_stems(song)
    sf.write(mp3, audio["mix"], SAMPLE_RATE, format="MP3")
    record = song.to_song(str(mp3.resolve()))
    if vocal_stem:
        stem = vocal_stem_path(out_dir, song.spec.name)
        sf.write(stem, audio["vocals"], SAMPLE_RATE, format="FLAC", subtype="PCM_16")
        record.extra["vocals_path"] = str(stem.resolve())
    write_annotations(record, out_dir)
    jamendo = {
        "URL": "",
        "Filepath": filepath,
        "Artist": record.artist,
        "Title": record.title,
        "Genre": record.genre,
        "LicenseType": record.licence,
        "Language": record.language,
        "LyricOverlap": "False",
        "Polyphonic": "False",
        "NonLexical": "False",
        **({LANGUAGE_CODE_COLUMN: song.spec.language} if song.spec.language else {}),
    }
    labels = [s["emotion"] for s in record.extra["sections"]]
    segments = [
        {
            "Filepath": filepath,
            "section": i,
            "start": _seconds(paragraph.start),
            "end": _seconds(paragraph.end),
            "emotion": label,
            "valence": section.valence,
            "arousal": section.arousal,
            "caption": section.caption,
            "lyrics": " / ".join(line.text for line in section.lines),
        }
        for i, (section, paragraph, label) in enumerate(zip(song.sections, record.paragraphs, labels, strict=True))
    ]
    musics = [section.music for section in song.sections]
    instruments = dict.fromkeys(name for m in musics for name in (m.chords, m.bass, m.lead))
    row = {
        "Filepath": filepath,
        "seed": song.spec.seed,
        "index": song.spec.index,
        "duration": _seconds(song.duration),
        "genre": song.style.genre,
        "voice": song.style.voice.name,
        "voice_gender": song.style.voice.gender,
        "voice_accent": song.style.voice.accent,
        "rate_wpm": song.style.rate,
        "key": record.extra["key"],
        "modes": ";".join(m.mode for m in musics),
        "tempi_bpm": ";".join(f"{m.tempo_bpm:g}" for m in musics),
        "emotions": ";".join(labels),
        "instruments": ";".join(instruments),
    }
    if song.spec.backing == "soundfont":
        from songalign.corpus.synth.band import BandMix

        settings = BandMix.draw(song.spec.seed, song.spec.index)
        row.update(backing=song.spec.backing, vocal_db=f"{settings.vocal_db:g}", mix=settings.to_text())
        record.extra["backing"] = {"kind": song.spec.backing, **asdict(settings)}
    return SongRows(record, jamendo, segments, row)
