"""The Kafka broker stopped in the middle of a campaign and started again on the same data.

The services ride out the outage: they report Kafka unreachable while it is down, reconnect
when it is back, and finish the campaign. Offsets follow durability, so what was in flight is
consumed again and skipped by its claim: nothing is lost, nothing is sent twice, and the
counters agree with the messages.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from herald_core.messages.states import TERMINAL_STATUSES
from herald_devstack.stack import SERVICES
from herald_devstack.waiting import eventually
from herald_infra.messages.counters import recount
from tests import infra
from tests.system import (
    RunningStack,
    launch_campaign,
    messages_of,
    no_duplicate_sends,
    phones,
    running_stack,
    stack_config,
)

pytestmark = pytest.mark.e2e

CAMPAIGN_SIZE = 1000
OUTAGE_SECONDS = 10.0
OUTAGE_ENV = {
    "HERALD_ATTEMPT_PLAN": "primary, fallback, fallback@3s",
    # Longer than the outage: a sender that waits for Kafka is slow, not dead.
    "HERALD_CLAIM_LEASE_SECONDS": "30",
    "HERALD_CIRCUIT_FAILURE_THRESHOLD": "100000",
    "HERALD_GATEWAY_TIMEOUT_SECONDS": "5",
}
# A few primary sends fail and go to the fallback, so that both senders have work after the
# restart: their consumers must rejoin, not only their readiness checks reconnect.
PRIMARY_FAILURE_RATE = 0.05


@pytest.fixture(scope="module")
def kafka() -> Iterator[infra.LocalServer]:
    """A broker of this module's own: stopping it disturbs no other test."""
    if infra.servers_from_docker():
        pytest.skip(
            "this run takes its servers from Docker, and the outage needs a broker of its own "
            "that deploy/local/kafka.sh restarts on the same data (HERALD_TEST_INFRA=local)"
        )
    with infra.restartable_local_kafka() as server:
        yield server


@pytest.fixture(scope="module")
def stack(
    kafka: infra.LocalServer, mongodb_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    config = stack_config(
        kafka.address, mongodb_url, tmp_path_factory.mktemp("herald-kafka-outage"), OUTAGE_ENV
    )
    with running_stack(config) as running:
        yield running


async def count_sent(
    mongo: AsyncMongoClient[dict[str, Any]], stack: RunningStack, campaign_id: str
) -> int:
    return await mongo[stack.config.database]["messages"].count_documents(
        {"campaignId": campaign_id, "status": "sent"}
    )


async def count_unfinished(
    mongo: AsyncMongoClient[dict[str, Any]], stack: RunningStack, campaign_id: str
) -> int:
    terminal = [s.value for s in TERMINAL_STATUSES]
    return await mongo[stack.config.database]["messages"].count_documents(
        {"campaignId": campaign_id, "status": {"$nin": terminal}}
    )


async def kafka_states(stack: RunningStack) -> dict[str, str]:
    """What each service's ``/readyz`` says about Kafka; every service must still be running."""

    async def kafka_state(client: httpx.AsyncClient, service: str) -> str:
        process = stack.processes[service]
        assert process.pid() is not None, f"{service} exited:\n{process.log_tail()}"
        response = await client.get(f"{stack.service_url(service)}/readyz")
        return str(response.json()["checks"]["kafka"])

    async with httpx.AsyncClient(timeout=10) as client:
        states = await asyncio.gather(*(kafka_state(client, s) for s in SERVICES))
    return dict(zip(SERVICES, states, strict=True))


async def test_a_kafka_outage_mid_campaign_loses_nothing_and_sends_nothing_twice(
    api: httpx.AsyncClient,
    stack: RunningStack,
    kafka: infra.LocalServer,
    mongo: AsyncMongoClient[dict[str, Any]],
    primary: httpx.AsyncClient,
    fallback: httpx.AsyncClient,
) -> None:
    configured = await primary.put("/_sim/config", json={"failureRate": PRIMARY_FAILURE_RATE})
    assert configured.status_code == 200, configured.text
    campaign_id = await launch_campaign(api, phones(CAMPAIGN_SIZE, prefix="+1312"))
    await eventually(
        lambda: count_sent(mongo, stack, campaign_id),
        lambda sent: sent >= 100,
        timeout=60,
        interval=0.05,
        what="the campaign under way",
    )

    await asyncio.to_thread(kafka.stop)
    down_since = time.monotonic()
    assert await count_sent(mongo, stack, campaign_id) < CAMPAIGN_SIZE, "stopped too late"
    await eventually(
        lambda: kafka_states(stack),
        lambda states: set(states.values()) == {"unreachable"},
        timeout=OUTAGE_SECONDS,
        what="every service reporting Kafka unreachable",
    )
    # How long the broker stays down is the test's input, not a condition to wait for.
    await asyncio.sleep(OUTAGE_SECONDS - (time.monotonic() - down_since))
    await asyncio.to_thread(kafka.start)
    restarted_at = datetime.now(UTC).replace(tzinfo=None)  # MongoDB gives naive UTC times
    await eventually(
        lambda: kafka_states(stack),
        lambda states: set(states.values()) == {"ok"},
        timeout=60,
        what="every service reconnected to Kafka",
    )

    await eventually(
        lambda: count_unfinished(mongo, stack, campaign_id),
        lambda unfinished: unfinished == 0,
        timeout=90,
        interval=0.5,
        what="every message of the campaign terminal",
    )
    # No process died and the outage is shorter than a claim's lease: nothing is left to the
    # sweep ("outcome unknown"), every message went out, and once only.
    messages = await messages_of(mongo, stack, campaign_id)
    assert len(messages) == CAMPAIGN_SIZE
    assert {m["status"] for m in messages} == {"sent"}
    accepted = await no_duplicate_sends(primary, fallback)
    assert set(accepted) == {m["_id"] for m in messages}
    after_restart = Counter(m["deliveryMethod"] for m in messages if m["sentAt"] > restarted_at)
    assert after_restart["baileys"] > 0 and after_restart["web-js"] > 0, after_restart

    # The counters the senders moved (no sweep reconciled them) agree with the messages.
    campaign = await mongo[stack.config.database]["campaigns"].find_one({"_id": campaign_id})
    assert campaign is not None
    actual = await recount(mongo[stack.config.database], campaign_id)
    assert {k: int(campaign["counts"].get(k, 0)) for k in actual} == actual
    stats = await api.get(f"/api/messages/campaign/{campaign_id}/stats")
    assert stats.status_code == 200, stats.text
    assert stats.json() == {
        "total": CAMPAIGN_SIZE,
        "pending": 0,
        "sent": CAMPAIGN_SIZE,
        "delivered": 0,
        "failed": 0,
        "notOnWhatsapp": 0,
        "successRate": "100.00",
        "suppressed": 0,
        "replied": 0,
        "optedOut": 0,
        "replyRate": "0.00",
        "optOutRate": "0.00",
    }
