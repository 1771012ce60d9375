"""Compare-and-set transitions of many messages in one round trip, for a process that makes many
at once (a sender: hundreds of account lanes, each claiming a message and recording its outcome).

One at a time, each transition is an ``update_one`` on the message and an ``$inc`` on its
campaign's counters. :class:`TransitionBatcher` takes the transitions its callers ask for while
its previous write is under way and applies them together: one unordered ``bulk_write`` of
their compare-and-sets, then one ``$inc`` per campaign for those that applied. Under load the
batches grow by themselves; a lone caller waits for no one. Each caller gets its own answer
(moved or not), as from :func:`herald_infra.messages.transitions.transition`.

Which ones applied: when the server counts as many modified as were asked (the usual case),
all did; otherwise the batch's messages are read back and each is judged by the token its own
update wrote (``casToken``). Counters move only for the transitions that applied, right after
them, so a process that dies in between leaves them off by at most one batch, as one transition
at a time leaves them off by one; the sweep reconciles them.
"""

from __future__ import annotations

import asyncio
import itertools
import uuid
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from pymongo import UpdateOne

from herald_core.contracts.common import utc_now
from herald_core.messages.states import MessageStatus, check_transition, counter_field
from herald_infra.messages.transitions import (
    compare_and_set,
    follow_status,
    record_transitions,
)
from herald_infra.mongo.client import CAMPAIGNS, MESSAGES, Database, Document, reconciled
from herald_infra.mongo.id_batches import find_by_ids

CAS_TOKEN = "casToken"
"""Written by every batched transition: tells, after a batch not all of which applied, which
ones did."""
MAX_BATCH = 500


@dataclass
class _Asked:
    message_id: str
    campaign_id: str
    source: MessageStatus
    target: MessageStatus
    write: UpdateOne
    token: str
    answer: asyncio.Future[bool]


class TransitionBatcher:
    def __init__(self, db: Database, *, max_batch: int = MAX_BATCH) -> None:
        self._db = db
        self._max_batch = max_batch
        self._waiting: list[_Asked] = []
        self._writer: asyncio.Task[None] | None = None
        # Unique per transition and cheap: this batcher's id and a sequence number.
        self._tokens = (f"{uuid.uuid4().hex[:12]}:{n}" for n in itertools.count())

    async def transition(
        self,
        *,
        message_id: str,
        campaign_id: str,
        source: MessageStatus,
        target: MessageStatus,
        attempt: int | None = None,
        fields: dict[str, Any] | None = None,
        push: dict[str, Any] | None = None,
    ) -> bool:
        """Move one message from ``source`` to ``target`` if it is still there (and at
        ``attempt``), with the next batch; True if it moved."""
        check_transition(source, target)
        token = next(self._tokens)
        selector, update = compare_and_set(
            message_id, source, target, utc_now(), attempt=attempt, fields=fields, push=push
        )
        update["$set"][CAS_TOKEN] = token
        asked = _Asked(
            message_id,
            campaign_id,
            source,
            target,
            UpdateOne(selector, update),
            token,
            asyncio.get_running_loop().create_future(),
        )
        self._waiting.append(asked)
        if self._writer is None:
            self._writer = asyncio.create_task(self._write_all(), name="transition-batches")
        return await asked.answer

    async def transition_from_any(
        self,
        *,
        message_id: str,
        campaign_id: str,
        sources: Sequence[MessageStatus],
        target: MessageStatus,
        attempt: int,
        fields: dict[str, Any] | None = None,
    ) -> MessageStatus | None:
        """As :func:`herald_infra.messages.transitions.transition_from_any`, batched."""

        async def move(source: MessageStatus) -> bool:
            return await self.transition(
                message_id=message_id,
                campaign_id=campaign_id,
                source=source,
                target=target,
                attempt=attempt,
                fields=fields,
            )

        return await follow_status(self._db, message_id, attempt, sources, move)

    async def _write_all(self) -> None:
        try:
            while self._waiting:
                await self._write(self._next_batch())
        finally:
            self._writer = None
            for asked in self._waiting:  # only when cancelled (the process is stopping)
                asked.answer.cancel()
            self._waiting = []

    def _next_batch(self) -> list[_Asked]:
        """Up to ``max_batch`` waiting transitions, oldest first, at most one per message (a
        second one for the same message waits for the next batch, so tokens tell them apart)."""
        batch: list[_Asked] = []
        later: list[_Asked] = []
        messages: set[str] = set()
        for asked in self._waiting:
            if len(batch) < self._max_batch and asked.message_id not in messages:
                batch.append(asked)
                messages.add(asked.message_id)
            else:
                later.append(asked)
        self._waiting = later
        return batch

    async def _write(self, batch: list[_Asked]) -> None:
        try:
            result = await self._db[MESSAGES].bulk_write([a.write for a in batch], ordered=False)
            if result.modified_count == len(batch):
                applied = [True] * len(batch)
            else:
                applied = await self._applied(batch)
            await self._move_counters([a for a, moved in zip(batch, applied, strict=True) if moved])
        except Exception as error:
            for asked in batch:
                if not asked.answer.done():
                    asked.answer.set_exception(error)
            return
        except asyncio.CancelledError:
            for asked in batch:
                asked.answer.cancel()
            raise
        for asked, moved in zip(batch, applied, strict=True):
            if not asked.answer.done():
                asked.answer.set_result(moved)

    async def _applied(self, batch: list[_Asked]) -> list[bool]:
        found = await find_by_ids(
            self._db[MESSAGES], [a.message_id for a in batch], projection={CAS_TOKEN: 1}
        )
        tokens: dict[str, Any] = {document["_id"]: document.get(CAS_TOKEN) for document in found}
        return [tokens.get(a.message_id) == a.token for a in batch]

    async def _move_counters(self, applied: list[_Asked]) -> None:
        moves: dict[str, Counter[str]] = {}
        for asked in applied:
            counts = moves.setdefault(asked.campaign_id, Counter())
            counts[counter_field(asked.source)] -= 1
            counts[counter_field(asked.target)] += 1
        record_transitions(Counter((a.source, a.target) for a in applied))
        increments = [
            ({"_id": campaign_id}, {"$inc": inc})
            for campaign_id, counts in moves.items()
            if (inc := _non_zero(counts))
        ]
        counters = reconciled(self._db[CAMPAIGNS])
        if len(increments) == 1:
            await counters.update_one(*increments[0])
        elif increments:
            writes = [UpdateOne(selector, inc) for selector, inc in increments]
            await counters.bulk_write(writes, ordered=False)


def _non_zero(counts: Counter[str]) -> Document:
    return {field: delta for field, delta in counts.items() if delta}
