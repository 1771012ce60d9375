"""``/api/campaigns``: create, list and read campaigns, send them (their contacts: contacts.py)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body, Query, status

from herald_campaign.entrypoints.rest.dependencies import CampaignId, Services, Tenant
from herald_campaign.entrypoints.rest.errors import AUTH, CONFLICT, INVALID, NOT_FOUND, UNAVAILABLE
from herald_campaign.entrypoints.rest.paging import PageOffset
from herald_campaign.entrypoints.rest.schedule_schemas import SendCampaignRequest
from herald_campaign.entrypoints.rest.schemas import (
    CampaignListResponse,
    CampaignResponse,
    CreateCampaignRequest,
    SendCampaignResponse,
)

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"], responses=AUTH)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CampaignResponse,
    responses={**INVALID, **UNAVAILABLE},
    summary="Create a draft campaign",
)
async def create_campaign(
    body: CreateCampaignRequest, tenant: Tenant, services: Services
) -> CampaignResponse:
    campaign = await services.campaigns.create_campaign(tenant, body.draft())
    return CampaignResponse.of(campaign)


@router.get(
    "",
    response_model=CampaignListResponse,
    responses=INVALID,
    summary="The tenant's campaigns, newest first",
)
async def list_campaigns(
    tenant: Tenant,
    services: Services,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: PageOffset = 0,
) -> CampaignListResponse:
    page = await services.campaigns.list_campaigns(tenant, limit=limit, offset=offset)
    return CampaignListResponse.of(page, limit=limit, offset=offset)


@router.get(
    "/{campaign_id}",
    response_model=CampaignResponse,
    responses={**INVALID, **NOT_FOUND},
    summary="A campaign",
)
async def get_campaign(
    campaign_id: CampaignId, tenant: Tenant, services: Services
) -> CampaignResponse:
    return CampaignResponse.of(await services.campaigns.get_campaign(tenant, campaign_id))


@router.post(
    "/{campaign_id}/send",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SendCampaignResponse,
    response_model_exclude_none=True,
    responses={**INVALID, **NOT_FOUND, **CONFLICT, **UNAVAILABLE},
    summary="Send a draft campaign, now or on a schedule",
    description=(
        "Without a body: marks the campaign running; the dispatcher then creates and queues its "
        "messages. With `sendAt` (ISO 8601 with offset) or `cron` (+ `timezone`): marks it "
        "`scheduled`; the scheduler starts a run at that time, or at every firing of the cron "
        "expression (each run messages every recipient once). See /api/schedules."
    ),
)
async def send_campaign(
    campaign_id: CampaignId,
    tenant: Tenant,
    services: Services,
    body: Annotated[SendCampaignRequest | None, Body()] = None,
) -> SendCampaignResponse:
    schedule = body.schedule() if body is not None else None
    if schedule is not None:
        scheduled = await services.schedules.schedule_campaign(tenant, campaign_id, schedule)
        return SendCampaignResponse(
            campaign_id=campaign_id,
            status="scheduled",
            schedule_id=scheduled.schedule["_id"],
            next_run_at=scheduled.schedule.get("nextRunAt"),
        )
    campaign = await services.campaigns.send_campaign(tenant, campaign_id)
    return SendCampaignResponse(campaign_id=campaign["_id"])
