"""Which campaigns the scrape-time gauges show, and the metric families they become."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import cast

from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import Metric
from prometheus_client.parser import text_string_to_metric_families
from prometheus_client.registry import Collector

from herald_campaign.domain.gauge_families import (
    CampaignProgress,
    GaugeSnapshot,
    LagReading,
    campaign_progress,
    campaigns_by_status,
    campaigns_in_view,
    gauge_families,
)
from herald_core.messages.states import MessageStatus

NOW = datetime(2026, 11, 29, 12, 0, tzinfo=UTC)


class Fixed(Collector):
    def __init__(self, snapshot: GaugeSnapshot) -> None:
        self._snapshot = snapshot

    def collect(self) -> Iterable[Metric]:
        return gauge_families(self._snapshot)


def exposed(snapshot: GaugeSnapshot) -> dict[str, dict[tuple[tuple[str, str], ...], float]]:
    """The samples a scrape shows for ``snapshot``: name -> sorted labels -> value."""
    registry = CollectorRegistry()
    registry.register(Fixed(snapshot))
    samples: dict[str, dict[tuple[tuple[str, str], ...], float]] = {}
    for family in text_string_to_metric_families(generate_latest(registry).decode()):
        for sample in family.samples:
            key = tuple(sorted(sample.labels.items()))
            samples.setdefault(sample.name, {})[key] = sample.value
    return samples


def test_campaigns_in_progress_are_in_view_and_finished_ones_only_for_the_window() -> None:
    selector = campaigns_in_view(NOW, timedelta(hours=1))
    in_progress, finished = cast(list[dict[str, object]], selector["$or"])
    assert in_progress == {"status": {"$in": ["paused", "running", "scheduled"]}}
    assert finished == {
        "status": {"$in": ["cancelled", "completed"]},
        "updatedAt": {"$gte": NOW - timedelta(hours=1)},
    }


def test_a_campaign_shows_every_message_status_and_never_a_negative_count() -> None:
    progress = campaign_progress(
        {
            "_id": "cmp_1",
            "tenantId": "acme",
            "name": "Summer Sale",
            "status": "running",
            "counts": {"total": 5, "sent": 3, "failed": 1, "queued": -1, "read": "x"},
        }
    )
    assert (progress.tenant, progress.campaign, progress.status) == ("acme", "cmp_1", "running")
    assert "Summer Sale" not in repr(progress)  # a campaign's name is never a label
    assert set(progress.messages) == {s.value for s in MessageStatus}
    assert progress.messages["sent"] == 3 and progress.messages["failed"] == 1
    assert progress.messages["queued"] == 0  # a counter briefly off shows 0, not -1
    assert progress.messages["read"] == 0
    assert "total" not in progress.messages  # the sum of the statuses, not a status


def test_a_campaign_without_counters_shows_zeros() -> None:
    progress = campaign_progress({"_id": "cmp_2", "status": "scheduled"})
    assert set(progress.messages.values()) == {0}
    assert progress.tenant == ""


def test_campaigns_by_status_lists_every_lifecycle_status() -> None:
    counts = campaigns_by_status([("running", 2), ("completed", 5)])
    assert counts == {
        "draft": 0,
        "scheduled": 0,
        "running": 2,
        "paused": 0,
        "completed": 5,
        "cancelled": 0,
    }


def test_the_snapshot_becomes_gauges_with_their_labels() -> None:
    snapshot = GaugeSnapshot(
        campaigns_by_status=campaigns_by_status([("running", 1)]),
        progress=[
            CampaignProgress("acme", "cmp_1", "running", {"sent": 3, "failed": 1, "pending": 0})
        ],
        lag=[LagReading("herald-primary-sender", "message.send.primary", 42)],
    )
    samples = exposed(snapshot)
    assert samples["herald_campaigns"][(("status", "running"),)] == 1
    assert samples["herald_campaigns"][(("status", "draft"),)] == 0
    info = (("campaign", "cmp_1"), ("status", "running"), ("tenant", "acme"))
    assert samples["herald_campaign_info"] == {info: 1}
    messages = samples["herald_campaign_messages"]
    assert messages[(("campaign", "cmp_1"), ("status", "sent"), ("tenant", "acme"))] == 3
    assert messages[(("campaign", "cmp_1"), ("status", "failed"), ("tenant", "acme"))] == 1
    lag = (("group", "herald-primary-sender"), ("topic", "message.send.primary"))
    assert samples["herald_consumer_lag_records"] == {lag: 42}
    engagement = samples["herald_campaign_engagement"]
    assert {dict(labels)["kind"]: value for labels, value in engagement.items()} == {
        "replied": 0,
        "opted_out": 0,
        "suppressed_at_fan_out": 0,
    }


def test_a_campaign_shows_what_its_recipients_did() -> None:
    progress = campaign_progress(
        {
            "_id": "cmp_2",
            "tenantId": "acme",
            "status": "running",
            "counts": {"total": 9, "sent": 9},
            "engagement": {"replied": 4, "optedOut": 2},
            "suppressedAtFanOut": 3,
        }
    )
    assert progress.engagement == {"replied": 4, "opted_out": 2, "suppressed_at_fan_out": 3}
    samples = exposed(GaugeSnapshot(progress=[progress]))["herald_campaign_engagement"]
    key = (("campaign", "cmp_2"), ("kind", "opted_out"), ("tenant", "acme"))
    assert samples[key] == 2


def test_a_source_that_was_not_read_has_no_gauges_rather_than_stale_ones() -> None:
    snapshot = GaugeSnapshot(campaigns_by_status=None, progress=None, lag=[])
    families = gauge_families(snapshot)
    assert [f.name for f in families] == ["herald_consumer_lag_records"]
    assert gauge_families(GaugeSnapshot()) == []
