"""The retention job (hourly by default): the messages of a campaign run that ended longer
ago than its tenant's retention are archived to a file, then deleted from MongoDB.

One run at a time, oldest run of a campaign first, at most ``HERALD_RETENTION_RUNS_PER_PASS``
runs a pass, taken in turn from each tenant so that none waits behind another's backlog.
For each run:

1. nothing is done while one of its messages is unfinished;
2. its messages are written to the archive file (complete, fsynced and renamed; the file is
   dropped and the run left for the next pass if the messages counted differ from the lines
   written: one changed status meanwhile);
3. the run is recorded as written in ``campaign_runs`` (location, figures), and the campaign's
   ``archive`` takes the run's frozen figures (compare-and-set on ``archive.throughRun``): from
   then on the counters' recount and the statistics read the run's figures from there;
4. the messages whose ids the file holds are deleted, in batches; the run is ``archived`` once
   none of its messages is left and the file's lines are as many as recorded.

A pass that stops anywhere redoes the run from where it stands: before 3 it writes the file
again; after 3 it deletes what the file names (deleting a deleted message does nothing).
Dead letters, suppressions, contacts and the campaign itself are kept.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import chain, zip_longest
from typing import Any

from herald_core.contracts.common import utc_now
from herald_core.messages.states import MessageStatus
from herald_infra.messages.counters import ARCHIVE
from herald_infra.mongo.client import (
    CAMPAIGN_RUNS,
    CAMPAIGNS,
    MESSAGES,
    TENANTS,
    Database,
    Document,
)
from herald_infra.runtime.logging import get_logger
from herald_scheduler.campaign_rules import UNFINISHED_STATUSES
from herald_scheduler.message_archive import RunArchive, archive_key
from herald_scheduler.retention_rules import (
    ArchiveFigures,
    archived_through,
    campaign_run_id,
    latest_ended_run,
    next_run_to_archive,
    retention_days_of,
    run_being_archived,
)

log = get_logger(__name__)

RETENTION_OVERRIDE = "quotas.messageRetentionDays"
"""Where an operator's retention for a tenant is stored (the tenant's quotas)."""
WRITTEN, ARCHIVED = "written", "archived"


class ArchiveMismatch(RuntimeError):
    """A run's messages and its archive file disagree; the run is left as it is."""


@dataclass
class RetentionReport:
    archived_runs: list[str] = field(default_factory=list)
    archived_messages: int = 0
    left_for_later: list[str] = field(default_factory=list)

    def summary(self) -> str:
        return (
            f"runs archived {len(self.archived_runs)}, messages archived and deleted "
            f"{self.archived_messages}; runs left for a later pass {len(self.left_for_later)}"
        )


def run_selector(run: int) -> object:
    # Messages made before runs were numbered belong to the first run.
    return {"$in": [run, None]} if run == 1 else run


