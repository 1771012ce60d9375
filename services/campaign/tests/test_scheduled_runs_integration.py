"""Scheduled sends in the campaign service, on the real Kafka and MongoDB: a send with a
schedule (REST and command), the scheduler's run starts (one run per firing, each once, a
redelivery after a crash publishing its launch again), and firings for campaigns that no
longer send, skipped without a dead letter."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from herald_campaign.adapters.api_keys import register_api_key
from herald_campaign.domain.campaigns import derived_event_id
from herald_core.contracts.topics import CAMPAIGN_EVENTS, CAMPAIGN_SYSTEM_COMMANDS, MESSAGE_DLT
from herald_core.schedules import Firing, campaign_schedule_id
from herald_devstack.topic_reader import TopicReader
from herald_devstack.waiting import eventually

from .conftest import (
    OTHER_TENANT,
    OTHER_TOKEN,
    TENANT,
    RunningService,
    by_key,
    campaign_settings,
    campaign_with_contacts,
    running_service,
)
from .test_commands_integration import command, events_of, handled_after, produce

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "scheduled")
    async with running_service(settings) as svc:
        await register_api_key(svc.db, OTHER_TOKEN, OTHER_TENANT, "other")
        yield svc


@pytest.fixture(scope="module")
async def producer(service: RunningService) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=service.kafka, acks="all")
    await producer.start()
    yield producer
    await producer.stop()


def run_command(campaign_id: str, scheduled_for: datetime) -> dict[str, Any]:
    firing = Firing(campaign_schedule_id(campaign_id), scheduled_for)
    return {
        **command(
            "campaign.run",
            campaign_id=campaign_id,
            schedule_id=firing.schedule_id,
            scheduled_for=scheduled_for.isoformat(),
        ),
        "event_id": firing.command_event_id,
    }


async def produce_runs(producer: AIOKafkaProducer, key: str, *runs: dict[str, Any]) -> None:
    """The scheduler's run starts, on the topic only the scheduler may write."""
    await produce(producer, key, *runs, topic=CAMPAIGN_SYSTEM_COMMANDS)


async def runs_handled_after(service: RunningService, producer: AIOKafkaProducer, key: str) -> None:
    """Wait until every run start sent on ``key`` so far was handled: send a run start of a
    draft campaign (skipped, but recorded) behind them on the same partition, and wait for it."""
    marker = run_command(await campaign_with_contacts(service.client), datetime.now(UTC))
    await produce_runs(producer, key, marker)
    await eventually(
        lambda: service.db["processed_commands"].find_one({"_id": marker["event_id"]}),
        lambda found: found is not None,
        what="the marker run start handled",
    )


async def test_a_send_with_a_cron_schedules_the_campaign_and_stores_its_schedule(
    service: RunningService,
) -> None:
    campaign_id = await campaign_with_contacts(service.client)
    async with TopicReader(service.kafka, CAMPAIGN_EVENTS) as events:
        sent = await service.client.post(
            f"/api/campaigns/{campaign_id}/send",
            json={"cron": "0 9 * * MON", "timezone": "Asia/Kolkata"},
        )
        published = events_of(await events.read_to_end(), campaign_id)
    assert sent.status_code == 202, sent.text
    body = sent.json()
    assert (body["status"], body["scheduleId"]) == ("scheduled", f"sch_{campaign_id}")
    next_run = datetime.fromisoformat(body["nextRunAt"])
    assert (next_run.weekday(), next_run.hour, next_run.minute) == (0, 3, 30)  # 09:00 IST
    schedule: Any = await service.db["schedules"].find_one({"_id": body["scheduleId"]})
    assert (schedule["tenantId"], schedule["campaignId"], schedule["active"]) == (
        TENANT,
        campaign_id,
        True,
    )
    assert (schedule["cron"], schedule["timezone"], "sendAt" in schedule) == (
        "0 9 * * MON",
        "Asia/Kolkata",
        False,
    )
    assert [e.type for e in published] == ["campaign.scheduled"]
    assert published[0].next_run_at == next_run
    campaign = (await service.client.get(f"/api/campaigns/{campaign_id}")).json()
    assert (campaign["status"], campaign["run"]) == ("scheduled", 0)
    other = service.client_for(OTHER_TOKEN)
    async with other:
        assert (await other.get(f"/api/schedules/{body['scheduleId']}")).status_code == 404


