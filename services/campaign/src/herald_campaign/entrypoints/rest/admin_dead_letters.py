"""``/api/admin/dead-letters``: every tenant's dead letters, and the poison records that named no
tenant (nobody's but the operators'); read and redrive them.

Operator credentials only (``HERALD_ADMIN_TOKEN`` or an operator key); a tenant key gets 403.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query
from fastapi.exceptions import RequestValidationError
from pydantic import Field

from herald_campaign.domain.dead_letters import DeadLetterScope
from herald_campaign.entrypoints.rest.dead_letter_filters import (
    CampaignFilter,
    DeadLetterLimit,
    ReasonFilter,
    StatusFilter,
)
from herald_campaign.entrypoints.rest.dependencies import DeadLetterId, Operator, Services
from herald_campaign.entrypoints.rest.errors import (
    INVALID,
    NOT_REDRIVABLE,
    OPERATOR_AUTH,
    UNAVAILABLE,
)
from herald_campaign.entrypoints.rest.paging import PageOffset
from herald_campaign.entrypoints.rest.schemas import (
    DeadLetterResponse,
    DeadLetterTotal,
    ErrorResponse,
    RedriveResponse,
    ResponseModel,
    TotalIsLowerBound,
)
from herald_campaign.service_layer.dead_letters import DeadLetterFilter, DeadLetterPage
from herald_infra.mongo.client import Document

router = APIRouter(prefix="/api/admin/dead-letters", tags=["admin"], responses=OPERATOR_AUTH)

EVERYONE = DeadLetterScope.everyone()


class TenantDeadLetterResponse(DeadLetterResponse):
    tenant_id: str | None = Field(
        description="The tenant it belongs to; null for a record that named no tenant."
    )

    @classmethod
    def of_any(cls, dead_letter: Document) -> TenantDeadLetterResponse:
        return cls(
            **DeadLetterResponse.of(dead_letter).model_dump(),
            tenant_id=dead_letter.get("tenantId"),
        )


class TenantDeadLetterListResponse(ResponseModel):
    dead_letters: list[TenantDeadLetterResponse]
    total: DeadLetterTotal
    total_is_lower_bound: TotalIsLowerBound
    limit: int
    offset: int

    @classmethod
    def of(cls, page: DeadLetterPage, *, limit: int, offset: int) -> TenantDeadLetterListResponse:
        return cls(
            dead_letters=[TenantDeadLetterResponse.of_any(d) for d in page.dead_letters],
            total=page.total,
            total_is_lower_bound=page.total_is_lower_bound,
            limit=limit,
            offset=offset,
        )


@router.get(
    "",
    response_model=TenantDeadLetterListResponse,
    responses=INVALID,
    summary="Every tenant's dead letters, newest first",
    description=(
        "Give tenantId for one tenant's, or unattributed=true for the poison records that "
        "named no tenant (not both)."
    ),
)
async def list_all_dead_letters(
    _: Operator,
    services: Services,
    tenant_id: Annotated[
        str | None,
        Query(alias="tenantId", min_length=1, max_length=128, description="Only this tenant's."),
    ] = None,
    unattributed: Annotated[
        bool, Query(description="Only the records that named no tenant.")
    ] = False,
    campaign_id: CampaignFilter = None,
    reason: ReasonFilter = None,
    status: StatusFilter = None,
    limit: DeadLetterLimit = 50,
    offset: PageOffset = 0,
) -> TenantDeadLetterListResponse:
    if tenant_id is not None and unattributed:
        # A 422 naming the parameter, as every invalid request gets.
        raise RequestValidationError(
            [
                {
                    "loc": ("query", "unattributed"),
                    "msg": "give tenantId or unattributed=true, not both",
                    "type": "value_error",
                }
            ]
        )
    page = await services.dead_letters.list_dead_letters(
        DeadLetterScope(tenant_id=tenant_id, unattributed=unattributed),
        DeadLetterFilter(campaign_id=campaign_id, reason=reason, status=status),
        limit=limit,
        offset=offset,
    )
    return TenantDeadLetterListResponse.of(page, limit=limit, offset=offset)


DEAD_LETTER_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such dead letter."}
}


@router.get(
    "/{dead_letter_id}",
    response_model=TenantDeadLetterResponse,
    responses={**INVALID, **DEAD_LETTER_NOT_FOUND},
    summary="Any tenant's dead letter",
)
async def get_any_dead_letter(
    dead_letter_id: DeadLetterId, _: Operator, services: Services
) -> TenantDeadLetterResponse:
    found = await services.dead_letters.get_dead_letter(EVERYONE, dead_letter_id)
    return TenantDeadLetterResponse.of_any(found)


@router.post(
    "/{dead_letter_id}/redrive",
    response_model=RedriveResponse,
    responses={**INVALID, **DEAD_LETTER_NOT_FOUND, **NOT_REDRIVABLE, **UNAVAILABLE},
    summary="Redrive any tenant's dead letter, or a record that named no tenant",
    description="As a tenant's redrive (POST /api/dead-letters/{id}/redrive) does.",
)
async def redrive_any_dead_letter(
    dead_letter_id: DeadLetterId, _: Operator, services: Services
) -> RedriveResponse:
    return RedriveResponse.of(await services.dead_letters.redrive(EVERYONE, dead_letter_id))
