"""From a send-topic record to a delivery: decode it, dead-letter it if it is poison."""

from __future__ import annotations

from typing import Any, Protocol

from faststream.kafka import KafkaBroker

from herald_core.contracts.events import SendMessage
from herald_core.messages.states import MessageStatus
from herald_infra.kafka.broker import POISON_ERRORS, dead_letter_poison
from herald_infra.messages.attempt_outcomes import RecordOrigin


class Deliverer(Protocol):
    async def deliver(self, event: SendMessage, origin: RecordOrigin) -> MessageStatus | None: ...


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
