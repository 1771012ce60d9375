"""The pace of each sender account, kept in MongoDB so that every engine and every sender pod
of the account shares it, across restarts and rebalances.

An account's document holds ``nextSlotMs``: the moment from which it may send again. A sender
about to call the gateway takes the slot with a compare-and-set that moves ``nextSlotMs`` one
random gap past *now*; if the account is not free yet, it sleeps until it is and tries again.
The gap is measured from the moment the slot was taken, right before the gateway call, so a
sender that wakes up late never squeezes the next gap.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import Callable
from dataclasses import dataclass

from pymongo.errors import DuplicateKeyError

from herald_shared.mongo import ACCOUNT_PACE, Database
from herald_shared.pacing import PaceRange


@dataclass(frozen=True)
class SlotTaken:
    """A slot an account sent in."""

    at_ms: int
    """When the slot was taken (epoch ms)."""
    due_ms: int
    """When the account became free for it: the slot's reserved time. Equals ``at_ms`` when the
    account was free already."""
    waited_seconds: float
    """How long the sender waited for it."""

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
        rng: random.Random | None = None,
        clock_ms: Callable[[], int] = epoch_ms,
    ) -> None:
        self._slots = db[ACCOUNT_PACE]
        self._rng = rng or random.Random()
        self._clock_ms = clock_ms

    async def try_take(self, account_id: str, gap_seconds: float) -> tuple[bool, int]:
        """Take the account's slot now if it is free: ``(True, when it was taken)``, else
        ``(False, when it frees)``, in epoch ms. The next slot is ``gap_seconds`` after this one."""
        gap_ms = round(gap_seconds * 1000)
        while True:
            now = self._clock_ms()
            current = await self._slots.find_one({"_id": account_id}, {"nextSlotMs": 1})
            if current is None:
                try:
                    await self._slots.insert_one(
                        {"_id": account_id, "nextSlotMs": now + gap_ms, "lastSendMs": now}
                    )
                    return True, now
                except DuplicateKeyError:
                    continue  # another sender took the account's first slot
            free_at = int(current["nextSlotMs"])
            if free_at > now:
                return False, free_at
            taken = await self._slots.update_one(
                {"_id": account_id, "nextSlotMs": free_at},
                {"$set": {"nextSlotMs": now + gap_ms, "lastSendMs": now}},
            )
            if taken.modified_count:
                return True, now
            # Another sender took it between the read and the write: read again.

    async def wait_for_slot(self, account_id: str, pace: PaceRange) -> SlotTaken:
        """Wait until the account may send, and take the slot (with a fresh random gap)."""
        started = self._clock_ms()
        due = started
        while True:
            taken, at_ms = await self.try_take(account_id, pace.draw(self._rng))
            if taken:
                return SlotTaken(at_ms=at_ms, due_ms=due, waited_seconds=(at_ms - started) / 1000)
            due = at_ms
            await asyncio.sleep(max(0, at_ms - self._clock_ms()) / 1000)
