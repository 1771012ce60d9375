"""Tenant B is careless and hostile at once: a misconfigured account with a campaign through it,
forged and broken commands on ``campaign.commands``, oversized request bodies. Tenant A sends a
paced campaign meanwhile, and a second time on its own; its send rate is the same within 10%,
and nothing of A's is visible to B.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from herald_devstack.processes import free_port
from tests.system import (
    RunningStack,
    add_account,
    gateway_client,
    launch_campaign,
    phones,
    wait_for_statuses,
)

pytestmark = pytest.mark.e2e

A_MESSAGES = 40
B_MESSAGES = 120  # under an account's hourly cap (150): every one is tried now
RATE_TOLERANCE = 0.10


@dataclass
class Tenant:
    name: str
    api: httpx.AsyncClient
    campaigns: list[str] = field(default_factory=list)


@pytest.fixture
async def gateways(stack: RunningStack) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    async with (
        gateway_client(stack, stack.primary_gateway) as primary,
        gateway_client(stack, stack.fallback_gateway) as fallback,
    ):
        yield primary, fallback


async def tenant(stack: RunningStack, name: str) -> Tenant:
    """A tenant and its key, made through the admin API as an operator would."""
    admin = {"Authorization": f"Bearer {stack.config.admin_token}"}
    async with httpx.AsyncClient(base_url=stack.api, headers=admin, timeout=60) as operator:
        created = await operator.post("/api/admin/tenants", json={"id": name, "name": name})
        assert created.status_code == 201, created.text
        issued = await operator.post(f"/api/admin/tenants/{name}/keys", json={"name": "test"})
        assert issued.status_code == 201, issued.text
    token = issued.json()["token"]
    client = httpx.AsyncClient(
        base_url=stack.api, headers={"Authorization": f"Bearer {token}"}, timeout=60
    )
    return Tenant(name, client)


def send_rate(messages: list[dict[str, Any]]) -> float:
    """Sends per second between the first and the last send of a campaign."""
    times: list[datetime] = sorted(m["sentAt"] for m in messages)
    return (len(times) - 1) / (times[-1] - times[0]).total_seconds()


async def paced_run(
    mongo: AsyncMongoClient[dict[str, Any]], stack: RunningStack, a: Tenant, prefix: str
) -> float:
    campaign = await launch_campaign(a.api, phones(A_MESSAGES, prefix=prefix), delay_type="fast")
    a.campaigns.append(campaign)
    sent = await wait_for_statuses(mongo, stack, campaign, A_MESSAGES, {"sent"}, timeout=120)
    return send_rate(sent)


def command(tenant_id: str, kind: str, **fields: Any) -> bytes:
    body = {"type": kind, "event_id": uuid.uuid4().hex, "tenant_id": tenant_id, **fields}
    return json.dumps(body).encode()


@dataclass
class Mischief:
    """What tenant B did while A was sending."""

    refused_bodies: int = 0
    commands: int = 0
    rounds: int = 0


async def keep_doing(stop: asyncio.Event, act: Callable[[], Awaitable[None]]) -> None:
    """``act`` about twice a second until ``stop``: as often as a client that keeps retrying
    would, not as fast as this machine's two cores allow (that would measure the CPU, which
    tenants do not share in production: each service has its own)."""
    while not stop.is_set():
        await asyncio.gather(act(), asyncio.sleep(0.5))


async def stream(head: bytes, unit: bytes, size: int) -> AsyncIterator[bytes]:
    """``head`` then ``unit`` repeated to ``size`` bytes, sent chunked (no length declared), so
    the service must count as it reads."""
    yield head
    chunk = unit * (64 * 1024 // len(unit))
    for _ in range(size // len(chunk) + 1):
        yield chunk


async def hostile_tenant(
    stack: RunningStack,
    b: Tenant,
    campaign_id: str,
    receipt_token: str,
    stop: asyncio.Event,
    done: Mischief,
) -> None:
    """Oversized bodies on the API and the webhooks, and forged or broken commands on Kafka,
    again and again until ``stop``."""
    producer = AIOKafkaProducer(bootstrap_servers=stack.config.kafka_bootstrap)
    await producer.start()

    async def oversized() -> None:
        answers = await asyncio.gather(
            b.api.post(
                f"/api/campaigns/{campaign_id}/contacts",
                content=stream(b'{"contacts": [', b'{"phone": "+14155550000"},', 17 << 20),
                headers={"Content-Type": "application/json"},
            ),
            b.api.post(
                f"/api/webhooks/waha/{receipt_token}",
                content=stream(b'{"event": "message.ack", "x": "', b" ", 2 << 20),
                headers={"Content-Type": "application/json"},
            ),
        )
        assert [a.status_code for a in answers] == [413, 413], [a.text for a in answers]
        done.refused_bodies += 2

    async def forged() -> None:
        key = campaign_id.encode()
        records = [
            b"\xff not json at all",
            command(b.name, "campaign.send", campaign_id=campaign_id, cron="0 0 30 2 *"),
            command(
                b.name,
                "campaign.run",
                campaign_id=campaign_id,
                schedule_id="sch_system-redrive",
                scheduled_for=datetime.now(UTC).isoformat(),
            ),
            command(b.name, "campaign.pause", campaign_id=campaign_id, by="system"),
            command(b.name, "campaign.create", campaign_id="x" * 500, name="n", message_body="b"),
        ]
        for record in records:
            await producer.send_and_wait("campaign.commands", record, key=key)
        done.commands += len(records)

    async def round_of_both() -> None:
        await asyncio.gather(oversized(), forged())
        done.rounds += 1

    try:
        await keep_doing(stop, round_of_both)
    finally:
        await producer.stop()


async def test_a_careless_hostile_tenant_neither_slows_nor_sees_another(
    stack: RunningStack,
    mongo: AsyncMongoClient[dict[str, Any]],
    gateways: tuple[httpx.AsyncClient, ...],
) -> None:
    run = uuid.uuid4().hex[:6]
    a = await tenant(stack, f"tenant-a-{run}")
    b = await tenant(stack, f"tenant-b-{run}")
    try:
        await add_account(a.api, stack, gateways, f"a-{run}", "+14155550120")

        # Tenant B: an account whose gateways answer nothing (a port no one listens on), and a
        # campaign of 200 through it.
        broken = await add_account(b.api, stack, gateways, f"b-{run}", "+14155550130")
        dead = f"http://127.0.0.1:{free_port()}"
        patched = await b.api.patch(
            f"/api/accounts/{broken['id']}",
            json={"primary": {"baseUrl": dead}, "fallback": {"baseUrl": dead}},
        )
        assert patched.status_code == 200, patched.text

        # 1. A alone.
        alone = await paced_run(mongo, stack, a, "+1628")

        # 2. A again, while B does all it can.
        b_campaign = await launch_campaign(b.api, phones(B_MESSAGES, prefix="+1629"))
        b.campaigns.append(b_campaign)
        stop = asyncio.Event()
        done = Mischief()
        mischief = asyncio.create_task(
            hostile_tenant(stack, b, b_campaign, broken["receiptUrls"]["token"], stop, done)
        )
        try:
            beside_b = await paced_run(mongo, stack, a, "+1630")
        finally:
            stop.set()
            await mischief

        print(f"tenant A: {alone:.2f} sends/s alone, {beside_b:.2f} beside B ({done})")
        assert done.rounds >= 3, done  # B kept at it all through A's run
        assert abs(beside_b / alone - 1) <= RATE_TOLERANCE, (alone, beside_b)

        # B's messages all ended (failed, with the gateway's reason), none is stuck.
        failed = await wait_for_statuses(
            mongo, stack, b_campaign, B_MESSAGES, {"failed"}, timeout=180
        )
        assert {m["accountId"] for m in failed} == {broken["id"]}

        # B's forged scheduler commands were refused, each a dead letter of its own.
        forged = await b.api.get("/api/dead-letters", params={"reason": "system-only"})
        assert forged.status_code == 200, forged.text
        assert forged.json()["total"] >= 2 * done.rounds, forged.json()["total"]

        await nothing_of_a_visible_to_b(a, b)
    finally:
        await a.api.aclose()
        await b.api.aclose()


async def nothing_of_a_visible_to_b(a: Tenant, b: Tenant) -> None:
    listed = await b.api.get("/api/campaigns", params={"limit": 100})
    assert listed.status_code == 200, listed.text
    assert set(a.campaigns).isdisjoint(c["id"] for c in listed.json()["campaigns"])
    for campaign_id in a.campaigns:
        for path in (
            f"/api/campaigns/{campaign_id}",
            f"/api/messages/campaign/{campaign_id}/stats",
        ):
            answer = await b.api.get(path)
            assert answer.status_code == 404, (path, answer.status_code, answer.text)
        # Nor can B act on it.
        cancelled = await b.api.post(f"/api/campaigns/{campaign_id}/cancel")
        assert cancelled.status_code == 404, cancelled.text
    accounts = (await b.api.get("/api/accounts")).json()
    assert all(not acc["name"].startswith("a-") for acc in accounts["accounts"]), accounts
    dead_letters = await b.api.get("/api/dead-letters", params={"limit": 100})
    assert dead_letters.status_code == 200, dead_letters.text
    assert all(d.get("campaignId") not in a.campaigns for d in dead_letters.json()["deadLetters"])
