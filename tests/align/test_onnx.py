"""ONNX exports of alignment models, run by onnxruntime against the torch model they came from.

Three models, exported once each: a small random ``cnn`` with the real MiniLM sentence tower (MLP heads); the
real musicnn tag bridge (MagnaTagATune's musicnn, ``tags`` output, the MiniLM tag prompts, no heads; with
musicnn's tagger); and a tiny random Hugging Face CLAP's two towers (MLP heads). Every output is a unit
vector, so its entries are at most 1 in size: the issue's criterion, 1e-4 on each entry, is about 500
float32 epsilons of such an entry, far above the round-off of float32 sums of the towers' few thousand
terms computed in another order (measured: about 1e-6), and far below what one wrong weight or one wrong
feature frame moves (tenths).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
import torch
from typer.testing import CliRunner

from songalign.align.model import AlignModel, FreezePolicy, ModelConfig, TowerSpec
from songalign.align.onnx import EXPORT_CARD, OnnxAlignModel, export_onnx, open_runtime
from songalign.align.pretrained import build_pretrained
from songalign.cli import app
from songalign.errors import SongalignError
from songalign.towers.musicnn import MusicnnTagger, cut_patches, musicnn_log_mel
from songalign.towers.testing import TINY_CLIP_SECONDS, TINY_SAMPLE_RATE, write_tiny_clap

sys.path.insert(0, str(Path(__file__).parents[1] / "towers"))
from make_musicnn_reference import fixed_clips  # noqa: E402

pytest.importorskip("onnx")
pytest.importorskip("onnxruntime")

TOLERANCE = 1e-4
"""On unit-vector entries: see the module docstring."""
TEXTS = [
    "a calm song for a rainy night",
    "  angry guitars and shouting  ",
    "tears in the rain",
    # longer than MiniLM's 256 tokens and the tiny CLAP's 38: chunked, pooled, then the head
    " ".join(f"line {i} of a long lyric about dancing all night" for i in range(40)),
]
runner = CliRunner()


def clips(rate: int, lengths: tuple[float, ...] = (2.0, 0.7, 4.3)) -> list[np.ndarray]:
    """Fixed clips at ``rate``: a decaying chord and seeded noise, shorter and longer than a model's clip."""
    rng = np.random.default_rng(7)
    out = []
    for index, seconds in enumerate(lengths):
        t = np.arange(int(seconds * rate)) / rate
        tone = 0.2 * np.sin(2 * np.pi * (220.0 + 110 * index) * t) * np.exp(-t)
        out.append((tone + 0.05 * rng.standard_normal(t.size)).astype(np.float32))
    return out


def save(model: AlignModel, folder: Path) -> Path:
    return model.save_pretrained(folder, card={"name": folder.name})


