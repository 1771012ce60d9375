"""A tenant's suppression list and opt-out keywords: what the REST API and the CLI change.

The list itself is :mod:`herald_infra.recipients.suppressions` (the dispatcher and the senders
read it too); this module adds the tenant's own operations on it (add, remove, import, export,
list) and the announcements of each change on ``contact.events``.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterable, AsyncIterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from herald_campaign.domain.contact_csv import ContactCsvReader, CsvContact, CsvRejectedRow
from herald_campaign.domain.opt_out_keywords import (
    DEFAULT_SETTINGS,
    KeywordClass,
    KeywordSettings,
)
from herald_campaign.domain.phones import InvalidPhoneNumber, normalise_phone
from herald_campaign.service_layer.ports import ContactEventPublisher
from herald_core.contracts.common import utc_now
from herald_core.contracts.events import ContactOptedIn, ContactOptedOut
from herald_core.messages.states import MessageStatus
from herald_core.recipients.suppression import (
    SuppressionReason,
    SuppressionScope,
    suppression_id,
    tenant_id_range,
)
from herald_infra.mongo.client import (
    CAMPAIGNS,
    MESSAGES,
    OPT_OUT_SETTINGS,
    SUPPRESSIONS,
    Database,
    Document,
)
from herald_infra.recipients.suppressions import lift, suppress, suppress_new

IMPORT_BATCH = 1000
LISTED_REJECTIONS = 100
NOT_ON_WHATSAPP_REASON = "not-on-whatsapp"


@dataclass(frozen=True)
class SuppressionEntry:
    phone: str
    reason: SuppressionReason
    suppressed_at: datetime
    source: dict[str, Any]

    @classmethod
    def of(cls, document: Document) -> SuppressionEntry:
        return cls(
            phone=document["phone"],
            reason=SuppressionReason(document["reason"]),
            suppressed_at=document["suppressedAt"],
            source=dict(document.get("source") or {}),
        )


@dataclass
class SuppressionImport:
    """What an import did: ``added`` new entries, ``already`` on the list, rows rejected."""

    added: int = 0
    already: int = 0
    rejected: list[CsvRejectedRow] = field(default_factory=list)
    rejected_count: int = 0


class CampaignNotFoundForSuppression(LookupError):
    pass


class SuppressionService:
    def __init__(
        self,
        db: Database,
        events: ContactEventPublisher,
        *,
        scope: SuppressionScope,
        default_region: str | None,
    ) -> None:
        self._db = db
        self._events = events
        self._scope = scope
        self._region = default_region

    @property
    def scope(self) -> SuppressionScope:
        return self._scope

    async def page(
        self, tenant_id: str, *, after: str | None, limit: int
    ) -> list[SuppressionEntry]:
        """The tenant's active entries in number order, from after ``after``."""
        low, high = tenant_id_range(tenant_id)
        start = suppression_id(tenant_id, after) if after else low
        cursor = (
            self._db[SUPPRESSIONS]
            .find({"_id": {"$gt" if after else "$gte": start, "$lt": high}, "active": True})
            .sort("_id", 1)
            .limit(limit)
        )
        return [SuppressionEntry.of(d) async for d in cursor]

    async def entry(self, tenant_id: str, phone: str) -> SuppressionEntry | None:
        found = await self._db[SUPPRESSIONS].find_one(
            {"_id": suppression_id(tenant_id, phone), "active": True}
        )
        return None if found is None else SuppressionEntry.of(found)

    async def count(self, tenant_id: str) -> int:
        low, high = tenant_id_range(tenant_id)
        return await self._db[SUPPRESSIONS].count_documents(
            {"_id": {"$gte": low, "$lt": high}, "active": True}
        )

    async def add(
        self,
        tenant_id: str,
        phones: Sequence[str],
        *,
        reason: SuppressionReason = SuppressionReason.MANUAL,
        source: dict[str, Any] | None = None,
    ) -> int:
        """Put each of ``phones`` (E.164) on the list; announces and returns the new ones."""
        now = utc_now()
        fresh = await suppress_new(
            self._db, tenant_id, phones, reason, source or {"by": "tenant"}, now=now
        )
        await asyncio.gather(
            *(
                self._events.publish(
                    ContactOptedOut(tenant_id=tenant_id, phone=phone, reason=reason.value, at=now)
                )
                for phone in fresh
            )
        )
        return len(fresh)

    async def remove(self, tenant_id: str, phone: str) -> bool:
        """Take ``phone`` off the list, whatever put it there; False if it was not on it."""
        now = utc_now()
        if not await lift(self._db, tenant_id, phone, now=now):
            return False
        await self._events.publish(
            ContactOptedIn(tenant_id=tenant_id, phone=phone, reason="manual", at=now)
        )
        return True

    def normalise(self, raw: str) -> str:
        """A written number in E.164; raises :class:`InvalidPhoneNumber`."""
        return normalise_phone(raw, self._region)

    async def import_csv(self, tenant_id: str, chunks: AsyncIterable[bytes]) -> SuppressionImport:
        """Add the numbers of a CSV file (a ``phone`` column; other columns are ignored) as
        ``import`` entries, a batch at a time; raises the reader's errors for a file that
        cannot be read (the batches before it were added)."""
        reader = ContactCsvReader()
        outcome = SuppressionImport()
        batch: list[str] = []

        async def flush() -> None:
            if not batch:
                return
            added = await self.add(
                tenant_id, batch, reason=SuppressionReason.IMPORT, source={"by": "import"}
            )
            outcome.added += added
            outcome.already += len(batch) - added
            batch.clear()

        async def take(rows: Sequence[CsvContact | CsvRejectedRow]) -> None:
            for row in rows:
                if isinstance(row, CsvRejectedRow):
                    self._reject(outcome, row)
                    continue
                try:
                    batch.append(self.normalise(row.contact.phone))
                except InvalidPhoneNumber as invalid:
                    self._reject(
                        outcome, CsvRejectedRow(row.line, row.contact.phone, invalid.reason)
                    )
                if len(batch) >= IMPORT_BATCH:
                    await flush()

        async for chunk in chunks:
            await take(reader.feed(chunk))
        await take(reader.finish())
        await flush()
        return outcome

    @staticmethod
    def _reject(outcome: SuppressionImport, row: CsvRejectedRow) -> None:
        outcome.rejected_count += 1
        if len(outcome.rejected) < LISTED_REJECTIONS:
            outcome.rejected.append(row)

    async def export(self, tenant_id: str, *, batch: int = 1000) -> AsyncIterator[SuppressionEntry]:
        """Every active entry of the tenant, in number order, read a page at a time."""
        after: str | None = None
        while True:
            page = await self.page(tenant_id, after=after, limit=batch)
            for entry in page:
                yield entry
            if len(page) < batch:
                return
            after = page[-1].phone

    async def add_not_on_whatsapp(self, tenant_id: str, campaign_id: str) -> tuple[int, int]:
        """Put the numbers of the campaign's messages that failed ``not-on-whatsapp`` on the
        list (the tenant's choice: they may join WhatsApp later); how many were new, and how
        many were on it already."""
        if await self._db[CAMPAIGNS].find_one({"_id": campaign_id, "tenantId": tenant_id}) is None:
            raise CampaignNotFoundForSuppression(campaign_id)
        cursor = self._db[MESSAGES].find(
            {
                "status": MessageStatus.FAILED.value,
                "campaignId": campaign_id,
                "failedReason": NOT_ON_WHATSAPP_REASON,
            },
            {"phone": 1},
        )
        added, found, batch = 0, set[str](), list[str]()
        async for message in cursor:
            if message["phone"] in found:
                continue
            found.add(message["phone"])
            batch.append(message["phone"])
            if len(batch) >= IMPORT_BATCH:
                added += await self._add_found(tenant_id, campaign_id, batch)
                batch = []
        added += await self._add_found(tenant_id, campaign_id, batch)
        return added, len(found) - added

    async def _add_found(self, tenant_id: str, campaign_id: str, phones: list[str]) -> int:
        if not phones:
            return 0
        return await self.add(
            tenant_id,
            phones,
            reason=SuppressionReason.NOT_ON_WHATSAPP,
            source={"by": "tenant", "campaignId": campaign_id},
        )

    async def keyword_settings(self, tenant_id: str) -> KeywordSettings:
        found = await self._db[OPT_OUT_SETTINGS].find_one({"_id": tenant_id})
        return DEFAULT_SETTINGS if found is None else settings_of(found)

    async def set_keyword_settings(self, tenant_id: str, settings: KeywordSettings) -> None:
        await self._db[OPT_OUT_SETTINGS].replace_one(
            {"_id": tenant_id},
            {**settings_document(settings), "updatedAt": utc_now()},
            upsert=True,
        )

    async def mark_keyword(self, tenant_id: str, phone: str, source: dict[str, Any]) -> bool:
        """A recipient's opt-out keyword: on the list unless it is already; True if new."""
        return await suppress(self._db, tenant_id, phone, SuppressionReason.KEYWORD, source)

    async def lift_keyword(self, tenant_id: str, phone: str) -> bool:
        """A recipient's opt-in keyword: lifts only a keyword opt-out; True if it did."""
        return await lift(self._db, tenant_id, phone, only=SuppressionReason.KEYWORD)


def settings_document(settings: KeywordSettings) -> Document:
    return {
        "languages": list(settings.languages),
        "extra": {k.value: list(v) for k, v in settings.extra.items()},
        "removed": list(settings.removed),
        "replies": {k.value: v for k, v in settings.replies.items()},
    }


def settings_of(document: Document) -> KeywordSettings:
    return KeywordSettings(
        languages=tuple(document.get("languages") or ()),
        extra={KeywordClass(k): tuple(v) for k, v in (document.get("extra") or {}).items()},
        removed=tuple(document.get("removed") or ()),
        replies={KeywordClass(k): v for k, v in (document.get("replies") or {}).items()},
    )
