"""The MongoDB-wire server SIGKILLed three times in the middle of a campaign, and started again
on the same data each time: mid fan-out, mid send, and while delivery receipts pour in.

A claim is acknowledged only once journaled, so an acknowledged claim survives the crash and is
never claimed, and sent, twice; a sender that called the gateway records the outcome through the
outage instead of handling its record again. So the gateways saw every message at most once,
every message ends (sent, delivered, or failed as ``outcome-unknown`` when the claim's sender
could not learn what happened), and once the sweep has run the counters equal a recount.

The second test also kills the primary sender at the moment of the second crash: what it had
claimed is left to the expired-claim policy (``outcome-unknown``), never resent.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from herald_devstack.processes import wait_ready
from herald_devstack.waiting import eventually
from herald_infra.messages.counters import recount
from tests import infra
from tests.system import (
    RunningStack,
    Sweep,
    launch_campaign,
    messages_of,
    no_duplicate_sends,
    phones,
    running_stack,
    stack_config,
    sweeper,
)

pytestmark = pytest.mark.e2e

CAMPAIGN_SIZE = 1500
OUTAGE_SECONDS = 5.0
CRASH_ENV = {
    "HERALD_ATTEMPT_PLAN": "primary, fallback, fallback@3s",
    # Longer than an outage: a sender that waits for the database is slow, not dead. A dead
    # one's claims run out soon after, for the sweep.
    "HERALD_CLAIM_LEASE_SECONDS": "20",
    "HERALD_CIRCUIT_FAILURE_THRESHOLD": "100000",
    "HERALD_GATEWAY_TIMEOUT_SECONDS": "5",
}
SIMULATOR_CONFIG = {
    # A campaign long enough to crash the database three times in it.
    "latencyMs": 8,
    "receipts": True,
    "receiptDelayMs": 300,
}
FINISHED = {"sent", "delivered", "failed"}


@pytest.fixture(scope="module")
def database_server() -> Iterator[infra.LocalServer]:
    """A MongoDB-wire server of this module's own: killing it disturbs no other test."""
    if infra.servers_from_docker():
        pytest.skip(
            "this run takes its servers from Docker, and the crash needs a MongoDB-wire server "
            "of its own that deploy/local/mongo.sh restarts on the same data "
            "(HERALD_TEST_INFRA=local)"
        )
    with infra.restartable_local_mongodb() as server:
        yield server


