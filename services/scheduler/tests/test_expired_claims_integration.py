"""Crash recovery against the real Kafka broker and MongoDB-wire server: the sweep of expired
claims (both policies) and the re-publish of what a dead sender recorded but never published."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from faststream.kafka import KafkaBroker

from herald_core.attempt_plan import AttemptPlan
from herald_core.contracts.events import SendMessage
from herald_core.contracts.topics import (
    MESSAGE_DLT,
    MESSAGE_SEND_FALLBACK,
    MESSAGE_SEND_PRIMARY,
    retry_topic,
)
from herald_devstack.topic_reader import TopicReader
from herald_infra.kafka.broker import build_broker
from herald_infra.kafka.topics import ensure_topics
from herald_infra.messages.attempt_outcomes import republish_unfinished
from herald_infra.messages.counters import recount
from herald_infra.messages.queueing import send_event_from_document
from herald_infra.runtime.settings import HeraldSettings
from herald_scheduler.expired_claims import ClaimSweep, ExpiredClaimPolicy, resolve_expired_claims

pytestmark = pytest.mark.integration

PLAN = AttemptPlan.parse("primary, fallback, fallback@2s")
NOW = datetime.now(UTC).replace(microsecond=0)


@pytest.fixture(scope="module")
def settings(kafka_bootstrap: str, mongodb_url: str) -> HeraldSettings:
    return HeraldSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_url=mongodb_url,
        mongodb_database=f"it_claims_{uuid.uuid4().hex[:8]}",
        attempt_plan="primary, fallback, fallback@2s",
    )


@pytest.fixture
async def broker(settings: HeraldSettings) -> AsyncIterator[KafkaBroker]:
    await ensure_topics(settings)
    broker = build_broker(settings, client_id="it-claims")
    await broker.start()
    yield broker
    await broker.stop()


async def seed_claimed(
    db: Any, *, lease_until: datetime, attempt: int = 1, step: int = 0, engine: str = "baileys"
) -> dict[str, Any]:
    """A campaign with one message claimed (``sending``) by a sender whose lease ends then."""
    campaign_id = f"c-{uuid.uuid4().hex[:8]}"
    message = {
        "_id": f"m-{uuid.uuid4().hex[:10]}",
        "tenantId": "t-claims",
        "campaignId": campaign_id,
        "accountId": f"acc-{uuid.uuid4().hex[:6]}",
        "phone": "+919800000001",
        "body": "hello",
        "status": "sending",
        "attempt": attempt,
        "planStep": step,
        "retryCount": attempt - 1,
        "attempts": [],
        "claim": {"owner": "sender-that-died", "engine": engine, "leaseUntil": lease_until},
    }
    await db["campaigns"].insert_one(
        {"_id": campaign_id, "counts": {"total": 1, "sending": 1}, "tenantId": "t-claims"}
    )
    await db["messages"].insert_one(message)
    return message


async def nonzero_counts(db: Any, campaign_id: str) -> dict[str, int]:
    """The campaign's counters as recounted from its messages, zeros left out."""
    return {name: n for name, n in (await recount(db, campaign_id)).items() if n}


def carrying(records: list[Any], message_id: str) -> list[Any]:
    return [r for r in records if message_id.encode() in r.value]


async def test_the_fail_policy_fails_an_expired_claim_as_outcome_unknown_and_dead_letters_it(
    db: Any, broker: KafkaBroker, settings: HeraldSettings
) -> None:
    expired = await seed_claimed(db, lease_until=NOW - timedelta(seconds=1), attempt=2, step=1)
    alive = await seed_claimed(db, lease_until=NOW + timedelta(minutes=5))

    async with TopicReader(settings.kafka_bootstrap_servers, MESSAGE_DLT) as dead_letters:
        sweep = await resolve_expired_claims(db, broker, plan=PLAN, now=NOW)
        records = await dead_letters.read_to_end()

    assert sweep == ClaimSweep(failed=1, resent=0)
    failed = await db["messages"].find_one({"_id": expired["_id"]})
    assert failed["status"] == "failed"
    assert failed["failedReason"] == "outcome-unknown"
    assert failed["retryable"] is False  # the hourly redrive must not resend it blindly
    assert [(a["engine"], a["outcome"]) for a in failed["attempts"]] == [("baileys", "unknown")]
    assert await nonzero_counts(db, expired["campaignId"]) == {"total": 1, "failed": 1}
    campaign = await db["campaigns"].find_one({"_id": expired["campaignId"]})
    assert campaign["counts"]["failed"] == 1 and campaign["counts"]["sending"] == 0

    [letter] = carrying(records, expired["_id"])
    headers = {k: v.decode() for k, v in letter.headers}
    assert headers["herald-dlt-reason"] == "outcome-unknown"
    assert headers["herald-dlt-id"] == f"dlt_{expired['_id']}_2"
    assert headers["kafka_dlt-original-topic"] == MESSAGE_SEND_FALLBACK  # step 1's topic

    # A claim whose lease still runs is left alone; a second sweep finds nothing more to do.
    assert (await db["messages"].find_one({"_id": alive["_id"]}))["status"] == "sending"
    assert await resolve_expired_claims(db, broker, plan=PLAN, now=NOW) == ClaimSweep()


