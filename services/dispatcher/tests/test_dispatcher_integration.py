"""The dispatcher against the real Kafka broker and MongoDB-wire server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer

from herald_devstack.asgi import running
from herald_devstack.kafka_offsets import handled
from herald_devstack.topic_reader import TopicReader
from herald_devstack.waiting import eventually
from herald_dispatcher.main import create_app
from herald_shared.contracts.events import CampaignLaunched
from herald_shared.settings import HeraldSettings
from herald_shared.topics import CAMPAIGN_EVENTS, DISPATCHER_GROUP, MESSAGE_DLT

pytestmark = pytest.mark.integration
CONTACTS = 1_200  # more than two dispatch batches


@pytest.fixture(scope="module")
def settings(kafka_bootstrap: str, mongodb_url: str) -> HeraldSettings:
    return HeraldSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_url=mongodb_url,
        mongodb_database=f"it_dispatcher_{uuid.uuid4().hex[:8]}",
        dispatch_batch_size=500,
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


async def test_a_launch_delivered_twice_creates_and_queues_each_message_once(
    dispatcher: None, settings: HeraldSettings, db: Any
) -> None:
    campaign_id = f"c-{uuid.uuid4().hex[:8]}"
    await db["campaigns"].insert_one(
        {"_id": campaign_id, "tenantId": "t", "messageBody": "Hi {{name}}", "status": "running"}
    )
    await db["contacts"].insert_many(
        [
            {
                "_id": f"{campaign_id}:+9198000{i:05d}",
                "campaignId": campaign_id,
                "tenantId": "t",
                "phone": f"+9198000{i:05d}",
                "name": f"N{i}",
                "fields": {},
            }
            for i in range(CONTACTS)
        ]
    )
    launched = CampaignLaunched(tenant_id="t", campaign_id=campaign_id).model_dump_json().encode()

    second = await publish(settings, launched, launched, key=campaign_id.encode())

    async def counts() -> dict[str, int]:
        campaign = await db["campaigns"].find_one({"_id": campaign_id})
        result: dict[str, int] = campaign.get("counts", {})
        return result

    await eventually(
        counts, lambda c: c.get("queued") == CONTACTS, timeout=60, what="all messages queued"
    )
    await eventually(
        lambda: handled(
            settings.kafka_bootstrap_servers,
            DISPATCHER_GROUP,
            CAMPAIGN_EVENTS,
            second.partition,
            second.offset,
        ),
        bool,
        timeout=60,
        what="second delivery handled",
    )
    assert await db["messages"].count_documents({"campaignId": campaign_id}) == CONTACTS
    final = await counts()
    assert final["total"] == CONTACTS
    assert final["queued"] == CONTACTS
    assert final["pending"] == 0
    sample = await db["messages"].find_one({"campaignId": campaign_id, "phone": "+919800000007"})
    assert sample["body"] == "Hi N7"
    assert sample["status"] == "queued"


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
