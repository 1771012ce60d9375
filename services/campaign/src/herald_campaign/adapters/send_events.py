"""Putting messages on Kafka's send topics (and marking them queued in MongoDB), and publishing
poison records again: the campaign service's :class:`MessageQueue` and
:class:`RedrivePublisher`, on the shared :mod:`herald_infra.messages` routines."""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager

from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker

from herald_campaign.service_layer.errors import EventBusUnavailable
from herald_core.attempt_plan import AttemptPlan
from herald_core.contracts.events import SendMessage
from herald_infra.messages.queueing import publish_send_events, queue_pending_messages
from herald_infra.messages.redrive import redrive_failed_messages
from herald_infra.messages.unsent import republish_waiting_messages
from herald_infra.mongo.client import Database, Document


@asynccontextmanager
async def kafka_failure_as(what: str) -> AsyncIterator[None]:
    """Raise :class:`EventBusUnavailable` ("cannot publish <what>") when Kafka fails inside."""
    try:
        yield
    except (KafkaError, TimeoutError) as error:
        raise EventBusUnavailable(f"cannot publish {what}: {error!r}") from error


class KafkaSendEvents:
    """Send events through ``broker``; the messages they announce are in ``db``."""

    def __init__(self, db: Database, broker: KafkaBroker) -> None:
        self._db = db
        self._broker = broker

    async def queue_pending(self, campaign_id: str, *, batch_size: int) -> int:
        async with kafka_failure_as("send events"):
            return await queue_pending_messages(
                self._db, self._broker, campaign_id, batch_size=batch_size
            )

    async def redrive_failed(self, selector: Document, *, topic: str, batch_size: int) -> int:
        async with kafka_failure_as("send events"):
            return await redrive_failed_messages(
                self._db, self._broker, selector, topic=topic, batch_size=batch_size
            )

    async def republish_waiting(
        self, campaign_id: str, plan: AttemptPlan, *, batch_size: int
    ) -> int:
        async with kafka_failure_as("the waiting messages"):
            return await republish_waiting_messages(
                self._db, self._broker, plan, campaign_id, batch_size=batch_size
            )

    async def publish_send_events(self, events: Sequence[SendMessage], topic: str) -> None:
        async with kafka_failure_as("the redrive"):
            await publish_send_events(self._broker, events, topic)

    async def republish_record(
        self, payload: bytes, *, topic: str, key: bytes | None, headers: dict[str, str]
    ) -> None:
        async with kafka_failure_as("the redrive"):
            await self._broker.publish(payload, topic=topic, key=key, headers=headers)
