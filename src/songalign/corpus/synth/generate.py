"""The corpus driver: plan the songs from a seed, make them in parallel processes, write the tables.

Each song is composed, mixed and written by one worker process, with its own freshly loaded
espeak-ng (a C singleton, see :mod:`.voice`) and a random generator seeded by ``(seed, index)``
alone, so the corpus does not depend on the number of workers or the order songs finish in.
"""

from __future__ import annotations

import json
import multiprocessing
import os
import shutil
import sys
import time
from collections import Counter
from collections.abc import Callable, Sequence
from concurrent.futures import ProcessPoolExecutor, as_completed
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from songalign.corpus.readers.jamendo import INTERPRETATION_FILE, JAMENDO_COLUMNS, LANGUAGE_CODE_COLUMN
from songalign.corpus.records import Song
from songalign.corpus.synth import band, interpretations, lyrics, music, render, sing, song, soundfont, voice
from songalign.corpus.synth import languages as sung_languages
from songalign.errors import SongalignError

GENERATOR_VERSION = "1.1"
"""Bumped whenever the same seed would give a different corpus."""

MIN_DURATION = 15.0
"""Shortest song, in seconds: an intro, one section and its break."""

LAYOUT = ("mp3", "lyrics", "annotations/words", "annotations/lines", "metadata/notes")
"""The folders of a corpus (besides ``JamendoLyrics.csv`` and the tables in ``metadata/``)."""


@dataclass
class SynthSummary:
    """What :func:`synthesize_corpus` wrote.

    ``duration`` is the total audio in seconds, ``elapsed`` the wall time in seconds;
    ``emotions`` counts sections per emotion; ``songs`` are the songs' records (times in
    seconds, ``audio_path`` absolute), in corpus order.
    """

    out_dir: Path
    seed: int
    n_songs: int
    n_sections: int
    duration: float
    elapsed: float
    emotions: dict[str, int]
    songs: list[Song] = field(repr=False)


