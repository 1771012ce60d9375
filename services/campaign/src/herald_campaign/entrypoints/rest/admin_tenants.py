"""``/api/admin/tenants``: the operators' tenants: create, list, read, disable and enable them.

Operator credentials only (``HERALD_ADMIN_TOKEN`` or an operator key); a tenant key gets 403.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, status

from herald_campaign.domain.tenants import TENANT_ID_PATTERN, TenantStatus
from herald_campaign.entrypoints.rest.admin_schemas import (
    CreateTenantRequest,
    DisabledTenantResponse,
    TenantListResponse,
    TenantResponse,
)
from herald_campaign.entrypoints.rest.dependencies import Operator, Services
from herald_campaign.entrypoints.rest.errors import AUTH, INVALID
from herald_campaign.entrypoints.rest.paging import PageOffset
from herald_campaign.entrypoints.rest.schemas import ErrorResponse

OPERATORS: dict[int | str, dict[str, Any]] = {
    **AUTH,
    403: {"model": ErrorResponse, "description": "A tenant key: this route is for operators."},
}
TENANT_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such tenant."}
}
TENANT_EXISTS: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "A tenant with this id exists already."}
}

TenantId = Annotated[
    str, Path(pattern=TENANT_ID_PATTERN, max_length=64, description="The tenant's id.")
]

router = APIRouter(prefix="/api/admin/tenants", tags=["admin"], responses=OPERATORS)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=TenantResponse,
    responses={**INVALID, **TENANT_EXISTS},
    summary="Create a tenant",
    description="An enabled tenant; issue it keys with `POST /api/admin/tenants/{id}/keys`. "
    "A tenant whose keys an older Herald made (it has no document yet) is created the same "
    "way, with its id: its keys then show in its listing.",
)
async def create_tenant(
    body: CreateTenantRequest, _: Operator, services: Services
) -> TenantResponse:
    return TenantResponse.of(await services.tenants.create(body.id, body.name))


@router.get(
    "",
    response_model=TenantListResponse,
    responses=INVALID,
    summary="The tenants, in id order",
)
async def list_tenants(
    _: Operator,
    services: Services,
    status: Annotated[TenantStatus | None, Query(description="enabled or disabled")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: PageOffset = 0,
) -> TenantListResponse:
    page = await services.tenants.list_tenants(status=status, limit=limit, offset=offset)
    return TenantListResponse.of(page, limit=limit, offset=offset)


@router.get(
    "/{tenant_id}",
    response_model=TenantResponse,
    responses={**INVALID, **TENANT_NOT_FOUND},
    summary="A tenant",
)
async def get_tenant(tenant_id: TenantId, _: Operator, services: Services) -> TenantResponse:
    return TenantResponse.of(await services.tenants.get(tenant_id))


@router.post(
    "/{tenant_id}/disable",
    response_model=DisabledTenantResponse,
    responses={**INVALID, **TENANT_NOT_FOUND},
    summary="Disable a tenant: its keys stop working, its running campaigns are paused",
    description="Its keys are refused (401) within `HERALD_API_KEY_CACHE_SECONDS` (2 s by "
    "default) on every replica. Its running campaigns are paused (`pausedBy: system`, "
    "reason `tenant disabled`); `pausedCampaigns` counts them. Disabling a disabled tenant "
    "pauses what still runs.",
)
async def disable_tenant(
    tenant_id: TenantId, _: Operator, services: Services
) -> DisabledTenantResponse:
    return DisabledTenantResponse.of_disabled(await services.tenants.disable(tenant_id))


@router.post(
    "/{tenant_id}/enable",
    response_model=TenantResponse,
    responses={**INVALID, **TENANT_NOT_FOUND},
    summary="Enable a tenant again",
    description="Its keys work again (those neither revoked nor expired); its paused campaigns "
    "stay paused until the tenant resumes them.",
)
async def enable_tenant(tenant_id: TenantId, _: Operator, services: Services) -> TenantResponse:
    return TenantResponse.of(await services.tenants.enable(tenant_id))
