"""Operations on a tenant's messages: publish what was never published, redrive retryable
failures, and show the queues (message statuses and consumer lag)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from aiokafka.errors import KafkaError
from faststream.kafka import KafkaBroker

from herald_campaign.adapters.consumer_lag import ConsumerLag, WatchedConsumer
from herald_campaign.domain.campaigns import CampaignStatus
from herald_campaign.service_layer.errors import CampaignNotFound, EventBusUnavailable
from herald_shared.contracts.events import SendMessage
from herald_shared.logging import get_logger
from herald_shared.message_states import MessageStatus
from herald_shared.message_transitions import transition
from herald_shared.mongo import CAMPAIGNS, MESSAGES, Database, Document
from herald_shared.queueing import (
    publish_send_events,
    queue_pending_messages,
    send_event_from_document,
)
from herald_shared.topics import (
    CAMPAIGN_EVENTS,
    DISPATCHER_GROUP,
    FALLBACK_SENDER_GROUP,
    MESSAGE_SEND_FALLBACK,
    MESSAGE_SEND_PRIMARY,
    PRIMARY_SENDER_GROUP,
)

log = get_logger(__name__)

WATCHED_CONSUMERS: tuple[WatchedConsumer, ...] = (
    WatchedConsumer(MESSAGE_SEND_PRIMARY, PRIMARY_SENDER_GROUP),
    WatchedConsumer(MESSAGE_SEND_FALLBACK, FALLBACK_SENDER_GROUP),
    WatchedConsumer(CAMPAIGN_EVENTS, DISPATCHER_GROUP),
)


class LagReader(Protocol):
    async def read(self, watched: Sequence[WatchedConsumer]) -> list[ConsumerLag]:
        """Raise :class:`EventBusUnavailable` when Kafka does not answer."""
        ...


@dataclass(frozen=True)
class QueueStats:
    by_status: dict[str, int]
    """The tenant's messages per status (every status listed, zeros included)."""
    topics: list[ConsumerLag]
    """Lag of each Herald consumer group; Kafka-wide, not per tenant."""


class MessageQueueService:
    def __init__(
        self, db: Database, broker: KafkaBroker, lag: LagReader, *, batch_size: int
    ) -> None:
        self._db = db
        self._broker = broker
        self._lag = lag
        self._batch_size = batch_size

    async def process_queue(self, tenant_id: str) -> int:
        """Publish the ``pending`` messages of the tenant's running campaigns (never published,
        or their publish was lost) and mark them queued; returns how many were queued.

        A message already on a send topic may be published again: a sender claims a message by
        compare-and-set, so it is still sent once.
        """
        queued = 0
        running = self._db[CAMPAIGNS].find(
            {"tenantId": tenant_id, "status": CampaignStatus.RUNNING.value}, {"_id": 1}
        )
        try:
            async for campaign in running:
                count = await queue_pending_messages(
                    self._db, self._broker, campaign["_id"], batch_size=self._batch_size
                )
                if count:
                    log.info("pending messages queued", campaign_id=campaign["_id"], queued=count)
                queued += count
        except (KafkaError, TimeoutError) as error:
            raise EventBusUnavailable(f"cannot publish send events: {error!r}") from error
        return queued

    async def retry_failed(self, tenant_id: str, campaign_id: str | None = None) -> int:
        """Give each retryable failed message of the tenant (of one campaign if given) a new
        attempt: failed -> queued with ``attempt`` and ``retryCount`` one higher, then publish
        its send event. Returns how many were requeued.

        The status moves first: a send event that arrived before it would find nothing to claim.
        """
        selector: Document = {
            "tenantId": tenant_id,
            "status": MessageStatus.FAILED.value,
            "retryable": True,
        }
        if campaign_id is not None:
            campaign = await self._db[CAMPAIGNS].find_one(
                {"_id": campaign_id, "tenantId": tenant_id}, {"_id": 1}
            )
            if campaign is None:
                raise CampaignNotFound(campaign_id)
            selector["campaignId"] = campaign_id

        requeued = 0
        batch: list[SendMessage] = []
        try:
            # Ids first: the loop moves the messages out of the selection it would iterate over.
            ids = [d["_id"] async for d in self._db[MESSAGES].find(selector, {"_id": 1})]
            for start in range(0, len(ids), self._batch_size):
                chunk = ids[start : start + self._batch_size]
                async for message in self._db[MESSAGES].find({**selector, "_id": {"$in": chunk}}):
                    requeued_message = await self._requeue(message)
                    if requeued_message is not None:
                        batch.append(send_event_from_document(requeued_message))
                await publish_send_events(self._broker, batch)
                requeued += len(batch)
                batch = []
        except (KafkaError, TimeoutError) as error:
            raise EventBusUnavailable(f"cannot publish send events: {error!r}") from error
        if requeued:
            log.info("failed messages requeued", requeued=requeued, campaign_id=campaign_id)
        return requeued

    async def _requeue(self, message: Document) -> Document | None:
        """Move one failed message to queued for its next attempt; None if someone else did."""
        attempt = int(message.get("attempt", 1))
        retry_count = int(message.get("retryCount", 0))
        next_fields = {"attempt": attempt + 1, "retryCount": retry_count + 1}
        moved = await transition(
            self._db,
            message_id=message["_id"],
            campaign_id=message["campaignId"],
            source=MessageStatus.FAILED,
            target=MessageStatus.QUEUED,
            # Conditioned on the attempt we read: two concurrent redrives requeue it once.
            attempt=message.get("attempt"),
            fields=next_fields,
        )
        if not moved:
            return None
        return {**message, "status": MessageStatus.QUEUED.value, **next_fields}

    async def queue_stats(self, tenant_id: str) -> QueueStats:
        by_status = {status.value: 0 for status in MessageStatus}
        rows = await self._db[MESSAGES].aggregate(
            [
                {"$match": {"tenantId": tenant_id}},
                {"$group": {"_id": "$status", "count": {"$sum": 1}}},
            ]
        )
        async for row in rows:
            by_status[str(row["_id"])] = int(row["count"])
        return QueueStats(by_status=by_status, topics=await self._lag.read(WATCHED_CONSUMERS))
