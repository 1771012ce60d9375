"""Redrive: give failed messages a fresh attempt plan (seed: "retried messages get fresh
delivery method"). A redriven message keeps its id and its attempt history.

The status moves first (failed → queued, ``attempt`` one higher, ``planStep`` 0), the send event
is published after: a send event that arrived before the move would find nothing to claim. A
crash in between leaves the message ``queued`` but unpublished; the sweep publishes it again.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from typing import Any

from faststream.kafka import KafkaBroker

from herald_core.contracts.common import utc_now
from herald_core.contracts.events import SendMessage
from herald_core.messages.dead_letters import DeadLetterStatus
from herald_core.messages.states import MessageStatus
from herald_infra.messages.counters import failure_counters
from herald_infra.messages.queueing import publish_send_events, send_event_from_document
from herald_infra.messages.transitions import transition
from herald_infra.mongo.client import DEAD_LETTERS, MESSAGES, Database, Document
from herald_infra.mongo.id_batches import find_by_ids, update_by_ids


async def requeue_failed_message(db: Database, message: Document) -> SendMessage | None:
    """Move one failed message to ``queued`` for a fresh plan; returns the send event to
    publish, or None when it is no longer failed at the attempt read (someone else moved it)."""
    attempt = int(message.get("attempt", 1))
    fresh: dict[str, Any] = {
        "attempt": attempt + 1,
        "retryCount": int(message.get("retryCount", 0)) + 1,
        "planStep": 0,
        "redrivenAt": utc_now(),
    }
    moved = await transition(
        db,
        message_id=message["_id"],
        campaign_id=message["campaignId"],
        source=MessageStatus.FAILED,
        target=MessageStatus.QUEUED,
        # Conditioned on the attempt we read: two concurrent redrives requeue it once.
        attempt=attempt,
        fields=fresh,
        # The message failed for this reason at the attempt read, which the move requires.
        counters=failure_counters(message.get("failedReason"), leaving=True),
    )
    if not moved:
        return None
    return send_event_from_document({**message, **fresh})


async def _in_batches(
    db: Database, selector: Document, batch_size: int
) -> AsyncIterator[list[Document]]:
    # Ids first: redriving moves the messages out of the selection a cursor would iterate over.
    ids = [d["_id"] async for d in db[MESSAGES].find(selector, {"_id": 1})]
    for start in range(0, len(ids), batch_size):
        chunk = ids[start : start + batch_size]
        yield await find_by_ids(db[MESSAGES], chunk, selector)


async def redrive_failed_messages(
    db: Database, broker: KafkaBroker, selector: Document, *, topic: str, batch_size: int = 500
) -> int:
    """Redrive every failed message matching ``selector``; returns how many were requeued."""
    requeued = 0
    async for batch in _in_batches(
        db, {**selector, "status": MessageStatus.FAILED.value}, batch_size
    ):
        events = [e for m in batch if (e := await requeue_failed_message(db, m)) is not None]
        await publish_send_events(broker, events, topic)
        await close_dead_letters_of(db, [e.message_id for e in events])
        requeued += len(events)
    return requeued


async def close_dead_letters_of(db: Database, message_ids: list[str]) -> int:
    """Mark the open dead letters of redriven messages ``redriven``: the messages have a fresh
    plan, so the dead letters no longer wait for an operator. Returns how many were closed."""
    if not message_ids:
        return 0
    return await mark_redriven(
        db, {"messageId": {"$in": message_ids}, "status": DeadLetterStatus.OPEN.value}
    )


def _redriven() -> Document:
    return {
        "$set": {"status": DeadLetterStatus.REDRIVEN.value, "redrivenAt": utc_now()},
        "$inc": {"redriveCount": 1},
    }


async def mark_redriven(db: Database, selector: Document) -> int:
    """Mark the dead letters matching ``selector`` redriven (once more); returns how many."""
    result = await db[DEAD_LETTERS].update_many(selector, _redriven())
    return int(result.modified_count)


async def mark_ids_redriven(db: Database, dead_letter_ids: Sequence[Any]) -> int:
    """Mark the dead letters ``dead_letter_ids`` redriven (once more); returns how many."""
    return await update_by_ids(db[DEAD_LETTERS], dead_letter_ids, {}, _redriven())
