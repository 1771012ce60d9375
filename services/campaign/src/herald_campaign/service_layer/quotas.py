"""Tenants' quotas in MongoDB: each tenant's effective quotas (the defaults and an operator's
overrides), what it holds of each, and the guards every operation that adds something passes.

A guard counts and acts under a short lease of its own (``quota_locks``, one per tenant and
quota, or per campaign for its contacts), so two requests at once cannot both take the last
place: the second one counts after the first one acted. Taking a place back (a campaign that
pauses or completes, a schedule stopped) needs no lease; a count that runs while one happens
is at worst one too high, and the request is refused as if it came a moment earlier.

The rules themselves (what passes a quota, a cron's shortest interval) are pure, in
:mod:`herald_campaign.domain.quotas`.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo.errors import DuplicateKeyError

from herald_campaign.domain.campaigns import CampaignStatus, contact_id
from herald_campaign.domain.quotas import (
    DEFAULT_QUOTAS,
    QuotaName,
    QuotaRefusal,
    Quotas,
    accounts_refusal,
    contacts_refusal,
    cron_interval_refusal,
    running_refusal,
    schedules_refusal,
)
from herald_campaign.domain.schedules import SendSchedule
from herald_campaign.service_layer.errors import CampaignConflict, OperationRefused
from herald_core.contracts.common import utc_now
from herald_infra.mongo.client import (
    ACCOUNTS,
    CAMPAIGNS,
    CONTACTS,
    QUOTA_LOCKS,
    SCHEDULES,
    TENANTS,
    Database,
    Document,
)
from herald_infra.mongo.id_batches import find_by_ids
from herald_infra.runtime.logging import get_logger

log = get_logger(__name__)

LEASE_SECONDS = 15.0
"""How long a guard's lease lasts: a process that died holding one holds it no longer."""
WAIT_SECONDS = 20.0
"""How long a guard waits for a lease another request holds (longer than a lease)."""


class QuotaExceeded(OperationRefused):
    """The request would pass one of the tenant's quotas: ``quota`` names it (the API's name,
    ``runningCampaigns``), ``limit`` is its value, ``used`` what the tenant holds (None for the
    cron interval). ``field`` names the request field at fault, for a quota on a value
    (``cron``), None for a quota on a count."""

    reason = "quota-exceeded"

    def __init__(self, refusal: QuotaRefusal, *, field: str | None = None) -> None:
        super().__init__(refusal.message)
        self.quota = refusal.quota
        self.limit = refusal.limit
        self.used = refusal.used
        self.field = field


class NoSenderAccount(CampaignConflict):
    """A tenant without sender accounts tries to send where the deployment has no shared
    gateway."""

    reason = "no-sender-account"


class UnknownTenant(OperationRefused):
    """No tenant with this id has a document: an operator's quota route names a tenant
    nobody created (``POST /api/admin/tenants``)."""

    reason = "unknown-tenant"

    def __init__(self, tenant_id: str) -> None:
        super().__init__(f"tenant {tenant_id} not found")
        self.tenant_id = tenant_id


class QuotaBusy(CampaignConflict):
    """A guard's lease stayed taken for longer than :data:`WAIT_SECONDS`."""

    reason = "quota-busy"


def _refuse(refusal: QuotaRefusal | None, *, field: str | None = None) -> None:
    if refusal is not None:
        log.info("quota exceeded", quota=refusal.quota.value, limit=refusal.limit)
        raise QuotaExceeded(refusal, field=field)


@dataclass(frozen=True)
class QuotaUsage:
    """What a tenant holds now of each quota that counts (the contacts of one campaign are
    on that campaign, ``contactCount``)."""

    running_campaigns: int
    accounts: int
    schedules: int

    def as_dict(self) -> dict[str, int | None]:
        return {
            QuotaName.CONTACTS_PER_CAMPAIGN.value: None,
            QuotaName.RUNNING_CAMPAIGNS.value: self.running_campaigns,
            QuotaName.ACCOUNTS.value: self.accounts,
            QuotaName.SCHEDULES.value: self.schedules,
            QuotaName.MIN_CRON_INTERVAL_SECONDS.value: None,
            QuotaName.MESSAGE_RETENTION_DAYS.value: None,
        }


