"""The main job, small: every step runs, the report has the seed's Table 1 shape, a re-run resumes,
and the same seed reproduces every number."""

from __future__ import annotations

import json

import pytest

from songalign.studies.quickstart import run_quickstart


def numbers(tree, prefix=""):
    """Every float in a nested results tree, by path."""
    if isinstance(tree, dict):
        for key, value in tree.items():
            yield from numbers(value, f"{prefix}/{key}")
    elif isinstance(tree, int | float) and not isinstance(tree, bool):
        yield prefix, float(tree)


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("quickstart")
    report = run_quickstart(out, songs=8, seed=3, epochs=2, draws=2, log=lambda _: None, progress=False)
    return out, report


def test_report_has_table_1_every_variant_and_figures(first_run, musicnn_installed):
    out, report = first_run
    text = report.read_text()
    for row in ("| untrained |", "| CLAP-pre |", "| CLAP-emo |", "| CLAP-lyr |", "3.400 / 1.18 / 2.44 / 4.76 / 9.20"):
        assert row in text
    results = json.loads((out / "results.json").read_text())
    assert set(results["results"]) == {"untrained", "pre", "lyr", "emo", "emo_musicnn", "bridge"}
    # the musicnn comparison: CLAP-emo on cnn and on musicnn, and the tag bridge, in one section
    for row in (
        "## 4b. A tower pretrained on real music: musicnn",
        "| CLAP-emo (musicnn) |",
        "| tag bridge (musicnn) |",
    ):
        assert row in text
    config = json.loads((out / "runs" / "emo_musicnn" / "model" / "config.json").read_text())
    card = json.loads((out / "runs" / "emo_musicnn" / "model" / "card.json").read_text())
    assert config["audio_tower"]["name"] == "musicnn" and config["freeze"]["audio_tower"]
    assert card["recipe"]["init_from"].endswith("pre_musicnn/model") and card["recipe"]["train"]["augment"] is None
    emo = results["results"]["emo"]["test"]
    assert emo["lyric_choice"]["pool_10"]["model_scale"] > 0 and emo["lyric_choice"]["pool_10"]["kl_model_scale"]
    assert emo["lyric_choice"]["pool_10"]["kl_lyric_audio"] and emo["lyric_choice"]["pool_10"]["kl_lyric_audio_model_scale"]
    # the probe in the report is fitted on train songs and scored on the test split's other songs
    assert emo["probe"]["emotion"]["fitted"]["split"] == "train" and emo["probe"]["emotion"]["scored"]["songs"] >= 1
    for column in ("KL lyric‖audio (model's s)", "chance top-1/2/4/8 %", "queries × draws", "R@1 % (chance)", "fitted on"):
        assert column in text
    for figure in ("loss_pre", "tsne_emo", "top_k"):
        assert f"![{figure}]" in text
    assert (out / "figures" / "top_k.png").stat().st_size > 1000


def test_a_second_run_resumes_from_what_is_there(first_run):
    out, report = first_run
    run_quickstart(out, songs=8, seed=3, epochs=2, draws=2, log=lambda _: None, progress=False)
    results = json.loads((out / "results.json").read_text())
    assert results["timings_s"]["train pre"] < 5 and results["timings_s"]["synthesise"] < 5  # nothing redone


def test_the_same_seed_reproduces_every_number(first_run, tmp_path):
    out, _ = first_run
    run_quickstart(tmp_path, songs=8, seed=3, epochs=2, draws=2, log=lambda _: None, progress=False)
    first = dict(numbers(json.loads((out / "results.json").read_text())["results"]))
    second = dict(numbers(json.loads((tmp_path / "results.json").read_text())["results"]))
    assert first.keys() == second.keys()
    differing = {k: (first[k], second[k]) for k in first if abs(first[k] - second[k]) > 1.0}  # 1 percentage point
    assert not differing
