"""The circuit breaker of a sender account's primary engine, seen as an operator sees it.

A primary gateway that keeps failing (or whose session is down) is skipped for the account:
its messages go straight to the fallback until the cool-down is over; the open circuit shows
in ``queue-stats`` and in the primary sender's ``herald_circuit_state`` gauge. Once the
primary is healthy again, the first send after the cool-down tries it and closes the circuit.
A session the sender's health check found down is not even called.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from herald_devstack.waiting import eventually
from tests.system import (
    RunningStack,
    launch_campaign,
    metric_value,
    phones,
    running_stack,
    sends_of,
    set_gateway_mode,
    set_gateway_session,
    stack_config,
    wait_for_statuses,
)

pytestmark = pytest.mark.e2e

ACCOUNT = "acct-circuit"
THRESHOLD = 3
COOLDOWN_SECONDS = 15.0
CIRCUIT_ENV = {
    "HERALD_DEFAULT_ACCOUNT_ID": ACCOUNT,
    "HERALD_ATTEMPT_PLAN": "primary, fallback, fallback@3s",
    "HERALD_CIRCUIT_FAILURE_THRESHOLD": str(THRESHOLD),
    "HERALD_CIRCUIT_COOLDOWN_SECONDS": f"{COOLDOWN_SECONDS:g}",
    "HERALD_GATEWAY_TIMEOUT_SECONDS": "5",
    "HERALD_SESSION_POLL_SECONDS": "1",
}
CAMPAIGN_SIZE = 8


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str, mongodb_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    config = stack_config(
        kafka_bootstrap, mongodb_url, tmp_path_factory.mktemp("herald-circuit"), CIRCUIT_ENV
    )
    with running_stack(config) as running:
        yield running


async def primary_circuit(api: httpx.AsyncClient) -> dict[str, Any] | None:
    """The account's primary circuit as ``GET /api/messages/queue-stats`` shows it."""
    stats = await api.get("/api/messages/queue-stats")
    assert stats.status_code == 200, stats.text
    for circuit in stats.json()["circuits"]:
        if (circuit["accountId"], circuit["engine"]) == (ACCOUNT, "primary"):
            return dict(circuit)
    return None


async def primary_circuit_gauge(stack: RunningStack) -> float | None:
    labels = {"account": ACCOUNT, "route": "primary"}
    return await metric_value(stack, "primary-sender", "herald_circuit_state", labels)


async def primary_session_reported(stack: RunningStack, status: str) -> None:
    """Wait until the primary sender's health check found its session in ``status``."""
    labels = {"account": ACCOUNT, "route": "primary", "status": status}

    async def reported() -> float | None:
        return await metric_value(stack, "primary-sender", "herald_session_status", labels)

    await eventually(reported, lambda v: v == 1.0, timeout=30, what=f"primary session {status}")


async def assert_primary_closed(api: httpx.AsyncClient, stack: RunningStack) -> None:
    circuit = await primary_circuit(api)
    if circuit is not None:  # a circuit that never changed has no record yet
        assert (circuit["state"], circuit["consecutiveFailures"]) == ("closed", 0), circuit
    assert await primary_circuit_gauge(stack) in (None, 0.0)


async def assert_primary_skipped_after(
    messages: list[dict[str, Any]], primary: httpx.AsyncClient, *, tried: int, outcome: str
) -> None:
    """Every message went out on the fallback, and only ``tried`` of them reached the primary
    (each once, refused with ``outcome``): the others skipped it because its circuit was open.
    The account's messages are sent one after another, so these were the first ``tried``."""
    assert {m["status"] for m in messages} == {"sent"}
    assert {m["deliveryMethod"] for m in messages} == {"web-js"}
    primary_requests = {m["_id"]: await sends_of(primary, m["_id"]) for m in messages}
    reached = {i: [r["outcome"] for r in rs] for i, rs in primary_requests.items() if rs}
    assert list(reached.values()) == [[outcome]] * tried, reached
    skipped = [m for m in messages if m["_id"] not in reached]
    assert [m["attempts"][0]["reason"] for m in skipped] == ["circuit-open"] * len(skipped)


