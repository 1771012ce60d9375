"""The campaign service's gauges of shared state, read when Prometheus scrapes it: campaigns per
status and each campaign's messages per status (MongoDB counters), and every Herald consumer
group's lag (Kafka offsets). See :mod:`herald_campaign.domain.gauge_families` for what they are
and :mod:`herald_campaign.service_layer.gauge_readings` for how they are read; this module
decides when they are read and answers the scrape.

Every replica of the campaign service exports the same values; dashboards take ``max`` over
them.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Sequence
from datetime import datetime, timedelta
from typing import TypeVar

from prometheus_client import Counter
from prometheus_client.core import Metric
from prometheus_client.registry import Collector

from herald_campaign.domain.gauge_families import (
    CampaignProgress,
    GaugeSnapshot,
    LagReading,
    gauge_families,
)
from herald_campaign.entrypoints.services import CampaignServices
from herald_campaign.service_layer.gauge_readings import (
    campaigns_progress,
    count_campaigns_by_status,
    lag_readings,
)
from herald_campaign.service_layer.messages import watched_consumers
from herald_campaign.service_layer.ports import LagReader, WatchedConsumer
from herald_core.contracts.common import utc_now
from herald_infra.mongo.client import Database
from herald_infra.runtime.logging import get_logger
from herald_infra.runtime.service_app import ServiceRuntime

log = get_logger(__name__)

T = TypeVar("T")

REFRESH_TIMEOUT_SECONDS = 5.0
"""How long one source may take to read, well within a Prometheus scrape timeout (10 s)."""

REFRESH_FAILURES = Counter(
    "herald_gauge_refresh_failures_total",
    "Scrape-time reads that failed, by source (campaigns: MongoDB counters; consumer-lag: "
    "Kafka offsets); that source's gauges are missing from the scrape.",
    ["source"],
)


class ScrapeGauges(Collector):
    """Reads the gauges' sources at most once every ``min_interval_seconds`` (however many
    Prometheus servers or dashboards scrape), each source within ``timeout_seconds``; a
    source that fails or times out is left out of the scrape and counted in
    ``herald_gauge_refresh_failures_total``."""

    def __init__(
        self,
        db: Database,
        lag: LagReader,
        watched: Sequence[WatchedConsumer],
        *,
        min_interval_seconds: float,
        finished_window: timedelta,
        campaign_limit: int,
        timeout_seconds: float,
        monotonic: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utc_now,
    ) -> None:
        self._db = db
        self._lag = lag
        self._watched = list(watched)
        self._min_interval = min_interval_seconds
        self._finished_window = finished_window
        self._campaign_limit = campaign_limit
        self._timeout = timeout_seconds
        self._monotonic = monotonic
        self._now = now
        self._lock = asyncio.Lock()
        self._refreshed_at: float | None = None
        self._snapshot = GaugeSnapshot()

    async def refresh(self) -> None:
        """Read the sources again unless they were read less than the minimum interval ago;
        concurrent scrapes wait for one read."""
        async with self._lock:
            started = self._monotonic()
            if self._refreshed_at is not None and started - self._refreshed_at < self._min_interval:
                return
            campaigns, lag = await asyncio.gather(
                self._guarded("campaigns", self._campaigns()),
                self._guarded("consumer-lag", self._lag_readings()),
            )
            by_status, progress = campaigns if campaigns is not None else (None, None)
            self._snapshot = GaugeSnapshot(by_status, progress, lag)
            self._refreshed_at = started

    def collect(self) -> Iterable[Metric]:
        """The families of the last refresh (the Collector protocol)."""
        return gauge_families(self._snapshot)

    async def _guarded(self, source: str, read: Awaitable[T]) -> T | None:
        try:
            async with asyncio.timeout(self._timeout):
                return await read
        except Exception as error:
            REFRESH_FAILURES.labels(source=source).inc()
            log.warning("gauge source not read", source=source, error=repr(error))
            return None

    async def _campaigns(self) -> tuple[dict[str, int], list[CampaignProgress]]:
        by_status = await count_campaigns_by_status(self._db)
        progress = await campaigns_progress(
            self._db, self._now(), self._finished_window, self._campaign_limit
        )
        return by_status, progress

    async def _lag_readings(self) -> list[LagReading]:
        return await lag_readings(self._lag, self._watched)


def register(runtime: ServiceRuntime, services: CampaignServices) -> None:
    """Export the gauges on the runtime's ``/metrics``, refreshed before each answer."""
    settings = services.settings
    gauges = ScrapeGauges(
        runtime.db,
        services.consumer_lag,
        watched_consumers(services.plan),
        min_interval_seconds=settings.metrics_refresh_seconds,
        finished_window=timedelta(seconds=settings.campaign_metrics_finished_seconds),
        campaign_limit=settings.campaign_metrics_limit,
        timeout_seconds=REFRESH_TIMEOUT_SECONDS,
    )
    runtime.scrape_registry.register(gauges)
    runtime.before_scrape.append(gauges.refresh)
