"""A campaign's schedule as a user asks for it: send at a time, or at every firing of a cron
expression in a time zone. Pure; no I/O.

The schedule document itself (``schedules``) is described in :mod:`herald_core.schedules`;
the scheduler service fires it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from herald_core.campaigns.lifecycle import CampaignStatus
from herald_core.schedules import ScheduleKind, next_fire_time


@dataclass(frozen=True)
class SendSchedule:
    """When a campaign sends: once at ``send_at``, or at every firing of ``cron`` in
    ``timezone``. The edges (request body, command) check that it can be read."""

    send_at: datetime | None = None
    cron: str | None = None
    timezone: str = "UTC"

    def __post_init__(self) -> None:
        if (self.send_at is None) == (self.cron is None):
            raise ValueError("a schedule has either send_at or cron")
        if self.send_at is not None and self.send_at.tzinfo is None:
            raise ValueError("send_at needs a UTC offset")

    @property
    def recurring(self) -> bool:
        return self.cron is not None


def first_run_at(schedule: SendSchedule, now: datetime) -> datetime:
    """When the schedule fires first (UTC): ``send_at`` as given, even if it has passed (the
    scheduler then fires at once), or the cron expression's first firing after ``now``."""
    if schedule.send_at is not None:
        return schedule.send_at.astimezone(UTC)
    assert schedule.cron is not None
    return next_fire_time(schedule.cron, schedule.timezone, now)


def window_closed_before(campaign: dict[str, object], run_at: datetime) -> datetime | None:
    """The campaign's absolute validity end if it comes at or before ``run_at`` (a run then
    would have nothing left to send); otherwise None. A duration (``validForSeconds``)
    counts from each run's launch, so it never closes a window in advance."""
    expires_at = campaign.get("expiresAt")
    if campaign.get("validForSeconds") is None and isinstance(expires_at, datetime):
        return expires_at if expires_at <= run_at else None
    return None


def schedule_fields(
    tenant_id: str, campaign_id: str, schedule: SendSchedule, next_run_at: datetime
) -> tuple[dict[str, object], dict[str, str]]:
    """The ``$set`` and ``$unset`` parts that make ``schedules`` hold this campaign's (active)
    schedule, replacing whatever an earlier, stopped one left."""
    fields: dict[str, object] = {
        "kind": ScheduleKind.CAMPAIGN_SEND.value,
        "tenantId": tenant_id,
        "campaignId": campaign_id,
        "active": True,
        "nextRunAt": next_run_at,
    }
    unset = {"runRequestedAt": "", "stoppedAt": ""}
    if schedule.send_at is not None:
        fields["sendAt"] = schedule.send_at.astimezone(UTC)
        unset |= {"cron": "", "timezone": ""}
    else:
        fields["cron"] = schedule.cron
        fields["timezone"] = schedule.timezone
        unset["sendAt"] = ""
    return fields, unset


def status_when_stopped(status: str, runs: int) -> CampaignStatus | None:
    """Where a campaign goes when its schedule is stopped: still ``scheduled`` and never run,
    back to ``draft`` (unscheduled); ``scheduled`` between the runs of a recurring schedule,
    ``completed``. None: its status stays (a run under way completes by itself; a paused,
    cancelled or finished campaign keeps its status)."""
    if status != CampaignStatus.SCHEDULED:
        return None
    return CampaignStatus.DRAFT if runs == 0 else CampaignStatus.COMPLETED
