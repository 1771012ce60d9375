"""The suppression list in MongoDB (collection ``suppressions``), and the senders' in-memory copy.

One document per tenant and number (``_id`` ``tenant|+9198…``): ``tenantId``, ``phone``,
``active`` (on the list now), ``reason`` (see :class:`~herald_core.recipients.suppression.
SuppressionReason`), ``source`` (what put it there: the recipient's message, the account, the
campaign message it answered), ``suppressedAt``, ``liftedAt``, ``changedAt``, ``createdAt``.
A number taken off the list stays as an inactive document, so that a reader of changes
(:class:`SuppressionCache`) sees the removal as it sees an addition.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pymongo import UpdateOne
from pymongo.errors import BulkWriteError, DuplicateKeyError

from herald_core.contracts.common import utc_now
from herald_core.recipients.suppression import (
    SuppressionReason,
    SuppressionScope,
    suppression_id,
)
from herald_infra.mongo.client import SUPPRESSIONS, Database, Document
from herald_infra.mongo.id_batches import find_by_ids

DUPLICATE_KEY = 11000


def _entry(
    tenant_id: str, phone: str, reason: SuppressionReason, source: Mapping[str, Any], now: datetime
) -> tuple[Document, Document]:
    """The filter and update that put one number on a tenant's list unless it is there."""
    return (
        {"_id": suppression_id(tenant_id, phone), "active": {"$ne": True}},
        {
            "$set": {
                "active": True,
                "reason": reason.value,
                "source": dict(source),
                "suppressedAt": now,
                "changedAt": now,
            },
            "$unset": {"liftedAt": ""},
            "$setOnInsert": {"tenantId": tenant_id, "phone": phone, "createdAt": now},
        },
    )


