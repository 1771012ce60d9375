"""Webhook notifications end to end: a tenant registers an endpoint on the running campaign
service; a campaign of the tenant completes (a ``campaign.completed`` record on
``campaign.events``, as the scheduler's sweep publishes it); the receiver this test serves gets
one signed POST it verifies with the secret from the registration, retried when it fails."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import hmac
import json
import time
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
import uvicorn
from aiokafka import AIOKafkaProducer
from pymongo import AsyncMongoClient
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from herald_devstack.waiting import eventually
from tests.system import RunningStack

pytestmark = pytest.mark.e2e

TIMEOUT = 60.0
DEFAULT_BACKOFF_SECONDS = 2.0
"""HERALD_NOTIFICATION_BACKOFF_SECONDS: the stack runs with the default."""


@dataclass(frozen=True)
class Received:
    headers: dict[str, str]
    body: bytes
    at: float


@dataclass
class Receiver:
    """Records each POST; answers the scripted status codes first, then 200."""

    url: str = ""
    received: list[Received] = field(default_factory=list)
    failures: list[int] = field(default_factory=list)

    async def receive(self, request: Request) -> Response:
        body = await request.body()
        headers = {k.lower(): v for k, v in request.headers.items()}
        self.received.append(Received(headers, body, time.monotonic()))
        return Response(status_code=self.failures.pop(0) if self.failures else 200)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    """A real HTTP receiver on a free port of 127.0.0.1, served by uvicorn in this test."""
    receiver = Receiver()
    app = Starlette(routes=[Route("/hooks/herald", receiver.receive, methods=["POST"])])
    server = uvicorn.Server(
        uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="off")
    )
    task = asyncio.create_task(server.serve())
    try:
        await eventually(
            lambda: _started(server, task), bool, timeout=10, what="the receiver listening"
        )
        port = server.servers[0].sockets[0].getsockname()[1]
        receiver.url = f"http://127.0.0.1:{port}/hooks/herald"
        yield receiver
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def _started(server: uvicorn.Server, task: asyncio.Task[None]) -> bool:
    if task.done():
        task.result()  # it failed to start: say why
    return server.started


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


def signature_valid(received: Received, secret: str) -> bool:
    """The receiver's check: HMAC-SHA256 of the raw body with the endpoint's secret."""
    expected = "sha256=" + hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, received.headers.get("x-herald-signature", ""))


async def requests_received(receiver: Receiver, count: int) -> list[Received]:
    async def probe() -> list[Received]:
        return list(receiver.received)

    return await eventually(
        probe, lambda got: len(got) >= count, timeout=TIMEOUT, what=f"{count} notifications"
    )


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

    [received] = await requests_received(receiver, 1)
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

    failed, retried = await requests_received(receiver, 2)
    assert failed.body == retried.body, "the same delivery, byte for byte"
    assert signature_valid(retried, endpoint["secret"])
    assert retried.at - failed.at >= DEFAULT_BACKOFF_SECONDS
    health = await endpoint_health(api, endpoint["id"])
    assert health["consecutiveFailures"] == 0 and health["lastDeliveredAt"] is not None
    assert (await api.delete(f"/api/notification-endpoints/{endpoint['id']}")).status_code == 204
