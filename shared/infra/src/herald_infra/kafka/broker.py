"""The Kafka broker every service uses: FastStream over aiokafka, offsets after durability."""

from __future__ import annotations

import asyncio
import json
import logging
from functools import partial
from typing import Any

from faststream import AckPolicy
from faststream._internal.middlewares import BaseMiddleware
from faststream.exceptions import IgnoredException
from faststream.kafka import KafkaBroker
from faststream.message import StreamMessage
from pydantic import ValidationError

from herald_core.contracts.topics import MESSAGE_DLT
from herald_core.messages.dead_letters import (
    REASON,
    dead_letter_headers,
)
from herald_infra.kafka.connection import broker_security
from herald_infra.kafka.handler_retries import (
    INTERNAL_ERROR,
    RetryState,
    describe,
    is_outage,
    retry_policy,
)
from herald_infra.runtime.logging import get_logger
from herald_infra.runtime.metrics import DEAD_LETTERED, HANDLER_FAILURES
from herald_infra.runtime.settings import HeraldSettings

# Offsets are committed only after the handler returned, i.e. after the message reached its
# next durable state; an unexpected error seeks back so the record is consumed again (after a
# back-off, a bounded number of times unless it is an outage: see DeadLetterOnFailure).
HANDLER_ACK_POLICY = AckPolicy.NACK_ON_ERROR

RecordPosition = tuple[str, int, int]
"""A record's topic, partition and offset."""

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


class DeadLetterOnFailure(BaseMiddleware):
    """What a subscriber does with a record its handler fails on, so that the partition never
    blocks on it:

    - a record that cannot be decoded or validated, or that the handler refused
      (:class:`InvalidRecord`), goes to ``message.dlt`` at once;
    - an outage of MongoDB or Kafka is retried, with back-off, for as long as it lasts;
    - any other error is retried (the record is redelivered after a short back-off) until it
      failed ``HERALD_HANDLER_ATTEMPTS`` times; then the record goes to ``message.dlt`` as
      ``internal-error`` with the error.

    A dead-lettered record is acknowledged once its dead letter is durable; a record of
    ``message.dlt`` itself is never dead-lettered again (that could loop): it is logged and
    counted, and stays on the topic.
    """

    def __init__(
        self,
        msg: Any,
        /,
        *,
        context: Any,
        broker: KafkaBroker,
        retries: RetryState[RecordPosition],
    ) -> None:
        super().__init__(msg, context=context)
        self.broker = broker
        self.retries = retries

    async def consume_scope(self, call_next: Any, msg: StreamMessage[Any]) -> Any:
        raw = msg.raw_message
        topic = str(getattr(raw, "topic", "unknown"))
        partition = int(getattr(raw, "partition", -1))
        offset = int(getattr(raw, "offset", -1))
        position = (topic, partition, offset)
        dead_letter = partial(
            dead_letter_record,
            self.broker,
            body=msg.body,
            topic=topic,
            partition=partition,
            offset=offset,
            key=getattr(raw, "key", None),
        )
        try:
            result = await call_next(msg)
        except IgnoredException:  # FastStream's own flow (ack, nack, reject, skip, stop)
            raise
        except POISON_ERRORS as error:
            self.retries.succeeded(position)
            await dead_letter(error=error)
            return None
        except Exception as error:
            wait = self.retries.failed(position, error)
            if wait is None:
                HANDLER_FAILURES.labels(topic=topic, outcome="given-up").inc()
                await dead_letter(
                    error=error, reason=INTERNAL_ERROR, attempts=self.retries.policy.attempts
                )
                return None
            outage = is_outage(error)
            HANDLER_FAILURES.labels(topic=topic, outcome="outage" if outage else "retried").inc()
            log.warning(
                "record handling failed; trying again" if not outage else "outage; trying again",
                topic=topic,
                partition=partition,
                offset=offset,
                failures=self.retries.failures(position),
                retry_in_seconds=wait,
                error=describe(error)[:300],
            )
            await asyncio.sleep(wait)
            raise  # nacked: the partition is rewound to the record, which comes again
        self.retries.succeeded(position)
        return result


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
    await dead_letter_record(
        broker, body=body, topic=topic, partition=partition, offset=offset, key=key, error=error
    )


async def dead_letter_record(
    broker: KafkaBroker,
    *,
    body: bytes,
    topic: str,
    partition: int,
    offset: int,
    key: bytes | None,
    error: BaseException,
    reason: str | None = None,
    attempts: int = 1,
) -> None:
    """Publish a record its consumer gives up on to ``message.dlt`` as it is, with headers
    saying where it came from, why (``reason``, by default what :func:`reason_of` makes of
    ``error``), the error and how often it was tried; returns once the dead letter is durable.
    A record of ``message.dlt`` itself is only logged and counted: dead-lettering it again
    could loop."""
    why = reason or reason_of(error)
    if topic == MESSAGE_DLT:
        log.error(
            "dead letter could not be handled; left on its topic",
            partition=partition,
            offset=offset,
            reason=why,
            error=describe(error)[:300],
        )
        return
    headers = dead_letter_headers(
        topic=topic,
        partition=partition,
        offset=offset,
        error=error,
        reason=why,
        error_message=describe(error) if reason == INTERNAL_ERROR else None,
        attempts=attempts,
    )
    await broker.publish(body, topic=MESSAGE_DLT, key=key, headers=headers)
    DEAD_LETTERED.labels(topic=topic, reason=headers[REASON]).inc()
    log.warning(
        "record dead-lettered",
        topic=topic,
        partition=partition,
        offset=offset,
        reason=why,
        attempts=attempts,
        error=str(error)[:300],
    )


def build_broker(settings: HeraldSettings, *, client_id: str) -> KafkaBroker:
    """A broker whose subscribers commit offsets only after their handler succeeded, or after
    the record they gave up on is a durable dead letter (:class:`DeadLetterOnFailure`)."""
    broker = KafkaBroker(
        settings.kafka_bootstrap_servers,
        client_id=client_id,
        # SASL and TLS as HERALD_KAFKA_SECURITY_PROTOCOL says, like every other Herald client.
        security=broker_security(settings),
        ack_policy=HANDLER_ACK_POLICY,
        # Wait for the broker's acknowledgement of every publish: durability before offsets.
        acks="all",
        enable_idempotence=True,
        linger_ms=5,
        # Per-record "Received"/"Processed" lines at DEBUG keep the hot path quiet at INFO.
        logger=logging.getLogger("herald.kafka"),
        log_level=logging.DEBUG,
    )
    retries: RetryState[RecordPosition] = RetryState(retry_policy(settings))
    broker.add_middleware(partial(DeadLetterOnFailure, broker=broker, retries=retries))
    return broker
