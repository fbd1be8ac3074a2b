"""``songalign search --runtime onnx``: the same hits, with the same scores, as the torch model that built the index."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from songalign.align.onnx import OnnxAlignModel, export_onnx
from songalign.cli import app
from songalign.errors import SongalignError
from songalign.search import SongSearch

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

runner = CliRunner()


def test_text_and_audio_queries_find_the_same_segments_through_onnx(search_corpus, search_model, search_db, tmp_path):
    folder, _ = search_model
    export = export_onnx(folder, tmp_path / "export")
    query = ["search", str(search_db), "--text", "sunshine dancing golden morning verse0 0", "--k", "4", "--json"]
    hits = {}
    for runtime in ("torch", "onnx"):
        result = runner.invoke(app, [*query, "--by", "segment", "--runtime", runtime, "--export", str(export)])
        assert result.exit_code == 0, result.output
        hits[runtime] = [json.loads(line) for line in result.output.splitlines()]
    assert [h["segment_id"] for h in hits["onnx"]] == [h["segment_id"] for h in hits["torch"]]
    # cosines of unit vectors whose entries agree within 1e-4 (tests/align/test_onnx.py): 16 entries, |Δcos| ≤ 16e-4
    assert [h["score"] for h in hits["onnx"]] == pytest.approx([h["score"] for h in hits["torch"]], abs=16e-4)

    clip = search_corpus.parent / "raw" / "mp3" / "song5.wav"
    onnx_search = SongSearch.open(search_db, runtime="onnx", export_dir=export, threads=1)
    assert isinstance(onnx_search.model, OnnxAlignModel)
    by_audio = [h.segment_id for h in onnx_search.by_audio(clip, 3, "audio", group="segment")]
    assert by_audio == [h.segment_id for h in SongSearch.open(search_db).by_audio(clip, 3, "audio", group="segment")]


def test_an_index_built_through_onnx_holds_the_torch_index_rows(search_corpus, search_model, search_db, tmp_path):
    folder, _ = search_model
    export = export_onnx(folder, tmp_path / "export")
    db = tmp_path / "onnx-db"
    command = ["index", str(folder), str(search_corpus), "--db", str(db), "--batch-size", "5", "--no-progress"]
    result = runner.invoke(app, [*command, "--runtime", "onnx", "--export", str(export), "--threads", "1"])
    assert result.exit_code == 0, result.output
    assert json.loads((db / "songalign-index.json").read_text())["runtime"] == "onnx"
    by_runtime = {"torch": SongSearch.open(search_db), "onnx": SongSearch.open(db)}
    for text in ("sunshine dancing golden morning verse0 0", "rain tears lonely night"):
        hits = {key: search.by_text(text, 6, "audio", group="segment") for key, search in by_runtime.items()}
        assert [h.segment_id for h in hits["onnx"]] == [h.segment_id for h in hits["torch"]]
        # the same query vector against stored rows whose entries agree within 1e-4: 16 entries, |Δcos| ≤ 16e-4
        assert [h.score for h in hits["onnx"]] == pytest.approx([h.score for h in hits["torch"]], abs=16e-4)
    clip = search_corpus.parent / "raw" / "mp3" / "song2.wav"
    hits = {key: search.by_audio(clip, 5, "lyrics", group="segment") for key, search in by_runtime.items()}
    assert [h.segment_id for h in hits["onnx"]] == [h.segment_id for h in hits["torch"]]

    # the database's rows came from one runtime: resuming it with another is refused in one sentence
    again = runner.invoke(app, command)
    assert isinstance(again.exception, SongalignError)
    assert "embedded with --runtime onnx, not torch; index with --runtime onnx, or into another" in str(again.exception)
    ray = runner.invoke(app, [*command, "--engine", "ray", "--runtime", "onnx"])
    assert isinstance(ray.exception, SongalignError) and "--engine ray embeds with torch" in str(ray.exception)
