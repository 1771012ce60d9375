"""Webhook notifications against the real Kafka broker and MongoDB-wire server, delivered over
real HTTP to a receiver this test serves: campaign events published on ``campaign.events``
reach the tenant's endpoints once, signed; failures are retried with back-off and show in the
endpoint's health."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from herald_campaign.adapters.api_keys import register_api_key
from herald_campaign.adapters.notification_delivery import DeliveryWorker
from herald_campaign.adapters.notification_repositories import (
    DeliveryRepository,
    EndpointRepository,
)
from herald_campaign.domain.notifications.backoff import RetrySchedule
from herald_campaign.domain.notifications.payloads import (
    Notification,
    delivery_id,
    notification_body,
)
from herald_campaign.service_layer.notifications import (
    MAX_ENDPOINTS_PER_TENANT,
    NotificationService,
)
from herald_core.contracts.events import (
    AnyCampaignEvent,
    CampaignCompleted,
    CampaignFailed,
    CampaignPaused,
)
from herald_core.contracts.topics import CAMPAIGN_EVENTS
from herald_devstack.waiting import eventually
from herald_infra.mongo.client import NOTIFICATION_DELIVERIES
from herald_infra.outbound.public_addresses import OutboundAllow

from .conftest import (
    OTHER_TENANT,
    OTHER_TOKEN,
    RunningService,
    campaign_settings,
    running_service,
)
from .webhook_receiver import Answer, WebhookReceiver, serving_receiver

pytestmark = pytest.mark.integration

BACKOFF = 0.25
MAX_ATTEMPTS = 4
TIMEOUT = 3.0
WAIT = 30.0


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "notifications").model_copy(
        update={
            "notification_backoff_seconds": BACKOFF,
            "notification_max_attempts": MAX_ATTEMPTS,
            "notification_timeout_seconds": TIMEOUT,
        }
    )
    async with running_service(settings) as svc:
        await register_api_key(svc.db, OTHER_TOKEN, OTHER_TENANT, "other tenant")
        yield svc


@pytest.fixture(scope="module")
async def receiver() -> AsyncIterator[WebhookReceiver]:
    async with serving_receiver() as running:
        yield running


@pytest.fixture(scope="module")
async def producer(service: RunningService) -> AsyncIterator[AIOKafkaProducer]:
    kafka = AIOKafkaProducer(bootstrap_servers=service.kafka, acks="all")
    await kafka.start()
    yield kafka
    await kafka.stop()


@dataclass
class TenantClient:
    id: str
    api: httpx.AsyncClient


@pytest.fixture
async def tenant(service: RunningService) -> AsyncIterator[TenantClient]:
    """A tenant of its own for each test, so no test's endpoints see another's events."""
    tenant_id = f"tenant-{uuid.uuid4().hex[:8]}"
    token = f"token-{uuid.uuid4().hex}"
    await register_api_key(service.db, token, tenant_id, tenant_id)
    async with service.client_for(token) as client:
        yield TenantClient(tenant_id, client)


@pytest.fixture
def api(tenant: TenantClient) -> httpx.AsyncClient:
    return tenant.api


def hook_path(name: str) -> str:
    """A path of its own for each test (the receiver is shared)."""
    return f"/{name}/{uuid.uuid4().hex[:8]}"


async def register(
    api: httpx.AsyncClient, receiver: WebhookReceiver, path: str, events: list[str]
) -> dict[str, Any]:
    response = await api.post(
        "/api/notification-endpoints",
        json={"url": receiver.url(path), "events": events, "description": "ops alerts"},
    )
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def publish(producer: AIOKafkaProducer, event: AnyCampaignEvent) -> None:
    await producer.send_and_wait(
        CAMPAIGN_EVENTS, event.model_dump_json().encode(), key=event.campaign_id.encode()
    )


def completed(tenant: TenantClient, campaign_id: str, **fields: Any) -> CampaignCompleted:
    fields.setdefault("counts", {"total": 2, "sent": 2})
    return CampaignCompleted(tenant_id=tenant.id, campaign_id=campaign_id, **fields)


def signed_by(received: Any, secret: str) -> bool:
    """The receiver's check, as docs/lifecycle-and-schedules.md documents it."""
    expected = hmac.new(secret.encode(), received.body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(f"sha256={expected}", received.headers["x-herald-signature"])


async def requests_to(receiver: WebhookReceiver, path: str, count: int) -> list[Any]:
    async def probe() -> list[Any]:
        return receiver.to(path)

    return await eventually(
        probe, lambda got: len(got) >= count, timeout=WAIT, what=f"{count} requests to {path}"
    )


async def endpoint_state(api: httpx.AsyncClient, endpoint_id: str) -> dict[str, Any]:
    response = await api.get(f"/api/notification-endpoints/{endpoint_id}")
    assert response.status_code == 200, response.text
    state: dict[str, Any] = response.json()
    return state


async def endpoint_reaches(
    api: httpx.AsyncClient, endpoint_id: str, **expected: Any
) -> dict[str, Any]:
    async def probe() -> dict[str, Any]:
        return await endpoint_state(api, endpoint_id)

    return await eventually(
        probe,
        lambda state: all(state[k] == v for k, v in expected.items()),
        timeout=WAIT,
        what=f"endpoint {endpoint_id} with {expected}",
    )


async def deliveries_of(api: httpx.AsyncClient, endpoint_id: str) -> list[dict[str, Any]]:
    response = await api.get(
        f"/api/notification-endpoints/{endpoint_id}/deliveries", params={"limit": 100}
    )
    assert response.status_code == 200, response.text
    deliveries: list[dict[str, Any]] = response.json()["deliveries"]
    return deliveries


def counter(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


# Delivered once, signed


async def test_a_completed_campaign_reaches_the_endpoint_once_signed(
    api: httpx.AsyncClient,
    receiver: WebhookReceiver,
    producer: AIOKafkaProducer,
    tenant: TenantClient,
) -> None:
    path = hook_path("completed")
    endpoint = await register(api, receiver, path, ["campaign.completed", "campaign.failed"])
    assert set(endpoint) >= {"id", "secret", "url", "events", "createdAt", "lastStatus"}
    assert endpoint["lastStatus"] is None and endpoint["consecutiveFailures"] == 0
    delivered_before = counter("herald_notification_deliveries_total", outcome="delivered")

    event = completed(tenant, "cmp-notified", run=3, counts={"total": 2, "sent": 1, "failed": 1})
    await publish(producer, event)
    [received] = await requests_to(receiver, path, 1)

    assert signed_by(received, endpoint["secret"])
    assert received.headers["content-type"] == "application/json"
    assert received.headers["x-herald-event"] == "campaign.completed"
    body = json.loads(received.body)
    assert body == {
        "id": received.headers["x-herald-delivery"],
        "type": "campaign.completed",
        "occurredAt": body["occurredAt"],
        "tenantId": tenant.id,
        "campaignId": "cmp-notified",
        "data": {"run": 3, "counts": {"total": 2, "sent": 1, "failed": 1}},
    }
    assert datetime.fromisoformat(body["occurredAt"]) == event.occurred_at.replace(
        microsecond=event.occurred_at.microsecond // 1000 * 1000
    )

    state = await endpoint_reaches(api, endpoint["id"], lastStatus="delivered")
    assert state["lastStatusCode"] == 200
    assert state["lastError"] is None and state["consecutiveFailures"] == 0
    assert state["lastDeliveredAt"] == state["lastAttemptAt"] is not None
    assert "secret" not in state
    assert counter("herald_notification_deliveries_total", outcome="delivered") > delivered_before
    [delivery] = await deliveries_of(api, endpoint["id"])
    assert delivery["id"] == body["id"] and delivery["status"] == "delivered"
    assert delivery["attempts"] == 1 and delivery["eventId"] == event.event_id


async def test_a_redelivered_event_notifies_once(
    service: RunningService,
    api: httpx.AsyncClient,
    receiver: WebhookReceiver,
    producer: AIOKafkaProducer,
    tenant: TenantClient,
) -> None:
    path = hook_path("redelivered")
    endpoint = await register(api, receiver, path, ["campaign.completed"])
    first = completed(tenant, "cmp-twice")
    await publish(producer, first)
    await publish(producer, first)  # Kafka delivers it again (a rebalance, a crash)
    later = completed(tenant, "cmp-twice")  # same key: consumed after both copies of the first
    await publish(producer, later)

    received = await requests_to(receiver, path, 2)
    deliveries = service.db[NOTIFICATION_DELIVERIES]
    mine = {"endpointId": endpoint["id"]}
    assert await deliveries.count_documents({**mine, "eventId": first.event_id}) == 1
    assert await deliveries.count_documents({**mine, "eventId": later.event_id}) == 1
    # The handler itself, called again with the event: nothing new is queued.
    notifications: NotificationService = service.app.state.services.notifications
    assert await notifications.notify(first) == 0
    ids = [json.loads(r.body)["id"] for r in received]
    assert sorted(ids) == sorted(delivery_id(e.event_id, endpoint["id"]) for e in (first, later))


async def test_only_subscribed_endpoints_of_the_events_tenant_are_notified(
    service: RunningService,
    api: httpx.AsyncClient,
    receiver: WebhookReceiver,
    producer: AIOKafkaProducer,
    tenant: TenantClient,
) -> None:
    completed_path, failed_path, other_path = (hook_path(n) for n in ("sub", "failonly", "other"))
    await register(api, receiver, completed_path, ["campaign.completed"])
    failed_only = await register(api, receiver, failed_path, ["campaign.failed"])
    async with service.client_for(OTHER_TOKEN) as other_api:
        other = await register(other_api, receiver, other_path, ["campaign.completed"])

    await publish(producer, completed(tenant, "cmp-scoped"))
    failed = CampaignFailed(
        tenant_id=tenant.id, campaign_id="cmp-scoped", counts={"failed": 2}, reason="all failed"
    )
    await publish(producer, failed)

    await requests_to(receiver, completed_path, 1)
    [failure] = await requests_to(receiver, failed_path, 1)
    assert signed_by(failure, failed_only["secret"])
    assert json.loads(failure.body)["data"] == {
        "run": 1,
        "counts": {"failed": 2},
        "reason": "all failed",
    }
    # Both events were handled (one partition, in order): the completion went nowhere else.
    assert len(receiver.to(completed_path)) == len(receiver.to(failed_path)) == 1
    assert receiver.to(other_path) == []
    assert (
        await service.db[NOTIFICATION_DELIVERIES].count_documents({"endpointId": other["id"]}) == 0
    )


async def test_a_system_pause_is_notified_a_users_own_pause_is_not(
    service: RunningService,
    api: httpx.AsyncClient,
    receiver: WebhookReceiver,
    producer: AIOKafkaProducer,
    tenant: TenantClient,
) -> None:
    path = hook_path("paused")
    endpoint = await register(api, receiver, path, ["campaign.paused"])
    by_user = CampaignPaused(tenant_id=tenant.id, campaign_id="cmp-paused", by="user")
    by_system = CampaignPaused(
        tenant_id=tenant.id, campaign_id="cmp-paused", by="system", reason="85% of 20 sends failed"
    )
    await publish(producer, by_user)
    await publish(producer, by_system)

    [received] = await requests_to(receiver, path, 1)
    assert signed_by(received, endpoint["secret"])
    body = json.loads(received.body)
    assert body["type"] == "campaign.paused"
    assert body["data"] == {"by": "system", "reason": "85% of 20 sends failed"}
    deliveries = service.db[NOTIFICATION_DELIVERIES]
    assert await deliveries.count_documents({"eventId": by_user.event_id}) == 0
    assert await deliveries.count_documents({"endpointId": endpoint["id"]}) == 1


# Retries


async def test_a_failing_receiver_is_retried_with_backoff_until_it_answers(
    api: httpx.AsyncClient,
    receiver: WebhookReceiver,
    producer: AIOKafkaProducer,
    tenant: TenantClient,
) -> None:
    path = hook_path("flaky")
    in_flight = asyncio.Event()
    # 500, then 500 answered only when the test has looked at the endpoint, then 200.
    receiver.script(path, 500, Answer(500, hold=in_flight))
    endpoint = await register(api, receiver, path, ["campaign.completed"])
    await publish(producer, completed(tenant, "cmp-flaky"))

    await requests_to(receiver, path, 2)
    state = await endpoint_reaches(api, endpoint["id"], lastStatus="retrying")
    assert state["lastStatusCode"] == 500
    assert state["lastError"] == "HTTP 500 Internal Server Error"
    assert state["consecutiveFailures"] == 1 and state["lastDeliveredAt"] is None
    in_flight.set()

    first, second, third = await requests_to(receiver, path, 3)
    state = await endpoint_reaches(api, endpoint["id"], lastStatus="delivered")
    assert state["consecutiveFailures"] == 0 and state["lastStatusCode"] == 200
    # Every attempt is the same delivery: same id, same bytes, same signature.
    assert {r.headers["x-herald-delivery"] for r in (first, second, third)} == {
        json.loads(first.body)["id"]
    }
    assert first.body == second.body == third.body
    assert all(signed_by(r, endpoint["secret"]) for r in (first, second, third))
    # Back-off: 0.25 s after attempt 1, 0.5 s after attempt 2 (jitter adds at most 10%);
    # attempt 2 was held open by the test, so the wait counts from its answer.
    assert BACKOFF <= second.at - first.at < BACKOFF * 1.1 + 1.5
    [delivery] = await deliveries_of(api, endpoint["id"])
    assert delivery["status"] == "delivered" and delivery["attempts"] == 3
    assert third.at - second.at >= 2 * BACKOFF


async def test_backoff_spacing_between_failed_attempts(
    api: httpx.AsyncClient,
    receiver: WebhookReceiver,
    producer: AIOKafkaProducer,
    tenant: TenantClient,
) -> None:
    path = hook_path("spacing")
    receiver.script(path, 500, 503)
    endpoint = await register(api, receiver, path, ["campaign.completed"])
    await publish(producer, completed(tenant, "cmp-spacing"))

    first, second, third = await requests_to(receiver, path, 3)
    await endpoint_reaches(api, endpoint["id"], lastStatus="delivered")
    assert BACKOFF <= second.at - first.at < BACKOFF * 1.1 + 1.5
    assert 2 * BACKOFF <= third.at - second.at < 2 * BACKOFF * 1.1 + 1.5


async def test_a_receiver_that_never_answers_well_fails_after_the_last_attempt(
    api: httpx.AsyncClient,
    receiver: WebhookReceiver,
    producer: AIOKafkaProducer,
    tenant: TenantClient,
) -> None:
    path = hook_path("down")
    never = asyncio.Event()
    # A timeout first, then 500s: each counts as a failed attempt.
    receiver.script(path, Answer(500, hold=never), *[500] * MAX_ATTEMPTS)
    endpoint = await register(api, receiver, path, ["campaign.completed"])
    failed_before = counter("herald_notification_deliveries_total", outcome="failed")
    await publish(producer, completed(tenant, "cmp-down"))

    state = await endpoint_reaches(api, endpoint["id"], lastStatus="failed")
    assert len(receiver.to(path)) == MAX_ATTEMPTS
    assert state["consecutiveFailures"] == MAX_ATTEMPTS
    assert state["lastStatusCode"] == 500
    assert state["lastError"] == "HTTP 500 Internal Server Error"
    assert state["lastDeliveredAt"] is None
    [delivery] = await deliveries_of(api, endpoint["id"])
    assert delivery["status"] == "failed" and delivery["attempts"] == MAX_ATTEMPTS
    assert delivery["nextAttemptAt"] is None
    assert counter("herald_notification_deliveries_total", outcome="failed") == failed_before + 1


async def test_a_timeout_shows_in_the_health_while_retrying(
    api: httpx.AsyncClient,
    receiver: WebhookReceiver,
    producer: AIOKafkaProducer,
    tenant: TenantClient,
) -> None:
    path = hook_path("slow")
    never, second = asyncio.Event(), asyncio.Event()
    receiver.script(path, Answer(200, hold=never), Answer(200, hold=second))
    endpoint = await register(api, receiver, path, ["campaign.completed"])
    await publish(producer, completed(tenant, "cmp-slow"))

    await requests_to(receiver, path, 2)
    state = await endpoint_reaches(api, endpoint["id"], lastStatus="retrying")
    assert state["lastStatusCode"] is None
    assert state["lastError"] == f"no answer within {TIMEOUT:g}s"
    second.set()
    await endpoint_reaches(api, endpoint["id"], lastStatus="delivered")


# Several replicas


async def test_a_claim_applies_once(service: RunningService, tenant: TenantClient) -> None:
    deliveries = DeliveryRepository(service.db)
    notification = Notification(
        type="ping",
        event_id=f"evt-{uuid.uuid4().hex}",
        tenant_id=tenant.id,
        occurred_at=datetime.now(UTC),
        campaign_id=None,
    )
    ident = f"ntd_claim_{uuid.uuid4().hex[:8]}"
    # Queued for an endpoint that does not exist, far in the future: no worker touches it.
    later = datetime(2100, 1, 1, tzinfo=UTC)
    assert await deliveries.queue(
        notification, [(ident, "ne_nowhere", notification_body(notification, ident))], later
    ) == [ident]
    read = await service.db[NOTIFICATION_DELIVERIES].find_one({"_id": ident})
    assert read is not None
    now = datetime.now(UTC)
    claims = [
        deliveries.claim(read, claim_id=f"c{n}", owner=f"replica-{n}", now=now, lease_until=later)
        for n in range(3)
    ]
    assert sorted(await asyncio.gather(*claims)) == [False, False, True]
    await deliveries.drop(ident)


async def test_three_replicas_send_each_delivery_once(
    service: RunningService,
    api: httpx.AsyncClient,
    receiver: WebhookReceiver,
    tenant: TenantClient,
) -> None:
    path = hook_path("replicas")
    endpoint = await register(api, receiver, path, ["campaign.completed"])
    endpoints, deliveries = EndpointRepository(service.db), DeliveryRepository(service.db)
    replicas = [
        DeliveryWorker(
            endpoints,
            deliveries,
            schedule=RetrySchedule(first_delay_seconds=BACKOFF, max_attempts=MAX_ATTEMPTS),
            timeout_seconds=TIMEOUT,
            owner=f"replica-{n}",
            max_in_flight=4,
            poll_seconds=0.05,
            outbound_allow=OutboundAllow.parse(service.settings.outbound_allow),
        )
        for n in range(2)
    ]
    for replica in replicas:
        await replica.start()
    try:
        notifications: NotificationService = service.app.state.services.notifications
        events = [completed(tenant, f"cmp-replica-{n}") for n in range(30)]
        for event in events:
            assert await notifications.notify(event) == 1
        received = await requests_to(receiver, path, len(events))
        await eventually(
            lambda: deliveries_of(api, endpoint["id"]),
            lambda found: (
                len(found) == len(events) and all(d["status"] == "delivered" for d in found)
            ),
            timeout=WAIT,
            what="every delivery delivered",
        )
    finally:
        for replica in replicas:
            await replica.stop()
    ids = [r.headers["x-herald-delivery"] for r in received]
    assert len(ids) == len(set(ids)) == len(events)
    stored = service.db[NOTIFICATION_DELIVERIES].find({"endpointId": endpoint["id"]})
    assert [len(d["history"]) async for d in stored] == [1] * len(events), "one attempt each"


# Deleted endpoints


async def test_deleting_an_endpoint_drops_its_deliveries(
    service: RunningService,
    api: httpx.AsyncClient,
    receiver: WebhookReceiver,
    producer: AIOKafkaProducer,
    tenant: TenantClient,
) -> None:
    path = hook_path("deleted")
    receiver.script(path, *[500] * MAX_ATTEMPTS)
    endpoint = await register(api, receiver, path, ["campaign.completed"])
    await publish(producer, completed(tenant, "cmp-deleted"))
    await requests_to(receiver, path, 1)

    deleted = await api.delete(f"/api/notification-endpoints/{endpoint['id']}")
    assert deleted.status_code == 204, deleted.text
    assert (await api.get(f"/api/notification-endpoints/{endpoint['id']}")).status_code == 404
    deliveries = service.db[NOTIFICATION_DELIVERIES]
    assert await deliveries.count_documents({"endpointId": endpoint["id"]}) == 0
    listed = (await api.get("/api/notification-endpoints")).json()["endpoints"]
    assert endpoint["id"] not in [e["id"] for e in listed]


async def test_a_queued_delivery_of_a_deleted_endpoint_is_dropped_by_the_worker(
    service: RunningService, tenant: TenantClient
) -> None:
    deliveries = DeliveryRepository(service.db)
    notification = Notification(
        type="campaign.completed",
        event_id=f"evt-{uuid.uuid4().hex}",
        tenant_id=tenant.id,
        occurred_at=datetime.now(UTC),
        campaign_id="cmp-orphan",
    )
    ident = f"ntd_orphan_{uuid.uuid4().hex[:8]}"
    dropped_before = counter("herald_notification_deliveries_total", outcome="dropped")
    await deliveries.queue(
        notification,
        [(ident, "ne_deleted_meanwhile", notification_body(notification, ident))],
        datetime.now(UTC),
    )
    collection = service.db[NOTIFICATION_DELIVERIES]
    await eventually(
        lambda: collection.count_documents({"_id": ident}),
        lambda count: count == 0,
        timeout=WAIT,
        what="the orphan delivery dropped",
    )
    # At least: the previous test's deleted endpoint may have had an attempt starting.
    assert counter("herald_notification_deliveries_total", outcome="dropped") >= dropped_before + 1


# The test ping


async def test_a_test_ping_is_delivered_signed(
    api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    path = hook_path("ping")
    endpoint = await register(api, receiver, path, ["campaign.failed"])
    queued = await api.post(f"/api/notification-endpoints/{endpoint['id']}/test")
    assert queued.status_code == 202, queued.text
    [received] = await requests_to(receiver, path, 1)
    assert signed_by(received, endpoint["secret"])
    assert received.headers["x-herald-event"] == "ping"
    assert received.headers["x-herald-delivery"] == queued.json()["deliveryId"]
    body = json.loads(received.body)
    assert body["campaignId"] is None and body["data"]["endpointId"] == endpoint["id"]
    await endpoint_reaches(api, endpoint["id"], lastStatus="delivered")


# The routes' refusals


async def test_listing_shows_the_tenants_endpoints_without_secrets(
    service: RunningService, api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    mine = await register(api, receiver, hook_path("listed"), ["campaign.completed"])
    async with service.client_for(OTHER_TOKEN) as other_api:
        theirs = await register(other_api, receiver, hook_path("theirs"), ["campaign.failed"])
        their_list = (await other_api.get("/api/notification-endpoints")).json()
    listing = (await api.get("/api/notification-endpoints")).json()
    ids = [e["id"] for e in listing["endpoints"]]
    assert mine["id"] in ids and theirs["id"] not in ids
    assert listing["total"] == len(ids)
    their_ids = [e["id"] for e in their_list["endpoints"]]
    assert their_ids[-1] == theirs["id"] and mine["id"] not in their_ids, "oldest first"
    shown = next(e for e in listing["endpoints"] if e["id"] == mine["id"])
    assert "secret" not in shown
    assert shown["url"] == mine["url"] and shown["events"] == ["campaign.completed"]
    assert shown["description"] == "ops alerts"


async def test_another_tenants_endpoint_answers_404(
    service: RunningService, api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    endpoint = await register(api, receiver, hook_path("private"), ["campaign.completed"])
    base = f"/api/notification-endpoints/{endpoint['id']}"
    async with service.client_for(OTHER_TOKEN) as other_api:
        for method, path in [
            ("GET", base),
            ("DELETE", base),
            ("POST", f"{base}/test"),
            ("GET", f"{base}/deliveries"),
        ]:
            response = await other_api.request(method, path)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json() == {"error": "notification endpoint not found"}
    assert (await api.get(base)).status_code == 200, "still there for its tenant"
    for method, path in [("GET", "/api/notification-endpoints/ne_unknown")]:
        assert (await api.request(method, path)).status_code == 404


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "ftp://example.com/hook", "events": ["campaign.completed"]}, "url"),
        ({"url": "example.com/hook", "events": ["campaign.completed"]}, "url"),
        ({"url": "https://u:p@example.com/hook", "events": ["campaign.completed"]}, "url"),
        ({"events": ["campaign.completed"]}, "url"),
        ({"url": "https://example.com/hook", "events": []}, "events"),
        ({"url": "https://example.com/hook"}, "events"),
        ({"url": "https://example.com/hook", "events": ["campaign.sent"]}, "events[0]"),
        ({"url": "https://example.com/hook", "events": "campaign.completed"}, "events"),
        (
            {"url": "https://example.com/hook", "events": ["campaign.failed"], "secret": "x"},
            "secret",
        ),
    ],
)
async def test_bad_input_is_refused_naming_the_field(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await api.post("/api/notification-endpoints", json=body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation failed"
    assert field in [f["field"] for f in response.json()["fields"]], response.text


async def test_a_tenant_has_at_most_25_endpoints(
    api: httpx.AsyncClient, receiver: WebhookReceiver
) -> None:
    for _ in range(MAX_ENDPOINTS_PER_TENANT):
        await register(api, receiver, hook_path("many"), ["campaign.failed"])
    refused = await api.post(
        "/api/notification-endpoints",
        json={"url": receiver.url(hook_path("one-more")), "events": ["campaign.failed"]},
    )
    assert refused.status_code == 409, refused.text
    assert "at most 25 notification endpoints" in refused.json()["error"]
    listing = (await api.get("/api/notification-endpoints")).json()
    assert listing["total"] == MAX_ENDPOINTS_PER_TENANT


async def test_bad_ids_and_limits_are_refused(api: httpx.AsyncClient) -> None:
    too_long = await api.get(f"/api/notification-endpoints/{'x' * 129}")
    assert too_long.status_code == 422
    assert too_long.json()["fields"][0]["field"] == "endpoint_id"
    bad_limit = await api.get("/api/notification-endpoints/ne_x/deliveries?limit=0")
    assert bad_limit.status_code == 422
    assert bad_limit.json()["fields"][0]["field"] == "limit"


async def test_without_a_token_every_route_answers_401(service: RunningService) -> None:
    async with service.client_for(None) as anonymous:
        for method, path in [
            ("GET", "/api/notification-endpoints"),
            ("POST", "/api/notification-endpoints"),
            ("GET", "/api/notification-endpoints/ne_x"),
            ("DELETE", "/api/notification-endpoints/ne_x"),
        ]:
            assert (await anonymous.request(method, path)).status_code == 401


async def test_the_routes_are_in_the_openapi_document(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    assert set(document["paths"]) >= {
        "/api/notification-endpoints",
        "/api/notification-endpoints/{endpoint_id}",
        "/api/notification-endpoints/{endpoint_id}/test",
        "/api/notification-endpoints/{endpoint_id}/deliveries",
    }
    schemas = document["components"]["schemas"]
    assert "secret" in schemas["CreatedNotificationEndpointResponse"]["properties"]
    assert "secret" not in schemas["NotificationEndpointResponse"]["properties"]
    assert "consecutiveFailures" in schemas["NotificationEndpointResponse"]["properties"]
    create = document["paths"]["/api/notification-endpoints"]["post"]
    assert set(create["responses"]) >= {"201", "401", "409", "422"}
    assert "X-Herald-Signature" in create["description"]
