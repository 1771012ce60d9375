"""Herald as real processes with a short attempt plan, for the delivery-guarantee tests.

The plan is the seed's with a 3-second back-off, so the third attempt is due within a test;
claims expire after 4 seconds; the circuit breaker is out of the way (its own tests tune it).
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.system import (
    RunningStack,
    running_stack,
    stack_config,
)

BACK_OFF_SECONDS = 3.0
LEASE_SECONDS = 4.0
DELIVERY_ENV = {
    "HERALD_ATTEMPT_PLAN": f"primary, fallback, fallback@{BACK_OFF_SECONDS:g}s",
    "HERALD_CLAIM_LEASE_SECONDS": f"{LEASE_SECONDS:g}",
    "HERALD_CIRCUIT_FAILURE_THRESHOLD": "100000",
    "HERALD_GATEWAY_TIMEOUT_SECONDS": "5",
}
RETRY_TOPIC = f"message.retry.{BACK_OFF_SECONDS:g}s"


@pytest.fixture(scope="package")
def stack(
    kafka_bootstrap: str, mongodb_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    config = stack_config(
        kafka_bootstrap, mongodb_url, tmp_path_factory.mktemp("herald-delivery"), DELIVERY_ENV
    )
    with running_stack(config) as running:
        yield running