async def test_the_resend_policy_queues_an_expired_claim_again_with_the_next_attempt(
    db: Any, broker: KafkaBroker, settings: HeraldSettings
) -> None:
    expired = await seed_claimed(db, lease_until=NOW - timedelta(seconds=1))

    async with TopicReader(settings.kafka_bootstrap_servers, MESSAGE_SEND_PRIMARY) as sends:
        sweep = await resolve_expired_claims(
            db, broker, plan=PLAN, policy=ExpiredClaimPolicy.RESEND, now=NOW
        )
        records = await sends.read_to_end()

    assert sweep == ClaimSweep(failed=0, resent=1)
    queued = await db["messages"].find_one({"_id": expired["_id"]})
    assert (queued["status"], queued["attempt"], queued["planStep"]) == ("queued", 2, 0)
    assert [(a["attempt"], a["outcome"]) for a in queued["attempts"]] == [(1, "unknown")]
    [record] = carrying(records, expired["_id"])
    event = SendMessage.model_validate_json(record.value)
    assert (event.attempt, event.step) == (2, 0)
    assert record.key == expired["accountId"].encode()
    assert await nonzero_counts(db, expired["campaignId"]) == {"total": 1, "queued": 1}


async def test_a_next_attempt_recorded_but_never_published_is_published_again(
    db: Any, broker: KafkaBroker, settings: HeraldSettings
) -> None:
    # The fallback's first try (step 1, attempt 2) failed; the document says the third attempt
    # waits for its back-off, but the sender died before publishing it.
    message = await seed_claimed(db, lease_until=NOW, attempt=2, step=1, engine="web-js")
    due = NOW + timedelta(seconds=2)
    await db["messages"].update_one(
        {"_id": message["_id"]},
        {
            "$set": {
                "status": "retrying",
                "attempt": 3,
                "planStep": 2,
                "nextAttemptAt": due,
                "deliveryMethod": "web-js",
            }
        },
    )
    redelivered = send_event_from_document(message)  # attempt 2, step 1: claim misses

    delay_topic = retry_topic(2)
    async with TopicReader(settings.kafka_bootstrap_servers, delay_topic) as delayed:
        assert await republish_unfinished(db, broker, PLAN, redelivered, "web-js")
        records = await delayed.read_to_end()

    [record] = carrying(records, message["_id"])
    event = SendMessage.model_validate_json(record.value)
    assert (event.attempt, event.step) == (3, 2)
    headers = {k: v.decode() for k, v in record.headers}
    assert headers["herald-retry-target-topic"] == MESSAGE_SEND_FALLBACK
    assert int(headers["retry_topic-backoff-timestamp"]) == int(due.timestamp() * 1000)

    # Another engine's redelivery, or one for an attempt that is not the last, publishes nothing.
    assert not await republish_unfinished(db, broker, PLAN, redelivered, "baileys")
    older = redelivered.model_copy(update={"attempt": 1, "step": 0})
    assert not await republish_unfinished(db, broker, PLAN, older, "web-js")


async def test_a_failure_recorded_but_never_dead_lettered_is_dead_lettered_again(
    db: Any, broker: KafkaBroker, settings: HeraldSettings
) -> None:
    message = await seed_claimed(db, lease_until=NOW, attempt=3, step=2, engine="web-js")
    await db["messages"].update_one(
        {"_id": message["_id"]},
        {
            "$set": {
                "status": "failed",
                "failedReason": "gateway-error",
                "failedDetail": "HTTP 503",
                "retryable": True,
                "deliveryMethod": "web-js",
                "deadLetter": {"topic": MESSAGE_SEND_FALLBACK, "partition": 4, "offset": 99},
            }
        },
    )

    async with TopicReader(settings.kafka_bootstrap_servers, MESSAGE_DLT) as dead_letters:
        assert await republish_unfinished(
            db, broker, PLAN, send_event_from_document(message), "web-js"
        )
        records = await dead_letters.read_to_end()

    [letter] = carrying(records, message["_id"])
    headers = {k: v.decode() for k, v in letter.headers}
    assert headers["herald-dlt-id"] == f"dlt_{message['_id']}_3"
    assert (headers["kafka_dlt-original-partition"], headers["kafka_dlt-original-offset"]) == (
        "4",
        "99",
    )
    assert headers["herald-dlt-reason"] == "gateway-error"
