"""The LLM describer against a real chat-completions HTTP server on loopback."""

from __future__ import annotations

import socket
import time

import pytest

from songalign.corpus.records import Segment
from songalign.describe import LLMDescriber, LLMOptions
from songalign.describe.llm import OPENING_HINTS, SYSTEM_PROMPT, clean_sentence, parse_reply
from songalign.describe.testing import ChatCompletionsStub
from songalign.errors import SongalignError

FAST = {"backoff_s": 0.01, "timeout_s": 5.0}


def segments(n: int) -> list[Segment]:
    texts = ["I cry alone in the rain", "we dance in the sunshine", "hold me close my darling", "I tremble in the dark"]
    return [Segment(id=f"s{i}", song_id="x", start=0, end=10, text=texts[i % 4]) for i in range(n)]


def test_batches_concurrency_and_protocol():
    with ChatCompletionsStub(api_key="secret") as stub:
        describer = LLMDescriber(
            LLMOptions(base_url=stub.base_url, model="tiny", api_key="secret", batch_size=2, concurrency=2, **FAST)
        )
        descriptions = describer.describe(segments(5))
    assert len(stub.requests) == 3  # 2 + 2 + 1
    body = stub.requests[0]
    assert body["model"] == "tiny" and body["messages"][0] == {"role": "system", "content": SYSTEM_PROMPT}
    assert body["response_format"] == {"type": "json_object"} and body["seed"] == 0
    user = body["messages"][1]["content"]
    assert "Segment 1 (opening hint: " in user and "Segment 2 (opening hint: " in user
    assert any(hint in user for hint in OPENING_HINTS)
    assert [d.text.startswith("Stub sentence") for d in descriptions] == [True] * 5
    assert descriptions[0].text.endswith("on 6 words of lyrics.")
    labels = descriptions[0].labels
    assert labels["describer"] == "llm@1:tiny" and labels["valence"] == 0.5 and labels["arousal"] == -0.25
    assert labels["emotion"] in {"joy", "love", "calm", "sadness", "anger", "fear"}
    assert 0 < labels["intensity"] < 1  # from the lexicon analysis


def test_retries_after_server_errors():
    with ChatCompletionsStub(fail_first=2) as stub:
        describer = LLMDescriber(LLMOptions(base_url=stub.base_url, max_retries=3, **FAST))
        (description,) = describer.describe(segments(1))
    assert stub.statuses == [500, 500, 200]
    assert description.text.startswith("Stub sentence 3.1")


def test_gives_up_after_retries_with_one_sentence():
    with ChatCompletionsStub(fail_first=99) as stub:
        describer = LLMDescriber(LLMOptions(base_url=stub.base_url, max_retries=2, **FAST))
        with pytest.raises(SongalignError) as info:
            describer.describe(segments(1))
    assert stub.statuses == [500, 500, 500]
    assert str(info.value) == (
        f"the LLM endpoint {stub.base_url}/chat/completions kept failing (HTTP 500) in 3 attempt(s); "
        "check the server's log"
    )


def test_timeout():
    with ChatCompletionsStub(delay_s=1.5) as stub:
        describer = LLMDescriber(LLMOptions(base_url=stub.base_url, timeout_s=0.2, max_retries=1, backoff_s=0.01))
        started = time.monotonic()
        with pytest.raises(SongalignError, match=r"did not answer within 0\.2 s in 2 attempt\(s\)"):
            describer.describe(segments(1))
        assert time.monotonic() - started < 1.2
    assert len(stub.requests) == 2


def test_unreachable_endpoint_is_one_clear_error():
    with socket.socket() as probe:  # a port that nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    url = f"http://127.0.0.1:{port}/v1"
    describer = LLMDescriber(LLMOptions(base_url=url, max_retries=1, backoff_s=0.01, concurrency=3, batch_size=1))
    with pytest.raises(SongalignError) as info:
        describer.describe(segments(3))
    message = str(info.value)
    assert message.startswith(f"cannot reach the LLM endpoint {url}/chat/completions (")
    assert "after 2 attempt(s); start an OpenAI-compatible server there" in message
    assert "\n" not in message


def test_http_error_is_reported_at_once():
    with ChatCompletionsStub(api_key="right") as stub:
        describer = LLMDescriber(LLMOptions(base_url=stub.base_url, api_key="wrong", **FAST))
        with pytest.raises(SongalignError, match=r"refused the request with HTTP 401 \(invalid api key\)"):
            describer.describe(segments(1))
    assert len(stub.requests) == 1


def test_missing_items_are_asked_for_one_by_one():
    with ChatCompletionsStub(omit_ids=frozenset({2})) as stub:
        describer = LLMDescriber(LLMOptions(base_url=stub.base_url, batch_size=3, **FAST))
        descriptions = describer.describe(segments(3))
    assert len(stub.requests) == 2
    assert "Segment 2" not in stub.requests[1]["messages"][1]["content"]  # re-asked alone, as segment 1
    assert descriptions[1].text.startswith("Stub sentence 2.1")


def test_plain_text_reply_falls_back_to_lexicon_labels():
    with ChatCompletionsStub(plain_text=True) as stub:
        describer = LLMDescriber(LLMOptions(base_url=stub.base_url, batch_size=1, **FAST))
        (description,) = describer.describe(segments(1))
    assert description.text == "Stub reply 1 about 1 segment(s), in plain words."
    assert description.labels["emotion"] == "sadness"  # "cry alone in the rain", by the lexicon


def test_options_from_environment(monkeypatch):
    monkeypatch.setenv("SONGALIGN_LLM_BASE_URL", "http://127.0.0.1:1234/v1/")
    monkeypatch.setenv("SONGALIGN_LLM_MODEL", "qwen")
    monkeypatch.setenv("SONGALIGN_LLM_API_KEY", "k")
    options = LLMOptions()
    assert options.resolved_base_url() == "http://127.0.0.1:1234/v1"
    assert options.resolved_model() == "qwen" and options.resolved_api_key() == "k"
    assert LLMOptions(model="m").resolved_model() == "m"


def test_parse_reply_and_clean_sentence():
    assert parse_reply('```json\n{"items": [{"id": 2, "description": "A."}]}\n```') == {
        2: {"id": 2, "description": "A."}
    }
    assert list(parse_reply('Sure! [{"description": "A."}, {"description": "B."}] Hope it helps')) == [1, 2]
    assert parse_reply('{"description": "Only one."}')[1]["description"] == "Only one."
    assert parse_reply("no json here") == {}
    assert parse_reply('{"items": [{"id": 1, "description": "  "}]}') == {}
    assert clean_sentence('  "quiet grief over   a lost home. Another one."') == "Quiet grief over a lost home."
    assert clean_sentence("no full stop") == "No full stop."


def test_reply_without_a_description_is_an_error():
    describer = LLMDescriber(LLMOptions(base_url="http://127.0.0.1:9/v1"))
    (segment,) = segments(1)
    with pytest.raises(SongalignError, match="returned an empty description for segment 's0'"):
        describer._description(segment, None, '{"items": [{"id": 1, "description": ""}]}')
    assert describer._description(segment, None, "Grief, plainly.").text == "Grief, plainly."
