"""The campaign API fuzzed from its own OpenAPI document (schemathesis), against the service as
a process on the real Kafka and MongoDB, with a registered token: for every operation the
document's examples and a few generated requests, valid and invalid, from a fixed seed. Every
answer is no 5xx, has a status, a content type and a body that the document gives for that
operation, and every 4xx says why (a 422 names a field the request sent or the document
declares)."""

from __future__ import annotations

import json
import os
from collections import Counter
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core.result import Err, Ok
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from .conftest import CLOSED_PORT, FuzzedService
from .error_answers import declared_names, refusal_problems, sent_names

pytestmark = pytest.mark.e2e

EXAMPLES_PER_OPERATION = int(os.environ.get("HERALD_FUZZ_EXAMPLES", "6"))
"""Generated requests per operation, valid and invalid: some 280 requests over the 53
operations, a couple of minutes on a 2-core machine. ``HERALD_FUZZ_EXAMPLES`` asks for more."""
MIN_CASES_PER_OPERATION = EXAMPLES_PER_OPERATION / 2
"""Fewer requests than this on average would mean that the fuzzer stopped trying (a filter
that throws away most cases); some operations have fewer distinct requests than asked for."""
MAX_UNAUTHORIZED_SHARE = 0.2
"""Most requests must get past the token check, or the fuzzer tests nothing but the 401."""

CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]

OPENAPI_DOCUMENT = Path(__file__).resolve().parents[2] / "docs" / "openapi.json"
HTTP_METHODS = frozenset({"get", "put", "post", "delete", "patch", "head", "options", "trace"})

statuses: Counter[tuple[str, int]] = Counter()
"""How often each operation answered each status in this session."""


def refusals_say_why(
    ctx: schemathesis.CheckContext, response: schemathesis.Response, case: schemathesis.Case[Any]
) -> bool | None:
    """A 4xx answer says why in ``error``; a 422 names the fields at fault."""
    if not 400 <= response.status_code < 500:
        return None
    try:
        body = json.loads(response.content)
    except ValueError:
        body = response.content[:200]
    document = case.operation.schema.raw_schema
    known = declared_names(document) | sent_names(
        case.body, case.query or {}, case.path_parameters or {}, case.headers or {}
    )
    problems = refusal_problems(response.status_code, body, known)
    assert not problems, "; ".join(problems)
    return None


def to_loopback(value: Any) -> Any:
    """``value`` with every http(s) URL in it pointed at a closed loopback port: the service
    fetches some of the URLs it is given, and this test talks to nothing but this machine."""
    if isinstance(value, dict):
        return {key: to_loopback(item) for key, item in value.items()}
    if isinstance(value, list):
        return [to_loopback(item) for item in value]
    if isinstance(value, str) and "://" in value:
        try:
            parts = urlsplit(value)
        except ValueError:
            return value
        if parts.scheme.lower() in ("http", "https") and parts.netloc:
            return urlunsplit(parts._replace(netloc=CLOSED_PORT))
    return value


def with_log_tail(service: FuzzedService, call: Callable[[], Any]) -> Any:
    """``call()``; a failure carries the end of the service's log (a 500's traceback)."""
    try:
        return call()
    except BaseException as failure:
        failure.add_note(f"--- the campaign service's log:\n{service.process.log_tail(40)}")
        raise


def documented_operations() -> list[str]:
    """The operations of docs/openapi.json (``POST /api/campaigns`` …), one test each; the
    live document lists the same (a test below checks)."""
    document = json.loads(OPENAPI_DOCUMENT.read_text())
    return [
        f"{method.upper()} {path}"
        for path, operations in document["paths"].items()
        for method in operations
        if method in HTTP_METHODS
    ]


@pytest.mark.parametrize("operation_label", documented_operations())
def test_operation_answers_as_documented(
    operation_label: str,
    campaign_api_schema: schemathesis.BaseSchema,
    fuzzed_service: FuzzedService,
) -> None:
    method, path = operation_label.split(" ", 1)
    operation = campaign_api_schema[path][method]
    cases = st.one_of(
        operation.as_strategy(GenerationMode.POSITIVE),
        operation.as_strategy(GenerationMode.NEGATIVE),
    )

    @given(case=cases)
    @settings(
        max_examples=EXAMPLES_PER_OPERATION,
        deadline=None,
        database=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    def answers_as_documented(case: schemathesis.Case[Any]) -> None:
        case.body = to_loopback(case.body)
        response = case.call(headers=fuzzed_service.auth)
        statuses[operation_label, response.status_code] += 1
        with_log_tail(
            fuzzed_service,
            lambda: case.validate_response(
                response,
                checks=CHECKS,
                additional_checks=[refusals_say_why],
                headers=fuzzed_service.auth,
            ),
        )

    answers_as_documented()


def test_the_live_document_lists_the_tested_operations(
    campaign_api_schema: schemathesis.BaseSchema,
) -> None:
    results = list(campaign_api_schema.get_all_operations())
    assert [r.err() for r in results if isinstance(r, Err)] == []
    live = {f"{r.ok().method.upper()} {r.ok().path}" for r in results if isinstance(r, Ok)}
    assert live == set(documented_operations()), "run `make docs` to refresh docs/openapi.json"


def test_the_fuzzer_reached_past_the_token_check() -> None:
    """The run above sent enough requests, to every operation, and most were authenticated."""
    if not statuses:
        pytest.skip("counts what test_operation_answers_as_documented sent in this session")
    total = sum(statuses.values())
    unauthorized = sum(n for (_, status), n in statuses.items() if status == 401)
    by_status = Counter[int]()
    for (_, status), n in statuses.items():
        by_status[status] += n
    operations = {operation for operation, _ in statuses}
    print(
        f"\nfuzzed {total} requests over {len(operations)} operations; answers by status: "
        + ", ".join(f"{status}: {n}" for status, n in sorted(by_status.items()))
    )
    assert set(documented_operations()) - operations == set()
    assert total >= MIN_CASES_PER_OPERATION * len(operations), total
    assert unauthorized <= MAX_UNAUTHORIZED_SHARE * total, (unauthorized, total)
