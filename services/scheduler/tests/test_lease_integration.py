"""The leader lease on the real MongoDB-wire server: one holder at a time, hand-over when the
holder dies (its lease runs out) or stops (it releases)."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from herald_devstack.waiting import eventually
from herald_infra.mongo.client import Database
from herald_scheduler.lease import LEASE_ID, LeaderLease, LeaseStatus

pytestmark = pytest.mark.integration

LEASE_SECONDS = 1.5


def skewed(seconds: float) -> Callable[[], datetime]:
    return lambda: datetime.now(UTC) + timedelta(seconds=seconds)


@pytest.fixture
async def fresh_db(db: Database) -> Database:
    await db["scheduler_leases"].delete_many({})
    return db


async def test_one_replica_holds_the_lease_and_the_other_waits(fresh_db: Database) -> None:
    a = LeaderLease(fresh_db, f"a-{uuid.uuid4().hex[:4]}", lease_seconds=LEASE_SECONDS)
    b = LeaderLease(fresh_db, f"b-{uuid.uuid4().hex[:4]}", lease_seconds=LEASE_SECONDS)
    statuses = await asyncio.gather(a.try_hold(), b.try_hold())
    assert sorted(statuses) == sorted([LeaseStatus.ACQUIRED, LeaseStatus.HELD_ELSEWHERE])
    leader, standby = (a, b) if a.is_leader() else (b, a)
    assert not standby.is_leader()
    assert await leader.try_hold() is LeaseStatus.RENEWED
    assert await standby.try_hold() is LeaseStatus.HELD_ELSEWHERE
    # The standby will try again when the holder's lease ends, not later.
    assert 0 < standby.next_attempt_in() <= LEASE_SECONDS / 3 + 0.01
    stored: Any = await fresh_db["scheduler_leases"].find_one({"_id": LEASE_ID})
    assert stored["owner"] == leader.owner


async def test_a_dead_holders_lease_runs_out_and_the_other_replica_takes_over(
    fresh_db: Database,
) -> None:
    a = LeaderLease(fresh_db, "replica-a", lease_seconds=LEASE_SECONDS)
    b = LeaderLease(fresh_db, "replica-b", lease_seconds=LEASE_SECONDS)
    assert await a.try_hold() is LeaseStatus.ACQUIRED
    died_at = asyncio.get_running_loop().time()
    # a renews no more (it died); b keeps trying as a replica does.

    async def b_tries() -> LeaseStatus:
        status = await b.try_hold()
        if status is LeaseStatus.HELD_ELSEWHERE:
            await asyncio.sleep(b.next_attempt_in())
        return status

    await eventually(b_tries, lambda s: s is LeaseStatus.ACQUIRED, timeout=10, interval=0)
    took = asyncio.get_running_loop().time() - died_at
    assert LEASE_SECONDS - 0.2 <= took <= LEASE_SECONDS + 0.5
    assert b.is_leader()
    assert not a.is_leader()  # by its own clock its lease is over too
    assert await a.try_hold() is LeaseStatus.HELD_ELSEWHERE


async def test_a_stopping_holder_releases_and_the_other_takes_over_at_once(
    fresh_db: Database,
) -> None:
    a = LeaderLease(fresh_db, "replica-a", lease_seconds=30)
    b = LeaderLease(fresh_db, "replica-b", lease_seconds=30)
    assert await a.try_hold() is LeaseStatus.ACQUIRED
    assert await b.try_hold() is LeaseStatus.HELD_ELSEWHERE
    await a.release()
    assert not a.is_leader()
    assert await b.try_hold() is LeaseStatus.ACQUIRED


async def test_a_replica_whose_clock_runs_ahead_sees_the_lease_expired(fresh_db: Database) -> None:
    """Clock skew larger than the lease is the one way two replicas both believe they lead;
    the firing records keep a firing from happening twice even then (see the loop's tests)."""
    a = LeaderLease(fresh_db, "replica-a", lease_seconds=5)
    b = LeaderLease(fresh_db, "replica-b", lease_seconds=5, clock=skewed(6))
    assert await a.try_hold() is LeaseStatus.ACQUIRED
    assert await b.try_hold() is LeaseStatus.ACQUIRED
    assert a.is_leader() and b.is_leader()
