"""The fan-out and the campaign lifecycle, against the real Kafka broker and MongoDB-wire
server: a cancelled campaign's launch creates nothing; a campaign paused during its fan-out gets
its remaining messages created but not published (its resume publishes them); one cancelled
during its fan-out stops creating.

The fan-out reads its clock once per batch; the tests change the campaign's status from that
clock, so the change lands exactly between two batches."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import pytest
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from faststream.kafka import KafkaBroker
from pydantic import ValidationError
from pymongo import MongoClient

from herald_core.attempt_plan import AttemptPlan
from herald_core.contracts.events import CampaignLaunched, SendMessage
from herald_devstack.topic_reader import TopicReader
from herald_devstack.waiting import eventually
from herald_dispatcher.fan_out import fan_out_campaign
from herald_infra.kafka.broker import build_broker
from herald_infra.kafka.topics import ensure_topics
from herald_infra.messages.counters import recount
from herald_infra.messages.unsent import republish_waiting_messages
from herald_infra.mongo.client import ensure_indexes
from herald_infra.runtime.settings import HeraldSettings

from .conftest import (
    ROOMY_SHARED_GATEWAY,
    add_running_campaign,
    counts_of,
    messages_of,
    new_tenant,
    phones,
)

pytestmark = pytest.mark.integration
BATCH = 3
CONTACTS = 10  # four batches: 3, 3, 3, 1
PLAN = AttemptPlan.parse("primary, fallback, fallback@60s")


@pytest.fixture(scope="module")
def settings(kafka_bootstrap: str, mongodb_url: str) -> HeraldSettings:
    return HeraldSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_url=mongodb_url,
        mongodb_database=f"it_fan_out_lifecycle_{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture
async def broker(settings: HeraldSettings, db: Any) -> AsyncIterator[KafkaBroker]:
    await ensure_indexes(db)
    await ensure_topics(settings)
    kafka = build_broker(settings, client_id="it-fan-out-lifecycle")
    await kafka.start()
    yield kafka
    await kafka.stop()


@pytest.fixture
async def send_topic(settings: HeraldSettings) -> str:
    """A send topic of this test alone: what it holds is what the fan-out published."""
    name = f"it-fan-out-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=settings.kafka_bootstrap_servers)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])
        await eventually(
            lambda: admin.describe_topics([name]),
            lambda described: all(t["partitions"] for t in described),
            what=f"topic {name} ready",
        )
    finally:
        await admin.close()
    return name


@pytest.fixture(scope="module")
def campaigns(settings: HeraldSettings) -> Iterator[Any]:
    """The campaigns collection through a synchronous client: the fan-out's clock is sync."""
    client: MongoClient[dict[str, Any]] = MongoClient(settings.mongodb_url)
    yield client[settings.mongodb_database]["campaigns"]
    client.close()


@dataclass
class StatusChangeAtBatch:
    """The fan-out's clock; on the ``batch``-th batch (1-based) it sets the campaign's status,
    as a pause or cancel arriving right then would."""

    campaigns: Any
    campaign_id: str
    batch: int
    status: str
    calls: int = 0

    def __call__(self) -> datetime:
        self.calls += 1
        if self.calls == self.batch:
            self.campaigns.update_one({"_id": self.campaign_id}, {"$set": {"status": self.status}})
        return datetime.now(UTC)


def of_campaign(records: list[Any], campaign_id: str) -> list[SendMessage]:
    events = []
    for record in records:
        try:
            event = SendMessage.model_validate_json(record.value)
        except ValidationError:
            continue
        if event.campaign_id == campaign_id:
            events.append(event)
    return events


@dataclass
class FanOut:
    queued: int
    published: list[SendMessage]
    """What reached the send topic."""


async def fan_out(
    db: Any,
    broker: KafkaBroker,
    settings: HeraldSettings,
    campaign_id: str,
    tenant: str,
    topic: str,
    clock: Any,
) -> FanOut:
    async with TopicReader(settings.kafka_bootstrap_servers, topic) as reader:
        queued = await fan_out_campaign(
            db,
            broker,
            CampaignLaunched(tenant_id=tenant, campaign_id=campaign_id),
            shared_gateway=ROOMY_SHARED_GATEWAY,
            batch_size=BATCH,
            send_topic=topic,
            clock=clock,
        )
        records = await reader.read_to_end()
    return FanOut(queued, of_campaign(records, campaign_id))


