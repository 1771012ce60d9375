"""The campaign service's scrape-time gauges on the real MongoDB-wire server and Kafka broker:
``/metrics`` (on the metrics listener, never the API) shows campaigns per status, each campaign
in view with its message counters but not its name, at most ``HERALD_CAMPAIGN_METRICS_LIMIT``
of them however many there are, and the lag of every Herald consumer group; it reads them at
most once per interval, and a source it cannot read is left out (and counted) while the rest of
the scrape goes on."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta

import httpx
import pytest
from prometheus_client import REGISTRY, CollectorRegistry, generate_latest
from prometheus_client.parser import text_string_to_metric_families

from herald_campaign.adapters.consumer_lag import KafkaConsumerLag
from herald_campaign.domain.campaigns import CampaignDraft, draft_campaign_document
from herald_campaign.entrypoints.scrape_gauges import ScrapeGauges
from herald_campaign.service_layer.messages import watched_consumers
from herald_campaign.service_layer.ports import WatchedConsumer
from herald_core.attempt_plan import AttemptPlan
from herald_core.contracts.topics import MESSAGE_SEND_PRIMARY, PRIMARY_SENDER_GROUP
from herald_core.messages.states import MessageStatus
from herald_devstack.processes import free_port

from .conftest import (
    OTHER_TENANT,
    TENANT,
    TOKEN,
    RunningService,
    campaign_settings,
    create_campaign,
    running_campaign_with_messages,
    running_service,
)

pytestmark = pytest.mark.integration

Samples = dict[str, list[tuple[dict[str, str], float]]]


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "gauges").model_copy(
        update={"metrics_refresh_seconds": 0.0}
    )
    async with running_service(settings) as svc:
        yield svc


def parse(exposition: str) -> Samples:
    samples: Samples = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            samples.setdefault(sample.name, []).append((sample.labels, sample.value))
    return samples


async def exposition(service: RunningService) -> str:
    async with service.metrics_client() as client:
        response = await client.get("/metrics")
    assert response.status_code == 200, response.text
    return response.text


async def scrape(service: RunningService) -> Samples:
    return parse(await exposition(service))


def value(samples: Samples, metric: str, /, **labels: str) -> float | None:
    """The one sample of ``metric`` whose labels include ``labels``; None when there is none."""
    found = [v for s, v in samples.get(metric, []) if labels.items() <= s.items()]
    assert len(found) <= 1, (metric, labels, found)
    return found[0] if found else None


async def finished_campaign(service: RunningService, api: httpx.AsyncClient, ago: float) -> str:
    campaign_id: str = (await create_campaign(api))["id"]
    await service.db["campaigns"].update_one(
        {"_id": campaign_id},
        {
            "$set": {
                "status": "completed",
                "updatedAt": datetime.now(UTC) - timedelta(seconds=ago),
                "counts": {"total": 2, "sent": 2},
            }
        },
    )
    return campaign_id


async def test_metrics_show_each_campaign_in_view_with_its_message_counters(
    service: RunningService,
) -> None:
    api = service.client
    running = await running_campaign_with_messages(
        api,
        service,
        [
            (MessageStatus.SENT, False),
            (MessageStatus.SENT, False),
            (MessageStatus.FAILED, True),
            (MessageStatus.QUEUED, False),
        ],
    )
    draft: str = (await create_campaign(api, name="Not sent yet"))["id"]
    just_done = await finished_campaign(service, api, ago=60)
    long_done = await finished_campaign(service, api, ago=2 * 3600)

    samples = await scrape(service)

    messages = "herald_campaign_messages"
    assert value(samples, messages, campaign=running, status="sent", tenant=TENANT) == 2
    assert value(samples, messages, campaign=running, status="failed") == 1
    assert value(samples, messages, campaign=running, status="queued") == 1
    assert value(samples, messages, campaign=running, status="delivered") == 0
    assert value(samples, messages, campaign=just_done, status="sent") == 2
    shown = {labels["campaign"] for labels, _ in samples[messages]}
    assert draft not in shown and long_done not in shown
    info = value(samples, "herald_campaign_info", campaign=running, status="running")
    assert info == 1
    assert "name" not in next(labels for labels, _ in samples["herald_campaign_info"])
    assert value(samples, "herald_campaign_info", campaign=just_done, status="completed") == 1
    campaigns = await service.db["campaigns"].count_documents({"status": "completed"})
    assert value(samples, "herald_campaigns", status="completed") == campaigns
    assert value(samples, "herald_campaigns", status="draft") == (
        await service.db["campaigns"].count_documents({"status": "draft"})
    )


async def test_the_api_serves_no_metrics(service: RunningService) -> None:
    for token in (None, TOKEN):
        async with service.client_for(token) as api:
            response = await api.get("/metrics")
        assert response.status_code == 404, response.text
        assert "herald_" not in response.text


PER_CAMPAIGN = ("herald_campaign_info", "herald_campaign_messages", "herald_campaign_engagement")


async def test_campaigns_in_view_are_bounded_and_no_campaign_name_is_exported(
    service: RunningService,
) -> None:
    limit = service.settings.campaign_metrics_limit
    many = limit + 100
    marker = f"name-{uuid.uuid4().hex}"  # in every name, in no id
    batch = uuid.uuid4().hex[:12]
    now = datetime.now(UTC)
    documents = []
    for n in range(many):
        draft = CampaignDraft(name=f"{marker} Private launch {n}", message_body="Hi")
        tenant = TENANT if n % 2 else OTHER_TENANT
        document = draft_campaign_document(f"cmp_{batch}_{n}", tenant, draft, now=now)
        documents.append({**document, "status": "running"})
    await service.db["campaigns"].insert_many(documents)

    text = await exposition(service)
    samples = parse(text)

    in_view = {labels["campaign"] for labels, _ in samples["herald_campaign_info"]}
    assert len(in_view) == limit  # more than that are running: the most recent ones
    for metric in PER_CAMPAIGN:
        assert {labels["campaign"] for labels, _ in samples[metric]} <= in_view, metric
    per_campaign = sum(len(samples[metric]) for metric in PER_CAMPAIGN)
    series_per_campaign = 1 + len(MessageStatus) + 3
    assert per_campaign <= limit * series_per_campaign, per_campaign
    names = await service.db["campaigns"].distinct("name")
    assert len(names) > many
    assert marker not in text
    assert [name for name in names if name in text] == []


async def test_metrics_show_the_lag_of_every_herald_consumer_group(
    service: RunningService,
) -> None:
    samples = await scrape(service)
    plan = AttemptPlan.parse(service.settings.attempt_plan)
    shown = {
        (labels["group"], labels["topic"]): lag
        for labels, lag in samples["herald_consumer_lag_records"]
    }
    expected = {(w.group, w.topic) for w in watched_consumers(plan)}
    assert set(shown) == expected
    assert all(lag >= 0 for lag in shown.values())


def failures(source: str) -> float:
    found = REGISTRY.get_sample_value("herald_gauge_refresh_failures_total", {"source": source})
    return found or 0.0


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


def exported(registry: CollectorRegistry) -> Samples:
    return parse(generate_latest(registry).decode())


async def test_sources_are_read_at_most_once_per_interval(
    service: RunningService, registry: CollectorRegistry
) -> None:
    now = [1000.0]
    lag = KafkaConsumerLag(service.kafka)
    gauges = ScrapeGauges(
        service.db,
        lag,
        [WatchedConsumer(MESSAGE_SEND_PRIMARY, PRIMARY_SENDER_GROUP)],
        min_interval_seconds=5,
        finished_window=timedelta(hours=1),
        campaign_limit=100,
        timeout_seconds=10,
        monotonic=lambda: now[0],
    )
    registry.register(gauges)
    try:
        await gauges.refresh()
        before = value(exported(registry), "herald_campaigns", status="draft")
        assert before is not None
        await create_campaign(service.client, name="made between two scrapes")
        now[0] += 4.9
        await gauges.refresh()  # within the interval: what the first read found
        assert value(exported(registry), "herald_campaigns", status="draft") == before
        now[0] += 0.1
        await gauges.refresh()
        assert value(exported(registry), "herald_campaigns", status="draft") == before + 1
    finally:
        await lag.close()


async def test_a_source_that_cannot_be_read_is_left_out_and_counted(
    service: RunningService, registry: CollectorRegistry
) -> None:
    unreachable = KafkaConsumerLag(f"127.0.0.1:{free_port()}", timeout_seconds=2)
    gauges = ScrapeGauges(
        service.db,
        unreachable,
        [WatchedConsumer(MESSAGE_SEND_PRIMARY, PRIMARY_SENDER_GROUP)],
        min_interval_seconds=0,
        finished_window=timedelta(hours=1),
        campaign_limit=100,
        timeout_seconds=5,
    )
    registry.register(gauges)
    before = failures("consumer-lag")
    try:
        await gauges.refresh()
    finally:
        await unreachable.close()
    samples = exported(registry)
    assert "herald_consumer_lag_records" not in samples  # no data rather than stale data
    assert value(samples, "herald_campaigns", status="draft") is not None  # the rest goes on
    assert failures("consumer-lag") == before + 1
