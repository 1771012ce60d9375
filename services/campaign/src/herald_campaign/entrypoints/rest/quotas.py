"""Quotas: a tenant reads its own (``GET /api/quotas``); an operator reads and sets any
tenant's (``/api/admin/tenants/{tenantId}/quotas``). Which quotas there are, their defaults and
what a refusal looks like: docs/quotas.md."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

from fastapi import APIRouter, Path

from herald_campaign.domain.tenants import TENANT_ID_PATTERN
from herald_campaign.entrypoints.rest.dependencies import Operator, Services, Tenant
from herald_campaign.entrypoints.rest.errors import AUTH, INVALID
from herald_campaign.entrypoints.rest.quota_schemas import (
    QuotaOverridesRequest,
    QuotasResponse,
    QuotaUsageValues,
    QuotaValues,
    TenantQuotasResponse,
)
from herald_campaign.entrypoints.rest.schemas import ErrorResponse

OPERATORS: dict[int | str, dict[str, Any]] = {
    **AUTH,
    403: {"model": ErrorResponse, "description": "A tenant key: this route is for operators."},
    404: {"model": ErrorResponse, "description": "No such tenant."},
}
TENANTS_ONLY: dict[int | str, dict[str, Any]] = {
    **AUTH,
    403: {"model": ErrorResponse, "description": "Operator credentials: this route is a tenant's."},
}

TenantId = Annotated[
    str, Path(pattern=TENANT_ID_PATTERN, max_length=64, description="The tenant's id.")
]

router = APIRouter()


@router.get(
    "/api/quotas",
    tags=["quotas"],
    response_model=QuotasResponse,
    responses=TENANTS_ONLY,
    summary="The tenant's quotas and what it holds of them",
    description="What the tenant may hold at once (its operator's settings, or the "
    "deployment's defaults) and what it holds now. A request past a quota is refused "
    "naming it: 409 with `quota`, `limit` and `used`, or 422 naming the field for the cron "
    "interval.",
)
async def tenant_quotas(tenant: Tenant, services: Services) -> QuotasResponse:
    quotas, usage = await asyncio.gather(
        services.quotas.quotas_of(tenant), services.quotas.usage_of(tenant)
    )
    return QuotasResponse(
        quotas=QuotaValues.of(quotas),
        usage=QuotaUsageValues.of(usage),
        shared_gateway=services.quotas.shared_gateway,
    )


async def _operator_view(services: Services, tenant_id: str) -> TenantQuotasResponse:
    quotas, overrides = await services.quotas.operator_view(tenant_id)
    usage = await services.quotas.usage_of(tenant_id)
    return TenantQuotasResponse(
        tenant_id=tenant_id,
        quotas=QuotaValues.of(quotas),
        usage=QuotaUsageValues.of(usage),
        shared_gateway=services.quotas.shared_gateway,
        overrides=overrides,
        defaults=QuotaValues.of(services.quotas.defaults),
    )


@router.get(
    "/api/admin/tenants/{tenant_id}/quotas",
    tags=["admin"],
    response_model=TenantQuotasResponse,
    responses={**OPERATORS, **INVALID},
    summary="A tenant's quotas",
    description="Its effective quotas, the overrides they come from, the defaults and what it "
    "holds now.",
)
async def get_tenant_quotas(
    tenant_id: TenantId, _: Operator, services: Services
) -> TenantQuotasResponse:
    return await _operator_view(services, tenant_id)


@router.put(
    "/api/admin/tenants/{tenant_id}/quotas",
    tags=["admin"],
    response_model=TenantQuotasResponse,
    responses={**OPERATORS, **INVALID},
    summary="Set some of a tenant's quotas",
    description="A partial change: each quota given is set for this tenant, `null` takes it "
    "back to the default, the others stay. It applies at once on this instance and within "
    "`HERALD_QUOTA_CACHE_SECONDS` (5 s) on the others. Lowering a quota below what the "
    "tenant holds removes nothing: only what would add more is refused.",
)
async def set_tenant_quotas(
    tenant_id: TenantId, body: QuotaOverridesRequest, _: Operator, services: Services
) -> TenantQuotasResponse:
    await services.quotas.set_overrides(tenant_id, body.changes())
    return await _operator_view(services, tenant_id)
