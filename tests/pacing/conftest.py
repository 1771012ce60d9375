"""Herald with real anti-ban gaps (scaled down) and several sender processes per engine.

The pace scale makes the ``fast`` profile's 2-5 s gaps 100-250 ms, so a campaign of ten
accounts takes seconds; the primary gateway fails a share of sends at random, so the fallback
sender takes part in every account's pace too.
"""

from __future__ import annotations

import dataclasses
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from herald_devstack.processes import ManagedProcess, free_port
from tests.system import (
    RunningStack,
    gateway_client,
    running_stack,
    stack_config,
)

PACE_SCALE = 0.05
FAST_GAP = (2.0 * PACE_SCALE, 5.0 * PACE_SCALE)
PACING_ENV = {
    "HERALD_PACE_SCALE": f"{PACE_SCALE:g}",
    "HERALD_ATTEMPT_PLAN": "primary, fallback, fallback@1s",
    # Longer than an account can stay held by a dead sender (gateway timeout + 5 s), so a
    # message waiting for its account keeps its claim.
    "HERALD_CLAIM_LEASE_SECONDS": "10",
    "HERALD_CIRCUIT_FAILURE_THRESHOLD": "100000",
    "HERALD_SESSION_POLL_SECONDS": "1",
    # An account held by a sender that dies mid-send is free again after this (plus 5 s).
    "HERALD_GATEWAY_TIMEOUT_SECONDS": "1",
}


@pytest.fixture(scope="package")
def stack(
    kafka_bootstrap: str, mongodb_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    config = stack_config(
        kafka_bootstrap, mongodb_url, tmp_path_factory.mktemp("herald-pacing"), PACING_ENV
    )
    with running_stack(config) as running:
        yield running


def another_sender(stack: RunningStack, service: str, name: str) -> ManagedProcess:
    """One more process of a sender deployment (same consumer group), on ports of its own."""
    model = stack.processes[service]
    port = free_port()
    return dataclasses.replace(
        model,
        name=name,
        env={**model.env, "HERALD_HTTP_PORT": str(port), "HERALD_METRICS_PORT": str(free_port())},
        ready_url=f"{stack.config.url(port)}/readyz",
    )


@pytest.fixture
async def gateways(stack: RunningStack) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    """The primary gateway fails 30% of sends (retryably), the fallback none."""
    async with (
        gateway_client(stack, stack.primary_gateway) as primary,
        gateway_client(stack, stack.fallback_gateway) as fallback,
    ):
        failing = await primary.put("/_sim/config", json={"mode": "ok", "failureRate": 0.3})
        assert failing.status_code == 200, failing.text
        yield primary, fallback
        await primary.put("/_sim/config", json={"mode": "ok", "failureRate": 0.0})
