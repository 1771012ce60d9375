"""``/api/dead-letters`` and the campaign-wide redrive against the real Kafka and MongoDB; a
tenant sees its own dead letters only, operators every tenant's and the records that named no
tenant (``/api/admin/dead-letters``).

The dead letters are written here as the dispatcher records them (``dead_letter_document``).
"""

from __future__ import annotations

import itertools
import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from herald_campaign.adapters.api_keys import register_api_key
from herald_campaign.service_layer.dead_letters import COUNT_CAP
from herald_core.contracts.topics import (
    CAMPAIGN_COMMANDS,
    MESSAGE_SEND_FALLBACK,
    MESSAGE_SEND_PRIMARY,
)
from herald_core.messages.dead_letters import (
    dead_letter_document,
    dead_letter_headers,
    message_dead_letter_id,
)
from herald_core.messages.states import MessageStatus
from herald_devstack.topic_reader import TopicReader
from herald_devstack.waiting import eventually
from herald_infra.messages.queueing import send_event_from_document
from herald_infra.mongo.client import Document

from .conftest import (
    OTHER_TENANT,
    OTHER_TOKEN,
    TENANT,
    TOKEN,
    RunningService,
    by_key,
    campaign_settings,
    create_campaign,
    running_campaign_with_messages,
    running_service,
    send_events,
)

pytestmark = pytest.mark.integration

ADMIN_TOKEN = "campaign-it-admin-token"

S = MessageStatus
_offsets = itertools.count(1_000)
_clock = itertools.count(1)


def recorded_at() -> datetime:
    """A later time at every call (whole seconds: MongoDB keeps milliseconds)."""
    return datetime(2026, 5, 1, tzinfo=UTC) + timedelta(seconds=next(_clock))


def message_dead_letter(
    message: Document, *, attempt: int | None = None, reason: str = "exhausted", **extra: Any
) -> Document:
    """The dead letter of a message's attempt, as a sender dead-letters its send event."""
    attempt = attempt or int(message["attempt"])
    event = send_event_from_document({**message, "attempt": attempt})
    offset = next(_offsets)
    headers = dead_letter_headers(
        topic=MESSAGE_SEND_FALLBACK,
        partition=3,
        offset=offset,
        error="herald_gateways.failures.GatewayTimeout",
        error_message="gateway timed out after 30 s",
        reason=reason,
        attempts=3,
        dead_letter_id=message_dead_letter_id(message["_id"], attempt),
    )
    document = dead_letter_document(
        payload=event.model_dump_json().encode(),
        headers=headers,
        key=event.account_id.encode(),
        dlt_partition=0,
        dlt_offset=offset,
        recorded_at=recorded_at(),
    )
    return {**document, **extra}


def poison_dead_letter(
    payload: bytes,
    *,
    topic: str = CAMPAIGN_COMMANDS,
    key: bytes | None = None,
    reason: str = "schema-invalid",
    **extra: Any,
) -> Document:
    """The dead letter of a record a consumer refused (or, with ``topic=None``, of a record
    someone else's producer put on the dead-letter topic, without Herald's headers)."""
    offset = next(_offsets)
    headers = dead_letter_headers(
        topic=topic,
        partition=1,
        offset=offset,
        error="herald_infra.kafka.broker.InvalidRecord",
        error_message="refused",
        reason=reason,
    )
    document = dead_letter_document(
        payload=payload,
        headers=headers,
        key=key,
        dlt_partition=1,
        dlt_offset=offset,
        recorded_at=recorded_at(),
    )
    return {**document, **extra}


def redriven_already(at: datetime) -> dict[str, Any]:
    return {"status": "redriven", "redriveCount": 1, "redrivenAt": at}


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "dead_letters").model_copy(
        update={"admin_token": SecretStr(ADMIN_TOKEN)}
    )
    async with running_service(settings) as svc:
        await register_api_key(svc.db, OTHER_TOKEN, OTHER_TENANT, "other tenant")
        yield svc


@pytest.fixture
def api(service: RunningService) -> httpx.AsyncClient:
    return service.client


