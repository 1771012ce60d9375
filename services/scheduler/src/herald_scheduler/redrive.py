"""The scheduled redrive (hourly by default): every failed message whose last failure was
retryable gets a fresh attempt plan, once (see :mod:`herald_infra.messages.redrive`)."""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from herald_infra.messages.redrive import redrive_failed_messages
from herald_infra.mongo.client import Database
from herald_infra.runtime.logging import get_logger
from herald_scheduler.metrics import REDRIVEN

log = get_logger(__name__)


class ScheduledRedrive:
    def __init__(
        self, db: Database, broker: KafkaBroker, *, first_topic: str, batch_size: int
    ) -> None:
        self._db = db
        self._broker = broker
        self._topic = first_topic
        self._batch_size = batch_size

    async def run(self) -> int:
        """Redrive the retryable failures on the attempt plan's first send topic; returns how
        many messages were requeued. A message redriven already (or concurrently) is not
        requeued again: each requeue is a compare-and-set on its status and attempt."""
        requeued = await redrive_failed_messages(
            self._db,
            self._broker,
            {"retryable": True},
            topic=self._topic,
            batch_size=self._batch_size,
        )
        REDRIVEN.inc(requeued)
        if requeued:
            log.info("retryable failures redriven", messages=requeued)
        return requeued
