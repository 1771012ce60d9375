from datetime import UTC, datetime, timedelta, timezone

import pytest

from herald_core.accounts.sending_limits import (
    InvalidWarmupSchedule,
    SendingLimits,
    WindowUsage,
    daily_allowance,
    next_opening,
    parse_warmup_schedule,
    room_left,
    warmup_day,
)

ACTIVATED = datetime(2026, 5, 20, 15, 30, tzinfo=UTC)


def limits(hourly: int = 100, daily: int = 1000, warmup: tuple[int, ...] = ()) -> SendingLimits:
    return SendingLimits(
        hourly_cap=hourly, daily_cap=daily, warmup_schedule=warmup, activated_at=ACTIVATED
    )


def test_day_one_is_the_utc_day_of_activation() -> None:
    assert warmup_day(ACTIVATED, ACTIVATED) == 1
    assert warmup_day(ACTIVATED, datetime(2026, 5, 20, 23, 59, tzinfo=UTC)) == 1
    assert warmup_day(ACTIVATED, datetime(2026, 5, 21, 0, 0, tzinfo=UTC)) == 2
    assert warmup_day(ACTIVATED, ACTIVATED + timedelta(days=10)) == 11


def test_a_moment_before_activation_counts_as_day_one() -> None:
    assert warmup_day(ACTIVATED, ACTIVATED - timedelta(days=3)) == 1


def test_days_are_utc_days_whatever_the_offset_of_the_clock() -> None:
    ist = timezone(timedelta(hours=5, minutes=30))
    # 04:00 in India on the 21st is 22:30 UTC on the 20th: still day 1.
    assert warmup_day(ACTIVATED, datetime(2026, 5, 21, 4, 0, tzinfo=ist)) == 1


def test_warmup_lowers_the_daily_allowance_on_the_first_days_only() -> None:
    ramp = limits(daily=300, warmup=(20, 50, 500))
    assert daily_allowance(ramp, ACTIVATED) == 20
    assert daily_allowance(ramp, ACTIVATED + timedelta(days=1)) == 50
    assert daily_allowance(ramp, ACTIVATED + timedelta(days=2)) == 300  # never above the cap
    assert daily_allowance(ramp, ACTIVATED + timedelta(days=3)) == 300


def test_without_warmup_the_daily_cap_applies_from_day_one() -> None:
    assert daily_allowance(limits(daily=300), ACTIVATED) == 300


def test_room_is_the_smaller_of_what_is_left_of_the_hour_and_of_the_day() -> None:
    caps = limits(hourly=10, daily=25)
    assert room_left(caps, WindowUsage(today=0, this_hour=0), ACTIVATED) == 10
    assert room_left(caps, WindowUsage(today=20, this_hour=3), ACTIVATED) == 5
    assert room_left(caps, WindowUsage(today=12, this_hour=10), ACTIVATED) == 0
    assert room_left(caps, WindowUsage(today=40, this_hour=0), ACTIVATED) == 0  # never negative


def test_an_account_with_room_opens_now() -> None:
    assert next_opening(limits(), WindowUsage(today=5, this_hour=5), ACTIVATED) == ACTIVATED


def test_a_full_hour_opens_at_the_next_hour() -> None:
    opening = next_opening(limits(hourly=10), WindowUsage(today=10, this_hour=10), ACTIVATED)
    assert opening == datetime(2026, 5, 20, 16, 0, tzinfo=UTC)


def test_a_full_day_opens_at_the_next_utc_midnight() -> None:
    opening = next_opening(
        limits(hourly=10, warmup=(20,)), WindowUsage(today=20, this_hour=2), ACTIVATED
    )
    assert opening == datetime(2026, 5, 21, tzinfo=UTC)


def test_a_full_hour_at_the_end_of_the_day_opens_at_midnight() -> None:
    late = datetime(2026, 5, 20, 23, 40, tzinfo=UTC)
    opening = next_opening(limits(hourly=10), WindowUsage(today=10, this_hour=10), late)
    assert opening == datetime(2026, 5, 21, tzinfo=UTC)


def test_warmup_schedules_read_like_the_settings() -> None:
    assert parse_warmup_schedule("50, 100,200") == (50, 100, 200)
    assert parse_warmup_schedule("") == ()
    assert parse_warmup_schedule(" , ") == ()


@pytest.mark.parametrize("text", ["50, ten", "0", "-5", "1.5"])
def test_an_unreadable_warmup_schedule_names_the_allowance(text: str) -> None:
    with pytest.raises(InvalidWarmupSchedule, match="warm-up allowance"):
        parse_warmup_schedule(text)
