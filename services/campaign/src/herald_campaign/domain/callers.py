"""Who is calling the REST API: an operator (runs the deployment: tenants, their keys and
quotas, the system jobs) or a tenant (its own campaigns, accounts, schedules and data).

The two never stand in for each other: operator routes refuse tenant keys and tenant routes
refuse operator credentials, both with 403.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class Role(StrEnum):
    OPERATOR = "operator"
    TENANT = "tenant"


@dataclass(frozen=True)
class Caller:
    role: Role
    key_id: str
    """The API key's id (its digest), or ``admin-token`` for ``HERALD_ADMIN_TOKEN``."""
    tenant_id: str | None = None
    """The tenant a tenant key acts for; None for operators."""

    @property
    def is_operator(self) -> bool:
        return self.role is Role.OPERATOR


ADMIN_TOKEN_KEY_ID = "admin-token"
