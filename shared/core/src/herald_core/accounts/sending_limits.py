"""How many messages a sender account may still be given: hourly and daily caps, and the warm-up
ramp of a new number. Pure; no I/O.

Windows are clock windows in UTC: an hour from ``hh:00``, a day from midnight. An account's use
of a window counts the messages assigned to it in that window (counted when the dispatcher
assigns them, so a fan-out cannot overshoot a cap however fast the senders are). A new number
gets a smaller daily allowance on its first days: day 1 is the UTC day it was activated.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Protocol

HOUR = timedelta(hours=1)
DAY = timedelta(days=1)


class InvalidWarmupSchedule(ValueError):
    pass


def parse_warmup_schedule(text: str) -> tuple[int, ...]:
    """``"50, 100, 200"`` → ``(50, 100, 200)``: the allowance of day 1, 2, 3; empty: none."""
    allowances = []
    for raw in text.split(","):
        item = raw.strip()
        if not item:
            continue
        if not item.isdigit() or int(item) < 1:
            raise InvalidWarmupSchedule(
                f"warm-up allowance {item!r} is not a whole number of at least 1"
            )
        allowances.append(int(item))
    return tuple(allowances)


@dataclass(frozen=True)
class SendingLimits:
    """An account's caps and warm-up ramp."""

    hourly_cap: int
    daily_cap: int
    warmup_schedule: tuple[int, ...]
    """Daily allowance on day 1, 2, … after activation; the daily cap applies afterwards."""
    activated_at: datetime


@dataclass(frozen=True)
class WindowUsage:
    """Messages an account was given in the current day and hour."""

    today: int = 0
    this_hour: int = 0


def as_utc(moment: datetime) -> datetime:
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def hour_start(now: datetime) -> datetime:
    return as_utc(now).replace(minute=0, second=0, microsecond=0)


def day_start(now: datetime) -> datetime:
    return hour_start(now).replace(hour=0)


def warmup_day(activated_at: datetime, now: datetime) -> int:
    """Which day of its life the account is in: 1 on the UTC day it was activated (and before)."""
    return max(1, (day_start(now) - day_start(activated_at)).days + 1)


def daily_allowance(limits: SendingLimits, now: datetime) -> int:
    """What the account may be given today: its daily cap, lowered on its warm-up days."""
    day = warmup_day(limits.activated_at, now)
    if day <= len(limits.warmup_schedule):
        return min(limits.daily_cap, limits.warmup_schedule[day - 1])
    return limits.daily_cap


def room_left(limits: SendingLimits, usage: WindowUsage, now: datetime) -> int:
    """How many more messages the account may be given now (never negative)."""
    left_today = daily_allowance(limits, now) - usage.today
    left_this_hour = limits.hourly_cap - usage.this_hour
    return max(0, min(left_today, left_this_hour))


def next_opening(limits: SendingLimits, usage: WindowUsage, now: datetime) -> datetime:
    """When the account has room again: now if it has, else when its full window ends."""
    if room_left(limits, usage, now) > 0:
        return now
    if usage.today >= daily_allowance(limits, now):
        return day_start(now) + DAY
    return hour_start(now) + HOUR


class CappedAccount(Protocol):
    """What counting messages against caps needs of an account: a tenant's sender account, or
    the deployment's shared gateway (:mod:`herald_core.accounts.shared_gateway`)."""

    @property
    def id(self) -> str: ...

    @property
    def tenant_id(self) -> str: ...

    @property
    def hourly_cap(self) -> int: ...

    @property
    def limits(self) -> SendingLimits: ...
