"""Request and response bodies of the operators' ``/api/admin`` routes: tenants and API keys
(camelCase JSON). A key's token appears in one response only, the one that issues it."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints

from herald_campaign.domain.api_keys import MAX_KEY_NAME, ApiKey, KeyStatus
from herald_campaign.domain.callers import Role
from herald_campaign.domain.tenants import (
    MAX_TENANT_NAME,
    TENANT_ID_PATTERN,
    Tenant,
    TenantStatus,
)
from herald_campaign.entrypoints.rest.schemas import (
    INSTANT_RANGE,
    Instant,
    RequestModel,
    ResponseModel,
)
from herald_campaign.service_layer.api_key_issuing import ApiKeyPage, IssuedKey
from herald_campaign.service_layer.tenants import DisabledTenant, TenantPage
from herald_core.contracts.common import utc_now

TenantIdField = Annotated[
    str,
    Field(
        pattern=TENANT_ID_PATTERN,
        description="1-64 lowercase letters, digits, `_` and `-`, starting with a letter or a "
        "digit.",
    ),
]


class CreateTenantRequest(RequestModel):
    id: TenantIdField | None = Field(
        default=None, description="The tenant's id; without one, Herald makes one (`tnt_…`)."
    )
    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_TENANT_NAME)
    ]


class TenantResponse(ResponseModel):
    id: str
    name: str
    status: TenantStatus = Field(
        description="enabled, or disabled: its keys do not work and its campaigns were paused."
    )
    created_at: datetime | None
    disabled_at: datetime | None

    @classmethod
    def of(cls, tenant: Tenant) -> TenantResponse:
        return cls(
            id=tenant.id,
            name=tenant.name,
            status=tenant.status,
            created_at=tenant.created_at,
            disabled_at=tenant.disabled_at,
        )


class DisabledTenantResponse(TenantResponse):
    paused_campaigns: int = Field(description="The running campaigns this request paused.")

    @classmethod
    def of_disabled(cls, disabled: DisabledTenant) -> DisabledTenantResponse:
        return cls(
            **TenantResponse.of(disabled.tenant).model_dump(),
            paused_campaigns=disabled.paused_campaigns,
        )


class TenantListResponse(ResponseModel):
    tenants: list[TenantResponse]
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, page: TenantPage, *, limit: int, offset: int) -> TenantListResponse:
        return cls(
            tenants=[TenantResponse.of(t) for t in page.tenants],
            total=page.total,
            limit=limit,
            offset=offset,
        )


class IssueKeyRequest(RequestModel):
    name: Annotated[
        str, StringConstraints(strip_whitespace=True, min_length=1, max_length=MAX_KEY_NAME)
    ] = Field(description="What the key is for (`billing-service`, `ci`).")
    expires_at: Instant | None = Field(
        default=None,
        description="When the key stops working (ISO 8601 with an offset): in the future, at "
        f"most ten years ahead. None: never. {INSTANT_RANGE}",
    )


class KeyResponse(ResponseModel):
    id: str = Field(description="The key's public id (`key_…`), to revoke it by.")
    name: str
    role: Role
    tenant_id: str | None = Field(description="The tenant it acts for; null for operator keys.")
    status: KeyStatus
    created_at: datetime | None
    last_used_at: datetime | None = Field(
        description="When it last authenticated a request (updated at most once a minute)."
    )
    expires_at: datetime | None
    revoked_at: datetime | None

    @classmethod
    def of(cls, key: ApiKey, now: datetime) -> KeyResponse:
        return cls(
            id=key.key_id,
            name=key.name,
            role=key.role,
            tenant_id=key.tenant_id,
            status=key.status(now),
            created_at=key.created_at,
            last_used_at=key.last_used_at,
            expires_at=key.expires_at,
            revoked_at=key.revoked_at,
        )


class IssuedKeyResponse(KeyResponse):
    token: str = Field(
        description="The bearer token, shown this once: Herald keeps only its SHA-256."
    )

    @classmethod
    def of_issued(cls, issued: IssuedKey) -> IssuedKeyResponse:
        return cls(**KeyResponse.of(issued.key, utc_now()).model_dump(), token=issued.token)


class KeyListResponse(ResponseModel):
    keys: list[KeyResponse]
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, page: ApiKeyPage, *, limit: int, offset: int) -> KeyListResponse:
        now = utc_now()
        return cls(
            keys=[KeyResponse.of(k, now) for k in page.keys],
            total=page.total,
            limit=limit,
            offset=offset,
        )
