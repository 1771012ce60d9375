"""A tenant's quotas: how much of Herald one tenant may hold at once, and the rules that refuse
a request going past them. Pure; no I/O.

Each quota has a deployment-wide default (``HERALD_QUOTA_*``) that an operator may override per
tenant (``PUT /api/admin/tenants/{tenantId}/quotas``, stored as the tenant document's
``quotas`` field, one camelCase key per quota). A tenant with no document, or no override for a
quota, has the default.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, fields, replace
from datetime import datetime, timedelta
from enum import StrEnum

from croniter import CroniterBadCronError, CroniterBadDateError, croniter

from herald_core.schedules import CRON_HORIZON_YEARS, zone


class QuotaName(StrEnum):
    """Each quota by the name the API, the stored overrides and refusals use."""

    CONTACTS_PER_CAMPAIGN = "contactsPerCampaign"
    RUNNING_CAMPAIGNS = "runningCampaigns"
    ACCOUNTS = "accounts"
    SCHEDULES = "schedules"
    MIN_CRON_INTERVAL_SECONDS = "minCronIntervalSeconds"
    MESSAGE_RETENTION_DAYS = "messageRetentionDays"


QUOTA_FIELDS: dict[QuotaName, str] = {
    QuotaName.CONTACTS_PER_CAMPAIGN: "contacts_per_campaign",
    QuotaName.RUNNING_CAMPAIGNS: "running_campaigns",
    QuotaName.ACCOUNTS: "accounts",
    QuotaName.SCHEDULES: "schedules",
    QuotaName.MIN_CRON_INTERVAL_SECONDS: "min_cron_interval_seconds",
    QuotaName.MESSAGE_RETENTION_DAYS: "message_retention_days",
}

QUOTA_MINIMUMS: dict[QuotaName, int] = {
    QuotaName.CONTACTS_PER_CAMPAIGN: 1,
    QuotaName.RUNNING_CAMPAIGNS: 0,
    QuotaName.ACCOUNTS: 0,
    QuotaName.SCHEDULES: 0,
    QuotaName.MIN_CRON_INTERVAL_SECONDS: 1,
    QuotaName.MESSAGE_RETENTION_DAYS: 0,
}
"""The smallest value each quota takes: 0 forbids running, accounts or schedules altogether;
a campaign holds at least one contact; a cron fires at most once a second anyway; a retention
of 0 days archives a run's messages as soon as the run ended."""

QUOTA_MAXIMUM = 1_000_000_000
"""No quota is larger (an override past it is a typo, not a wish)."""

CRON_FIRINGS_LOOKED_AT = 500
"""How many firings of a cron expression are compared to find its shortest interval."""


@dataclass(frozen=True)
class Quotas:
    """What a tenant may hold at once."""

    contacts_per_campaign: int
    """Contacts in one campaign."""
    running_campaigns: int
    """Campaigns ``running`` at the same time (paused and scheduled ones do not count)."""
    accounts: int
    """Sender accounts, enabled or disabled."""
    schedules: int
    """Active schedules (a stopped schedule, or a one-shot that fired, does not count)."""
    min_cron_interval_seconds: int
    """The shortest time between two firings of a campaign's cron expression."""
    message_retention_days: int = 90
    """Days a campaign run's messages stay in MongoDB after the run ended, before the
    scheduler archives and deletes them (``HERALD_MESSAGE_RETENTION_DAYS``;
    docs/retention.md)."""

    def limit(self, quota: QuotaName) -> int:
        value: int = getattr(self, QUOTA_FIELDS[quota])
        return value

    def overridden(self, overrides: Mapping[str, object] | None) -> Quotas:
        """These quotas with a tenant's overrides (``{"accounts": 5}``) applied; keys that
        are not quotas and values that are not whole numbers in range are ignored (the
        operator's route refuses them before they are stored)."""
        if not overrides:
            return self
        changes: dict[str, int] = {}
        for quota in QuotaName:
            value = overrides.get(quota.value)
            if is_quota_value(quota, value):
                assert isinstance(value, int)
                changes[QUOTA_FIELDS[quota]] = value
        return replace(self, **changes)

    def as_dict(self) -> dict[str, int]:
        """``{"contactsPerCampaign": …, …}``: the quotas by their API names."""
        return {quota.value: self.limit(quota) for quota in QuotaName}


assert {f.name for f in fields(Quotas)} == set(QUOTA_FIELDS.values())

DEFAULT_QUOTAS = Quotas(
    contacts_per_campaign=1_000_000,
    running_campaigns=20,
    accounts=50,
    schedules=100,
    min_cron_interval_seconds=300,
)
"""The defaults where a deployment sets none (``HERALD_QUOTA_*``; docs/quotas.md)."""


