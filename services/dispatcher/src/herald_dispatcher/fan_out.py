"""Fan a launched campaign out into messages: stream contacts, create messages, queue them.

Each new message gets a sender account of the campaign's tenant (sticky, within caps; see
:mod:`herald_dispatcher.account_assignment`); one no account has room for is stored deferred and
published later by the release of deferred messages. Slots of the accounts' caps are taken a
stretch of batches ahead (:mod:`herald_dispatcher.slot_reserve`; an account's usage is read
again only once its held slots may not cover a batch), the tenant's accounts are read once every
few seconds (:mod:`herald_dispatcher.account_roster`), and the recipients' accounts are
remembered in the background (:mod:`herald_dispatcher.write_behind`); the fan-out ends once
both are settled. Nothing the fan-out reads per batch grows with the tenant's accounts. What a
batch reads before it writes is read while the batch before it is stored and published
(:mod:`herald_dispatcher.read_ahead`).

While the campaign runs, a batch's messages are created ``queued`` and published right after;
then the campaign's fan-out watermark (:mod:`herald_infra.campaigns.fan_out_watermark`) moves
past the batch's last contact. One write per message: marking each ``queued`` after its publish
would cost more than the insert itself (figures in docs/benchmarks.md).

A contact on the tenant's suppression list (:mod:`herald_infra.recipients.suppressions`) gets
no message: it is counted in the campaign's ``suppressedAtFanOut``, once per run (the count
moves with the watermark, and a contact the watermark covers is not counted again; a batch
created while the campaign is paused is counted by the campaign's ``suppressionCounted`` mark).
A number suppressed after its message was made is caught by the sender, right before its
gateway call.

Safe to run twice for the same campaign: message ids are deterministic, inserts skip the ones
that exist (their stored account stays), counters move only by what was really inserted, and
of the messages that existed, those still ``pending`` with an account are published, and those
``queued`` past the watermark are published again (a record published twice is harmless: a
sender claims each attempt once).

The campaign's status is read once per batch, after its messages were inserted and before they
are published: a launch of a cancelled campaign creates nothing; once the campaign is cancelled
the fan-out stops (and cancels what it had just created); while it is paused, messages are
created ``pending`` and not published: its resume publishes them (those of the batch during
which it was paused were created ``queued``: they are held, ``heldAt``, as a sender holds
one). Reading *after* the insert means a resume that comes meanwhile either finds the new
messages waiting or is seen here.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from contextlib import aclosing
from dataclasses import dataclass, field
from datetime import datetime

from faststream.kafka import KafkaBroker
from pymongo.errors import BulkWriteError

from herald_core.accounts.shared_gateway import SharedGateway
from herald_core.campaigns.lifecycle import CampaignStatus
from herald_core.contracts.common import utc_now
from herald_core.contracts.events import CampaignLaunched
from herald_core.messages.states import MessageStatus, counter_field
from herald_core.recipients.suppression import SuppressionScope
from herald_dispatcher.account_assignment import (
    AssignmentReads,
    assign_sender_accounts,
    give_back_reserve,
    read_for_assignment,
    settle_assignment,
)
from herald_dispatcher.account_choice import Recipient
from herald_dispatcher.account_roster import AccountRoster
from herald_dispatcher.message_plan import build_message, message_id
from herald_dispatcher.metrics import (
    FAN_OUT_DURATION,
    FAN_OUTS,
    MESSAGES_DEFERRED,
    MESSAGES_DISPATCHED,
    MESSAGES_SUPPRESSED,
)
from herald_dispatcher.read_ahead import read_ahead
from herald_dispatcher.slot_reserve import SlotReserve
from herald_dispatcher.write_behind import WriteBehind
from herald_infra.campaigns.fan_out_watermark import FAN_OUT, Watermark, watermark_of
from herald_infra.kafka.broker import InvalidRecord
from herald_infra.messages.queueing import (
    publish_send_events,
    queue_messages,
    send_event_from_document,
)
from herald_infra.messages.transitions import record_transitions
from herald_infra.messages.unsent import HELD_AT, cancel_unsent_messages
from herald_infra.mongo.client import CAMPAIGNS, CONTACTS, MESSAGES, Database, Document
from herald_infra.mongo.id_batches import find_by_ids, update_by_ids
from herald_infra.recipients.suppressions import may_have_suppressions, suppressed_among
from herald_infra.runtime.logging import bind_context, get_logger

log = get_logger(__name__)
DUPLICATE_KEY = 11000


async def insert_new_messages(db: Database, documents: Sequence[Document]) -> list[str]:
    """Insert the messages that do not exist yet; returns the ids of those inserted."""
    if not documents:
        return []
    try:
        await db[MESSAGES].insert_many(list(documents), ordered=False)
        return [d["_id"] for d in documents]
    except BulkWriteError as error:
        failed = error.details["writeErrors"]
        if any(e.get("code") != DUPLICATE_KEY for e in failed):
            raise
        duplicates = {int(e["index"]) for e in failed}
        return [d["_id"] for i, d in enumerate(documents) if i not in duplicates]


async def existing_ids(db: Database, ids: Sequence[str]) -> set[str]:
    return {d["_id"] for d in await find_by_ids(db[MESSAGES], ids, projection={"_id": 1})}


async def unpublished_candidates(db: Database, ids: Sequence[str]) -> list[Document]:
    """The stored messages among ``ids`` that may wait for a publish: ``pending`` on an
    account (not deferred), or ``queued`` and not handed back."""
    # Filtered here, not in the query: a top-level $or makes a MongoDB-wire server scan.
    statuses = [MessageStatus.PENDING.value, MessageStatus.QUEUED.value]
    found = await find_by_ids(db[MESSAGES], ids, {"status": {"$in": statuses}})
    return [d for d in found if _may_wait_for_publish(d)]


def _may_wait_for_publish(message: Document) -> bool:
    if message["status"] == MessageStatus.PENDING.value:
        return message.get("accountId") is not None
    return HELD_AT not in message


async def campaign_status(db: Database, campaign_id: str) -> str | None:
    found = await db[CAMPAIGNS].find_one({"_id": campaign_id}, {"status": 1})
    return None if found is None else found.get("status")


FIRST_BATCH = 50
"""The first batch of a fan-out is this small, so that its first messages reach the senders
within moments of the launch; each next one doubles, up to the configured batch size."""


def batch_sizes(batch_size: int) -> Iterator[int]:
    """The size of each batch of a fan-out: 50, 100, 200 … up to ``batch_size``, then that."""
    size = min(FIRST_BATCH, batch_size)
    while True:
        yield size
        size = min(size * 2, batch_size)


async def contact_batches(
    contacts: AsyncIterator[Document], batch_size: int
) -> AsyncIterator[list[Document]]:
    """The contacts in batches of :func:`batch_sizes`."""
    sizes = batch_sizes(batch_size)
    size = next(sizes)
    batch: list[Document] = []
    async for contact in contacts:
        batch.append(contact)
        if len(batch) >= size:
            yield batch
            batch, size = [], next(sizes)
    if batch:
        yield batch


@dataclass(frozen=True)
class BatchOutcome:
    """What one batch, or a whole fan-out, came to."""

    queued: int = 0
    deferred: int = 0
    cancelled: bool = False
    """The campaign was found cancelled: create nothing more."""


async def fan_out_campaign(
    db: Database,
    broker: KafkaBroker,
    launched: CampaignLaunched,
    *,
    shared_gateway: SharedGateway | None,
    batch_size: int,
    send_topic: str,
    clock: Callable[[], datetime] = utc_now,
    suppression_scope: SuppressionScope = SuppressionScope.TENANT,
) -> int:
    """Create the messages of a launched campaign and queue them on ``send_topic`` (the first
    attempt's); returns how many were queued. A tenant without sender accounts sends through
    ``shared_gateway``, within its caps (None: off; its messages wait for an account);
    ``clock`` tells the time the caps count in; ``suppression_scope`` whose suppression lists
    the contacts are checked against."""
    bind_context(campaign_id=launched.campaign_id)
    campaign = await db[CAMPAIGNS].find_one(
        {"_id": launched.campaign_id, "tenantId": launched.tenant_id}
    )
    if campaign is None:
        raise InvalidRecord("unknown-campaign", f"campaign {launched.campaign_id} does not exist")
    if campaign.get("status") == CampaignStatus.CANCELLED:
        log.info("launch of a cancelled campaign: nothing to create", run=launched.run)
        return 0

    started = time.perf_counter()
    fan_out = FanOut(
        db,
        broker,
        campaign,
        launched,
        shared_gateway=shared_gateway,
        send_topic=send_topic,
        clock=clock,
        watermark=watermark_of(campaign, launched.run),
        paused=campaign.get("status") == CampaignStatus.PAUSED,
        suppression_scope=suppression_scope,
        suppression_counted=SuppressionMark.of(campaign, launched.run),
        roster=AccountRoster(db, campaign["tenantId"]),
    )
    contacts = (
        db[CONTACTS].find({"campaignId": campaign["_id"]}).sort("_id", 1).batch_size(batch_size)
    )
    outcome = await fan_out.run(contact_batches(contacts, batch_size))
    if outcome.cancelled:
        log.info("campaign cancelled during its fan-out; stopped", queued=outcome.queued)
        return outcome.queued
    await db[CAMPAIGNS].update_one(
        {"_id": campaign["_id"]},
        {"$set": {"dispatchedAt": clock()}, "$max": {"dispatchedRun": launched.run}},
    )
    _report_dispatched(outcome, seconds=time.perf_counter() - started)
    return outcome.queued


def _report_dispatched(outcome: BatchOutcome, *, seconds: float) -> None:
    FAN_OUTS.inc()
    FAN_OUT_DURATION.observe(seconds)
    log.info(
        "campaign dispatched",
        queued=outcome.queued,
        # Created without an account: none had room; released when a cap window opens.
        deferred=outcome.deferred,
        seconds=round(seconds, 3),
    )


SUPPRESSED_AT_FAN_OUT = "suppressedAtFanOut"
SUPPRESSION_COUNTED = "suppressionCounted"


@dataclass(frozen=True)
class SuppressionMark:
    """How far a run's suppressed contacts were counted: through contact ``through`` (``_id``
    order), so that a fan-out run again counts none twice."""

    run: int
    through: str | None = None

    @classmethod
    def of(cls, campaign: Document, run: int) -> SuppressionMark:
        mark = campaign.get(SUPPRESSION_COUNTED) or {}
        if mark.get("run") != run:
            return cls(run)
        return cls(run, mark.get("through"))

    def covers(self, contact_id: str) -> bool:
        return self.through is not None and contact_id <= self.through


@dataclass(frozen=True)
class PreparedBatch:
    """A batch of contacts with what was read for it before its messages are made."""

    contacts: list[Document]
    by_id: dict[str, Document]
    """Message id → its contact."""
    stored: set[str]
    """The ids of its messages that exist already."""
    reads: AssignmentReads
    suppressed: set[str]
    """The phones of its contacts on the tenant's suppression list: no message for them."""