def plan_corpus(
    n_songs: int, seed: int, duration: float, languages: Sequence[str] | None = None, backing: str = "synth"
) -> list[song.SongSpec]:
    """The songs' specs: unique names, and first emotions balanced over :data:`lyrics.EMOTIONS`
    (each emotion once in every block of six songs). With ``languages`` (espeak-ng codes, checked), song
    ``i`` is sung in ``languages[i % len(languages)]`` and titled in it (:mod:`.languages`). Every song gets
    ``backing`` (one of :data:`.band.BACKINGS`)."""
    rng = np.random.default_rng(seed)
    blocks = -(-n_songs // len(lyrics.EMOTIONS))  # every 6 songs: each emotion once, in random order
    emotions = np.concatenate([rng.permutation(lyrics.EMOTIONS) for _ in range(blocks)])[:n_songs]
    specs, used = [], set()
    for index, emotion in enumerate(emotions):
        rng = np.random.default_rng([seed, index, 1])  # names only: independent of the music
        language = languages[index % len(languages)] if languages else ""
        artist = lyrics.make_artist(rng)
        title = (
            sung_languages.make_title(language, str(emotion), rng) if language else lyrics.make_title(str(emotion), rng)
        )
        name, version = lyrics.file_stem(artist, title), 1
        while name.casefold() in used:
            version += 1
            name = lyrics.file_stem(artist, f"{title} (Version {version})")
        if version > 1:
            title = f"{title} (Version {version})"
        used.add(name.casefold())
        specs.append(song.SongSpec(index, seed, name, artist, title, str(emotion), duration, language, backing))
    return specs


def make_song(spec: song.SongSpec, out_dir: Path, stems: bool = False) -> render.SongRows:
    """Compose, mix and write one song, with its vocal stem when ``stems`` (runs in a worker process)."""
    return render.write_song(song.compose_song(spec), out_dir, vocal_stem=stems)


def _process_context() -> multiprocessing.context.BaseContext:
    """fork on Linux (workers need no re-import of ``__main__``, so scripts without a main guard,
    stdin and notebooks work; no espeak-ng state is shared, see :mod:`.voice`), spawn elsewhere."""
    return multiprocessing.get_context("fork" if sys.platform.startswith("linux") else "spawn")


def _prepare(out_dir: Path, stems: bool = False) -> None:
    """Create the layout (with ``stems/`` when ``stems``); a previous synthetic corpus in ``out_dir`` is
    replaced, anything else refused."""
    if out_dir.exists() and not out_dir.is_dir():
        raise SongalignError(f"{out_dir} is a file; give a folder for the synthetic corpus")
    if out_dir.exists() and any(out_dir.iterdir()):
        if not (out_dir / "metadata" / "synth.json").is_file():
            raise SongalignError(f"{out_dir} is not empty and holds no synthetic corpus; give an empty or new folder")
        for folder in ("mp3", "lyrics", "annotations", "metadata", str(render.STEMS_FOLDER)):
            shutil.rmtree(out_dir / folder, ignore_errors=True)
        (out_dir / "JamendoLyrics.csv").unlink(missing_ok=True)
    for folder in LAYOUT + ((str(render.STEMS_FOLDER),) if stems else ()):
        (out_dir / folder).mkdir(parents=True, exist_ok=True)


def synthesize_corpus(
    out_dir: Path,
    n_songs: int = 48,
    seed: int = 0,
    workers: int | None = None,
    duration: float = 40.0,
    progress: Callable[[int], None] | None = None,
    stems: bool = False,
    languages: Sequence[str] | None = None,
    backing: str = "synth",
) -> SynthSummary:
    """Write a synthetic song corpus in the JamendoLyrics MultiLang layout, deterministically from ``seed``.

    ``n_songs`` songs of about ``duration`` seconds each (an intro, then sections of 8-12 s of
    singing, each followed by a 3.5-5 s instrumental break) are written under ``out_dir``
    (see :mod:`songalign.corpus.synth.render` for the files), plus ``metadata/segments.csv``
    (one row per section: emotion, valence, arousal, a caption of the music, lyrics),
    ``metadata/songs.csv``, ``metadata/interpretations.csv`` (song-level interpretations with
    votes, for captioning: :mod:`.interpretations`) and ``metadata/synth.json`` (generator
    version and parameters).
    With ``stems``, each song's vocals, scaled exactly as in its mix, are written beside it as
    ``stems/<name>.vocals.flac`` (same length, no offset) and ``synth.json`` says ``"stems": true``;
    the other files are the same with or without stems.
    With ``languages`` (espeak-ng codes, e.g. ``["en", "fr"]``), the songs are sung syllable by syllable
    (:mod:`.sing`), song ``i`` in ``languages[i % len(languages)]`` with lyrics from :mod:`.languages`;
    each song also gets ``annotations/phonemes/<name>.csv`` (:mod:`.render`), ``JamendoLyrics.csv`` a
    ``LanguageCode`` column, and only songs whose lyrics carry their emotion (English) get emotion labels
    and interpretations. Without ``languages`` the corpus is the English one, as before they existed.
    With ``backing="soundfont"`` (:mod:`.band`; needs ``pip install 'songalign[band]'``) the backing is played
    on the General MIDI instruments of the SoundFont ``pretty_midi`` ships, through per-song EQ, compression
    and reverb, the vocals get a light reverb and a level of −6 to +6 dB against the backing, and
    ``metadata/songs.csv`` records each song's settings (:data:`.render.BAND_COLUMNS`); the songs' lyrics,
    melodies and times are those of the default ``"synth"`` backing.
    ``workers`` processes make songs in parallel (default: one per CPU, at most ``n_songs``).
    ``progress`` is called after each song with the number of songs finished so far.

    An ``out_dir`` holding a previous synthetic corpus is replaced; any other non-empty folder
    is refused with a :class:`~songalign.errors.SongalignError`.
    """
    started = time.perf_counter()
    out_dir = Path(out_dir)
    if n_songs < 1:
        raise SongalignError(f"n_songs must be at least 1, got {n_songs}")
    if duration < MIN_DURATION:
        raise SongalignError(
            f"duration must be at least {MIN_DURATION:g} s (an intro, a section and a break), got {duration:g}"
        )
    if workers is not None and workers < 1:
        raise SongalignError(f"workers must be at least 1, got {workers}")
    workers = min(workers or os.cpu_count() or 1, n_songs)
    codes = sung_languages.check_languages(list(languages)) if languages is not None else None
    if backing not in band.BACKINGS:
        raise SongalignError(f"backing must be one of {', '.join(band.BACKINGS)}, got {backing!r}")
    if backing == "soundfont":
        soundfont.general_midi()  # a missing package is said once, here; forked workers inherit the font
    _prepare(out_dir, stems)
    specs = plan_corpus(n_songs, seed, float(duration), codes, backing)

    results: dict[int, render.SongRows] = {}

    def finished(index: int, rows: render.SongRows) -> None:
        results[index] = rows
        if progress is not None:
            progress(len(results))

    if workers == 1:
        for spec in specs:
            finished(spec.index, make_song(spec, out_dir, stems))
    else:
        with ProcessPoolExecutor(workers, mp_context=_process_context()) as pool:
            futures = {pool.submit(make_song, spec, out_dir, stems): spec.index for spec in specs}
            for future in as_completed(futures):
                finished(futures[future], future.result())

    ordered = [results[spec.index] for spec in specs]
    columns = (*JAMENDO_COLUMNS, LANGUAGE_CODE_COLUMN) if codes else JAMENDO_COLUMNS
    render.write_table(out_dir / "JamendoLyrics.csv", columns, [r.jamendo for r in ordered])
    segments = [row for r in ordered for row in r.segments]
    render.write_table(out_dir / "metadata" / "segments.csv", render.SEGMENT_COLUMNS, segments)
    song_columns = render.SONG_COLUMNS + (render.BAND_COLUMNS if backing != "synth" else ())
    render.write_table(out_dir / "metadata" / "songs.csv", song_columns, [r.song for r in ordered])
    readings = [
        row
        for r in ordered
        if not r.record.extra.get("language_code") or sung_languages.carries_emotion(r.record.extra["language_code"])
        for row in interpretations.song_interpretations(r.song, "\n".join(ln.text for ln in r.record.lines), seed)
    ]
    render.write_table(out_dir / INTERPRETATION_FILE, interpretations.INTERPRETATION_COLUMNS, readings)
    _write_manifest(out_dir / "metadata" / "synth.json", seed, n_songs, float(duration), stems, codes, backing)
    records = [r.record for r in ordered]
    return SynthSummary(
        out_dir=out_dir,
        seed=seed,
        n_songs=n_songs,
        n_sections=len(segments),
        duration=sum(r.duration or 0.0 for r in records),
        elapsed=time.perf_counter() - started,
        emotions=dict(Counter(row["emotion"] for row in segments)),
        songs=records,
    )


def ensure_synthetic_corpus(
    out_dir: Path,
    n_songs: int = 48,
    seed: int = 0,
    duration: float = 40.0,
    stems: bool = False,
    languages: Sequence[str] | None = None,
    backing: str = "synth",
) -> Path:
    """``out_dir`` holding the synthetic corpus of these parameters: kept when it is already there
    (``metadata/synth.json``, written last, names this generator version and the same parameters,
    and ``"stems": true`` when ``stems`` are asked for, the same ``languages`` and ``backing``), synthesised otherwise. A corpus with stems
    serves a request without them as it is."""
    out_dir = Path(out_dir)
    try:
        made = json.loads((out_dir / "metadata" / "synth.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        made = {}
    wanted = {"version": GENERATOR_VERSION, "n_songs": n_songs, "seed": seed, "duration": float(duration)}
    wanted["languages"] = [code.lower() for code in languages] if languages is not None else None
    stale = any(made.get(key) != value for key, value in wanted.items()) or made.get("backing", "synth") != backing
    if stale or (stems and made.get("stems") is not True):
        synthesize_corpus(
            out_dir, n_songs=n_songs, seed=seed, duration=duration, stems=stems, languages=languages, backing=backing
        )
    return out_dir


def _write_manifest(
    path: Path,
    seed: int,
    n_songs: int,
    duration: float,
    stems: bool = False,
    languages: list[str] | None = None,
    backing: str = "synth",
) -> None:
    """``synth.json``: the generator version and every parameter that shapes the corpus (``stems`` only
    when there are stems, ``languages`` with the singing and the word lists only when there are languages and
    ``backing`` only when it is not the default, so that the English corpus is written as before they existed)."""
    manifest = {
        "generator": "songalign.corpus.synth",
        "version": GENERATOR_VERSION,
        "seed": seed,
        "n_songs": n_songs,
        "duration": duration,
        "sample_rate": voice.SAMPLE_RATE,
        "audio_format": "MP3 (mono)",
        **({"stems": True, "stem_format": "FLAC (mono, 16-bit), stems/<name>.vocals.flac"} if stems else {}),
        **(_sung_manifest(languages) if languages else {}),
        **(_band_manifest() if backing != "synth" else {}),
        "emotions": list(lyrics.EMOTIONS),
        "affect": {e: {"valence": v, "arousal": a} for e, (v, a) in lyrics.AFFECT.items()},
        "voices": [asdict(v) for v in voice.VOICES],
        "genres": list(song.GENRES),
        "layout_seconds": {
            "intro_min": list(song.INTRO_MIN),
            "line_gap": list(song.LINE_GAP),
            "section_span": list(song.SECTION_SPAN),
            "break_min": list(song.BREAK_MIN),
        },
        "tempo_range_bpm": list(song.TEMPO_RANGE),
        "emotion_change_probability": song.EMOTION_CHANGE_PROBABILITY,
        "mix_db": {
            "vocal_rms": render.VOCAL_RMS_DB,
            "backing_re_vocals": {"at_zero_arousal": render.BACKING_DB[0], "per_arousal": render.BACKING_DB[1]},
            "lead_re_vocals": render.LEAD_DB,
            "section_gain_per_arousal": render.SECTION_GAIN_DB,
        },
        "instruments": sorted(music.TIMBRES),
        "interpretations": {
            "per_song": interpretations.PER_SONG,
            "kind_weights": interpretations.KIND_WEIGHTS,
            "votes": interpretations.VOTE_RANGES,
        },
    }
    path.write_text(json.dumps(manifest, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def _band_manifest() -> dict:
    """What ``synth.json`` says of the band backing: the SoundFont, the instruments' programs, the packages."""
    from importlib.metadata import version

    return {
        "backing": "soundfont",
        "soundfont": soundfont.FONT_NAME,
        "gm_programs": band.GM_PROGRAMS,
        "gm_drums": band.GM_DRUMS,
        "vocal_db_range": list(band.VOCAL_DB),
        "packages": {name: version(name) for name in ("pretty_midi", "sf2utils", "pedalboard")},
    }


def _sung_manifest(languages: list[str]) -> dict:
    """What ``synth.json`` says of a sung corpus: its languages, how it sings and where its lyrics come from."""
    from importlib.metadata import version

    return {
        "languages": languages,
        "language_names": {code: sung_languages.language_names()[code] for code in languages},
        "singing": "espeak-ng, a note per syllable, vowels held by looping pitch periods, vibrato (songalign.corpus.synth.sing)",
        "lyrics": {
            "grammar": [code for code in languages if sung_languages.carries_emotion(code)],
            "wordfreq": [code for code in languages if not sung_languages.carries_emotion(code)],
            "wordfreq_version": version("wordfreq")
            if not all(map(sung_languages.carries_emotion, languages))
            else None,
            "words_per_language": sung_languages.WORDS,
            "zipf_offset": sung_languages.ZIPF_OFFSET,
        },
        "variants": [variant for variant, _ in sung_languages.VARIANTS],
        "release_seconds": sing.RELEASE,
        "vibrato_delay_seconds": list(sing.VIBRATO_DELAY),
        "phoneme_format": "annotations/phonemes/<name>.csv: start,end,phoneme,word_index (s, espeak-ng IPA, word)",
    }
