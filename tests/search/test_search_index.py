"""Indexing into real LanceDB: what a row holds, idempotence, resuming after a SIGKILL, the ANN index."""

from __future__ import annotations

import json
import os
import signal
import time

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from songalign.corpus.manifest import SEGMENTS_FILE
from songalign.errors import SongalignError
from songalign.search import AnnSettings, SegmentStore, build_index, model_identity
from songalign.search.indexer import rows_table
from songalign.search.store import segment_schema


def table_rows(db) -> list[dict]:
    store = SegmentStore.open(db)
    columns = [f.name for f in segment_schema(16)]
    return sorted(store.rows(None, columns), key=lambda r: r["id"])


def test_a_row_holds_vectors_metadata_and_the_model(search_db, search_corpus, search_model):
    folder, model = search_model
    rows = table_rows(search_db)
    assert len(rows) == 12 and len({r["id"] for r in rows}) == 12
    first = next(r for r in rows if r["id"] == "song4-0000")
    assert first["title"] == "Soleil d'été" and first["artist"] == "Les Rayons" and first["language"] == "french"
    assert (first["start"], first["end"]) == pytest.approx((1.0, 9.1))
    assert first["lyrics"].splitlines()[0] == "soleil danse lumière été verse0 0"
    assert "joy" in first["description"] and json.loads(first["labels"])["emotion"] == "joy"
    assert "emotion=joy" in first["label_tags"] and first["audio_path"].endswith("song4.wav")
    assert (
        (first["model_name"], first["model_version"])
        == model_identity(folder)
        == ("tiny-search", first["model_version"])
    )
    audio, text = np.array([r["vector"] for r in rows]), np.array([r["text_vector"] for r in rows])
    np.testing.assert_allclose(np.linalg.norm(audio, axis=1), 1.0, atol=1e-5)
    np.testing.assert_allclose(text, model.embed_text([r["lyrics"] for r in rows]), atol=1e-5)
    meta = json.loads((search_db / "songalign-index.json").read_text())
    assert meta["model_path"] == str(folder.resolve()) and meta["embedding_dim"] == 16


def test_indexing_the_same_corpus_again_adds_nothing(search_db, search_corpus, search_model):
    folder, model = search_model
    before = table_rows(search_db)
    again = build_index(folder, search_corpus, search_db, model=model, batch_size=5, progress=False)
    assert (again.added, again.total) == (0, 12)
    assert [r["id"] for r in table_rows(search_db)] == [r["id"] for r in before]


def test_a_killed_index_run_resumes_to_the_table_of_a_clean_run(
    search_db, search_corpus, search_model, killed_index_run
):
    folder, model = search_model
    pid, db = killed_index_run  # forked at the start of the session (conftest.py), SIGKILLed after 2 commits
    deadline = time.monotonic() + 120
    while not (status := os.waitpid(pid, os.WNOHANG))[0]:
        assert time.monotonic() < deadline, "the index run to be killed did not finish"
        time.sleep(0.05)
    assert os.WIFSIGNALED(status[1]) and os.WTERMSIG(status[1]) == signal.SIGKILL
    assert SegmentStore.open(db).count() == 8  # two committed batches survived the kill
    resumed = build_index(folder, search_corpus, db, model=model, batch_size=4, progress=False)
    assert (resumed.added, resumed.total) == (4, 12)
    clean, got = table_rows(search_db), table_rows(db)
    assert [r["id"] for r in got] == [r["id"] for r in clean]
    for a, b in zip(clean, got, strict=True):
        for key in a:
            if key.endswith("vector"):
                np.testing.assert_allclose(a[key], b[key], atol=1e-5)
            else:
                assert a[key] == b[key], key