@dataclass
class FanOut:
    """One run of one campaign's fan-out, batch after batch of its contacts (in ``_id``
    order). While the campaign runs, a batch's messages are created ``queued`` and published
    at once, then the watermark moves past the batch; while it is paused they are created
    ``pending``, for its resume to publish."""

    db: Database
    broker: KafkaBroker
    campaign: Document
    launched: CampaignLaunched
    shared_gateway: SharedGateway | None
    send_topic: str
    clock: Callable[[], datetime]
    watermark: Watermark
    paused: bool
    """As last read: decides whether the next batch is created ``queued``."""
    suppression_scope: SuppressionScope = SuppressionScope.TENANT
    suppression_counted: SuppressionMark = field(default_factory=lambda: SuppressionMark(1))
    reserve: SlotReserve = field(default_factory=SlotReserve)
    """Account slots taken ahead of the next batches; given back when the fan-out ends."""
    seen: int = 0
    """Contacts handed to :meth:`dispatch` so far."""
    memory: WriteBehind = field(default_factory=WriteBehind)
    """The recipients' accounts being remembered, a few batches behind."""
    roster: AccountRoster | None = None
    """The fan-out's copy of its tenant's accounts (None: read them for every batch)."""

    async def run(self, contacts: AsyncIterator[list[Document]]) -> BatchOutcome:
        """Dispatch batch after batch of ``contacts`` (each read while the one before it is
        stored, see read_ahead) until they end or the campaign is found cancelled; then let
        the remembering of accounts finish and give the reserve's slots back. Returns what all
        the batches came to."""
        queued = deferred = 0
        done = BatchOutcome()
        batches = read_ahead(contacts, self.prepare)
        try:
            async with aclosing(batches):
                async for batch in batches:
                    done = await self.dispatch(batch)
                    queued, deferred = queued + done.queued, deferred + done.deferred
                    if done.cancelled:
                        break
            await self.memory.drain()
        except BaseException:
            self.memory.cancel()
            raise
        finally:
            await give_back_reserve(self.db, self.reserve)
        return BatchOutcome(queued, deferred, cancelled=done.cancelled)

    async def prepare(self, contacts: list[Document]) -> PreparedBatch:
        """What a batch reads before it writes: which of its messages exist, and what choosing
        their accounts needs. Depends on nothing an earlier batch writes (see read_ahead)."""
        by_id = {
            message_id(self.campaign["_id"], c["phone"], self.launched.run): c for c in contacts
        }
        tenant_id, phones = self.campaign["tenantId"], [c["phone"] for c in contacts]
        stored, reads, suppressed = await asyncio.gather(
            existing_ids(self.db, list(by_id)),
            read_for_assignment(self.db, tenant_id, phones, self.roster),
            self._suppressed(tenant_id, phones),
        )
        return PreparedBatch(contacts, by_id, stored, reads, suppressed)

    async def _suppressed(self, tenant_id: str, phones: Sequence[str]) -> set[str]:
        # Most tenants have no list: one indexed read instead of a look-up of every number.
        if not await may_have_suppressions(self.db, tenant_id, self.suppression_scope):
            return set()
        return await suppressed_among(self.db, tenant_id, phones, self.suppression_scope)

    async def dispatch(self, batch: PreparedBatch) -> BatchOutcome:
        """Create the messages of the batch's contacts and, unless the campaign is paused or
        cancelled, publish them."""
        contacts, by_id = batch.contacts, batch.by_id
        self.seen += len(contacts)
        self.reserve.expected = max(0, self.campaign.get("contactCount", 0) - self.seen)
        run = self.launched.run
        fresh = {
            mid: contact
            for mid, contact in by_id.items()
            if mid not in batch.stored and contact["phone"] not in batch.suppressed
        }
        await self._count_suppressed(contacts, batch.suppressed)
        now = self.clock()
        assignment = await assign_sender_accounts(
            self.db,
            self.campaign["tenantId"],
            [Recipient(mid, contact["phone"]) for mid, contact in fresh.items()],
            shared_gateway=self.shared_gateway,
            now=now,
            reserve=self.reserve,
            reads=batch.reads,
        )
        documents = [
            build_message(
                self.campaign,
                contact,
                account_id=assignment.account_of(mid),
                not_before=assignment.not_before,
                now=now,
                run=run,
                expires_at=self.launched.expires_at,
                queued=not self.paused,
            )
            for mid, contact in fresh.items()
        ]
        inserted = set(await insert_new_messages(self.db, documents))
        created = [d for d in documents if d["_id"] in inserted]
        deferred = len(set(assignment.deferred) & inserted)
        MESSAGES_DEFERRED.inc(deferred)
        # The recipients' accounts are remembered in the background (see write_behind).
        await self.memory.start(settle_assignment(self.db, assignment, inserted))
        queued = await self._queue(contacts, by_id, created, now)
        if queued is None:
            return BatchOutcome(0, deferred, cancelled=True)
        return BatchOutcome(queued, deferred)

    async def _queue(
        self,
        contacts: Sequence[Document],
        by_id: dict[str, Document],
        created: list[Document],
        now: datetime,
    ) -> int | None:
        """Count the batch's new messages and, unless the campaign is paused or cancelled,
        publish them (and those of the batch an earlier run left unpublished); returns how many
        were queued, None once the campaign is found cancelled."""
        campaign_id = self.campaign["_id"]
        _, status = await asyncio.gather(
            count_created(self.db, campaign_id, created), campaign_status(self.db, campaign_id)
        )
        born_queued = [d for d in created if d["status"] == MessageStatus.QUEUED.value]
        self.paused = status == CampaignStatus.PAUSED
        if status == CampaignStatus.CANCELLED:
            # Cancelled while this batch was being made: its cancel may not have seen these.
            await cancel_unsent_messages(self.db, campaign_id)
            return None
        if self.paused:
            # Paused meanwhile: those created queued wait for the resume, as handed back.
            await hold_messages(self.db, [d["_id"] for d in born_queued], now)
            return 0

        inserted = {d["_id"] for d in created}
        waiting = [
            d for d in created if d["status"] == MessageStatus.PENDING.value and d["accountId"]
        ]
        republish: list[Document] = []
        if others := [mid for mid in by_id if mid not in inserted]:
            # There before (an earlier run of this fan-out, or a resume meanwhile).
            for doc in await unpublished_candidates(self.db, others):
                if doc["status"] == MessageStatus.PENDING.value:
                    waiting.append(doc)
                elif not self.watermark.covers(doc["contactId"]):
                    republish.append(doc)
        to_publish = born_queued + republish
        await publish_send_events(
            self.broker, [send_event_from_document(d) for d in to_publish], self.send_topic
        )
        queued = len(born_queued) + await queue_messages(
            self.db, self.broker, campaign_id, waiting, topic=self.send_topic
        )
        await self._advance_watermark(contacts[-1]["_id"], now)
        MESSAGES_DISPATCHED.inc(queued + len(republish))
        return queued

    async def _count_suppressed(self, contacts: Sequence[Document], suppressed: set[str]) -> None:
        """Count the batch's suppressed contacts the run has not counted yet, and mark them
        counted in the same write."""
        if not suppressed:
            return
        fresh = [
            c
            for c in contacts
            if c["phone"] in suppressed and not self.suppression_counted.covers(c["_id"])
        ]
        if not fresh:
            return
        mark = SuppressionMark(self.launched.run, contacts[-1]["_id"])
        await self.db[CAMPAIGNS].update_one(
            {"_id": self.campaign["_id"]},
            {
                "$inc": {SUPPRESSED_AT_FAN_OUT: len(fresh)},
                "$set": {SUPPRESSION_COUNTED: {"run": mark.run, "through": mark.through}},
            },
        )
        self.suppression_counted = mark
        MESSAGES_SUPPRESSED.inc(len(fresh))

    async def _advance_watermark(self, through: str, at: datetime) -> None:
        self.watermark = self.watermark.advanced(through, at)
        await self.db[CAMPAIGNS].update_one(
            {"_id": self.campaign["_id"]}, {"$set": {FAN_OUT: self.watermark.to_document()}}
        )


async def count_created(db: Database, campaign_id: str, created: Sequence[Document]) -> None:
    """Add the messages just created to the campaign's counters (total and by status)."""
    if not created:
        return
    by_status = Counter(MessageStatus(d["status"]) for d in created)
    increments = {"counts.total": len(created)}
    increments.update({counter_field(status): n for status, n in by_status.items()})
    await db[CAMPAIGNS].update_one({"_id": campaign_id}, {"$inc": increments})
    # A message created queued took the pending-to-queued step at once; counted as that.
    record_transitions(
        Counter({(MessageStatus.PENDING, MessageStatus.QUEUED): by_status[MessageStatus.QUEUED]})
    )


async def hold_messages(db: Database, message_ids: Sequence[str], at: datetime) -> None:
    """Mark ``queued`` messages as waiting for their campaign's resume (``heldAt``)."""
    if message_ids:
        await update_by_ids(
            db[MESSAGES],
            message_ids,
            {"status": MessageStatus.QUEUED.value},
            {"$set": {HELD_AT: at}},
        )
