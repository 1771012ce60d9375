"""Giving messages a sender account within the accounts' caps, and releasing the messages no
account had room for once a window opens.

The dispatcher assigns an account to each new message when it creates it (sticky first, then
the account with the most room; :mod:`herald_dispatcher.account_choice`), counting it against the
account's hour and day (:mod:`herald_infra.accounts.repository`). A message no enabled account
has room for is *deferred*: stored ``pending`` with ``accountId`` null and ``notBefore`` (when
the earliest window opens), and not published. :func:`release_deferred_messages` gives those
whose time came an account and publishes them; the dispatcher runs it periodically, and any
other process may call it too (every step is a compare-and-set).

Once stored, a message's account never changes. Slots counted for a message that was not stored
(it existed already) are given back, so the counts follow what was stored.

A tenant without sender accounts sends through the deployment's shared gateway when the operator
has it on (:mod:`herald_core.accounts.shared_gateway`): one account for all such tenants, whose
caps hold like any account's (no memory of recipients: there is no other account to stick to).
With it off, such a tenant's messages are deferred until it has an account.
"""

from __future__ import annotations

import asyncio
from collections import Counter, defaultdict
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from faststream.kafka import KafkaBroker

from herald_core.accounts.model import SenderAccount
from herald_core.accounts.sending_limits import CappedAccount, next_opening, room_left
from herald_core.accounts.shared_gateway import SharedGateway
from herald_core.contracts.topics import MESSAGE_SEND_PRIMARY
from herald_core.messages.states import MessageStatus
from herald_dispatcher.account_choice import AccountChoice, Recipient, choose_accounts
from herald_dispatcher.account_roster import AccountRoster
from herald_dispatcher.slot_reserve import SlotReserve
from herald_infra.accounts.repository import (
    give_back_slots,
    last_accounts,
    read_usage,
    remember_accounts,
    take_slots_of,
    tenant_accounts,
)
from herald_infra.messages.queueing import queue_messages
from herald_infra.mongo.client import MESSAGES, Database, Document
from herald_infra.mongo.id_batches import find_by_ids, update_by_ids
from herald_infra.runtime.logging import get_logger

log = get_logger(__name__)

MAX_ROUNDS = 5
"""Rounds of choosing again when concurrent dispatchers took the slots a choice counted on."""

DEFERRED: Document = {"status": MessageStatus.PENDING.value, "accountId": None}
"""A message waiting for an account with room."""


def due_deferred(now: datetime) -> Document:
    return {**DEFERRED, "notBefore": {"$lte": now}}


@dataclass
class SenderAssignment:
    """The accounts chosen for some recipients of one tenant, and the slots counted for them."""

    tenant_id: str
    taken_at: datetime
    accounts: dict[str, str] = field(default_factory=dict)
    """Message id → its account."""
    deferred: list[str] = field(default_factory=list)
    """Message ids no account has room for now."""
    not_before: datetime | None = None
    """When the deferred ones are worth another try (the earliest window opening)."""
    phones: dict[str, str] = field(default_factory=dict)
    """Message id → phone."""
    previous: dict[str, str] = field(default_factory=dict)
    """Phone → the account it had before this assignment."""
    remembered: bool = True
    """False for the shared gateway: its recipients' accounts are not remembered."""

    def account_of(self, message_id: str) -> str | None:
        return self.accounts.get(message_id)

    def by_account(self) -> dict[str, list[str]]:
        grouped: dict[str, list[str]] = defaultdict(list)
        for message_id, account_id in self.accounts.items():
            grouped[account_id].append(message_id)
        return dict(grouped)


@dataclass(frozen=True)
class AssignmentReads:
    """What choosing accounts reads first and no choice changes: the tenant's accounts and
    the recipients' last accounts. A fan-out reads them for its next batch while it stores the
    current one. (Not the accounts' usage: the current batch's takes change it.)"""

    accounts: list[SenderAccount]
    previous: dict[str, str]


