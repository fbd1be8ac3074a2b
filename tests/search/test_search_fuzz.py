"""Property-based fuzzing of the service's OpenAPI spec (schemathesis) against the real server.

Valid and invalid requests for every operation: no 5xx, every status code is documented, and
every response matches its documented schema.
"""

from __future__ import annotations

from collections import Counter

import schemathesis
from hypothesis import HealthCheck, given, settings
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
