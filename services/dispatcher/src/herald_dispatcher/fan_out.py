"""Fan a launched campaign out into messages: stream contacts, create messages, queue them.

Each new message gets a sender account of the campaign's tenant (sticky, within caps; see
:mod:`herald_shared.account_assignment`); one no account has room for is stored deferred and
published later by the release of deferred messages.

Safe to run twice for the same campaign: message ids are deterministic, inserts skip the ones
that exist (their stored account stays), counters move only by what was really inserted, and
only messages still ``pending`` with an account are published.

The campaign's status is read once per batch, after its messages were inserted and before they
are published: a launch of a cancelled campaign creates nothing; once the campaign is cancelled
the fan-out stops (and cancels what it had just created); while it is paused, messages are
created ``pending`` and not published: its resume publishes them. Reading *after* the insert
means a resume that comes meanwhile either finds the new messages waiting or is seen here.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime

from faststream.kafka import KafkaBroker
from pymongo.errors import BulkWriteError

from herald_dispatcher.message_plan import build_message, message_id
from herald_dispatcher.metrics import (
    FAN_OUT_DURATION,
    FAN_OUTS,
    MESSAGES_DEFERRED,
    MESSAGES_DISPATCHED,
)
from herald_shared.account_assignment import assign_sender_accounts, settle_assignment
from herald_shared.account_choice import Recipient
from herald_shared.campaign_states import CampaignStatus
from herald_shared.contracts.common import utc_now
from herald_shared.contracts.events import CampaignLaunched
from herald_shared.kafka import InvalidRecord
from herald_shared.logging import bind_context, get_logger
from herald_shared.message_states import MessageStatus, counter_field
from herald_shared.mongo import CAMPAIGNS, CONTACTS, MESSAGES, Database, Document
from herald_shared.queueing import queue_messages
from herald_shared.unsent_messages import cancel_unsent_messages

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
    return {d["_id"] async for d in db[MESSAGES].find({"_id": {"$in": list(ids)}}, {"_id": 1})}


async def still_pending(db: Database, ids: Sequence[str]) -> list[Document]:
    """The stored messages among ``ids`` that are ``pending`` on an account (not deferred)."""
    cursor = db[MESSAGES].find(
        {
            "_id": {"$in": list(ids)},
            "status": MessageStatus.PENDING.value,
            "accountId": {"$ne": None},
        }
    )
    return [d async for d in cursor]


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


@dataclass(frozen=True)
class BatchOutcome:
    queued: int = 0
    deferred: int = 0
    cancelled: bool = False
    """The campaign was found cancelled: create nothing more."""


async def fan_out_campaign(
    db: Database,
    broker: KafkaBroker,
    launched: CampaignLaunched,
    *,
    default_account_id: str,
    batch_size: int,
    send_topic: str,
    clock: Callable[[], datetime] = utc_now,
) -> int:
    """Create the messages of a launched campaign and queue them on ``send_topic`` (the first
    attempt's); returns how many were queued. A tenant without sender accounts sends all on
    ``default_account_id``; ``clock`` tells the time the caps count in."""
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
    queued = deferred = 0
    contacts = (
        db[CONTACTS].find({"campaignId": campaign["_id"]}).sort("_id", 1).batch_size(batch_size)
    )
    batch: list[Document] = []
    done = BatchOutcome()
    sizes = batch_sizes(batch_size)
    size = next(sizes)
    async for contact in contacts:
        batch.append(contact)
        if len(batch) >= size:
            size = next(sizes)
            done = await _dispatch_batch(
                db, broker, campaign, launched, batch, default_account_id, send_topic, clock()
            )
            queued, deferred = queued + done.queued, deferred + done.deferred
            batch = []
            if done.cancelled:
                break
    if not done.cancelled:
        done = await _dispatch_batch(
            db, broker, campaign, launched, batch, default_account_id, send_topic, clock()
        )
        queued, deferred = queued + done.queued, deferred + done.deferred
    if done.cancelled:
        log.info("campaign cancelled during its fan-out; stopped", queued=queued)
        return queued
    await db[CAMPAIGNS].update_one(
        {"_id": campaign["_id"]},
        {"$set": {"dispatchedAt": clock()}, "$max": {"dispatchedRun": launched.run}},
    )
    elapsed = time.perf_counter() - started
    FAN_OUTS.inc()
    FAN_OUT_DURATION.observe(elapsed)
    log.info(
        "campaign dispatched",
        queued=queued,
        # Created without an account: none had room; released when a cap window opens.
        deferred=deferred,
        seconds=round(elapsed, 3),
    )
    return queued


async def _dispatch_batch(
    db: Database,
    broker: KafkaBroker,
    campaign: Document,
    launched: CampaignLaunched,
    contacts: Sequence[Document],
    default_account_id: str,
    send_topic: str,
    now: datetime,
) -> BatchOutcome:
    """Create the messages of ``contacts`` and, unless the campaign is paused or cancelled,
    queue them."""
    if not contacts:
        return BatchOutcome()
    by_id = {message_id(campaign["_id"], c["phone"], launched.run): c for c in contacts}
    stored = await existing_ids(db, list(by_id))
    fresh = {mid: contact for mid, contact in by_id.items() if mid not in stored}
    assignment = await assign_sender_accounts(
        db,
        campaign["tenantId"],
        [Recipient(mid, contact["phone"]) for mid, contact in fresh.items()],
        default_account_id=default_account_id,
        now=now,
    )
    documents = [
        build_message(
            campaign,
            contact,
            account_id=assignment.account_of(mid),
            not_before=assignment.not_before,
            now=now,
            run=launched.run,
            expires_at=launched.expires_at,
        )
        for mid, contact in fresh.items()
    ]
    inserted = await insert_new_messages(db, documents)
    await settle_assignment(db, assignment, set(inserted))
    if inserted:
        await db[CAMPAIGNS].update_one(
            {"_id": campaign["_id"]},
            {
                "$inc": {
                    "counts.total": len(inserted),
                    counter_field(MessageStatus.PENDING): len(inserted),
                }
            },
        )
    deferred = len(set(assignment.deferred) & set(inserted))
    MESSAGES_DEFERRED.inc(deferred)
    status = await campaign_status(db, campaign["_id"])
    if status == CampaignStatus.CANCELLED:
        # Cancelled while this batch was being made: its cancel may not have seen these.
        await cancel_unsent_messages(db, campaign["_id"])
        return BatchOutcome(0, deferred, cancelled=True)
    if status == CampaignStatus.PAUSED:
        return BatchOutcome(0, deferred)
    # The messages inserted just now are pending as built; only the others (there before, or
    # inserted meanwhile by another run of this fan-out) are read to see which still wait.
    created = set(inserted)
    pending = [d for d in documents if d["_id"] in created and d["accountId"] is not None]
    if others := [mid for mid in by_id if mid not in created]:
        pending += await still_pending(db, others)
    queued = await queue_messages(db, broker, campaign["_id"], pending, topic=send_topic)
    MESSAGES_DISPATCHED.inc(queued)
    return BatchOutcome(queued, deferred)