@pytest.fixture(scope="module")
def cnn_minilm(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("cnn")
    torch.manual_seed(3)
    config = ModelConfig(
        audio_tower=TowerSpec(name="cnn", options={"channels": [4, 8], "embedding_dim": 12}),
        embedding_dim=8,
        clip_seconds=2.0,
        freeze=FreezePolicy(audio_tower=False, text_tower=True),
    )
    folder = save(AlignModel(config), root / "model")
    return folder, export_onnx(folder, root / "export", quantize="int8")


@pytest.fixture(scope="module")
def bridge(tmp_path_factory, musicnn_installed) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("bridge")
    folder = build_pretrained("musicnn-bridge", root / "model", tagger="MTT_musicnn")
    return folder, export_onnx(folder, root / "export", quantize="int8")


@pytest.fixture(scope="module")
def tiny_clap(tmp_path_factory) -> tuple[Path, Path]:
    root = tmp_path_factory.mktemp("clap")
    checkpoint = write_tiny_clap(root / "tiny-clap")
    torch.manual_seed(4)
    config = ModelConfig(
        audio_tower=TowerSpec(name="hf_clap_audio", options={"model": str(checkpoint)}),
        text_tower=TowerSpec(name="hf_clap_text", options={"model": str(checkpoint)}),
        embedding_dim=16,
        clip_seconds=TINY_CLIP_SECONDS,
    )
    folder = save(AlignModel(config), root / "model")
    return folder, export_onnx(folder, root / "export", quantize="int8")


CASES = {"cnn_minilm": 16000, "bridge": 16000, "tiny_clap": TINY_SAMPLE_RATE}


@pytest.mark.parametrize("case", CASES)
def test_fp32_export_embeds_as_torch_does(case, request):
    folder, export = request.getfixturevalue(case)
    torch_model = AlignModel.from_pretrained(folder)
    onnx_model = OnnxAlignModel.open(folder, export)
    audio = clips(CASES[case])
    expected_audio = torch_model.embed_audio(audio)
    expected_text = torch_model.embed_text(TEXTS)
    np.testing.assert_allclose(onnx_model.embed_audio(audio), expected_audio, atol=TOLERANCE, rtol=0)
    np.testing.assert_allclose(onnx_model.embed_text(TEXTS), expected_text, atol=TOLERANCE, rtol=0)
    # the comparison can fail: the clips (the texts) give embeddings more than 10 tolerances apart
    for expected in (expected_audio, expected_text):
        assert np.abs(expected[0] - expected[1:]).max() > 10 * TOLERANCE


@pytest.mark.parametrize("case", ["cnn_minilm", "tiny_clap"])
def test_int8_export_stays_close_to_fp32(case, request):
    folder, export = request.getfixturevalue(case)
    card = json.loads((export / EXPORT_CARD).read_text())
    assert card["precisions"] == ["fp32", "int8"] and (export / card["files"]["audio"]["int8"]).is_file()
    fp32 = OnnxAlignModel.open(folder, export)
    int8 = OnnxAlignModel.open(folder, export, precision="int8")
    audio = clips(CASES[case])
    for a, b in ((fp32.embed_audio(audio), int8.embed_audio(audio)), (fp32.embed_text(TEXTS), int8.embed_text(TEXTS))):
        cosines = (a * b).sum(axis=1)  # both unit length
        assert cosines.min() > 0.95, cosines
        assert not np.array_equal(a, b)  # it is another model


def test_the_bridge_audio_int8_stays_close_and_its_tagger_matches_musicnn(bridge):
    folder, export = bridge
    song = [fixed_clips()["drums"], fixed_clips()["chord"]]
    fp32, int8 = OnnxAlignModel.open(folder, export), OnnxAlignModel.open(folder, export, precision="int8")
    assert ((fp32.embed_audio(song) * int8.embed_audio(song)).sum(axis=1) > 0.95).all()
    patches = cut_patches(torch.from_numpy(musicnn_log_mel(song[0]))[None])[0]  # (2, 187, 96)
    with torch.no_grad():
        expected = MusicnnTagger("MTT_musicnn")(patches)["tags"].numpy()
    np.testing.assert_allclose(fp32.tag_patches(patches), expected, atol=TOLERANCE, rtol=0)
    card = json.loads((export / EXPORT_CARD).read_text())
    assert card["files"]["tagger"]["labels"][:2] == ["guitar", "classical"]
    assert card["files"]["audio"]["inputs"][0]["shape"] == ["batch", 9 * 16000 // 256 + 1, 96]


def test_the_card_says_shapes_units_and_the_source(cnn_minilm):
    folder, export = cnn_minilm
    card = json.loads((export / EXPORT_CARD).read_text())
    audio = card["files"]["audio"]
    assert audio["inputs"][0]["shape"] == ["batch", 64, "frames"] and audio["inputs"][0]["dtype"] == "float32"
    assert "mel" in audio["inputs"][0]["units"]
    assert audio["outputs"][0]["shape"] == ["batch", 8]
    text = card["files"]["text"]
    assert [i["name"] for i in text["inputs"]] == ["input_ids", "attention_mask"]
    assert text["inputs"][0]["shape"] == ["batch", "tokens"] and text["inputs"][0]["dtype"] == "int64"
    assert card["files"]["text_head"]["inputs"][0]["shape"] == ["batch", 384]
    assert card["opset"] == 17 and card["source"]["digest"] and card["songalign_version"]
    # the cnn takes clips of any length: a 3.1 s clip's features through the graph equal torch's
    model, runtime = AlignModel.from_pretrained(folder), OnnxAlignModel.open(folder, export)
    features = model.audio_tower.features(clips(16000, (3.1,))[0])[None]
    with torch.no_grad():
        expected = model.project_audio(features).numpy()
    np.testing.assert_allclose(runtime.embed_features(features), expected, atol=TOLERANCE, rtol=0)


def test_a_stale_or_missing_export_is_refused_in_one_sentence(cnn_minilm, tmp_path):
    folder, export = cnn_minilm
    model = AlignModel.from_pretrained(folder)
    with torch.no_grad():
        model.audio_projection.net[0].bias.add_(0.5)  # other weights, same architecture
    changed = save(model, tmp_path / "changed")
    moved = tmp_path / "export"
    moved.mkdir()
    for item in export.iterdir():
        if item.is_file():
            (moved / item.name).write_bytes(item.read_bytes())
    with pytest.raises(SongalignError, match="was exported from other weights") as stale:
        OnnxAlignModel.open(changed, moved)
    message = str(stale.value)
    assert "\n" not in message and f"songalign export onnx {changed} --out {moved} --force" in message
    with pytest.raises(SongalignError, match="holds no ONNX export") as missing:
        open_runtime(changed, "onnx")
    assert f"songalign export onnx {changed} --out {changed / 'onnx'}" in str(missing.value)


def test_the_command_exports_refuses_to_overwrite_and_embeds(cnn_minilm, tmp_path):
    folder, _ = cnn_minilm
    out = tmp_path / "export"
    first = runner.invoke(app, ["export", "onnx", str(folder), "--out", str(out)])
    assert first.exit_code == 0, first.output
    card = (out / EXPORT_CARD).read_bytes()
    (out / "audio.onnx").write_bytes(b"the user's own bytes")  # what a second export must not touch unasked
    again = runner.invoke(app, ["export", "onnx", str(folder), "--out", str(out)])
    assert again.exit_code != 0 and "--force" in str(again.exception)
    assert (out / "audio.onnx").read_bytes() == b"the user's own bytes" and (out / EXPORT_CARD).read_bytes() == card
    forced = runner.invoke(app, ["export", "onnx", str(folder), "--out", str(out), "--force"])
    assert forced.exit_code == 0, forced.output
    assert (out / "audio.onnx").read_bytes() != b"the user's own bytes"
    other = tmp_path / "notes"
    other.mkdir()
    (other / "mine.txt").write_text("keep")
    refused = runner.invoke(app, ["export", "onnx", str(folder), "--out", str(other), "--force"])
    assert refused.exit_code != 0 and "not an ONNX export" in str(refused.exception)
    assert [p.name for p in other.iterdir()] == ["mine.txt"]
    int8 = runner.invoke(app, ["embed", str(folder), "--out", str(tmp_path / "x.npy"), "--text", "hi"] + [
        "--runtime", "onnx-int8", "--export", str(out)
    ])  # fmt: skip
    assert int8.exit_code != 0 and "--quantize int8" in str(int8.exception)

    song = tmp_path / "song.wav"
    sf.write(song, clips(16000, (5.0,))[0], 16000)
    vectors = {}
    for runtime in ("torch", "onnx"):
        target = tmp_path / f"{runtime}.npy"
        result = runner.invoke(
            app, ["embed", str(folder), "--out", str(target), "--audio", str(song), "--runtime", runtime]
            + ["--export", str(out), "--threads", "1"]
        )  # fmt: skip
        assert result.exit_code == 0, result.output
        vectors[runtime] = np.load(target)
    assert vectors["onnx"].shape == (1, 8)
    np.testing.assert_allclose(vectors["onnx"], vectors["torch"], atol=TOLERANCE, rtol=0)
