"""When a sender renews its claim before the gateway call. Pure."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from herald_sender.claim_and_send import RENEWAL_MARGIN_SECONDS, lease_may_run_out

NOW = datetime(2026, 11, 29, 12, tzinfo=UTC)


def test_a_claim_just_taken_with_the_default_lease_is_not_renewed() -> None:
    # Lease 120 s, gateway timeout 30 s: the call and its record fit in what is left.
    assert not lease_may_run_out(NOW + timedelta(seconds=120), 30, NOW)


def test_a_claim_that_waited_long_for_its_account_is_renewed() -> None:
    # 80 s of the 120 s lease went waiting for the account's turn (safe pace, busy account).
    assert lease_may_run_out(NOW + timedelta(seconds=40), 30, NOW)


def test_a_lease_shorter_than_the_call_is_always_renewed() -> None:
    lease_until = NOW + timedelta(seconds=10)  # tests run with 10 s leases and 1 s timeouts
    assert lease_may_run_out(lease_until, 1, NOW)
    assert not lease_may_run_out(lease_until + timedelta(seconds=RENEWAL_MARGIN_SECONDS), 1, NOW)
