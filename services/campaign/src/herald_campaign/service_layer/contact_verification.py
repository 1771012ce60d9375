"""Checking a campaign's contacts ahead of its send: which numbers are on WhatsApp.

``start`` begins (or, after a stop, resumes) a verification in the background and answers at
once; ``progress`` reports it. It asks the gateway of the tenant's first enabled sender account
(its primary session), or the deployment's own gateway for a tenant without accounts, about every
contact without a remembered answer (``number_checks``, per tenant, the answers the senders use
too). Each request takes a turn of that account's anti-ban pace, as a send does, with the
campaign's delay profile: a check is a request to WhatsApp. A request asks about as many numbers
as the gateway takes at once (WAHA one, Evolution a list).

The answers stay after a crash; a verification whose process went away (no progress written for
``STALE_SECONDS``) is taken up again by the next ``start``, and skips what was answered.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from pymongo.errors import DuplicateKeyError

from herald_campaign.service_layer.campaigns import stored_now
from herald_campaign.service_layer.errors import CampaignNotFound
from herald_campaign.service_layer.ports import GatewayFactory
from herald_core.contracts.common import DelayType
from herald_core.pacing import PaceRange, pace_range
from herald_gateways.failures import fixed_form
from herald_gateways.interface import Gateway, GatewayError
from herald_gateways.support import NUMBERS_PER_CHECK
from herald_infra.accounts.pace_slots import AccountPace
from herald_infra.accounts.repository import tenant_accounts
from herald_infra.mongo.client import CAMPAIGNS, CONTACT_VERIFICATIONS, CONTACTS, Database, Document
from herald_infra.recipients.number_checks import known_answers, remember_answers
from herald_infra.runtime.logging import get_logger

log = get_logger(__name__)

STALE_SECONDS = 120.0
PAGE = 500


class VerificationStatus(StrEnum):
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


@dataclass(frozen=True)
class VerificationProgress:
    campaign_id: str
    status: VerificationStatus
    contacts: int
    checked: int
    on_whatsapp: int
    not_on_whatsapp: int
    detail: str | None
    started_at: datetime
    updated_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class CheckingGateway:
    """Where the checks go: the account whose pace they take, its gateway kind and session."""

    account_id: str
    kind: str
    base_url: str
    api_key: str | None
    session: str


def _progress(document: Document) -> VerificationProgress:
    return VerificationProgress(
        campaign_id=document["_id"],
        status=VerificationStatus(document["status"]),
        contacts=int(document.get("contacts", 0)),
        checked=int(document.get("checked", 0)),
        on_whatsapp=int(document.get("onWhatsapp", 0)),
        not_on_whatsapp=int(document.get("notOnWhatsapp", 0)),
        detail=document.get("detail"),
        started_at=document["startedAt"],
        updated_at=document["updatedAt"],
        finished_at=document.get("finishedAt"),
    )


class ContactVerification:
    def __init__(
        self,
        db: Database,
        *,
        deployment_gateway: CheckingGateway,
        build: GatewayFactory,
        timeout_seconds: float,
        pace_scale: float,
        keep_answers_hours: float,
        clock: Callable[[], datetime] = stored_now,
    ) -> None:
        """``deployment_gateway``: the deployment's own gateway (``HERALD_GATEWAY_*``) and the
        default account, for tenants without accounts."""
        self._db = db
        self._deployment = deployment_gateway
        self._build = build
        self._timeout = timeout_seconds
        self._pace = AccountPace(db, hold_seconds=timeout_seconds + 5)
        self._scale = pace_scale
        self._keep = timedelta(hours=keep_answers_hours or 168)
        self._clock = clock
        self._running: dict[str, asyncio.Task[None]] = {}

    async def start(self, tenant_id: str, campaign_id: str) -> VerificationProgress:
        """Begin verifying the campaign's contacts (or report the verification under way);
        CampaignNotFound for another tenant's campaign."""
        campaign = await self._campaign(tenant_id, campaign_id)
        now = self._clock()
        stale = now - timedelta(seconds=STALE_SECONDS)
        contacts = await self._db[CONTACTS].count_documents({"campaignId": campaign_id})
        taken = campaign_id not in self._running and await self._take(
            tenant_id, campaign_id, contacts, now, stale
        )
        if taken:
            task = asyncio.create_task(self._verify(campaign, campaign_id))
            self._running[campaign_id] = task
            task.add_done_callback(lambda _: self._running.pop(campaign_id, None))
        return await self.progress(tenant_id, campaign_id)

    async def progress(self, tenant_id: str, campaign_id: str) -> VerificationProgress:
        """The campaign's verification; CampaignNotFound when it has none (or is another
        tenant's)."""
        found = await self._db[CONTACT_VERIFICATIONS].find_one(
            {"_id": campaign_id, "tenantId": tenant_id}
        )
        if found is None:
            raise CampaignNotFound(campaign_id)
        return _progress(found)

    async def stop(self) -> None:
        """Cancel the verifications this process runs (the next start takes them up)."""
        tasks = list(self._running.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def _take(
        self, tenant_id: str, campaign_id: str, contacts: int, now: datetime, stale: datetime
    ) -> bool:
        """Record a verification as running here; False when another start took it first."""
        fresh = {
            "tenantId": tenant_id,
            "status": VerificationStatus.RUNNING.value,
            "contacts": contacts,
            "checked": 0,
            "onWhatsapp": 0,
            "notOnWhatsapp": 0,
            "detail": None,
            "startedAt": now,
            "updatedAt": now,
            "finishedAt": None,
        }
        verifications = self._db[CONTACT_VERIFICATIONS]
        try:
            await verifications.insert_one({"_id": campaign_id, **fresh})
            return True
        except DuplicateKeyError:
            pass
        over = await verifications.update_one(
            {
                "_id": campaign_id,
                "$or": [
                    {"status": {"$ne": VerificationStatus.RUNNING.value}},
                    {"updatedAt": {"$lt": stale}},
                ],
            },
            {"$set": fresh},
        )
        return over.modified_count == 1

    async def _campaign(self, tenant_id: str, campaign_id: str) -> Document:
        campaign = await self._db[CAMPAIGNS].find_one({"_id": campaign_id, "tenantId": tenant_id})
        if campaign is None:
            raise CampaignNotFound(campaign_id)
        return campaign

    async def _verify(self, campaign: Document, campaign_id: str) -> None:
        tenant_id = str(campaign["tenantId"])
        try:
            where = await self._checking_gateway(tenant_id)
            gateway = self._build(where.kind, where.base_url, where.api_key, self._timeout)
            try:
                await self._check_all(campaign, campaign_id, where, gateway)
            finally:
                await gateway.close()
        except GatewayError as error:
            await self._finish(campaign_id, VerificationStatus.FAILED, fixed_form(error))
            return
        except asyncio.CancelledError:
            raise
        except Exception as error:  # recorded for the tenant, then the task ends
            log.exception("contact verification failed", campaign_id=campaign_id)
            await self._finish(campaign_id, VerificationStatus.FAILED, f"internal-error: {error!r}")
            return
        await self._finish(campaign_id, VerificationStatus.DONE, None)

    async def _checking_gateway(self, tenant_id: str) -> CheckingGateway:
        for account in await tenant_accounts(self._db, tenant_id):
            if account.enabled:
                session = account.primary
                key = session.api_key.get_secret_value() if session.api_key is not None else None
                return CheckingGateway(
                    account.id, session.gateway.value, session.base_url, key, session.session
                )
        d = self._deployment
        return CheckingGateway(d.account_id, d.kind, d.base_url, d.api_key, d.session)

    async def _check_all(
        self, campaign: Document, campaign_id: str, where: CheckingGateway, gateway: Gateway
    ) -> None:
        tenant_id = str(campaign["tenantId"])
        custom = campaign.get("customDelay")
        pace = pace_range(
            DelayType(campaign.get("delayType", DelayType.BALANCED.value)),
            (custom["minSeconds"], custom["maxSeconds"]) if custom else None,
            scale=self._scale,
        )
        per_request = NUMBERS_PER_CHECK.get(where.kind, 1)
        last_id = ""
        while True:
            page = [
                document
                async for document in self._db[CONTACTS]
                .find({"campaignId": campaign_id, "_id": {"$gt": last_id}}, {"phone": 1})
                .sort("_id", 1)
                .limit(PAGE)
            ]
            if not page:
                return
            last_id = str(page[-1]["_id"])
            phones = [str(document["phone"]) for document in page]
            known = await known_answers(self._db, tenant_id, phones, self._clock())
            await self._count(campaign_id, known)
            unknown = [phone for phone in phones if phone not in known]
            for start in range(0, len(unknown), per_request):
                batch = unknown[start : start + per_request]
                answers = await self._ask(gateway, where, pace, batch)
                await remember_answers(
                    self._db, tenant_id, answers, now=self._clock(), keep_for=self._keep
                )
                await self._count(campaign_id, answers)

    async def _ask(
        self, gateway: Gateway, where: CheckingGateway, pace: PaceRange, phones: Sequence[str]
    ) -> dict[str, bool]:
        """One request about ``phones``, in a turn of the account's pace (none with pacing
        off)."""
        if self._scale == 0:
            return await gateway.check_numbers(where.session, phones)
        slot = await self._pace.wait_for_slot(where.account_id, pace)
        try:
            return await gateway.check_numbers(where.session, phones)
        finally:
            await self._pace.release(slot)

    async def _count(self, campaign_id: str, answers: dict[str, bool]) -> None:
        on = sum(1 for exists in answers.values() if exists)
        await self._db[CONTACT_VERIFICATIONS].update_one(
            {"_id": campaign_id},
            {
                "$inc": {
                    "checked": len(answers),
                    "onWhatsapp": on,
                    "notOnWhatsapp": len(answers) - on,
                },
                "$set": {"updatedAt": self._clock()},
            },
        )

    async def _finish(
        self, campaign_id: str, status: VerificationStatus, detail: str | None
    ) -> None:
        now = self._clock()
        await self._db[CONTACT_VERIFICATIONS].update_one(
            {"_id": campaign_id},
            {
                "$set": {
                    "status": status.value,
                    "detail": detail,
                    "updatedAt": now,
                    "finishedAt": now,
                }
            },
        )
        log.info("contact verification ended", campaign_id=campaign_id, status=status.value)
