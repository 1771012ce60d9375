"""``/api/campaigns``: create, list and read campaigns, add their contacts, send them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, status

from herald_campaign.api.dependencies import CampaignId, Services, Tenant
from herald_campaign.api.errors import AUTH, CONFLICT, INVALID, NOT_FOUND, UNAVAILABLE
from herald_campaign.api.schemas import (
    AddContactsRequest,
    AddContactsResponse,
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
    offset: Annotated[int, Query(ge=0)] = 0,
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
    "/{campaign_id}/contacts",
    response_model=AddContactsResponse,
    responses={**INVALID, **NOT_FOUND, **CONFLICT, **UNAVAILABLE},
    summary="Add contacts to a draft campaign",
    description=(
        "Numbers are normalised to E.164; invalid ones are listed in `rejected` with the reason; "
        "numbers repeated in the request or already in the campaign count as `duplicates`."
    ),
)
async def add_contacts(
    campaign_id: CampaignId, body: AddContactsRequest, tenant: Tenant, services: Services
) -> AddContactsResponse:
    outcome = await services.campaigns.add_contacts(
        tenant, campaign_id, [c.submitted() for c in body.contacts]
    )
    return AddContactsResponse.of(outcome)


@router.post(
    "/{campaign_id}/send",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=SendCampaignResponse,
    responses={**INVALID, **NOT_FOUND, **CONFLICT, **UNAVAILABLE},
    summary="Send a draft campaign",
    description="Marks the campaign running; the dispatcher then creates and queues its messages.",
)
async def send_campaign(
    campaign_id: CampaignId, tenant: Tenant, services: Services
) -> SendCampaignResponse:
    campaign = await services.campaigns.send_campaign(tenant, campaign_id)
    return SendCampaignResponse(campaign_id=campaign["_id"])
