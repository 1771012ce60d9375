"""``/api/schedules``: the tenant's scheduled and recurring sends with their next run times; stop
one, stop all, run one now. The system jobs (the hourly redrive, the sweep) are not a tenant's:
operators have them under ``/api/admin/schedules``."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from herald_campaign.entrypoints.rest.dependencies import Services, Tenant
from herald_campaign.entrypoints.rest.errors import AUTH, INVALID
from herald_campaign.entrypoints.rest.paging import PageOffset
from herald_campaign.entrypoints.rest.schedule_schemas import (
    ScheduleErrorResponse,
    ScheduleListResponse,
    ScheduleResponse,
    StoppedScheduleResponse,
    StoppedSchedulesResponse,
)
from herald_campaign.entrypoints.rest.schemas import ErrorResponse

router = APIRouter(prefix="/api/schedules", tags=["schedules"], responses=AUTH)

ScheduleId = Annotated[
    str, Path(min_length=1, max_length=160, description="The schedule's id (sch_…).")
]
SCHEDULE_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {
        "model": ErrorResponse,
        "description": "No such schedule for this tenant (another tenant's and the system jobs "
        "included).",
    }
}
RUN_CONFLICT: dict[int | str, dict[str, Any]] = {
    409: {
        "model": ScheduleErrorResponse,
        "description": "A stopped schedule cannot run (schedule-stopped); nor can one whose "
        "previous run is still in progress: requested and not fired yet, firing, or its "
        "campaign's run still sending (run-in-progress).",
    }
}


@router.get(
    "",
    response_model=ScheduleListResponse,
    responses=INVALID,
    summary="The tenant's schedules, with their next run times",
)
async def list_schedules(
    tenant: Tenant,
    services: Services,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
    offset: PageOffset = 0,
) -> ScheduleListResponse:
    listing = await services.schedules.list_schedules(tenant, limit=limit, offset=offset)
    return ScheduleListResponse.of(listing, limit=limit, offset=offset)


@router.get(
    "/{schedule_id}",
    response_model=ScheduleResponse,
    responses={**INVALID, **SCHEDULE_NOT_FOUND},
    summary="A schedule",
)
async def get_schedule(
    schedule_id: ScheduleId, tenant: Tenant, services: Services
) -> ScheduleResponse:
    return ScheduleResponse.of(await services.schedules.get_schedule(tenant, schedule_id))


@router.delete(
    "/{schedule_id}",
    response_model=StoppedScheduleResponse,
    responses={**INVALID, **SCHEDULE_NOT_FOUND},
    summary="Stop a schedule",
    description=(
        "It fires no more. Its campaign, if still `scheduled`, goes back to `draft` when it "
        "never ran and becomes `completed` when a recurring one had run; a run under way "
        "completes. Stopping a stopped schedule changes nothing."
    ),
)
async def stop_schedule(
    schedule_id: ScheduleId, tenant: Tenant, services: Services
) -> StoppedScheduleResponse:
    stopped = await services.schedules.stop_schedule(tenant, schedule_id)
    return StoppedScheduleResponse(
        schedule=ScheduleResponse.of(stopped.schedule), campaign_status=stopped.campaign_status
    )


@router.delete(
    "",
    response_model=StoppedSchedulesResponse,
    summary="Stop all of the tenant's schedules",
)
async def stop_all_schedules(tenant: Tenant, services: Services) -> StoppedSchedulesResponse:
    return StoppedSchedulesResponse(stopped=await services.schedules.stop_all(tenant))


@router.post(
    "/{schedule_id}/run",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ScheduleResponse,
    responses={**INVALID, **SCHEDULE_NOT_FOUND, **RUN_CONFLICT},
    summary="Run a schedule now",
    description=(
        "The active scheduler fires it within about a second (`runRequestedAt` until then), "
        "besides its next run; a one-shot schedule fires now instead of at its time. 409 for "
        "a stopped schedule, and while its previous run is still in progress."
    ),
)
async def run_schedule(
    schedule_id: ScheduleId, tenant: Tenant, services: Services
) -> ScheduleResponse:
    return ScheduleResponse.of(await services.schedules.request_run(tenant, schedule_id))