async def messages_of(service: RunningService, campaign_id: str) -> list[Document]:
    cursor = service.db["messages"].find({"campaignId": campaign_id}).sort("_id", 1)
    return [m async for m in cursor]


async def dead_letter_statuses(service: RunningService, ids: list[str]) -> list[tuple[str, int]]:
    stored = {d["_id"]: d async for d in service.db["dead_letters"].find({"_id": {"$in": ids}})}
    return [(stored[i]["status"], stored[i]["redriveCount"]) for i in ids]


async def listed_ids(api: httpx.AsyncClient, **params: Any) -> list[str]:
    response = await api.get("/api/dead-letters", params=params)
    assert response.status_code == 200, response.text
    return [d["id"] for d in response.json()["deadLetters"]]


# Reading


async def test_list_is_newest_first_filtered_and_paginated(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    campaign_id = await running_campaign_with_messages(
        api, service, [(S.FAILED, True), (S.FAILED, False), (S.FAILED, True)]
    )
    m0, m1, m2 = await messages_of(service, campaign_id)
    oldest = message_dead_letter(m0)
    permanent = message_dead_letter(m1, reason="permanent")
    newest = message_dead_letter(m2, **redriven_already(recorded_at()))
    await service.db["dead_letters"].insert_many([oldest, permanent, newest])

    everything = (await api.get("/api/dead-letters", params={"campaignId": campaign_id})).json()
    assert [d["id"] for d in everything["deadLetters"]] == [
        newest["_id"],
        permanent["_id"],
        oldest["_id"],
    ]
    assert (everything["total"], everything["limit"], everything["offset"]) == (3, 50, 0)
    first_page = (
        await api.get("/api/dead-letters", params={"campaignId": campaign_id, "limit": 2})
    ).json()
    assert [d["id"] for d in first_page["deadLetters"]] == [newest["_id"], permanent["_id"]]
    assert first_page["total"] == 3
    assert await listed_ids(api, campaignId=campaign_id, limit=2, offset=2) == [oldest["_id"]]

    assert await listed_ids(api, campaignId=campaign_id, reason="permanent") == [permanent["_id"]]
    assert await listed_ids(api, campaignId=campaign_id, status="redriven") == [newest["_id"]]
    assert await listed_ids(api, campaignId=campaign_id, status="open", reason="exhausted") == [
        oldest["_id"]
    ]
    # A tenant-wide list holds them too.
    assert {oldest["_id"], permanent["_id"]} <= set(await listed_ids(api, limit=500))


async def test_a_dead_letter_reads_camel_case_without_its_raw_bytes(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    campaign_id = await running_campaign_with_messages(api, service, [(S.FAILED, True)])
    (message,) = await messages_of(service, campaign_id)
    letter = message_dead_letter(message)
    await service.db["dead_letters"].insert_one(letter)

    response = await api.get(f"/api/dead-letters/{letter['_id']}")
    assert response.status_code == 200, response.text
    body = response.json()
    assert set(body) == {
        "id",
        "campaignId",
        "messageId",
        "reason",
        "exceptionType",
        "exceptionMessage",
        "originalTopic",
        "originalPartition",
        "originalOffset",
        "attempts",
        "firstFailureAt",
        "lastFailureAt",
        "payload",
        "key",
        "recordedAt",
        "status",
        "redriveCount",
        "redrivenAt",
    }
    assert body["id"] == message_dead_letter_id(message["_id"], 1)
    assert (body["campaignId"], body["messageId"]) == (campaign_id, message["_id"])
    assert (body["reason"], body["attempts"]) == ("exhausted", 3)
    assert body["exceptionType"] == "herald_gateways.failures.GatewayTimeout"
    assert body["exceptionMessage"] == "gateway timed out after 30 s"
    assert (body["originalTopic"], body["originalPartition"], body["originalOffset"]) == (
        MESSAGE_SEND_FALLBACK,
        3,
        letter["originalOffset"],
    )
    assert json.loads(body["payload"])["message_id"] == message["_id"]
    assert body["key"] == "default"
    assert datetime.fromisoformat(body["recordedAt"]) == letter["recordedAt"]
    assert datetime.fromisoformat(body["firstFailureAt"]) <= datetime.now(UTC)
    assert (body["status"], body["redriveCount"], body["redrivenAt"]) == ("open", 0, None)

    listed = (await api.get("/api/dead-letters", params={"campaignId": campaign_id})).json()
    assert listed["deadLetters"] == [body]


async def test_an_unknown_dead_letter_is_404(api: httpx.AsyncClient) -> None:
    for method, path in [
        ("GET", "/api/dead-letters/dlt_nope"),
        ("POST", "/api/dead-letters/dlt_nope/redrive"),
    ]:
        response = await api.request(method, path)
        assert response.status_code == 404, (method, path)
        assert response.json() == {"error": "dead letter not found"}


async def test_a_tenant_sees_its_own_dead_letters_only(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    campaign_id = await running_campaign_with_messages(api, service, [(S.FAILED, True)])
    (message,) = await messages_of(service, campaign_id)
    ours = message_dead_letter(message)
    theirs = poison_dead_letter(
        json.dumps({"tenant_id": OTHER_TENANT, "campaign_id": "cmp_theirs"}).encode()
    )
    # A record that named no tenant is nobody's: not even the default tenant's (ours, in these
    # tests, as HERALD_API_TOKEN's tenant), which saw them before there were operators.
    unattributed = poison_dead_letter(b"\xff\xfe not json", reason="undecodable")
    assert unattributed["tenantId"] is None
    await service.db["dead_letters"].insert_many([ours, theirs, unattributed])

    async with service.client_for(OTHER_TOKEN) as intruder:
        for method, path in [
            ("GET", f"/api/dead-letters/{ours['_id']}"),
            ("POST", f"/api/dead-letters/{ours['_id']}/redrive"),
            ("GET", f"/api/dead-letters/{unattributed['_id']}"),
        ]:
            response = await intruder.request(method, path)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json() == {"error": "dead letter not found"}
        their_list = await listed_ids(intruder, limit=500)
        assert their_list == [theirs["_id"]]
        assert await listed_ids(intruder, campaignId=campaign_id) == []
        assert (await intruder.get(f"/api/dead-letters/{theirs['_id']}")).status_code == 200

    for method, path in [
        ("GET", f"/api/dead-letters/{theirs['_id']}"),
        ("GET", f"/api/dead-letters/{unattributed['_id']}"),
        ("POST", f"/api/dead-letters/{unattributed['_id']}/redrive"),
    ]:
        response = await api.request(method, path)
        assert response.status_code == 404, (method, path, response.text)
    our_list = await listed_ids(api, limit=500)
    assert ours["_id"] in our_list
    assert theirs["_id"] not in our_list and unattributed["_id"] not in our_list
    assert await dead_letter_statuses(service, [ours["_id"], unattributed["_id"]]) == [
        ("open", 0),
        ("open", 0),
    ]
    stored = await service.db["messages"].find_one({"_id": message["_id"]})
    assert stored is not None and stored["status"] == "failed"


async def admin_ids(operator: httpx.AsyncClient, **params: Any) -> list[tuple[str, str | None]]:
    response = await operator.get("/api/admin/dead-letters", params={"limit": 500, **params})
    assert response.status_code == 200, response.text
    return [(d["id"], d["tenantId"]) for d in response.json()["deadLetters"]]


async def test_an_operator_sees_every_tenants_dead_letters_and_the_unattributed(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    campaign_id = await running_campaign_with_messages(api, service, [(S.FAILED, True)])
    (message,) = await messages_of(service, campaign_id)
    ours = message_dead_letter(message)
    theirs = poison_dead_letter(
        json.dumps({"tenant_id": OTHER_TENANT, "campaign_id": "cmp_theirs"}).encode()
    )
    unattributed = poison_dead_letter(b"\xff\xfe not json", reason="undecodable")
    await service.db["dead_letters"].insert_many([ours, theirs, unattributed])

    async with service.client_for(ADMIN_TOKEN) as operator:
        everything = await admin_ids(operator)
        assert {
            (ours["_id"], TENANT),
            (theirs["_id"], OTHER_TENANT),
            (unattributed["_id"], None),
        } <= set(everything)
        assert all(
            tenant == OTHER_TENANT for _, tenant in await admin_ids(operator, tenantId=OTHER_TENANT)
        )
        assert (theirs["_id"], OTHER_TENANT) in await admin_ids(operator, tenantId=OTHER_TENANT)
        nobodys = await admin_ids(operator, unattributed="true")
        assert (unattributed["_id"], None) in nobodys
        assert all(tenant is None for _, tenant in nobodys)
        assert await admin_ids(operator, campaignId=campaign_id) == [(ours["_id"], TENANT)]
        one = await operator.get(f"/api/admin/dead-letters/{theirs['_id']}")
        assert one.status_code == 200 and one.json()["tenantId"] == OTHER_TENANT, one.text
        both = await operator.get(
            "/api/admin/dead-letters", params={"tenantId": TENANT, "unattributed": "true"}
        )
        assert both.status_code == 422, both.text
        assert [f["field"] for f in both.json()["fields"]] == ["unattributed"]
        # The operator credential is not a tenant's.
        assert (await operator.get("/api/dead-letters")).status_code == 403

    for token in (TOKEN, OTHER_TOKEN):
        async with service.client_for(token) as tenant:
            for method, path in [
                ("GET", "/api/admin/dead-letters"),
                ("GET", f"/api/admin/dead-letters/{ours['_id']}"),
                ("POST", f"/api/admin/dead-letters/{ours['_id']}/redrive"),
            ]:
                response = await tenant.request(method, path)
                assert response.status_code == 403, (method, path, response.text)
    assert await dead_letter_statuses(service, [ours["_id"]]) == [("open", 0)]


async def test_an_operator_redrives_a_record_that_named_no_tenant(
    service: RunningService,
) -> None:
    # A command that named no tenant, refused by the consumer: only an operator can see it and
    # publish it again (here, to see it refused again by the fixed consumer).
    raw = json.dumps({"type": "campaign.pause", "event_id": uuid.uuid4().hex}).encode()
    letter = poison_dead_letter(raw, key=b"nobody")
    assert letter["tenantId"] is None
    await service.db["dead_letters"].insert_one(letter)
    async with (
        service.client_for(ADMIN_TOKEN) as operator,
        TopicReader(service.kafka, CAMPAIGN_COMMANDS) as topic,
    ):
        response = await operator.post(f"/api/admin/dead-letters/{letter['_id']}/redrive")
        assert response.status_code == 200, response.text
        records = [r for r in await topic.read_to_end() if r.key == b"nobody"]
    assert [r.value for r in records] == [raw]
    assert response.json()["deadLetter"]["status"] == "redriven"


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"limit": "many"}, "limit"),
        ({"offset": -1}, "offset"),
        ({"status": "closed"}, "status"),
        ({"campaignId": ""}, "campaignId"),
        ({"reason": ""}, "reason"),
    ],
)
async def test_bad_query_parameters_are_named(
    api: httpx.AsyncClient, params: dict[str, Any], field: str
) -> None:
    response = await api.get("/api/dead-letters", params=params)
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation failed"
    assert [f["field"] for f in body["fields"]] == [field]


