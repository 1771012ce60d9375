"""A stopping sender against the real Kafka broker and MongoDB-wire server: a send still waiting
for its account's turn is given up without touching the account's pace, and its message is
handed back to ``queued`` (counters and ``message.status`` follow) with its record unfinished."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from types import SimpleNamespace
from typing import Any

import pytest
from faststream.kafka import KafkaBroker

from herald_core.contracts.events import SendMessage
from herald_core.contracts.topics import MESSAGE_STATUS
from herald_devstack.topic_reader import TopicReader
from herald_infra.accounts.pace_slots import AccountPace, SlotTaken
from herald_infra.kafka.broker import build_broker
from herald_infra.kafka.topics import ensure_topics
from herald_infra.messages.counters import recount
from herald_infra.runtime.settings import HeraldSettings
from herald_sender.graceful_stop import (
    SENDER_STOPPING,
    HandBackOnStop,
    SenderStopping,
    SendHandedBack,
    StopAwarePacer,
)
from herald_sender.lane_consumer import RecordHandedBack

pytestmark = pytest.mark.integration


@pytest.fixture(scope="module")
def settings(kafka_bootstrap: str, mongodb_url: str) -> HeraldSettings:
    return HeraldSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_url=mongodb_url,
        mongodb_database=f"it_stop_{uuid.uuid4().hex[:8]}",
    )


@pytest.fixture
async def broker(settings: HeraldSettings) -> AsyncIterator[KafkaBroker]:
    await ensure_topics(settings)
    broker = build_broker(settings, client_id="it-graceful-stop")
    await broker.start()
    yield broker
    await broker.stop()


def send_event(account_id: str, campaign_id: str = "c-stop", message_id: str = "") -> SendMessage:
    return SendMessage(
        tenant_id="t-stop",
        campaign_id=campaign_id,
        message_id=message_id or f"m-{uuid.uuid4().hex[:10]}",
        account_id=account_id,
        phone="+14155550100",
        body="hello",
    )


async def pace_document(db: Any, account_id: str) -> dict[str, Any] | None:
    doc: dict[str, Any] | None = await db["account_pace"].find_one({"_id": account_id})
    return doc


async def test_a_send_waiting_for_its_turn_is_given_up_once_the_sender_stops(db: Any) -> None:
    account = f"acc-{uuid.uuid4().hex[:6]}"
    pace = AccountPace(db, hold_seconds=5)
    # Another send of the account is at its gateway: the account is held for 5 s plus a gap.
    held = await pace.try_take(account, gap_seconds=30)
    assert isinstance(held, SlotTaken)
    before = await pace_document(db, account)
    stopping = SenderStopping()
    pacer = StopAwarePacer(pace, scale=1.0, stopping=stopping)

    waiting = asyncio.create_task(pacer.wait_turn(send_event(account)))
    done, _ = await asyncio.wait({waiting}, timeout=0.5)
    assert not done, "the account is held: its next send must wait"

    await stopping.begin()
    with pytest.raises(SendHandedBack):
        await asyncio.wait_for(waiting, timeout=2)
    # It gave up without taking a slot: the account's pace is as the other send left it.
    assert await pace_document(db, account) == before

    # Once stopping, a send of a free account is not started either.
    free = f"acc-{uuid.uuid4().hex[:6]}"
    with pytest.raises(SendHandedBack):
        await pacer.wait_turn(send_event(free))
    assert await pace_document(db, free) is None


async def test_a_send_whose_turn_came_goes_on_while_the_sender_is_not_stopping(db: Any) -> None:
    account = f"acc-{uuid.uuid4().hex[:6]}"
    # Paced (scale 1): the account is free, so its turn comes at once and holds the account.
    pacer = StopAwarePacer(AccountPace(db, hold_seconds=5), scale=1.0, stopping=SenderStopping())
    slot = await asyncio.wait_for(pacer.wait_turn(send_event(account)), timeout=5)
    assert slot.account_id == account
    held = await pace_document(db, account)
    assert held is not None and held["holder"] == slot.holder


async def seed_claimed(db: Any) -> SendMessage:
    """A campaign with one message claimed (``sending``) at attempt 1."""
    campaign_id = f"c-{uuid.uuid4().hex[:8]}"
    event = send_event(f"acc-{uuid.uuid4().hex[:6]}", campaign_id)
    await db["campaigns"].insert_one(
        {"_id": campaign_id, "tenantId": "t-stop", "counts": {"total": 1, "sending": 1}}
    )
    await db["messages"].insert_one(
        {
            "_id": event.message_id,
            "tenantId": "t-stop",
            "campaignId": campaign_id,
            "accountId": event.account_id,
            "status": "sending",
            "attempt": 1,
            "claim": {"owner": "primary-sender@pod-1", "engine": "baileys"},
        }
    )
    return event


def given_up(event: SendMessage) -> Any:
    async def handle(_record: Any) -> None:
        raise SendHandedBack(event)

    return handle


RECORD = SimpleNamespace(topic="message.send.primary", partition=3, offset=41, key=b"acc")


async def test_a_send_given_up_is_handed_back_to_queued_and_its_record_left_unfinished(
    db: Any, broker: KafkaBroker, settings: HeraldSettings
) -> None:
    event = await seed_claimed(db)
    handler = HandBackOnStop(given_up(event), db, broker, "baileys")

    async with TopicReader(settings.kafka_bootstrap_servers, MESSAGE_STATUS) as statuses:
        with pytest.raises(RecordHandedBack):
            await handler(RECORD)
        records = await statuses.read_to_end()

    message = await db["messages"].find_one({"_id": event.message_id})
    # Queued at the same attempt: the next owner of the partition claims and sends it.
    assert (message["status"], message["attempt"]) == ("queued", 1)
    counts = {name: n for name, n in (await recount(db, event.campaign_id)).items() if n}
    assert counts == {"total": 1, "queued": 1}
    campaign = await db["campaigns"].find_one({"_id": event.campaign_id})
    assert (campaign["counts"]["sending"], campaign["counts"]["queued"]) == (0, 1)
    published = [json.loads(r.value) for r in records if event.message_id.encode() in r.value]
    assert [(p["previous_status"], p["status"], p["reason"]) for p in published] == [
        ("sending", "queued", SENDER_STOPPING)
    ]


async def test_a_claim_resolved_meanwhile_is_left_as_it_is(db: Any, broker: KafkaBroker) -> None:
    event = await seed_claimed(db)
    # The sweep resolved the claim (its lease ran out) before the sender handed it back.
    await db["messages"].update_one(
        {"_id": event.message_id}, {"$set": {"status": "failed", "failedReason": "outcome-unknown"}}
    )
    handler = HandBackOnStop(given_up(event), db, broker, "baileys")

    with pytest.raises(RecordHandedBack):
        await handler(RECORD)

    message = await db["messages"].find_one({"_id": event.message_id})
    assert message["status"] == "failed"
    campaign = await db["campaigns"].find_one({"_id": event.campaign_id})
    assert campaign["counts"] == {"total": 1, "sending": 1}  # no transition, no counter moved