class QuotaLeases:
    """Short leases in ``quota_locks``: a guard holds its key while it counts and acts."""

    def __init__(
        self,
        db: Database,
        *,
        lease_seconds: float = LEASE_SECONDS,
        wait_seconds: float = WAIT_SECONDS,
    ) -> None:
        self._locks = db[QUOTA_LOCKS]
        self._lease = timedelta(seconds=lease_seconds)
        self._wait = wait_seconds

    @asynccontextmanager
    async def held(self, key: str) -> AsyncIterator[Lease]:
        """Hold ``key``, waiting while someone else does (:class:`QuotaBusy` after
        :data:`WAIT_SECONDS`)."""
        token = uuid.uuid4().hex
        deadline = time.monotonic() + self._wait
        pause = 0.005
        while not await self._take(key, token):
            if time.monotonic() > deadline:
                raise QuotaBusy(
                    "another request of the tenant is counting the same quota; try again",
                    "quota-busy",
                )
            await asyncio.sleep(pause)
            pause = min(pause * 2, 0.1)
        found = await self._locks.find_one({"_id": key}, {"count": 1})
        lease = Lease(count=(found or {}).get("count"))
        try:
            yield lease
        finally:
            left: Document = (
                {"$set": {"holder": None, "count": lease.left}}
                if lease.left is not None
                else {"$set": {"holder": None}, "$unset": {"count": ""}}
            )
            await self._locks.update_one({"_id": key, "holder": token}, left)

    async def _take(self, key: str, token: str) -> bool:
        now = utc_now()
        mine = {"holder": token, "expiresAt": now + self._lease}
        free = await self._locks.update_one({"_id": key, "holder": None}, {"$set": mine})
        if free.modified_count:
            return True
        # A holder whose lease ran out died holding it: what it counted is not to be trusted.
        lapsed = await self._locks.update_one(
            {"_id": key, "expiresAt": {"$lte": now}}, {"$set": mine, "$unset": {"count": ""}}
        )
        if lapsed.modified_count:
            return True
        try:
            await self._locks.insert_one({"_id": key, **mine})
        except DuplicateKeyError:
            return False  # held
        return True


@dataclass
class Lease:
    """A held lease, and a count its holders hand on (what is counted under this key, as the
    last holder left it; None: unknown, count again)."""

    count: int | None = None
    left: int | None = None
    """What this holder leaves for the next one (None: unknown)."""


@dataclass
class ContactsAdded:
    """Tell the guard how many contacts were inserted (so the next one need not count)."""

    inserted: int | None = None
    total: int | None = None
    """Set by the guard once they were: the contacts in the campaign then (None: not known;
    count them)."""


