"""The system jobs of the seed design, as schedules: the hourly redrive of retryable failures,
the sweep every five minutes, and the hourly retention of messages (docs/retention.md). Their
cron expressions are configuration, written into ``schedules`` at every start (a changed
expression takes effect then); they cannot be stopped over the API."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pymongo.errors import DuplicateKeyError

from herald_core.schedules import ScheduleKind, next_fire_time, system_schedule_id
from herald_infra.mongo.client import SCHEDULES, Database
from herald_infra.runtime.logging import get_logger
from herald_infra.runtime.settings import HeraldSettings

log = get_logger(__name__)


@dataclass(frozen=True)
class SystemJob:
    kind: ScheduleKind
    cron: str
    timezone: str

    @property
    def id(self) -> str:
        return system_schedule_id(self.kind)


def configured_system_jobs(settings: HeraldSettings) -> list[SystemJob]:
    zone = settings.system_jobs_timezone
    return [
        SystemJob(ScheduleKind.REDRIVE, settings.redrive_cron, zone),
        SystemJob(ScheduleKind.SWEEP, settings.sweep_cron, zone),
        SystemJob(ScheduleKind.RETENTION, settings.retention_cron, zone),
    ]


def system_job_changes(
    stored: dict[str, Any] | None, job: SystemJob, now: datetime
) -> dict[str, Any] | None:
    """The fields to write so that ``schedules`` holds ``job`` as configured; None when it
    does already. An unchanged job keeps its ``nextRunAt``, even one that passed while no
    scheduler ran (it fires at once, once); a new or changed one gets its next firing after
    ``now``."""
    unchanged = (
        stored is not None
        and stored.get("cron") == job.cron
        and stored.get("timezone") == job.timezone
        and stored.get("active") is True
        and stored.get("nextRunAt") is not None
    )
    if unchanged:
        return None
    return {
        "kind": job.kind.value,
        "tenantId": None,
        "system": True,
        "cron": job.cron,
        "timezone": job.timezone,
        "active": True,
        "nextRunAt": next_fire_time(job.cron, job.timezone, now),
        "updatedAt": now,
    }


async def ensure_system_jobs(db: Database, jobs: list[SystemJob], now: datetime) -> None:
    """Write the system jobs as configured; safe from several replicas at once."""
    schedules = db[SCHEDULES]
    for job in jobs:
        stored = await schedules.find_one({"_id": job.id})
        changes = system_job_changes(stored, job, now)
        if changes is None:
            continue
        try:
            await schedules.update_one(
                {"_id": job.id},
                {"$set": changes, "$setOnInsert": {"createdAt": now}},
                upsert=True,
            )
        except DuplicateKeyError:
            continue  # another replica created it at the same moment
        log.info(
            "system job configured",
            job=job.kind.value,
            cron=job.cron,
            timezone=job.timezone,
            next_run_at=changes["nextRunAt"].isoformat(),
        )
