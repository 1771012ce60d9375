from __future__ import annotations
import json
import schemathesis
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from .conftest import FuzzedService
from .test_campaign_api_fuzz import CHECKS, refusals_say_why, to_loopback, documented_operations
import pytest
pytestmark = pytest.mark.e2e

def test_scratch(campaign_api_schema, fuzzed_service: FuzzedService) -> None:
    docs = set(documented_operations())
    failures = []
    for result in campaign_api_schema.get_all_operations():
        operation = result.ok()
        label = f"{operation.method.upper()} {operation.path}"
        if label in docs:
            continue
        cases = st.one_of(operation.as_strategy(GenerationMode.POSITIVE), operation.as_strategy(GenerationMode.NEGATIVE))
        @given(case=cases)
        @settings(max_examples=25, deadline=None, database=None, derandomize=True, suppress_health_check=list(HealthCheck))
        def run(case):
            case.body = to_loopback(case.body)
            response = case.call(headers=fuzzed_service.auth)
            case.validate_response(response, checks=CHECKS, additional_checks=[refusals_say_why], headers=fuzzed_service.auth)
        try:
            run()
        except BaseException as e:
            failures.append(f"{label}: {str(e)[:1500]}")
    print("\n\n".join(failures))
    assert not failures
