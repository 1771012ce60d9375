"""The dispatcher against the real Kafka broker and MongoDB-wire server."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from herald_core.contracts.events import CampaignLaunched
from herald_core.contracts.topics import (
    CAMPAIGN_EVENTS,
    DISPATCHER_GROUP,
    MESSAGE_DLT,
    MESSAGE_SEND_PRIMARY,
)
from herald_devstack.asgi import running
from herald_devstack.kafka_offsets import handled
from herald_devstack.topic_reader import TopicReader
from herald_devstack.waiting import eventually
from herald_dispatcher.main import create_app
from herald_infra.runtime.settings import HeraldSettings

pytestmark = pytest.mark.integration
CONTACTS = 1_200  # more than two dispatch batches


@pytest.fixture(scope="module")
def settings(kafka_bootstrap: str, mongodb_url: str) -> HeraldSettings:
    return HeraldSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_url=mongodb_url,
        mongodb_database=f"it_dispatcher_{uuid.uuid4().hex[:8]}",
        dispatch_batch_size=500,
        # These campaigns go through the shared gateway: room for all of them this hour.
        shared_gateway_hourly_cap=1_000_000,
        shared_gateway_daily_cap=1_000_000,
    )


@pytest.fixture(scope="module")
async def dispatcher(settings: HeraldSettings) -> AsyncIterator[None]:
    async with running(create_app(settings)):
        yield


async def publish(settings: HeraldSettings, *payloads: bytes, key: bytes) -> Any:
    """Publish in order; returns the record metadata of the last one."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for payload in payloads:
            last = await producer.send_and_wait(CAMPAIGN_EVENTS, payload, key=key)
    finally:
        await producer.stop()
    return last


async def add_campaign(db: Any, contacts: int) -> str:
    """A running campaign with ``contacts`` contacts; returns its id."""
    campaign_id = f"c-{uuid.uuid4().hex[:8]}"
    await db["campaigns"].insert_one(
        {"_id": campaign_id, "tenantId": "t", "messageBody": "Hi {{name}}", "status": "running"}
    )
    await db["contacts"].insert_many(
        [
            {
                "_id": contact_id(campaign_id, i),
                "campaignId": campaign_id,
                "tenantId": "t",
                "phone": f"+9198000{i:05d}",
                "name": f"N{i}",
                "fields": {},
            }
            for i in range(contacts)
        ]
    )
    return campaign_id


def contact_id(campaign_id: str, index: int) -> str:
    return f"{campaign_id}:+9198000{index:05d}"


async def launch_and_wait(settings: HeraldSettings, campaign_id: str, times: int = 1) -> None:
    """Publish the campaign's launch ``times`` times; return once the dispatcher handled the
    last one."""
    launched = CampaignLaunched(tenant_id="t", campaign_id=campaign_id).model_dump_json().encode()
    last = await publish(settings, *[launched] * times, key=campaign_id.encode())
    await eventually(
        lambda: handled(
            settings.kafka_bootstrap_servers,
            DISPATCHER_GROUP,
            CAMPAIGN_EVENTS,
            last.partition,
            last.offset,
        ),
        bool,
        timeout=60,
        what="the launch handled",
    )


async def published_message_ids(sends: TopicReader, campaign_id: str) -> Counter[str]:
    """How many times each message of the campaign was published on the send topic."""
    records = await sends.read_to_end()
    events = [json.loads(r.value) for r in records]
    return Counter(e["message_id"] for e in events if e["campaign_id"] == campaign_id)


async def test_a_launch_delivered_twice_creates_and_queues_each_message_once(
    dispatcher: None, settings: HeraldSettings, db: Any
) -> None:
    campaign_id = await add_campaign(db, CONTACTS)

    async with TopicReader(settings.kafka_bootstrap_servers, MESSAGE_SEND_PRIMARY) as sends:
        await launch_and_wait(settings, campaign_id, times=2)
        published = await published_message_ids(sends, campaign_id)

    assert await db["messages"].count_documents({"campaignId": campaign_id}) == CONTACTS
    assert len(published) == CONTACTS
    assert set(published.values()) == {1}, "the second launch published nothing again"
    campaign = await db["campaigns"].find_one({"_id": campaign_id})
    assert campaign["counts"]["total"] == CONTACTS
    assert campaign["counts"]["queued"] == CONTACTS
    assert campaign["counts"].get("pending", 0) == 0
    sample = await db["messages"].find_one({"campaignId": campaign_id, "phone": "+919800000007"})
    assert sample["body"] == "Hi N7"
    assert sample["status"] == "queued"


