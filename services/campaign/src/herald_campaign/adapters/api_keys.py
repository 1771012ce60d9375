"""API tokens: a token's SHA-256 names its tenant in ``api_keys``; the REST API's bearer
authentication looks tokens up here."""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable

from herald_core.contracts.common import utc_now
from herald_infra.mongo.client import API_KEYS, Database


def token_digest(token: str) -> str:
    """The ``_id`` of a token in ``api_keys``; the token itself is never stored."""
    return hashlib.sha256(token.encode()).hexdigest()


async def register_api_key(db: Database, token: str, tenant_id: str, name: str) -> str:
    """Let ``token`` act for ``tenant_id``; idempotent. Returns the key's id (its digest)."""
    digest = token_digest(token)
    await db[API_KEYS].update_one(
        {"_id": digest},
        {"$set": {"tenantId": tenant_id, "name": name}, "$setOnInsert": {"createdAt": utc_now()}},
        upsert=True,
    )
    return digest


class ApiKeys:
    """Finds the tenant of a token; remembers a found key for ``cache_seconds``.

    Unknown tokens are not remembered, so a key registered a moment ago works at once; a revoked
    key keeps working until its cache entry expires.
    """

    MAX_CACHED = 10_000

    def __init__(
        self,
        db: Database,
        *,
        cache_seconds: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._keys = db[API_KEYS]
        self._cache_seconds = cache_seconds
        self._clock = clock
        self._cache: dict[str, tuple[str, float]] = {}

    async def tenant_of(self, token: str) -> str | None:
        digest = token_digest(token)
        now = self._clock()
        cached = self._cache.get(digest)
        if cached is not None and cached[1] > now:
            return cached[0]
        key = await self._keys.find_one({"_id": digest}, {"tenantId": 1})
        if key is None or not key.get("tenantId"):
            self._cache.pop(digest, None)
            return None
        if len(self._cache) >= self.MAX_CACHED:
            self._cache.clear()
        tenant_id = str(key["tenantId"])
        self._cache[digest] = (tenant_id, now + self._cache_seconds)
        return tenant_id
