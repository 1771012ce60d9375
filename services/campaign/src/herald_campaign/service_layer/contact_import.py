"""Importing a CSV contact list into a draft campaign as it arrives, in batches.

Each batch goes through the same screening and insert as contacts sent as JSON (numbers in
E.164, duplicates in the file or already in the campaign counted, a contact whose message would
be too long refused), so at most one batch of rows is held at a time, whatever the file's size.
"""

from __future__ import annotations

import heapq
from collections.abc import AsyncIterable
from dataclasses import dataclass, field

from herald_campaign.domain.contact_csv import (
    ContactCsvReader,
    CsvContact,
    CsvRejectedRow,
    CsvRow,
    CsvUnreadable,
)
from herald_campaign.service_layer.campaigns import CampaignService
from herald_campaign.service_layer.errors import CampaignConflict
from herald_campaign.service_layer.quotas import QuotaExceeded
from herald_infra.runtime.logging import bind_context, get_logger

log = get_logger(__name__)

IMPORT_BATCH_SIZE = 1000
LISTED_REJECTIONS = 1000
LISTED_SUPPRESSED = 1000


@dataclass
class ImportOutcome:
    """What an import did; ``accepted + rejected_count + duplicates`` is the data rows read."""

    accepted: int = 0
    duplicates: int = 0
    rejected: list[CsvRejectedRow] = field(default_factory=list)
    """The first rejected rows (at most the importer's ``listed_rejections``), in file order."""
    rejected_count: int = 0
    total: int = 0
    """Contacts in the campaign afterwards."""
    suppressed: int = 0
    """Contacts added whose number is on the tenant's suppression list."""
    suppressed_numbers: list[str] = field(default_factory=list)
    """The first of them (at most ``LISTED_SUPPRESSED``)."""
    listed: list[tuple[int, int, CsvRejectedRow]] = field(default_factory=list, repr=False)
    """While importing: the rejections to list, as a heap."""
    counted: int | None = field(default=None, repr=False)
    """While importing: the contacts in the campaign after the last batch that added any, as
    the quota guard counted them (None: no batch did)."""


class ImportStopped(Exception):
    """The file could not be read past ``line``; the rows before it were imported
    (``outcome``)."""

    def __init__(self, line: int, problem: str, outcome: ImportOutcome) -> None:
        super().__init__(
            f"line {line}: {problem}; the import stopped there (contacts added from the rows"
            f" before it: {outcome.accepted})"
        )
        self.line = line
        self.problem = problem
        self.outcome = outcome


