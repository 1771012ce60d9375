"""``/api/campaigns/{id}/contacts/verify``: which of a campaign's numbers are on WhatsApp, asked
of the gateways ahead of the send (see :mod:`..service_layer.contact_verification`)."""

from __future__ import annotations

from datetime import datetime

from fastapi import APIRouter, status
from pydantic import Field

from herald_campaign.entrypoints.rest.dependencies import CampaignId, Services, Tenant
from herald_campaign.entrypoints.rest.errors import AUTH, INVALID, NOT_FOUND
from herald_campaign.entrypoints.rest.schemas import ResponseModel
from herald_campaign.service_layer.contact_verification import (
    VerificationProgress,
    VerificationStatus,
)

router = APIRouter(prefix="/api/campaigns", tags=["campaigns"], responses=AUTH)


class ContactVerificationResponse(ResponseModel):
    campaign_id: str
    status: VerificationStatus = Field(description="running, done or failed (see detail).")
    contacts: int = Field(description="The campaign's contacts when the verification began.")
    checked: int = Field(description="Contacts with an answer so far (remembered ones count).")
    on_whatsapp: int
    not_on_whatsapp: int = Field(
        description="Contacts WhatsApp does not know: their messages would fail as "
        "not-on-whatsapp without a send."
    )
    detail: str | None = Field(default=None, description="Why a verification failed.")
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None = None

    @classmethod
    def of(cls, progress: VerificationProgress) -> ContactVerificationResponse:
        return cls(
            campaign_id=progress.campaign_id,
            status=progress.status,
            contacts=progress.contacts,
            checked=progress.checked,
            on_whatsapp=progress.on_whatsapp,
            not_on_whatsapp=progress.not_on_whatsapp,
            detail=progress.detail,
            started_at=progress.started_at,
            updated_at=progress.updated_at,
            finished_at=progress.finished_at,
        )


@router.post(
    "/{campaign_id}/contacts/verify",
    status_code=status.HTTP_202_ACCEPTED,
    response_model=ContactVerificationResponse,
    responses={**INVALID, **NOT_FOUND},
    summary="Check the campaign's contacts are on WhatsApp, ahead of the send",
    description=(
        "Begins checking, in the background, every contact without a remembered answer, "
        "through the tenant's first enabled sender account (or the deployment's gateway), each "
        "request in a turn of that account's anti-ban pace. Answers are kept per tenant "
        "(HERALD_NUMBER_CHECK_HOURS) and the senders use them. A verification under way is "
        "reported, not started twice; follow it with GET."
    ),
)
async def start_verification(
    campaign_id: CampaignId, tenant: Tenant, services: Services
) -> ContactVerificationResponse:
    return ContactVerificationResponse.of(
        await services.contact_verification.start(tenant, campaign_id)
    )


@router.get(
    "/{campaign_id}/contacts/verify",
    response_model=ContactVerificationResponse,
    responses={**INVALID, **NOT_FOUND},
    summary="The campaign's contact verification, as far as it got",
)
async def verification_progress(
    campaign_id: CampaignId, tenant: Tenant, services: Services
) -> ContactVerificationResponse:
    return ContactVerificationResponse.of(
        await services.contact_verification.progress(tenant, campaign_id)
    )
