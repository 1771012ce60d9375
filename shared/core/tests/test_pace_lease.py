from __future__ import annotations

import pytest

from herald_core.pace_lease import (
    MAX_LEASE_SECONDS,
    LeasedAccount,
    idle_grace_ms,
    lease_end_ms,
    lease_length_ms,
    poll_interval_ms,
)

HOLD = 6_000


def test_the_lease_length_is_scaled_like_the_gaps_and_bounded() -> None:
    assert lease_length_ms(30, 1) == 30_000
    assert lease_length_ms(30, 0.05) == 1_500  # a test with gaps 20 times shorter
    assert lease_length_ms(10_000, 1) == MAX_LEASE_SECONDS * 1000
    assert lease_length_ms(30, 0.000001) == 1


@pytest.mark.parametrize(("seconds", "scale"), [(0, 1), (30, 0)])
def test_no_lease_when_the_setting_or_pacing_is_off(seconds: float, scale: float) -> None:
    assert lease_length_ms(seconds, scale) == 0


def test_a_lease_taken_for_a_slot_covers_its_hold_and_gap_and_a_lease_more() -> None:
    end = lease_end_ms(1_000, HOLD, 3_000, 30_000)
    account = LeasedAccount(lease_until_ms=end, next_free_ms=1_000)

    assert end == 1_000 + HOLD + 3_000 + 30_000
    assert account.covers(1_000, HOLD, 3_000)
    # Later slots are covered as long as their call and gap end within the lease…
    assert account.covers(end - HOLD - 5_000, HOLD, 5_000)
    # …and not one that would end after it: the lease must be extended first.
    assert not account.covers(end - HOLD - 5_000 + 1, HOLD, 5_000)


def test_one_send_in_flight_and_the_next_one_a_gap_after_the_answer() -> None:
    account = LeasedAccount(lease_until_ms=100_000, next_free_ms=1_000)
    assert account.take(1_000) == 1_000

    assert not account.free_now(1_500)  # in flight
    with pytest.raises(ValueError, match="not free"):
        account.take(1_500)
    account.answered(2_000, gap_ms=3_000)
    assert not account.free_now(4_999)
    assert account.free_now(5_000)
    assert account.take(5_200) == 5_000  # free since 5 000: taken 200 ms late


def test_an_unused_slot_costs_the_account_no_gap() -> None:
    account = LeasedAccount(lease_until_ms=100_000, next_free_ms=1_000)
    due = account.take(1_400)

    account.unused(min(due, 1_400))

    assert account.free_now(1_400)
    assert account.next_free_ms == 1_000


def test_a_lease_is_idle_once_its_next_slot_passed_unused_for_a_grace() -> None:
    grace = idle_grace_ms(30_000)
    account = LeasedAccount(lease_until_ms=100_000, next_free_ms=1_000)
    account.take(1_000)
    assert not account.is_idle(1_000 + 10 * grace, grace)  # in flight: never idle
    account.answered(2_000, gap_ms=3_000)

    assert not account.is_idle(5_000, grace)  # its next slot just came
    assert not account.is_idle(5_000 + grace - 1, grace)
    assert account.is_idle(5_000 + grace, grace)
    assert account.give_back_at_ms() == 5_000  # the next holder keeps the gap


def test_waiting_pods_look_again_often_within_a_lease() -> None:
    assert poll_interval_ms(30_000) == 3_000
    assert idle_grace_ms(30_000) == 7_500
    assert poll_interval_ms(5) == idle_grace_ms(3) == 1
