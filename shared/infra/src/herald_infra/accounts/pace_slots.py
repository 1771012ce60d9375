"""The pace of each sender account, kept in MongoDB so that every engine and every sender pod
of the account shares it, across restarts and rebalances.

An account's document holds ``nextSlotMs``, the moment from which it may send again, and
``holder``, the send that last took it. A sender about to call the gateway takes the account
with a compare-and-set that *holds* it (``nextSlotMs`` moves past the longest a gateway call
may take) and, once the gateway answered, releases it to one random gap after that answer. So:

- an account has at most one send in flight, whichever pod or engine sends it;
- its next send reaches a gateway at least one gap after the previous one was answered, however
  long either request spent on its way (a busy machine, a slow gateway);
- a sender that dies with the account held blocks it only until the hold runs out.

If the account is not free yet, a sender sleeps until it is and tries again.

That is two MongoDB round trips or more per send. Sender deployments lease the account instead
(:mod:`herald_infra.accounts.pace_leases`): the same document and guarantees, written only
when the account changes hands.
"""

from __future__ import annotations

import asyncio
import random
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, replace

from pymongo.errors import DuplicateKeyError

from herald_core.pacing import PaceRange
from herald_infra.mongo.client import ACCOUNT_PACE, Database


@dataclass(frozen=True)
class SlotTaken:
    """A slot an account sends in."""

    account_id: str
    holder: str
    """Who holds the account until the gateway answered (one per slot)."""
    at_ms: int
    """When the slot was taken (epoch ms)."""
    due_ms: int
    """When the account became free for it: the slot's reserved time. Equals ``at_ms`` when the
    account was free already."""
    waited_seconds: float
    """How long the sender waited for it."""
    gap_seconds: float
    """The gap drawn for it: the account's next send waits this long after the answer."""

    @property
    def lateness_seconds(self) -> float:
        """How long after the reserved time the slot was taken."""
        return max(0, self.at_ms - self.due_ms) / 1000


def epoch_ms() -> int:
    return time.time_ns() // 1_000_000


class AccountPace:
    def __init__(
        self,
        db: Database,
        *,
        hold_seconds: float,
        rng: random.Random | None = None,
        clock_ms: Callable[[], int] = epoch_ms,
    ) -> None:
        """``hold_seconds``: the longest a gateway call may take (its timeout, with a margin);
        an account taken by a sender that never releases it is free again after that plus the
        gap."""
        self._slots = db[ACCOUNT_PACE]
        self._hold_ms = round(hold_seconds * 1000)
        self._rng = rng or random.Random()
        self._clock_ms = clock_ms

    async def try_take(self, account_id: str, gap_seconds: float) -> SlotTaken | int:
        """Take and hold the account now if it is free; else the epoch ms when it frees."""
        hold_until_gap = self._hold_ms + round(gap_seconds * 1000)
        holder = uuid.uuid4().hex
        while True:
            now = self._clock_ms()
            held = {"nextSlotMs": now + hold_until_gap, "holder": holder, "lastSendMs": now}
            # One round trip when the account is free, the usual case.
            taken = await self._slots.update_one(
                {"_id": account_id, "nextSlotMs": {"$lte": now}}, {"$set": held}
            )
            if taken.modified_count:
                return SlotTaken(account_id, holder, now, now, 0.0, gap_seconds)
            current = await self._slots.find_one({"_id": account_id}, {"nextSlotMs": 1})
            if current is None:
                try:
                    await self._slots.insert_one({"_id": account_id, **held})
                except DuplicateKeyError:
                    continue  # another sender took the account's first slot
                return SlotTaken(account_id, holder, now, now, 0.0, gap_seconds)
            free_at = int(current["nextSlotMs"])
            if free_at > now:
                return free_at
            # Freed between the write and the read: try again.

    async def wait_for_slot(self, account_id: str, pace: PaceRange) -> SlotTaken:
        """Wait until the account may send, and take it (with a fresh random gap)."""
        started = self._clock_ms()
        due = started
        while True:
            taken = await self.try_take(account_id, pace.draw(self._rng))
            if isinstance(taken, SlotTaken):
                return replace(taken, due_ms=due, waited_seconds=(taken.at_ms - started) / 1000)
            due = taken
            await asyncio.sleep(max(0, taken - self._clock_ms()) / 1000)

    async def release(self, slot: SlotTaken) -> bool:
        """The gateway answered the slot's send: the account is free one gap from now. False if
        the hold had run out and another send took the account meanwhile (nothing changes)."""
        now = self._clock_ms()
        released = await self._slots.update_one(
            {"_id": slot.account_id, "holder": slot.holder},
            {"$set": {"nextSlotMs": now + round(slot.gap_seconds * 1000)}},
        )
        return bool(released.modified_count)

    async def release_unused(self, slot: SlotTaken) -> bool:
        """The slot's send did not happen (its campaign was paused, cancelled, or out of time):
        the account is free again from the moment it was free for this slot, as if the slot had
        never been taken. False if the hold had run out and another send took the account."""
        released = await self._slots.update_one(
            {"_id": slot.account_id, "holder": slot.holder},
            {"$set": {"nextSlotMs": min(slot.due_ms, slot.at_ms)}},
        )
        return bool(released.modified_count)

    def free_now(self, account_id: str) -> bool:
        """Whether the account may send now as far as this pod knows without asking MongoDB:
        without a lease (:class:`herald_infra.accounts.pace_leases.LeasedAccountPace`) it knows
        nothing of the account's pace, so it answers True (it may be)."""
        return True

    async def start(self) -> None:
        """Start what keeps the pace (nothing without leases)."""

    async def stop(self) -> None:
        """Give back what this pod holds (nothing without leases: every slot is released)."""
