"""Vocal stems of the synthetic corpus (``corpus synth --stems``) and what the Jamendo reader carries to the
transcriber: the notes of ``metadata/notes/`` and the stem's path."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf

from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.prepare import prepare_corpus
from songalign.corpus.readers import read_songs
from songalign.corpus.records import Note
from songalign.corpus.synth import ensure_synthetic_corpus, plan_corpus, render, synthesize_corpus
from songalign.corpus.synth.song import compose_song
from songalign.corpus.synth.voice import SAMPLE_RATE
from songalign.corpus.testing import FakeSong, regular_lines, write_jamendo_corpus
from songalign.errors import NOTED, SkipReport

SEED, N_SONGS, DURATION = 3, 2, 15.0
PCM16_STEP = 1.0 / 32768  # one step of the stem's 16-bit FLAC


@pytest.fixture(scope="module")
def corpus(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("stems") / "corpus"
    synthesize_corpus(out, n_songs=N_SONGS, seed=SEED, workers=1, duration=DURATION, stems=True)
    return out


@pytest.fixture(scope="module")
def names() -> list[str]:
    return [spec.name for spec in plan_corpus(N_SONGS, SEED, DURATION)]


def word_mask(corpus: Path, name: str, n_samples: int) -> np.ndarray:
    """True inside the annotated words of song ``name``."""
    mask = np.zeros(n_samples, bool)
    for line in (corpus / "annotations" / "words" / f"{name}.csv").read_text(encoding="utf-8").splitlines()[1:]:
        start, end, _ = line.split(",")
        mask[round(float(start) * SAMPLE_RATE) : round(float(end) * SAMPLE_RATE)] = True
    return mask


def test_stems_match_the_mix_length_and_are_the_mixed_vocals(corpus, names):
    for spec, name in zip(plan_corpus(N_SONGS, SEED, DURATION), names, strict=True):
        mix, mix_rate = sf.read(corpus / "mp3" / f"{name}.mp3", dtype="float32")
        stem, stem_rate = sf.read(corpus / "stems" / f"{name}.vocals.flac", dtype="float32")
        assert (stem_rate, len(stem)) == (mix_rate, len(mix)) == (SAMPLE_RATE, compose_song(spec).n_samples)
        parts = render.mixed_stems(compose_song(spec))
        np.testing.assert_allclose(stem, parts["vocals"], atol=PCM16_STEP)  # lossless up to 16 bits, no offset
        sung = word_mask(corpus, name, len(stem))
        assert not np.any(stem[~sung]), "the vocal stem sounds outside the annotated words"
        # what the mix holds besides the stem is the accompaniment (the mix is MP3: a lossy copy)
        residual = mix - stem
        assert np.corrcoef(residual, parts["accompaniment"])[0, 1] > 0.95
        assert np.corrcoef(mix[sung], stem[sung])[0, 1] > 0.7


def test_the_stem_takes_the_mix_peak_limit(tmp_path, monkeypatch):
    """With the limiter acting (a low PEAK), the stem is scaled by the same factor as the mix."""
    spec = plan_corpus(1, SEED, DURATION)[0]
    raw = render.stems(compose_song(spec))
    peak = float(np.abs(raw["vocals"] + raw["accompaniment"]).max())
    monkeypatch.setattr(render, "PEAK", 0.25 * peak)
    out = tmp_path / "limited"
    synthesize_corpus(out, n_songs=1, seed=SEED, workers=1, duration=DURATION, stems=True)
    stem, _ = sf.read(render.vocal_stem_path(out, spec.name), dtype="float32")
    np.testing.assert_allclose(stem, raw["vocals"] * np.float32(0.25), atol=PCM16_STEP)
    mix, _ = sf.read(out / "mp3" / f"{spec.name}.mp3", dtype="float32")
    assert np.abs(mix).max() < 0.3 * peak  # the mix was limited too (MP3 overshoots a little)


def test_stems_change_no_other_file(corpus, tmp_path):
    plain = synthesize_corpus(tmp_path / "plain", n_songs=N_SONGS, seed=SEED, workers=2, duration=DURATION).out_dir
    assert not (plain / "stems").exists()
    files = sorted(p.relative_to(plain) for p in plain.rglob("*") if p.is_file())
    assert sorted(p.relative_to(corpus) for p in corpus.rglob("*") if p.is_file() and "stems" not in p.parts) == files
    for path in files:
        if path.name != "synth.json":
            assert (plain / path).read_bytes() == (corpus / path).read_bytes(), path
    with_stems = json.loads((corpus / "metadata" / "synth.json").read_text(encoding="utf-8"))
    without = json.loads((plain / "metadata" / "synth.json").read_text(encoding="utf-8"))
    assert with_stems.pop("stems") is True and "stems" not in without
    with_stems.pop("stem_format")
    assert with_stems == without


def test_ensure_regenerates_a_corpus_without_stems_when_stems_are_asked_for(tmp_path):
    out = tmp_path / "corpus"
    ensure_synthetic_corpus(out, n_songs=1, seed=SEED, duration=DURATION)
    assert not (out / "stems").exists()
    ensure_synthetic_corpus(out, n_songs=1, seed=SEED, duration=DURATION, stems=True)
    assert len(list((out / "stems").iterdir())) == 1
    made = (out / "metadata" / "synth.json").stat().st_mtime_ns
    ensure_synthetic_corpus(out, n_songs=1, seed=SEED, duration=DURATION)  # stems are more than asked: kept
    ensure_synthetic_corpus(out, n_songs=1, seed=SEED, duration=DURATION, stems=True)
    assert (out / "metadata" / "synth.json").stat().st_mtime_ns == made


def test_reader_carries_notes_and_the_vocal_stem(corpus, names):
    report = SkipReport()
    songs = {song.id: song for song in read_songs("jamendo", corpus, report)}
    assert sorted(songs) == sorted(names) and not report.entries
    for name in names:
        song = songs[name]
        rows = (corpus / "metadata" / "notes" / f"{name}.csv").read_text(encoding="utf-8").splitlines()[1:]
        first = rows[0].split(",")
        assert song.notes[0] == Note(float(first[0]), float(first[1]), float(first[2]), int(first[3]), first[4])
        assert len(song.notes) == len(rows) == len(song.words)
        assert [n.text for n in song.notes] == [w.text for w in song.words]
        assert all(float(n.pitch).is_integer() and 30 <= n.pitch <= 90 for n in song.notes)
        vocals = Path(song.extra["vocals_path"])
        assert vocals.is_absolute() and vocals == (corpus / "stems" / f"{name}.vocals.flac").resolve()


def test_prepare_keeps_notes_and_vocals_path_in_the_manifest(corpus, names, tmp_path):
    prepare_corpus("jamendo", corpus, tmp_path / "prepared", progress=False)
    songs = {song.id: song for song in CorpusManifest.load(tmp_path / "prepared").songs}
    read = {song.id: song for song in read_songs("jamendo", corpus, SkipReport())}
    for name in names:
        assert songs[name].notes == read[name].notes
        assert songs[name].extra["vocals_path"] == read[name].extra["vocals_path"]


def test_a_malformed_notes_file_is_noted_and_the_song_kept(corpus, names, tmp_path):
    broken = tmp_path / "broken"
    shutil.copytree(corpus, broken)
    notes = broken / "metadata" / "notes" / f"{names[0]}.csv"
    lines = notes.read_text(encoding="utf-8").splitlines()
    lines[2] = "0.5,oops,60,1,word"
    notes.write_text("\n".join(lines) + "\n", encoding="utf-8")
    shutil.rmtree(broken / "stems")
    report = SkipReport()
    songs = {song.id: song for song in read_songs("jamendo", broken, report)}
    assert sorted(songs) == sorted(names)
    assert songs[names[0]].notes == [] and songs[names[1]].notes
    assert all("vocals_path" not in song.extra for song in songs.values())
    (entry,) = report.entries
    assert entry.action == NOTED and entry.path == str(notes) and "row 3" in entry.reason
    assert "kept without notes" in entry.reason


def test_real_jamendo_songs_have_no_notes_or_stem(tmp_path):
    root = write_jamendo_corpus(tmp_path / "jamendo", [FakeSong("A_-_B", [regular_lines(2, start=1.0)])])
    (song,) = read_songs("jamendo", root, SkipReport())
    assert song.notes == [] and "vocals_path" not in song.extra
