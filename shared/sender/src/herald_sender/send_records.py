"""From a send-topic record to a delivery: decode it, dead-letter it if it is poison; and the
end of a record whose delivery kept failing (given up by the lane consumer)."""

from __future__ import annotations

from typing import Any, Protocol

from faststream.kafka import KafkaBroker

from herald_core.contracts.events import SendMessage
from herald_core.messages.states import MessageStatus
from herald_infra.kafka.broker import POISON_ERRORS, dead_letter_poison, dead_letter_record
from herald_infra.kafka.handler_retries import INTERNAL_ERROR, describe, is_outage
from herald_infra.messages.attempt_outcomes import RecordOrigin
from herald_infra.runtime.logging import get_logger

log = get_logger(__name__)


class Deliverer(Protocol):
    async def deliver(self, event: SendMessage, origin: RecordOrigin) -> MessageStatus | None: ...

    async def give_up(
        self, event: SendMessage, origin: RecordOrigin, error: Exception
    ) -> MessageStatus | None: ...


class SendRecordHandler:
    """Handles one record of a send topic: a valid send event is delivered; anything else goes
    to ``message.dlt`` (once durable there, the record counts as handled)."""

    def __init__(self, engine: Deliverer, broker: KafkaBroker) -> None:
        self._engine = engine
        self._broker = broker

    async def __call__(self, record: Any) -> None:
        origin = RecordOrigin(record.topic, record.partition, record.offset)
        try:
            event = SendMessage.model_validate_json(record.value or b"")
        except POISON_ERRORS as error:
            await dead_letter_poison(
                self._broker,
                body=record.value or b"",
                topic=record.topic,
                partition=record.partition,
                offset=record.offset,
                key=record.key,
                error=error,
            )
            return
        await self._engine.deliver(event, origin)

    async def give_up(self, record: Any, error: Exception) -> None:
        """The end of a record whose delivery kept failing with ``error``: its message fails
        (``internal-error``) with its dead letter; should even that fail for a reason other
        than an outage (raised: tried again), the record itself is dead-lettered as it is."""
        origin = RecordOrigin(record.topic, record.partition, record.offset)
        try:
            event = SendMessage.model_validate_json(record.value or b"")
            await self._engine.give_up(event, origin, error)
            return
        except Exception as failure:
            if is_outage(failure):
                raise
            log.error("message could not be failed; dead-lettering its record", error=repr(failure))
        await dead_letter_record(
            self._broker,
            body=record.value or b"",
            topic=record.topic,
            partition=record.partition,
            offset=record.offset,
            key=record.key,
            error=error,
            reason=INTERNAL_ERROR,
        )
        log.info("send record dead-lettered", error=describe(error)[:300])
