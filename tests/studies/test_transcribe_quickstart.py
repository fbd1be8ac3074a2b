"""`songalign transcribe quickstart`, small: every step runs into one folder, the report has the seed's
Tables 1 and 2, alignment beside its even-spread baseline and lyric selection; no model is scored on a
song it trained on; a second run resumes without retraining.

The songs' vocals go through a small deterministic separator registered here (as a plugin is): the same
separation step and cache as Spleeter's, without Spleeter's seconds per song on a shared machine."""

from __future__ import annotations

import json

import pytest

from songalign.checkpoint import read_card
from songalign.separate import SEPARATORS
from songalign.separate.testing import ScaledVoice
from songalign.studies.transcribe import MODES, run_transcribe_quickstart
from songalign.transcribe.testing import tiny_settings

TINY = tiny_settings(lyrics_hidden=16)
TINY["model"]["vocals"] = "quieter-quickstart-test"
CHANNELS = ("mix", "quieter-quickstart-test")


class QuieterVoice(ScaledVoice):
    """The vocals are the song at a third of its level."""

    gain = 1 / 3
    digest = "00000000000000cc"


@pytest.fixture(scope="module")
def first_run(tmp_path_factory):
    from songalign.transcribe.listen import separator

    SEPARATORS.register("quieter-quickstart-test", QuieterVoice)
    out = tmp_path_factory.mktemp("transcribe_quickstart")
    report = run_transcribe_quickstart(out, songs=8, seed=1, epochs=1, draws=2, settings=TINY, progress=False,
                                       vocal_channels=CHANNELS, log=lambda _: None)  # fmt: skip
    yield out, report
    SEPARATORS.unregister("quieter-quickstart-test")
    separator.cache_clear()


def test_every_song_is_separated_once_and_the_channel_table_is_there(first_run):
    out, report = first_run
    assert QuieterVoice.calls == 8  # before training, once per song; training and evaluation read the cache
    results = json.loads((out / "results.json").read_text())
    assert (
        results["vocals"] == "quieter-quickstart-test" and "separate (quieter-quickstart-test)" in results["timings_s"]
    )
    assert list(results["vocal_channels"]) == list(CHANNELS)
    assert results["vocal_channels"]["quieter-quickstart-test"] == results["results"]["multitask"]  # not trained twice
    assert read_card(out / "runs" / "multitask-vocals-mix" / "model")["data"]["vocals"] == "mix"
    separated = read_card(out / "runs" / "multitask" / "model")["data"]["separator"]
    assert separated == {"name": "quieter-quickstart-test", "model": "", "digest": "00000000000000cc"}
    text = report.read_text()
    assert "## The vocal channel" in text and "| mix |" in text and "| quieter-quickstart-test |" in text


def test_the_report_has_the_seed_s_tables_and_every_section(first_run):
    out, report = first_run
    text = report.read_text()
    for heading in ("Table 1: transcription", "Table 2: notes", "Alignment", "Lyric selection"):
        assert heading in text
    for row in ("| baseline (zero pitch/onset) |", "| multi-task |", "| oracle (annotated pitch/onset) |",
                "| pitch/onset only |", "| CTC likelihood |", "| CLAP-lyr |", "| fusion |", "69.22", "38.41"):  # fmt: skip
        assert row in text
    results = json.loads((out / "results.json").read_text())
    assert set(results["results"]) == set(MODES)
    multitask = results["results"]["multitask"]
    assert 0 <= multitask["cer"]["greedy"]["corpus"] and multitask["alignment"]["words"] > 0
    assert multitask["even_spread"]["aae"] > 0 and multitask["notes"]["con"]["f_measure"] >= 0
    assert "| median AE (s) | median deviation (s) |" in text and multitask["alignment"]["median_ae"] >= 0
    assert results["results"]["baseline"]["notes"] == {}  # no pitch network, no note figures
    selection = results["lyric_selection"]["CTC likelihood"]
    assert selection["chance_top_k"]["1"] > 0 and selection["queries"] >= 2


def test_no_model_is_scored_on_a_song_it_trained_on(first_run):
    out, _ = first_run
    results = json.loads((out / "results.json").read_text())
    for mode in MODES:
        card = read_card(out / "runs" / mode / "model")
        trained = set(card["data"]["trained_songs"])
        assert trained and trained.isdisjoint(card["data"]["songs"]["test"])
        assert results["results"][mode]["excluded"] == 0 and results["results"][mode]["songs"] >= 1
    assert (out / "runs" / "multitask" / "loss.png").is_file()


def test_a_second_run_resumes_from_what_is_there(first_run):
    out, _ = first_run
    run_transcribe_quickstart(out, songs=8, seed=1, epochs=1, draws=2, settings=TINY, progress=False,
                              vocal_channels=CHANNELS, log=lambda _: None)  # fmt: skip
    timings = json.loads((out / "results.json").read_text())["timings_s"]
    assert all(timings[f"train {mode}"] < 5 for mode in MODES) and timings["synthesise"] < 5
    assert timings["separate (quieter-quickstart-test)"] < 5 and timings["vocals=mix"] < 5
