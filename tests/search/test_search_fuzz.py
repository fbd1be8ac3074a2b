"""Property-based fuzzing of the service's OpenAPI spec (schemathesis) against the real server.

Valid and invalid requests for every operation: no 5xx, every status code is documented, and
every response matches its documented schema. Then the JSON operation's generated bodies, each
with a non-finite number or a lone surrogate put somewhere in it: every one a documented 422.
"""

from __future__ import annotations

import json
import math
import time
from collections import Counter
from typing import Any

import schemathesis
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

EXAMPLES = 12  # per operation and mode


def test_no_request_makes_the_server_fail(live_url):
    schema = schemathesis.openapi.from_url(f"{live_url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) == 7
    statuses: Counter[int] = Counter()
    for operation in operations:
        for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

            @given(case=operation.as_strategy(mode))
            @settings(max_examples=EXAMPLES, deadline=None, suppress_health_check=list(HealthCheck), database=None)
            def fuzz(case):
                response = case.call_and_validate(
                    checks=[not_a_server_error, status_code_conformance, response_schema_conformance], timeout=30
                )
                statuses[response.status_code] += 1

            try:
                fuzz()
            except Unsatisfiable:
                assert mode is GenerationMode.NEGATIVE, operation.label  # nothing invalid to send (no parameters)
    assert sum(statuses.values()) >= 7 * EXAMPLES and statuses[200] and statuses[422]  # both kinds were sent
    assert not any(code >= 500 for code in statuses)


POISONED_EXAMPLES = 60  # per mode
POISON_BUDGET_SECONDS = 120.0  # a bound on the run's time: examples after it are drawn but not sent
NON_FINITE = st.sampled_from([math.nan, math.inf, -math.inf])
LONE_SURROGATE = st.tuples(st.text(max_size=4), st.characters(categories=["Cs"]), st.text(max_size=4)).map("".join)


def poisoned(body: Any, poison: Any, data: st.DataObject) -> Any:
    """``body`` with ``poison`` in one place drawn from ``data``: instead of a value, as a new value, or as a key."""
    places: list[tuple[Any, Any]] = []  # (container, key or index; None: add to it)
    stack = [body]
    while stack:
        item = stack.pop()
        if isinstance(item, dict):
            places += [(item, key) for key in item] + [(item, None)]
            stack += list(item.values())
        elif isinstance(item, list):
            places += [(item, index) for index in range(len(item))] + [(item, None)]
            stack += item
    if not places:
        return poison  # a body that is one number or string: the poison is the body
    container, where = data.draw(st.sampled_from(places))
    if isinstance(container, list):
        container.insert(len(container) if where is None else where, poison)
    elif isinstance(poison, str) and data.draw(st.booleans()):
        container[poison] = container.pop(where) if where is not None else 1  # a poisoned key
    else:
        container["extra" if where is None else where] = poison
    return body


def test_non_finite_numbers_and_lone_surrogates_in_any_body_get_a_422(live_url):
    schema = schemathesis.openapi.from_url(f"{live_url}/openapi.json")
    operation = schema["/api/search/text"]["POST"]
    sent: Counter[str] = Counter()
    stop = time.monotonic() + POISON_BUDGET_SECONDS
    for mode in (GenerationMode.POSITIVE, GenerationMode.NEGATIVE):

        @given(case=operation.as_strategy(mode), poison=NON_FINITE | LONE_SURROGATE, data=st.data())
        @settings(
            max_examples=POISONED_EXAMPLES,
            deadline=None,
            suppress_health_check=list(HealthCheck),
            database=None,
            phases=[Phase.generate],  # no shrinking: a failure is reported as found, within the time bound
        )
        def fuzz(case, poison, data):
            # Python's encoder writes NaN/Infinity and escapes a lone surrogate as \udXXX: what an attacker sends
            body = json.dumps(poisoned(case.body, poison, data)).encode()
            if time.monotonic() > stop:  # drawn all the same, so that hypothesis sees the same draws every time
                sent["over budget"] += 1
                return
            case.body = body
            response = case.call_and_validate(
                checks=[not_a_server_error, status_code_conformance, response_schema_conformance], timeout=30
            )
            assert response.status_code == 422, (case.body[:200], response.text[:500])
            detail = response.json()["detail"]
            assert detail.startswith("the request body is not valid JSON: ") and "\n" not in detail, detail
            sent["non-finite" if isinstance(poison, float) else "surrogate"] += 1

        fuzz()
    assert sent["non-finite"] >= 10 and sent["surrogate"] >= 10, sent  # both kinds were sent, and answered