async def read_for_assignment(
    db: Database, tenant_id: str, phones: Sequence[str], roster: AccountRoster | None = None
) -> AssignmentReads:
    """The reads of :class:`AssignmentReads`; the accounts from ``roster`` when given (a
    fan-out's copy), else from MongoDB."""
    accounts = roster.accounts() if roster is not None else tenant_accounts(db, tenant_id)
    found, previous = await asyncio.gather(accounts, last_accounts(db, tenant_id, phones))
    return AssignmentReads(found, previous)


async def assign_sender_accounts(
    db: Database,
    tenant_id: str,
    recipients: Sequence[Recipient],
    *,
    shared_gateway: SharedGateway | None,
    now: datetime,
    accounts: Sequence[SenderAccount] | None = None,
    reserve: SlotReserve | None = None,
    reads: AssignmentReads | None = None,
) -> SenderAssignment:
    """Choose an account for each recipient and count it against that account's caps.

    ``reads`` (of :func:`read_for_assignment`, for these recipients' phones) saves reading
    them again. A tenant without accounts gets ``shared_gateway`` (None: it is off, and every
    recipient is deferred).

    With a ``reserve`` (a fan-out's), slots come from it first, and an account that runs short
    takes some ahead into it (:mod:`herald_dispatcher.slot_reserve`); give it back with
    :func:`give_back_reserve` when the fan-out ends.

    Call :func:`settle_assignment` once the choice is stored (or not), so slots of messages
    that were not stored are given back and the recipients' accounts are remembered.
    """
    assignment = SenderAssignment(
        tenant_id, now, phones={r.message_id: r.phone for r in recipients}
    )
    if not recipients:
        return assignment
    if reads is not None:
        accounts = reads.accounts
    elif accounts is None:
        accounts = await tenant_accounts(db, tenant_id)
    enabled: dict[str, CappedAccount] = {
        account.id: account for account in accounts if account.enabled
    }
    if not accounts and shared_gateway is not None:
        enabled = {shared_gateway.id: shared_gateway}
        assignment.remembered = False
    if reserve is not None and reserve.is_stale(now):
        # The clock left the window the reserve was counted in: give it back to that window.
        await give_back_reserve(db, reserve)
    if reads is not None:
        assignment.previous = reads.previous
    elif assignment.remembered:
        assignment.previous = await last_accounts(db, tenant_id, [r.phone for r in recipients])
    waiting = await _assign_within_room(db, assignment, recipients, enabled, reserve, now)
    assignment.deferred = [r.message_id for r in waiting]
    if waiting:
        assignment.not_before = await _earliest_opening(db, list(enabled.values()), now)
    return assignment


async def _assign_within_room(
    db: Database,
    assignment: SenderAssignment,
    recipients: Sequence[Recipient],
    enabled: Mapping[str, CappedAccount],
    reserve: SlotReserve | None,
    now: datetime,
) -> list[Recipient]:
    """Record on ``assignment`` an account with room for each of ``recipients``, choosing
    again (up to :data:`MAX_ROUNDS`) for those whose slots concurrent dispatchers took
    meanwhile; returns the recipients no account had room for."""
    waiting = list(recipients)
    for _ in range(MAX_ROUNDS):
        if not waiting:
            break
        to_read = usage_to_read(enabled, waiting, assignment.previous, reserve)
        usage = await read_usage(db, to_read, now) if to_read else {}
        # An account whose held slots cover what this round may ask of it is not read (reading
        # every account's usage per batch costs as many reads as there are accounts): its room
        # is as last read, less what was taken since.
        free = {
            account_id: room_left(account.limits, usage[account_id], now)
            if account_id in usage
            else (reserve.free(account_id) if reserve else 0)
            for account_id, account in enabled.items()
        }
        if reserve is not None:
            for account_id in usage:
                reserve.saw_free(account_id, free[account_id])
        room = {
            account_id: free[account_id] + (reserve.holds(account_id) if reserve else 0)
            for account_id in enabled
        }
        choice = choose_accounts(waiting, assignment.previous, room)
        got = await _slots_for(
            db,
            {account_id: len(chosen) for account_id, chosen in choice.chosen.items()},
            enabled,
            free,
            reserve,
            now,
        )
        missed = _keep_what_got_slots(assignment, choice, got)
        waiting = missed + choice.left_over
        if not missed:
            break  # what is left over found no room at all: trying again changes nothing
    return waiting


