"""Lease rules of a sender account's pace kept in memory by one sender pod. Pure; no I/O.

A pod that sends an account's messages takes the account's *lease* in MongoDB: no other pod or
route may take the account before the lease ends (``nextSlotMs``). While the lease covers a
slot, the pod takes it in memory, with no MongoDB round trip, and keeps the account's pace
itself: one send in flight, and the next one a drawn gap after the gateway's answer.

A slot taken at ``now`` with gap ``gap`` is covered when ``now + hold + gap`` is within the
lease: its gateway call ends by ``now + hold`` (the gateway timeout, with a margin), and its
gap after that, before anyone else may take the account. So whatever happens to the pod, the
next holder's first send keeps the gap. A lease is extended (one write) when it no longer
covers the next slot, to ``now + hold + gap + lease length``; an account whose pod died is
therefore held at most ``hold + gap + lease length`` after its last extension.
"""

from __future__ import annotations

from dataclasses import dataclass

MAX_LEASE_SECONDS = 300.0
"""The longest lease a deployment may configure: a dead pod's accounts wait that long."""
IDLE_SHARE = 4
"""An account the pod has not sent for during a quarter of a lease after its next slot came is
given back, and the pod looks for such accounts that often."""
POLL_SHARE = 10
"""A pod waiting for an account another pod leases looks again every tenth of a lease."""


def lease_length_ms(lease_seconds: float, scale: float) -> int:
    """The lease length of a deployment: its setting scaled like its gaps (a test that shortens
    gaps to a twentieth hands accounts over twenty times sooner), at least 1 ms and at most
    :data:`MAX_LEASE_SECONDS` scaled; 0 when leases are off (the setting or the scale is 0)."""
    if lease_seconds <= 0 or scale <= 0:
        return 0
    return max(1, round(min(lease_seconds, MAX_LEASE_SECONDS) * scale * 1000))


def lease_end_ms(now_ms: int, hold_ms: int, gap_ms: int, lease_ms: int) -> int:
    """Until when a lease taken or extended at ``now_ms`` for a slot with gap ``gap_ms`` holds
    the account: that slot is covered, and about ``lease_ms`` of further sends."""
    return now_ms + hold_ms + gap_ms + lease_ms


def idle_grace_ms(lease_ms: int) -> int:
    """How long after an account's next slot came the pod keeps a lease it does not use."""
    return max(1, lease_ms // IDLE_SHARE)


def poll_interval_ms(lease_ms: int) -> int:
    """How often a pod waiting for an account another pod leases looks whether it is free."""
    return max(1, lease_ms // POLL_SHARE)


@dataclass
class LeasedAccount:
    """The in-memory pace of an account whose lease this pod holds."""

    lease_until_ms: int
    """The lease's end, as written in MongoDB (``nextSlotMs``)."""
    next_free_ms: int
    """When the account may send next: the last answer plus its gap."""
    in_flight: bool = False
    """A send of the account is at its gateway (taken, not yet answered)."""
    last_taken_ms: int = 0

    def covers(self, now_ms: int, hold_ms: int, gap_ms: int) -> bool:
        """The lease covers a slot taken now: its gateway call and gap end within it."""
        return now_ms + hold_ms + gap_ms <= self.lease_until_ms

    def free_now(self, now_ms: int) -> bool:
        """No send in flight and the gap after the last one over."""
        return not self.in_flight and self.next_free_ms <= now_ms

    def take(self, now_ms: int) -> int:
        """Take the account's slot now (it must be free); returns when it was free for it."""
        if not self.free_now(now_ms):
            raise ValueError("the account is not free: a send is in flight or its gap not over")
        due = self.next_free_ms
        self.in_flight = True
        self.last_taken_ms = now_ms
        return due

    def answered(self, now_ms: int, gap_ms: int) -> None:
        """The slot's gateway call answered: the account is free one gap from now."""
        self.in_flight = False
        self.next_free_ms = max(self.next_free_ms, now_ms + gap_ms)

    def unused(self, free_from_ms: int) -> None:
        """The slot's send did not happen: the account is free again from when it was free
        for the slot, as if the slot had never been taken."""
        self.in_flight = False
        self.next_free_ms = free_from_ms

    def is_idle(self, now_ms: int, grace_ms: int) -> bool:
        """The pod has no more work for the account: nothing in flight, and no send taken since
        its next slot came ``grace_ms`` ago."""
        last_use = max(self.next_free_ms, self.last_taken_ms)
        return not self.in_flight and now_ms >= last_use + grace_ms

    def give_back_at_ms(self) -> int:
        """What ``nextSlotMs`` becomes when the pod gives the lease back: the account's next free
        time, so the next holder keeps the gap after the last answer."""
        return self.next_free_ms