class ContactImport:
    """Imports CSV contact lists through a :class:`CampaignService`."""

    def __init__(
        self,
        campaigns: CampaignService,
        *,
        batch_size: int = IMPORT_BATCH_SIZE,
        listed_rejections: int = LISTED_REJECTIONS,
    ) -> None:
        self._campaigns = campaigns
        self._batch_size = batch_size
        self._listed_rejections = listed_rejections

    async def import_csv(
        self, tenant_id: str, campaign_id: str, chunks: AsyncIterable[bytes]
    ) -> ImportOutcome:
        """Read ``chunks`` (the file's bytes, in any pieces) into the tenant's draft campaign,
        then publish one ``ContactsAdded``.

        The campaign is checked before the first byte is read (:class:`CampaignNotFound`,
        :class:`CampaignConflict`) and again before each batch, as is the tenant's
        ``contactsPerCampaign`` (:class:`QuotaExceeded`, the rows before the batch that would
        pass it imported); a bad header raises
        :class:`CsvHeaderInvalid` before anything is written; an unreadable line raises
        :class:`ImportStopped` with what the rows before it did.
        """
        bind_context(campaign_id=campaign_id)
        await self._campaigns.campaign_taking_contacts(tenant_id, campaign_id)
        reader = ContactCsvReader()
        outcome = ImportOutcome()
        batch: list[CsvContact] = []

        async def take(rows: list[CsvRow]) -> None:
            for row in rows:
                if isinstance(row, CsvRejectedRow):
                    self._reject(outcome, row)
                    continue
                batch.append(row)
                if len(batch) >= self._batch_size:
                    await self._import_batch(tenant_id, campaign_id, batch, outcome)
                    batch.clear()

        try:
            async for chunk in chunks:
                await take(reader.feed(chunk))
            await take(reader.finish())
        except CsvUnreadable as unreadable:
            # The reader gave every row before the bad line: those are imported.
            if batch:
                await self._import_batch(tenant_id, campaign_id, batch, outcome)
            await self._finish(tenant_id, campaign_id, outcome)
            raise ImportStopped(unreadable.line, unreadable.problem, outcome) from None
        if batch:
            await self._import_batch(tenant_id, campaign_id, batch, outcome)
        await self._finish(tenant_id, campaign_id, outcome)
        return outcome

    async def _import_batch(
        self, tenant_id: str, campaign_id: str, batch: list[CsvContact], outcome: ImportOutcome
    ) -> None:
        try:
            campaign = await self._campaigns.campaign_taking_contacts(tenant_id, campaign_id)
        except CampaignConflict as conflict:
            # Sent (or cancelled) while its list was still arriving: stop, and say how far.
            await self._finish(tenant_id, campaign_id, outcome)
            raise CampaignConflict(
                f"{conflict.message}; the import stopped at line {batch[0].line} (contacts added"
                f" before it: {outcome.accepted})",
                conflict.reason,
            ) from None
        screening = self._campaigns.screen_contacts(campaign, [row.contact for row in batch])
        for rejected in screening.rejected:
            self._reject(
                outcome, CsvRejectedRow(batch[rejected.index].line, rejected.phone, rejected.reason)
            )
        phones = [c.phone for c in screening.accepted]
        try:
            quotas = self._campaigns.quotas
            async with quotas.room_for_contacts(tenant_id, campaign_id, phones) as added:
                inserted = await self._campaigns.insert_contacts(
                    tenant_id, campaign_id, screening.accepted
                )
                added.inserted = inserted
            if added.total is not None:
                outcome.counted = added.total
        except QuotaExceeded as exceeded:
            # The campaign is full: stop, and say how far the file got.
            await self._finish(tenant_id, campaign_id, outcome)
            exceeded.message = (
                f"{exceeded.message}; the import stopped at line {batch[0].line} (contacts "
                f"added before it: {outcome.accepted})"
            )
            raise
        outcome.accepted += inserted
        outcome.duplicates += screening.repeated + len(screening.accepted) - inserted
        suppressed = await self._campaigns.suppressed_numbers(
            tenant_id, [c.phone for c in screening.accepted]
        )
        outcome.suppressed += len(suppressed)
        room = LISTED_SUPPRESSED - len(outcome.suppressed_numbers)
        outcome.suppressed_numbers.extend(suppressed[:room])

    def _reject(self, outcome: ImportOutcome, row: CsvRejectedRow) -> None:
        # Keep the first rejections by line (a batch's screening reports after the reader's
        # own rejections of later rows): a heap of the smallest lines, largest on top.
        outcome.rejected_count += 1
        heapq.heappush(outcome.listed, (-row.line, outcome.rejected_count, row))
        if len(outcome.listed) > self._listed_rejections:
            heapq.heappop(outcome.listed)

    async def _finish(self, tenant_id: str, campaign_id: str, outcome: ImportOutcome) -> None:
        outcome.rejected = [row for _, _, row in sorted(outcome.listed, reverse=True)]
        outcome.total = await self._campaigns.contacts_added(
            tenant_id,
            campaign_id,
            accepted=outcome.accepted,
            rejected=outcome.rejected_count,
            duplicates=outcome.duplicates,
            total=outcome.counted,
        )
        rows = outcome.accepted + outcome.duplicates + outcome.rejected_count
        log.info("contact list imported", rows=rows)