async def assert_counters_add_up(db: Any, campaign_id: str) -> dict[str, int]:
    counts = await counts_of(db, campaign_id)
    assert counts == {k: v for k, v in (await recount(db, campaign_id)).items() if v}
    return counts


async def test_the_launch_of_a_cancelled_campaign_creates_nothing(
    db: Any, broker: KafkaBroker, settings: HeraldSettings, send_topic: str
) -> None:
    tenant = new_tenant()
    campaign_id = await add_running_campaign(db, tenant, phones(CONTACTS))
    await db["campaigns"].update_one({"_id": campaign_id}, {"$set": {"status": "cancelled"}})

    done = await fan_out(
        db, broker, settings, campaign_id, tenant, send_topic, lambda: datetime.now(UTC)
    )

    assert (done.queued, done.published) == (0, [])
    assert await messages_of(db, campaign_id) == []
    assert "dispatchedRun" not in await db["campaigns"].find_one({"_id": campaign_id})


async def test_a_campaign_paused_during_its_fan_out_gets_the_rest_created_but_not_published(
    db: Any, broker: KafkaBroker, settings: HeraldSettings, send_topic: str, campaigns: Any
) -> None:
    tenant = new_tenant()
    campaign_id = await add_running_campaign(db, tenant, phones(CONTACTS, start=100))
    clock = StatusChangeAtBatch(campaigns, campaign_id, batch=2, status="paused")

    done = await fan_out(db, broker, settings, campaign_id, tenant, send_topic, clock)

    assert done.queued == BATCH
    assert len(done.published) == BATCH
    messages = await messages_of(db, campaign_id)
    assert len(messages) == CONTACTS
    # The batch during which the pause came was created queued: it is held for the resume;
    # those after it were created pending.
    held = [m for m in messages if m["status"] == "queued" and "heldAt" in m]
    assert len(held) == BATCH
    assert [m["status"] for m in messages].count("pending") == CONTACTS - 2 * BATCH
    assert await assert_counters_add_up(db, campaign_id) == {
        "total": CONTACTS,
        "queued": 2 * BATCH,
        "pending": CONTACTS - 2 * BATCH,
    }
    # The whole run exists: the fan-out is done, sending waits for the resume.
    assert (await db["campaigns"].find_one({"_id": campaign_id}))["dispatchedRun"] == 1

    # The resume publishes what the fan-out created meanwhile.
    await db["campaigns"].update_one({"_id": campaign_id}, {"$set": {"status": "running"}})
    assert await republish_waiting_messages(db, broker, PLAN, campaign_id) == CONTACTS - BATCH
    assert await assert_counters_add_up(db, campaign_id) == {"total": CONTACTS, "queued": CONTACTS}


async def test_a_campaign_cancelled_during_its_fan_out_stops_creating_messages(
    db: Any, broker: KafkaBroker, settings: HeraldSettings, send_topic: str, campaigns: Any
) -> None:
    tenant = new_tenant()
    campaign_id = await add_running_campaign(db, tenant, phones(CONTACTS, start=200))
    clock = StatusChangeAtBatch(campaigns, campaign_id, batch=2, status="cancelled")

    done = await fan_out(db, broker, settings, campaign_id, tenant, send_topic, clock)

    # The first batch went out before the cancel; the second was being made when it came
    # (its cancel could not have seen it, so the fan-out cancelled it); no third was made.
    assert len(done.published) == BATCH
    messages = await messages_of(db, campaign_id)
    assert len(messages) == 2 * BATCH
    assert {m["status"] for m in messages} == {"cancelled"}
    assert await assert_counters_add_up(db, campaign_id) == {
        "total": 2 * BATCH,
        "cancelled": 2 * BATCH,
    }
    assert clock.calls == 2
