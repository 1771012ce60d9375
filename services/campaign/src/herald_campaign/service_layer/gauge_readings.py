"""What the scrape-time gauges show, read from where it lives: campaigns per status and each
campaign's messages per status (MongoDB counters), and consumer groups' lag (Kafka offsets).
:mod:`herald_campaign.domain.gauge_families` decides which campaigns are shown and how."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta

from herald_campaign.domain.gauge_families import (
    CampaignProgress,
    LagReading,
    campaign_progress,
    campaigns_by_status,
    campaigns_in_view,
)
from herald_campaign.service_layer.ports import LagReader, WatchedConsumer
from herald_infra.mongo.client import CAMPAIGNS, Database


async def count_campaigns_by_status(db: Database) -> dict[str, int]:
    """Campaigns per status, every status listed."""
    rows = await db[CAMPAIGNS].aggregate([{"$group": {"_id": "$status", "count": {"$sum": 1}}}])
    return campaigns_by_status([(row["_id"], row["count"]) async for row in rows])


async def campaigns_progress(
    db: Database, now: datetime, finished_window: timedelta, limit: int
) -> list[CampaignProgress]:
    """The message counters of the campaigns in view (see
    :func:`~herald_campaign.domain.gauge_families.campaigns_in_view`), at most ``limit``, the
    most recently updated first."""
    selector = campaigns_in_view(now, finished_window)
    projection = {
        "tenantId": 1,
        "status": 1,
        "counts": 1,
        "engagement": 1,
        "suppressedAtFanOut": 1,
    }
    cursor = db[CAMPAIGNS].find(selector, projection).sort([("updatedAt", -1)]).limit(limit)
    return [campaign_progress(document) async for document in cursor]


async def lag_readings(lag: LagReader, watched: Sequence[WatchedConsumer]) -> list[LagReading]:
    """The lag of each watched group; raises :class:`EventBusUnavailable` if Kafka fails."""
    return [
        LagReading(group=each.group, topic=each.topic, lag=each.lag)
        for each in await lag.read(watched)
    ]
