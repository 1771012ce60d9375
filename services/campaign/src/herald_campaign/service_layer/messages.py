"""Operations on a tenant's messages: publish what was never published, redrive retryable
failures, and show the queues (message statuses, consumer lag, circuit breakers)."""

from __future__ import annotations

from dataclasses import dataclass

from herald_campaign.domain.campaigns import CampaignStatus
from herald_campaign.service_layer.errors import CampaignNotFound
from herald_campaign.service_layer.ports import (
    ConsumerLag,
    LagReader,
    MessageQueue,
    WatchedConsumer,
)
from herald_core.attempt_plan import AttemptPlan
from herald_core.contracts.topics import (
    CAMPAIGN_COMMANDS,
    CAMPAIGN_EVENTS,
    CAMPAIGN_GROUP,
    CAMPAIGN_SYSTEM_COMMANDS,
    CAMPAIGN_SYSTEM_GROUP,
    DEAD_LETTER_GROUP,
    DISPATCHER_GROUP,
    FALLBACK_SENDER_GROUP,
    MESSAGE_DLT,
    MESSAGE_SEND_FALLBACK,
    MESSAGE_SEND_PRIMARY,
    NOTIFICATIONS_GROUP,
    PRIMARY_SENDER_GROUP,
    RETRY_RELAY_GROUP,
)
from herald_core.messages.states import MessageStatus
from herald_infra.mongo.client import CAMPAIGNS, CIRCUIT_BREAKERS, Database, Document
from herald_infra.runtime.logging import get_logger

log = get_logger(__name__)


def watched_consumers(plan: AttemptPlan) -> list[WatchedConsumer]:
    """Every Herald consumer group and the topic it reads: the senders, the dispatcher, the
    retry relay on each delay topic of the plan, the dead-letter recorder, the campaign
    service's commands and its notifications."""
    return [
        WatchedConsumer(MESSAGE_SEND_PRIMARY, PRIMARY_SENDER_GROUP),
        WatchedConsumer(MESSAGE_SEND_FALLBACK, FALLBACK_SENDER_GROUP),
        WatchedConsumer(CAMPAIGN_EVENTS, DISPATCHER_GROUP),
        WatchedConsumer(CAMPAIGN_COMMANDS, CAMPAIGN_GROUP),
        WatchedConsumer(CAMPAIGN_SYSTEM_COMMANDS, CAMPAIGN_SYSTEM_GROUP),
        WatchedConsumer(CAMPAIGN_EVENTS, NOTIFICATIONS_GROUP),
        *(WatchedConsumer(topic, RETRY_RELAY_GROUP) for topic in plan.retry_topics()),
        WatchedConsumer(MESSAGE_DLT, DEAD_LETTER_GROUP),
    ]


@dataclass(frozen=True)
class QueueStats:
    by_status: dict[str, int]
    """The tenant's messages per status (every status listed, zeros included), by its
    campaigns' counters."""
    topics: list[ConsumerLag]
    """Lag of each Herald consumer group; Kafka-wide, not per tenant."""
    circuits: list[Document]
    """The tenant's circuit breakers (one per sender account and engine)."""


class MessageQueueService:
    def __init__(
        self,
        db: Database,
        queue: MessageQueue,
        lag: LagReader,
        *,
        plan: AttemptPlan,
        batch_size: int,
    ) -> None:
        self._db = db
        self._plan = plan
        self._queue = queue
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
        async for campaign in running:
            count = await self._queue.queue_pending(campaign["_id"], batch_size=self._batch_size)
            if count:
                log.info("pending messages queued", campaign_id=campaign["_id"], queued=count)
            queued += count
        return queued

    async def retry_failed(self, tenant_id: str, campaign_id: str | None = None) -> int:
        """Give each retryable failed message of the tenant (of one campaign if given) a fresh
        attempt plan: failed -> queued at plan step 0, ``attempt`` and ``retryCount`` one higher,
        its send event on the plan's first topic. Returns how many were requeued.
        """
        # Scoped by campaign, so that the failed messages are found by the (status,
        # campaignId, …) index rather than among every tenant's.
        selector: Document = {"tenantId": tenant_id, "retryable": True}
        if campaign_id is not None:
            campaign = await self._db[CAMPAIGNS].find_one(
                {"_id": campaign_id, "tenantId": tenant_id}, {"_id": 1}
            )
            if campaign is None:
                raise CampaignNotFound(campaign_id)
            selector["campaignId"] = campaign_id
        else:
            selector["campaignId"] = {"$in": await self._campaign_ids(tenant_id)}
        requeued = await self._queue.redrive_failed(
            selector, topic=self._plan.first_topic, batch_size=self._batch_size
        )
        if requeued:
            log.info("failed messages requeued", requeued=requeued, campaign_id=campaign_id)
        return requeued

    async def _campaign_ids(self, tenant_id: str) -> list[str]:
        """The tenant's campaigns: its messages are found through them, by the (status,
        campaignId, …) index."""
        campaigns = self._db[CAMPAIGNS].find({"tenantId": tenant_id}, {"_id": 1})
        return [c["_id"] async for c in campaigns]

    async def _counted_by_status(self, tenant_id: str) -> dict[str, int]:
        """The tenant's messages per status, summed from its campaigns' counters: counting
        the messages themselves takes time in proportion to them (seconds for a campaign of a
        million), and the counters are exact but for a transition in flight (the sweep
        reconciles them)."""
        by_status = {status.value: 0 for status in MessageStatus}
        campaigns = self._db[CAMPAIGNS].find({"tenantId": tenant_id}, {"counts": 1})
        async for campaign in campaigns:
            counts = campaign.get("counts") or {}
            for status in by_status:
                value = counts.get(status)
                if isinstance(value, int) and not isinstance(value, bool) and value > 0:
                    by_status[status] += value
        return by_status

    async def queue_stats(self, tenant_id: str) -> QueueStats:
        by_status = await self._counted_by_status(tenant_id)
        circuits = [
            c
            async for c in self._db[CIRCUIT_BREAKERS]
            .find({"tenantId": tenant_id}, {"owner": 0})
            .sort([("accountId", 1), ("engine", 1)])
        ]
        return QueueStats(
            by_status=by_status,
            topics=await self._lag.read(watched_consumers(self._plan)),
            circuits=circuits,
        )
