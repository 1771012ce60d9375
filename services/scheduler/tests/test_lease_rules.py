"""Who may take the scheduler lease, and how soon a replica tries again."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from herald_scheduler.lease import Lease, may_take, renew_interval, standby_wait

NOW = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)


def test_a_free_lease_can_be_taken() -> None:
    assert may_take(None, "a", NOW)


def test_the_holder_renews_its_own_lease() -> None:
    assert may_take(Lease("a", NOW + timedelta(seconds=5)), "a", NOW)


def test_a_live_lease_of_another_replica_cannot_be_taken() -> None:
    assert not may_take(Lease("b", NOW + timedelta(milliseconds=1)), "a", NOW)


def test_an_expired_lease_of_another_replica_can_be_taken() -> None:
    assert may_take(Lease("b", NOW), "a", NOW)
    assert may_take(Lease("b", NOW - timedelta(seconds=1)), "a", NOW)


def test_the_holder_renews_every_third_of_the_lease() -> None:
    assert renew_interval(9) == 3


def test_a_standby_tries_again_as_soon_as_the_holders_lease_ends() -> None:
    assert standby_wait(Lease("b", NOW + timedelta(seconds=1)), NOW, 9) == 1
    assert standby_wait(Lease("b", NOW + timedelta(seconds=8)), NOW, 9) == 3
    assert standby_wait(None, NOW, 9) == 3
    # A lease that ended already: retry almost at once, never in a busy loop.
    assert 0 < standby_wait(Lease("b", NOW - timedelta(seconds=1)), NOW, 9) < 0.1
