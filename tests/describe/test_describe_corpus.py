"""describe_corpus on a small corpus: writing back, cache hits, resuming after an interruption."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from songalign.corpus.manifest import CorpusManifest
from songalign.corpus.records import Segment
from songalign.describe import (
    DescriberConfig,
    DescriptionCache,
    describe_corpus,
    get_describer,
)
from songalign.describe.testing import ChatCompletionsStub
from songalign.errors import SongalignError

LYRICS = [
    ("I cry alone in the cold rain\nmy heart is broken tonight", "sadness"),
    ("we dance in the golden sunshine\nlaughing all summer long", "joy"),
    ("hold me close my darling\nyour kiss is sweet and warm", "love"),
    ("the quiet river drifts so slowly\nI breathe and rest in peace", "calm"),
    ("I hate your lies\nI will burn it all down", "anger"),
    ("shadows creep behind me\nI tremble in the dark", "fear"),
]


def make_corpus(directory: Path, n: int = 6, empty: int = 0) -> Path:
    segments = [
        Segment(
            id=f"song{i // 3}_{i % 3}",
            song_id=f"song{i // 3}",
            start=10.0 * i,
            end=10.0 * i + 9.5,
            text=LYRICS[i % len(LYRICS)][0],
            caption="a slow piano ballad",
            labels={"ref_emotion": LYRICS[i % len(LYRICS)][1], "ref_valence": 0.1, "ref_arousal": -0.2},
        )
        for i in range(n)
    ]
    segments += [
        Segment(id=f"inst{j}", song_id="song0", start=100.0 + j, end=101.0 + j, text=" ") for j in range(empty)
    ]
    CorpusManifest(songs=[], segments=segments, info={"source": "test"}).save(directory)
    return directory


def test_describe_corpus_writes_back_and_keeps_reference_labels(tmp_path):
    corpus = make_corpus(tmp_path / "corpus", empty=1)
    result = describe_corpus(corpus, progress=False)
    assert (result.stats.described, result.stats.cached, len(result.stats.skipped)) == (6, 0, 1)
    assert result.stats.skipped.skipped[0].item == "inst0"
    assert result.report.agreement.share == 1.0
    loaded = CorpusManifest.load(corpus)
    described = [s for s in loaded.segments if s.text.strip()]
    assert all(s.description for s in described)
    for s in described:
        assert s.labels["ref_emotion"] == s.labels["emotion"]
        assert s.labels["ref_valence"] == 0.1 and s.caption == "a slow piano ballad"
        assert s.labels["describer"] == "lexicon@1"
    info = json.loads((corpus / "describe.json").read_text())
    assert info["backend"] == "lexicon" and info["agreement"] == 1.0
    assert "| emotion agreement | 100.0% (6/6) |" in result.to_markdown()
    assert len(DescriptionCache(corpus / ".cache" / "describe")) == 6


def test_second_run_is_all_cache_hits_and_changes_only_what_changed(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    first = describe_corpus(corpus, progress=False)
    before = [s.description for s in CorpusManifest.load(corpus).segments]
    second = describe_corpus(corpus, progress=False)
    assert (second.stats.described, second.stats.cached) == (0, 6)
    assert [s.description for s in CorpusManifest.load(corpus).segments] == before
    assert first.report.distinct_2 == second.report.distinct_2

    manifest = CorpusManifest.load(corpus)
    manifest.segments[0].text = "I am not afraid of the dark"
    manifest.save_segments(corpus)
    third = describe_corpus(corpus, progress=False)
    assert (third.stats.described, third.stats.cached) == (1, 5)
    # Another seed is another cache identity.
    fourth = describe_corpus(corpus, config=DescriberConfig(seed=3), progress=False)
    assert fourth.stats.described == 6


def test_cache_key_depends_on_input_backend_and_options(tmp_path):
    from songalign.describe import cache_key

    segment = Segment(id="a", song_id="s", start=0, end=1, text="tears")
    lexicon = get_describer("lexicon")
    assert cache_key(lexicon, segment) == cache_key(get_describer("lexicon"), segment)
    assert cache_key(lexicon, segment) != cache_key(get_describer("lexicon", seed=1), segment)
    assert cache_key(lexicon, segment) != cache_key(get_describer("llm"), segment)
    other = Segment(id="a", song_id="s", start=0, end=1, text="tears!")
    assert cache_key(lexicon, segment) != cache_key(lexicon, other)
    # Secrets and the server address are not part of the key.
    assert cache_key(get_describer("llm", api_key="k1"), segment) == cache_key(
        get_describer("llm", api_key="k2", base_url="http://127.0.0.1:9/v1"), segment
    )


def test_interrupted_run_resumes_from_cache(tmp_path):
    corpus = make_corpus(tmp_path / "corpus")
    options = {"batch_size": 2, "concurrency": 1, "max_retries": 0, "backoff_s": 0.0, "timeout_s": 5}
    with ChatCompletionsStub(fail_after=1) as stub:
        config = DescriberConfig(options={"base_url": stub.base_url, **options})
        with pytest.raises(SongalignError, match=r"kept failing .*\(2 new descriptions are cached in .*; run the"):
            describe_corpus(corpus, "llm", config=config, progress=False)
    assert len(DescriptionCache(corpus / ".cache" / "describe")) == 2  # the first batch of two
    assert not CorpusManifest.load(corpus).segments[0].description  # manifest untouched
    with ChatCompletionsStub() as stub:
        config = DescriberConfig(options={"base_url": stub.base_url, **options})
        result = describe_corpus(corpus, "llm", config=config, progress=False)
        assert len(stub.requests) == 2  # four segments left, two per request
    assert (result.stats.described, result.stats.cached) == (4, 2)
    assert all(s.description for s in CorpusManifest.load(corpus).segments)


def test_failed_batch_keeps_the_others_of_its_chunk(tmp_path):
    corpus = make_corpus(tmp_path / "corpus", n=3)
    options = {"batch_size": 1, "concurrency": 3, "max_retries": 0, "backoff_s": 0.0, "timeout_s": 5}
    with ChatCompletionsStub(fail_when="golden sunshine") as stub:
        config = DescriberConfig(options={"base_url": stub.base_url, **options})
        with pytest.raises(SongalignError):
            describe_corpus(corpus, "llm", config=config, progress=False)
        answered = stub.statuses.count(200)
    cached = len(DescriptionCache(corpus / ".cache" / "describe"))
    assert cached == answered <= 2
    with ChatCompletionsStub() as stub:
        config = DescriberConfig(options={"base_url": stub.base_url, **options})
        result = describe_corpus(corpus, "llm", config=config, progress=False)
        assert len(stub.requests) == 3 - cached
    assert result.stats.cached == cached


def test_not_a_corpus_and_unknown_backend(tmp_path):
    with pytest.raises(SongalignError, match="not a prepared corpus"):
        describe_corpus(tmp_path, progress=False)
    with pytest.raises(SongalignError, match="unknown describer 'gpt'; choose one of: lexicon, llm"):
        describe_corpus(tmp_path, "gpt", progress=False)
    with pytest.raises(SongalignError, match="option 'concurrency'"):
        get_describer("llm", concurrency=0)


def test_the_describe_command_passes_option_and_the_llm_shorthands_to_the_backend(tmp_path):
    from typer.testing import CliRunner

    from songalign.cli import app

    corpus = make_corpus(tmp_path / "corpus", n=4)
    runner = CliRunner()
    with ChatCompletionsStub() as stub:
        done = runner.invoke(app, ["describe", str(corpus), "--backend", "llm", "--base-url", stub.base_url,
                                   "--option", "batch_size=2", "--option", "temperature=0.25", "--seed", "5"])  # fmt: skip
        assert done.exit_code == 0, done.output
        assert len(stub.requests) == 2  # four segments, two per request: --option batch_size reached the describer
        assert {request["temperature"] for request in stub.requests} == {0.25}
    info = json.loads((corpus / "describe.json").read_text())
    assert info["options"] == {"batch_size": 2, "temperature": 0.25, "base_url": stub.base_url, "seed": 5}
    assert (info["identity"]["temperature"], info["identity"]["batch_size"], info["identity"]["seed"]) == (0.25, 2, 5)
    # an llm shorthand given to the lexicon describer, and a seed given twice, are one sentence each
    wrong = runner.invoke(app, ["describe", str(corpus), "--base-url", "http://127.0.0.1:9/v1"])
    assert isinstance(wrong.exception, SongalignError)
    assert str(wrong.exception).startswith("describer 'lexicon': option 'base_url' is invalid")
    twice = runner.invoke(app, ["describe", str(corpus), "--option", "seed=3"])
    assert isinstance(twice.exception, SongalignError) and "--seed" in str(twice.exception)