async def test_a_fan_out_run_again_publishes_what_its_watermark_does_not_cover(
    dispatcher: None, settings: HeraldSettings, db: Any
) -> None:
    """A dispatcher died after inserting messages (created queued) of contacts 0-799 and
    publishing up to contact 399: its launch, delivered again, publishes 400-799 again and
    creates and publishes the rest; 0-399 are not published twice."""
    campaign_id = await add_campaign(db, CONTACTS)
    async with TopicReader(settings.kafka_bootstrap_servers, MESSAGE_SEND_PRIMARY) as sends:
        await launch_and_wait(settings, campaign_id)
        first = await published_message_ids(sends, campaign_id)
    by_contact = {
        d["contactId"]: d["_id"]
        async for d in db["messages"].find({"campaignId": campaign_id}, {"contactId": 1})
    }
    # Back to the state of the crash: messages past contact 799 not created, the watermark at 399.
    late = [by_contact[contact_id(campaign_id, i)] for i in range(800, CONTACTS)]
    await db["messages"].delete_many({"_id": {"$in": late}})
    await db["campaigns"].update_one(
        {"_id": campaign_id},
        {
            "$set": {"fanOut.through": contact_id(campaign_id, 399)},
            "$inc": {"counts.total": -len(late), "counts.queued": -len(late)},
            "$unset": {"dispatchedRun": ""},
        },
    )

    async with TopicReader(settings.kafka_bootstrap_servers, MESSAGE_SEND_PRIMARY) as sends:
        await launch_and_wait(settings, campaign_id)
        again = await published_message_ids(sends, campaign_id)

    assert len(first) == CONTACTS
    expected = {by_contact[contact_id(campaign_id, i)] for i in range(400, CONTACTS)}
    assert set(again) == expected
    assert set(again.values()) == {1}
    campaign = await db["campaigns"].find_one({"_id": campaign_id})
    assert campaign["counts"]["queued"] == CONTACTS
    assert campaign["fanOut"]["through"] == contact_id(campaign_id, CONTACTS - 1)
    assert campaign["dispatchedRun"] == 1


async def test_a_launch_for_an_unknown_campaign_is_dead_lettered(
    dispatcher: None, settings: HeraldSettings
) -> None:
    key = f"ghost-{uuid.uuid4().hex}".encode()
    ghost = CampaignLaunched(tenant_id="t", campaign_id="no-such-campaign")
    async with TopicReader(settings.kafka_bootstrap_servers, MESSAGE_DLT) as dead_letters:
        await publish(settings, ghost.model_dump_json().encode(), key=key)
        found = await dead_letters.read_until(lambda records: any(r.key == key for r in records))
    [letter] = [r for r in found if r.key == key]
    headers = {k: v.decode() for k, v in letter.headers}
    assert headers["kafka_dlt-original-topic"] == CAMPAIGN_EVENTS
    assert headers["herald-dlt-reason"] == "unknown-campaign"


async def test_a_launch_whose_fan_out_keeps_failing_is_dead_lettered_and_the_next_goes_on(
    dispatcher: None, settings: HeraldSettings, db: Any
) -> None:
    # Both launches on one key, so on one partition: the broken one used to be redelivered
    # forever, holding up every launch behind it.
    broken = await add_campaign(db, 3)
    await db["contacts"].update_one({"_id": contact_id(broken, 1)}, {"$unset": {"phone": ""}})
    fine = await add_campaign(db, 3)
    key = f"shared-{uuid.uuid4().hex}".encode()
    launches = [
        CampaignLaunched(tenant_id="t", campaign_id=c).model_dump_json().encode()
        for c in (broken, fine)
    ]
    async with TopicReader(settings.kafka_bootstrap_servers, MESSAGE_DLT) as dead_letters:
        await publish(settings, *launches, key=key)
        await eventually(
            lambda: db["campaigns"].find_one({"_id": fine}),
            lambda campaign: campaign is not None and "dispatchedAt" in campaign,
            timeout=60,
            what="the launch behind the broken one fanned out",
        )
        found = await dead_letters.read_until(lambda records: any(r.key == key for r in records))

    assert await db["messages"].count_documents({"campaignId": fine}) == 3
    [letter] = [r for r in found if r.key == key]
    headers = {k: v.decode() for k, v in letter.headers}
    assert json.loads(letter.value)["campaign_id"] == broken
    assert headers["kafka_dlt-original-topic"] == CAMPAIGN_EVENTS
    assert headers["herald-dlt-reason"] == "internal-error"
    assert headers["herald-dlt-attempts"] == str(settings.handler_attempts)
    assert headers["kafka_dlt-exception-fqcn"] == "builtins.KeyError"
    assert "phone" in headers["kafka_dlt-exception-message"]
    assert (await db["campaigns"].find_one({"_id": broken}))["status"] == "running"
