"""``/api/admin/tenants/{tenant_id}/keys`` and ``/api/admin/keys``: the operators' API keys,
a tenant's and the operators' own: issue, list and revoke them.

A key's token is in the answer that issues it and nowhere else: Herald keeps its SHA-256. A
revoked or expired key is refused (401) within ``HERALD_API_KEY_CACHE_SECONDS`` (2 s).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Response, status

from herald_campaign.domain.api_keys import KEY_ID_PATTERN
from herald_campaign.entrypoints.rest.admin_schemas import (
    IssuedKeyResponse,
    IssueKeyRequest,
    KeyListResponse,
)
from herald_campaign.entrypoints.rest.admin_tenants import OPERATORS, TENANT_NOT_FOUND, TenantId
from herald_campaign.entrypoints.rest.dependencies import Operator, Services
from herald_campaign.entrypoints.rest.errors import INVALID
from herald_campaign.entrypoints.rest.paging import PageOffset
from herald_campaign.entrypoints.rest.schemas import ErrorResponse

KEY_NOT_FOUND: dict[int | str, dict[str, Any]] = {
    404: {"model": ErrorResponse, "description": "No such key here."}
}
TENANT_DISABLED: dict[int | str, dict[str, Any]] = {
    409: {"model": ErrorResponse, "description": "The tenant is disabled; enable it first."}
}
ISSUED = (
    "The answer holds the token, shown this once: Herald keeps only its SHA-256. With "
    "`expiresAt` the key stops working then (within 2 s)."
)

KeyId = Annotated[str, Path(pattern=KEY_ID_PATTERN, description="The key's id (`key_…`).")]
Limit = Annotated[int, Query(ge=1, le=500)]

router = APIRouter(prefix="/api/admin", tags=["admin"], responses=OPERATORS)


@router.post(
    "/tenants/{tenant_id}/keys",
    status_code=status.HTTP_201_CREATED,
    response_model=IssuedKeyResponse,
    responses={**INVALID, **TENANT_NOT_FOUND, **TENANT_DISABLED},
    summary="Issue an API key for a tenant",
    description=f"A key that acts for the tenant on the tenant routes. {ISSUED}",
)
async def issue_tenant_key(
    tenant_id: TenantId, body: IssueKeyRequest, _: Operator, services: Services
) -> IssuedKeyResponse:
    issued = await services.api_key_issuing.issue(
        tenant_id=tenant_id, name=body.name, expires_at=body.expires_at
    )
    return IssuedKeyResponse.of_issued(issued)


@router.get(
    "/tenants/{tenant_id}/keys",
    response_model=KeyListResponse,
    responses={**INVALID, **TENANT_NOT_FOUND},
    summary="A tenant's API keys, oldest first",
    description="Revoked and expired ones included (`status`); never a token.",
)
async def list_tenant_keys(
    tenant_id: TenantId,
    _: Operator,
    services: Services,
    limit: Limit = 50,
    offset: PageOffset = 0,
) -> KeyListResponse:
    page = await services.api_key_issuing.list_keys(tenant_id, limit=limit, offset=offset)
    return KeyListResponse.of(page, limit=limit, offset=offset)


@router.delete(
    "/tenants/{tenant_id}/keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={**INVALID, **KEY_NOT_FOUND},
    summary="Revoke a tenant's API key",
    description="It is refused (401) within 2 s on every replica. Revoking a revoked key "
    "changes nothing.",
)
async def revoke_tenant_key(
    tenant_id: TenantId, key_id: KeyId, _: Operator, services: Services
) -> Response:
    await services.api_key_issuing.revoke(tenant_id, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)


@router.post(
    "/keys",
    status_code=status.HTTP_201_CREATED,
    response_model=IssuedKeyResponse,
    responses=INVALID,
    summary="Issue an operator key",
    description=f"A key that acts on the `/api/admin` routes, as HERALD_ADMIN_TOKEN does. {ISSUED}",
)
async def issue_operator_key(
    body: IssueKeyRequest, _: Operator, services: Services
) -> IssuedKeyResponse:
    issued = await services.api_key_issuing.issue(
        tenant_id=None, name=body.name, expires_at=body.expires_at
    )
    return IssuedKeyResponse.of_issued(issued)


@router.get(
    "/keys",
    response_model=KeyListResponse,
    responses=INVALID,
    summary="The operator keys, oldest first",
    description="Revoked and expired ones included (`status`); never a token. "
    "HERALD_ADMIN_TOKEN is configuration, not a key: it is not listed.",
)
async def list_operator_keys(
    _: Operator, services: Services, limit: Limit = 50, offset: PageOffset = 0
) -> KeyListResponse:
    page = await services.api_key_issuing.list_keys(None, limit=limit, offset=offset)
    return KeyListResponse.of(page, limit=limit, offset=offset)


@router.delete(
    "/keys/{key_id}",
    status_code=status.HTTP_204_NO_CONTENT,
    response_class=Response,
    responses={**INVALID, **KEY_NOT_FOUND},
    summary="Revoke an operator key",
    description="It is refused (401) within 2 s on every replica.",
)
async def revoke_operator_key(key_id: KeyId, _: Operator, services: Services) -> Response:
    await services.api_key_issuing.revoke(None, key_id)
    return Response(status_code=status.HTTP_204_NO_CONTENT)
