"""Publishing ``message.status``, keyed by message so one message's changes stay in order."""

from __future__ import annotations

import asyncio

from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker

from herald_core.contracts.events import MessageStatusChanged
from herald_core.contracts.topics import MESSAGE_STATUS
from herald_infra.runtime.logging import get_logger

log = get_logger(__name__)


class KafkaStatusEvents:
    """Publishes a status event and waits, a bounded time, for Kafka to acknowledge it, so the
    event is out when the caller answers. A status event is a notification, not state (the
    transition it announces is already in MongoDB): a failure is logged, not raised."""

    def __init__(
        self, broker: KafkaBroker, topic: str = MESSAGE_STATUS, timeout_seconds: float = 5.0
    ) -> None:
        self._broker = broker
        self._topic = topic
        self._timeout = timeout_seconds

    async def publish(self, event: MessageStatusChanged) -> None:
        try:
            await asyncio.wait_for(
                self._broker.publish(event, topic=self._topic, key=event.message_id.encode()),
                timeout=self._timeout,
            )
        except (KafkaError, TimeoutError) as error:
            log.warning("status event not published", status=event.status, error=repr(error))