async def assert_primary_open(
    api: httpx.AsyncClient, stack: RunningStack, *, failures: int, reason: str
) -> datetime:
    """The open circuit in queue-stats and in the gauge; returns when it stays open until."""
    circuit = await primary_circuit(api)
    assert circuit is not None
    assert (circuit["state"], circuit["consecutiveFailures"], circuit["reason"]) == (
        "open",
        failures,
        reason,
    ), circuit
    assert await primary_circuit_gauge(stack) == 1.0
    open_until = datetime.fromisoformat(circuit["openUntil"])
    assert 0 < (open_until - datetime.now(UTC)).total_seconds() <= COOLDOWN_SECONDS
    return open_until


async def assert_primary_recovers(
    api: httpx.AsyncClient,
    stack: RunningStack,
    mongo: AsyncMongoClient[dict[str, Any]],
    primary: httpx.AsyncClient,
    open_until: datetime,
) -> None:
    """Once the cool-down is over, a campaign goes out on the primary and closes the circuit."""

    async def now() -> datetime:
        return datetime.now(UTC)

    await eventually(now, lambda t: t >= open_until, timeout=COOLDOWN_SECONDS + 5, what="cool-down")
    campaign_id = await launch_campaign(api, phones(CAMPAIGN_SIZE, prefix="+1646"))
    messages = await wait_for_statuses(mongo, stack, campaign_id, CAMPAIGN_SIZE, {"sent"})
    assert {m["deliveryMethod"] for m in messages} == {"baileys"}
    for message in messages:
        assert [r["outcome"] for r in await sends_of(primary, message["_id"])] == ["accepted"]
    circuit = await primary_circuit(api)
    assert circuit is not None
    assert (circuit["state"], circuit["consecutiveFailures"]) == ("closed", 0), circuit
    assert await primary_circuit_gauge(stack) == 0.0


async def test_repeated_primary_failures_open_its_circuit_until_it_is_healthy_again(
    api: httpx.AsyncClient,
    stack: RunningStack,
    mongo: AsyncMongoClient[dict[str, Any]],
    primary: httpx.AsyncClient,
    fallback: httpx.AsyncClient,
) -> None:
    await assert_primary_closed(api, stack)
    await set_gateway_mode(primary, "fail_5xx")

    campaign_id = await launch_campaign(api, phones(CAMPAIGN_SIZE, prefix="+1212"))
    messages = await wait_for_statuses(mongo, stack, campaign_id, CAMPAIGN_SIZE, {"sent"})

    await assert_primary_skipped_after(messages, primary, tried=THRESHOLD, outcome="fail_5xx")
    open_until = await assert_primary_open(api, stack, failures=THRESHOLD, reason="gateway-error")
    await set_gateway_mode(primary, "ok")
    await assert_primary_recovers(api, stack, mongo, primary, open_until)


async def test_a_disconnected_primary_session_opens_its_circuit_at_once(
    api: httpx.AsyncClient,
    stack: RunningStack,
    mongo: AsyncMongoClient[dict[str, Any]],
    primary: httpx.AsyncClient,
    fallback: httpx.AsyncClient,
) -> None:
    await assert_primary_closed(api, stack)
    await set_gateway_session(primary, "STOPPED")
    await primary_session_reported(stack, "STOPPED")

    campaign_id = await launch_campaign(api, phones(CAMPAIGN_SIZE, prefix="+1718"))
    messages = await wait_for_statuses(mongo, stack, campaign_id, CAMPAIGN_SIZE, {"sent"})

    # The sender knew the session was down: the primary gateway was not called at all. The
    # first message failed as "session not connected", which opened the circuit at once.
    assert {m["deliveryMethod"] for m in messages} == {"web-js"}
    for message in messages:
        assert await sends_of(primary, message["_id"]) == []
    reasons = sorted(m["attempts"][0]["reason"] for m in messages)
    assert reasons == ["circuit-open"] * (CAMPAIGN_SIZE - 1) + ["session-not-connected"]
    open_until = await assert_primary_open(api, stack, failures=1, reason="session-not-connected")
    await set_gateway_session(primary, "WORKING")
    await primary_session_reported(stack, "WORKING")
    await assert_primary_recovers(api, stack, mongo, primary, open_until)
