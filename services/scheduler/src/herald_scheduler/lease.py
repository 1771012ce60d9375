"""The leader lease: of the scheduler replicas, only the one holding the lease fires.

The lease is one document of ``scheduler_leases`` (``_id``, ``owner``, ``leaseUntil``). A
replica takes it when it is free or expired, or renews it when it is its own, with one
conditional upsert; the holder renews every third of the lease, so a dead holder's lease runs
out within ``HERALD_SCHEDULER_LEASE_SECONDS`` and another replica takes over. A replica counts
itself leader only until the end of the lease it last wrote, by its own clock.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pymongo.errors import DuplicateKeyError

from herald_core.contracts.common import utc_now
from herald_infra.mongo.client import SCHEDULER_LEASES, Database, Document
from herald_infra.runtime.logging import get_logger

log = get_logger(__name__)

LEASE_ID = "scheduler"
STANDBY_MIN_WAIT_SECONDS = 0.05


@dataclass(frozen=True)
class Lease:
    owner: str
    lease_until: datetime

    @classmethod
    def of(cls, document: Document | None) -> Lease | None:
        if document is None or document.get("leaseUntil") is None:
            return None
        return cls(owner=str(document.get("owner")), lease_until=document["leaseUntil"])


def may_take(current: Lease | None, owner: str, now: datetime) -> bool:
    """Whether ``owner`` may write the lease: nobody holds it, it is ``owner``'s, or it ran out."""
    return current is None or current.owner == owner or current.lease_until <= now


def renew_interval(lease_seconds: float) -> float:
    """The holder renews every third of the lease: two renewals may fail before it ends."""
    return lease_seconds / 3


def standby_wait(current: Lease | None, now: datetime, lease_seconds: float) -> float:
    """How long a replica without the lease waits before trying again: until the holder's lease
    ends when that comes sooner than a renewal interval, so a dead holder is replaced as soon
    as its lease is over."""
    interval = renew_interval(lease_seconds)
    if current is None:
        return interval
    until_free = (current.lease_until - now).total_seconds()
    return max(STANDBY_MIN_WAIT_SECONDS, min(interval, until_free))


class LeaseStatus(StrEnum):
    ACQUIRED = "acquired"
    """This replica holds the lease now and did not before."""
    RENEWED = "renewed"
    HELD_ELSEWHERE = "held-elsewhere"


class LeaderLease:
    def __init__(
        self,
        db: Database,
        owner: str,
        *,
        lease_seconds: float,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._leases = db[SCHEDULER_LEASES]
        self.owner = owner
        self._duration = timedelta(seconds=lease_seconds)
        self._clock = clock
        self._until: datetime | None = None
        self._holder: Lease | None = None

    def is_leader(self) -> bool:
        """True while the lease this replica last wrote lasts."""
        return self._until is not None and self._clock() < self._until

    async def try_hold(self) -> LeaseStatus:
        """Take the lease if it is free or expired, or renew it if it is ours."""
        now = self._clock()
        was_leader = self.is_leader()
        until = now + self._duration
        try:
            # One conditional upsert: when another replica holds a live lease the filter
            # matches nothing, the upsert tries to insert the same _id and fails.
            await self._leases.update_one(
                {
                    "_id": LEASE_ID,
                    "$or": [{"owner": self.owner}, {"leaseUntil": {"$lte": now}}],
                },
                {"$set": {"owner": self.owner, "leaseUntil": until, "renewedAt": now}},
                upsert=True,
            )
        except DuplicateKeyError:
            self._until = None
            self._holder = Lease.of(await self._leases.find_one({"_id": LEASE_ID}))
            if was_leader:
                log.warning("scheduler lease lost", holder=getattr(self._holder, "owner", None))
            return LeaseStatus.HELD_ELSEWHERE
        self._until = until
        self._holder = Lease(self.owner, until)
        if was_leader:
            return LeaseStatus.RENEWED
        await self._leases.update_one(
            {"_id": LEASE_ID, "owner": self.owner}, {"$set": {"acquiredAt": now}}
        )
        log.info("scheduler lease acquired: this replica fires", owner=self.owner)
        return LeaseStatus.ACQUIRED

    def next_attempt_in(self) -> float:
        """Seconds until this replica should call :meth:`try_hold` again."""
        lease_seconds = self._duration.total_seconds()
        if self.is_leader():
            return renew_interval(lease_seconds)
        return standby_wait(self._holder, self._clock(), lease_seconds)

    async def release(self) -> None:
        """Give the lease up (at shutdown), so another replica takes over at once."""
        if self._until is None:
            return
        self._until = None
        await self._leases.update_one(
            {"_id": LEASE_ID, "owner": self.owner}, {"$set": {"leaseUntil": self._clock()}}
        )
        log.info("scheduler lease released")
