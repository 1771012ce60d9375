"""Delivery receipts end to end: campaigns sent through the gateway simulators end delivered or
read through the simulators' real, signed WAHA webhooks to the campaign service, with the
campaign's counters right and every change announced on ``message.status`` once.

The stack wires every simulator to the campaign service's webhook with the shared HMAC key;
receipts are off at start (the other end-to-end tests expect messages to stay ``sent``), so
these tests switch them on at runtime with a short delay.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from herald_core.contracts.events import MessageStatusChanged
from herald_core.contracts.topics import MESSAGE_STATUS
from herald_devstack.topic_reader import TopicReader
from herald_devstack.waiting import eventually
from tests.system import (
    RunningStack,
    gateway_client,
    phones,
    set_gateway_mode,
    wait_for_statuses,
)

pytestmark = pytest.mark.e2e

RECEIPT_DELAY_MS = 50
CAMPAIGN_SIZE = 3
TIMEOUT = 90.0


async def set_receipts(gateway: httpx.AsyncClient, **changes: Any) -> dict[str, Any]:
    response = await gateway.put("/_sim/config", json=changes)
    assert response.status_code == 200, response.text
    config: dict[str, Any] = response.json()
    return config


@pytest.fixture
async def gateways(stack: RunningStack) -> AsyncIterator[tuple[httpx.AsyncClient, ...]]:
    """Both simulators with receipts on: delivered 50 ms after each accepted send, no read
    receipts unless a test asks; off again afterwards."""
    async with (
        gateway_client(stack, stack.primary_gateway) as primary,
        gateway_client(stack, stack.fallback_gateway) as fallback,
    ):
        for gateway in (primary, fallback):
            config = await set_receipts(
                gateway, receipts=True, receiptDelayMs=RECEIPT_DELAY_MS, readReceiptDelayMs=None
            )
            assert config["webhookUrl"] == f"{stack.api}/api/webhooks/waha"
            assert config["webhookHmacKeySet"] is True and config["receiptsActive"] is True
        try:
            yield primary, fallback
        finally:
            for gateway in (primary, fallback):
                await set_gateway_mode(gateway, "ok")
                await set_receipts(gateway, receipts=False, readReceiptDelayMs=None)


async def send_campaign(api: httpx.AsyncClient, numbers: list[str]) -> str:
    """A fast-paced campaign to ``numbers``, sent; returns its id."""
    created = await api.post(
        "/api/campaigns",
        json={"name": "receipts", "messageBody": "Hi {{name|there}}", "delayType": "fast"},
    )
    assert created.status_code == 201, created.text
    campaign_id: str = created.json()["id"]
    contacts = {"contacts": [{"phone": p} for p in numbers]}
    added = await api.post(f"/api/campaigns/{campaign_id}/contacts", json=contacts)
    assert added.status_code == 200 and added.json()["accepted"] == len(numbers), added.text
    sent = await api.post(f"/api/campaigns/{campaign_id}/send")
    assert sent.status_code == 202, sent.text
    return campaign_id


def receipt_events(records: list[Any], campaign_id: str) -> list[MessageStatusChanged]:
    """The campaign's status events that receipts made (to delivered or read)."""
    events = []
    for record in records:
        event = MessageStatusChanged.model_validate_json(record.value)
        if event.campaign_id == campaign_id and event.status in ("delivered", "read"):
            events.append(event)
    return events


async def counters(
    mongo: AsyncMongoClient[dict[str, Any]], stack: RunningStack, campaign_id: str
) -> dict[str, int]:
    campaign = await mongo[stack.config.database]["campaigns"].find_one({"_id": campaign_id})
    assert campaign is not None
    counts: dict[str, int] = campaign["counts"]
    return {name: counts.get(name, 0) for name in ("total", "sent", "delivered", "read")}


async def receipts_applied(stack: RunningStack) -> float:
    """``herald_receipts_total{source="waha",outcome="applied"}`` on the campaign service."""
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(stack.metrics_url("campaign"))
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == "herald_receipts_total" and sample.labels == {
                "source": "waha",
                "outcome": "applied",
            }:
                return float(sample.value)
    return 0.0


