"""The whole chain of a campaign's end: its messages are sent, the scheduler's sweep sees every
one terminal and completes it, and the tenant's webhook endpoint receives one signed
``campaign.completed`` with the counts."""

from __future__ import annotations

import json

import httpx
import pytest

from tests.notification_receiver import Receiver, requests_received, signature_valid
from tests.system import launch_campaign, phones

pytestmark = pytest.mark.e2e


async def test_a_campaign_the_sweep_completes_is_notified_to_the_tenants_endpoint(
    api: httpx.AsyncClient, receiver: Receiver
) -> None:
    registered = await api.post(
        "/api/notification-endpoints",
        json={"url": receiver.url, "events": ["campaign.completed"]},
    )
    assert registered.status_code == 201, registered.text
    secret = registered.json()["secret"]

    numbers = phones(3, prefix="+1818")
    campaign_id = await launch_campaign(api, numbers, delay_type="fast")

    [delivery] = await requests_received(receiver, 1, campaign_id=campaign_id)
    assert signature_valid(delivery, secret)
    assert delivery.headers["x-herald-event"] == "campaign.completed"
    body = json.loads(delivery.body)
    assert body["campaignId"] == campaign_id
    assert body["data"]["counts"]["sent"] == len(numbers)
    campaign = (await api.get(f"/api/campaigns/{campaign_id}")).json()
    assert campaign["status"] == "completed"
