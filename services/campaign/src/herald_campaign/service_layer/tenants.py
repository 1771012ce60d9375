"""Tenants, as operators manage them: create, list, read, disable and enable.

Disabling a tenant is an access cut and a stop: its keys stop working within
``api_key_cache_seconds`` (the cache of :class:`herald_campaign.adapters.api_keys.ApiKeys`),
and its running campaigns are paused (``pausedBy: system``, reason ``tenant disabled``).
Enabling lets its keys work again; its paused campaigns stay paused until the tenant resumes
them.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from pymongo.errors import DuplicateKeyError

from herald_campaign.domain.tenants import (
    Tenant,
    TenantStatus,
    new_tenant_id,
    tenant_fields,
    tenant_of,
)
from herald_campaign.service_layer.campaigns import stored_now
from herald_campaign.service_layer.errors import (
    CampaignConflict,
    CampaignNotFound,
    OperationRefused,
)
from herald_campaign.service_layer.lifecycle import CampaignLifecycle
from herald_core.campaigns.lifecycle import CampaignStatus
from herald_infra.mongo.client import CAMPAIGNS, TENANTS, Database, Document
from herald_infra.runtime.logging import get_logger

log = get_logger(__name__)

DISABLED_REASON = "tenant disabled"
TENANT_DISABLED = "tenant-disabled"
"""Why a disabled tenant's request or command is refused."""


class TenantNotFound(OperationRefused):
    """No tenant with this id has a document (was created)."""

    reason = "unknown-tenant"

    def __init__(self, tenant_id: str) -> None:
        super().__init__(f"tenant {tenant_id} not found")
        self.tenant_id = tenant_id


class TenantConflict(OperationRefused):
    """The tenant exists already (``tenant-exists``), or is disabled (``tenant-disabled``)."""


@dataclass(frozen=True)
class TenantPage:
    tenants: list[Tenant]
    total: int


@dataclass(frozen=True)
class DisabledTenant:
    tenant: Tenant
    paused_campaigns: int
    """The running campaigns this call paused."""


class TenantService:
    def __init__(
        self, db: Database, lifecycle: CampaignLifecycle, *, cache_seconds: float = 2.0
    ) -> None:
        self._tenants = db[TENANTS]
        self._campaigns = db[CAMPAIGNS]
        self._lifecycle = lifecycle
        self._cache_seconds = cache_seconds
        self._disabled: dict[str, tuple[bool, float]] = {}

    async def is_disabled(self, tenant_id: str) -> bool:
        """Whether the tenant is disabled, read at most once per ``cache_seconds`` (the bound
        its keys have too); a tenant without a document is not."""
        now = time.monotonic()
        known = self._disabled.get(tenant_id)
        if known is not None and known[1] > now:
            return known[0]
        document = await self._tenants.find_one({"_id": tenant_id}, {"disabled": 1})
        disabled = bool(document and document.get("disabled"))
        if len(self._disabled) >= 10_000:
            self._disabled.clear()
        self._disabled[tenant_id] = (disabled, now + self._cache_seconds)
        return disabled

    async def create(self, tenant_id: str | None, name: str) -> Tenant:
        """A new enabled tenant (with a generated ``tnt_…`` id when none is given); a
        :class:`TenantConflict` when the id is taken."""
        tenant_id = tenant_id or new_tenant_id()
        if not await self._write_new(tenant_id, name):
            raise TenantConflict(f"tenant {tenant_id} exists already", "tenant-exists")
        log.info("tenant created", tenant_id=tenant_id)
        return await self.get(tenant_id)

    async def ensure(self, tenant_id: str, name: str) -> None:
        """Create the tenant unless it exists (the deployment's default tenant, at start)."""
        await self._write_new(tenant_id, name)

    async def _write_new(self, tenant_id: str, name: str) -> bool:
        # A document without createdAt was written by another module (the tenant's quotas,
        # say) before anyone created the tenant: creating it completes that document.
        try:
            await self._tenants.update_one(
                {"_id": tenant_id, "createdAt": {"$exists": False}},
                {"$set": tenant_fields(name, stored_now())},
                upsert=True,
            )
        except DuplicateKeyError:
            return False
        return True

    async def get(self, tenant_id: str) -> Tenant:
        document = await self._tenants.find_one({"_id": tenant_id})
        if document is None:
            raise TenantNotFound(tenant_id)
        return tenant_of(document)

    async def list_tenants(
        self, *, status: TenantStatus | None, limit: int, offset: int
    ) -> TenantPage:
        """The tenants in id order."""
        selector: Document = {}
        if status is TenantStatus.DISABLED:
            selector["disabled"] = True
        elif status is TenantStatus.ENABLED:
            selector["disabled"] = {"$ne": True}
        found = self._tenants.find(selector).sort("_id", 1).skip(offset).limit(limit)
        tenants = [tenant_of(d) async for d in found]
        return TenantPage(tenants, await self._tenants.count_documents(selector))

    async def disable(self, tenant_id: str) -> DisabledTenant:
        """Disable the tenant and pause its running campaigns. Again on a disabled tenant:
        pauses what still runs (a campaign resumed in the moments its key still worked)."""
        moved = await self._tenants.update_one(
            {"_id": tenant_id, "disabled": {"$ne": True}},
            {"$set": {"disabled": True, "disabledAt": stored_now()}},
        )
        if moved.matched_count:
            log.info("tenant disabled", tenant_id=tenant_id)
        tenant = await self.get(tenant_id)
        return DisabledTenant(tenant, await self._pause_running(tenant_id))

    async def enable(self, tenant_id: str) -> Tenant:
        """Let the tenant's keys work again; its paused campaigns stay paused."""
        moved = await self._tenants.update_one(
            {"_id": tenant_id, "disabled": True},
            {"$set": {"disabled": False}, "$unset": {"disabledAt": ""}},
        )
        if moved.matched_count:
            log.info("tenant enabled", tenant_id=tenant_id)
        return await self.get(tenant_id)

    async def require_enabled(self, tenant_id: str) -> Tenant:
        """The tenant; :class:`TenantNotFound` or, when disabled, :class:`TenantConflict`."""
        tenant = await self.get(tenant_id)
        if tenant.disabled:
            raise TenantConflict(
                f"tenant {tenant_id} is disabled; enable it first", TENANT_DISABLED
            )
        return tenant

    async def _pause_running(self, tenant_id: str) -> int:
        running = self._campaigns.find(
            {"tenantId": tenant_id, "status": CampaignStatus.RUNNING.value}, {"_id": 1}
        )
        ids = [str(d["_id"]) async for d in running]
        paused = 0
        for campaign_id in ids:
            try:
                await self._lifecycle.pause(
                    tenant_id, campaign_id, by="system", reason=DISABLED_REASON
                )
            except (CampaignConflict, CampaignNotFound):
                continue  # it ended, or was paused or cancelled, meanwhile
            paused += 1
        if paused:
            log.info("campaigns of a disabled tenant paused", tenant_id=tenant_id, paused=paused)
        return paused
