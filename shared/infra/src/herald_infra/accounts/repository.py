"""Sender accounts in MongoDB: the accounts, what each used of its cap windows, and the account
each recipient had last.

Usage is one ``account_usage`` document per account and UTC day, with the day's count and one
count per hour. Taking slots is one conditional ``$inc`` on it, so concurrent dispatchers never
give an account more than its caps allow.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime

from pymongo import InsertOne, UpdateOne
from pymongo.errors import BulkWriteError

from herald_core.accounts.model import SenderAccount, account_of
from herald_core.accounts.sending_limits import (
    DAY,
    CappedAccount,
    WindowUsage,
    as_utc,
    daily_allowance,
    day_start,
    room_left,
)
from herald_infra.mongo.client import ACCOUNT_USAGE, ACCOUNTS, RECIPIENTS, Database, Document
from herald_infra.mongo.id_batches import find_by_ids

USAGE_KEPT_FOR = 2 * DAY
"""How long a day's usage document stays after the day began (TTL): long enough to read."""
MAX_TAKE_TRIES = 5
TAKE_TOKEN = "lastTake"
"""Set by each take of a batched :func:`take_slots_of`, to tell which of its takes applied."""
DUPLICATE_KEY = 11000


async def find_account(db: Database, tenant_id: str, account_id: str) -> SenderAccount | None:
    """The tenant's account ``account_id``, or None (another tenant's included).

    The senders call this to find the session of a message's account:
    ``account.session_for(engine)`` gives gateway, base URL, session and API key.
    """
    document = await db[ACCOUNTS].find_one({"_id": account_id, "tenantId": tenant_id})
    return account_of(document) if document is not None else None


async def account_documents(db: Database, account_ids: Sequence[str]) -> list[Document]:
    """The account documents of ``account_ids``, any tenant's (the caller checks whose), in
    queries of a few dozen ids: a sender reads the accounts of many lanes at once this way."""
    return await find_by_ids(db[ACCOUNTS], account_ids)


async def tenant_accounts(db: Database, tenant_id: str) -> list[SenderAccount]:
    """Every account of the tenant, enabled or not, oldest first."""
    cursor = db[ACCOUNTS].find({"tenantId": tenant_id}).sort([("createdAt", 1), ("_id", 1)])
    return [account_of(document) async for document in cursor]


# Cap windows


def usage_id(account_id: str, now: datetime) -> str:
    return f"{account_id}|{day_start(now):%Y-%m-%d}"


def hour_field(now: datetime) -> str:
    return f"hours.{as_utc(now):%H}"


def usage_of(document: Document | None, now: datetime) -> WindowUsage:
    if document is None:
        return WindowUsage()
    hour = f"{as_utc(now):%H}"
    return WindowUsage(
        today=int(document.get("assigned", 0)),
        this_hour=int((document.get("hours") or {}).get(hour, 0)),
    )


async def read_usage(
    db: Database, account_ids: Iterable[str], now: datetime
) -> dict[str, WindowUsage]:
    """What each account was given so far in the current day and hour."""
    ids = {usage_id(account_id, now): account_id for account_id in account_ids}
    found = {d["_id"]: d for d in await find_by_ids(db[ACCOUNT_USAGE], list(ids))}
    return {account_id: usage_of(found.get(key), now) for key, account_id in ids.items()}


def _usage_document_upsert(account: CappedAccount, now: datetime) -> UpdateOne:
    """Create the account's usage document of ``now``'s day unless it exists."""
    day = day_start(now)
    # Every hour present from the start, so a conditional update can compare it.
    return UpdateOne(
        {"_id": usage_id(account.id, now)},
        {
            "$setOnInsert": {
                "accountId": account.id,
                "tenantId": account.tenant_id,
                "day": day,
                "assigned": 0,
                "hours": {f"{hour:02d}": 0 for hour in range(24)},
                "expiresAt": day + USAGE_KEPT_FOR,
            }
        },
        upsert=True,
    )


async def _ensure_usage_document(db: Database, account: CappedAccount, now: datetime) -> str:
    await _ensure_usage_documents(db, [account], now)
    return usage_id(account.id, now)


async def _ensure_usage_documents(
    db: Database, accounts: Sequence[CappedAccount], now: datetime
) -> None:
    try:
        await db[ACCOUNT_USAGE].bulk_write(
            [_usage_document_upsert(account, now) for account in accounts], ordered=False
        )
    except BulkWriteError as error:
        # A concurrent upsert created one: it is there, as wanted.
        if any(e.get("code") != DUPLICATE_KEY for e in error.details.get("writeErrors", [])):
            raise


def _take(account: CappedAccount, take: int, now: datetime) -> tuple[Document, Document]:
    """The selector and update that count ``take`` messages against the account's current
    hour and day if its caps leave room for them."""
    hour = hour_field(now)
    allowance = daily_allowance(account.limits, now)
    return (
        {
            "_id": usage_id(account.id, now),
            "assigned": {"$lte": allowance - take},
            hour: {"$lte": account.hourly_cap - take},
        },
        {"$inc": {"assigned": take, hour: take}},
    )


