"""The system jobs (the redrive, the sweep), as operators see them."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from rich.table import Table

from herald_cli.views.tables import listing_table
from herald_cli.views.times import short_time


def system_jobs_table(listing: Mapping[str, Any]) -> Table:
    table = listing_table("ID", "KIND", "CRON", "NEXT RUN", "LAST RUN", "RUN ASKED FOR")
    for job in listing.get("schedules") or []:
        table.add_row(
            job["id"],
            job["kind"],
            f"{job.get('cron') or ''} {job.get('timezone') or ''}".strip(),
            short_time(job.get("nextRunAt")),
            short_time(job.get("lastRunAt")) if job.get("lastRunAt") else "",
            short_time(job.get("runRequestedAt")) if job.get("runRequestedAt") else "",
        )
    return table


def system_job_run(job: Mapping[str, Any]) -> str:
    return (
        f"Asked the scheduler to run {job['id']} ({job['kind']}) now; it does within about a "
        f"second. Its next run on its schedule: {short_time(job.get('nextRunAt'))}."
    )
