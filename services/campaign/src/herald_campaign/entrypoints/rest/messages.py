"""``/api/messages``: campaign statistics, the queue's state, and redriving messages."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from herald_campaign.entrypoints.rest.dependencies import CampaignId, Services, Tenant
from herald_campaign.entrypoints.rest.errors import AUTH, INVALID, NOT_FOUND, UNAVAILABLE
from herald_campaign.entrypoints.rest.schemas import (
    CampaignStatsResponse,
    ProcessQueueResponse,
    QueueStatsResponse,
    RetryFailedResponse,
)

router = APIRouter(prefix="/api/messages", tags=["messages"], responses=AUTH)


@router.get(
    "/campaign/{campaign_id}/stats",
    response_model=CampaignStatsResponse,
    responses={**INVALID, **NOT_FOUND},
    summary="Delivery statistics of a campaign",
)
async def campaign_stats(
    campaign_id: CampaignId, tenant: Tenant, services: Services
) -> CampaignStatsResponse:
    return CampaignStatsResponse.of(await services.campaigns.campaign_stats(tenant, campaign_id))


@router.post(
    "/process-queue",
    response_model=ProcessQueueResponse,
    responses=UNAVAILABLE,
    summary="Publish the pending messages of the tenant's running campaigns",
    description="For messages whose publish never happened or was lost; sending stays once.",
)
async def process_queue(tenant: Tenant, services: Services) -> ProcessQueueResponse:
    return ProcessQueueResponse(queued=await services.messages.process_queue(tenant))


@router.post(
    "/retry-failed",
    response_model=RetryFailedResponse,
    responses={**INVALID, **NOT_FOUND, **UNAVAILABLE},
    summary="Give the tenant's retryable failed messages another attempt",
    description=(
        "Each gets a fresh attempt plan: same id and attempt history, attempt number one "
        "higher, its send event on the plan's first send topic."
    ),
)
async def retry_failed(
    tenant: Tenant,
    services: Services,
    campaign_id: Annotated[
        str | None,
        Query(alias="campaignId", min_length=1, max_length=128, description="Only this campaign."),
    ] = None,
) -> RetryFailedResponse:
    requeued = await services.messages.retry_failed(tenant, campaign_id)
    return RetryFailedResponse(requeued=requeued)


@router.get(
    "/queue-stats",
    response_model=QueueStatsResponse,
    responses=UNAVAILABLE,
    summary="The tenant's messages by status, its circuit breakers, and consumer lag",
)
async def queue_stats(tenant: Tenant, services: Services) -> QueueStatsResponse:
    return QueueStatsResponse.of(await services.messages.queue_stats(tenant))
