"""Times a tenant gives (a send time, an expiry, an account's activation) lie in a range that
has a UTC form and room for the durations Herald adds later."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from herald_campaign.domain.time_range import (
    EARLIEST_TIME,
    TIME_LIMIT,
    TimeOutOfRange,
    check_time_in_range,
)

MINUS_12 = timezone(timedelta(hours=-12))
PLUS_1 = timezone(timedelta(hours=1))


@pytest.mark.parametrize(
    "moment",
    [
        datetime(2026, 12, 1, 9, 0, tzinfo=PLUS_1),
        EARLIEST_TIME,
        TIME_LIMIT - timedelta(microseconds=1),
        datetime(1970, 1, 1, 1, 0, tzinfo=PLUS_1),  # the epoch itself, an hour ahead
    ],
)
def test_a_time_in_range_is_taken_with_its_offset(moment: datetime) -> None:
    assert check_time_in_range(moment) is moment


@pytest.mark.parametrize(
    "moment",
    [
        datetime(9999, 12, 31, 23, 59, 59, tzinfo=MINUS_12),  # past datetime.max in UTC
        datetime(1, 1, 1, 0, 0, tzinfo=PLUS_1),  # before datetime.min in UTC
        TIME_LIMIT,
        datetime(8999, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=-1))),
        EARLIEST_TIME - timedelta(microseconds=1),
        datetime(1970, 1, 1, 0, 30, tzinfo=PLUS_1),
    ],
)
def test_a_time_out_of_range_is_refused_saying_the_range(moment: datetime) -> None:
    with pytest.raises(TimeOutOfRange, match="from 1970-01-01T00:00:00Z up to"):
        check_time_in_range(moment)


def test_the_range_leaves_room_for_any_duration_herald_adds() -> None:
    assert TIME_LIMIT + timedelta(days=365 * 900) < datetime.max.replace(tzinfo=UTC)
