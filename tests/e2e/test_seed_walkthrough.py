"""The seed design's walk-through over HTTP, against the five services as processes."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from herald_devstack.waiting import eventually
from tests.system import RunningStack, gateway_client

pytestmark = pytest.mark.e2e

CONTACTS = [
    {"phone": "+919876543210", "name": "John"},
    {"phone": "+14155552671", "name": "Jane"},
    {"phone": "+44 7911 123456", "name": "Ada"},
    {"phone": "+919876543210", "name": "John again"},
    {"phone": "12345", "name": "Broken"},
]


async def campaign_stats(api: httpx.AsyncClient, campaign_id: str) -> dict[str, Any]:
    response = await api.get(f"/api/messages/campaign/{campaign_id}/stats")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


async def test_seed_walkthrough_sends_every_message_once(
    api: httpx.AsyncClient, stack: RunningStack, mongo: AsyncMongoClient[dict[str, Any]]
) -> None:
    created = await api.post(
        "/api/campaigns",
        json={
            "name": "Summer Sale",
            "messageBody": "Hi {{name}}, 50% OFF this week!",
            "delayType": "balanced",
        },
    )
    assert created.status_code == 201, created.text
    campaign = created.json()
    assert campaign["name"] == "Summer Sale"
    assert campaign["status"] == "draft"
    campaign_id = campaign["id"]

    added = await api.post(f"/api/campaigns/{campaign_id}/contacts", json={"contacts": CONTACTS})
    assert added.status_code == 200, added.text
    report = added.json()
    assert report["accepted"] == 3
    assert report["duplicates"] == 1
    assert [r["phone"] for r in report["rejected"]] == ["12345"]
    assert report["rejected"][0]["reason"]

    sent = await api.post(f"/api/campaigns/{campaign_id}/send")
    assert sent.status_code == 202, sent.text

    stats = await eventually(
        lambda: campaign_stats(api, campaign_id),
        lambda s: s["total"] == 3 and s["sent"] == 3,
        timeout=60,
        what="every message sent",
    )
    assert stats == {
        "total": 3,
        "pending": 0,
        "sent": 3,
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

    messages = (
        await mongo[stack.config.database]["messages"].find({"campaignId": campaign_id}).to_list()
    )
    assert sorted(m["body"] for m in messages) == [
        "Hi Ada, 50% OFF this week!",
        "Hi Jane, 50% OFF this week!",
        "Hi John, 50% OFF this week!",
    ]
    assert {m["status"] for m in messages} == {"sent"}
    assert {m["deliveryMethod"] for m in messages} == {"baileys"}
    async with gateway_client(stack, stack.primary_gateway) as gateway:
        for message in messages:
            sends = (await gateway.get(f"/_sim/sends/{message['_id']}")).json()
            assert [s["outcome"] for s in sends] == ["accepted"]
            assert sends[0]["gatewayMessageId"] == message["gatewayMessageId"]
            assert sends[0]["chatId"] == message["phone"].lstrip("+") + "@c.us"
        assert (await gateway.get("/_sim/sends?byMessage=false")).json()["duplicates"] == []
