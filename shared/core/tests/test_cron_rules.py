"""A schedule's cron expression must be readable and must fire: one that never does (the 30th
of February) is refused when given, and computing its next firing says so instead of
croniter's own error."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from croniter import CroniterBadDateError

from herald_core.schedules import (
    CRON_HORIZON_YEARS,
    InvalidSchedule,
    check_cron,
    next_fire_time,
)

NOW = datetime(2026, 12, 7, 21, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    "expression",
    ["0 9 * * MON", "0 0 29 2 *", "0 0 L 2 *", "0 0 * * 1#5", "0 0 30 2 MON", "* * * * * */5"],
)
def test_an_expression_that_fires_is_taken(expression: str) -> None:
    check_cron(expression, "Europe/Berlin", now=NOW)


@pytest.mark.parametrize("expression", ["0 0 30 2 *", "0 0 31 4,6,9,11 *", "0 0 31 2 *"])
def test_an_expression_that_never_fires_is_refused(expression: str) -> None:
    with pytest.raises(InvalidSchedule, match=f"does not fire within {CRON_HORIZON_YEARS} years"):
        check_cron(expression, now=NOW)


def test_an_expression_that_cannot_be_read_is_refused_before_its_firing_is_sought() -> None:
    with pytest.raises(InvalidSchedule, match="invalid cron expression"):
        check_cron("0 0 32 2 *", now=NOW)


def test_the_next_firing_of_an_expression_that_never_fires_is_an_invalid_schedule() -> None:
    with pytest.raises(InvalidSchedule, match="does not fire") as refused:
        next_fire_time("0 0 30 2 *", "UTC", NOW)
    assert not isinstance(refused.value, CroniterBadDateError)
