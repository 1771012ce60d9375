"""Compare-and-set transitions of message documents that move the campaign counters.

Every status change of a message goes through here. A transition applies only if the message is
still in the expected status (and attempt); a transition that did not apply changes no counter.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import datetime
from typing import Any

from herald_core.contracts.common import utc_now
from herald_core.messages.states import (
    ALLOWED_TRANSITIONS,
    MessageStatus,
    check_transition,
    counter_field,
)
from herald_infra.mongo.client import CAMPAIGNS, MESSAGES, Database, Document, reconciled
from herald_infra.mongo.id_batches import update_by_ids
from herald_infra.runtime.metrics import MESSAGE_TRANSITIONS


def record_transitions(applied: Counter[tuple[MessageStatus, MessageStatus]]) -> None:
    """Count transitions that applied (by source and target) in the metrics."""
    for (source, target), count in applied.items():
        MESSAGE_TRANSITIONS.labels(source=source.value, target=target.value).inc(count)


async def move_counters(
    db: Database,
    campaign_id: str,
    source: MessageStatus,
    target: MessageStatus,
    count: int,
    also: Mapping[str, int] | None = None,
) -> None:
    """Move ``count`` messages from the ``source`` counter to the ``target`` one, and the
    campaign's other counters by ``also`` (per message moved), in one update."""
    if count:
        record_transitions(Counter({(source, target): count}))
        moves = {counter_field(source): -count, counter_field(target): count}
        moves |= {name: delta * count for name, delta in (also or {}).items()}
        await reconciled(db[CAMPAIGNS]).update_one({"_id": campaign_id}, {"$inc": moves})


def _status_update(target: MessageStatus, at: datetime, fields: dict[str, Any] | None) -> Document:
    return {"$set": {"status": target.value, "updatedAt": at, **(fields or {})}}


def compare_and_set(
    message_id: str,
    source: MessageStatus,
    target: MessageStatus,
    at: datetime,
    *,
    attempt: int | None = None,
    fields: dict[str, Any] | None = None,
    push: dict[str, Any] | None = None,
) -> tuple[Document, Document]:
    """The selector and update of one message's move from ``source`` to ``target``."""
    selector: Document = {"_id": message_id, "status": source.value}
    if attempt is not None:
        selector["attempt"] = attempt
    update = _status_update(target, at, fields)
    if push:
        update["$push"] = push
    return selector, update


async def transition(
    db: Database,
    *,
    message_id: str,
    campaign_id: str,
    source: MessageStatus,
    target: MessageStatus,
    attempt: int | None = None,
    fields: dict[str, Any] | None = None,
    push: dict[str, Any] | None = None,
    counters: Mapping[str, int] | None = None,
) -> bool:
    """Move one message from ``source`` to ``target`` if it is still there; True if it moved.
    ``counters``: the campaign's counters besides the status ones that the move changes
    (:func:`herald_infra.messages.counters.failure_counters`)."""
    check_transition(source, target)
    selector, update = compare_and_set(
        message_id, source, target, utc_now(), attempt=attempt, fields=fields, push=push
    )
    result = await db[MESSAGES].update_one(selector, update)
    if result.modified_count != 1:
        return False
    await move_counters(db, campaign_id, source, target, 1, counters)
    return True


async def transition_from_any(
    db: Database,
    *,
    message_id: str,
    campaign_id: str,
    sources: Sequence[MessageStatus],
    target: MessageStatus,
    attempt: int,
    fields: dict[str, Any] | None = None,
) -> MessageStatus | None:
    """Move a message to ``target`` from whichever of ``sources`` it is in (at ``attempt``);
    returns the status it moved from, or None if it is in none of them.

    Tries ``sources[0]`` (the likely one) first, then follows the status it reads, so a
    concurrent move between two sources (``pending`` to ``queued``, say) cannot make it miss.
    """

    async def move(source: MessageStatus) -> bool:
        return await transition(
            db,
            message_id=message_id,
            campaign_id=campaign_id,
            source=source,
            target=target,
            attempt=attempt,
            fields=fields,
        )

    return await follow_status(db, message_id, attempt, sources, move)


async def follow_status(
    db: Database,
    message_id: str,
    attempt: int,
    sources: Sequence[MessageStatus],
    move: Callable[[MessageStatus], Awaitable[bool]],
) -> MessageStatus | None:
    """``move`` the message from ``sources[0]``, else from the status it is found in while that
    is one of ``sources`` at ``attempt``; returns the status it moved from, or None."""
    source = sources[0]
    for _ in range(len(ALLOWED_TRANSITIONS)):
        if await move(source):
            return source
        current = await db[MESSAGES].find_one({"_id": message_id}, {"status": 1, "attempt": 1})
        if current is None or current.get("attempt") != attempt:
            return None
        source = MessageStatus(current["status"])
        if source not in sources:
            return None
    return None


async def transition_many(
    db: Database,
    *,
    campaign_id: str,
    message_ids: Sequence[str],
    source: MessageStatus,
    target: MessageStatus,
    fields: dict[str, Any] | None = None,
) -> int:
    """Move every listed message still in ``source``; returns how many moved."""
    check_transition(source, target)
    if not message_ids:
        return 0
    moved = await update_by_ids(
        db[MESSAGES],
        message_ids,
        {"status": source.value},
        _status_update(target, utc_now(), fields),
    )
    await move_counters(db, campaign_id, source, target, moved)
    return moved