@pytest.fixture(scope="module")
def stack(
    kafka_bootstrap: str,
    database_server: infra.LocalServer,
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[RunningStack]:
    config = stack_config(
        kafka_bootstrap,
        database_server.address,
        tmp_path_factory.mktemp("herald-database-crash"),
        CRASH_ENV,
    )
    with running_stack(config) as running:
        yield running


async def count(
    mongo: AsyncMongoClient[dict[str, Any]], stack: RunningStack, campaign_id: str, status: str
) -> int:
    return await mongo[stack.config.database]["messages"].count_documents(
        {"campaignId": campaign_id, "status": status}
    )


async def count_out(
    mongo: AsyncMongoClient[dict[str, Any]], stack: RunningStack, campaign_id: str
) -> int:
    """Messages the senders have recorded as accepted by a gateway (sent, or already
    delivered)."""
    return await mongo[stack.config.database]["messages"].count_documents(
        {"campaignId": campaign_id, "status": {"$in": ["sent", "delivered"]}}
    )


async def crash_database(server: infra.LocalServer, *, also: list[Any] | None = None) -> None:
    """SIGKILL the database (and ``also`` these processes at the same moment), keep it down
    for the outage, then start it again on the same data."""
    await asyncio.to_thread(server.kill)
    for process in also or []:
        process.kill()
    # How long the database stays down is the test's input, not a condition to wait for.
    await asyncio.sleep(OUTAGE_SECONDS)
    await asyncio.to_thread(server.start)
    for process in also or []:
        process.start()
    if also:
        wait_ready(also, timeout=120)


async def run_with_three_crashes(
    api: httpx.AsyncClient,
    stack: RunningStack,
    server: infra.LocalServer,
    mongo: AsyncMongoClient[dict[str, Any]],
    gateways: tuple[httpx.AsyncClient, ...],
    *,
    prefix: str,
    kill_with_second_crash: list[Any] | None = None,
) -> str:
    for gateway in gateways:
        configured = await gateway.put("/_sim/config", json=SIMULATOR_CONFIG)
        assert configured.status_code == 200, configured.text
    campaign_id = await launch_campaign(api, phones(CAMPAIGN_SIZE, prefix=prefix))
    # 1. Mid fan-out: the send was accepted, the dispatcher is turning contacts into messages.
    await crash_database(server)
    # 2. Mid send.
    await eventually(
        lambda: count_out(mongo, stack, campaign_id),
        lambda out: out >= CAMPAIGN_SIZE // 3,
        timeout=180,
        interval=0.05,
        what="a third of the campaign sent",
    )
    await crash_database(server, also=kill_with_second_crash)
    # 3. While delivery receipts pour in.
    await eventually(
        lambda: count(mongo, stack, campaign_id, "delivered"),
        lambda delivered: delivered >= CAMPAIGN_SIZE // 2,
        timeout=180,
        interval=0.05,
        what="half the campaign delivered",
    )
    await crash_database(server)
    return campaign_id


async def settled(
    stack: RunningStack, mongo: AsyncMongoClient[dict[str, Any]], campaign_id: str
) -> None:
    """Run the sweep as the scheduler would, again and again (expired claims by policy, then,
    once every message has ended and no receipt moves them meanwhile, the counters), until every
    message of the campaign has ended and its counters equal a recount. A crash may lose the
    last counter increments (they are written without the journal): the sweep corrects them."""
    db = mongo[stack.config.database]

    async def sweep_and_compare(sweep: Sweep) -> tuple[int, dict[str, int], dict[str, int]]:
        busy = await sweep(campaign_id)
        campaign = await db["campaigns"].find_one({"_id": campaign_id}, {"counts": 1})
        actual = await recount(db, campaign_id)
        counters = (campaign or {}).get("counts") or {}
        return busy, {k: int(counters.get(k, 0)) for k in actual}, actual

    async with sweeper(stack) as sweep:
        await eventually(
            lambda: sweep_and_compare(sweep),
            lambda found: found[0] == 0 and found[1] == found[2],
            timeout=300,
            interval=1.0,
            what="every message ended and the counters equal a recount",
        )


async def check_outcome(
    api: httpx.AsyncClient,
    stack: RunningStack,
    mongo: AsyncMongoClient[dict[str, Any]],
    gateways: tuple[httpx.AsyncClient, ...],
    campaign_id: str,
    *,
    most_unknown: int,
) -> None:
    # Receipts of the last sends may still be on their way; the gateways' ledgers are final.
    messages = await messages_of(mongo, stack, campaign_id)
    assert len(messages) == CAMPAIGN_SIZE, "a contact got no message"
    statuses = Counter(m["status"] for m in messages)
    assert set(statuses) <= FINISHED, statuses

    accepted = await no_duplicate_sends(*gateways)
    unknown = [m for m in messages if m["status"] == "failed"]
    assert all(m["failedReason"] == "outcome-unknown" for m in unknown), unknown[:3]
    assert len(unknown) <= most_unknown, (len(unknown), statuses)
    for m in messages:
        if m["status"] != "failed":
            assert accepted.get(m["_id"]) == 1, m

    # The counters already equal a recount (settled() waited for it); the API shows them.
    stats = await api.get(f"/api/messages/campaign/{campaign_id}/stats")
    assert stats.status_code == 200, stats.text
    assert stats.json()["total"] == CAMPAIGN_SIZE


async def test_database_crashes_lose_nothing_and_send_nothing_twice(
    api: httpx.AsyncClient,
    stack: RunningStack,
    database_server: infra.LocalServer,
    mongo: AsyncMongoClient[dict[str, Any]],
    primary: httpx.AsyncClient,
    fallback: httpx.AsyncClient,
) -> None:
    gateways = (primary, fallback)
    campaign_id = await run_with_three_crashes(
        api, stack, database_server, mongo, gateways, prefix="+1206"
    )
    await settled(stack, mongo, campaign_id)
    # Every sender lives through the crashes: each learns its claims' fate, or takes a claim
    # whose acknowledgement was lost up again. At most one unknown per crash and sender.
    await check_outcome(api, stack, mongo, gateways, campaign_id, most_unknown=3 * 2)


async def test_a_sender_killed_with_the_database_resends_nothing(
    api: httpx.AsyncClient,
    stack: RunningStack,
    database_server: infra.LocalServer,
    mongo: AsyncMongoClient[dict[str, Any]],
    primary: httpx.AsyncClient,
    fallback: httpx.AsyncClient,
) -> None:
    gateways = (primary, fallback)
    sender = stack.processes["primary-sender"]
    campaign_id = await run_with_three_crashes(
        api,
        stack,
        database_server,
        mongo,
        gateways,
        prefix="+1207",
        kill_with_second_crash=[sender],
    )
    await settled(stack, mongo, campaign_id)
    # The killed sender's claims are unknown: one lane per account, and this tenant sends from
    # one account, so at most one message in flight at the kill, plus one per other crash.
    await check_outcome(api, stack, mongo, gateways, campaign_id, most_unknown=1 + 3 * 2)
