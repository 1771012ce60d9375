"""``/api/dead-letters``: what Herald gave up on of the tenant's, and redriving it. Operators see
every tenant's under ``/api/admin/dead-letters``."""

from __future__ import annotations

from fastapi import APIRouter

from herald_campaign.domain.dead_letters import DeadLetterScope
from herald_campaign.entrypoints.rest.dead_letter_filters import (
    CampaignFilter,
    DeadLetterLimit,
    ReasonFilter,
    StatusFilter,
)
from herald_campaign.entrypoints.rest.dependencies import CampaignId, DeadLetterId, Services, Tenant
from herald_campaign.entrypoints.rest.errors import (
    AUTH,
    DEAD_LETTER_NOT_FOUND,
    INVALID,
    NOT_FOUND,
    NOT_REDRIVABLE,
    UNAVAILABLE,
)
from herald_campaign.entrypoints.rest.paging import PageOffset
from herald_campaign.entrypoints.rest.schemas import (
    CampaignRedriveResponse,
    DeadLetterListResponse,
    DeadLetterResponse,
    RedriveResponse,
)
from herald_campaign.service_layer.dead_letters import DeadLetterFilter

router = APIRouter(prefix="/api", tags=["dead letters"], responses=AUTH)


@router.get(
    "/dead-letters",
    response_model=DeadLetterListResponse,
    responses=INVALID,
    summary="The tenant's dead letters, newest first",
    description=(
        "Messages whose attempt plan ended without a send, and poison records (undecodable, "
        "invalid or refused) that name the tenant. Records that name no tenant are the "
        "operators' (GET /api/admin/dead-letters)."
    ),
)
async def list_dead_letters(
    tenant: Tenant,
    services: Services,
    campaign_id: CampaignFilter = None,
    reason: ReasonFilter = None,
    status: StatusFilter = None,
    limit: DeadLetterLimit = 50,
    offset: PageOffset = 0,
) -> DeadLetterListResponse:
    page = await services.dead_letters.list_dead_letters(
        DeadLetterScope.of_tenant(tenant),
        DeadLetterFilter(campaign_id=campaign_id, reason=reason, status=status),
        limit=limit,
        offset=offset,
    )
    return DeadLetterListResponse.of(page, limit=limit, offset=offset)


@router.get(
    "/dead-letters/{dead_letter_id}",
    response_model=DeadLetterResponse,
    responses={**INVALID, **DEAD_LETTER_NOT_FOUND},
    summary="A dead letter",
)
async def get_dead_letter(
    dead_letter_id: DeadLetterId, tenant: Tenant, services: Services
) -> DeadLetterResponse:
    scope = DeadLetterScope.of_tenant(tenant)
    return DeadLetterResponse.of(await services.dead_letters.get_dead_letter(scope, dead_letter_id))


@router.post(
    "/dead-letters/{dead_letter_id}/redrive",
    response_model=RedriveResponse,
    responses={**INVALID, **DEAD_LETTER_NOT_FOUND, **NOT_REDRIVABLE, **UNAVAILABLE},
    summary="Redrive a dead letter",
    description=(
        "A message's dead letter: the message, if it is still failed, gets a fresh attempt plan "
        "(same id, attempt history kept, attempt number one higher) and its send event goes to "
        "the plan's first send topic. A poison record: its original bytes and key are published "
        "again on the topic they came from. The dead letter is then marked redriven."
    ),
)
async def redrive_dead_letter(
    dead_letter_id: DeadLetterId, tenant: Tenant, services: Services
) -> RedriveResponse:
    scope = DeadLetterScope.of_tenant(tenant)
    return RedriveResponse.of(await services.dead_letters.redrive(scope, dead_letter_id))


@router.post(
    "/campaigns/{campaign_id}/dead-letters/redrive",
    response_model=CampaignRedriveResponse,
    responses={**INVALID, **NOT_FOUND, **UNAVAILABLE},
    summary="Redrive every open dead letter of a campaign",
    description="Dead letters whose message is no longer failed are skipped and stay open.",
)
async def redrive_campaign_dead_letters(
    campaign_id: CampaignId, tenant: Tenant, services: Services
) -> CampaignRedriveResponse:
    return CampaignRedriveResponse.of(
        await services.dead_letters.redrive_campaign(tenant, campaign_id)
    )