async def test_a_campaign_ends_delivered_through_the_simulators_receipts(
    api: httpx.AsyncClient,
    stack: RunningStack,
    mongo: AsyncMongoClient[dict[str, Any]],
    gateways: tuple[httpx.AsyncClient, ...],
) -> None:
    primary, _ = gateways
    applied_before = await receipts_applied(stack)
    async with TopicReader(stack.config.kafka_bootstrap, MESSAGE_STATUS) as topic:
        campaign_id = await send_campaign(api, phones(CAMPAIGN_SIZE, prefix="+1650"))
        messages = await wait_for_statuses(
            mongo, stack, campaign_id, CAMPAIGN_SIZE, {"delivered"}, timeout=TIMEOUT
        )
        records = await topic.read_until(
            lambda rs: len(receipt_events(rs, campaign_id)) >= CAMPAIGN_SIZE, timeout=TIMEOUT
        )
        records += await topic.read_to_end()

    events = receipt_events(records, campaign_id)
    assert sorted((e.message_id, e.previous_status, e.status) for e in events) == sorted(
        (m["_id"], "sent", "delivered") for m in messages
    )
    gateway_ids = {m["_id"]: m["gatewayMessageId"] for m in messages}
    assert {e.message_id: e.gateway_message_id for e in events} == gateway_ids
    assert all(m["deliveredAt"] >= m["sentAt"] for m in messages)
    assert await counters(mongo, stack, campaign_id) == {
        "total": CAMPAIGN_SIZE,
        "sent": 0,
        "delivered": CAMPAIGN_SIZE,
        "read": 0,
    }
    stats = (await api.get(f"/api/messages/campaign/{campaign_id}/stats")).json()
    assert (stats["sent"], stats["delivered"]) == (CAMPAIGN_SIZE, CAMPAIGN_SIZE)

    await posted_receipts(primary, "DEVICE", at_least=CAMPAIGN_SIZE)
    log = (await primary.get("/_sim/receipts")).json()
    assert set(log["byStatusCode"]) == {"200"} and log["failed"] == 0
    assert await receipts_applied(stack) >= applied_before + CAMPAIGN_SIZE


async def test_read_receipts_end_a_campaign_read_each_change_counted_once(
    api: httpx.AsyncClient,
    stack: RunningStack,
    mongo: AsyncMongoClient[dict[str, Any]],
    gateways: tuple[httpx.AsyncClient, ...],
) -> None:
    for gateway in gateways:
        await set_receipts(gateway, readReceiptDelayMs=RECEIPT_DELAY_MS)
    async with TopicReader(stack.config.kafka_bootstrap, MESSAGE_STATUS) as topic:
        campaign_id = await send_campaign(api, phones(CAMPAIGN_SIZE, prefix="+1408"))
        messages = await wait_for_statuses(
            mongo, stack, campaign_id, CAMPAIGN_SIZE, {"read"}, timeout=TIMEOUT
        )
        records = await topic.read_until(
            lambda rs: len(receipt_events(rs, campaign_id)) >= 2 * CAMPAIGN_SIZE, timeout=TIMEOUT
        )
        records += await topic.read_to_end()

    events = receipt_events(records, campaign_id)
    for message in messages:
        moves = [(e.previous_status, e.status) for e in events if e.message_id == message["_id"]]
        assert moves == [("sent", "delivered"), ("delivered", "read")]
        assert message["sentAt"] <= message["deliveredAt"] <= message["readAt"]
    assert await counters(mongo, stack, campaign_id) == {
        "total": CAMPAIGN_SIZE,
        "sent": 0,
        "delivered": 0,
        "read": CAMPAIGN_SIZE,
    }


async def test_the_fallback_simulator_acknowledges_what_it_sent(
    api: httpx.AsyncClient,
    stack: RunningStack,
    mongo: AsyncMongoClient[dict[str, Any]],
    gateways: tuple[httpx.AsyncClient, ...],
) -> None:
    primary, fallback = gateways
    # One send only: a primary failure moves it to the fallback (WEBJS) at once, and stays far
    # below the circuit breaker's threshold, so the tests after this one still go primary.
    await set_gateway_mode(primary, "fail_5xx")
    campaign_id = await send_campaign(api, phones(1, prefix="+1510"))
    [message] = await wait_for_statuses(
        mongo, stack, campaign_id, 1, {"delivered"}, timeout=TIMEOUT
    )
    await set_gateway_mode(primary, "ok")

    assert message["deliveryMethod"] == "web-js"
    # whatsapp-web.js answers with the serialized id (true_<chat>_<id>), as WAHA's ack reports
    # it; Herald stores the bare id, and the receipt found the message by it all the same
    assert message["gatewayMessageId"].startswith("3EB0")
    assert "_" not in message["gatewayMessageId"]
    # The simulator counts a receipt once its webhook answered, which may be just after the
    # campaign service recorded it.
    await posted_receipts(fallback, "DEVICE", at_least=1)
    assert await counters(mongo, stack, campaign_id) == {
        "total": 1,
        "sent": 0,
        "delivered": 1,
        "read": 0,
    }


async def posted_receipts(gateway: httpx.AsyncClient, ack: str, *, at_least: int) -> int:
    """The receipts of ``ack`` the simulator posted, once at least ``at_least`` were."""

    async def posted() -> int:
        counts: dict[str, int] = (await gateway.get("/_sim/receipts")).json()["posted"]
        return counts.get(ack, 0)

    return await eventually(posted, lambda n: n >= at_least, what=f"{ack} receipts posted")
