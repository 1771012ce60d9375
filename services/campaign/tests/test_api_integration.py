"""The REST API against the real Kafka broker and MongoDB-wire server."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from herald_campaign.adapters.api_keys import register_api_key
from herald_core.attempt_plan import AttemptPlan
from herald_core.contracts.events import campaign_event_adapter
from herald_core.contracts.topics import (
    CAMPAIGN_COMMANDS,
    CAMPAIGN_EVENTS,
    CAMPAIGN_GROUP,
    CAMPAIGN_SYSTEM_COMMANDS,
    CAMPAIGN_SYSTEM_GROUP,
    DEAD_LETTER_GROUP,
    DISPATCHER_GROUP,
    FALLBACK_SENDER_GROUP,
    MESSAGE_DLT,
    MESSAGE_SEND_FALLBACK,
    MESSAGE_SEND_PRIMARY,
    NOTIFICATIONS_GROUP,
    PRIMARY_SENDER_GROUP,
    RETRY_RELAY_GROUP,
)
from herald_core.messages.states import MessageStatus
from herald_devstack.topic_reader import TopicReader

from .conftest import (
    OTHER_TENANT,
    OTHER_TOKEN,
    TENANT,
    RunningService,
    by_key,
    campaign_settings,
    campaign_with_contacts,
    create_campaign,
    message_document,
    running_campaign_with_messages,
    running_service,
    send_events,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    async with running_service(campaign_settings(kafka_bootstrap, mongodb_url, "api")) as svc:
        await register_api_key(svc.db, OTHER_TOKEN, OTHER_TENANT, "other tenant")
        yield svc


@pytest.fixture
def api(service: RunningService) -> httpx.AsyncClient:
    return service.client


def events_of(records: list[Any], campaign_id: str) -> list[Any]:
    return [campaign_event_adapter.validate_json(r.value) for r in by_key(records, campaign_id)]


# Campaigns


async def test_create_then_get(api: httpx.AsyncClient, service: RunningService) -> None:
    async with TopicReader(service.kafka, CAMPAIGN_EVENTS) as events:
        created = await create_campaign(api, delayType="safe")
        published = events_of(await events.read_to_end(), created["id"])
    assert created["name"] == "Summer Sale"
    assert created["messageBody"] == "Hi {{name}}, 50% OFF!"
    assert created["delayType"] == "safe"
    assert created["status"] == "draft"
    assert created["contactCount"] == 0
    assert created["launchedAt"] is None
    assert datetime.fromisoformat(created["createdAt"]) <= datetime.now(UTC)

    fetched = await api.get(f"/api/campaigns/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created

    assert [(e.type, e.tenant_id, e.name) for e in published] == [
        ("campaign.created", TENANT, "Summer Sale")
    ]
    stored = await service.db["campaigns"].find_one({"_id": created["id"]})
    assert stored is not None and stored["tenantId"] == TENANT


async def test_delay_type_defaults_to_balanced(api: httpx.AsyncClient) -> None:
    created = await create_campaign(api)
    assert created["delayType"] == "balanced"
    assert created["customDelay"] is None


async def test_a_custom_delay_range_is_kept_for_the_messages(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    created = await create_campaign(api, customDelay={"minSeconds": 3, "maxSeconds": 7.5})
    assert created["customDelay"] == {"minSeconds": 3, "maxSeconds": 7.5}
    stored = await service.db["campaigns"].find_one({"_id": created["id"]})
    assert stored is not None
    assert stored["customDelay"] == {"minSeconds": 3, "maxSeconds": 7.5}


async def test_list_is_newest_first_and_paginated(api: httpx.AsyncClient) -> None:
    ids = [(await create_campaign(api, name=f"List {i}"))["id"] for i in range(3)]
    page = (await api.get("/api/campaigns", params={"limit": 2})).json()
    assert [c["id"] for c in page["campaigns"]] == ids[::-1][:2]
    assert page["limit"] == 2 and page["offset"] == 0
    assert page["total"] >= 3
    following = (await api.get("/api/campaigns", params={"limit": 2, "offset": 2})).json()
    assert following["campaigns"][0]["id"] == ids[0]


async def test_unknown_campaign_is_404(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/campaigns/does-not-exist")
    assert response.status_code == 404
    assert response.json() == {"error": "campaign not found"}


# Validation


async def test_missing_field_is_named(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/campaigns", json={"name": "No body"})
    assert response.status_code == 422
    body = response.json()
    assert body["error"] == "validation failed"
    assert [f["field"] for f in body["fields"]] == ["messageBody"]
    assert body["fields"][0]["message"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"name": "x", "messageBody": "y" * 4097}, "messageBody"),
        ({"name": "x", "messageBody": "   "}, "messageBody"),
        ({"name": "", "messageBody": "y"}, "name"),
        ({"name": "x", "messageBody": "y", "delayType": "turbo"}, "delayType"),
        ({"name": "x", "message_body": "y"}, "messageBody"),
        (
            {"name": "x", "messageBody": "y", "customDelay": {"minSeconds": 5}},
            "customDelay.maxSeconds",
        ),
        (
            {"name": "x", "messageBody": "y", "customDelay": {"minSeconds": 0.1, "maxSeconds": 2}},
            "customDelay.minSeconds",
        ),
        (
            {"name": "x", "messageBody": "y", "customDelay": {"minSeconds": 5, "maxSeconds": 5}},
            "customDelay",
        ),
    ],
)
async def test_invalid_campaign_fields_are_named(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await api.post("/api/campaigns", json=body)
    assert response.status_code == 422, response.text
    assert field in [f["field"] for f in response.json()["fields"]]


async def test_a_body_of_4096_characters_is_allowed(api: httpx.AsyncClient) -> None:
    assert len((await create_campaign(api, messageBody="y" * 4096))["messageBody"]) == 4096


async def test_malformed_json_names_the_body(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/campaigns", content=b"{broken", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "malformed JSON"
    assert [f["field"] for f in body["fields"]] == ["body"]


async def test_bad_query_parameter_is_named(api: httpx.AsyncClient) -> None:
    response = await api.get("/api/campaigns", params={"limit": 0})
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["fields"]] == ["limit"]


async def test_contacts_request_limits(api: httpx.AsyncClient) -> None:
    campaign_id = (await create_campaign(api))["id"]
    path = f"/api/campaigns/{campaign_id}/contacts"
    empty = await api.post(path, json={"contacts": []})
    assert empty.status_code == 422
    assert [f["field"] for f in empty.json()["fields"]] == ["contacts"]
    too_many = await api.post(path, json={"contacts": [{"phone": "+919876543210"}] * 10_001})
    assert too_many.status_code == 422
    no_phone = await api.post(path, json={"contacts": [{"phone": "+919876543210"}, {}]})
    assert [f["field"] for f in no_phone.json()["fields"]] == ["contacts[1].phone"]


# Authentication and tenants


ROUTES = [
    ("GET", "/api/campaigns"),
    ("POST", "/api/campaigns"),
    ("GET", "/api/campaigns/x"),
    ("POST", "/api/campaigns/x/contacts"),
    ("POST", "/api/campaigns/x/send"),
    ("GET", "/api/messages/campaign/x/stats"),
    ("POST", "/api/messages/process-queue"),
    ("POST", "/api/messages/retry-failed"),
    ("GET", "/api/messages/queue-stats"),
    ("GET", "/api/dead-letters"),
    ("GET", "/api/dead-letters/x"),
    ("POST", "/api/dead-letters/x/redrive"),
    ("POST", "/api/campaigns/x/dead-letters/redrive"),
]


@pytest.mark.parametrize("token", [None, "wrong-token"])
async def test_every_route_needs_a_known_token(service: RunningService, token: str | None) -> None:
    async with service.client_for(token) as anonymous:
        for method, path in ROUTES:
            response = await anonymous.request(method, path)
            assert response.status_code == 401, (method, path)
            assert response.json() == {"error": "missing or invalid bearer token"}
            assert response.headers["WWW-Authenticate"] == "Bearer"


async def test_a_basic_authorization_is_not_a_bearer_token(service: RunningService) -> None:
    async with service.client_for(None) as client:
        response = await client.get("/api/campaigns", headers={"Authorization": "Basic eDp5"})
    assert response.status_code == 401


async def test_another_tenants_campaign_is_not_found_on_every_route(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    campaign_id = await campaign_with_contacts(api)
    async with service.client_for(OTHER_TOKEN) as intruder:
        for method, path, body in [
            ("GET", f"/api/campaigns/{campaign_id}", None),
            ("POST", f"/api/campaigns/{campaign_id}/contacts", {"contacts": [{"phone": "+1"}]}),
            ("POST", f"/api/campaigns/{campaign_id}/send", None),
            ("GET", f"/api/messages/campaign/{campaign_id}/stats", None),
            ("POST", f"/api/messages/retry-failed?campaignId={campaign_id}", None),
            ("POST", f"/api/campaigns/{campaign_id}/dead-letters/redrive", None),
        ]:
            response = await intruder.request(method, path, json=body)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json() == {"error": "campaign not found"}
        listed = (await intruder.get("/api/campaigns")).json()
        assert campaign_id not in json.dumps(listed)
        # The other tenant's own campaigns are its own.
        own = await create_campaign(intruder, name="Tenant B")
        assert (await intruder.get(f"/api/campaigns/{own['id']}")).status_code == 200
    assert (await api.get(f"/api/campaigns/{own['id']}")).status_code == 404
    stored = await service.db["campaigns"].find_one({"_id": campaign_id})
    assert stored is not None and stored["status"] == "draft" and stored["contactCount"] == 1


# Contacts


async def test_contacts_accepted_rejected_and_duplicates(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    campaign_id = (await create_campaign(api))["id"]
    path = f"/api/campaigns/{campaign_id}/contacts"
    first = await api.post(
        path,
        json={
            "contacts": [
                {"phone": "+919876543210", "name": "John", "fields": {"city": "Pune"}},
                {"phone": "+14155552671", "name": "Jane"},
                {"phone": "+44 7911 123456", "name": "Ada"},
                {"phone": "+919876543210", "name": "John again"},
                {"phone": "12345", "name": "Broken"},
                {"phone": "call me"},
            ]
        },
    )
    assert first.status_code == 200, first.text
    assert first.json() == {
        "accepted": 3,
        "rejected": [
            {"index": 4, "phone": "12345", "reason": "invalid phone number"},
            {"index": 5, "phone": "call me", "reason": "invalid phone number"},
        ],
        "duplicates": 1,
        "total": 3,
        "suppressed": [],
    }
    # Against the contacts already in the campaign, national form included (default region IN).
    second = await api.post(
        path, json={"contacts": [{"phone": "98765 43210"}, {"phone": "+919812345678"}]}
    )
    assert second.json() == {
        "accepted": 1,
        "rejected": [],
        "duplicates": 1,
        "total": 4,
        "suppressed": [],
    }

    john = await service.db["contacts"].find_one({"_id": f"{campaign_id}:+919876543210"})
    assert john is not None
    assert (john["tenantId"], john["campaignId"], john["phone"], john["name"]) == (
        TENANT,
        campaign_id,
        "+919876543210",
        "John",
    )
    assert john["fields"] == {"city": "Pune"}
    campaign = (await api.get(f"/api/campaigns/{campaign_id}")).json()
    assert campaign["contactCount"] == 4


async def test_only_invalid_contacts_is_a_report_not_an_error(api: httpx.AsyncClient) -> None:
    campaign_id = (await create_campaign(api))["id"]
    response = await api.post(
        f"/api/campaigns/{campaign_id}/contacts", json={"contacts": [{"phone": "nope"}]}
    )
    assert response.status_code == 200
    assert response.json()["accepted"] == 0 and response.json()["total"] == 0


async def test_ten_thousand_contacts_in_one_request(api: httpx.AsyncClient) -> None:
    campaign_id = (await create_campaign(api))["id"]
    contacts = [{"phone": f"+9198{i:08d}"} for i in range(10_000)]
    response = await api.post(f"/api/campaigns/{campaign_id}/contacts", json={"contacts": contacts})
    assert response.status_code == 200
    report = response.json()
    assert report["accepted"] + len(report["rejected"]) == 10_000
    assert report["accepted"] > 9_000
    assert report["total"] == report["accepted"]


# Sending


async def test_send_publishes_one_launch_and_a_second_send_conflicts(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    campaign_id = await campaign_with_contacts(api)
    async with TopicReader(service.kafka, CAMPAIGN_EVENTS) as events:
        sent = await api.post(f"/api/campaigns/{campaign_id}/send")
        assert sent.status_code == 202, sent.text
        assert sent.json() == {"campaignId": campaign_id, "status": "running"}
        again = await api.post(f"/api/campaigns/{campaign_id}/send")
        assert again.status_code == 409
        assert again.json() == {"error": "campaign is already running"}
        published = events_of(await events.read_to_end(), campaign_id)
    assert [(e.type, e.tenant_id, e.campaign_id) for e in published] == [
        ("campaign.launched", TENANT, campaign_id)
    ]
    campaign = (await api.get(f"/api/campaigns/{campaign_id}")).json()
    assert campaign["status"] == "running"
    assert campaign["launchedAt"] is not None
    stored = await service.db["campaigns"].find_one({"_id": campaign_id})
    assert stored is not None and stored["launchEventId"] == published[0].event_id
    assert stored["launchPublishedAt"] is not None

    late = await api.post(
        f"/api/campaigns/{campaign_id}/contacts", json={"contacts": [{"phone": "+919812345678"}]}
    )
    assert late.status_code == 409
    assert "draft" in late.json()["error"]


async def test_a_campaign_without_contacts_cannot_be_sent(api: httpx.AsyncClient) -> None:
    campaign_id = (await create_campaign(api))["id"]
    response = await api.post(f"/api/campaigns/{campaign_id}/send")
    assert response.status_code == 409
    assert response.json() == {"error": "campaign has no contacts"}
    assert (await api.get(f"/api/campaigns/{campaign_id}")).json()["status"] == "draft"


# Statistics and the queue


async def test_stats_come_from_the_counters(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    campaign_id = (await create_campaign(api))["id"]
    path = f"/api/messages/campaign/{campaign_id}/stats"
    assert (await api.get(path)).json() == {
        "total": 0,
        "pending": 0,
        "sent": 0,
        "delivered": 0,
        "failed": 0,
        "notOnWhatsapp": 0,
        "successRate": "0.00",
        "suppressed": 0,
        "replied": 0,
        "optedOut": 0,
        "replyRate": "0.00",
        "optOutRate": "0.00",
    }
    counts = {"total": 7, "queued": 1, "sent": 2, "delivered": 1, "read": 1, "failed": 2}
    # Of the failures, the numbers not on WhatsApp are a counter too: no message is counted.
    await service.db["campaigns"].update_one(
        {"_id": campaign_id},
        {"$set": {**{f"counts.{k}": v for k, v in counts.items()}, "failedNotOnWhatsapp": 1}},
    )
    assert (await api.get(path)).json() == {
        "total": 7,
        "pending": 1,
        "sent": 4,
        "delivered": 2,
        "failed": 2,
        "notOnWhatsapp": 1,
        "successRate": "57.14",
        "suppressed": 0,
        "replied": 0,
        "optedOut": 0,
        "replyRate": "0.00",
        "optOutRate": "0.00",
    }


async def test_process_queue_publishes_pending_messages(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    s = MessageStatus
    campaign_id = await running_campaign_with_messages(
        api, service, [(s.PENDING, False), (s.PENDING, False), (s.SENT, False)]
    )
    async with TopicReader(service.kafka, MESSAGE_SEND_PRIMARY) as topic:
        response = await api.post("/api/messages/process-queue")
        assert response.status_code == 200
        assert response.json() == {"queued": 2}
        published = send_events(await topic.read_to_end(), campaign_id)
    assert sorted(e.message_id for e in published) == [
        f"msg-{campaign_id}-0",
        f"msg-{campaign_id}-1",
    ]
    statuses = {
        m["_id"]: m["status"]
        async for m in service.db["messages"].find({"campaignId": campaign_id})
    }
    assert sorted(statuses.values()) == ["queued", "queued", "sent"]
    campaign = await service.db["campaigns"].find_one({"_id": campaign_id})
    assert campaign is not None
    assert (campaign["counts"]["pending"], campaign["counts"]["queued"]) == (0, 2)
    assert (await api.post("/api/messages/process-queue")).json() == {"queued": 0}


async def test_retry_failed_gives_retryable_failures_a_fresh_plan_once(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    s = MessageStatus
    campaign_id = await running_campaign_with_messages(
        api, service, [(s.FAILED, True), (s.FAILED, False), (s.SENT, False), (s.FAILED, True)]
    )
    history = [
        {"attempt": n, "engine": engine, "outcome": "timeout"}
        for n, engine in [(1, "primary"), (2, "fallback"), (3, "fallback")]
    ]
    await service.db["messages"].update_one(
        {"_id": f"msg-{campaign_id}-3"},
        {"$set": {"attempt": 3, "retryCount": 1, "planStep": 2, "attempts": history}},
    )
    async with TopicReader(service.kafka, MESSAGE_SEND_PRIMARY) as topic:
        response = await api.post("/api/messages/retry-failed", params={"campaignId": campaign_id})
        assert response.status_code == 200, response.text
        assert response.json() == {"requeued": 2}
        again = await api.post("/api/messages/retry-failed", params={"campaignId": campaign_id})
        assert again.json() == {"requeued": 0}
        published = send_events(await topic.read_to_end(), campaign_id)
    # The plan's first topic (primary here), at its first step: a fresh plan.
    assert AttemptPlan.parse(service.settings.attempt_plan).first_topic == MESSAGE_SEND_PRIMARY
    assert sorted((e.message_id, e.attempt, e.step) for e in published) == [
        (f"msg-{campaign_id}-0", 2, 0),
        (f"msg-{campaign_id}-3", 4, 0),
    ]
    first = await service.db["messages"].find_one({"_id": f"msg-{campaign_id}-0"})
    third = await service.db["messages"].find_one({"_id": f"msg-{campaign_id}-3"})
    not_retryable = await service.db["messages"].find_one({"_id": f"msg-{campaign_id}-1"})
    assert first is not None and third is not None and not_retryable is not None
    assert (first["status"], first["attempt"], first["retryCount"], first["planStep"]) == (
        "queued",
        2,
        1,
        0,
    )
    assert (third["status"], third["attempt"], third["retryCount"], third["planStep"]) == (
        "queued",
        4,
        2,
        0,
    )
    assert third["attempts"] == history  # the same message, its history kept
    assert third["redrivenAt"] is not None
    assert not_retryable["status"] == "failed" and not_retryable["attempt"] == 1
    campaign = await service.db["campaigns"].find_one({"_id": campaign_id})
    assert campaign is not None
    assert (campaign["counts"]["failed"], campaign["counts"]["queued"]) == (1, 2)


async def test_retry_failed_of_a_tenant_takes_every_campaign_of_its_own_and_no_other(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    s = MessageStatus
    campaigns = [
        await running_campaign_with_messages(api, service, [(s.FAILED, True), (s.SENT, False)])
        for _ in range(2)
    ]
    failed = [f"msg-{campaign_id}-0" for campaign_id in campaigns]

    # A tenant of this test's own: the module's other tenant must stay without messages.
    tenant_b = f"retrying-{uuid.uuid4().hex[:8]}"
    token_b = f"{tenant_b}-token"
    await register_api_key(service.db, token_b, tenant_b, tenant_b)
    async with service.client_for(token_b) as other:
        # Tenant B's own retryable failure is requeued; tenant A's are not touched.
        theirs = await campaign_with_contacts(other)
        assert (await other.post(f"/api/campaigns/{theirs}/send")).status_code == 202
        await service.db["messages"].insert_one(
            message_document(theirs, 0, s.FAILED, tenantId=tenant_b, retryable=True)
        )
        await service.db["campaigns"].update_one(
            {"_id": theirs}, {"$set": {"counts.total": 1, "counts.failed": 1}}
        )
        assert (await other.post("/api/messages/retry-failed")).json() == {"requeued": 1}
        assert (await other.post("/api/messages/retry-failed")).json() == {"requeued": 0}
        for campaign_id in campaigns:
            by_id = await other.post(
                "/api/messages/retry-failed", params={"campaignId": campaign_id}
            )
            assert by_id.status_code == 404, by_id.text
    assert await statuses_of(service, failed) == ["failed", "failed"]
    assert await statuses_of(service, [f"msg-{theirs}-0"]) == ["queued"]

    response = await api.post("/api/messages/retry-failed")
    assert response.status_code == 200, response.text
    assert response.json()["requeued"] >= 2  # other tests' campaigns are the tenant's too
    assert await statuses_of(service, failed) == ["queued", "queued"]


async def statuses_of(service: RunningService, message_ids: list[str]) -> list[str]:
    found = {
        d["_id"]: d["status"]
        async for d in service.db["messages"].find({"_id": {"$in": message_ids}})
    }
    return [found.get(message_id, "missing") for message_id in message_ids]


async def test_queue_stats_count_statuses_and_read_the_lag(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    before = await api.get("/api/messages/queue-stats")
    assert before.status_code == 200, before.text
    s = MessageStatus
    await running_campaign_with_messages(
        api, service, [(s.PENDING, False), (s.SENT, False), (s.SENT, False), (s.FAILED, False)]
    )
    after = (await api.get("/api/messages/queue-stats")).json()
    by_status_before = before.json()["byStatus"]
    assert set(after["byStatus"]) >= {status.value for status in MessageStatus}
    for status, added in [("pending", 1), ("sent", 2), ("failed", 1), ("read", 0)]:
        assert after["byStatus"][status] == by_status_before[status] + added
    consumers = {(c["topic"], c["group"]): c for c in after["consumers"]}
    retry_topics = AttemptPlan.parse(service.settings.attempt_plan).retry_topics()
    assert retry_topics == ["message.retry.60s"]
    assert set(consumers) == {
        (MESSAGE_SEND_PRIMARY, PRIMARY_SENDER_GROUP),
        (MESSAGE_SEND_FALLBACK, FALLBACK_SENDER_GROUP),
        (CAMPAIGN_EVENTS, DISPATCHER_GROUP),
        (CAMPAIGN_COMMANDS, CAMPAIGN_GROUP),
        (CAMPAIGN_SYSTEM_COMMANDS, CAMPAIGN_SYSTEM_GROUP),
        (CAMPAIGN_EVENTS, NOTIFICATIONS_GROUP),
        *((topic, RETRY_RELAY_GROUP) for topic in retry_topics),
        (MESSAGE_DLT, DEAD_LETTER_GROUP),
    }
    for lag in consumers.values():
        assert set(lag) == {"topic", "group", "lag", "endOffset", "committed"}
        assert lag["lag"] >= 0 and lag["endOffset"] >= lag["committed"] >= 0
    # Earlier tests of this module published send events that no sender here consumed.
    assert consumers[(MESSAGE_SEND_PRIMARY, PRIMARY_SENDER_GROUP)]["lag"] > 0


def circuit(tenant_id: str, account_id: str, engine: str, state: str, **extra: Any) -> Any:
    return {
        "_id": f"{account_id}:{engine}",
        "tenantId": tenant_id,
        "accountId": account_id,
        "engine": engine,
        "state": state,
        "consecutiveFailures": 0,
        "openUntil": None,
        "reason": None,
        "updatedAt": datetime(2026, 5, 1, 12, 0, tzinfo=UTC),
        "owner": "primary-sender-7f9c",
        **extra,
    }


async def test_queue_stats_show_the_tenants_circuits(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    open_until = datetime(2026, 5, 1, 12, 1, tzinfo=UTC)
    await service.db["circuit_breakers"].insert_many(
        [
            circuit(
                TENANT,
                "acct-a",
                "primary",
                "open",
                consecutiveFailures=5,
                openUntil=open_until,
                reason="session disconnected",
            ),
            circuit(TENANT, "acct-a", "fallback", "closed"),
            circuit(OTHER_TENANT, "acct-b", "primary", "half-open", consecutiveFailures=2),
        ]
    )
    stats = await api.get("/api/messages/queue-stats")
    assert stats.status_code == 200, stats.text
    assert stats.json()["circuits"] == [
        {
            "accountId": "acct-a",
            "engine": "fallback",
            "state": "closed",
            "consecutiveFailures": 0,
            "openUntil": None,
            "reason": None,
            "updatedAt": "2026-05-01T12:00:00Z",
        },
        {
            "accountId": "acct-a",
            "engine": "primary",
            "state": "open",
            "consecutiveFailures": 5,
            "openUntil": "2026-05-01T12:01:00Z",
            "reason": "session disconnected",
            "updatedAt": "2026-05-01T12:00:00Z",
        },
    ]
    async with service.client_for(OTHER_TOKEN) as other:
        theirs = (await other.get("/api/messages/queue-stats")).json()["circuits"]
    assert [(c["accountId"], c["state"], c["consecutiveFailures"]) for c in theirs] == [
        ("acct-b", "half-open", 2)
    ]


async def test_queue_stats_of_another_tenant_show_nothing_of_ours(service: RunningService) -> None:
    async with service.client_for(OTHER_TOKEN) as other:
        stats = (await other.get("/api/messages/queue-stats")).json()
        assert set(stats["byStatus"].values()) == {0}
        assert (await other.post("/api/messages/process-queue")).json() == {"queued": 0}
        assert (await other.post("/api/messages/retry-failed")).json() == {"requeued": 0}


# The OpenAPI document


async def test_openapi_documents_every_route_in_camel_case(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    paths = document["paths"]
    assert set(paths) >= {
        "/api/campaigns",
        "/api/campaigns/{campaign_id}",
        "/api/campaigns/{campaign_id}/contacts",
        "/api/campaigns/{campaign_id}/send",
        "/api/messages/campaign/{campaign_id}/stats",
        "/api/messages/process-queue",
        "/api/messages/retry-failed",
        "/api/messages/queue-stats",
        "/api/dead-letters",
        "/api/dead-letters/{dead_letter_id}",
        "/api/dead-letters/{dead_letter_id}/redrive",
        "/api/campaigns/{campaign_id}/dead-letters/redrive",
    }
    schemas = document["components"]["schemas"]
    assert "messageBody" in schemas["CreateCampaignRequest"]["properties"]
    assert "successRate" in schemas["CampaignStatsResponse"]["properties"]
    assert "rawPayload" not in schemas["DeadLetterResponse"]["properties"]
    assert "redriveCount" in schemas["DeadLetterResponse"]["properties"]
    assert "circuits" in schemas["QueueStatsResponse"]["properties"]
    redrive = paths["/api/dead-letters/{dead_letter_id}/redrive"]["post"]
    assert set(redrive["responses"]) >= {"200", "401", "404", "409", "503"}
    create = paths["/api/campaigns"]["post"]
    assert set(create["responses"]) >= {"201", "401", "422"}
    assert create["responses"]["422"]["content"]["application/json"]["schema"]["$ref"].endswith(
        "ValidationErrorResponse"
    )
    assert document["components"]["securitySchemes"]["ApiToken"]["scheme"] == "bearer"
