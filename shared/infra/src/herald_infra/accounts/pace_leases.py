"""Account pace under a lease: the sender pod that sends an account keeps its pace in memory,
and MongoDB is written only when the account changes hands (rules: :mod:`herald_core.pace_lease`).

The account's document (``account_pace``) says who may send it and from when:

- ``holder``: the pod holding the lease ("" once given back);
- ``nextSlotMs``: no other pod may take the account before it (the lease's end, or, once given
  back, the account's next free time: its last answer plus its gap);
- ``wantedBy`` / ``wantedUntilMs``: a pod (another route's, or a partition's new owner) waiting
  for the account. Only it may take the account until its want runs out.

A pod takes a free account with a compare-and-set (as :class:`AccountPace` does per send) and
then sends it from memory: one send in flight, the next one a drawn gap after the answer. When
the lease no longer covers the next slot, one conditional update extends it, unless another pod
wants the account: then the pod gives it back at its next free time and waits its turn behind
the other (who alone may take it), so neither starves. An account the pod has no more work for
is given back in one bulk write with the other idle ones; a stopping pod gives back all of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import random
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import DuplicateKeyError

from herald_core.pace_lease import (
    LeasedAccount,
    idle_grace_ms,
    lease_end_ms,
    poll_interval_ms,
)
from herald_core.pacing import PaceRange
from herald_infra.accounts.pace_slots import AccountPace, SlotTaken, epoch_ms
from herald_infra.mongo.client import Database
from herald_infra.runtime.logging import get_logger
from herald_infra.runtime.metrics import PACE_LEASE_EVENTS

log = get_logger(__name__)

TAKEN, EXTENDED, LOST, HANDED_OVER, GIVEN_BACK = (
    "taken",
    "extended",
    "lost",
    "handed_over",
    "given_back",
)
"""The ``event`` label values of ``herald_pace_lease_events_total``."""


@dataclass(frozen=True)
class _Busy:
    """The account is not ours to take yet: look again at ``retry_at_ms``."""

    retry_at_ms: int
    free_at_ms: int | None
    """When it frees for sure (given back, in its gap); None while another pod leases it."""


class _Turns:
    """One send in flight per account in this pod: a lock per account, kept while a send of the
    account is in flight or waiting for its turn."""

    def __init__(self) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._users: dict[str, int] = {}

    async def enter(self, account_id: str) -> None:
        lock = self._locks.setdefault(account_id, asyncio.Lock())
        self._users[account_id] = self._users.get(account_id, 0) + 1
        try:
            await lock.acquire()
        except BaseException:
            self._forget(account_id)
            raise

    def leave(self, account_id: str) -> None:
        lock = self._locks.get(account_id)
        if lock is not None and lock.locked():  # a second release of one slot changes nothing
            lock.release()
            self._forget(account_id)

    def busy(self, account_id: str) -> bool:
        """A send of the account is in flight or waiting for its turn in this pod."""
        return account_id in self._users

    def _forget(self, account_id: str) -> None:
        users = self._users[account_id] - 1
        if users:
            self._users[account_id] = users
        else:
            del self._users[account_id]
            del self._locks[account_id]


class LeasedAccountPace(AccountPace):
    def __init__(
        self,
        db: Database,
        *,
        hold_seconds: float,
        lease_seconds: float,
        rng: random.Random | None = None,
        clock_ms: Callable[[], int] = epoch_ms,
    ) -> None:
        """``hold_seconds``: as :class:`AccountPace`. ``lease_seconds``: how long past a slot's
        hold and gap a lease keeps the account (already scaled: see
        :func:`herald_core.pace_lease.lease_length_ms`); a pod that dies holds its accounts at
        most the hold, a gap and this long."""
        super().__init__(db, hold_seconds=hold_seconds, rng=rng, clock_ms=clock_ms)
        self._lease_ms = max(1, round(lease_seconds * 1000))
        self._holder = f"lease-{uuid.uuid4().hex}"
        self._leased: dict[str, LeasedAccount] = {}
        self._turns = _Turns()
        self._busy_until: dict[str, int] = {}
        self._giving_back: asyncio.Task[None] | None = None

    def _unwanted(self, now_ms: int) -> dict[str, Any]:
        """Filter: no pod but this one waits for the account (or its want ran out)."""
        return {
            "$or": [
                {"wantedBy": {"$in": [None, self._holder]}},
                {"wantedUntilMs": {"$lt": now_ms}},
            ]
        }

    @property
    def holder(self) -> str:
        """This pod's id in the accounts it leases (``holder``)."""
        return self._holder

    def leased(self) -> frozenset[str]:
        """The accounts this pod holds the lease of."""
        return frozenset(self._leased)

    async def wait_for_slot(self, account_id: str, pace: PaceRange) -> SlotTaken:
        """Wait until the account may send, and take it: in memory while this pod's lease
        covers the slot, else by taking (or extending) the lease in MongoDB. The account stays
        taken in this pod until :meth:`release` or :meth:`release_unused`."""
        started = self._clock_ms()
        await self._turns.enter(account_id)  # one send in flight per account in this pod
        try:
            return await self._take_turn(account_id, pace, started)
        except BaseException:
            self._turns.leave(account_id)
            raise

    async def _take_turn(self, account_id: str, pace: PaceRange, started: int) -> SlotTaken:
        due = started
        while True:
            now = self._clock_ms()
            gap_ms = round(pace.draw(self._rng) * 1000)
            account = self._leased.get(account_id)
            if account is None:
                taken = await self._take_lease(account_id, now, gap_ms)
                if isinstance(taken, _Busy):
                    due = taken.free_at_ms or due
                    await self._sleep_until(taken.retry_at_ms)
                    continue
                account = self._leased[account_id] = LeasedAccount(taken, next_free_ms=now)
            elif not account.free_now(now):
                due = account.next_free_ms
                await self._sleep_until(account.next_free_ms)
                continue
            elif not account.covers(now, self._hold_ms, gap_ms) and not await self._extend(
                account_id, account, now, gap_ms
            ):
                continue  # handed over or lost: take it as any other pod would
            account.take(now)
            return SlotTaken(
                account_id, self._holder, now, due, (now - started) / 1000, gap_ms / 1000
            )

    async def _sleep_until(self, at_ms: int) -> None:
        await asyncio.sleep(max(0, at_ms - self._clock_ms()) / 1000)

    async def _take_lease(self, account_id: str, now: int, gap_ms: int) -> int | _Busy:
        """Take the account's lease if it is free and no other pod waits for it: the lease's
        end, or when to look again (having said this pod wants it, if another pod leases it)."""
        end = lease_end_ms(now, self._hold_ms, gap_ms, self._lease_ms)
        lease = {"nextSlotMs": end, "holder": self._holder, "lastSendMs": now}
        taken = await self._slots.update_one(
            {
                "_id": account_id,
                "nextSlotMs": {"$lte": now},
                **self._unwanted(now),
            },
            {"$set": lease, "$unset": {"wantedBy": "", "wantedUntilMs": ""}},
        )
        if taken.modified_count:
            return self._took(account_id, end)
        current = await self._slots.find_one(
            {"_id": account_id},
            {"nextSlotMs": 1, "holder": 1, "wantedBy": 1, "wantedUntilMs": 1},
        )
        if current is None:
            try:
                await self._slots.insert_one({"_id": account_id, **lease})
            except DuplicateKeyError:
                return _Busy(now, None)  # another pod took its first slot: look again
            return self._took(account_id, end)
        return await self._busy(account_id, current, now)

    def _took(self, account_id: str, lease_end: int) -> int:
        self._busy_until.pop(account_id, None)
        PACE_LEASE_EVENTS.labels(event=TAKEN).inc()
        return lease_end

    async def _busy(self, account_id: str, current: Mapping[str, Any], now: int) -> _Busy:
        """The account could not be taken: when to look again."""
        free_at = int(current.get("nextSlotMs", 0))
        holder = str(current.get("holder") or "")
        poll = now + poll_interval_ms(self._lease_ms)
        wanted_by = current.get("wantedBy")
        wanted_until = int(current.get("wantedUntilMs", 0))
        self._busy_until[account_id] = max(free_at, now)
        if wanted_by not in (None, self._holder) and wanted_until >= now:
            return _Busy(min(max(free_at, poll), wanted_until + 1), None)  # its turn first
        if free_at <= now:
            return _Busy(now, free_at)  # freed meanwhile: take it
        if not holder:
            return _Busy(free_at, free_at)  # given back, in its gap
        if holder == self._holder:
            # This pod's lease being given back (the write is on its way), or one it took as
            # its wait was cancelled: it is free once the write lands, or the lease ends.
            return _Busy(min(free_at, poll), None)
        # Leased by another pod: say this one wants it, so that its holder gives it back at its
        # next extension, and look again now and then (a want is renewed while it waits).
        if wanted_by != self._holder or wanted_until - now < self._lease_ms // 2:
            await self._slots.update_one(
                {"_id": account_id, "holder": holder, **self._unwanted(now)},
                {"$set": {"wantedBy": self._holder, "wantedUntilMs": now + self._lease_ms}},
            )
        return _Busy(min(free_at, poll), None)

    async def _extend(self, account_id: str, account: LeasedAccount, now: int, gap_ms: int) -> bool:
        """Extend this pod's lease to cover a slot now; if another pod wants the account, give
        it back instead (at its next free time), and if another took it, forget it. True if
        the lease covers the slot."""
        end = lease_end_ms(now, self._hold_ms, gap_ms, self._lease_ms)
        extended = await self._slots.update_one(
            {"_id": account_id, "holder": self._holder, **self._unwanted(now)},
            {"$set": {"nextSlotMs": end, "lastSendMs": now}},
        )
        if extended.modified_count:
            account.lease_until_ms = end
            PACE_LEASE_EVENTS.labels(event=EXTENDED).inc()
            return True
        del self._leased[account_id]
        handed = await self._slots.update_one(
            {"_id": account_id, "holder": self._holder},
            {"$set": {"nextSlotMs": account.give_back_at_ms(), "holder": ""}},
        )
        PACE_LEASE_EVENTS.labels(event=HANDED_OVER if handed.modified_count else LOST).inc()
        return False

    async def release(self, slot: SlotTaken) -> bool:
        """The gateway answered the slot's send: the account is free one gap from now (in
        memory). False if this pod's lease no longer covers that gap (the answer came after
        the hold): another pod may take the account at the lease's end."""
        now = self._clock_ms()
        gap_ms = round(slot.gap_seconds * 1000)
        account = self._leased.get(slot.account_id)
        self._turns.leave(slot.account_id)
        if account is None or slot.holder != self._holder:
            return False
        account.answered(now, gap_ms)
        return now + gap_ms <= account.lease_until_ms

    async def release_unused(self, slot: SlotTaken) -> bool:
        """The slot's send did not happen: the account is free again from when it was free
        for this slot (in memory)."""
        account = self._leased.get(slot.account_id)
        self._turns.leave(slot.account_id)
        if account is None or slot.holder != self._holder:
            return False
        account.unused(min(slot.due_ms, slot.at_ms))
        return True

    def free_now(self, account_id: str) -> bool:
        """Whether a send of the account could start now, from this pod's memory alone (no
        MongoDB call): no send of it in flight or waiting in this pod, and, for an account this
        pod leases, its gap over; for another, not seen leased or in its gap elsewhere."""
        if self._turns.busy(account_id):
            return False
        now = self._clock_ms()
        account = self._leased.get(account_id)
        if account is not None:
            return account.free_now(now)
        return self._busy_until.get(account_id, 0) <= now

    async def give_back_idle(self) -> int:
        """Give back, in one bulk write, the leases of the accounts this pod has no more work
        for (see :meth:`LeasedAccount.is_idle`); the number given back."""
        now = self._clock_ms()
        grace = idle_grace_ms(self._lease_ms)
        idle = [
            account_id
            for account_id, account in self._leased.items()
            if account.is_idle(now, grace) and not self._turns.busy(account_id)
        ]
        for account_id, busy_until in list(self._busy_until.items()):
            if busy_until + grace < now:
                del self._busy_until[account_id]
        return await self._give_back(idle)

    async def give_back_all(self) -> int:
        """Give back every lease with no send in flight (a stopping pod, once its lanes
        finished); the number given back."""
        return await self._give_back(
            [account_id for account_id in self._leased if not self._turns.busy(account_id)]
        )

    async def _give_back(self, account_ids: list[str]) -> int:
        if not account_ids:
            return 0
        # Forgotten before the write: a send of the account from now on takes the lease anew,
        # after this write (until it lands, the account is still this pod's in MongoDB).
        back = {account_id: self._leased.pop(account_id) for account_id in account_ids}
        result = await self._slots.bulk_write(
            [
                UpdateOne(
                    {"_id": account_id, "holder": self._holder},
                    {"$set": {"nextSlotMs": account.give_back_at_ms(), "holder": ""}},
                )
                for account_id, account in back.items()
            ],
            ordered=False,
        )
        PACE_LEASE_EVENTS.labels(event=GIVEN_BACK).inc(result.modified_count)
        return result.modified_count

    async def start(self) -> None:
        """Start giving idle leases back in the background."""
        if self._giving_back is None:
            self._giving_back = asyncio.create_task(self._give_back_idle_leases())

    async def stop(self) -> None:
        """Stop the background task and give back every lease without a send in flight."""
        if self._giving_back is not None:
            self._giving_back.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._giving_back
            self._giving_back = None
        try:
            await self.give_back_all()
        except Exception as error:  # the leases run out by themselves
            log.warning("leases not given back on stop", error=repr(error))

    async def _give_back_idle_leases(self) -> None:
        interval = idle_grace_ms(self._lease_ms) / 1000
        while True:
            await asyncio.sleep(interval)
            try:
                await self.give_back_idle()
            except Exception as error:  # MongoDB away: the leases run out by themselves
                log.warning("idle leases not given back", error=repr(error))