async def test_each_firing_starts_one_run_and_a_repeated_firing_acts_once(
    service: RunningService, producer: AIOKafkaProducer
) -> None:
    campaign_id = await campaign_with_contacts(service.client)
    sent = await service.client.post(
        f"/api/campaigns/{campaign_id}/send", json={"cron": "*/5 * * * *"}
    )
    assert sent.status_code == 202, sent.text
    first_slot = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    first = run_command(campaign_id, first_slot)
    second = run_command(campaign_id, first_slot + timedelta(minutes=1))
    async with TopicReader(service.kafka, CAMPAIGN_EVENTS) as events:
        await produce_runs(producer, campaign_id, first, first, second, second)
        await runs_handled_after(service, producer, campaign_id)
        launches = [
            e
            for e in events_of(await events.read_to_end(), campaign_id)
            if e.type == "campaign.launched"
        ]
    assert [(e.run, e.event_id) for e in launches] == [
        (1, derived_event_id("campaign.launched", first["event_id"])),
        (2, derived_event_id("campaign.launched", second["event_id"])),
    ]
    campaign: Any = await service.db["campaigns"].find_one({"_id": campaign_id})
    assert (campaign["status"], campaign["run"]) == ("running", 2)
    assert campaign["launchCommandId"] == second["event_id"]


async def test_a_run_start_redelivered_after_a_crash_publishes_its_launch_again(
    service: RunningService, producer: AIOKafkaProducer
) -> None:
    campaign_id = await campaign_with_contacts(service.client)
    slot = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    start = run_command(campaign_id, slot)
    launch_event_id = derived_event_id("campaign.launched", start["event_id"])
    # The first delivery started the run and died before publishing its launch.
    await service.db["campaigns"].update_one(
        {"_id": campaign_id},
        {
            "$set": {
                "status": "running",
                "run": 1,
                "launchedAt": datetime.now(UTC),
                "launchEventId": launch_event_id,
                "launchCommandId": start["event_id"],
            }
        },
    )
    async with TopicReader(service.kafka, CAMPAIGN_EVENTS) as events:
        await produce_runs(producer, campaign_id, start)
        await runs_handled_after(service, producer, campaign_id)
        published = events_of(await events.read_to_end(), campaign_id)
    assert [(e.type, e.event_id, e.run) for e in published] == [
        ("campaign.launched", launch_event_id, 1)
    ]
    assert (await service.db["campaigns"].find_one({"_id": campaign_id}))["run"] == 1  # type: ignore[index]


async def test_a_firing_for_a_campaign_that_no_longer_sends_is_skipped_not_dead_lettered(
    service: RunningService, producer: AIOKafkaProducer
) -> None:
    draft_id = await campaign_with_contacts(service.client)  # its schedule was stopped
    paused_id = await campaign_with_contacts(service.client)
    await service.db["campaigns"].update_one({"_id": paused_id}, {"$set": {"status": "paused"}})
    slot = datetime(2026, 6, 1, 9, 0, tzinfo=UTC)
    firings = [run_command(draft_id, slot), run_command(paused_id, slot)]
    async with (
        TopicReader(service.kafka, CAMPAIGN_EVENTS) as events,
        TopicReader(service.kafka, MESSAGE_DLT) as dead_letters,
    ):
        await produce_runs(producer, draft_id, firings[0])
        await produce_runs(producer, paused_id, firings[1])
        await runs_handled_after(service, producer, draft_id)
        await runs_handled_after(service, producer, paused_id)
        published = [*events_of(await events.read_to_end(), draft_id)]
        published += events_of(await events.read_to_end(), paused_id)
        refused = await dead_letters.read_to_end()
    assert published == []
    assert by_key(refused, draft_id) == [] and by_key(refused, paused_id) == []
    for campaign_id, status in ((draft_id, "draft"), (paused_id, "paused")):
        stored: Any = await service.db["campaigns"].find_one({"_id": campaign_id})
        assert stored["status"] == status and stored.get("run") is None
    processed = {
        p["_id"] async for p in service.db["processed_commands"].find({"type": "campaign.run"})
    }
    assert {f["event_id"] for f in firings} <= processed


async def test_a_send_command_with_send_at_schedules_once_when_delivered_twice(
    service: RunningService, producer: AIOKafkaProducer
) -> None:
    campaign_id = await campaign_with_contacts(service.client)
    send_at = datetime.now(UTC).replace(microsecond=0) + timedelta(hours=1)
    send = command("campaign.send", campaign_id=campaign_id, send_at=send_at.isoformat())
    bad = command("campaign.send", campaign_id=campaign_id, cron="0 25 * * *")
    async with (
        TopicReader(service.kafka, CAMPAIGN_EVENTS) as events,
        TopicReader(service.kafka, MESSAGE_DLT) as dead_letters,
    ):
        await produce(producer, campaign_id, send, send, bad)
        await handled_after(service, producer, campaign_id)
        published = events_of(await events.read_to_end(), campaign_id)
        refused = by_key(await dead_letters.read_to_end(), campaign_id)
    assert [(e.type, e.event_id) for e in published] == [
        ("campaign.scheduled", derived_event_id("campaign.scheduled", send["event_id"]))
    ]
    schedule: Any = await service.db["schedules"].find_one({"_id": f"sch_{campaign_id}"})
    assert schedule["nextRunAt"].astimezone(UTC) == send_at and schedule["active"] is True
    assert [dict(r.headers)["herald-dlt-reason"] for r in refused] == [b"schema-invalid"]
    assert json.loads(refused[0].value)["event_id"] == bad["event_id"]