def test_unreadable_audio_is_skipped_reported_and_retried(search_corpus, search_model, tmp_path):
    folder, model = search_model
    corpus = tmp_path / "corpus"
    corpus.mkdir()
    for item in search_corpus.iterdir():
        if item.is_file():
            (corpus / item.name).write_bytes(item.read_bytes())
    table = pq.read_table(corpus / SEGMENTS_FILE)
    paths = table.column("audio_path").to_pylist()
    paths[0] = str(tmp_path / "missing.wav")
    pq.write_table(
        table.set_column(table.schema.get_field_index("audio_path"), "audio_path", pa.array(paths)),
        corpus / SEGMENTS_FILE,
    )
    result = build_index(folder, corpus, tmp_path / "db", model=model, batch_size=6, progress=False)
    assert (result.added, len(result.report)) == (11, 1)
    assert "missing.wav" in result.report.skipped[0].path and "not found" in result.report.skipped[0].reason
    (tmp_path / "missing.wav").write_bytes((search_corpus.parent / "raw" / "mp3" / "song0.wav").read_bytes())
    assert build_index(folder, corpus, tmp_path / "db", model=model, progress=False).added == 1


def test_user_errors_name_the_file_and_the_fix(search_db, search_corpus, search_model, tmp_path):
    folder, model = search_model
    with pytest.raises(SongalignError, match="is not a prepared corpus.*`songalign corpus prepare`"):
        build_index(folder, tmp_path, tmp_path / "db", model=model)
    with pytest.raises(SongalignError, match="is not a songalign model folder"):
        build_index(tmp_path, search_corpus, tmp_path / "db")
    with pytest.raises(SongalignError, match="is not a songalign search database.*`songalign index"):
        SegmentStore.open(tmp_path)
    other = model.save_pretrained(tmp_path / "retrained", card={"name": "retrained"})
    (other / "config.json").write_text(
        (other / "config.json").read_text().replace('"clip_seconds": 4.0', '"clip_seconds": 4.5')
    )
    with pytest.raises(SongalignError, match="holds vectors of model 'tiny-search'.*index into another --db"):
        build_index(other, search_corpus, search_db, model=model)


def _random_rows(start: int, count: int, dim: int, rng: np.random.Generator) -> pa.Table:
    """``count`` rows of random unit vectors through the indexer's own row builder; every 7th is tagged joy."""
    vectors = rng.standard_normal((2, count, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=2, keepdims=True)
    rows = [
        {"id": f"r{i:06d}", "song_id": f"s{i // 10}", "start": 0.0, "end": 10.0, "language": "", "text": "",
         "description": "", "audio_path": "", "split": "", "labels": '{"emotion": "joy"}' if i % 7 == 0 else ""}
        for i in range(start, start + count)
    ]  # fmt: skip
    return rows_table(rows, vectors[0], vectors[1], songs={}, model_name="m", model_version="v")


@pytest.mark.parametrize("index_type", ["IVF_FLAT", "IVF_SQ"])
def test_the_ann_index_is_built_once_the_table_is_large_enough(tmp_path, index_type):
    rng = np.random.default_rng(0)
    ann = AnnSettings(index_type=index_type, min_rows=1500, target_partition_size=256, nprobes=4)
    store = SegmentStore.create(tmp_path / "db", {"model_name": "m", "model_version": "v", "embedding_dim": 8}, ann)
    store.add(_random_rows(0, 1000, 8, rng))
    assert store.finish(added=1000) is False and not store.has_vector_index("vector")  # small: exact search
    store.add(_random_rows(1000, 1000, 8, rng))
    assert store.finish(added=1000) is True
    assert store.has_vector_index("vector") and store.has_vector_index("text_vector")
    store.add(_random_rows(2000, 100, 8, rng))  # rows added after the index: folded in by optimize
    assert store.finish(added=100) is True and store.count() == 2100
    probe = np.asarray(store.rows("id = 'r002050'", ["vector"])[0]["vector"])
    assert store.nearest(probe, "vector", 1)[0]["id"] == "r002050"
    narrow = store.nearest(probe, "vector", 10, "array_has(label_tags, 'emotion=joy') AND song_id = 's7'")
    assert sorted(r["id"] for r in narrow) == ["r000070", "r000077"]  # a narrow filter still finds all its rows
    reopened = SegmentStore.open(tmp_path / "db")
    assert reopened.ann.nprobes == 4 and reopened.count() == 2100 and reopened.meta["ann_rows"] == 2000
    reopened.add(_random_rows(2100, 2000, 8, rng))  # more than doubled since training: the partitions are retrained
    assert reopened.finish(added=2000) is True and reopened.meta["ann_rows"] == 4100
