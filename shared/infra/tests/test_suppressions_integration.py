"""The suppression list and the senders' in-memory copy of it, against the real MongoDB-wire
server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta

import pytest

from herald_core.contracts.common import utc_now
from herald_core.recipients.suppression import SuppressionReason, SuppressionScope
from herald_infra.mongo.client import SUPPRESSIONS, Database, ensure_indexes
from herald_infra.recipients.suppressions import (
    SuppressionCache,
    lift,
    suppress,
    suppress_many,
    suppressed_among,
)
from herald_infra.runtime.settings import HeraldSettings

pytestmark = pytest.mark.integration

A, B = "+919800000001", "+919800000002"
KEYWORD, MANUAL = SuppressionReason.KEYWORD, SuppressionReason.MANUAL


@pytest.fixture
def settings(mongodb_url: str) -> HeraldSettings:
    return HeraldSettings(
        mongodb_url=mongodb_url, mongodb_database=f"it_suppr_{uuid.uuid4().hex[:8]}"
    )


@pytest.fixture
async def store(db: Database) -> AsyncIterator[Database]:
    await ensure_indexes(db)
    yield db
    await db.client.drop_database(db.name)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_an_entry_is_added_once_and_an_opt_in_lifts_only_a_keyword_opt_out(
    store: Database,
) -> None:
    assert await suppress(store, "t1", A, KEYWORD, {"text": "STOP"})
    assert not await suppress(store, "t1", A, MANUAL, {"by": "tenant"})  # on it already
    entry = await store[SUPPRESSIONS].find_one({"_id": f"t1|{A}"})
    assert entry is not None
    assert (entry["reason"], entry["source"], entry["active"]) == (
        "keyword",
        {"text": "STOP"},
        True,
    )

    assert await lift(store, "t1", A, only=KEYWORD)
    assert not await lift(store, "t1", A, only=KEYWORD)  # off it already
    assert await suppressed_among(store, "t1", [A], SuppressionScope.TENANT) == set()

    # A number the tenant put there stays through the recipient's opt-in.
    assert await suppress(store, "t1", B, MANUAL, {"by": "tenant"})
    assert not await lift(store, "t1", B, only=KEYWORD)
    assert await suppressed_among(store, "t1", [A, B], SuppressionScope.TENANT) == {B}
    assert await lift(store, "t1", B)  # the tenant's own removal


async def test_many_are_added_in_one_go_counting_only_the_new_ones(store: Database) -> None:
    await suppress(store, "t1", A, KEYWORD, {})
    phones = [A, B, "+919800000003"]
    assert await suppress_many(store, "t1", phones, SuppressionReason.IMPORT, {}) == 2
    assert await suppress_many(store, "t1", phones, SuppressionReason.IMPORT, {}) == 0
    assert await suppressed_among(store, "t1", phones, SuppressionScope.TENANT) == set(phones)


async def test_each_tenant_has_its_own_list_unless_the_scope_is_global(store: Database) -> None:
    await suppress(store, "tenant-b", A, KEYWORD, {})
    assert await suppressed_among(store, "tenant-a", [A, B], SuppressionScope.TENANT) == set()
    assert await suppressed_among(store, "tenant-b", [A, B], SuppressionScope.TENANT) == {A}
    assert await suppressed_among(store, "tenant-a", [A, B], SuppressionScope.GLOBAL) == {A}


async def test_the_cache_reads_a_tenant_once_per_refresh_however_many_checks(
    store: Database,
) -> None:
    clock = Clock()
    cache = SuppressionCache(store, scope=SuppressionScope.TENANT, refresh_seconds=1.0, clock=clock)
    await suppress(store, "t1", A, KEYWORD, {})
    for _ in range(500):
        assert await cache.is_suppressed("t1", A)
        assert not await cache.is_suppressed("t1", B)
    assert cache.reads == 1

    # Changes written meanwhile are seen at the next read of changes, not before.
    await suppress(store, "t1", B, MANUAL, {})
    await lift(store, "t1", A)
    assert await cache.is_suppressed("t1", A)
    clock.now += 1.0
    assert await cache.is_suppressed("t1", B)
    assert not await cache.is_suppressed("t1", A)
    assert cache.reads == 2

    # Another tenant's list is its own read, and does not see t1's numbers.
    assert not await cache.is_suppressed("t2", B)
    assert cache.reads == 3


async def test_a_change_stamped_a_little_in_the_past_is_not_missed(store: Database) -> None:
    clock = Clock()
    cache = SuppressionCache(
        store,
        scope=SuppressionScope.TENANT,
        refresh_seconds=1.0,
        clock=clock,
        overlap=timedelta(seconds=5),
    )
    assert not await cache.is_suppressed("t1", A)
    # Written by a process whose clock is 3 s behind this one's.
    await suppress(store, "t1", A, KEYWORD, {}, now=utc_now() - timedelta(seconds=3))
    clock.now += 1.0
    assert await cache.is_suppressed("t1", A)


async def test_the_global_scope_sees_every_tenants_entries_until_the_last_is_lifted(
    store: Database,
) -> None:
    clock = Clock()
    cache = SuppressionCache(store, scope=SuppressionScope.GLOBAL, refresh_seconds=1.0, clock=clock)
    await suppress(store, "t1", A, KEYWORD, {})
    await suppress(store, "t2", A, KEYWORD, {})
    assert await cache.is_suppressed("t3", A)
    await lift(store, "t1", A)
    clock.now += 1.0
    assert await cache.is_suppressed("t3", A)  # t2's entry still stands
    await lift(store, "t2", A)
    clock.now += 1.0
    assert not await cache.is_suppressed("t3", A)
    assert cache.reads == 3  # one list for every tenant


async def test_a_tenant_not_checked_for_a_while_is_forgotten(store: Database) -> None:
    clock = Clock()
    cache = SuppressionCache(
        store, scope=SuppressionScope.TENANT, refresh_seconds=1.0, idle_seconds=60, clock=clock
    )
    await suppress(store, "t1", A, KEYWORD, {})
    assert await cache.is_suppressed("t1", A)
    clock.now += 61
    assert not await cache.is_suppressed("t2", A)  # t1 dropped while t2 is loaded
    assert await cache.is_suppressed("t1", A)  # read whole again
    assert cache.reads == 3
