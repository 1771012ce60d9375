"""Herald as real processes with a short attempt plan, for the delivery-guarantee tests.

The plan is the seed's with a 3-second back-off, so the third attempt is due within a test;
claims expire after 4 seconds; the circuit breaker is out of the way (its own tests tune it).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from tests.system import (
    RunningStack,
    api_client,
    gateway_client,
    running_stack,
    set_gateway_mode,
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


@pytest.fixture
async def api(stack: RunningStack) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(stack) as client:
        yield client


@pytest.fixture
async def mongo(stack: RunningStack) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.config.mongodb_url)
    yield client
    await client.close()


@pytest.fixture
async def primary(stack: RunningStack) -> AsyncIterator[httpx.AsyncClient]:
    """The primary (NOWEB) gateway simulator; every test starts and ends with it healthy."""
    async with gateway_client(stack, stack.primary_gateway) as client:
        await set_gateway_mode(client, "ok")
        yield client
        await set_gateway_mode(client, "ok")


@pytest.fixture
async def fallback(stack: RunningStack) -> AsyncIterator[httpx.AsyncClient]:
    """The fallback (WEBJS) gateway simulator; every test starts and ends with it healthy."""
    async with gateway_client(stack, stack.fallback_gateway) as client:
        await set_gateway_mode(client, "ok")
        yield client
        await set_gateway_mode(client, "ok")
