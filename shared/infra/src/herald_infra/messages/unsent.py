"""Messages not sent yet, when their campaign's lifecycle says what becomes of them: cancelled
with their campaign, expired once their validity window is over, held by the senders while
their campaign is paused and published again when it resumes.

Every status change here is a compare-and-set through :mod:`herald_infra.messages.transitions`
rules: a message that moved on meanwhile (a sender claimed it, say) is left alone, and the
campaign counters move by exactly what moved.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from faststream.kafka import KafkaBroker
from pymongo import UpdateOne

from herald_core.attempt_plan import AttemptPlan
from herald_core.campaigns.lifecycle import CampaignStatus
from herald_core.contracts.common import utc_now
from herald_core.contracts.events import SendMessage
from herald_core.messages.states import MessageStatus, check_transition
from herald_infra.messages.queueing import (
    publish_send_events,
    queue_pending_messages,
    send_event_from_document,
)
from herald_infra.messages.transitions import move_counters, transition_many
from herald_infra.mongo.client import CAMPAIGNS, MESSAGES, Database, Document

UNSENT_STATUSES: tuple[MessageStatus, ...] = (
    MessageStatus.PENDING,
    MessageStatus.QUEUED,
    MessageStatus.RETRYING,
)
"""Statuses of a message no sender holds and no gateway has seen for its current attempt."""

HELD_AT = "heldAt"
"""Set on a message a sender handed back (``sending`` → ``queued``) because its campaign was
paused; the resume publishes such messages again and clears it."""


async def _move_campaign_messages(
    db: Database,
    campaign_id: str,
    source: MessageStatus,
    target: MessageStatus,
    fields: dict[str, Any],
) -> int:
    """Move every message of the campaign still in ``source`` to ``target``; counters move by
    what the update modified."""
    check_transition(source, target)
    result = await db[MESSAGES].update_many(
        {"campaignId": campaign_id, "status": source.value},
        {"$set": {"status": target.value, "updatedAt": utc_now(), **fields}},
    )
    await move_counters(db, campaign_id, source, target, result.modified_count)
    return result.modified_count


async def cancel_unsent_messages(db: Database, campaign_id: str) -> int:
    """Every message of the campaign still ``pending``, ``queued`` or ``retrying`` becomes
    ``cancelled``; returns how many did. Messages a sender holds (``sending``) are left to it:
    its campaign check ends them ``cancelled`` instead of sending them."""
    now = utc_now()
    cancelled = 0
    for source in UNSENT_STATUSES:
        cancelled += await _move_campaign_messages(
            db,
            campaign_id,
            source,
            MessageStatus.CANCELLED,
            {"cancelledAt": now},
        )
    return cancelled


WINDOWED_CAMPAIGN_STATUSES: tuple[CampaignStatus, ...] = (
    CampaignStatus.RUNNING,
    CampaignStatus.PAUSED,
    CampaignStatus.SCHEDULED,
)
"""Statuses of a campaign whose messages the sweep's expiry looks at: one whose run may still
have unsent messages. (A failed message of a completed campaign that was redriven is expired by
its sender's check, if it is out of time when claimed.)"""


async def expire_overdue_messages(db: Database, now: datetime, *, batch_size: int = 1000) -> int:
    """Every message still ``pending``, ``queued`` or ``retrying`` whose ``expiresAt`` is at or
    before ``now`` becomes ``expired``, in every campaign whose run has a validity window
    (``runExpiresAt``) and may still have unsent messages; returns how many did.

    Reads each campaign's overdue messages per status by the ``(status, campaignId,
    expiresAt)`` index, in batches, and moves each batch with one compare-and-set, so the
    campaign's counters move by what moved.
    """
    windowed = db[CAMPAIGNS].find(
        {
            "status": {"$in": [s.value for s in WINDOWED_CAMPAIGN_STATUSES]},
            "runExpiresAt": {"$ne": None},
        },
        {"_id": 1},
    )
    expired = 0
    for campaign_id in [c["_id"] async for c in windowed]:
        for source in UNSENT_STATUSES:
            expired += await _expire_campaign_messages(db, campaign_id, source, now, batch_size)
    return expired


async def _expire_campaign_messages(
    db: Database, campaign_id: str, source: MessageStatus, now: datetime, batch_size: int
) -> int:
    expired = 0
    while True:
        overdue = [
            doc["_id"]
            async for doc in db[MESSAGES]
            .find(
                {"status": source.value, "campaignId": campaign_id, "expiresAt": {"$lte": now}},
                {"_id": 1},
            )
            .limit(batch_size)
        ]
        moved = await transition_many(
            db,
            campaign_id=campaign_id,
            message_ids=overdue,
            source=source,
            target=MessageStatus.EXPIRED,
            fields={"expiredAt": utc_now()},
        )
        expired += moved
        # A short batch was the last; a batch of which nothing moved (all taken by senders
        # meanwhile) would only be read again.
        if len(overdue) < batch_size or moved == 0:
            return expired


def held_send_event(doc: Document) -> SendMessage:
    """The send event that makes the attempt a held message was handed back at."""
    event = send_event_from_document(doc)
    return event.model_copy(update={"first_failure_at": doc.get("firstFailureAt")})


def attempt_topic(plan: AttemptPlan, event: SendMessage) -> str:
    """The send topic of the route that makes ``event``'s attempt (its plan step's)."""
    return plan.step(event.step).route.send_topic


async def publish_held_message(broker: KafkaBroker, plan: AttemptPlan, event: SendMessage) -> None:
    """Publish a held message's attempt again, on its plan step's send topic (a sender that
    handed it back and then found its campaign running again does this)."""
    await publish_send_events(broker, [event], attempt_topic(plan, event))


async def republish_held_messages(
    db: Database,
    broker: KafkaBroker,
    plan: AttemptPlan,
    campaign_id: str,
    *,
    batch_size: int = 500,
) -> int:
    """Publish again every message of the campaign a sender handed back (``queued`` with
    ``heldAt``), each at its attempt on its plan step's send topic, then clear ``heldAt``;
    returns how many were published.

    ``heldAt`` is cleared only where it still holds the value read: a message handed back
    again meanwhile (the campaign was paused once more) keeps it, for the next resume.
    """
    published = 0
    after = ""
    while True:
        batch = [
            doc
            async for doc in db[MESSAGES]
            .find(
                {
                    "campaignId": campaign_id,
                    "status": MessageStatus.QUEUED.value,
                    HELD_AT: {"$exists": True},
                    "_id": {"$gt": after},
                }
            )
            .sort("_id", 1)
            .limit(batch_size)
        ]
        if not batch:
            return published
        await _publish_by_topic(broker, plan, [held_send_event(doc) for doc in batch])
        await db[MESSAGES].bulk_write(
            [
                UpdateOne(
                    {
                        "_id": doc["_id"],
                        "status": MessageStatus.QUEUED.value,
                        HELD_AT: doc[HELD_AT],
                    },
                    {"$unset": {HELD_AT: ""}},
                )
                for doc in batch
            ],
            ordered=False,
        )
        published += len(batch)
        after = batch[-1]["_id"]


async def _publish_by_topic(
    broker: KafkaBroker, plan: AttemptPlan, events: Sequence[SendMessage]
) -> None:
    by_topic: dict[str, list[SendMessage]] = defaultdict(list)
    for event in events:
        by_topic[attempt_topic(plan, event)].append(event)
    for topic, topic_events in by_topic.items():
        await publish_send_events(broker, topic_events, topic)


async def republish_waiting_messages(
    db: Database,
    broker: KafkaBroker,
    plan: AttemptPlan,
    campaign_id: str,
    *,
    batch_size: int = 500,
) -> int:
    """What a resume publishes so sending continues where it stopped: the campaign's
    ``pending`` messages that have a sender account (created while it was paused, never
    published) on the plan's first send topic, and the messages the senders handed back.
    Returns how many were published. A record published twice is harmless: a sender claims
    each attempt once."""
    queued = await queue_pending_messages(
        db, broker, campaign_id, batch_size=batch_size, topic=plan.first_topic
    )
    return queued + await republish_held_messages(
        db, broker, plan, campaign_id, batch_size=batch_size
    )
