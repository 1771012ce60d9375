"""The times Herald takes from a tenant (a send time, an expiry, an account's activation): when
they may lie. Pure; no I/O.

A time comes with its UTC offset and is stored in UTC, and Herald adds durations to some of them
later. ``9999-12-31T23:59:59-12:00`` has no UTC form (it is past the last datetime Python has),
nor has ``0001-01-01T00:00:00+01:00``; a time near either end would overflow when something is
added to it. So a time must lie from :data:`EARLIEST_TIME` (the Unix epoch) up to, not
including, :data:`TIME_LIMIT`: nearly a thousand years short of the last datetime, more than any
duration Herald adds.
"""

from __future__ import annotations

from datetime import UTC, datetime

EARLIEST_TIME = datetime(1970, 1, 1, tzinfo=UTC)
TIME_LIMIT = datetime(9000, 1, 1, tzinfo=UTC)
TIME_RANGE = "from 1970-01-01T00:00:00Z up to (not including) 9000-01-01T00:00:00Z"


class TimeOutOfRange(ValueError):
    """A time outside Herald's range; the message says the range."""

    def __init__(self) -> None:
        super().__init__(f"must lie {TIME_RANGE}")


def check_time_in_range(moment: datetime) -> datetime:
    """``moment`` (with an offset) as given, if it lies in Herald's range; otherwise
    :class:`TimeOutOfRange`."""
    try:
        utc = moment.astimezone(UTC)
    except (OverflowError, ValueError):  # no UTC form: past either end of datetime
        raise TimeOutOfRange() from None
    if not EARLIEST_TIME <= utc < TIME_LIMIT:
        raise TimeOutOfRange()
    return moment
