"""The Kafka broker every service uses: FastStream over aiokafka, offsets after durability."""

from __future__ import annotations

import json
import logging
from functools import partial
from typing import Any

from faststream import AckPolicy
from faststream._internal.middlewares import BaseMiddleware
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from pydantic import ValidationError

from herald_core.contracts.topics import MESSAGE_DLT
from herald_core.messages.dead_letters import (
    REASON,
    dead_letter_headers,
)
from herald_infra.runtime.logging import get_logger
from herald_infra.runtime.metrics import DEAD_LETTERED
from herald_infra.runtime.settings import HeraldSettings

# Offsets are committed only after the handler returned, i.e. after the message reached its
# next durable state; an unexpected error seeks back so the record is consumed again.
HANDLER_ACK_POLICY = AckPolicy.NACK_ON_ERROR

log = get_logger(__name__)


class InvalidRecord(ValueError):
    """A record a handler refuses for good (unknown campaign, broken rule): it is dead-lettered."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason


def reason_of(error: BaseException) -> str:
    if isinstance(error, InvalidRecord):
        return error.reason
    if isinstance(error, ValidationError):
        return "schema-invalid"
    return "undecodable"


class PoisonToDeadLetter(BaseMiddleware):
    """Sends a record that cannot be decoded or validated to ``message.dlt`` and moves on.

    The record is acknowledged once the dead letter is durable, so the partition never blocks on
    it; any other error propagates (and the record is consumed again).
    """

    def __init__(self, msg: Any, /, *, context: Any, broker: KafkaBroker) -> None:
        super().__init__(msg, context=context)
        self.broker = broker

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        try:
            return await call_next(msg)
        except POISON_ERRORS as error:
            raw = msg.raw_message
            await dead_letter_poison(
                self.broker,
                body=msg.body,
                topic=getattr(raw, "topic", "unknown"),
                partition=int(getattr(raw, "partition", -1)),
                offset=int(getattr(raw, "offset", -1)),
                key=getattr(raw, "key", None),
                error=error,
            )
            return None


POISON_ERRORS = (ValidationError, InvalidRecord, json.JSONDecodeError, UnicodeDecodeError)
"""What makes a record poison: it cannot be decoded or validated, or a handler refused it."""


async def dead_letter_poison(
    broker: KafkaBroker,
    *,
    body: bytes,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    error: BaseException,
) -> None:
    """Publish a poison record to ``message.dlt`` as it is, with headers saying where it came
    from and why; returns once the dead letter is durable."""
    headers = dead_letter_headers(
        topic=topic, partition=partition, offset=offset, error=error, reason=reason_of(error)
    )
    await broker.publish(body, topic=MESSAGE_DLT, key=key, headers=headers)
    DEAD_LETTERED.labels(topic=topic, reason=headers[REASON]).inc()
    log.warning(
        "poison record dead-lettered",
        topic=topic,
        partition=partition,
        offset=offset,
        error=str(error)[:300],
    )


def build_broker(settings: HeraldSettings, *, client_id: str) -> KafkaBroker:
    """A broker whose subscribers commit offsets only after their handler succeeded."""
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=client_id,
        ack_policy=HANDLER_ACK_POLICY,
        # Wait for the broker's acknowledgement of every publish: durability before offsets.
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        # Per-record "Received"/"Processed" lines at DEBUG keep the hot path quiet at INFO.
        logger=logging.getLogger("herald.kafka"),
        log_level=logging.DEBUG,
    )
    broker.add_middleware(partial(PoisonToDeadLetter, broker=broker))
    return broker
