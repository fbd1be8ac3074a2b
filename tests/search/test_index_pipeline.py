"""The indexer's pipeline (decoding threads, batched features, chunked tower passes): the vectors training's
:func:`window_features` gives, zero text vectors for segments without text, and unreadable files skipped."""

from __future__ import annotations

from dataclasses import replace

import numpy as np
import pytest
import soundfile as sf
import torch

from songalign.align.data import window_features
from songalign.audio.cache import FeatureCache
from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.prepare import prepare_corpus
from songalign.corpus.testing import FakeSong, regular_lines, write_jamendo_corpus
from songalign.search import SegmentStore, build_index
from songalign.search.testing import song_signal, tiny_search_model

MP3_RATE = 44100

# (start, end) in seconds of each song's segments (songs of 20 s; the model's clip is 4 s): shorter than a
# clip (zero-padded), longer (centre-cropped), from 0, adjacent, overlapping, and running past the end
WINDOWS = [(0.0, 3.0), (3.0, 7.0), (5.0, 14.5), (6.5, 9.0), (17.5, 21.0)]


@pytest.fixture(scope="module")
def mp3_corpus(tmp_path_factory):
    """A prepared corpus of 3 songs of 20 s, 44.1 kHz stereo MP3, with the segments of :data:`WINDOWS`."""
    root = tmp_path_factory.mktemp("mp3-corpus")
    fakes = [
        FakeSong(f"tune{i}", [regular_lines(4, start=1.0, text=f"tune {i} line")], duration=20.0, write_audio=False)
        for i in range(3)
    ]
    write_jamendo_corpus(root / "raw", fakes, audio_format="mp3")
    for i, fake in enumerate(fakes):
        sf.write(str(root / "raw" / "mp3" / f"{fake.name}.mp3"), song_signal(i, 20.0, MP3_RATE), MP3_RATE, format="MP3")
    prepared = prepare_corpus("jamendo", root / "raw", root / "corpus", progress=False).out
    manifest = CorpusManifest.load(prepared)
    template = {s.song_id: s for s in manifest.segments}
    manifest.segments = [
        replace(segment, id=f"{song_id}-{k}", start=start, end=end, text=f"{segment.text} {k}")
        for song_id, segment in template.items()
        for k, (start, end) in enumerate(WINDOWS)
    ]
    manifest.save_segments(prepared)
    return prepared


@pytest.fixture(scope="module")
def mp3_model(mp3_corpus, tmp_path_factory):
    return tiny_search_model(mp3_corpus, tmp_path_factory.mktemp("mp3-model") / "model")


def rows_by_id(db) -> dict[str, dict]:
    return {row["id"]: row for row in SegmentStore.open(db).rows(None, ["id", "lyrics", "vector", "text_vector"])}


def training_vectors(model, segments, cache=None) -> np.ndarray:
    """What training's path gives: :func:`window_features` of each window, then ``project_audio``, one by one."""
    with torch.no_grad():
        return np.concatenate(
            [
                model.project_audio(torch.as_tensor(window_features(model, s.audio_path, s.start, s.end, cache))[None])
                .cpu()
                .numpy()
                for s in segments
            ]
        )


@pytest.mark.parametrize("batch_size, workers", [(4, 2), (64, 1)])
def test_indexed_vectors_are_training_windows_through_the_tower(mp3_corpus, mp3_model, tmp_path, batch_size, workers):
    folder, model = mp3_model
    segments = CorpusManifest.load(mp3_corpus).segments
    result = build_index(
        folder, mp3_corpus, tmp_path / "db", model=model, batch_size=batch_size, decode_workers=workers, progress=False
    )
    assert (result.added, len(result.report)) == (15, 0)
    rows = rows_by_id(tmp_path / "db")
    got = np.array([rows[s.id]["vector"] for s in segments])
    np.testing.assert_allclose(got, training_vectors(model, segments), atol=1e-5)
    assert np.abs(got[0] - got[1]).max() > 1e-2  # different windows, different vectors: the test can fail
    texts = [rows[s.id]["lyrics"] for s in segments]
    np.testing.assert_allclose([rows[s.id]["text_vector"] for s in segments], model.embed_text(texts), atol=1e-5)


