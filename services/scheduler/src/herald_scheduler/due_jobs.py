"""Which firing of a schedule is due, where the schedule goes after it, and how long the firing
loop may sleep. Pure; no I/O.

A schedule is due when its ``nextRunAt`` has come, or when someone asked it to run now
(``runRequestedAt``). A scheduled firing is due at ``nextRunAt`` and is identified by it; a
requested one by the request's time. After a scheduler was down, a recurring job fires once for
its oldest missed slot and then at its next slot after now (missed slots are not made up one by
one); a one-shot job fires at once and becomes inactive.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from herald_core.schedules import Firing, ScheduleKind, next_after_firing


class FiringReason(StrEnum):
    SCHEDULED = "scheduled"
    """Its time (``nextRunAt``) came."""
    REQUESTED = "requested"
    """``POST /api/schedules/{id}/run`` asked for it."""


@dataclass(frozen=True)
class Job:
    """What the firing loop needs of a ``schedules`` document."""

    id: str
    kind: ScheduleKind
    active: bool
    tenant_id: str | None = None
    campaign_id: str | None = None
    cron: str | None = None
    timezone: str = "UTC"
    next_run_at: datetime | None = None
    run_requested_at: datetime | None = None
    updated_at: datetime | None = None
    """When the schedule was last written (created, fired, a run requested)."""

    @classmethod
    def of(cls, document: dict[str, Any]) -> Job:
        return cls(
            id=document["_id"],
            kind=ScheduleKind(document["kind"]),
            active=bool(document.get("active")),
            tenant_id=document.get("tenantId"),
            campaign_id=document.get("campaignId"),
            cron=document.get("cron"),
            timezone=document.get("timezone") or "UTC",
            next_run_at=document.get("nextRunAt"),
            run_requested_at=document.get("runRequestedAt"),
            updated_at=document.get("updatedAt"),
        )

    @property
    def recurring(self) -> bool:
        return self.cron is not None


@dataclass(frozen=True)
class DueFiring:
    firing: Firing
    reason: FiringReason


def due_firing(job: Job, now: datetime) -> DueFiring | None:
    """The firing of ``job`` due at ``now``, if any. A scheduled firing comes first; a
    requested run is the next one (a one-shot job that fired has none left)."""
    if not job.active:
        return None
    if job.next_run_at is not None and job.next_run_at <= now:
        return DueFiring(Firing(job.id, job.next_run_at), FiringReason.SCHEDULED)
    if job.run_requested_at is not None and job.run_requested_at <= now:
        return DueFiring(Firing(job.id, job.run_requested_at), FiringReason.REQUESTED)
    return None


@dataclass(frozen=True)
class AfterFiring:
    """Where a schedule goes once a firing of it happened."""

    active: bool
    next_run_at: datetime | None
    """None for a job that fires no more."""


def after_firing(job: Job, due: DueFiring, now: datetime) -> AfterFiring:
    """A one-shot job is done after any firing (a requested run replaces its time); a
    recurring one moves on to its next slot after ``now`` (skipping the slots it missed), or
    keeps its next slot after a requested run."""
    if job.cron is None:
        return AfterFiring(active=False, next_run_at=None)
    if due.reason is FiringReason.REQUESTED:
        return AfterFiring(active=True, next_run_at=job.next_run_at)
    next_run_at = next_after_firing(
        job.cron, job.timezone, scheduled=due.firing.scheduled_for, now=now
    )
    return AfterFiring(active=True, next_run_at=next_run_at)


def lateness_seconds(job: Job, due: DueFiring, fired_at: datetime) -> float:
    """How late the firing is: against its scheduled time (or the run request), or against
    when the schedule was written if that came later (a ``sendAt`` that had passed when it was
    given is due at once, not late). Never below 0."""
    reference = due.firing.scheduled_for
    if job.updated_at is not None and job.updated_at > reference:
        reference = job.updated_at
    return max(0.0, (fired_at - reference).total_seconds())


def wait_seconds(next_run_at: datetime | None, now: datetime, tick_seconds: float) -> float:
    """How long the firing loop sleeps: until the next known run, at most one tick (a job
    scheduled or requested meanwhile is seen within a tick)."""
    if next_run_at is None:
        return tick_seconds
    return max(0.0, min(tick_seconds, (next_run_at - now).total_seconds()))
