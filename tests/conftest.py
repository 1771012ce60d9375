"""Clients of the stack a test package runs (its ``stack`` fixture): the API with the
operator's token, MongoDB, and the two gateway simulators, healthy at the start and end of each
test."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from tests.notification_receiver import receiver
from tests.system import (
    RunningStack,
    api_client,
    gateway_client,
    set_gateway_session,
)

__all__ = ["receiver"]  # a fixture for every package: a webhook receiver


@pytest.fixture
async def api(stack: RunningStack) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(stack) as client:
        yield client


@pytest.fixture
async def mongo(stack: RunningStack) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(stack.config.mongodb_url)
    yield client
    await client.close()


async def _healthy(gateway: httpx.AsyncClient) -> None:
    """Back to the simulator's start-up faults (none) with its session working."""
    reset = await gateway.delete("/_sim/config")
    assert reset.status_code == 200, reset.text
    await set_gateway_session(gateway, "WORKING")


@pytest.fixture
async def primary(stack: RunningStack) -> AsyncIterator[httpx.AsyncClient]:
    """The primary (NOWEB) gateway simulator; every test starts and ends with it healthy."""
    async with gateway_client(stack, stack.primary_gateway) as client:
        await _healthy(client)
        yield client
        await _healthy(client)


@pytest.fixture
async def fallback(stack: RunningStack) -> AsyncIterator[httpx.AsyncClient]:
    """The fallback (WEBJS) gateway simulator; every test starts and ends with it healthy."""
    async with gateway_client(stack, stack.fallback_gateway) as client:
        await _healthy(client)
        yield client
        await _healthy(client)
