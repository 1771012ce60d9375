"""The system jobs as configured: written once, a changed cron expression applied."""

from __future__ import annotations

from datetime import UTC, datetime

from herald_core.schedules import ScheduleKind
from herald_infra.runtime.settings import HeraldSettings
from herald_scheduler.system_jobs import (
    SystemJob,
    configured_system_jobs,
    system_job_changes,
)

NOW = datetime(2026, 6, 1, 12, 2, 30, tzinfo=UTC)
SWEEP = SystemJob(ScheduleKind.SWEEP, "*/5 * * * *", "UTC")


def test_the_seed_designs_jobs_are_configured_by_default() -> None:
    jobs = {j.kind: j for j in configured_system_jobs(HeraldSettings())}
    assert jobs[ScheduleKind.REDRIVE].cron == "0 * * * *"
    assert jobs[ScheduleKind.SWEEP].cron == "*/5 * * * *"
    assert jobs[ScheduleKind.SWEEP].id == "sch_system-sweep"


def test_a_new_job_is_written_with_its_next_firing() -> None:
    changes = system_job_changes(None, SWEEP, NOW)
    assert changes is not None
    assert changes["nextRunAt"] == datetime(2026, 6, 1, 12, 5, tzinfo=UTC)
    assert (changes["tenantId"], changes["system"], changes["active"]) == (None, True, True)


def test_an_unchanged_job_keeps_its_next_run_even_one_missed_during_downtime() -> None:
    stored = {
        "cron": "*/5 * * * *",
        "timezone": "UTC",
        "active": True,
        "nextRunAt": datetime(2026, 6, 1, 9, 0, tzinfo=UTC),
    }
    assert system_job_changes(stored, SWEEP, NOW) is None


def test_a_changed_cron_expression_is_applied_from_now() -> None:
    stored = {
        "cron": "*/5 * * * *",
        "timezone": "UTC",
        "active": True,
        "nextRunAt": datetime(2026, 6, 1, 12, 5, tzinfo=UTC),
    }
    faster = SystemJob(ScheduleKind.SWEEP, "* * * * *", "UTC")
    changes = system_job_changes(stored, faster, NOW)
    assert changes is not None
    assert (changes["cron"], changes["nextRunAt"]) == (
        "* * * * *",
        datetime(2026, 6, 1, 12, 3, tzinfo=UTC),
    )
    zoned = SystemJob(ScheduleKind.SWEEP, "*/5 * * * *", "Asia/Kolkata")
    assert system_job_changes(stored, zoned, NOW) is not None
