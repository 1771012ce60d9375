"""Schedules: when a job fires next, and the ids that make each firing happen once. Pure; no I/O.

A schedule is one-shot (``sendAt``) or recurring (a cron expression in a time zone). Cron
expressions have five fields (minute hour day month weekday), or six with seconds last
(``* * * * * */5``: every five seconds), as croniter reads them; times are computed in the
schedule's zone, so ``0 9 * * MON`` in ``Europe/Berlin`` is 09:00 Berlin time across DST. An
expression must also fire: one with no firing within :data:`CRON_HORIZON_YEARS` (``0 0 30 2 *``,
February 30th) is refused like one that cannot be read.

Documents of ``schedules`` (see :mod:`herald_infra.mongo.client`): ``_id``, ``kind``
(:class:`ScheduleKind`), ``tenantId`` (None for system jobs), ``campaignId``, ``sendAt`` or
``cron`` + ``timezone``, ``active``, ``nextRunAt`` (UTC; absent once a one-shot fired),
``lastRunAt``, ``lastFiringId``, ``runRequestedAt`` (``POST /api/schedules/{id}/run``),
``createdAt``, ``updatedAt``, ``stoppedAt``.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime
from enum import StrEnum
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

SCHEDULE_ID_PREFIX = "sch_"

CRON_HORIZON_YEARS = 5
"""A cron expression a schedule takes must fire within this many years (calendar years, as
croniter counts them) of the moment it is given. A 29th of February comes every four years
(until 2100), so what this refuses is an expression that never fires (``0 0 30 2 *``), which
would otherwise fail every time its next firing is computed, and the odd one that fires once in
decades (the fifth Monday of a February)."""


class ScheduleKind(StrEnum):
    CAMPAIGN_SEND = "campaign-send"
    """A campaign's send: one-shot at ``sendAt``, or a run per cron firing."""
    REDRIVE = "redrive"
    """System job: redrive retryable failed messages (hourly by default)."""
    SWEEP = "sweep"
    """System job: the queue processor and sweep (every 5 minutes by default)."""
    RETENTION = "retention"
    """System job: archive the messages of runs past their tenant's retention, then delete
    them (hourly by default; docs/retention.md)."""


SYSTEM_KINDS: frozenset[ScheduleKind] = frozenset(
    {ScheduleKind.REDRIVE, ScheduleKind.SWEEP, ScheduleKind.RETENTION}
)

FIRING_STARTED = "started"
"""The ``state`` of a ``schedule_firings`` record whose action has not ended yet (``done``
once it has): while one exists, a run of its schedule is in progress."""


class InvalidSchedule(ValueError):
    """A cron expression or time zone that cannot be read, or an expression that does not
    fire; the message says which."""


def zone(name: str) -> ZoneInfo:
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise InvalidSchedule(f"unknown time zone {name!r}") from None


def _check_syntax(expression: str) -> None:
    fields = expression.split()
    if len(fields) not in (5, 6) or not croniter.is_valid(expression):
        raise InvalidSchedule(
            f"invalid cron expression {expression!r}: expected five fields (minute hour day "
            "month weekday), or six with seconds last"
        )


def check_cron(expression: str, timezone: str = "UTC", *, now: datetime | None = None) -> None:
    """Raise :class:`InvalidSchedule` unless ``expression`` is a cron expression we can read
    that fires within :data:`CRON_HORIZON_YEARS` after ``now`` (the clock when not given) in
    ``timezone``."""
    _check_syntax(expression)
    after = (now or datetime.now(UTC)).astimezone(zone(timezone))
    try:
        croniter(expression, after, max_years_between_matches=CRON_HORIZON_YEARS).get_next(datetime)
    except CroniterBadDateError:
        raise InvalidSchedule(_does_not_fire(expression, CRON_HORIZON_YEARS)) from None


def _does_not_fire(expression: str, years: int) -> str:
    return (
        f"cron expression {expression!r} does not fire within {years} years (a day its months "
        "do not have, like the 30th of February?)"
    )


def next_fire_time(expression: str, timezone: str, after: datetime) -> datetime:
    """The first time strictly after ``after`` at which the cron expression fires (in UTC);
    :class:`InvalidSchedule` for one that cannot be read or never fires."""
    _check_syntax(expression)
    local = after.astimezone(zone(timezone))
    try:
        fire: datetime = croniter(expression, local).get_next(datetime)
    except CroniterBadCronError as error:  # pragma: no cover - is_valid caught it
        raise InvalidSchedule(str(error)) from None
    except CroniterBadDateError:  # none within croniter's own search, 50 years
        raise InvalidSchedule(_does_not_fire(expression, 50)) from None
    return fire.astimezone(UTC)


def next_after_firing(
    expression: str, timezone: str, *, scheduled: datetime, now: datetime
) -> datetime:
    """When a recurring job fires next after its firing for ``scheduled`` ran at ``now``.

    Slots missed while no scheduler ran are skipped: a job late by three slots fires once,
    then at its next slot after ``now``.
    """
    return next_fire_time(expression, timezone, max(scheduled, now))


@dataclass(frozen=True)
class Firing:
    """One firing of a schedule: the job and the time it was due."""

    schedule_id: str
    scheduled_for: datetime

    @property
    def firing_id(self) -> str:
        """The same for the same job and due time, whichever scheduler fires it."""
        due = self.scheduled_for.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
        return f"{self.schedule_id}@{due}"

    @property
    def command_event_id(self) -> str:
        """The ``event_id`` of the command this firing publishes; a repeat is a duplicate."""
        return hashlib.sha256(f"schedule.fire|{self.firing_id}".encode()).hexdigest()[:32]


def campaign_schedule_id(campaign_id: str) -> str:
    """A campaign has at most one schedule; its id follows from the campaign's."""
    return f"{SCHEDULE_ID_PREFIX}{campaign_id}"


def system_schedule_id(kind: ScheduleKind) -> str:
    return f"{SCHEDULE_ID_PREFIX}system-{kind.value}"
