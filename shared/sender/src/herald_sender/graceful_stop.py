"""How a sender stops on SIGTERM (a rollout, a scale-down) without losing or doubling a send.

Once the sender is stopping, its lane consumer fetches nothing and starts no new record, and
each lane busy with a message either:

- has its account's anti-ban turn (it is calling the gateway, or recording the answer): it
  finishes, and the record's offset is committed; or
- is still waiting for that turn, which may be 30 s away (safe pace): it hands the message
  back without calling the gateway. The claim goes back to ``queued`` and the record stays
  uncommitted, so the partition's next owner sends it, at the account's pace (kept in MongoDB,
  so nothing about it is lost: once the lanes finished, the sender gives back the accounts it
  leases at their next free time, see ``herald_infra.accounts.pace_leases``).

A sender therefore stops within one gateway timeout plus the time to record the answers,
whatever the pace; its Kubernetes ``terminationGracePeriodSeconds`` leaves room for that.
"""

from __future__ import annotations

import asyncio
from typing import Any

from faststream.kafka import KafkaBroker

from herald_core.contracts.common import utc_now
from herald_core.contracts.events import MessageStatusChanged, SendMessage
from herald_core.contracts.topics import MESSAGE_STATUS
from herald_core.messages.states import MessageStatus
from herald_infra.accounts.pace_slots import AccountPace, SlotTaken
from herald_infra.messages.transitions import transition
from herald_infra.mongo.client import Database
from herald_infra.runtime.logging import get_logger
from herald_sender.lane_consumer import RecordHandedBack, RecordHandler
from herald_sender.pacer import SendPacer

log = get_logger(__name__)

SENDER_STOPPING = "sender-stopping"
"""The reason of the ``message.status`` event of a message handed back by a stopping sender."""


class SenderStopping:
    """Set once, when the sender begins to stop; what waits for an account's turn watches it."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    async def begin(self) -> None:
        """A stop hook: from now on, sends still waiting for their turn are handed back."""
        self._event.set()

    def is_set(self) -> bool:
        return self._event.is_set()

    async def wait(self) -> None:
        await self._event.wait()


class SendHandedBack(Exception):
    """The sender began to stop while this send waited for its account's turn; the gateway was
    not called."""

    def __init__(self, event: SendMessage) -> None:
        super().__init__(f"message {event.message_id} handed back: the sender is stopping")
        self.event = event


class StopAwarePacer(SendPacer):
    """The account's anti-ban turn, given up when the sender begins to stop."""

    def __init__(self, pace: AccountPace, *, scale: float, stopping: SenderStopping) -> None:
        super().__init__(pace, scale=scale)
        self._stopping = stopping

    async def wait_turn(self, event: SendMessage) -> SlotTaken:
        """The account's turn, as :meth:`SendPacer.wait_turn`; raises :class:`SendHandedBack`
        if the sender begins to stop first."""
        if self._stopping.is_set():
            raise SendHandedBack(event)
        turn = asyncio.ensure_future(super().wait_turn(event))
        stop = asyncio.ensure_future(self._stopping.wait())
        try:
            await asyncio.wait({turn, stop}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            stop.cancel()
            if not turn.done():
                turn.cancel()
        # Cancelling the wait mid-write could leave the account held with no one to release
        # it; that only slows the account until its hold runs out, as a crash would.
        await asyncio.wait({turn})
        if turn.cancelled():
            raise SendHandedBack(event)
        # The turn came as the stop did (or first): send; the drain waits for it.
        return turn.result()


async def hand_back(
    db: Database, broker: KafkaBroker, event: SendMessage, delivery_method: str
) -> bool:
    """Put a claimed message the gateway was not called for back to ``queued`` (same attempt,
    so the next owner's claim applies) and say so on ``message.status``; False if the claim had
    been resolved meanwhile (the sweep), which leaves it as it is."""
    moved = await transition(
        db,
        message_id=event.message_id,
        campaign_id=event.campaign_id,
        source=MessageStatus.SENDING,
        target=MessageStatus.QUEUED,
        attempt=event.attempt,
    )
    if not moved:
        log.warning("claim resolved by someone else before it was handed back")
        return False
    await broker.publish(
        MessageStatusChanged(
            tenant_id=event.tenant_id,
            campaign_id=event.campaign_id,
            message_id=event.message_id,
            status=MessageStatus.QUEUED.value,
            previous_status=MessageStatus.SENDING.value,
            attempt=event.attempt,
            delivery_method=delivery_method,
            reason=SENDER_STOPPING,
            at=utc_now(),
        ),
        topic=MESSAGE_STATUS,
        key=event.message_id.encode(),
    )
    return True


class HandBackOnStop:
    """Wraps a sender's record handler: a send given up because the sender is stopping is
    handed back, and its record reported unfinished (:class:`RecordHandedBack`) so that its
    offset is not committed."""

    def __init__(
        self, handle: RecordHandler, db: Database, broker: KafkaBroker, delivery_method: str
    ) -> None:
        self._handle = handle
        self._db = db
        self._broker = broker
        self._delivery_method = delivery_method

    async def __call__(self, record: Any) -> None:
        try:
            await self._handle(record)
        except SendHandedBack as stopped:
            await hand_back(self._db, self._broker, stopped.event, self._delivery_method)
            raise RecordHandedBack(str(stopped)) from stopped
