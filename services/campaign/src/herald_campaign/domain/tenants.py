"""Tenants as operators manage them: an id, a name, enabled or disabled. Pure; no I/O.

A tenant's document in ``tenants``: ``{_id: <tenant id>, name, disabled, createdAt,
disabledAt?, quotas?}`` (``quotas`` belongs to the quotas' own module). A tenant without a
document (the keys of older deployments name tenants nobody created) counts as enabled.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

TENANT_ID_PATTERN = r"^[a-z0-9][a-z0-9_-]{0,63}$"
"""A tenant's id: 1-64 lowercase letters, digits, ``_`` and ``-``, starting with a letter or a
digit; it appears in every document of the tenant and in logs, so it stays plain."""
MAX_TENANT_NAME = 200

_TENANT_ID = re.compile(TENANT_ID_PATTERN)


class TenantStatus(StrEnum):
    ENABLED = "enabled"
    DISABLED = "disabled"


@dataclass(frozen=True)
class Tenant:
    id: str
    name: str
    status: TenantStatus
    created_at: datetime | None
    """None for a document an operator did not create (written by another module first)."""
    disabled_at: datetime | None = None

    @property
    def disabled(self) -> bool:
        return self.status is TenantStatus.DISABLED


def is_tenant_id(text: str) -> bool:
    return _TENANT_ID.fullmatch(text) is not None


def new_tenant_id() -> str:
    """An id for a tenant created without one: ``tnt_`` and 12 hex digits."""
    return f"tnt_{secrets.token_hex(6)}"


def tenant_fields(name: str, at: datetime) -> dict[str, Any]:
    """What creating a tenant writes: enabled, named, created ``at``."""
    return {"name": name, "disabled": False, "createdAt": at}


def tenant_of(document: dict[str, Any]) -> Tenant:
    disabled = bool(document.get("disabled"))
    return Tenant(
        id=str(document["_id"]),
        name=str(document.get("name") or document["_id"]),
        status=TenantStatus.DISABLED if disabled else TenantStatus.ENABLED,
        created_at=document.get("createdAt"),
        disabled_at=document.get("disabledAt") if disabled else None,
    )