class MessageRetention:
    def __init__(
        self,
        db: Database,
        archive: RunArchive,
        *,
        default_days: float,
        batch_size: int,
        runs_per_pass: int,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._db = db
        self._archive = archive
        self._default_days = default_days
        self._batch_size = batch_size
        self._runs_per_pass = runs_per_pass
        self._clock = clock

    async def run(self) -> RetentionReport:
        """One pass; an outage raises (the firing is tried again with back-off)."""
        report = RetentionReport()
        for campaign, run in await self.due_runs():
            label = campaign_run_id(campaign["_id"], run)
            try:
                archived = await self.archive_run(campaign, run)
            except ArchiveMismatch as mismatch:
                log.error("run not archived", campaign_run=label, error=str(mismatch))
                report.left_for_later.append(label)
                continue
            if archived is None:
                report.left_for_later.append(label)
            else:
                report.archived_runs.append(label)
                report.archived_messages += archived
        return report

    async def due_runs(self) -> list[tuple[Document, int]]:
        """The runs to archive this pass: one per campaign, tenants taken in turn."""
        now = self._clock()
        overrides = await self._overrides()
        by_tenant: dict[str, list[tuple[Document, int]]] = {}
        candidates = self._db[CAMPAIGNS].find(
            {
                "$or": [
                    {"runCompletion.run": {"$gte": 1}},
                    {"status": "cancelled", "run": {"$gte": 1}},
                ]
            },
            {
                "tenantId": 1,
                "status": 1,
                "run": 1,
                "runCompletion": 1,
                "cancelledAt": 1,
                ARCHIVE: 1,
            },
        )
        async for campaign in candidates:
            unfinished = run_being_archived(campaign)
            if unfinished is not None:  # a pass stopped before its messages were all deleted
                by_tenant.setdefault(campaign["tenantId"], []).append((campaign, unfinished))
                continue
            latest = latest_ended_run(campaign)
            run = archived_through(campaign) + 1
            if latest is None or run > latest.run:
                continue
            recorded = await self._db[CAMPAIGN_RUNS].find_one(
                {"_id": campaign_run_id(campaign["_id"], run)}, {"endedAt": 1}
            )
            due = next_run_to_archive(
                campaign,
                recorded_end=(recorded or {}).get("endedAt"),
                retention_days=retention_days_of(
                    campaign["tenantId"], overrides, self._default_days
                ),
                now=now,
            )
            if due is not None:
                by_tenant.setdefault(campaign["tenantId"], []).append((campaign, due))
        in_turn = chain.from_iterable(zip_longest(*by_tenant.values()))
        return [item for item in in_turn if item is not None][: self._runs_per_pass]

    async def _overrides(self) -> dict[str, int]:
        tenants = self._db[TENANTS].find(
            {RETENTION_OVERRIDE: {"$exists": True}}, {RETENTION_OVERRIDE: 1}
        )
        found: dict[str, int] = {}
        async for tenant in tenants:
            days = (tenant.get("quotas") or {}).get("messageRetentionDays")
            if isinstance(days, int) and not isinstance(days, bool) and days >= 0:
                found[tenant["_id"]] = days
        return found

    async def archive_run(self, campaign: Document, run: int) -> int | None:
        """Archive and delete one run's messages; returns how many the archive holds, or None
        when the run must wait (a message unfinished, or one that moved while written)."""
        campaign_id, tenant_id = campaign["_id"], campaign["tenantId"]
        key = archive_key(tenant_id, campaign_id, run)
        if archived_through(campaign) < run:
            if await self._unfinished(campaign_id, run):
                log.info(
                    "run has unfinished messages; not archived yet",
                    campaign_id=campaign_id,
                    run=run,
                )
                return None
            figures = await self._write(campaign_id, run, key)
            if figures is None:
                return None
            await self._record_written(campaign, run, key, figures)
        return await self._delete_archived(campaign_id, run, key)

    async def _unfinished(self, campaign_id: str, run: int) -> bool:
        for status in UNFINISHED_STATUSES:
            found = await self._db[MESSAGES].find_one(
                {"status": status.value, "campaignId": campaign_id, "run": run_selector(run)},
                {"_id": 1},
            )
            if found is not None:
                return True
        return False

    async def _count(self, campaign_id: str, run: int) -> int:
        total = 0
        for status in MessageStatus:
            total += await self._db[MESSAGES].count_documents(
                {"status": status.value, "campaignId": campaign_id, "run": run_selector(run)}
            )
        return total

    async def _batches(self, campaign_id: str, run: int) -> AsyncIterator[list[Document]]:
        """The run's messages, ``batch_size`` at a time: a query per status, each by the
        ``(status, campaignId, …)`` index."""
        for status in MessageStatus:
            cursor = self._db[MESSAGES].find(
                {"status": status.value, "campaignId": campaign_id, "run": run_selector(run)},
                batch_size=self._batch_size,
            )
            batch: list[Document] = []
            async for message in cursor:
                batch.append(message)
                if len(batch) >= self._batch_size:
                    yield batch
                    batch = []
            if batch:
                yield batch

    async def _write(self, campaign_id: str, run: int, key: str) -> ArchiveFigures | None:
        figures = ArchiveFigures()
        file = self._archive.open(key)
        try:
            async for batch in self._batches(campaign_id, run):
                for message in batch:
                    figures.add(message)
                await file.write(batch)
            counted = await self._count(campaign_id, run)
            if counted != figures.messages:
                log.warning(
                    "messages moved while archived; the run waits for the next pass",
                    campaign_id=campaign_id,
                    run=run,
                    written=figures.messages,
                    counted=counted,
                )
                file.abort()
                return None
            await file.commit()
        except BaseException:
            file.abort()
            raise
        return figures

    async def _record_written(
        self, campaign: Document, run: int, key: str, figures: ArchiveFigures
    ) -> None:
        now = self._clock()
        campaign_id = campaign["_id"]
        location = self._archive.location(key)
        counts = figures.frozen_counts()
        await self._db[CAMPAIGN_RUNS].update_one(
            {"_id": campaign_run_id(campaign_id, run)},
            {
                "$set": {
                    "tenantId": campaign["tenantId"],
                    "campaignId": campaign_id,
                    "run": run,
                    "state": WRITTEN,
                    "location": location,
                    "messages": figures.messages,
                    "counts": counts,
                    "notOnWhatsapp": figures.not_on_whatsapp,
                    "writtenAt": now,
                },
                "$setOnInsert": {"endedAt": _end_of(campaign)},
            },
            upsert=True,
        )
        previous: dict[str, Any] = (
            {f"{ARCHIVE}.throughRun": run - 1} if run > 1 else {f"{ARCHIVE}.throughRun": None}
        )
        moved = await self._db[CAMPAIGNS].update_one(
            {"_id": campaign_id, **previous},
            {
                "$set": {
                    f"{ARCHIVE}.throughRun": run,
                    f"{ARCHIVE}.run": run,
                    f"{ARCHIVE}.location": location,
                    f"{ARCHIVE}.archivedAt": None,
                },
                "$inc": {
                    f"{ARCHIVE}.runs": 1,
                    f"{ARCHIVE}.messages": figures.messages,
                    f"{ARCHIVE}.notOnWhatsapp": figures.not_on_whatsapp,
                    **{f"{ARCHIVE}.counts.{name}": n for name, n in counts.items() if n},
                },
            },
        )
        if not moved.modified_count:
            stored = await self._db[CAMPAIGNS].find_one({"_id": campaign_id}, {ARCHIVE: 1})
            if stored is None or archived_through(stored) != run:
                raise ArchiveMismatch(
                    f"campaign {campaign_id} is archived through run "
                    f"{archived_through(stored or {})}, not {run - 1}; run {run} left as it is"
                )

    async def _delete_archived(self, campaign_id: str, run: int, key: str) -> int:
        record = await self._db[CAMPAIGN_RUNS].find_one({"_id": campaign_run_id(campaign_id, run)})
        if record is None or record.get("state") not in (WRITTEN, ARCHIVED):
            raise ArchiveMismatch(f"run {run} of {campaign_id} has no record of its archive")
        if not await self._archive.exists(key):
            raise ArchiveMismatch(f"the archive file of run {run} of {campaign_id} is missing")
        lines = deleted = 0
        batches: Iterator[list[str]] = self._archive.id_batches(key, self._batch_size)
        while (ids := await asyncio.to_thread(next, batches, None)) is not None:
            lines += len(ids)
            result = await self._db[MESSAGES].delete_many(
                {"_id": {"$in": ids}, "campaignId": campaign_id}
            )
            deleted += result.deleted_count
        if lines != int(record.get("messages") or 0):
            raise ArchiveMismatch(
                f"the archive of run {run} of {campaign_id} has {lines} lines, "
                f"{record.get('messages')} were recorded"
            )
        left = await self._count(campaign_id, run)
        if left:
            raise ArchiveMismatch(
                f"{left} messages of run {run} of {campaign_id} are not in its archive"
            )
        now = self._clock()
        await self._db[CAMPAIGN_RUNS].update_one(
            {"_id": record["_id"], "state": WRITTEN},
            {"$set": {"state": ARCHIVED, "archivedAt": now, "deleted": deleted}},
        )
        await self._db[CAMPAIGNS].update_one(
            {"_id": campaign_id, f"{ARCHIVE}.run": run},
            {"$set": {f"{ARCHIVE}.archivedAt": now}},
        )
        log.info(
            "run archived",
            campaign_id=campaign_id,
            run=run,
            messages=lines,
            deleted=deleted,
            location=record.get("location"),
        )
        return lines


def _end_of(campaign: Document) -> datetime | None:
    latest = latest_ended_run(campaign)
    return latest.ended_at if latest is not None else None