async def suppress(
    db: Database,
    tenant_id: str,
    phone: str,
    reason: SuppressionReason,
    source: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> bool:
    """Put ``phone`` on the tenant's list; True if it was not on it (an entry already active
    keeps its reason and source)."""
    selector, update = _entry(tenant_id, phone, reason, source, now or utc_now())
    try:
        await db[SUPPRESSIONS].update_one(selector, update, upsert=True)
    except DuplicateKeyError:  # active already: the filter missed it, the upsert collided
        return False
    return True


async def suppress_many(
    db: Database,
    tenant_id: str,
    phones: Sequence[str],
    reason: SuppressionReason,
    source: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> int:
    """Put every number of ``phones`` on the tenant's list; returns how many were not on it."""
    return len(await suppress_new(db, tenant_id, phones, reason, source, now=now))


async def suppress_new(
    db: Database,
    tenant_id: str,
    phones: Sequence[str],
    reason: SuppressionReason,
    source: Mapping[str, Any],
    *,
    now: datetime | None = None,
) -> list[str]:
    """Put every number of ``phones`` on the tenant's list in one bulk write; returns those
    that were not on it (each once), as the write itself found them."""
    unique = list(dict.fromkeys(phones))
    if not unique:
        return []
    at = now or utc_now()
    requests = [UpdateOne(*_entry(tenant_id, p, reason, source, at), upsert=True) for p in unique]
    try:
        await db[SUPPRESSIONS].bulk_write(requests, ordered=False)
    except BulkWriteError as error:
        failed = error.details["writeErrors"]
        if any(e.get("code") != DUPLICATE_KEY for e in failed):
            raise
        already = {int(e["index"]) for e in failed}
        return [p for i, p in enumerate(unique) if i not in already]
    return unique


async def lift(
    db: Database,
    tenant_id: str,
    phone: str,
    *,
    only: SuppressionReason | None = None,
    now: datetime | None = None,
) -> bool:
    """Take ``phone`` off the tenant's list (only an entry of reason ``only``, when given);
    True if it was on it."""
    at = now or utc_now()
    selector: Document = {"_id": suppression_id(tenant_id, phone), "active": True}
    if only is not None:
        selector["reason"] = only.value
    result = await db[SUPPRESSIONS].update_one(
        selector, {"$set": {"active": False, "liftedAt": at, "changedAt": at}}
    )
    return bool(result.modified_count)


async def may_have_suppressions(db: Database, tenant_id: str, scope: SuppressionScope) -> bool:
    """Whether the list ``scope`` checks ``tenant_id``'s numbers against has ever had an entry
    (one indexed read): when not, no number needs looking up."""
    selector: Document = {"tenantId": tenant_id} if scope is SuppressionScope.TENANT else {}
    return await db[SUPPRESSIONS].find_one(selector, {"_id": 1}) is not None


async def suppressed_among(
    db: Database, tenant_id: str, phones: Sequence[str], scope: SuppressionScope
) -> set[str]:
    """The numbers of ``phones`` a tenant may not send to now: on its own list, or, in the
    global scope, on any tenant's."""
    if not phones:
        return set()
    if scope is SuppressionScope.TENANT:
        ids = [suppression_id(tenant_id, phone) for phone in phones]
        found = await find_by_ids(db[SUPPRESSIONS], ids, {"active": True}, projection={"phone": 1})
        return {d["phone"] for d in found}
    cursor = db[SUPPRESSIONS].find(
        {"phone": {"$in": list(phones)}, "active": True}, {"phone": 1, "_id": 0}
    )
    return {d["phone"] async for d in cursor}


@dataclass
class _LoadedList:
    """One tenant's list (the whole deployment's, in the global scope) as a sender knows it."""

    tenant_id: str | None
    """None: every tenant's (global scope)."""
    phones: Counter[str] = field(default_factory=Counter)
    """Number → how many active entries name it (one per tenant; at most 1 per tenant scope)."""
    active_ids: set[str] = field(default_factory=set)
    changes_from: datetime | None = None
    """The lower bound of the next read of changes; None: not loaded yet."""
    refreshed_at: float = float("-inf")
    used_at: float = 0.0
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    def apply(self, documents: Iterable[Document]) -> None:
        for document in documents:
            entry_id, phone = document["_id"], document["phone"]
            if document.get("active") and entry_id not in self.active_ids:
                self.active_ids.add(entry_id)
                self.phones[phone] += 1
            elif not document.get("active") and entry_id in self.active_ids:
                self.active_ids.discard(entry_id)
                self.phones[phone] -= 1
                if self.phones[phone] <= 0:
                    del self.phones[phone]


class SuppressionCache:
    """Whether a number is suppressed, from memory: each tenant's list is read whole the first
    time one of its messages is checked, then only its changes, at most every
    ``refresh_seconds`` (one query per tenant, however many sends). An opt-out is honoured by
    the checks made ``refresh_seconds`` after it was written, or sooner.

    Changes are read by ``changedAt`` from a little before the previous read began
    (``overlap``), so that a write stamped by a clock a little behind, or committed a moment
    after it was stamped, is not missed; reading a change twice is harmless. A tenant not
    checked for ``idle_seconds`` is forgotten."""

    def __init__(
        self,
        db: Database,
        *,
        scope: SuppressionScope,
        refresh_seconds: float,
        overlap: timedelta = timedelta(seconds=5),
        idle_seconds: float = 600.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._db = db
        self._scope = scope
        self._refresh = refresh_seconds
        self._overlap = overlap
        self._idle = idle_seconds
        self._clock = clock
        self._lists: dict[str | None, _LoadedList] = {}
        self.reads = 0
        """MongoDB queries made so far (for the benchmarks and tests)."""

    async def is_suppressed(self, tenant_id: str, phone: str) -> bool:
        loaded = await self._current(tenant_id)
        return phone in loaded.phones

    async def _current(self, tenant_id: str) -> _LoadedList:
        key = tenant_id if self._scope is SuppressionScope.TENANT else None
        now = self._clock()
        loaded = self._lists.get(key)
        if loaded is None:
            self._forget_idle(now)
            loaded = self._lists.setdefault(key, _LoadedList(key))
        loaded.used_at = now
        if now - loaded.refreshed_at < self._refresh:
            return loaded
        async with loaded.lock:  # one read per tenant at a time; the others wait for it
            if self._clock() - loaded.refreshed_at >= self._refresh:
                await self._read(loaded)
        return loaded

    async def _read(self, loaded: _LoadedList) -> None:
        started_at, started = utc_now(), self._clock()
        selector: Document = {} if loaded.tenant_id is None else {"tenantId": loaded.tenant_id}
        if loaded.changes_from is None:
            selector["active"] = True
        else:
            selector["changedAt"] = {"$gte": loaded.changes_from}
        cursor = self._db[SUPPRESSIONS].find(selector, {"phone": 1, "active": 1})
        loaded.apply([d async for d in cursor])
        self.reads += 1
        loaded.changes_from = started_at - self._overlap
        loaded.refreshed_at = started

    def _forget_idle(self, now: float) -> None:
        for key in [k for k, v in self._lists.items() if now - v.used_at > self._idle]:
            del self._lists[key]