class TenantQuotas:
    """Each tenant's quotas, what it holds of them, and the guards of what adds to them."""

    def __init__(
        self,
        db: Database,
        defaults: Quotas = DEFAULT_QUOTAS,
        *,
        cache_seconds: float = 5.0,
        shared_gateway: bool = True,
        leases: QuotaLeases | None = None,
    ) -> None:
        """``shared_gateway``: whether tenants without sender accounts send through the
        deployment's shared gateway (else they cannot send)."""
        self._tenants = db[TENANTS]
        self._campaigns = db[CAMPAIGNS]
        self._contacts = db[CONTACTS]
        self._accounts = db[ACCOUNTS]
        self._schedules = db[SCHEDULES]
        self._defaults = defaults
        self._cache_seconds = cache_seconds
        self._cache: dict[str, tuple[float, Quotas]] = {}
        self._leases = leases or QuotaLeases(db)
        self.shared_gateway = shared_gateway

    @property
    def defaults(self) -> Quotas:
        return self._defaults

    # Reading and setting

    async def overrides_of(self, tenant_id: str) -> dict[str, int]:
        """The operator's overrides of the tenant's quotas, by the quotas' API names."""
        document = await self._tenants.find_one({"_id": tenant_id}, {"quotas": 1})
        stored = (document or {}).get("quotas") or {}
        known = {q.value for q in QuotaName}
        return {k: v for k, v in stored.items() if k in known and isinstance(v, int)}

    async def quotas_of(self, tenant_id: str) -> Quotas:
        """The tenant's effective quotas, read at most once per ``cache_seconds``."""
        cached = self._cache.get(tenant_id)
        if cached is not None and cached[0] > time.monotonic():
            return cached[1]
        quotas = self._defaults.overridden(await self.overrides_of(tenant_id))
        if self._cache_seconds > 0:
            if len(self._cache) > 10_000:
                self._cache.clear()
            self._cache[tenant_id] = (time.monotonic() + self._cache_seconds, quotas)
        return quotas

    async def operator_view(self, tenant_id: str) -> tuple[Quotas, dict[str, int]]:
        """The tenant's effective quotas and the overrides they come from, read now;
        :class:`UnknownTenant` for a tenant without a document."""
        document = await self._tenants.find_one({"_id": tenant_id}, {"_id": 1})
        if document is None:
            raise UnknownTenant(tenant_id)
        overrides = await self.overrides_of(tenant_id)
        return self._defaults.overridden(overrides), overrides

    async def set_overrides(self, tenant_id: str, changes: Mapping[str, int | None]) -> Quotas:
        """Change some of the tenant's overrides (by API name; None: back to the default) and
        return its effective quotas; :class:`UnknownTenant` for a tenant without a document
        (``POST /api/admin/tenants`` creates it). The caller checked the values
        (:func:`herald_campaign.domain.quotas.is_quota_value`). This process applies them at
        once, others within ``cache_seconds``."""
        set_fields = {f"quotas.{k}": v for k, v in changes.items() if v is not None}
        unset_fields = {f"quotas.{k}": "" for k, v in changes.items() if v is None}
        update: dict[str, object] = {}
        if set_fields:
            update["$set"] = set_fields
        if unset_fields:
            update["$unset"] = unset_fields
        if update:
            changed = await self._tenants.update_one({"_id": tenant_id}, update)
            if changed.matched_count == 0:
                raise UnknownTenant(tenant_id)
            log.info("tenant quotas changed", tenant_id=tenant_id, quotas=dict(changes))
        elif await self._tenants.find_one({"_id": tenant_id}, {"_id": 1}) is None:
            raise UnknownTenant(tenant_id)
        self._cache.pop(tenant_id, None)
        return await self.quotas_of(tenant_id)

    async def usage_of(self, tenant_id: str) -> QuotaUsage:
        running, accounts, schedules = await asyncio.gather(
            self._running(tenant_id),
            self._account_count(tenant_id),
            self._active_schedules(tenant_id),
        )
        return QuotaUsage(running, accounts, schedules)

    async def _running(self, tenant_id: str, *, besides: str | None = None) -> int:
        selector: Document = {"tenantId": tenant_id, "status": CampaignStatus.RUNNING.value}
        if besides is not None:
            selector["_id"] = {"$ne": besides}
        return int(await self._campaigns.count_documents(selector))

    async def _account_count(self, tenant_id: str) -> int:
        return int(await self._accounts.count_documents({"tenantId": tenant_id}))

    async def _active_schedules(self, tenant_id: str) -> int:
        return int(await self._schedules.count_documents({"tenantId": tenant_id, "active": True}))

    # Guards

    @asynccontextmanager
    async def room_for_contacts(
        self, tenant_id: str, campaign_id: str, phones: Sequence[str]
    ) -> AsyncIterator[ContactsAdded]:
        """Add the contacts ``phones`` (distinct, in E.164) to the campaign inside this block,
        and set how many were new on what it yields; :class:`QuotaExceeded` when the new ones
        among them would pass ``contactsPerCampaign``. Every insert of contacts goes through
        here."""
        if not phones:
            yield ContactsAdded()
            return
        limit = (await self.quotas_of(tenant_id)).contacts_per_campaign
        async with self._leases.held(f"contacts|{campaign_id}") as lease:
            # Every insert of contacts runs here and hands the count on: a big import counts
            # its campaign's contacts once, not once per batch.
            have = lease.count
            if have is None:
                have = int(await self._contacts.count_documents({"campaignId": campaign_id}))
            lease.left = have
            adding = len(phones)
            if have + adding > limit:
                # Only what the campaign does not have yet counts (a list sent again).
                ids = [contact_id(campaign_id, phone) for phone in phones]
                adding -= len(await find_by_ids(self._contacts, ids, projection={"_id": 1}))
            _refuse(contacts_refusal(limit, in_campaign=have, adding=adding))
            lease.left = None  # until the insert says how many it added
            added = ContactsAdded()
            yield added
            if added.inserted is not None:
                lease.left = added.total = have + added.inserted

    @asynccontextmanager
    async def room_to_run(self, tenant_id: str, campaign_id: str) -> AsyncIterator[None]:
        """Make the campaign ``running`` inside this block (a launch, a resume, a scheduled
        run): :class:`QuotaExceeded` when the tenant's other running campaigns fill
        ``runningCampaigns``, :class:`NoSenderAccount` when it has nothing to send through."""
        await self.check_can_send(tenant_id)
        limit = (await self.quotas_of(tenant_id)).running_campaigns
        async with self._leases.held(f"running|{tenant_id}"):
            running = await self._running(tenant_id, besides=campaign_id)
            _refuse(running_refusal(limit, running=running))
            yield

    @asynccontextmanager
    async def room_for_account(self, tenant_id: str) -> AsyncIterator[None]:
        """Store one more sender account of the tenant inside this block."""
        limit = (await self.quotas_of(tenant_id)).accounts
        async with self._leases.held(f"accounts|{tenant_id}"):
            _refuse(accounts_refusal(limit, accounts=await self._account_count(tenant_id)))
            yield

    async def check_room_for_account(self, tenant_id: str) -> None:
        """Whether one more account fits now, before its gateways are asked anything (the
        guard, :meth:`room_for_account`, decides when it is stored)."""
        limit = (await self.quotas_of(tenant_id)).accounts
        _refuse(accounts_refusal(limit, accounts=await self._account_count(tenant_id)))

    @asynccontextmanager
    async def room_for_schedule(
        self, tenant_id: str, schedule: SendSchedule, now: datetime
    ) -> AsyncIterator[None]:
        """Store one more active schedule of the tenant inside this block: within
        ``schedules``, its cron firing no more often than ``minCronIntervalSeconds`` allows
        (:class:`QuotaExceeded` naming the field ``cron``), and something to send through."""
        quotas = await self.quotas_of(tenant_id)
        if schedule.cron is not None:
            _refuse(
                cron_interval_refusal(
                    schedule.cron, schedule.timezone, quotas.min_cron_interval_seconds, now
                ),
                field="cron",
            )
        await self.check_can_send(tenant_id)
        async with self._leases.held(f"schedules|{tenant_id}"):
            _refuse(
                schedules_refusal(quotas.schedules, active=await self._active_schedules(tenant_id))
            )
            yield

    async def check_can_send(self, tenant_id: str) -> None:
        """:class:`NoSenderAccount` for a tenant without sender accounts where there is no
        shared gateway."""
        if self.shared_gateway:
            return
        if await self._accounts.find_one({"tenantId": tenant_id}, {"_id": 1}) is None:
            raise NoSenderAccount(
                "the tenant has no sender account (quota accounts) and this deployment has no "
                "shared gateway: add an account (POST /api/accounts) first",
                "no-sender-account",
            )
