"""Messages not sent yet, against the real MongoDB-wire server and Kafka broker: a cancel and
the expiry of overdue messages move exactly the unsent ones and the counters by exactly what
moved; a resume publishes the messages that wait, each at its attempt on its step's topic."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from pydantic import ValidationError

from herald_core.attempt_plan import AttemptPlan
from herald_core.contracts.events import SendMessage
from herald_core.contracts.topics import MESSAGE_SEND_FALLBACK, MESSAGE_SEND_PRIMARY
from herald_core.messages.states import MessageStatus
from herald_devstack.topic_reader import TopicReader
from herald_infra.kafka.broker import build_broker
from herald_infra.kafka.topics import ensure_topics
from herald_infra.messages.counters import recount
from herald_infra.messages.unsent import (
    cancel_unsent_messages,
    end_unsent_batch,
    republish_waiting_messages,
)
from herald_infra.mongo.client import ensure_indexes
from herald_infra.runtime.settings import HeraldSettings

pytestmark = pytest.mark.integration
S = MessageStatus
PLAN = AttemptPlan.parse("primary, fallback, fallback@2s")
NOW = datetime.now(UTC).replace(microsecond=0)
PAST = NOW - timedelta(minutes=1)
FUTURE = NOW + timedelta(hours=1)


@pytest.fixture(scope="module")
def settings(kafka_bootstrap: str, mongodb_url: str) -> HeraldSettings:
    return HeraldSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_url=mongodb_url,
        mongodb_database=f"it_unsent_{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture
async def broker(settings: HeraldSettings) -> AsyncIterator[KafkaBroker]:
    await ensure_topics(settings)
    broker = build_broker(settings, client_id="it-unsent")
    await broker.start()
    yield broker
    await broker.stop()


async def seed(db: Any, messages: list[dict[str, Any]], **campaign: Any) -> tuple[str, list[str]]:
    """A campaign (with the fields ``campaign`` gives) whose counters match its messages
    (``status`` plus any field given)."""
    await ensure_indexes(db)
    campaign_id = f"c-{uuid.uuid4().hex[:8]}"
    documents = [
        {
            "_id": f"{campaign_id}-m{n:02d}",
            "tenantId": "t-unsent",
            "campaignId": campaign_id,
            "accountId": "acc-1",
            "phone": f"+9198000000{n:02d}",
            "body": "hello",
            "attempt": 1,
            **fields,
        }
        for n, fields in enumerate(messages)
    ]
    await db["messages"].insert_many(documents)
    counts: dict[str, int] = {"total": len(documents)}
    for doc in documents:
        counts[doc["status"]] = counts.get(doc["status"], 0) + 1
    await db["campaigns"].insert_one(
        {"_id": campaign_id, "tenantId": "t-unsent", "counts": counts, **campaign}
    )
    return campaign_id, [d["_id"] for d in documents]


async def statuses(db: Any, ids: list[str]) -> list[str]:
    by_id = {d["_id"]: d["status"] async for d in db["messages"].find({"_id": {"$in": ids}})}
    return [by_id[i] for i in ids]


async def counters(db: Any, campaign_id: str) -> dict[str, int]:
    campaign = await db["campaigns"].find_one({"_id": campaign_id})
    return {k: v for k, v in campaign["counts"].items() if v}


async def recounted(db: Any, campaign_id: str) -> dict[str, int]:
    return {k: v for k, v in (await recount(db, campaign_id)).items() if v}


async def test_a_cancel_moves_every_unsent_message_and_the_counters_by_exactly_that(
    db: Any,
) -> None:
    campaign_id, ids = await seed(
        db,
        [
            {"status": "pending"},
            {"status": "pending", "accountId": None, "notBefore": NOW},  # waiting for room
            {"status": "queued"},
            {"status": "queued", "heldAt": NOW},  # handed back while paused
            {"status": "retrying", "attempt": 2, "planStep": 2},  # in a delay topic
            {"status": "sending"},  # a sender holds it: its own check ends it
            {"status": "sent"},
            {"status": "delivered"},
            {"status": "failed"},
            {"status": "expired"},
        ],
    )
    other_campaign, other_ids = await seed(db, [{"status": "queued"}, {"status": "pending"}])

    assert await cancel_unsent_messages(db, campaign_id) == 5

    assert await statuses(db, ids) == [
        *["cancelled"] * 5,
        "sending",
        "sent",
        "delivered",
        "failed",
        "expired",
    ]
    assert await counters(db, campaign_id) == {
        "total": 10,
        "cancelled": 5,
        "sending": 1,
        "sent": 1,
        "delivered": 1,
        "failed": 1,
        "expired": 1,
    }
    assert await counters(db, campaign_id) == await recounted(db, campaign_id)
    cancelled = await db["messages"].find_one({"_id": ids[0]})
    assert cancelled["cancelledAt"] >= NOW - timedelta(seconds=1)
    # Once is all it does; other campaigns are not touched.
    assert await cancel_unsent_messages(db, campaign_id) == 0
    assert await counters(db, campaign_id) == await recounted(db, campaign_id)
    assert await statuses(db, other_ids) == ["queued", "pending"]
    assert await counters(db, other_campaign) == {"total": 2, "queued": 1, "pending": 1}


async def test_overdue_messages_of_every_campaign_expire_and_each_campaign_counts_its_own(
    db: Any,
) -> None:
    first, first_ids = await seed(
        db,
        [
            {"status": "pending", "expiresAt": PAST},
            {"status": "queued", "expiresAt": PAST},
            {"status": "queued", "expiresAt": PAST},
            {"status": "queued", "expiresAt": NOW},  # due exactly now: "by then"
            {"status": "retrying", "expiresAt": PAST, "attempt": 3},
            {"status": "queued", "expiresAt": FUTURE},
            {"status": "queued"},  # no validity window
            {"status": "sending", "expiresAt": PAST},  # its sender's check expires it
            {"status": "sent", "expiresAt": PAST},
        ],
        status="running",
        runExpiresAt=PAST,
    )
    second, second_ids = await seed(
        db,
        [
            {"status": "queued", "expiresAt": PAST},
            {"status": "pending", "accountId": None, "notBefore": FUTURE, "expiresAt": PAST},
            {"status": "failed", "expiresAt": PAST},
        ],
        status="paused",
        runExpiresAt=PAST,
    )
    # Not expired with the others (the sweep queues windowed campaigns only): a message of it
    # that was redriven is expired by its sender's check, if late.
    _, ended_ids = await seed(
        db, [{"status": "queued", "expiresAt": PAST}], status="completed", runExpiresAt=PAST
    )

    async def expire_all(campaign_id: str) -> int:
        # Batches of two: several per status; the last finds none left.
        expired = 0
        while (
            batch := await end_unsent_batch(db, campaign_id, S.EXPIRED, batch_size=2, due_by=NOW)
        ).found:
            assert batch.found <= 2
            expired += batch.moved
        return expired

    assert await expire_all(first) == 5
    assert await expire_all(second) == 2
    assert await statuses(db, first_ids) == [
        *["expired"] * 5,
        "queued",
        "queued",
        "sending",
        "sent",
    ]
    assert await statuses(db, second_ids) == ["expired", "expired", "failed"]
    assert await counters(db, first) == {
        "total": 9,
        "expired": 5,
        "queued": 2,
        "sending": 1,
        "sent": 1,
    }
    assert await counters(db, second) == {"total": 3, "expired": 2, "failed": 1}
    assert await statuses(db, ended_ids) == ["queued"]
    for campaign_id in (first, second):
        assert await counters(db, campaign_id) == await recounted(db, campaign_id)
    assert await expire_all(first) == 0
    assert await counters(db, first) == await recounted(db, first)


def send_events(records: list[Any], campaign_id: str) -> list[SendMessage]:
    events = []
    for record in records:
        try:
            event = SendMessage.model_validate_json(record.value)
        except ValidationError:
            continue
        if event.campaign_id == campaign_id:
            events.append(event)
    return events


async def test_a_resume_publishes_what_waits_each_attempt_on_its_steps_topic(
    db: Any, broker: KafkaBroker, settings: HeraldSettings
) -> None:
    first_failure = NOW - timedelta(minutes=2)
    campaign_id, ids = await seed(
        db,
        [
            {"status": "queued", "heldAt": NOW},  # handed back by the primary sender
            {  # handed back by the fallback sender at its second attempt
                "status": "queued",
                "heldAt": NOW,
                "attempt": 2,
                "planStep": 1,
                "firstFailureAt": first_failure,
                "expiresAt": FUTURE,
            },
            {"status": "queued"},  # still on its topic: not published again
            {"status": "pending"},  # created while paused, never published
            {"status": "pending", "accountId": None, "notBefore": FUTURE},  # no account yet
            {"status": "sent"},
        ],
    )
    kafka = settings.kafka_bootstrap_servers
    async with (
        TopicReader(kafka, MESSAGE_SEND_PRIMARY) as primary,
        TopicReader(kafka, MESSAGE_SEND_FALLBACK) as fallback,
    ):
        published = await republish_waiting_messages(db, broker, PLAN, campaign_id)
        on_primary = send_events(await primary.read_to_end(), campaign_id)
        on_fallback = send_events(await fallback.read_to_end(), campaign_id)

    assert published == 3
    assert sorted((e.message_id, e.attempt, e.step) for e in on_primary) == [
        (ids[0], 1, 0),
        (ids[3], 1, 0),
    ]
    [second_attempt] = on_fallback
    assert (second_attempt.message_id, second_attempt.attempt, second_attempt.step) == (
        ids[1],
        2,
        1,
    )
    assert second_attempt.first_failure_at == first_failure
    assert second_attempt.expires_at == FUTURE
    assert second_attempt.account_id == "acc-1"
    assert await statuses(db, ids) == ["queued", "queued", "queued", "queued", "pending", "sent"]
    # Published once: a second resume has nothing to publish again.
    assert (
        await db["messages"].count_documents(
            {"campaignId": campaign_id, "heldAt": {"$exists": True}}
        )
        == 0
    )
    assert await republish_waiting_messages(db, broker, PLAN, campaign_id) == 0
    assert await counters(db, campaign_id) == await recounted(db, campaign_id)
