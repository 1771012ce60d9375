"""API tokens: a token's SHA-256 is its key's ``_id`` in ``api_keys``, which names its role and
(for a tenant key) its tenant; the token itself is never stored. The REST API's bearer
authentication looks tokens up here, and ``HERALD_ADMIN_TOKEN`` acts as an operator.

A key document: ``{_id: <sha256>, role, tenantId, name, createdAt, expiresAt?, revokedAt?,
lastUsedAt?}``; a key without ``role`` is a tenant key (as every key was before roles).
A key stops working when it is revoked, when it expires, or when its tenant is disabled.
"""

from __future__ import annotations

import hmac
import time
from collections.abc import Callable
from datetime import datetime

from herald_campaign.domain.api_keys import new_key_id, token_digest
from herald_campaign.domain.callers import ADMIN_TOKEN_KEY_ID, Caller, Role
from herald_core.contracts.common import utc_now
from herald_infra.mongo.client import API_KEYS, TENANTS, Database

__all__ = ["ApiKeys", "register_api_key", "token_digest"]


async def register_api_key(
    db: Database,
    token: str,
    tenant_id: str | None,
    name: str,
    *,
    role: Role = Role.TENANT,
    expires_at: datetime | None = None,
) -> str:
    """Let ``token`` act for ``tenant_id`` (or as an operator); idempotent. Returns the key's
    id (its digest)."""
    digest = token_digest(token)
    fields: dict[str, object] = {
        "role": role.value,
        "tenantId": tenant_id if role is Role.TENANT else None,
        "name": name,
    }
    if expires_at is not None:
        fields["expiresAt"] = expires_at
    await db[API_KEYS].update_one(
        {"_id": digest},
        {"$set": fields, "$setOnInsert": {"createdAt": utc_now(), "keyId": new_key_id()}},
        upsert=True,
    )
    # A key registered before keys had public ids gets one, so operators can list and revoke it.
    await db[API_KEYS].update_one(
        {"_id": digest, "keyId": {"$exists": False}}, {"$set": {"keyId": new_key_id()}}
    )
    return digest


class ApiKeys:
    """Finds who a token acts for; remembers a found key for ``cache_seconds``, the bound on
    how long a revoked or expired key, or a disabled tenant's key, may still work.

    Unknown tokens are not remembered, so a key issued a moment ago works at once.
    ``lastUsedAt`` is written at most once per ``touch_seconds`` per key.
    """

    MAX_CACHED = 10_000

    def __init__(
        self,
        db: Database,
        *,
        cache_seconds: float = 2.0,
        touch_seconds: float = 60.0,
        admin_token: str | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys = db[API_KEYS]
        self._tenants = db[TENANTS]
        self._cache_seconds = cache_seconds
        self._touch_seconds = touch_seconds
        self._admin_digest = token_digest(admin_token) if admin_token else None
        self._clock = clock
        self._cache: dict[str, tuple[Caller, float]] = {}
        self._touched: dict[str, float] = {}

    async def caller_of(self, token: str) -> Caller | None:
        digest = token_digest(token)
        if self._admin_digest is not None and hmac.compare_digest(digest, self._admin_digest):
            return Caller(Role.OPERATOR, ADMIN_TOKEN_KEY_ID)
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        caller = await self._look_up(digest)
        if caller is None:
            self._cache.pop(digest, None)
            return None
        if len(self._cache) >= self.MAX_CACHED:
            self._cache.clear()
        self._cache[digest] = (caller, now + self._cache_seconds)
        await self._touch(digest, now)
        return caller

    async def tenant_of(self, token: str) -> str | None:
        """The tenant a tenant key acts for; None for an unknown token or an operator."""
        caller = await self.caller_of(token)
        return caller.tenant_id if caller is not None and not caller.is_operator else None

    async def _look_up(self, digest: str) -> Caller | None:
        key = await self._keys.find_one({"_id": digest})
        if key is None or key.get("revokedAt") is not None:
            return None
        expires_at = key.get("expiresAt")
        if expires_at is not None and expires_at <= utc_now():
            return None
        if key.get("role") == Role.OPERATOR.value:
            return Caller(Role.OPERATOR, digest)
        tenant_id = key.get("tenantId")
        if not tenant_id:
            return None
        tenant = await self._tenants.find_one({"_id": tenant_id}, {"disabled": 1})
        if tenant is not None and tenant.get("disabled"):
            return None
        return Caller(Role.TENANT, digest, str(tenant_id))

    async def _touch(self, digest: str, now: float) -> None:
        last = self._touched.get(digest)
        if last is not None and now - last < self._touch_seconds:
            return
        if len(self._touched) >= self.MAX_CACHED:
            self._touched.clear()
        self._touched[digest] = now
        await self._keys.update_one({"_id": digest}, {"$set": {"lastUsedAt": utc_now()}})