async def take_slots(db: Database, account: CappedAccount, wanted: int, now: datetime) -> int:
    """Count up to ``wanted`` messages against the account's current hour and day, as far as
    its caps allow; returns how many were counted (0 when it is full)."""
    if wanted <= 0:
        return 0
    key = usage_id(account.id, now)
    take = wanted
    for _ in range(MAX_TAKE_TRIES):
        result = await db[ACCOUNT_USAGE].update_one(*_take(account, take, now))
        if result.modified_count == 1:
            return take
        document = await db[ACCOUNT_USAGE].find_one({"_id": key})
        if document is None:  # the account's first message of the day
            await _ensure_usage_document(db, account, now)
            continue
        # Someone else took slots meanwhile: take what is left, if anything.
        take = min(wanted, room_left(account.limits, usage_of(document, now), now))
        if take <= 0:
            return 0
    return 0


async def take_slots_of(
    db: Database, wanted: Mapping[str, tuple[CappedAccount, int]], now: datetime
) -> dict[str, int]:
    """:func:`take_slots` for several accounts (account id → (account, messages wanted)) in one
    round trip when every one has room, the usual case; returns how many each got."""
    asked = {account_id: w for account_id, w in wanted.items() if w[1] > 0}
    taken = dict.fromkeys(wanted, 0)
    if not asked:
        return taken
    applied, absent = await _take_together(db, asked, now)
    if absent:
        # The accounts' first takes of the day: their usage documents are created together,
        # then taken from together (one by one, four round trips an account).
        await _ensure_usage_documents(db, [asked[account_id][0] for account_id in absent], now)
        again, _ = await _take_together(db, {a: asked[a] for a in absent}, now)
        applied |= again
    for account_id, (account, count) in asked.items():
        if account_id in applied:
            taken[account_id] = count
        else:
            # No room for all it asked: take what is left, one by one.
            taken[account_id] = await take_slots(db, account, count, now)
    return taken


async def _take_together(
    db: Database, asked: Mapping[str, tuple[CappedAccount, int]], now: datetime
) -> tuple[set[str], set[str]]:
    """One round trip of takes, each applied only where the account has room for all it asks;
    returns the accounts whose take applied, and those without a usage document today."""
    tokens = {account_id: uuid.uuid4().hex for account_id in asked}
    writes = []
    for account_id, (account, count) in asked.items():
        selector, update = _take(account, count, now)
        writes.append(UpdateOne(selector, {**update, "$set": {TAKE_TOKEN: tokens[account_id]}}))
    result = await db[ACCOUNT_USAGE].bulk_write(writes, ordered=False)
    if result.modified_count == len(writes):
        return set(asked), set()
    found = {
        document["accountId"]: document.get(TAKE_TOKEN)
        for document in await find_by_ids(
            db[ACCOUNT_USAGE],
            [usage_id(account_id, now) for account_id in asked],
            projection={"accountId": 1, TAKE_TOKEN: 1},
        )
    }
    applied = {a for a in asked if a in found and found[a] == tokens[a]}
    return applied, {a for a in asked if a not in found}


async def give_back_slots(db: Database, counts: Mapping[str, int], taken_at: datetime) -> None:
    """Return slots taken at ``taken_at`` that were not used (account id → how many), in one
    round trip."""
    writes = [
        UpdateOne(
            {"_id": usage_id(account_id, taken_at)},
            {"$inc": {"assigned": -count, hour_field(taken_at): -count}},
        )
        for account_id, count in counts.items()
        if count > 0
    ]
    if writes:
        await db[ACCOUNT_USAGE].bulk_write(writes, ordered=False)


# Sticky recipients


def recipient_id(tenant_id: str, phone: str) -> str:
    return f"{tenant_id}|{phone}"


async def last_accounts(db: Database, tenant_id: str, phones: Sequence[str]) -> dict[str, str]:
    """Phone → the account the recipient was given last (only recipients that had one)."""
    if not phones:
        return {}
    found = await find_by_ids(
        db[RECIPIENTS],
        [recipient_id(tenant_id, phone) for phone in phones],
        projection={"phone": 1, "accountId": 1},
    )
    return {document["phone"]: document["accountId"] for document in found}


async def remember_accounts(
    db: Database,
    tenant_id: str,
    accounts: Mapping[str, str],
    now: datetime,
    *,
    known: Mapping[str, str] | None = None,
) -> None:
    """Record the account each phone was given (``phone → account``); phones whose ``known``
    account is the same are not written again."""
    known = known or {}
    # Recipients seen for the first time (most of a new campaign's) are inserted: on a
    # MongoDB-wire server that is several times cheaper than an upsert.
    writes: list[InsertOne[Document] | UpdateOne] = [
        InsertOne(
            {
                "_id": recipient_id(tenant_id, phone),
                "tenantId": tenant_id,
                "phone": phone,
                "accountId": account_id,
                "assignedAt": now,
            }
        )
        if phone not in known
        else UpdateOne(
            {"_id": recipient_id(tenant_id, phone)},
            {
                "$set": {"accountId": account_id, "assignedAt": now},
                "$setOnInsert": {"tenantId": tenant_id, "phone": phone},
            },
            upsert=True,
        )
        for phone, account_id in accounts.items()
        if known.get(phone) != account_id
    ]
    if not writes:
        return
    try:
        await db[RECIPIENTS].bulk_write(writes, ordered=False)
    except BulkWriteError as error:
        # A concurrent insert or upsert of the same recipient won; its account is as good a
        # memory.
        if any(e.get("code") != DUPLICATE_KEY for e in error.details.get("writeErrors", [])):
            raise
