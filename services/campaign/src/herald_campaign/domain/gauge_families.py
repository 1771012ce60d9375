"""Gauges of what lives in MongoDB and Kafka rather than in a process: campaigns by status,
each campaign's messages by status, and the consumer lag of every Herald group. The campaign
service reads them when Prometheus scrapes it (see
:mod:`herald_campaign.entrypoints.scrape_gauges`); this module only decides which campaigns are
shown and turns what was read into metric families.

A campaign is named by its tenant and id, never by its name: a name is the tenant's words (it
may say what a campaign is about, or hold anything), and a label is kept by every Prometheus
that scrapes. The campaigns shown one by one are bounded (those in progress and those finished
lately, at most a limit), so a tenant's number of campaigns never sets the number of series.
Pure; no I/O.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from prometheus_client.core import GaugeMetricFamily, Metric

from herald_core.campaigns.lifecycle import FINISHED_STATUSES, CampaignStatus
from herald_core.messages.states import MessageStatus

CAMPAIGNS = "herald_campaigns"
CAMPAIGN_INFO = "herald_campaign_info"
CAMPAIGN_MESSAGES = "herald_campaign_messages"
CAMPAIGN_ENGAGEMENT = "herald_campaign_engagement"
ENGAGEMENT_KINDS = ("replied", "opted_out", "suppressed_at_fan_out")
CONSUMER_LAG = "herald_consumer_lag_records"

IN_PROGRESS: frozenset[CampaignStatus] = frozenset(
    {CampaignStatus.SCHEDULED, CampaignStatus.RUNNING, CampaignStatus.PAUSED}
)
"""Campaigns shown for as long as they are in one of these statuses."""


@dataclass(frozen=True)
class CampaignProgress:
    """One campaign as the dashboards show it: its message counters per status."""

    tenant: str
    campaign: str
    status: str
    messages: dict[str, int]
    """Every message status, zeros included."""
    engagement: dict[str, int] = field(default_factory=dict)
    """What recipients did: ``replied``, ``opted_out``, and the contacts the fan-out made no
    message for because they are suppressed (``suppressed_at_fan_out``); zeros included."""


@dataclass(frozen=True)
class LagReading:
    """A consumer group's lag on one topic, summed over its partitions (records)."""

    group: str
    topic: str
    lag: int


@dataclass(frozen=True)
class GaugeSnapshot:
    """What one refresh read. ``None`` for a source that could not be read: its gauges are
    left out of the scrape rather than shown stale."""

    campaigns_by_status: dict[str, int] | None = None
    progress: list[CampaignProgress] | None = None
    lag: list[LagReading] | None = field(default=None)


def campaigns_in_view(now: datetime, finished_window: timedelta) -> dict[str, object]:
    """The MongoDB filter of the campaigns shown one by one: those scheduled, running or paused,
    and those that finished (completed, cancelled) within ``finished_window``, so that a
    campaign's last counts stay on the dashboards for a while after it ends."""
    return {
        "$or": [
            {"status": {"$in": sorted(s.value for s in IN_PROGRESS)}},
            {
                "status": {"$in": sorted(s.value for s in FINISHED_STATUSES)},
                "updatedAt": {"$gte": now - finished_window},
            },
        ]
    }


def _count(value: object) -> int:
    # Counters move with concurrent transitions and may be missing or briefly off; a gauge
    # never shows a negative number of messages.
    if isinstance(value, bool) or not isinstance(value, int | float):
        return 0
    return max(int(value), 0)


def campaign_progress(document: Mapping[str, object]) -> CampaignProgress:
    """A campaign document's progress: its ``counts`` per message status."""
    raw_counts = document.get("counts")
    counts: Mapping[str, object] = raw_counts if isinstance(raw_counts, Mapping) else {}
    raw_engagement = document.get("engagement")
    engaged: Mapping[str, object] = raw_engagement if isinstance(raw_engagement, Mapping) else {}
    return CampaignProgress(
        tenant=str(document.get("tenantId", "")),
        campaign=str(document["_id"]),
        status=str(document.get("status", "")),
        messages={s.value: _count(counts.get(s.value)) for s in MessageStatus},
        engagement={
            "replied": _count(engaged.get("replied")),
            "opted_out": _count(engaged.get("optedOut")),
            "suppressed_at_fan_out": _count(document.get("suppressedAtFanOut")),
        },
    )


def campaigns_by_status(rows: Iterable[tuple[object, object]]) -> dict[str, int]:
    """Campaign counts per lifecycle status from ``(status, count)`` rows, every status listed
    (zeros included) so that a status nobody is in shows 0 rather than no data."""
    counts = {s.value: 0 for s in CampaignStatus}
    for status, count in rows:
        counts[str(status)] = counts.get(str(status), 0) + _count(count)
    return counts


def gauge_families(snapshot: GaugeSnapshot) -> list[Metric]:
    """The metric families of a snapshot; a source that was not read has none."""
    families: list[Metric] = []
    if snapshot.campaigns_by_status is not None:
        campaigns = GaugeMetricFamily(
            CAMPAIGNS, "Campaigns per lifecycle status, all tenants.", labels=["status"]
        )
        for status, count in sorted(snapshot.campaigns_by_status.items()):
            campaigns.add_metric([status], count)
        families.append(campaigns)
    if snapshot.progress is not None:
        info = GaugeMetricFamily(
            CAMPAIGN_INFO,
            "1 for each campaign in view (scheduled, running, paused, or finished lately), "
            "with its lifecycle status.",
            labels=["tenant", "campaign", "status"],
        )
        messages = GaugeMetricFamily(
            CAMPAIGN_MESSAGES,
            "Messages of each campaign in view per message status, from its counters.",
            labels=["tenant", "campaign", "status"],
        )
        engagement = GaugeMetricFamily(
            CAMPAIGN_ENGAGEMENT,
            "What the recipients of each campaign in view did: replied (sent messages written "
            "back to within the reply window), opted_out (answered with an opt-out keyword), "
            "suppressed_at_fan_out (contacts given no message: on the suppression list).",
            labels=["tenant", "campaign", "kind"],
        )
        for each in snapshot.progress:
            info.add_metric([each.tenant, each.campaign, each.status], 1)
            for status, count in each.messages.items():
                messages.add_metric([each.tenant, each.campaign, status], count)
            for kind in ENGAGEMENT_KINDS:
                value = each.engagement.get(kind, 0)
                engagement.add_metric([each.tenant, each.campaign, kind], value)
        families += [info, messages, engagement]
    if snapshot.lag is not None:
        lag = GaugeMetricFamily(
            CONSUMER_LAG,
            "Records a Herald consumer group has yet to consume on a topic (end offsets minus "
            "committed offsets, summed over the topic's partitions).",
            labels=["group", "topic"],
        )
        for reading in snapshot.lag:
            lag.add_metric([reading.group, reading.topic], reading.lag)
        families.append(lag)
    return families
