"""``/api/campaigns/{id}/pause``, ``/resume``, ``/cancel``: the campaign lifecycle over REST."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Body

from herald_campaign.entrypoints.rest.dependencies import CampaignId, Services, Tenant
from herald_campaign.entrypoints.rest.errors import AUTH, CONFLICT, INVALID, NOT_FOUND, UNAVAILABLE
from herald_campaign.entrypoints.rest.schemas import CampaignResponse, LifecycleRequest

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"], responses=AUTH)

LIFECYCLE_ERRORS = {**INVALID, **NOT_FOUND, **CONFLICT, **UNAVAILABLE}


OptionalReason = Annotated[LifecycleRequest | None, Body()]


@router.post(
    "/{campaign_id}/pause",
    response_model=CampaignResponse,
    responses=LIFECYCLE_ERRORS,
    summary="Pause a running campaign",
    description=(
        "No new message of the campaign reaches a gateway once the senders saw the pause "
        "(within `HERALD_CAMPAIGN_STATE_CACHE_SECONDS`, 1 s by default; a send already at the "
        "gateway finishes). Its queued messages wait; nothing is lost. 409 unless running."
    ),
)
async def pause_campaign(
    campaign_id: CampaignId, tenant: Tenant, services: Services, body: OptionalReason = None
) -> CampaignResponse:
    reason = body.reason if body is not None else None
    campaign = await services.lifecycle.pause(tenant, campaign_id, reason=reason)
    return CampaignResponse.of(campaign)


@router.post(
    "/{campaign_id}/resume",
    response_model=CampaignResponse,
    responses=LIFECYCLE_ERRORS,
    summary="Resume a paused campaign",
    description="Sending goes on where it stopped: the messages that waited are published "
    "again, each at the attempt it was at. 409 unless paused.",
)
async def resume_campaign(
    campaign_id: CampaignId, tenant: Tenant, services: Services
) -> CampaignResponse:
    return CampaignResponse.of(await services.lifecycle.resume(tenant, campaign_id))


@router.post(
    "/{campaign_id}/cancel",
    response_model=CampaignResponse,
    responses=LIFECYCLE_ERRORS,
    summary="Cancel a campaign",
    description=(
        "No new message of the campaign reaches a gateway once it answers (it waits the "
        "`HERALD_CAMPAIGN_STATE_CACHE_SECONDS` the senders take to see it; a send already at "
        "the gateway finishes), and the campaign's schedule stops. Every message not sent yet "
        "(`cancelledMessages` counts them) becomes `cancelled` in the background, in batches: "
        "the campaign's statistics show them move. The answer does not wait for them, however "
        "many they are. A draft, scheduled, running or paused campaign can be cancelled; 409 "
        "for a completed or cancelled one."
    ),
)
async def cancel_campaign(
    campaign_id: CampaignId, tenant: Tenant, services: Services, body: OptionalReason = None
) -> CampaignResponse:
    reason = body.reason if body is not None else None
    campaign = await services.lifecycle.cancel(tenant, campaign_id, reason=reason)
    return CampaignResponse.of(campaign)
