"""``campaign.commands`` driven by plain Kafka records, against the real Kafka and MongoDB."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from herald_campaign.domain.campaigns import campaign_id_for_command, derived_event_id
from herald_core.contracts.events import campaign_event_adapter
from herald_core.contracts.topics import CAMPAIGN_COMMANDS, CAMPAIGN_EVENTS, MESSAGE_DLT
from herald_devstack.topic_reader import TopicReader
from herald_devstack.waiting import eventually

from .conftest import (
    TENANT,
    RunningService,
    by_key,
    campaign_settings,
    running_service,
)

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "commands")
    async with running_service(settings) as svc:
        yield svc


@pytest.fixture(scope="module")
async def producer(service: RunningService) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=service.kafka, acks="all")
    await producer.start()
    yield producer
    await producer.stop()


def command(kind: str, **fields: Any) -> dict[str, Any]:
    return {"type": kind, "event_id": uuid.uuid4().hex, "tenant_id": TENANT, **fields}


async def produce(
    producer: AIOKafkaProducer,
    key: str,
    *records: dict[str, Any] | bytes,
    topic: str = CAMPAIGN_COMMANDS,
) -> None:
    """Send ``records`` in order on one key (one partition), each acknowledged by Kafka."""
    for record in records:
        value = record if isinstance(record, bytes) else json.dumps(record).encode()
        await producer.send_and_wait(topic, value, key=key.encode())


async def handled_after(service: RunningService, producer: AIOKafkaProducer, key: str) -> None:
    """Wait until every record sent on ``key`` so far was handled: send a create command
    behind them on the same partition and wait for its campaign."""
    marker_id = f"marker-{uuid.uuid4().hex[:12]}"
    await produce(
        producer,
        key,
        command("campaign.create", campaign_id=marker_id, name="marker", message_body="m"),
    )
    await eventually(
        lambda: service.db["campaigns"].find_one({"_id": marker_id}),
        lambda found: found is not None,
        what="the marker command handled",
    )


def events_of(records: list[Any], campaign_id: str) -> list[Any]:
    return [campaign_event_adapter.validate_json(r.value) for r in by_key(records, campaign_id)]


async def test_create_add_and_send_by_commands_and_a_repeated_command_acts_once(
    service: RunningService, producer: AIOKafkaProducer
) -> None:
    campaign_id = f"cmd-{uuid.uuid4().hex[:12]}"
    create = command(
        "campaign.create",
        campaign_id=campaign_id,
        name="Via Kafka",
        message_body="Hello {{name|friend}}",
        delay_type="fast",
    )
    add = command(
        "campaign.contacts.add",
        campaign_id=campaign_id,
        contacts=[
            {"phone": "+919812345678", "name": "Ravi"},
            {"phone": "+14155550100"},
            {"phone": "+91 98123 45678"},  # the same number as Ravi's
            {"phone": "bogus"},
        ],
    )
    send = command("campaign.send", campaign_id=campaign_id)
    async with TopicReader(service.kafka, CAMPAIGN_EVENTS) as events:
        await produce(producer, campaign_id, create, create, add, add, send, send)
        await handled_after(service, producer, campaign_id)
        published = events_of(await events.read_to_end(), campaign_id)

    assert [e.type for e in published] == [
        "campaign.created",
        "campaign.contacts_added",
        "campaign.launched",
    ]
    created, added, launched = published
    assert created.event_id == derived_event_id("campaign.created", campaign_id)
    assert (added.accepted, added.rejected) == (2, 1)
    assert launched.event_id == derived_event_id("campaign.launched", send["event_id"])
    assert {e.tenant_id for e in published} == {TENANT}

    response = await service.client.get(f"/api/campaigns/{campaign_id}")
    assert response.status_code == 200
    campaign = response.json()
    assert (campaign["name"], campaign["delayType"], campaign["status"]) == (
        "Via Kafka",
        "fast",
        "running",
    )
    assert campaign["contactCount"] == 2
    phones = sorted(
        [c["phone"] async for c in service.db["contacts"].find({"campaignId": campaign_id})]
    )
    assert phones == ["+14155550100", "+919812345678"]
    processed = {
        p["_id"]: p["type"]
        async for p in service.db["processed_commands"].find({"campaignId": campaign_id})
    }
    assert processed == {
        create["event_id"]: "campaign.create",
        add["event_id"]: "campaign.contacts.add",
        send["event_id"]: "campaign.send",
    }


async def test_a_create_without_campaign_id_derives_it_from_the_event_id(
    service: RunningService, producer: AIOKafkaProducer
) -> None:
    create = command("campaign.create", name="Derived", message_body="hi")
    campaign_id = campaign_id_for_command(create["event_id"])
    await produce(producer, create["event_id"], create, create)
    await handled_after(service, producer, create["event_id"])
    assert await service.db["campaigns"].count_documents({"_id": campaign_id}) == 1
    assert (await service.client.get(f"/api/campaigns/{campaign_id}")).json()["name"] == "Derived"


async def test_a_send_redelivered_after_the_launch_but_before_its_event_publishes_it(
    service: RunningService, producer: AIOKafkaProducer
) -> None:
    # The first delivery marked the campaign running and stopped before publishing.
    campaign_id = f"cmd-{uuid.uuid4().hex[:12]}"
    send = command("campaign.send", campaign_id=campaign_id)
    launch_event_id = derived_event_id("campaign.launched", send["event_id"])
    await service.db["campaigns"].insert_one(
        {
            "_id": campaign_id,
            "tenantId": TENANT,
            "name": "Interrupted",
            "messageBody": "hi",
            "delayType": "balanced",
            "status": "running",
            "launchCommandId": send["event_id"],
            "launchEventId": launch_event_id,
        }
    )
    other_send = command("campaign.send", campaign_id=campaign_id)
    async with (
        TopicReader(service.kafka, CAMPAIGN_EVENTS) as events,
        TopicReader(service.kafka, MESSAGE_DLT) as dead_letters,
    ):
        await produce(producer, campaign_id, send, other_send)
        await handled_after(service, producer, campaign_id)
        published = events_of(await events.read_to_end(), campaign_id)
        refused = by_key(await dead_letters.read_to_end(), campaign_id)
    assert [(e.type, e.event_id) for e in published] == [("campaign.launched", launch_event_id)]
    # Another send command for the running campaign is refused.
    assert [dict(r.headers)["herald-dlt-reason"] for r in refused] == [b"already-running"]
    assert json.loads(refused[0].value)["event_id"] == other_send["event_id"]


async def test_poison_and_refused_commands_are_dead_lettered_and_the_next_one_goes_through(
    service: RunningService, producer: AIOKafkaProducer
) -> None:
    key = f"poison-{uuid.uuid4().hex}"
    existing = f"cmd-{uuid.uuid4().hex[:12]}"
    after_poison = f"after-poison-{uuid.uuid4().hex[:8]}"
    records: list[dict[str, Any] | bytes] = [
        b"{not json",
        command("campaign.create", name="no body"),  # schema-invalid: message_body missing
        command("campaign.launch", campaign_id="x"),  # schema-invalid: no such command
        command("campaign.send", campaign_id=f"unknown-{uuid.uuid4().hex}"),
        command("campaign.create", campaign_id=existing, name="first", message_body="a"),
        command("campaign.create", campaign_id=existing, name="second", message_body="b"),
        command("campaign.contacts.add", campaign_id=existing, contacts=[{"phone": "nope"}]),
        command("campaign.send", campaign_id=existing),  # no contacts
        command("campaign.create", campaign_id=after_poison, name="after", message_body="ok"),
    ]
    async with TopicReader(service.kafka, MESSAGE_DLT) as dead_letters:
        await produce(producer, key, *records)
        await eventually(
            lambda: service.db["campaigns"].find_one({"_id": after_poison}),
            lambda found: found is not None,
            what="the command behind the poison records handled",
        )
        found = by_key(await dead_letters.read_to_end(), key)

    assert found[0].value == b"{not json"
    headers = [{k: v.decode() for k, v in r.headers} for r in found]
    assert [h["herald-dlt-reason"] for h in headers] == [
        "undecodable",
        "schema-invalid",
        "schema-invalid",
        "unknown-campaign",
        "campaign-exists",
        "no-valid-contacts",
        "no-contacts",
    ]
    for h in headers:
        assert h["kafka_dlt-original-topic"] == CAMPAIGN_COMMANDS
        assert int(h["kafka_dlt-original-partition"]) >= 0
        assert int(h["kafka_dlt-original-offset"]) >= 0
        assert h["kafka_dlt-exception-fqcn"]
        assert h["kafka_dlt-exception-message"]
    offsets = [int(h["kafka_dlt-original-offset"]) for h in headers]
    assert offsets == sorted(offsets)
    assert "message_body" in headers[1]["kafka_dlt-exception-message"]
    campaign = await service.db["campaigns"].find_one({"_id": existing})
    assert campaign is not None and campaign["name"] == "first" and campaign["status"] == "draft"


async def test_commands_that_pass_validation_but_fail_later_are_dead_lettered_and_others_go_on(
    service: RunningService, producer: AIOKafkaProducer
) -> None:
    # Every record on one key, so on one partition: each bad command used to be redelivered
    # forever and hold up every command (and scheduled run) behind it, any tenant's.
    key = f"late-{uuid.uuid4().hex}"
    draft = f"cmd-{uuid.uuid4().hex[:12]}"
    corrupt = f"cmd-{uuid.uuid4().hex[:12]}"
    other_tenants = f"cmd-{uuid.uuid4().hex[:12]}"
    # A campaign document the handlers cannot read (no status), as a bad migration leaves it.
    await service.db["campaigns"].insert_one({"_id": corrupt, "tenantId": TENANT, "name": "x"})
    never_fires = command("campaign.send", campaign_id=draft, cron="0 0 30 2 *")
    overflowing = command(
        "campaign.create",
        name="Too late",
        message_body="hi",
        expires_at="9999-12-31T23:59:59-12:00",  # past year 9999 in UTC: MongoDB cannot store it
    )
    unreadable = command("campaign.send", campaign_id=corrupt)
    records: list[dict[str, Any] | bytes] = [
        command("campaign.create", campaign_id=draft, name="Draft", message_body="hi"),
        command("campaign.contacts.add", campaign_id=draft, contacts=[{"phone": "+14155550100"}]),
        never_fires,
        overflowing,
        unreadable,
        {
            **command(
                "campaign.create", campaign_id=other_tenants, name="Theirs", message_body="ok"
            ),
            "tenant_id": "tenant-other",
        },
    ]
    bad_ids = {r["event_id"] for r in (never_fires, overflowing, unreadable)}
    async with TopicReader(service.kafka, MESSAGE_DLT) as dead_letters:
        await produce(producer, key, *records)
        await eventually(
            lambda: service.db["campaigns"].find_one({"_id": other_tenants}),
            lambda found: found is not None,
            timeout=60,
            what="the other tenant's command behind the bad ones applied",
        )
        found = await dead_letters.read_until(
            lambda got: {json.loads(r.value)["event_id"] for r in by_key(got, key)} >= bad_ids
        )

    letters = {
        json.loads(r.value)["event_id"]: {k: v.decode() for k, v in r.headers}
        for r in by_key(found, key)
    }
    assert set(letters) == bad_ids
    # Each names its error; one that only failed in the handler was tried a bounded number of
    # times first (the cron may also be refused as schema-invalid, by the contract's check).
    cron = letters[never_fires["event_id"]]
    assert cron["herald-dlt-reason"] in ("internal-error", "schema-invalid")
    if cron["herald-dlt-reason"] == "internal-error":
        assert cron["kafka_dlt-exception-fqcn"].endswith("CroniterBadDateError")
        assert cron["herald-dlt-attempts"] == "3"
    for event_id, error in (
        (overflowing["event_id"], "OverflowError"),
        (unreadable["event_id"], "KeyError"),
    ):
        letter = letters[event_id]
        assert letter["herald-dlt-reason"] in ("internal-error", "schema-invalid")
        if letter["herald-dlt-reason"] == "internal-error":
            assert letter["kafka_dlt-exception-fqcn"].endswith(error)
            assert letter["kafka_dlt-exception-message"].startswith(f"{error}: ")
            assert letter["herald-dlt-attempts"] == "3"
        assert letter["kafka_dlt-original-topic"] == CAMPAIGN_COMMANDS
    assert letters[unreadable["event_id"]]["herald-dlt-reason"] == "internal-error"

    processed = {
        p["_id"]
        async for p in service.db["processed_commands"].find({"_id": {"$in": list(bad_ids)}})
    }
    assert processed == set()
    campaign = await service.db["campaigns"].find_one({"_id": draft})
    assert campaign is not None and campaign["status"] == "draft"
    theirs = await service.db["campaigns"].find_one({"_id": other_tenants})
    assert theirs is not None and theirs["tenantId"] == "tenant-other"


async def test_a_disabled_tenants_commands_are_dead_lettered_but_a_pause_still_stops_its_work(
    service: RunningService, producer: AIOKafkaProducer
) -> None:
    tenant = f"disabled-{uuid.uuid4().hex[:8]}"
    campaign_id = f"cmd-{uuid.uuid4().hex[:12]}"
    key = campaign_id

    def of_tenant(kind: str, campaign: str = campaign_id, **fields: Any) -> dict[str, Any]:
        return {**command(kind, campaign_id=campaign, **fields), "tenant_id": tenant}

    await produce(
        producer,
        key,
        of_tenant("campaign.create", name="before", message_body="hi"),
        of_tenant("campaign.contacts.add", contacts=[{"phone": "+14155550100"}]),
        of_tenant("campaign.send"),
    )
    await eventually(
        lambda: service.db["campaigns"].find_one({"_id": campaign_id}),
        lambda found: found is not None and found["status"] == "running",
        what="the tenant's campaign running",
    )
    # An operator disables the tenant (as POST /api/admin/tenants/{id}/disable writes it).
    await service.db["tenants"].update_one(
        {"_id": tenant}, {"$set": {"disabled": True}}, upsert=True
    )
    async with TopicReader(service.kafka, MESSAGE_DLT) as dead_letters:
        # Within the bound of the tenant's status cache (2 s), its commands are refused.
        deadline = asyncio.get_running_loop().time() + 10
        while True:
            new_campaign = f"{campaign_id}-{uuid.uuid4().hex[:6]}"
            refused = [
                of_tenant("campaign.create", new_campaign, name="after", message_body="x"),
                of_tenant("campaign.resume"),
            ]
            await produce(producer, key, *refused)
            await handled_after(service, producer, key)
            found = by_key(await dead_letters.read_to_end(), key)
            reasons = [dict(r.headers).get("herald-dlt-reason", b"").decode() for r in found]
            if reasons[-2:] == ["tenant-disabled", "tenant-disabled"]:
                break
            assert asyncio.get_running_loop().time() < deadline, reasons
        assert await service.db["campaigns"].find_one({"_id": new_campaign}) is None
        await produce(producer, key, of_tenant("campaign.pause"))
        campaign = await eventually(
            lambda: service.db["campaigns"].find_one({"_id": campaign_id}),
            lambda found: found is not None and found["status"] == "paused",
            what="the pause applied",
        )
    assert campaign is not None and campaign["status"] == "paused"
