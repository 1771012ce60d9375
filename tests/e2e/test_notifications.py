"""Webhook notifications end to end: a tenant registers an endpoint on the running campaign
service; a campaign of the tenant completes (a ``campaign.completed`` record on
``campaign.events``, as the scheduler's sweep publishes it); the receiver this test serves gets
one signed POST it verifies with the secret from the registration, retried when it fails."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient

from herald_devstack.waiting import eventually
from tests.notification_receiver import (
    TIMEOUT,
    Receiver,
    requests_received,
    signature_valid,
)
from tests.system import RunningStack

pytestmark = pytest.mark.e2e

DEFAULT_BACKOFF_SECONDS = 2.0
"""HERALD_NOTIFICATION_BACKOFF_SECONDS: the stack runs with the default."""


async def register_endpoint(api: httpx.AsyncClient, url: str) -> dict[str, Any]:
    response = await api.post(
        "/api/notification-endpoints",
        json={"url": url, "events": ["campaign.completed"], "description": "e2e receiver"},
    )
    assert response.status_code == 201, response.text
    endpoint: dict[str, Any] = response.json()
    return endpoint


async def tenants_campaign(
    api: httpx.AsyncClient, mongo: AsyncMongoClient[dict[str, Any]], stack: RunningStack
) -> tuple[str, str]:
    """A campaign created over the API, and its tenant (the token's)."""
    created = await api.post(
        "/api/campaigns", json={"name": "notified", "messageBody": "Hi {{name|there}}"}
    )
    assert created.status_code == 201, created.text
    campaign_id: str = created.json()["id"]
    stored = await mongo[stack.config.database]["campaigns"].find_one({"_id": campaign_id})
    assert stored is not None
    return str(stored["tenantId"]), campaign_id


async def publish_completed(stack: RunningStack, tenant_id: str, campaign_id: str) -> str:
    """A ``campaign.completed`` record as plain JSON, the way the sweep publishes it."""
    event_id = uuid.uuid4().hex
    record = {
        "type": "campaign.completed",
        "version": 1,
        "event_id": event_id,
        "occurred_at": datetime.now(UTC).isoformat(),
        "tenant_id": tenant_id,
        "campaign_id": campaign_id,
        "run": 1,
        "counts": {"total": 3, "sent": 2, "failed": 1},
    }
    producer = AIOKafkaProducer(bootstrap_servers=stack.config.kafka_bootstrap, acks="all")
    await producer.start()
    try:
        await producer.send_and_wait(
            "campaign.events", json.dumps(record).encode(), key=campaign_id.encode()
        )
    finally:
        await producer.stop()
    return event_id


async def endpoint_health(api: httpx.AsyncClient, endpoint_id: str) -> dict[str, Any]:
    async def probe() -> dict[str, Any]:
        response = await api.get(f"/api/notification-endpoints/{endpoint_id}")
        assert response.status_code == 200, response.text
        state: dict[str, Any] = response.json()
        return state

    return await eventually(
        probe,
        lambda state: state["lastStatus"] == "delivered",
        timeout=TIMEOUT,
        what="the endpoint's health showing the delivery",
    )


async def test_a_completed_campaign_notifies_the_tenants_endpoint_signed(
    api: httpx.AsyncClient,
    mongo: AsyncMongoClient[dict[str, Any]],
    stack: RunningStack,
    receiver: Receiver,
) -> None:
    endpoint = await register_endpoint(api, receiver.url)
    tenant_id, campaign_id = await tenants_campaign(api, mongo, stack)

    event_id = await publish_completed(stack, tenant_id, campaign_id)

    [received] = await requests_received(receiver, 1, campaign_id=campaign_id)
    assert signature_valid(received, endpoint["secret"])
    assert not signature_valid(received, "some-other-secret")
    assert received.headers["content-type"] == "application/json"
    assert received.headers["x-herald-event"] == "campaign.completed"
    body = json.loads(received.body)
    assert body["id"] == received.headers["x-herald-delivery"]
    assert body["type"] == "campaign.completed"
    assert (body["tenantId"], body["campaignId"]) == (tenant_id, campaign_id)
    assert body["data"] == {"run": 1, "counts": {"total": 3, "sent": 2, "failed": 1}}

    health = await endpoint_health(api, endpoint["id"])
    assert health["lastStatusCode"] == 200 and health["consecutiveFailures"] == 0
    deliveries = await api.get(f"/api/notification-endpoints/{endpoint['id']}/deliveries")
    [delivery] = deliveries.json()["deliveries"]
    assert (delivery["eventId"], delivery["status"], delivery["attempts"]) == (
        event_id,
        "delivered",
        1,
    )
    assert len(receiver.received) == 1
    assert (await api.delete(f"/api/notification-endpoints/{endpoint['id']}")).status_code == 204


async def test_a_failing_receiver_gets_the_notification_again_after_the_backoff(
    api: httpx.AsyncClient,
    mongo: AsyncMongoClient[dict[str, Any]],
    stack: RunningStack,
    receiver: Receiver,
) -> None:
    receiver.failures = [500]
    endpoint = await register_endpoint(api, receiver.url)
    tenant_id, campaign_id = await tenants_campaign(api, mongo, stack)

    await publish_completed(stack, tenant_id, campaign_id)

    failed, retried = await requests_received(receiver, 2, campaign_id=campaign_id)
    assert failed.body == retried.body, "the same delivery, byte for byte"
    assert signature_valid(retried, endpoint["secret"])
    assert retried.at - failed.at >= DEFAULT_BACKOFF_SECONDS
    health = await endpoint_health(api, endpoint["id"])
    assert health["consecutiveFailures"] == 0 and health["lastDeliveredAt"] is not None
    assert (await api.delete(f"/api/notification-endpoints/{endpoint['id']}")).status_code == 204
