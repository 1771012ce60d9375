"""Fan a launched campaign out into messages: stream contacts, create messages, queue them.

Safe to run twice for the same campaign: message ids are deterministic, inserts skip the ones
that exist, counters move only by what was really inserted, and only messages still ``pending``
are published.
"""

from __future__ import annotations

import time
from collections.abc import Sequence

from faststream.kafka import KafkaBroker
from pymongo.errors import BulkWriteError

from herald_dispatcher.message_plan import build_message
from herald_dispatcher.metrics import FAN_OUT_DURATION, FAN_OUTS, MESSAGES_DISPATCHED
from herald_shared.contracts.common import utc_now
from herald_shared.contracts.events import CampaignLaunched
from herald_shared.kafka import InvalidRecord
from herald_shared.logging import bind_context, get_logger
from herald_shared.message_states import MessageStatus, counter_field
from herald_shared.mongo import CAMPAIGNS, CONTACTS, MESSAGES, Database, Document
from herald_shared.queueing import queue_messages

log = get_logger(__name__)


async def insert_new_messages(db: Database, documents: Sequence[Document]) -> int:
    """Insert the messages that do not exist yet; returns how many were inserted."""
    if not documents:
        return 0
    try:
        result = await db[MESSAGES].insert_many(list(documents), ordered=False)
        return len(result.inserted_ids)
    except BulkWriteError as error:
        duplicates_only = all(e.get("code") == 11000 for e in error.details["writeErrors"])
        if not duplicates_only:
            raise
        return int(error.details["nInserted"])


async def still_pending(db: Database, documents: Sequence[Document]) -> list[Document]:
    ids = [d["_id"] for d in documents]
    pending_ids = {
        d["_id"]
        async for d in db[MESSAGES].find(
            {"_id": {"$in": ids}, "status": MessageStatus.PENDING.value}, {"_id": 1}
        )
    }
    return [d for d in documents if d["_id"] in pending_ids]


async def fan_out_campaign(
    db: Database,
    broker: KafkaBroker,
    launched: CampaignLaunched,
    *,
    account_id: str,
    batch_size: int,
    send_topic: str,
) -> int:
    """Create the messages of a launched campaign and queue them on ``send_topic`` (the first
    attempt's); returns how many were queued."""
    bind_context(campaign_id=launched.campaign_id)
    campaign = await db[CAMPAIGNS].find_one(
        {"_id": launched.campaign_id, "tenantId": launched.tenant_id}
    )
    if campaign is None:
        raise InvalidRecord("unknown-campaign", f"campaign {launched.campaign_id} does not exist")

    started = time.perf_counter()
    queued = 0
    contacts = (
        db[CONTACTS].find({"campaignId": campaign["_id"]}).sort("_id", 1).batch_size(batch_size)
    )
    batch: list[Document] = []
    async for contact in contacts:
        batch.append(contact)
        if len(batch) >= batch_size:
            queued += await _dispatch_batch(db, broker, campaign, batch, account_id, send_topic)
            batch = []
    queued += await _dispatch_batch(db, broker, campaign, batch, account_id, send_topic)
    await db[CAMPAIGNS].update_one({"_id": campaign["_id"]}, {"$set": {"dispatchedAt": utc_now()}})
    elapsed = time.perf_counter() - started
    FAN_OUTS.inc()
    FAN_OUT_DURATION.observe(elapsed)
    log.info("campaign dispatched", queued=queued, seconds=round(elapsed, 3))
    return queued


async def _dispatch_batch(
    db: Database,
    broker: KafkaBroker,
    campaign: Document,
    contacts: Sequence[Document],
    account_id: str,
    send_topic: str,
) -> int:
    if not contacts:
        return 0
    now = utc_now()
    documents = [build_message(campaign, c, account_id=account_id, now=now) for c in contacts]
    inserted = await insert_new_messages(db, documents)
    if inserted:
        await db[CAMPAIGNS].update_one(
            {"_id": campaign["_id"]},
            {"$inc": {"counts.total": inserted, counter_field(MessageStatus.PENDING): inserted}},
        )
    pending = await still_pending(db, documents)
    queued = await queue_messages(db, broker, campaign["_id"], pending, topic=send_topic)
    MESSAGES_DISPATCHED.inc(queued)
    return queued