def usage_to_read(
    enabled: Mapping[str, CappedAccount],
    recipients: Sequence[Recipient],
    previous: Mapping[str, str],
    reserve: SlotReserve | None,
) -> list[str]:
    """The accounts whose usage a choice for ``recipients`` must read: every enabled one
    without a reserve; with one, those holding fewer slots than the recipients may ask of
    them (those sticky to them, and an even share of the others)."""
    if reserve is None:
        return list(enabled)
    sticky = Counter(previous.get(r.phone) for r in recipients)
    others = len(recipients) - sum(n for account_id, n in sticky.items() if account_id in enabled)
    share = -(-others // len(enabled)) if enabled else 0
    return [
        account_id
        for account_id in enabled
        if reserve.holds(account_id) < sticky.get(account_id, 0) + share
    ]


def _keep_what_got_slots(
    assignment: SenderAssignment, choice: AccountChoice, got: Mapping[str, int]
) -> list[Recipient]:
    """Assign each account's chosen recipients as far as it ``got`` slots for them; returns
    the recipients it chose beyond that."""
    missed: list[Recipient] = []
    for account_id, chosen in choice.chosen.items():
        assignment.accounts.update((r.message_id, account_id) for r in chosen[: got[account_id]])
        missed.extend(chosen[got[account_id] :])
    return missed


async def _slots_for(
    db: Database,
    wanted: Mapping[str, int],
    enabled: Mapping[str, CappedAccount],
    free: Mapping[str, int],
    reserve: SlotReserve | None,
    now: datetime,
) -> dict[str, int]:
    """Slots for ``wanted`` messages of each account (``free``: the room each had as read):
    held ones first, then taken, with some taken ahead into the reserve; returns how many
    each account got (fewer where others took its room meanwhile)."""
    if reserve is None:
        return await take_slots_of(
            db, {account_id: (enabled[account_id], n) for account_id, n in wanted.items()}, now
        )
    drawn = {account_id: reserve.draw(account_id, n) for account_id, n in wanted.items()}
    short = {account_id: n - drawn[account_id] for account_id, n in wanted.items()}
    asked = {
        account_id: n + reserve.ahead(free[account_id] - n, len(enabled))
        for account_id, n in short.items()
        if n > 0
    }
    taken = await take_slots_of(
        db, {account_id: (enabled[account_id], n) for account_id, n in asked.items()}, now
    )
    for account_id, n in taken.items():
        reserve.took(account_id, n)
        reserve.keep(account_id, n - short[account_id], now)
    return {
        account_id: drawn[account_id] + min(short[account_id], taken.get(account_id, 0))
        for account_id in wanted
    }


async def give_back_reserve(db: Database, reserve: SlotReserve) -> None:
    """Return the slots a reserve still holds to the window they were taken in."""
    taken_at = reserve.taken_at
    held = reserve.release()
    if taken_at is not None:
        await give_back_slots(db, held, taken_at)


async def _earliest_opening(
    db: Database, accounts: Sequence[CappedAccount], now: datetime
) -> datetime:
    """When the first of ``accounts`` has room again; ``now`` when there is none (enabling an
    account is the only way out, and each release looks for one)."""
    if not accounts:
        return now
    usage = await read_usage(db, [a.id for a in accounts], now)
    return min(next_opening(a.limits, usage[a.id], now) for a in accounts)


async def settle_assignment(
    db: Database, assignment: SenderAssignment, stored: Collection[str]
) -> None:
    """After storing: give back the slots of chosen messages that were not stored (``stored``
    lists the message ids whose assignment was), remember the accounts of those that were."""
    unused: dict[str, int] = defaultdict(int)
    remembered: dict[str, str] = {}
    for message_id, account_id in assignment.accounts.items():
        if message_id in stored:
            remembered[assignment.phones[message_id]] = account_id
        else:
            unused[account_id] += 1
    await give_back_slots(db, unused, assignment.taken_at)
    if not assignment.remembered:
        return
    await remember_accounts(
        db, assignment.tenant_id, remembered, assignment.taken_at, known=assignment.previous
    )


async def release_deferred_messages(
    db: Database,
    broker: KafkaBroker,
    now: datetime,
    *,
    topic: str = MESSAGE_SEND_PRIMARY,
    shared_gateway: SharedGateway | None = None,
    batch_size: int = 500,
) -> int:
    """Give the deferred messages whose ``notBefore`` has come an account with room, oldest
    first, and publish them on ``topic`` (the attempt plan's first send topic); those still
    without room wait for the next window. Tenants without accounts take ``shared_gateway``
    (None: off). Returns how many were queued."""
    tenants = await db[MESSAGES].distinct("tenantId", due_deferred(now))
    released = 0
    for tenant_id in sorted(tenants):
        released += await _release_for_tenant(
            db,
            broker,
            tenant_id,
            now,
            topic=topic,
            shared_gateway=shared_gateway,
            batch_size=batch_size,
        )
    return released


async def _release_for_tenant(
    db: Database,
    broker: KafkaBroker,
    tenant_id: str,
    now: datetime,
    *,
    topic: str,
    shared_gateway: SharedGateway | None,
    batch_size: int,
) -> int:
    accounts = await tenant_accounts(db, tenant_id)
    if accounts and not any(account.enabled for account in accounts):
        return 0  # nothing can take them until an account is enabled again
    released = 0
    selector = {"tenantId": tenant_id, **due_deferred(now)}
    while True:
        due = [
            document
            async for document in db[MESSAGES]
            .find(selector)
            .sort([("createdAt", 1), ("_id", 1)])
            .limit(batch_size)
        ]
        if not due:
            return released
        assignment = await assign_sender_accounts(
            db,
            tenant_id,
            [Recipient(d["_id"], d["phone"]) for d in due],
            shared_gateway=shared_gateway,
            now=now,
            accounts=accounts,
        )
        stored = await _store_assignment(db, assignment, now)
        await settle_assignment(db, assignment, {d["_id"] for d in stored})
        released += await _queue_by_campaign(db, broker, stored, topic)
        if assignment.deferred:
            if assignment.not_before is not None and assignment.not_before > now:
                # This and every later due message wait for the same opening.
                await db[MESSAGES].update_many(
                    selector, {"$set": {"notBefore": assignment.not_before}}
                )
            log.info(
                "deferred messages wait for room",
                tenant_id=tenant_id,
                released=released,
                not_before=str(assignment.not_before),
            )
            return released
        if not assignment.accounts:
            return released


async def _store_assignment(
    db: Database, assignment: SenderAssignment, now: datetime
) -> list[Document]:
    """Set the chosen account on each message still deferred; returns the messages that now
    hold the account chosen for them (a concurrent release may have assigned some first)."""
    for account_id, message_ids in assignment.by_account().items():
        await update_by_ids(
            db[MESSAGES],
            message_ids,
            DEFERRED,
            {"$set": {"accountId": account_id, "updatedAt": now}, "$unset": {"notBefore": ""}},
        )
    found = await find_by_ids(
        db[MESSAGES], list(assignment.accounts), {"status": MessageStatus.PENDING.value}
    )
    return [d for d in found if d.get("accountId") == assignment.accounts[d["_id"]]]


async def _queue_by_campaign(
    db: Database, broker: KafkaBroker, documents: Sequence[Document], topic: str
) -> int:
    by_campaign: dict[str, list[Document]] = defaultdict(list)
    for document in documents:
        by_campaign[document["campaignId"]].append(document)
    queued = 0
    for campaign_id, messages in by_campaign.items():
        queued += await queue_messages(db, broker, campaign_id, messages, topic=topic)
    return queued
