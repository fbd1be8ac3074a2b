"""`songalign tag --runtime onnx`: musicnn's tagger exported to ONNX (once, into the cache, named by the
checkpoint's digest) and run by onnxruntime gives torch's tags.

The tags are sigmoid probabilities in (0, 1) from a network of a few hundred thousand float32 terms per
output; computed in another order they differ by about 1e-6 (measured), so the issue's 1e-4 holds with a
margin of two orders and still fails on a wrong weight or a wrong patch (tenths).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from songalign.cli import app
from songalign.errors import SongalignError
from songalign.towers.musicnn import SAMPLE_RATE, checkpoint_digest, checkpoint_folder, musicnn_available
from songalign.towers.tagging import tag_files

sys.path.insert(0, str(Path(__file__).parent))
from make_musicnn_reference import fixed_clips  # noqa: E402

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")
pytestmark = pytest.mark.skipif(not musicnn_available(), reason="the musicnn wheel (its checkpoints) is not installed")

TOLERANCE = 1e-4
runner = CliRunner()


@pytest.fixture(scope="module")
def clip_files(tmp_path_factory) -> list[Path]:
    folder = tmp_path_factory.mktemp("clips")
    paths = []
    for name, clip in fixed_clips().items():
        sf.write(folder / f"{name}.wav", clip, SAMPLE_RATE, subtype="FLOAT")
        paths.append(folder / f"{name}.wav")
    return paths


def test_onnx_tags_equal_torch_tags_and_the_graph_is_named_by_the_checkpoint(clip_files, tmp_path, monkeypatch):
    monkeypatch.setenv("SONGALIGN_CACHE", str(tmp_path / "cache"))
    torch_tags, _ = tag_files(clip_files, "MTT_musicnn", hop_seconds=1.5)
    onnx_tags, _ = tag_files(clip_files, "MTT_musicnn", hop_seconds=1.5, runtime="onnx", threads=1)
    for ours, theirs in zip(onnx_tags, torch_tags, strict=True):
        assert ours.taggram.labels == theirs.taggram.labels
        np.testing.assert_array_equal(ours.taggram.times, theirs.taggram.times)
        np.testing.assert_allclose(ours.taggram.probabilities, theirs.taggram.probabilities, rtol=0, atol=TOLERANCE)
    # tags that differ by tenths between tags, not all near 0: a wrong weight would show
    assert max(float(np.ptp(r.taggram.probabilities)) for r in torch_tags) > 0.1
    digest = checkpoint_digest(checkpoint_folder("MTT_musicnn"))
    assert sorted(p.name for p in (tmp_path / "cache" / "musicnn").glob("*.onnx")) == [f"MTT_musicnn-{digest}.onnx"]

    # int8: another graph beside it; the same top tag of each file (its weights are rounded, not wrong)
    int8, _ = tag_files(clip_files, "MTT_musicnn", runtime="onnx-int8", threads=1)
    fp32, _ = tag_files(clip_files, "MTT_musicnn")
    assert (tmp_path / "cache" / "musicnn" / f"MTT_musicnn-{digest}.int8.onnx").is_file()
    assert [r.taggram.top(1)[0][0] for r in int8] == [r.taggram.top(1)[0][0] for r in fp32]


def test_tag_command_takes_runtime_onnx(clip_files, tmp_path, monkeypatch):
    monkeypatch.setenv("SONGALIGN_CACHE", str(tmp_path / "cache"))
    printed = {}
    for runtime in ("torch", "onnx"):
        result = runner.invoke(
            app, ["tag", str(clip_files[0]), "--format", "json", "--runtime", runtime, "--threads", "1"]
        )
        assert result.exit_code == 0, result.output
        printed[runtime] = json.loads(result.stdout)[0]
    assert [t["tag"] for t in printed["onnx"]["top"]] == [t["tag"] for t in printed["torch"]["top"]]
    np.testing.assert_allclose(
        printed["onnx"]["probabilities"], printed["torch"]["probabilities"], rtol=0, atol=TOLERANCE + 1e-5
    )  # + the 5 decimals the JSON keeps
    with pytest.raises(SongalignError, match="--runtime must be one of torch, onnx, onnx-int8"):
        tag_files(clip_files, runtime="tensorrt")