def is_quota_value(quota: QuotaName, value: object) -> bool:
    """Whether ``value`` is a value ``quota`` may take."""
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and QUOTA_MINIMUMS[quota] <= value <= QUOTA_MAXIMUM
    )


@dataclass(frozen=True)
class QuotaRefusal:
    """Why a request is refused: the quota it would pass, that quota's value, and what the
    tenant holds of it (None for the cron interval)."""

    quota: QuotaName
    limit: int
    message: str
    used: int | None = None


def count_refusal(
    quota: QuotaName, limit: int, *, in_use: int, adding: int, what: str
) -> QuotaRefusal | None:
    """A refusal when holding ``in_use + adding`` of ``what`` (``"sender accounts"``) passes
    ``limit``; None when it fits. Adding nothing never passes a quota (a tenant already over a
    lowered quota may still read, change and stop what it has)."""
    if adding <= 0 or in_use + adding <= limit:
        return None
    return QuotaRefusal(
        quota,
        limit,
        f"quota {quota.value} is {limit}: {what} {in_use} now, {adding} more would make "
        f"{in_use + adding}",
        used=in_use,
    )


def contacts_refusal(limit: int, *, in_campaign: int, adding: int) -> QuotaRefusal | None:
    """Adding ``adding`` new contacts to a campaign of ``in_campaign``."""
    return count_refusal(
        QuotaName.CONTACTS_PER_CAMPAIGN,
        limit,
        in_use=in_campaign,
        adding=adding,
        what="contacts in the campaign",
    )


def running_refusal(limit: int, *, running: int) -> QuotaRefusal | None:
    """One more campaign running while ``running`` others do."""
    return count_refusal(
        QuotaName.RUNNING_CAMPAIGNS, limit, in_use=running, adding=1, what="campaigns running"
    )


def accounts_refusal(limit: int, *, accounts: int) -> QuotaRefusal | None:
    """One more sender account for a tenant that has ``accounts``."""
    return count_refusal(
        QuotaName.ACCOUNTS, limit, in_use=accounts, adding=1, what="sender accounts"
    )


def schedules_refusal(limit: int, *, active: int) -> QuotaRefusal | None:
    """One more active schedule for a tenant that has ``active``."""
    return count_refusal(
        QuotaName.SCHEDULES, limit, in_use=active, adding=1, what="active schedules"
    )


def shortest_cron_interval(
    expression: str,
    timezone: str,
    now: datetime,
    *,
    stop_below: float = 0.0,
    firings: int = CRON_FIRINGS_LOOKED_AT,
) -> float | None:
    """The shortest time, in seconds, between two consecutive firings of ``expression`` (in
    ``timezone``, so a DST change counts as the clock on the wall makes it) among its next
    ``firings`` firings after ``now``, and within :data:`CRON_HORIZON_YEARS`; stops at the first
    interval below ``stop_below``. None when it fires less than twice in that span.

    The firings of a cron expression repeat with the calendar, and its shortest interval shows
    within its first firings: inside an hour (``*/5 0 * * *``: 5 minutes), across midnight
    (``0 0,23 * * *``: 1 hour), across a month's end (``0,59 0,23 1,31 * *``: 1 minute).
    """
    start = now.astimezone(zone(timezone))
    horizon = start + timedelta(days=366 * CRON_HORIZON_YEARS)
    shortest: float | None = None
    try:
        times = croniter(expression, start, max_years_between_matches=CRON_HORIZON_YEARS)
        previous: datetime = times.get_next(datetime)
        for _ in range(firings - 1):
            current: datetime = times.get_next(datetime)
            if current > horizon:
                break
            gap = current.timestamp() - previous.timestamp()
            if gap > 0 and (shortest is None or gap < shortest):
                shortest = gap
                if shortest < stop_below:
                    break
            previous = current
    except (CroniterBadCronError, CroniterBadDateError):
        pass  # no (further) firing within the horizon: what was seen is the answer
    return shortest


def cron_interval_refusal(
    expression: str, timezone: str, limit_seconds: int, now: datetime
) -> QuotaRefusal | None:
    """A refusal when ``expression`` fires more often than once every ``limit_seconds``."""
    shortest = shortest_cron_interval(expression, timezone, now, stop_below=limit_seconds)
    if shortest is None or shortest >= limit_seconds:
        return None
    return QuotaRefusal(
        QuotaName.MIN_CRON_INTERVAL_SECONDS,
        limit_seconds,
        f"quota {QuotaName.MIN_CRON_INTERVAL_SECONDS.value} is {limit_seconds}: cron "
        f"expression {expression!r} fires {_duration(shortest)} apart, more often than once "
        f"every {_duration(limit_seconds)}",
    )


def _duration(seconds: float) -> str:
    whole = int(seconds)
    if whole % 3600 == 0:
        return f"{whole // 3600} h"
    if whole % 60 == 0:
        return f"{whole // 60} min"
    return f"{whole} s"