def test_with_a_feature_cache_the_index_reads_and_fills_trainings_entries(mp3_corpus, mp3_model, tmp_path):
    folder, model = mp3_model
    segments = CorpusManifest.load(mp3_corpus).segments
    build_index(folder, mp3_corpus, tmp_path / "db", model=model, cache_dir=tmp_path / "cache", progress=False)
    rows = rows_by_id(tmp_path / "db")
    cache = FeatureCache(tmp_path / "cache")
    expected = training_vectors(model, segments, cache)  # training's lookups: every window already there
    assert (cache.hits, cache.misses) == (15, 0)
    np.testing.assert_allclose([rows[s.id]["vector"] for s in segments], expected, atol=1e-5)


class EncodeSpy:
    """Wraps the real text tower's ``encode`` and records what it was asked to embed."""

    def __init__(self, tower):
        self.tower, self.real, self.seen = tower, tower.encode, []

    def __call__(self, texts):
        self.seen.extend(texts)
        return self.real(texts)

    def __enter__(self):
        self.tower.encode = self
        return self

    def __exit__(self, *exc):
        del self.tower.encode


def test_segments_without_text_get_a_zero_text_vector_and_no_text_tower_pass(mp3_corpus, mp3_model, tmp_path):
    folder, model = mp3_model
    corpus = tmp_path / "corpus"
    manifest = CorpusManifest.load(mp3_corpus)
    # tune0: audio only (a catalogue without lyrics); tune1: one blank segment; tune2: lyrics throughout
    for segment in manifest.segments:
        if segment.song_id == "tune0" or segment.id == "tune1-2":
            segment.text = "" if segment.song_id == "tune0" else "  \n"
    manifest.save(corpus)
    with EncodeSpy(model.text_tower) as spy:
        result = build_index(folder, corpus, tmp_path / "db", model=model, batch_size=5, progress=False)
    assert result.added == 15
    assert spy.seen and not any(not text.strip() for text in spy.seen)
    assert len(spy.seen) == 9  # one pass over each text, none over the blank ones
    rows = rows_by_id(tmp_path / "db")
    blank = [s.id for s in manifest.segments if not s.text.strip()]
    assert len(blank) == 6 and all(not np.any(rows[i]["text_vector"]) for i in blank)
    sung = [s for s in manifest.segments if s.text.strip()]
    np.testing.assert_allclose(
        [rows[s.id]["text_vector"] for s in sung], model.embed_text([s.text for s in sung]), atol=1e-5
    )
    assert all(np.linalg.norm(rows[s.id]["vector"]) > 0.99 for s in manifest.segments)  # audio is embedded all the same


def test_unreadable_files_are_skipped_and_reported_while_the_rest_of_the_batch_is_indexed(
    mp3_corpus, mp3_model, tmp_path
):
    folder, model = mp3_model
    corpus = tmp_path / "corpus"
    manifest = CorpusManifest.load(mp3_corpus)
    corrupt = tmp_path / "corrupt.mp3"
    corrupt.write_bytes(b"this is no audio at all; " * 400)
    for segment in manifest.segments:
        if segment.song_id == "tune0":
            segment.audio_path = str(corrupt)
        elif segment.id == "tune1-3":
            segment.audio_path = str(tmp_path / "gone.mp3")
    manifest.save(corpus)
    result = build_index(folder, corpus, tmp_path / "db", model=model, batch_size=64, progress=False)
    assert (result.added, result.total, len(result.report)) == (9, 9, 6)  # one batch: 6 skipped, 9 indexed
    reasons = {entry.item: (entry.path, entry.reason) for entry in result.report.skipped}
    assert set(reasons) == {f"tune0-{k}" for k in range(5)} | {"tune1-3"}
    assert "corrupt.mp3" in reasons["tune0-0"][0] and "cannot be decoded" in reasons["tune0-0"][1]
    assert "gone.mp3" in reasons["tune1-3"][0] and "not found" in reasons["tune1-3"][1]
    kept = [s for s in manifest.segments if s.id not in reasons]
    rows = rows_by_id(tmp_path / "db")
    assert set(rows) == {s.id for s in kept}
    np.testing.assert_allclose([rows[s.id]["vector"] for s in kept], training_vectors(model, kept), atol=1e-5)
