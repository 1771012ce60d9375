"""Recipients talk back, end to end (the five services and both gateway simulators as
processes, the simulators playing recipients with the real gateways' inbound events):

a 200-contact campaign over two accounts, where 10 recipients send STOP after their first
message and 20 reply. Not one further message reaches the 10, in this campaign or in a second
campaign launched afterwards (after the senders, the dispatcher and the campaign service were
restarted: the list lives in MongoDB); the simulators' ledgers prove it. The stats show 10
opted out and 20 replied, the events are on ``contact.events``, and another tenant's campaign
to the same 10 numbers is sent (the list is per tenant).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from herald_core.contracts.events import (
    ContactOptedOut,
    MessageReplied,
    contact_event_adapter,
)
from herald_core.contracts.topics import CONTACT_EVENTS
from herald_devstack.processes import wait_ready
from herald_devstack.topic_reader import TopicReader
from herald_devstack.waiting import eventually
from tests.system import (
    RunningStack,
    add_account,
    add_tenant_token,
    gateway_client,
    launch_campaign,
    phones,
    wait_for_statuses,
)

pytestmark = pytest.mark.e2e

CONTACTS = 200
STOPPING = 10
REPLYING = 20
SENT = {"sent", "delivered", "read"}
TIMEOUT = 120.0


async def tenant(
    stack: RunningStack, mongo: AsyncMongoClient[dict[str, Any]], name: str
) -> httpx.AsyncClient:
    token = await add_tenant_token(mongo, stack, f"{name}-{uuid.uuid4().hex[:6]}")
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.AsyncClient(base_url=stack.api, headers=headers, timeout=60)


@pytest.fixture
async def gateways(stack: RunningStack) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    async with (
        gateway_client(stack, stack.primary_gateway) as primary,
        gateway_client(stack, stack.fallback_gateway) as fallback,
    ):
        yield primary, fallback


async def received(gateways: tuple[httpx.AsyncClient, ...], phone: str) -> int:
    """How many messages reached ``phone`` through either simulator."""
    total = 0
    for gateway in gateways:
        answer = await gateway.get(f"/_sim/phones/{phone}")
        assert answer.status_code == 200, answer.text
        total += len(answer.json()["received"])
    return total


async def stats(api: httpx.AsyncClient, campaign_id: str) -> dict[str, Any]:
    answer = await api.get(f"/api/messages/campaign/{campaign_id}/stats")
    assert answer.status_code == 200, answer.text
    figures: dict[str, Any] = answer.json()
    return figures


def restart(stack: RunningStack, *names: str) -> None:
    for name in names:
        assert stack.processes[name].stop(), f"{name} did not stop"
    for name in names:
        stack.processes[name].start()
    wait_ready([stack.processes[name] for name in names], timeout=60)


async def test_stop_and_replies_end_to_end(
    stack: RunningStack,
    mongo: AsyncMongoClient[dict[str, Any]],
    gateways: tuple[httpx.AsyncClient, ...],
) -> None:
    primary_gw, fallback_gw = gateways
    run = uuid.uuid4().hex[:6]
    recipients = phones(CONTACTS, prefix="+1650")
    stopping, replying = recipients[:STOPPING], recipients[STOPPING : STOPPING + REPLYING]
    behaviours = [
        *({"phone": p, "optOutAfterFirst": True} for p in stopping),
        *({"phone": p, "replies": [{"text": "Thanks! See you", "afterMs": 200}]} for p in replying),
    ]
    for gateway in gateways:
        answer = await gateway.put("/_sim/recipients", json=behaviours)
        assert answer.status_code == 200, answer.text

    async with (
        await tenant(stack, mongo, "optouts") as api,
        TopicReader(stack.config.kafka_bootstrap, CONTACT_EVENTS) as events,
    ):
        for n in range(2):
            account = await add_account(
                api, stack, gateways, f"optout-{run}-{n}", f"+1415555019{n}"
            )
            # Room for both campaigns within the hour: the caps are not what this test is about.
            raised = await api.patch(
                f"/api/accounts/{account['id']}", json={"hourlyCap": 1000, "dailyCap": 1000}
            )
            assert raised.status_code == 200, raised.text
        empty = (await api.get("/api/suppressions")).json()  # the tenant's own list
        assert empty["count"] == 0

        # 1. The first campaign: every contact gets one message; 10 stop, 20 reply.
        first = await launch_campaign(api, recipients)
        await wait_for_statuses(mongo, stack, first, CONTACTS, SENT, timeout=TIMEOUT)
        figures = await eventually(
            lambda: stats(api, first),
            lambda f: f["optedOut"] == STOPPING and f["replied"] == REPLYING,
            timeout=60,
            what="10 opt-outs and 20 replies in the stats",
        )
        assert (figures["sent"], figures["suppressed"]) == (CONTACTS, 0)
        assert (figures["optOutRate"], figures["replyRate"]) == ("5.00", "10.00")

        listed = (await api.get("/api/suppressions", params={"limit": 100})).json()
        assert sorted(e["phone"] for e in listed["items"]) == sorted(stopping)
        assert {e["reason"] for e in listed["items"]} == {"keyword"}
        assert {e["source"]["campaignId"] for e in listed["items"]} == {first}

        records = await events.read_until(
            lambda got: (
                len([r for r in got if b"message.replied" in r.value or b"opted_out" in r.value])
                >= STOPPING + REPLYING
            ),
            timeout=30,
        )
        every = [contact_event_adapter.validate_json(r.value) for r in records]
        ours = [e for e in every if e.tenant_id.startswith("optouts-")]
        opted_out = {e.phone for e in ours if isinstance(e, ContactOptedOut)}
        replied = {e.phone for e in ours if isinstance(e, MessageReplied)}
        assert (opted_out, replied) == (set(stopping), set(replying))
        assert all(e.campaign_id == first for e in ours if isinstance(e, MessageReplied))

        # 2. Restarted, then a second campaign to the same 200: none of the 10 gets a message.
        restart(stack, "primary-sender", "fallback-sender", "dispatcher", "campaign")
        second = await launch_campaign(api, recipients)
        await wait_for_statuses(mongo, stack, second, CONTACTS - STOPPING, SENT, timeout=TIMEOUT)
        figures = await eventually(
            lambda: stats(api, second),
            lambda f: f["sent"] == CONTACTS - STOPPING and f["pending"] == 0,
            timeout=30,
            what="the second campaign done",
        )
        assert figures["suppressed"] == STOPPING
        for phone in stopping:
            assert await received(gateways, phone) == 1, phone  # the first campaign's only
        for phone in replying:
            assert await received(gateways, phone) == 2, phone

    # 3. Another tenant's campaign to the 10 numbers is sent: the list is per tenant.
    async with await tenant(stack, mongo, "other") as other:
        for gateway in gateways:
            await gateway.delete("/_sim/recipients")
        await add_account(other, stack, gateways, f"optout-other-{run}", "+14155550199")
        theirs = await launch_campaign(other, stopping)
        await wait_for_statuses(mongo, stack, theirs, STOPPING, SENT, timeout=TIMEOUT)
        for phone in stopping:
            assert await received((primary_gw, fallback_gw), phone) == 2, phone
