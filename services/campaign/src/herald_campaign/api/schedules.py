"""``/api/schedules``: the tenant's scheduled and recurring sends, and the system jobs (the hourly
redrive, the sweep) with their next run times; stop one, stop all, run one now."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, FastAPI, Path, Query, Request, status
from fastapi.responses import JSONResponse

from herald_campaign.api.dependencies import Tenant
from herald_campaign.api.errors import AUTH, INVALID
from herald_campaign.api.schedule_schemas import (
    ScheduleErrorResponse,
    ScheduleListResponse,
    ScheduleResponse,
    StoppedScheduleResponse,
    StoppedSchedulesResponse,
)
from herald_campaign.api.schemas import ErrorResponse
from herald_campaign.service_layer.schedules import (
    ScheduleConflict,
    ScheduleNotFound,
    ScheduleService,
)

router = APIRouter(prefix="/api/schedules", tags=["schedules"], responses=AUTH)

ScheduleId = Annotated[
    str, Path(min_length=1, max_length=160, description="The schedule's id (sch_…).")
]
SCHEDULE_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such schedule for this tenant."}
}
SCHEDULE_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ScheduleErrorResponse,
        "description": "A system job cannot be stopped (system-job); a stopped schedule cannot "
        "run (schedule-stopped).",
    }
}


def install_schedules(app: FastAPI, schedules: ScheduleService) -> None:
    """Make ``schedules`` the service of these routes (and of scheduled sends), and answer its
    refusals: 404 for a schedule the tenant cannot see, 409 with the reason for a conflict."""
    app.state.campaign_schedules = schedules
    app.add_exception_handler(ScheduleNotFound, _not_found)
    app.add_exception_handler(ScheduleConflict, _conflict)


def schedule_service(request: Request) -> ScheduleService:
    schedules = getattr(request.app.state, "campaign_schedules", None)
    if not isinstance(schedules, ScheduleService):
        raise RuntimeError("the schedule service is not installed on this app")
    return schedules


async def _not_found(_: Request, error: Exception) -> JSONResponse:
    return JSONResponse({"error": "schedule not found"}, status.HTTP_404_NOT_FOUND)


async def _conflict(_: Request, error: Exception) -> JSONResponse:
    assert isinstance(error, ScheduleConflict)
    return JSONResponse({"error": error.message, "reason": error.reason}, status.HTTP_409_CONFLICT)


@router.get(
    "",
    response_model=ScheduleListResponse,
    responses=INVALID,
    summary="The system jobs and the tenant's schedules, with their next run times",
)
async def list_schedules(
    tenant: Tenant,
    request: Request,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: Annotated[int, Query(ge=0)] = 0,
) -> ScheduleListResponse:
    listing = await schedule_service(request).list_schedules(tenant, limit=limit, offset=offset)
    return ScheduleListResponse.of(listing, limit=limit, offset=offset)


@router.get(
    "/{schedule_id}",
    response_model=ScheduleResponse,
    responses={**INVALID, **SCHEDULE_NOT_FOUND},
    summary="A schedule",
)
async def get_schedule(
    schedule_id: ScheduleId, tenant: Tenant, request: Request
) -> ScheduleResponse:
    return ScheduleResponse.of(await schedule_service(request).get_schedule(tenant, schedule_id))


@router.delete(
    "/{schedule_id}",
    response_model=StoppedScheduleResponse,
    responses={**INVALID, **SCHEDULE_NOT_FOUND, **SCHEDULE_CONFLICT},
    summary="Stop a schedule",
    description=(
        "It fires no more. Its campaign, if still `scheduled`, goes back to `draft` when it "
        "never ran and becomes `completed` when a recurring one had run; a run under way "
        "completes. Stopping a stopped schedule changes nothing. 409 for a system job."
    ),
)
async def stop_schedule(
    schedule_id: ScheduleId, tenant: Tenant, request: Request
) -> StoppedScheduleResponse:
    stopped = await schedule_service(request).stop_schedule(tenant, schedule_id)
    return StoppedScheduleResponse(
        schedule=ScheduleResponse.of(stopped.schedule), campaign_status=stopped.campaign_status
    )


@router.delete(
    "",
    response_model=StoppedSchedulesResponse,
    summary="Stop all of the tenant's schedules",
    description="System jobs are not the tenant's and keep running.",
)
async def stop_all_schedules(tenant: Tenant, request: Request) -> StoppedSchedulesResponse:
    return StoppedSchedulesResponse(stopped=await schedule_service(request).stop_all(tenant))


@router.post(
    "/{schedule_id}/run",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ScheduleResponse,
    responses={**INVALID, **SCHEDULE_NOT_FOUND, **SCHEDULE_CONFLICT},
    summary="Run a schedule now",
    description=(
        "The active scheduler fires it within about a second (`runRequestedAt` until then), "
        "besides its next run; a one-shot schedule fires now instead of at its time. A system "
        "job can be run too (the sweep, now). 409 for a stopped schedule."
    ),
)
async def run_schedule(
    schedule_id: ScheduleId, tenant: Tenant, request: Request
) -> ScheduleResponse:
    return ScheduleResponse.of(await schedule_service(request).request_run(tenant, schedule_id))
