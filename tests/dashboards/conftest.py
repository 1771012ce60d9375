"""The dashboards' end-to-end test runs the whole system as real processes (gateway
simulators and the five services) on a stack of its own: an attempt plan whose delayed attempt
is due after one second (so a retry goes through a delay topic and the relay within the test),
circuits that open at the first failure, and sessions checked every second. Its clients
(``api``, ``mongo``, ``primary``, ``fallback``) come from tests/conftest.py; the other tests of
this package need no server.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from herald_infra.kafka.broker import build_broker
from herald_infra.runtime.settings import HeraldSettings
from tests.system import RunningStack, running_stack, stack_config

PLAN = "primary, fallback, fallback@1s"


# Package scope: the processes stop when this package's tests are done, so that tests after
# them can join the same consumer groups without these processes taking their partitions.
@pytest.fixture(scope="package")
def stack(
    kafka_bootstrap: str, mongodb_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    config = stack_config(
        kafka_bootstrap,
        mongodb_url,
        tmp_path_factory.mktemp("herald-dashboards"),
        {
            "HERALD_SEND_TOPIC_PARTITIONS": "48",
            "HERALD_ATTEMPT_PLAN": PLAN,
            "HERALD_CIRCUIT_FAILURE_THRESHOLD": "1",
            "HERALD_SESSION_POLL_SECONDS": "1",
            "HERALD_METRICS_REFRESH_SECONDS": "1",
            # Real, short anti-ban gaps (fast: 20-50 ms), so the gap histogram has values.
            "HERALD_PACE_SCALE": "0.01",
            # The package sends a few hundred messages within the hour over two accounts; a
            # new account's hourly cap (150) would defer some of them.
            "HERALD_ACCOUNT_HOURLY_CAP": "10000",
            "HERALD_ACCOUNT_DAILY_CAP": "100000",
        },
    )
    with running_stack(config) as running:
        yield running


@pytest.fixture(scope="module")
async def producer(stack: RunningStack) -> AsyncIterator[Any]:
    """A Kafka publisher on the stack's broker, as another service would have."""
    settings = HeraldSettings(kafka_bootstrap_servers=stack.config.kafka_bootstrap)
    broker = build_broker(settings, client_id="herald-test-dashboards")
    await broker.start()
    yield broker
    await broker.stop()
