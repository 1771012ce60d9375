"""API keys as operators issue them: a secret shown once, stored only as its SHA-256, and a
public id to list and revoke the key by. Pure; no I/O.

A key document in ``api_keys``: ``{_id: <sha256 of the token>, keyId, role, tenantId, name,
createdAt, expiresAt?, revokedAt?, lastUsedAt?}``.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum
from typing import Any

from herald_campaign.domain.callers import Role

TOKEN_PREFIX = "hrd_"
"""Starts every token Herald issues, so that a leaked one is recognised (secret scanners, logs)."""
KEY_ID_PATTERN = r"^key_[0-9a-f]{12}$"
MAX_KEY_NAME = 100
MAX_KEY_LIFETIME = timedelta(days=3653)
"""The latest expiry a key may have: ten years from its issue."""


class KeyStatus(StrEnum):
    ACTIVE = "active"
    EXPIRED = "expired"
    REVOKED = "revoked"


def token_digest(token: str) -> str:
    """The ``_id`` of a token in ``api_keys``; the token itself is never stored."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    """A new secret: the prefix and 256 random bits, URL-safe."""
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def new_key_id() -> str:
    """A key's public id: ``key_`` and 12 hex digits; it says nothing of the secret."""
    return f"key_{secrets.token_hex(6)}"


def expiry_problem(expires_at: datetime, now: datetime) -> str | None:
    """Why ``expires_at`` cannot be a new key's expiry, or None when it can."""
    if expires_at <= now:
        return "must be in the future"
    if expires_at > now + MAX_KEY_LIFETIME:
        return f"must be at most {MAX_KEY_LIFETIME.days // 365} years ahead"
    return None


@dataclass(frozen=True)
class ApiKey:
    """What listing a key shows: never its token nor its digest."""

    key_id: str
    name: str
    role: Role
    tenant_id: str | None
    created_at: datetime | None
    last_used_at: datetime | None
    expires_at: datetime | None
    revoked_at: datetime | None

    def status(self, now: datetime) -> KeyStatus:
        if self.revoked_at is not None:
            return KeyStatus.REVOKED
        if self.expires_at is not None and self.expires_at <= now:
            return KeyStatus.EXPIRED
        return KeyStatus.ACTIVE


def api_key_of(document: dict[str, Any]) -> ApiKey:
    role = Role.OPERATOR if document.get("role") == Role.OPERATOR.value else Role.TENANT
    return ApiKey(
        key_id=str(document["keyId"]),
        name=str(document.get("name") or ""),
        role=role,
        tenant_id=document.get("tenantId") if role is Role.TENANT else None,
        created_at=document.get("createdAt"),
        last_used_at=document.get("lastUsedAt"),
        expires_at=document.get("expiresAt"),
        revoked_at=document.get("revokedAt"),
    )
