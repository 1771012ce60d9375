"""Keeps every record of ``message.dlt`` in MongoDB's ``dead_letters``, once per dead letter.

A dead letter may be arbitrary bytes (that is often why it is one), so the handler takes the
record as it is and never fails on its content. Should storing one fail all the same, for a
reason other than an outage of MongoDB (retried until it ends), the broker's middleware tries
it ``HERALD_HANDLER_ATTEMPTS`` times, then logs it and moves on: a dead letter is never
dead-lettered again (that could loop), and the record stays on ``message.dlt``.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage
from pymongo.errors import DuplicateKeyError

from herald_core.contracts.common import utc_now
from herald_core.contracts.topics import DEAD_LETTER_GROUP, MESSAGE_DLT
from herald_core.messages.dead_letters import dead_letter_document
from herald_dispatcher.metrics import DEAD_LETTERS_RECORDED
from herald_dispatcher.raw_records import (
    header_texts,
    parse_tolerating_binary_headers,
    payload_bytes,
)
from herald_infra.mongo.client import DEAD_LETTERS, Database
from herald_infra.runtime.logging import get_logger

log = get_logger(__name__)


async def record_dead_letter(db: Database, record: Any, *, recorded_at: datetime) -> bool:
    """Store the dead letter of one ``message.dlt`` record unless it is stored already (a
    redelivery, or a second dead letter with the same id); True when it was new."""
    document = dead_letter_document(
        payload=record.value or b"",
        headers=header_texts(record.headers),
        key=record.key,
        dlt_partition=record.partition,
        dlt_offset=record.offset,
        recorded_at=recorded_at,
    )
    fields = {name: value for name, value in document.items() if name != "_id"}
    try:
        result = await db[DEAD_LETTERS].update_one(
            {"_id": document["_id"]}, {"$setOnInsert": fields}, upsert=True
        )
    except DuplicateKeyError:
        return False  # a concurrent upsert of the same dead letter won the insert
    inserted = result.upserted_id is not None
    if inserted:
        DEAD_LETTERS_RECORDED.inc()
        log.info(
            "dead letter recorded",
            dead_letter_id=document["_id"],
            reason=document["reason"],
            original_topic=document["originalTopic"],
        )
    return inserted


def subscribe_dead_letter_recorder(broker: KafkaBroker, db: Database) -> None:
    """Register the recorder of ``message.dlt`` (group ``herald-dead-letters``) on ``broker``."""

    @broker.subscriber(
        MESSAGE_DLT,
        group_id=DEAD_LETTER_GROUP,
        auto_offset_reset="earliest",
        parser=parse_tolerating_binary_headers,
        decoder=payload_bytes,
        title=f"dispatcher:{MESSAGE_DLT}",
        description=(
            "Stores every dead letter in MongoDB's dead_letters, once per dead-letter id, "
            "whatever its payload."
        ),
    )
    async def record_dead_letter_record(payload: bytes, message: KafkaMessage) -> None:
        await record_dead_letter(db, message.raw_message, recorded_at=utc_now())