# Redriving one dead letter


async def test_redriving_a_messages_dead_letter_gives_it_a_fresh_plan_once(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    campaign_id = await running_campaign_with_messages(api, service, [(S.FAILED, True)])
    history = [
        {"attempt": n, "engine": engine, "outcome": "timeout"}
        for n, engine in [(1, "primary"), (2, "fallback"), (3, "fallback")]
    ]
    message_id = f"msg-{campaign_id}-0"
    await service.db["messages"].update_one(
        {"_id": message_id},
        {"$set": {"attempt": 3, "planStep": 2, "attempts": history, "failedReason": "timeout"}},
    )
    (message,) = await messages_of(service, campaign_id)
    letter = message_dead_letter(message)
    await service.db["dead_letters"].insert_one(letter)
    path = f"/api/dead-letters/{letter['_id']}/redrive"

    async with TopicReader(service.kafka, MESSAGE_SEND_PRIMARY) as topic:
        response = await api.post(path)
        assert response.status_code == 200, response.text
        again = await api.post(path)
        published = send_events(await topic.read_to_end(), campaign_id)

    body = response.json()
    assert body["topic"] == MESSAGE_SEND_PRIMARY
    assert body["message"] == {
        "id": message_id,
        "status": "queued",
        "attempt": 4,
        "planStep": 0,
        "retryCount": 1,
    }
    dead_letter = body["deadLetter"]
    assert (dead_letter["id"], dead_letter["status"], dead_letter["redriveCount"]) == (
        letter["_id"],
        "redriven",
        1,
    )
    assert datetime.fromisoformat(dead_letter["redrivenAt"]) <= datetime.now(UTC)
    assert (await api.get(f"/api/dead-letters/{letter['_id']}")).json() == dead_letter

    # The message moved on: a second redrive would send it twice.
    assert again.status_code == 409
    assert again.json() == {
        "error": f"message {message_id} is queued; only a failed message can be redriven"
    }
    assert await dead_letter_statuses(service, [letter["_id"]]) == [("redriven", 1)]

    assert [(e.message_id, e.attempt, e.step) for e in published] == [(message_id, 4, 0)]
    (stored,) = await messages_of(service, campaign_id)
    assert stored["_id"] == message_id
    assert (stored["status"], stored["attempt"], stored["planStep"], stored["retryCount"]) == (
        "queued",
        4,
        0,
        1,
    )
    assert stored["attempts"] == history
    campaign = await service.db["campaigns"].find_one({"_id": campaign_id})
    assert campaign is not None
    assert (campaign["counts"]["failed"], campaign["counts"]["queued"]) == (0, 1)


async def test_a_message_that_is_no_longer_failed_is_not_redriven(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    campaign_id = await running_campaign_with_messages(api, service, [(S.SENT, False)])
    (message,) = await messages_of(service, campaign_id)
    sent = message_dead_letter(message)
    vanished = message_dead_letter({**message, "_id": f"msg-{campaign_id}-gone"})
    await service.db["dead_letters"].insert_many([sent, vanished])

    async with TopicReader(service.kafka, MESSAGE_SEND_PRIMARY) as topic:
        refused = await api.post(f"/api/dead-letters/{sent['_id']}/redrive")
        gone = await api.post(f"/api/dead-letters/{vanished['_id']}/redrive")
        published = send_events(await topic.read_to_end(), campaign_id)
    assert refused.status_code == 409
    assert refused.json() == {
        "error": f"message {message['_id']} is sent; only a failed message can be redriven"
    }
    assert gone.status_code == 409
    assert gone.json() == {"error": f"message msg-{campaign_id}-gone no longer exists"}
    assert published == []
    assert await dead_letter_statuses(service, [sent["_id"], vanished["_id"]]) == [
        ("open", 0),
        ("open", 0),
    ]


async def test_redriving_a_poison_record_publishes_its_bytes_again_where_they_came_from(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    # A command refused while its campaign did not exist; the campaign exists now.
    campaign_id = (await create_campaign(api))["id"]
    command_id = uuid.uuid4().hex
    raw = json.dumps(
        {
            "type": "campaign.contacts.add",
            "event_id": command_id,
            "tenant_id": TENANT,
            "campaign_id": campaign_id,
            "contacts": [{"phone": "+919876543210", "name": "Asha"}],
        },
        separators=(",", ":"),
    ).encode()
    letter = poison_dead_letter(raw, key=campaign_id.encode(), reason="unknown-campaign")
    assert (letter["tenantId"], letter["campaignId"], letter["messageId"]) == (
        TENANT,
        campaign_id,
        None,
    )
    await service.db["dead_letters"].insert_one(letter)

    async with TopicReader(service.kafka, CAMPAIGN_COMMANDS) as topic:
        response = await api.post(f"/api/dead-letters/{letter['_id']}/redrive")
        assert response.status_code == 200, response.text
        records = by_key(await topic.read_to_end(), campaign_id)

    body = response.json()
    assert (body["topic"], body["message"]) == (CAMPAIGN_COMMANDS, None)
    assert (body["deadLetter"]["status"], body["deadLetter"]["redriveCount"]) == ("redriven", 1)
    assert [r.value for r in records] == [raw]
    assert ("herald-redrive-of", letter["_id"].encode()) in list(records[0].headers)

    # The command consumer takes it this time.
    processed = service.db["processed_commands"]
    await eventually(
        lambda: processed.find_one({"_id": command_id}),
        lambda found: found is not None,
        what="the redriven command applied",
    )
    campaign = (await api.get(f"/api/campaigns/{campaign_id}")).json()
    assert (campaign["status"], campaign["contactCount"]) == ("draft", 1)


async def test_a_poison_record_of_unknown_origin_stays_where_it_is(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    foreign = dead_letter_document(
        payload=json.dumps({"tenant_id": TENANT}).encode(),
        headers={},
        key=None,
        dlt_partition=2,
        dlt_offset=next(_offsets),
        recorded_at=recorded_at(),
    )
    await service.db["dead_letters"].insert_one(foreign)
    response = await api.post(f"/api/dead-letters/{foreign['_id']}/redrive")
    assert response.status_code == 409
    assert response.json() == {
        "error": "the record came from 'unknown', not a Herald topic it can be published to again"
    }
    assert await dead_letter_statuses(service, [foreign["_id"]]) == [("open", 0)]


# Redriving a campaign's dead letters


async def test_a_campaign_redrive_takes_its_open_dead_letters_and_counts_the_rest(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    campaign_id = await running_campaign_with_messages(
        api, service, [(S.FAILED, True), (S.FAILED, False), (S.SENT, False), (S.FAILED, True)]
    )
    await service.db["messages"].update_one(
        {"_id": f"msg-{campaign_id}-0"}, {"$set": {"attempt": 3, "planStep": 2}}
    )
    m0, m1, m2, m3 = await messages_of(service, campaign_id)
    letters = {
        # Two open dead letters of one message: it is requeued once.
        "m0 first plan": message_dead_letter(m0, attempt=1),
        "m0 second plan": message_dead_letter(m0),
        "m1 permanent": message_dead_letter(m1, reason="permanent"),
        "m2 sent since": message_dead_letter(m2),
        "m3 redriven already": message_dead_letter(m3, **redriven_already(recorded_at())),
        "poison, unknown origin": poison_dead_letter(
            json.dumps({"tenant_id": TENANT, "campaign_id": campaign_id}).encode(),
            topic="someone.elses.topic",
        ),
    }
    other_campaign = await running_campaign_with_messages(api, service, [(S.FAILED, True)])
    (elsewhere,) = await messages_of(service, other_campaign)
    untouched = message_dead_letter(elsewhere)
    await service.db["dead_letters"].insert_many([*letters.values(), untouched])
    path = f"/api/campaigns/{campaign_id}/dead-letters/redrive"

    async with TopicReader(service.kafka, MESSAGE_SEND_PRIMARY) as topic:
        response = await api.post(path)
        assert response.status_code == 200, response.text
        assert response.json() == {"redriven": 2, "skipped": 3}
        again = await api.post(path)
        assert again.json() == {"redriven": 0, "skipped": 3}
        records = await topic.read_to_end()
    published = send_events(records, campaign_id) + send_events(records, other_campaign)

    assert sorted((e.message_id, e.attempt, e.step) for e in published) == [
        (m0["_id"], 4, 0),
        (m1["_id"], 2, 0),
    ]
    statuses = await dead_letter_statuses(service, [d["_id"] for d in letters.values()])
    assert dict(zip(letters, statuses, strict=True)) == {
        "m0 first plan": ("redriven", 1),
        "m0 second plan": ("open", 0),
        "m1 permanent": ("redriven", 1),
        "m2 sent since": ("open", 0),
        "m3 redriven already": ("redriven", 1),
        "poison, unknown origin": ("open", 0),
    }
    assert [(m["status"], m["attempt"]) for m in await messages_of(service, campaign_id)] == [
        ("queued", 4),
        ("queued", 2),
        ("sent", 1),
        ("failed", 1),
    ]
    assert await dead_letter_statuses(service, [untouched["_id"]]) == [("open", 0)]
    assert [m["status"] for m in await messages_of(service, other_campaign)] == ["failed"]


async def test_a_campaign_redrive_of_an_unknown_campaign_is_404(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/campaigns/cmp_nope/dead-letters/redrive")
    assert response.status_code == 404
    assert response.json() == {"error": "campaign not found"}


async def test_a_long_list_pages_right_and_counts_exactly_up_to_its_bound(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    """More dead letters than the exact count goes to, recorded minutes to years apart: the pages
    stay newest first across the windows the list is read in, the total says when it is a bound,
    and a filter that matches fewer is counted exactly, the oldest included."""
    campaign_id = f"cmp_long_{uuid.uuid4().hex[:8]}"
    payload = json.dumps({"tenant_id": TENANT, "campaign_id": campaign_id}).encode()
    latest = datetime(2026, 4, 1, tzinfo=UTC)  # older than every other test's
    letters = [
        poison_dead_letter(
            payload,
            reason="rare" if i % 40 == 0 else "common",
            tenantId=TENANT,
            campaignId=campaign_id,
            recordedAt=latest - timedelta(minutes=3 * i),
        )
        for i in range(COUNT_CAP + 50)
    ] + [
        poison_dead_letter(
            payload,
            reason="rare",
            tenantId=TENANT,
            campaignId=campaign_id,
            recordedAt=datetime(2019, 1, 1, tzinfo=UTC) + timedelta(days=i),
        )
        for i in range(3)
    ]
    await service.db["dead_letters"].insert_many(letters)
    newest_first = [d["_id"] for d in sorted(letters, key=lambda d: d["recordedAt"], reverse=True)]
    rare = [i for i in newest_first if i in {d["_id"] for d in letters if d["reason"] == "rare"}]

    def listing(body: dict[str, Any]) -> tuple[list[str], int, bool]:
        return (
            [d["id"] for d in body["deadLetters"]],
            body["total"],
            body["totalIsLowerBound"],
        )

    response = await api.get(
        "/api/dead-letters",
        params={"campaignId": campaign_id, "limit": 100, "offset": COUNT_CAP - 100},
    )
    assert response.status_code == 200, response.text
    body = response.json()
    ids, total, lower_bound = listing(body)
    assert ids == newest_first[COUNT_CAP - 100 : COUNT_CAP]
    assert lower_bound and total > COUNT_CAP

    body = (
        await api.get("/api/dead-letters", params={"campaignId": campaign_id, "reason": "rare"})
    ).json()
    assert listing(body) == (rare, len(rare), False)

    async with service.client_for(ADMIN_TOKEN) as operator:
        for params in (
            {"tenantId": TENANT, "campaignId": campaign_id},
            {"campaignId": campaign_id},
        ):
            response = await operator.get(
                "/api/admin/dead-letters", params={**params, "limit": 20, "offset": COUNT_CAP + 40}
            )
            assert response.status_code == 200, response.text
            body = response.json()
            ids, total, lower_bound = listing(body)
            # A page past the bound reads to the end: the total is exact again.
            assert (ids, total, lower_bound) == (
                newest_first[COUNT_CAP + 40 :],
                len(letters),
                False,
            ), params
            body = (
                await operator.get(
                    "/api/admin/dead-letters", params={**params, "reason": "rare", "limit": 500}
                )
            ).json()
            assert listing(body) == (rare, len(rare), False), params
