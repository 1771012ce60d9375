"""Publishing messages to a send topic and marking them queued.

Order matters: publish first, mark ``queued`` after the broker acknowledged. A crash in between
leaves the message ``pending``; publishing it again is harmless, since a sender claims a message
by compare-and-set before it calls the gateway.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import Any

from faststream.kafka import KafkaBroker

from herald_core.contracts.common import CustomDelay
from herald_core.contracts.events import MessageKind, SendMessage
from herald_core.contracts.topics import MESSAGE_SEND_PRIMARY
from herald_core.media import media_of
from herald_core.messages.states import MessageStatus
from herald_infra.messages.transitions import transition_many
from herald_infra.mongo.client import MESSAGES, Database, Document


def custom_delay_of(doc: Document) -> CustomDelay | None:
    """A message's or campaign's ``customDelay`` ({minSeconds, maxSeconds}), if it has one."""
    stored = doc.get("customDelay")
    if not stored:
        return None
    return CustomDelay(min_seconds=stored["minSeconds"], max_seconds=stored["maxSeconds"])


def send_event_from_document(doc: Document) -> SendMessage:
    """The send event of a message document (the document holds everything the send needs)."""
    return SendMessage(
        tenant_id=doc["tenantId"],
        campaign_id=doc["campaignId"],
        message_id=doc["_id"],
        account_id=doc["accountId"],
        phone=doc["phone"],
        body=doc["body"],
        attempt=doc.get("attempt", 1),
        step=doc.get("planStep", 0),
        delay_type=doc.get("delayType", "balanced"),
        custom_delay=custom_delay_of(doc),
        expires_at=doc.get("expiresAt"),
        media=media_of(doc.get("media")),
        kind=doc.get("kind", MessageKind.CAMPAIGN),
    )


async def publish_send_events(
    broker: KafkaBroker, events: Sequence[SendMessage], topic: str = MESSAGE_SEND_PRIMARY
) -> None:
    """Publish ``events`` keyed by sender account; returns once Kafka acknowledged all of them."""
    futures: list[asyncio.Future[Any]] = [
        await broker.publish(event, topic=topic, key=event.account_id.encode(), no_confirm=True)
        for event in events
    ]
    await asyncio.gather(*futures)


async def queue_messages(
    db: Database,
    broker: KafkaBroker,
    campaign_id: str,
    documents: Sequence[Document],
    *,
    source: MessageStatus = MessageStatus.PENDING,
    topic: str = MESSAGE_SEND_PRIMARY,
) -> int:
    """Publish the messages of one campaign and move them from ``source`` to ``queued``."""
    if not documents:
        return 0
    await publish_send_events(broker, [send_event_from_document(d) for d in documents], topic)
    return await transition_many(
        db,
        campaign_id=campaign_id,
        message_ids=[d["_id"] for d in documents],
        source=source,
        target=MessageStatus.QUEUED,
    )


async def queue_pending_messages(
    db: Database,
    broker: KafkaBroker,
    campaign_id: str,
    *,
    batch_size: int = 500,
    topic: str = MESSAGE_SEND_PRIMARY,
) -> int:
    """Publish every ``pending`` message of a campaign (never published, or whose publish was
    lost) and mark it queued; returns how many were queued. Messages waiting for a sender
    account with room (no ``accountId`` yet) stay: their release publishes them."""
    queued = 0
    batch: list[Document] = []
    cursor = (
        db[MESSAGES]
        .find(
            {
                "campaignId": campaign_id,
                "status": MessageStatus.PENDING.value,
                "accountId": {"$ne": None},
            }
        )
        .batch_size(batch_size)
    )
    async for doc in cursor:
        batch.append(doc)
        if len(batch) >= batch_size:
            queued += await queue_messages(db, broker, campaign_id, batch, topic=topic)
            batch = []
    queued += await queue_messages(db, broker, campaign_id, batch, topic=topic)
    return queued
