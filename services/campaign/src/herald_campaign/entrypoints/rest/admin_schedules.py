"""``/api/admin/schedules``: the system jobs (the hourly redrive of retryable failures, the
sweep), which run for every tenant at once, so only operators list and run them.

Operator credentials only (``HERALD_ADMIN_TOKEN`` or an operator key); a tenant key gets 403.
Their cron expressions are configuration (``HERALD_REDRIVE_CRON``, ``HERALD_SWEEP_CRON``): they
are not stopped over the API.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, status

from herald_campaign.entrypoints.rest.dependencies import Operator, Services
from herald_campaign.entrypoints.rest.errors import INVALID, OPERATOR_AUTH
from herald_campaign.entrypoints.rest.schedule_schemas import (
    ScheduleErrorResponse,
    ScheduleResponse,
    SystemJobListResponse,
)
from herald_campaign.entrypoints.rest.schemas import ErrorResponse

router = APIRouter(prefix="/api/admin/schedules", tags=["admin"], responses=OPERATOR_AUTH)

SystemJobId = Annotated[
    str,
    Path(min_length=1, max_length=160, description="The system job's id (sch_system-sweep …)."),
]
SYSTEM_JOB_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No system job with this id."}
}
RUN_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ScheduleErrorResponse,
        "description": "Its previous run is still in progress: requested and not fired yet, or "
        "firing (run-in-progress).",
    }
}


@router.get(
    "",
    response_model=SystemJobListResponse,
    summary="The system jobs, with their next run times",
)
async def list_system_jobs(_: Operator, services: Services) -> SystemJobListResponse:
    return SystemJobListResponse.of(await services.schedules.list_system_jobs())


@router.get(
    "/{schedule_id}",
    response_model=ScheduleResponse,
    responses={**INVALID, **SYSTEM_JOB_NOT_FOUND},
    summary="A system job",
)
async def get_system_job(
    schedule_id: SystemJobId, _: Operator, services: Services
) -> ScheduleResponse:
    return ScheduleResponse.of(await services.schedules.get_system_job(schedule_id))


@router.post(
    "/{schedule_id}/run",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ScheduleResponse,
    responses={**INVALID, **SYSTEM_JOB_NOT_FOUND, **RUN_CONFLICT},
    summary="Run a system job now",
    description=(
        "The active scheduler runs it within about a second (`runRequestedAt` until then), "
        "besides its next run. The redrive gives every tenant's retryable failed messages a "
        "fresh attempt plan; the sweep resolves expired claims, republishes lost publishes, "
        "reconciles counters and completes finished runs. 409 while its previous run (asked "
        "for, or on its schedule) is still in progress."
    ),
)
async def run_system_job(
    schedule_id: SystemJobId, _: Operator, services: Services
) -> ScheduleResponse:
    return ScheduleResponse.of(await services.schedules.request_system_run(schedule_id))
