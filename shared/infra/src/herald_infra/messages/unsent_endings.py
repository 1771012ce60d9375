"""The campaigns whose unsent messages are ended in the background, a batch at a time, tenants in
turn: a cancel's, and a validity window's that ran out.

A cancel records its campaign ``cancelled``, queues the end of its unsent messages here and
answers at once: the senders refuse the messages of a cancelled campaign (their campaign gate),
so it is safe that the messages themselves become ``cancelled`` later. The sweep queues the
messages of a run whose validity window is over the same way (the senders' gate expires a
message out of time meanwhile).

The queue (``unsent_endings``, one entry per campaign) is the work's only state: whoever runs
:meth:`UnsentEndings.run_round` goes on from what is left, so a worker that stopped anywhere
is followed by the next. Each round moves at most one batch per tenant that has work (its
oldest entry first), so one tenant's million messages wait their turn behind nobody and make
nobody wait longer than a batch. An entry goes once a batch finds none of its messages left,
after the campaign's counters were put right by a recount (each batch moves them by what it
moved; a process that died in between left them off by at most a batch).
"""

from __future__ import annotations

import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from pymongo.errors import DuplicateKeyError

from herald_core.campaigns.lifecycle import CampaignStatus
from herald_core.contracts.common import utc_now
from herald_core.messages.states import MessageStatus
from herald_infra.kafka.handler_retries import is_outage
from herald_infra.messages.counters import reconcile_counters
from herald_infra.messages.unsent import EndedBatch, end_unsent_batch
from herald_infra.mongo.client import CAMPAIGNS, UNSENT_ENDINGS, Database, Document
from herald_infra.runtime.logging import get_logger

log = get_logger(__name__)

DEFAULT_BATCH_SIZE = 1000


async def queue_unsent_ending(
    db: Database, *, tenant_id: str, campaign_id: str, target: MessageStatus, at: datetime
) -> None:
    """Queue the end of the campaign's unsent messages as ``target`` (``cancelled``: all of
    them; ``expired``: those out of their validity window). A cancel takes over an expiry
    queued before it (it ends them all); an expiry leaves an entry already queued as it is."""
    entry = {
        "tenantId": tenant_id,
        "target": target.value,
        "since": at,
        "token": uuid.uuid4().hex,
    }
    endings = db[UNSENT_ENDINGS]
    update = {"$set": entry} if target is MessageStatus.CANCELLED else {"$setOnInsert": entry}
    try:
        await endings.update_one({"_id": campaign_id}, update, upsert=True)
    except DuplicateKeyError:
        # Queued by someone else at the same moment: an expiry keeps theirs, a cancel wins.
        if target is MessageStatus.CANCELLED:
            await endings.update_one({"_id": campaign_id}, update)


def one_per_tenant(entries: Sequence[Document]) -> list[Document]:
    """The entries one round serves: each tenant's oldest (by ``since``), tenants in the order
    of their oldest entry. Pure."""
    chosen: dict[str, Document] = {}
    for entry in sorted(entries, key=lambda e: (e["since"], e["_id"])):
        chosen.setdefault(str(entry["tenantId"]), entry)
    return list(chosen.values())


@dataclass
class RoundReport:
    """What one round did."""

    moved: dict[str, int] = field(default_factory=dict)
    """Messages moved, per target status."""
    finished: list[str] = field(default_factory=list)
    """Campaigns none of whose unsent messages is left to end."""
    served: int = 0
    """Entries that got a batch (0: the queue is empty)."""
    found: int = 0
    """Unsent messages the round's batches read (0: no progress to follow up at once)."""
    failed: list[str] = field(default_factory=list)
    """Campaigns whose batch failed (not an outage): left for a later round."""


class UnsentEndings:
    """Ends the queued campaigns' unsent messages, a batch per tenant per round."""

    def __init__(
        self,
        db: Database,
        *,
        batch_size: int = DEFAULT_BATCH_SIZE,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._db = db
        self._batch_size = batch_size
        self._clock = clock

    async def run_round(self) -> RoundReport:
        """One batch for each tenant that has campaigns queued; returns what it did."""
        report = RoundReport()
        queued = [entry async for entry in self._db[UNSENT_ENDINGS].find({})]
        for entry in one_per_tenant(queued):
            report.served += 1
            try:
                await self._serve(entry, report)
            except Exception as error:
                if is_outage(error):
                    raise
                # One campaign's trouble (a bug, a document it cannot read) stops no one else.
                log.error("unsent batch failed", campaign_id=entry["_id"], error=repr(error))
                report.failed.append(entry["_id"])
        return report

    async def _serve(self, entry: Document, report: RoundReport) -> None:
        target = MessageStatus(entry["target"])
        batch = await self._next_batch(entry, target)
        report.found += batch.found
        if batch.moved:
            report.moved[target.value] = report.moved.get(target.value, 0) + batch.moved
        if not batch.found and await self._finish(entry):
            report.finished.append(entry["_id"])

    async def run_until_done(self) -> RoundReport:
        """Rounds until the queue is empty (for tests and tools; the scheduler runs rounds
        while it leads)."""
        total = RoundReport()
        while (report := await self.run_round()).served:
            for target, moved in report.moved.items():
                total.moved[target] = total.moved.get(target, 0) + moved
            total.finished += report.finished
            total.served += report.served
            total.found += report.found
            if report.failed:
                raise RuntimeError(f"unsent batches failed: {report.failed}")
        return total

    async def _next_batch(self, entry: Document, target: MessageStatus) -> EndedBatch:
        campaign_id = entry["_id"]
        if target is MessageStatus.CANCELLED and not await self._is_cancelled(campaign_id):
            # Queued by a cancel that did not apply: nothing of this campaign is to end.
            log.warning(
                "unsent ending of a campaign not cancelled dropped", campaign_id=campaign_id
            )
            return EndedBatch(0, 0)
        due_by = self._clock() if target is MessageStatus.EXPIRED else None
        return await end_unsent_batch(
            self._db, campaign_id, target, batch_size=self._batch_size, due_by=due_by
        )

    async def _is_cancelled(self, campaign_id: str) -> bool:
        campaign = await self._db[CAMPAIGNS].find_one({"_id": campaign_id}, {"status": 1})
        return campaign is not None and campaign.get("status") == CampaignStatus.CANCELLED.value

    async def _finish(self, entry: Document) -> bool:
        """Put the campaign's counters right, then drop its entry unless it was queued again
        meanwhile (a cancel after an expiry); True if it was dropped."""
        corrections = await reconcile_counters(self._db, entry["_id"])
        if corrections:
            log.warning("campaign counters reconciled", campaign_id=entry["_id"], **corrections)
        dropped = await self._db[UNSENT_ENDINGS].delete_one(
            {"_id": entry["_id"], "token": entry["token"]}
        )
        if dropped.deleted_count:
            log.info("unsent messages all ended", campaign_id=entry["_id"], target=entry["target"])
        return bool(dropped.deleted_count)
