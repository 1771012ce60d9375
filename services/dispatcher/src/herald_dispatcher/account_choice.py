"""Which sender account each recipient gets. Pure; no I/O.

Sticky first: a recipient stays on the account it was given last time (for the same tenant)
while that account is enabled and has room, so people keep hearing from the same number. The
others go, one at a time, to the account with the most room left, which spreads a campaign over
the accounts and keeps a number in warm-up (little room) lightly used. Recipients no account has
room for are left over; the caller defers them.
"""

from __future__ import annotations

import heapq
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field


@dataclass(frozen=True)
class Recipient:
    message_id: str
    phone: str


@dataclass(frozen=True)
class AccountChoice:
    chosen: dict[str, list[Recipient]] = field(default_factory=dict)
    """Account id → its recipients, in the order they came."""
    left_over: list[Recipient] = field(default_factory=list)
    """Recipients no account had room for."""


def choose_accounts(
    recipients: Sequence[Recipient], sticky: Mapping[str, str], room: Mapping[str, int]
) -> AccountChoice:
    """Give each recipient an account with room.

    ``sticky`` maps a phone to the account it had last; ``room`` maps each usable account (enabled)
    to how many more messages it may be given now. Ties go to the account listed first in
    ``room``.
    """
    left = {account: max(0, count) for account, count in room.items()}
    chosen: dict[str, list[Recipient]] = {}
    others: list[Recipient] = []
    for recipient in recipients:
        account = sticky.get(recipient.phone)
        if account is not None and left.get(account, 0) > 0:
            chosen.setdefault(account, []).append(recipient)
            left[account] -= 1
        else:
            others.append(recipient)

    # (-room left, position in ``room``, account): the most room first, then the first listed.
    order = {account: position for position, account in enumerate(left)}
    most_room = [(-count, order[account], account) for account, count in left.items() if count]
    heapq.heapify(most_room)
    left_over: list[Recipient] = []
    for recipient in others:
        if not most_room:
            left_over.append(recipient)
            continue
        negative, position, account = heapq.heappop(most_room)
        chosen.setdefault(account, []).append(recipient)
        if negative + 1 < 0:
            heapq.heappush(most_room, (negative + 1, position, account))
    return AccountChoice(chosen, left_over)
