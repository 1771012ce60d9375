"""Publishing ``contact.events`` (opt-outs, opt-ins, replies), keyed by tenant and number so one
number's opt-out and opt-in stay in order."""

from __future__ import annotations

import asyncio

from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker

from herald_core.contracts.events import AnyContactEvent
from herald_core.contracts.topics import CONTACT_EVENTS
from herald_infra.runtime.logging import get_logger

log = get_logger(__name__)


class KafkaContactEvents:
    """Publishes a contact event and waits, a bounded time, for Kafka to acknowledge it. The
    change it announces is in MongoDB already (the suppression list, the message's flag): a
    failure is logged, not raised, and the gateway's webhook is answered all the same."""

    def __init__(
        self, broker: KafkaBroker, topic: str = CONTACT_EVENTS, timeout_seconds: float = 5.0
    ) -> None:
        self._broker = broker
        self._topic = topic
        self._timeout = timeout_seconds

    async def publish(self, event: AnyContactEvent) -> None:
        key = f"{event.tenant_id}|{event.phone}".encode()
        try:
            await asyncio.wait_for(
                self._broker.publish(event, topic=self._topic, key=key), timeout=self._timeout
            )
        except (KafkaError, TimeoutError) as error:
            log.warning("contact event not published", type=event.type, error=repr(error))
