"""Slots a fan-out takes ahead of its batches. Pure; no I/O.

Counting each batch's messages against each account's caps costs one conditional update per
account and batch: 100 accounts and 15 batches make 1,500 writes to count 20,000 messages. A
fan-out instead takes, when an account runs short, what the batch needs plus a fair share of
what the fan-out still expects to assign (its remaining contacts spread over the enabled
accounts, never more than the account has room for), keeps the surplus here and draws on it in
the next batches; at its end it gives back what it did not use.

The caps hold as before: a reserved slot is counted in the account's usage, so the reserve
only moves the counting earlier. Slots are reserved in one cap window (the UTC hour, and so its
day): once the clock leaves it, the reserve is given back and taken afresh. A fan-out that dies
holding a reserve leaves those slots counted until their window ends: the account sends less
that hour, never more.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from herald_core.accounts.sending_limits import hour_start


@dataclass
class SlotReserve:
    """The slots one fan-out holds, per account, beyond what its batches used so far."""

    expected: int = 0
    """Messages the fan-out still expects to assign after the batch at hand."""
    taken_at: datetime | None = None
    """When the held slots were taken (their window); None while none are held."""
    held: dict[str, int] = field(default_factory=dict)
    seen_free: dict[str, int] = field(default_factory=dict)
    """The room each account had beyond its held slots when its usage was last read, less
    what was taken since: the room of an account whose usage a batch does not read."""

    def holds(self, account_id: str) -> int:
        return self.held.get(account_id, 0)

    def is_stale(self, now: datetime) -> bool:
        """Whether the held slots count in another cap window than ``now``'s."""
        return self.taken_at is not None and hour_start(self.taken_at) != hour_start(now)

    def draw(self, account_id: str, wanted: int) -> int:
        """Use up to ``wanted`` held slots of the account; returns how many were used."""
        used = min(wanted, self.holds(account_id))
        if used:
            self.held[account_id] -= used
        return used

    def ahead(self, room_after: int, accounts: int) -> int:
        """How many slots to take beyond the batch's need for one account that has
        ``room_after`` left once the batch is counted, among ``accounts`` enabled ones."""
        if self.expected <= 0 or accounts <= 0:
            return 0
        fair_share = -(-self.expected // accounts)
        return max(0, min(room_after, fair_share))

    def keep(self, account_id: str, count: int, taken_at: datetime) -> None:
        """Hold ``count`` more slots of the account, taken at ``taken_at``."""
        if count <= 0:
            return
        if self.taken_at is None:
            self.taken_at = taken_at
        self.held[account_id] = self.holds(account_id) + count

    def free(self, account_id: str) -> int:
        """The account's room beyond its held slots, as last seen."""
        return self.seen_free.get(account_id, 0)

    def saw_free(self, account_id: str, room: int) -> None:
        """The account's usage was read: it had ``room`` beyond its held slots."""
        self.seen_free[account_id] = room

    def took(self, account_id: str, count: int) -> None:
        """``count`` slots of the account were counted in MongoDB (held or used)."""
        self.seen_free[account_id] = max(0, self.free(account_id) - count)

    def release(self) -> dict[str, int]:
        """Empty the reserve; returns what it held per account (to give back)."""
        held = {account_id: count for account_id, count in self.held.items() if count > 0}
        self.held = {}
        self.seen_free = {}
        self.taken_at = None
        return held
