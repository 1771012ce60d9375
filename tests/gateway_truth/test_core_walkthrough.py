"""A tenant's first day with WAHA Core, end to end (processes, the simulators in Core mode):

- the account's sessions are ``default`` on each gateway; Herald points their webhooks at the
  account's receipt URL itself;
- the receipts come unsigned to that URL, and the campaign reaches ``read``;
- the numbers WhatsApp does not know end as ``not-on-whatsapp`` without a gateway send;
- the stats add up.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from herald_devstack.waiting import eventually
from tests.gateway_truth.conftest import NOT_ON_WHATSAPP
from tests.system import (
    RunningStack,
    api_client,
    gateway_client,
    no_duplicate_sends,
    sends_of,
    wait_for_statuses,
)

pytestmark = pytest.mark.e2e

ON_WHATSAPP = ("+14155550911", "+14155550912", "+14155550913")


@pytest.fixture
async def api(core_stack: RunningStack) -> AsyncIterator[httpx.AsyncClient]:
    async with api_client(core_stack) as client:
        yield client


@pytest.fixture
async def mongo(core_stack: RunningStack) -> AsyncIterator[AsyncMongoClient[dict[str, Any]]]:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(core_stack.config.mongodb_url)
    yield client
    await client.close()


async def test_core_account_receipts_and_numbers_not_on_whatsapp(
    core_stack: RunningStack, api: httpx.AsyncClient, mongo: AsyncMongoClient[dict[str, Any]]
) -> None:
    created = await api.post(
        "/api/accounts",
        json={
            "phone": "+14155550999",
            "name": "core line",
            # WAHA Core: the session is `default`, and the API key is not checked.
            "primary": {
                "gateway": "waha",
                "baseUrl": core_stack.primary_gateway,
                "session": "default",
            },
            "fallback": {
                "gateway": "waha",
                "baseUrl": core_stack.fallback_gateway,
                "session": "default",
            },
            "warmupSchedule": [],
        },
    )
    assert created.status_code == 201, created.text
    account = created.json()
    assert account["receiptUrls"]["waha"].startswith(core_stack.api + "/api/webhooks/waha/rt_")
    for role in ("primary", "fallback"):
        assert account[role]["webhook"]["status"] == "CONFIGURED", account[role]["webhook"]

    campaign = await api.post(
        "/api/campaigns",
        json={"name": "core day one", "messageBody": "Hi {{name|there}}", "delayType": "fast"},
    )
    assert campaign.status_code == 201, campaign.text
    campaign_id = campaign.json()["id"]
    numbers = [*ON_WHATSAPP, *NOT_ON_WHATSAPP]
    added = await api.post(
        f"/api/campaigns/{campaign_id}/contacts", json={"contacts": [{"phone": p} for p in numbers]}
    )
    assert added.status_code == 200 and added.json()["accepted"] == len(numbers), added.text
    assert (await api.post(f"/api/campaigns/{campaign_id}/send")).status_code == 202

    messages = await wait_for_statuses(
        mongo, core_stack, campaign_id, len(numbers), {"read", "failed"}, timeout=90
    )
    by_phone = {m["phone"]: m for m in messages}
    for phone in ON_WHATSAPP:
        assert by_phone[phone]["status"] == "read", by_phone[phone]
        assert by_phone[phone]["accountId"] == account["id"]
    async with (
        gateway_client(core_stack, core_stack.primary_gateway) as primary,
        gateway_client(core_stack, core_stack.fallback_gateway) as fallback,
    ):
        for phone in NOT_ON_WHATSAPP:
            message = by_phone[phone]
            assert (message["status"], message["failedReason"]) == ("failed", "not-on-whatsapp")
            assert message["attempt"] == 1, "no other route tried"
            assert await sends_of(primary, message["_id"]) == []
            assert await sends_of(fallback, message["_id"]) == []
        accepted = await no_duplicate_sends(primary, fallback)
    assert sorted(accepted) == sorted(by_phone[p]["_id"] for p in ON_WHATSAPP)

    async def stats() -> dict[str, Any]:
        response = await api.get(f"/api/messages/campaign/{campaign_id}/stats")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    final = await eventually(
        stats, lambda s: s["pending"] == 0 and s["delivered"] == 3, timeout=30, what="stats"
    )
    assert final == {
        "total": 5,
        "pending": 0,
        "sent": 3,
        "delivered": 3,
        "failed": 2,
        "notOnWhatsapp": 2,
        "successRate": "60.00",
        "suppressed": 0,
        "replied": 0,
        "optedOut": 0,
        "replyRate": "0.00",
        "optOutRate": "0.00",
    }


async def test_core_cannot_send_media_and_herald_says_so_without_a_send(
    core_stack: RunningStack, api: httpx.AsyncClient, mongo: AsyncMongoClient[dict[str, Any]]
) -> None:
    """WAHA Core refuses sendImage (a Plus feature): each route is tried once, no more, and the
    messages fail as not-supported-by-gateway; nothing reached a phone."""
    uploaded = await api.post(
        "/api/media",
        content=b"\x89PNG\r\n\x1a\n" + b"\x00" * 64,
        headers={"Content-Type": "image/png"},
    )
    assert uploaded.status_code == 201, uploaded.text
    campaign = await api.post(
        "/api/campaigns",
        json={
            "name": "core image",
            "messageBody": "Look",
            "delayType": "fast",
            "media": {"uploadId": uploaded.json()["id"]},
        },
    )
    assert campaign.status_code == 201, campaign.text
    campaign_id = campaign.json()["id"]
    numbers = list(ON_WHATSAPP[:2])
    added = await api.post(
        f"/api/campaigns/{campaign_id}/contacts", json={"contacts": [{"phone": p} for p in numbers]}
    )
    assert added.status_code == 200, added.text
    assert (await api.post(f"/api/campaigns/{campaign_id}/send")).status_code == 202

    messages = await wait_for_statuses(
        mongo, core_stack, campaign_id, len(numbers), {"failed"}, timeout=90
    )
    for message in messages:
        assert message["failedReason"] == "not-supported-by-gateway", message
        routes = [a.get("engine") for a in message["attempts"]]
        assert len(routes) == 2 and len(set(routes)) == 2, message["attempts"]
    async with (
        gateway_client(core_stack, core_stack.primary_gateway) as primary,
        gateway_client(core_stack, core_stack.fallback_gateway) as fallback,
    ):
        for message in messages:
            calls = [
                *await sends_of(primary, message["_id"]),
                *await sends_of(fallback, message["_id"]),
            ]
            assert [c["outcome"] for c in calls] == ["not_supported", "not_supported"], calls
