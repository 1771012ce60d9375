from datetime import UTC, datetime, timedelta

from herald_core.accounts.shared_gateway import SharedGateway
from herald_dispatcher.account_assignment import usage_to_read
from herald_dispatcher.account_choice import Recipient
from herald_dispatcher.slot_reserve import SlotReserve

TEN_PAST = datetime(2026, 5, 20, 10, 10, tzinfo=UTC)


def test_held_slots_are_drawn_until_none_are_left() -> None:
    reserve = SlotReserve()
    reserve.keep("a", 5, TEN_PAST)
    assert reserve.draw("a", 3) == 3
    assert reserve.draw("a", 3) == 2
    assert reserve.draw("a", 3) == 0
    assert reserve.draw("never-held", 1) == 0


def test_an_account_takes_ahead_its_fair_share_of_what_is_still_expected() -> None:
    # 1,000 contacts still to come over 8 accounts: 125 each, as far as room allows.
    reserve = SlotReserve(expected=1_000)
    assert reserve.ahead(room_after=500, accounts=8) == 125
    assert reserve.ahead(room_after=40, accounts=8) == 40
    assert reserve.ahead(room_after=0, accounts=8) == 0
    # A share is rounded up: 10 contacts over 3 accounts take 4 each.
    assert SlotReserve(expected=10).ahead(room_after=100, accounts=3) == 4


def test_nothing_is_taken_ahead_once_nothing_more_is_expected() -> None:
    assert SlotReserve(expected=0).ahead(room_after=500, accounts=8) == 0


def test_the_reserve_goes_stale_when_the_clock_leaves_its_hour() -> None:
    reserve = SlotReserve()
    assert not reserve.is_stale(TEN_PAST + timedelta(hours=5))  # holds nothing
    reserve.keep("a", 2, TEN_PAST)
    reserve.keep("a", 2, TEN_PAST + timedelta(minutes=20))  # same window: counted at 10:10
    assert reserve.taken_at == TEN_PAST
    assert not reserve.is_stale(TEN_PAST.replace(minute=59, second=59))
    assert reserve.is_stale(TEN_PAST.replace(hour=11, minute=0))


def test_releasing_hands_over_what_is_held_and_empties_the_reserve() -> None:
    reserve = SlotReserve()
    reserve.keep("a", 4, TEN_PAST)
    reserve.keep("b", 1, TEN_PAST)
    reserve.draw("b", 1)
    assert reserve.release() == {"a": 4}
    assert reserve.taken_at is None
    assert reserve.holds("a") == 0
    assert reserve.release() == {}


def test_only_accounts_whose_held_slots_may_run_short_have_their_usage_read() -> None:
    enabled = {name: SharedGateway(name, hourly_cap=100, daily_cap=100) for name in "abc"}
    recipients = [Recipient(f"m{n}", f"+9198{n:08d}") for n in range(6)]
    # Four of them had account a last time: a may be asked for 4 + an even share of 2 over 3.
    previous = {r.phone: "a" for r in recipients[:4]}
    reserve = SlotReserve()
    reserve.keep("a", 4, TEN_PAST)
    reserve.keep("b", 1, TEN_PAST)
    reserve.keep("c", 1, TEN_PAST)
    assert usage_to_read(enabled, recipients, previous, reserve) == ["a"]
    reserve.keep("a", 1, TEN_PAST)
    assert usage_to_read(enabled, recipients, previous, reserve) == []
    # Without a reserve, every account's usage is read.
    assert usage_to_read(enabled, recipients, previous, None) == ["a", "b", "c"]
