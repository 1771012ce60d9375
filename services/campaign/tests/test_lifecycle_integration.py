"""Pause, resume and cancel over REST and as ``campaign.commands``, against the real Kafka broker
and MongoDB-wire server: each moves the campaign, announces it on ``campaign.events`` and does
what it promises to the messages; what the lifecycle rules out is a 409 (or a dead letter)
with the reason."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from herald_campaign.adapters.api_keys import register_api_key
from herald_campaign.domain.campaigns import derived_event_id
from herald_core.contracts.events import campaign_event_adapter
from herald_core.contracts.topics import (
    CAMPAIGN_COMMANDS,
    CAMPAIGN_EVENTS,
    CAMPAIGN_SYSTEM_COMMANDS,
    MESSAGE_DLT,
    MESSAGE_SEND_PRIMARY,
)
from herald_core.messages.states import MessageStatus
from herald_core.schedules import campaign_schedule_id
from herald_devstack.topic_reader import TopicReader
from herald_devstack.waiting import eventually
from herald_infra.messages.counters import recount
from herald_infra.messages.unsent_endings import UnsentEndings

from .conftest import (
    OTHER_TENANT,
    OTHER_TOKEN,
    TENANT,
    RunningService,
    by_key,
    campaign_settings,
    create_campaign,
    running_campaign_with_messages,
    running_service,
    send_events,
)

pytestmark = pytest.mark.integration
S = MessageStatus


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "lifecycle")
    async with running_service(settings) as svc:
        await register_api_key(svc.db, OTHER_TOKEN, OTHER_TENANT, "other tenant")
        yield svc


@pytest.fixture
def api(service: RunningService) -> httpx.AsyncClient:
    return service.client


@pytest.fixture(scope="module")
async def producer(service: RunningService) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=service.kafka, acks="all")
    await producer.start()
    yield producer
    await producer.stop()


def events_of(records: list[Any], campaign_id: str) -> list[Any]:
    return [campaign_event_adapter.validate_json(r.value) for r in by_key(records, campaign_id)]


async def campaign_doc(service: RunningService, campaign_id: str) -> dict[str, Any]:
    found = await service.db["campaigns"].find_one({"_id": campaign_id})
    assert found is not None
    return dict(found)


async def statuses(service: RunningService, campaign_id: str) -> dict[str, str]:
    cursor = service.db["messages"].find({"campaignId": campaign_id})
    return {m["_id"].rsplit("-", 1)[1]: m["status"] async for m in cursor}


async def counters_add_up(service: RunningService, campaign_id: str) -> dict[str, int]:
    counts = {k: v for k, v in (await campaign_doc(service, campaign_id))["counts"].items() if v}
    assert counts == {k: v for k, v in (await recount(service.db, campaign_id)).items() if v}
    return counts


async def test_pause_resume_and_cancel_a_running_campaign_over_rest(
    service: RunningService, api: httpx.AsyncClient
) -> None:
    campaign_id = await running_campaign_with_messages(
        api,
        service,
        [(S.SENT, False), (S.QUEUED, False), (S.QUEUED, False), (S.PENDING, False)],
    )
    async with (
        TopicReader(service.kafka, CAMPAIGN_EVENTS) as events,
        TopicReader(service.kafka, MESSAGE_SEND_PRIMARY) as sends,
    ):
        paused = await api.post(
            f"/api/campaigns/{campaign_id}/pause", json={"reason": "the offer changed"}
        )
        assert paused.status_code == 200, paused.text
        body = paused.json()
        assert (body["status"], body["pausedBy"], body["pauseReason"]) == (
            "paused",
            "user",
            "the offer changed",
        )
        assert body["pausedAt"] is not None
        # Meanwhile a sender handed one queued message back; the other is still on its topic.
        await service.db["messages"].update_one(
            {"_id": f"msg-{campaign_id}-1"}, {"$set": {"heldAt": datetime.now(UTC)}}
        )

        resumed = await api.post(f"/api/campaigns/{campaign_id}/resume")
        assert resumed.status_code == 200, resumed.text
        assert resumed.json()["status"] == "running"
        assert resumed.json()["resumedAt"] is not None
        # The messages that waited went out again: the held one and the one never published.
        republished = send_events(await sends.read_to_end(), campaign_id)
        assert sorted(e.message_id for e in republished) == [
            f"msg-{campaign_id}-1",
            f"msg-{campaign_id}-3",
        ]
        stored = await campaign_doc(service, campaign_id)
        at_resume = {k: v for k, v in stored["countsAtResume"].items() if v}
        assert at_resume == {"total": 4, "sent": 1, "queued": 2, "pending": 1}

        cancelled = await api.post(
            f"/api/campaigns/{campaign_id}/cancel", json={"reason": "budget cut"}
        )
        assert cancelled.status_code == 200, cancelled.text
        body = cancelled.json()
        assert (body["status"], body["cancelReason"], body["cancelledMessages"]) == (
            "cancelled",
            "budget cut",
            3,
        )
        published = events_of(await events.read_to_end(), campaign_id)

    assert [e.type for e in published] == [
        "campaign.paused",
        "campaign.resumed",
        "campaign.cancelled",
    ]
    pause_event, _, cancel_event = published
    assert (pause_event.by, pause_event.reason) == ("user", "the offer changed")
    assert (cancel_event.cancelled_messages, cancel_event.reason) == (3, "budget cut")
    assert {e.tenant_id for e in published} == {TENANT}
    # The cancel queued its unsent messages' end; the scheduler's worker does it, in batches.
    assert await service.db["unsent_endings"].find_one({"_id": campaign_id}) is not None
    await UnsentEndings(service.db).run_until_done()
    assert await statuses(service, campaign_id) == {
        "0": "sent",
        "1": "cancelled",
        "2": "cancelled",
        "3": "cancelled",
    }
    assert await counters_add_up(service, campaign_id) == {"total": 4, "sent": 1, "cancelled": 3}


async def test_what_the_lifecycle_rules_out_is_a_409_with_the_reason(
    service: RunningService, api: httpx.AsyncClient
) -> None:
    draft = (await create_campaign(api))["id"]
    refused = await api.post(f"/api/campaigns/{draft}/pause")
    assert refused.status_code == 409
    assert refused.json() == {"error": "cannot pause a draft campaign (only: running)"}
    assert (await api.post(f"/api/campaigns/{draft}/resume")).status_code == 409

    # A draft can be cancelled; a cancelled campaign cannot be resumed nor cancelled again.
    assert (await api.post(f"/api/campaigns/{draft}/cancel")).json()["status"] == "cancelled"
    refused = await api.post(f"/api/campaigns/{draft}/resume")
    assert refused.status_code == 409
    assert refused.json() == {"error": "campaign is cancelled; it cannot resume"}
    assert (await api.post(f"/api/campaigns/{draft}/cancel")).status_code == 409

    running = await running_campaign_with_messages(api, service, [(S.SENT, False)])
    assert (await api.post(f"/api/campaigns/{running}/resume")).status_code == 409
    assert (await api.post(f"/api/campaigns/{running}/pause")).status_code == 200
    refused = await api.post(f"/api/campaigns/{running}/pause")
    assert refused.status_code == 409
    assert "cannot pause a paused campaign" in refused.json()["error"]

    # Completed (as the scheduler's sweep marks it): nothing left to cancel.
    await service.db["campaigns"].update_one({"_id": running}, {"$set": {"status": "completed"}})
    refused = await api.post(f"/api/campaigns/{running}/cancel")
    assert refused.status_code == 409
    assert refused.json() == {"error": "campaign is completed; it cannot cancel"}
    assert (await campaign_doc(service, running))["status"] == "completed"


async def test_another_tenants_campaign_is_not_found_and_bad_bodies_name_the_field(
    service: RunningService, api: httpx.AsyncClient
) -> None:
    campaign_id = await running_campaign_with_messages(api, service, [(S.QUEUED, False)])
    async with service.client_for(OTHER_TOKEN) as other:
        for action in ("pause", "resume", "cancel"):
            response = await other.post(f"/api/campaigns/{campaign_id}/{action}")
            assert response.status_code == 404, response.text
            assert response.json() == {"error": "campaign not found"}
    assert (await campaign_doc(service, campaign_id))["status"] == "running"

    too_long = await api.post(f"/api/campaigns/{campaign_id}/pause", json={"reason": "x" * 501})
    assert too_long.status_code == 422
    assert [f["field"] for f in too_long.json()["fields"]] == ["reason"]
    unknown = await api.post(f"/api/campaigns/{campaign_id}/cancel", json={"why": "typo"})
    assert unknown.status_code == 422
    assert [f["field"] for f in unknown.json()["fields"]] == ["why"]
    malformed = await api.post(
        f"/api/campaigns/{campaign_id}/pause",
        content=b"{nope",
        headers={"Content-Type": "application/json"},
    )
    assert malformed.status_code == 400
    assert (await campaign_doc(service, campaign_id))["status"] == "running"
    unauthenticated = await service.client_for(None).post(f"/api/campaigns/{campaign_id}/pause")
    assert unauthenticated.status_code == 401


async def test_cancelling_a_scheduled_campaign_stops_its_schedule(
    service: RunningService, api: httpx.AsyncClient
) -> None:
    campaign_id = (await create_campaign(api))["id"]
    # As a send with sendAt leaves it (the scheduler's part of the tree writes these).
    await service.db["campaigns"].update_one(
        {"_id": campaign_id}, {"$set": {"status": "scheduled"}}
    )
    schedule_id = campaign_schedule_id(campaign_id)
    await service.db["schedules"].insert_one(
        {
            "_id": schedule_id,
            "tenantId": TENANT,
            "campaignId": campaign_id,
            "kind": "campaign-send",
            "active": True,
            "nextRunAt": datetime(2030, 1, 1, tzinfo=UTC),
        }
    )

    cancelled = await api.post(f"/api/campaigns/{campaign_id}/cancel")

    assert cancelled.status_code == 200, cancelled.text
    assert cancelled.json()["cancelledMessages"] == 0
    schedule = await service.db["schedules"].find_one({"_id": schedule_id})
    assert schedule is not None
    assert schedule["active"] is False
    assert schedule["stoppedAt"] is not None


async def test_a_pause_whose_event_kafka_did_not_take_is_finished_by_the_next_request(
    service: RunningService, api: httpx.AsyncClient
) -> None:
    campaign_id = await running_campaign_with_messages(api, service, [(S.QUEUED, False)])
    # The pause applied, then Kafka refused its event (the client got a 503).
    await service.db["campaigns"].update_one(
        {"_id": campaign_id},
        {
            "$set": {
                "status": "paused",
                "pausedBy": "user",
                "lifecycleChange": {
                    "action": "pause",
                    "eventId": "evt-unpublished",
                    "commandId": None,
                    "publishedAt": None,
                },
            }
        },
    )
    async with TopicReader(service.kafka, CAMPAIGN_EVENTS) as events:
        again = await api.post(f"/api/campaigns/{campaign_id}/pause")
        assert again.status_code == 200, again.text
        published = events_of(await events.read_to_end(), campaign_id)
    assert [(e.type, e.event_id) for e in published] == [("campaign.paused", "evt-unpublished")]
    # Now announced: a further pause is what it is, a request the status rules out.
    assert (await api.post(f"/api/campaigns/{campaign_id}/pause")).status_code == 409


def command(kind: str, campaign_id: str, **fields: Any) -> dict[str, Any]:
    return {
        "type": kind,
        "event_id": uuid.uuid4().hex,
        "tenant_id": TENANT,
        "campaign_id": campaign_id,
        **fields,
    }


async def produce(
    producer: AIOKafkaProducer, key: str, *records: dict[str, Any], topic: str = CAMPAIGN_COMMANDS
) -> None:
    for record in records:
        await producer.send_and_wait(topic, json.dumps(record).encode(), key=key.encode())


async def test_commands_pause_resume_and_cancel_once_each_and_refusals_are_dead_lettered(
    service: RunningService, api: httpx.AsyncClient, producer: AIOKafkaProducer
) -> None:
    campaign_id = await running_campaign_with_messages(
        api, service, [(S.QUEUED, False), (S.SENT, False)]
    )
    pause = command("campaign.pause", campaign_id, by="system", reason="80% of sends failed")
    resume = command("campaign.resume", campaign_id)
    cancel = command("campaign.cancel", campaign_id, reason="stop it")
    pause_again = command("campaign.pause", campaign_id)  # a new pause of a cancelled one
    resume_again = command("campaign.resume", campaign_id)
    async with (
        TopicReader(service.kafka, CAMPAIGN_EVENTS) as events,
        TopicReader(service.kafka, MESSAGE_DLT) as dead_letters,
    ):
        # Each delivered twice: it acts once. A pause by the system is the scheduler's, on
        # its own topic (campaign.commands refuses it); the others wait until it applied.
        await produce(producer, campaign_id, pause, pause, topic=CAMPAIGN_SYSTEM_COMMANDS)
        await eventually(
            lambda: campaign_doc(service, campaign_id),
            lambda stored: stored["status"] == "paused",
            what="the system's pause applied",
        )
        await produce(
            producer,
            campaign_id,
            resume,
            resume,
            cancel,
            cancel,
            pause_again,
            resume_again,
        )
        refused = by_key(
            await dead_letters.read_until(lambda r: len(by_key(r, campaign_id)) >= 2),
            campaign_id,
        )
        await eventually(
            lambda: service.db["processed_commands"].count_documents({"campaignId": campaign_id}),
            lambda n: n == 3,
            what="the three commands recorded",
        )
        published = events_of(await events.read_to_end(), campaign_id)

    assert [(e.type, e.event_id) for e in published] == [
        ("campaign.paused", derived_event_id("campaign.paused", pause["event_id"])),
        ("campaign.resumed", derived_event_id("campaign.resumed", resume["event_id"])),
        ("campaign.cancelled", derived_event_id("campaign.cancelled", cancel["event_id"])),
    ]
    assert (published[0].by, published[0].reason) == ("system", "80% of sends failed")
    assert published[2].cancelled_messages == 1
    headers = [{k: v.decode() for k, v in r.headers} for r in refused]
    assert [h["herald-dlt-reason"] for h in headers] == ["campaign-cancelled"] * 2
    assert "cannot pause" in headers[0]["kafka_dlt-exception-message"]
    assert "cannot resume" in headers[1]["kafka_dlt-exception-message"]
    assert [json.loads(r.value)["event_id"] for r in refused] == [
        pause_again["event_id"],
        resume_again["event_id"],
    ]
    stored = await campaign_doc(service, campaign_id)
    assert (stored["status"], stored["pausedBy"], stored["cancelReason"]) == (
        "cancelled",
        "system",
        "stop it",
    )
    await UnsentEndings(service.db).run_until_done()
    assert await counters_add_up(service, campaign_id) == {"total": 2, "sent": 1, "cancelled": 1}


async def test_a_command_refused_by_the_lifecycle_is_dead_lettered_with_its_reason(
    service: RunningService, api: httpx.AsyncClient, producer: AIOKafkaProducer
) -> None:
    draft = (await create_campaign(api))["id"]
    pause = command("campaign.pause", draft)
    unknown = command("campaign.cancel", f"no-such-{uuid.uuid4().hex[:6]}")
    async with TopicReader(service.kafka, MESSAGE_DLT) as dead_letters:
        await produce(producer, draft, pause, unknown)
        refused = by_key(await dead_letters.read_until(lambda r: len(by_key(r, draft)) >= 2), draft)
    headers = [{k: v.decode() for k, v in r.headers} for r in refused]
    assert [h["herald-dlt-reason"] for h in headers] == ["campaign-draft", "unknown-campaign"]
    assert headers[0]["kafka_dlt-exception-message"] == (
        "cannot pause a draft campaign (only: running)"
    )
    assert headers[0]["kafka_dlt-original-topic"] == CAMPAIGN_COMMANDS
    assert (await campaign_doc(service, draft))["status"] == "draft"
