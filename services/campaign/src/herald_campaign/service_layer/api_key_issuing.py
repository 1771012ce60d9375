"""API keys, as operators issue, list and revoke them: a tenant's keys (under the tenant) and
operator keys.

A key's token is shown once, when it is issued, and stored only as its SHA-256; listing shows
a key's public id, name and times, never the token nor its digest. Revoking a key takes effect
within ``api_key_cache_seconds`` on every replica (the cache of
:class:`herald_campaign.adapters.api_keys.ApiKeys`).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from pymongo.errors import DuplicateKeyError

from herald_campaign.domain.api_keys import (
    ApiKey,
    api_key_of,
    expiry_problem,
    new_key_id,
    new_token,
    token_digest,
)
from herald_campaign.domain.callers import Role
from herald_campaign.service_layer.campaigns import stored_now
from herald_campaign.service_layer.errors import InvalidField, OperationRefused
from herald_campaign.service_layer.tenants import TenantService
from herald_infra.mongo.client import API_KEYS, Database, Document
from herald_infra.runtime.logging import get_logger

log = get_logger(__name__)

ID_ATTEMPTS = 3
"""New key ids tried when one is taken already (48 random bits: a collision is a freak)."""


class ApiKeyNotFound(OperationRefused):
    """No key with this id among the tenant's keys (or among the operator keys)."""

    reason = "unknown-key"

    def __init__(self, key_id: str) -> None:
        super().__init__(f"key {key_id} not found")
        self.key_id = key_id


@dataclass(frozen=True)
class IssuedKey:
    key: ApiKey
    token: str
    """The secret, shown this once."""


@dataclass(frozen=True)
class ApiKeyPage:
    keys: list[ApiKey]
    total: int


def _owner(tenant_id: str | None) -> Document:
    """The keys of ``tenant_id``, or the operator keys for None (a key without a role is a
    tenant key: every key was, before roles)."""
    if tenant_id is None:
        return {"role": Role.OPERATOR.value}
    return {"tenantId": tenant_id, "role": {"$ne": Role.OPERATOR.value}}


def _stored_time(moment: datetime) -> datetime:
    """``moment`` in UTC at the millisecond precision MongoDB stores."""
    utc = moment.astimezone(UTC)
    return utc.replace(microsecond=utc.microsecond // 1000 * 1000)


class ApiKeyIssuing:
    def __init__(self, db: Database, tenants: TenantService) -> None:
        self._keys = db[API_KEYS]
        self._tenants = tenants

    async def issue(
        self, *, tenant_id: str | None, name: str, expires_at: datetime | None
    ) -> IssuedKey:
        """A new key for ``tenant_id`` (enabled), or an operator key for None."""
        now = stored_now()
        if expires_at is not None:
            problem = expiry_problem(expires_at, now)
            if problem is not None:
                raise InvalidField("expiresAt", problem)
        if tenant_id is not None:
            await self._tenants.require_enabled(tenant_id)
        role = Role.TENANT if tenant_id is not None else Role.OPERATOR
        token = new_token()
        document: Document = {
            "_id": token_digest(token),
            "role": role.value,
            "tenantId": tenant_id,
            "name": name,
            "createdAt": now,
        }
        if expires_at is not None:
            document["expiresAt"] = _stored_time(expires_at)
        for _ in range(ID_ATTEMPTS):
            document["keyId"] = new_key_id()
            try:
                await self._keys.insert_one(document)
            except DuplicateKeyError:
                continue
            log.info("api key issued", key_id=document["keyId"], role=role.value, tenant=tenant_id)
            return IssuedKey(api_key_of(document), token)
        raise RuntimeError("no free key id after several tries")

    async def list_keys(self, tenant_id: str | None, *, limit: int, offset: int) -> ApiKeyPage:
        """The tenant's keys (or the operator keys), oldest first, revoked and expired ones
        included."""
        if tenant_id is not None:
            await self._tenants.get(tenant_id)
        selector = _owner(tenant_id)
        await self._name_unnamed(selector)
        found = (
            self._keys.find(selector, {"_id": 0})
            .sort([("createdAt", 1), ("keyId", 1)])
            .skip(offset)
            .limit(limit)
        )
        keys = [api_key_of(d) async for d in found]
        return ApiKeyPage(keys, await self._keys.count_documents(selector))

    async def revoke(self, tenant_id: str | None, key_id: str) -> None:
        """Revoke the key; again on a revoked key does nothing. :class:`ApiKeyNotFound` when
        it is not one of the tenant's (or an operator key, for None)."""
        selector = {**_owner(tenant_id), "keyId": key_id}
        revoked = await self._keys.update_one(
            {**selector, "revokedAt": None}, {"$set": {"revokedAt": stored_now()}}
        )
        if revoked.matched_count:
            log.info("api key revoked", key_id=key_id, tenant=tenant_id)
            return
        if await self._keys.count_documents(selector, limit=1) == 0:
            raise ApiKeyNotFound(key_id)

    async def _name_unnamed(self, selector: Document) -> None:
        # Keys written before keys had public ids (by hand, or by an older Herald) get one
        # the first time they are listed, so that they can be revoked like any other.
        async for document in self._keys.find(
            {**selector, "keyId": {"$exists": False}}, {"_id": 1}
        ):
            await self._keys.update_one(
                {"_id": document["_id"], "keyId": {"$exists": False}},
                {"$set": {"keyId": new_key_id()}},
            )
