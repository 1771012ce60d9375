"""``herald admin schedules``: the system jobs (the hourly redrive of every tenant's retryable
failures, the sweep): list them, run one now. Operators only: these commands send the operator
token (``--admin-token``, else ``HERALD_ADMIN_TOKEN``, else ``.local/admin-token``)."""

from __future__ import annotations

from typing import Annotated

import typer

from herald_cli.flags import AdminTokenFlag, ApiFlag, ConnectionFlags, JsonFlag
from herald_cli.session import command_session
from herald_cli.views import system_jobs as views

schedules = typer.Typer(
    help="The system jobs (redrive, sweep): list them, run one now.", no_args_is_help=True
)

JobId = Annotated[
    str, typer.Argument(metavar="JOB", help="the system job's id (sch_system-redrive, …)")
]


@schedules.command("list")
def list_system_jobs(
    ctx: typer.Context,
    api_url: ApiFlag = None,
    admin_token: AdminTokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """The system jobs with their cron expressions and next runs."""
    flags = ConnectionFlags(api_url, None, as_json)
    with command_session(ctx, flags, operator=True, admin_token=admin_token) as session:
        listing = session.api.system_jobs()
        session.output.result(listing, views.system_jobs_table(listing))


@schedules.command("run")
def run_system_job(
    ctx: typer.Context,
    job: JobId,
    api_url: ApiFlag = None,
    admin_token: AdminTokenFlag = None,
    as_json: JsonFlag = False,
) -> None:
    """Run a system job now (refused while its previous run is in progress)."""
    flags = ConnectionFlags(api_url, None, as_json)
    with command_session(ctx, flags, operator=True, admin_token=admin_token) as session:
        ran = session.api.run_system_job(job)
        session.output.result(ran, views.system_job_run(ran))
