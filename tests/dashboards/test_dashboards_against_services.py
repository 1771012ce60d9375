"""Every metric Herald's Grafana dashboards query is one the running services export, and
every service's ``/metrics`` passes ``promtool check metrics``.

The five services run as real processes. A little traffic makes the labelled series exist, as
production traffic would: a sender account whose sessions the senders check, a campaign sent
with delivery receipts, a Kafka redelivery of a send that was already made, a command over
Kafka, a campaign whose gateway fails on both routes (the fallback, the delay topic and its
relay, a dead letter, open circuits), and the sweep run now (campaigns completed, a webhook
notification that cannot be delivered). Then each service is scraped, each metric name of each
dashboard expression is looked up among the families the services export (a histogram's
``_bucket``, ``_sum`` and ``_count`` series belong to the histogram), and each must have
samples: a metric the dashboards query that no service exports, or that nothing in the flow
ever sets, is a panel that would stay empty.
"""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from herald_devstack.processes import free_port
from herald_devstack.stack import SERVICES
from herald_devstack.waiting import eventually
from tests.dashboards.exposition import Family, families, family_of
from tests.dashboards.grafana import Query, dashboard_files, queries
from tests.dashboards.promql import metric_names
from tests.dashboards.traffic import redeliver_a_send, send_a_command, set_gateway
from tests.promtool import check_metrics
from tests.system import (
    RunningStack,
    add_account,
    add_operator_token,
    api_client,
    gateway_client,
    launch_campaign,
    phones,
    wait_for_statuses,
)

pytestmark = pytest.mark.e2e

Mongo = AsyncMongoClient[dict[str, Any]]

PROMETHEUS_OWN = frozenset({"up", "scrape_duration_seconds", "scrape_samples_scraped"})
"""Series Prometheus makes for each target itself; no service exports them."""

SWEEP = "sch_system-sweep"
SENT = {"sent", "delivered", "read"}


def dashboard_metrics() -> dict[str, list[Query]]:
    """Each metric name the dashboards use -> the queries that use it."""
    used: dict[str, list[Query]] = {}
    for path in dashboard_files():
        for query in queries(path):
            for name in metric_names(query.promql):
                used.setdefault(name, []).append(query)
    return used


async def scrape_all(stack: RunningStack) -> dict[str, str]:
    """Each service's ``/metrics`` text."""
    scrapes: dict[str, str] = {}
    async with httpx.AsyncClient(timeout=30) as client:
        for service in SERVICES:
            response = await client.get(stack.metrics_url(service))
            assert response.status_code == 200, (service, response.text)
            scrapes[service] = response.text
    return scrapes


def unserved(used: dict[str, list[Query]], exported: dict[str, Family]) -> dict[str, str]:
    """The dashboards' metrics no service exports with samples, and why."""
    problems: dict[str, str] = {}
    for name, uses in sorted(used.items()):
        if name in PROMETHEUS_OWN:
            continue
        family = family_of(name, exported.values())
        where = "; ".join(f"{q.dashboard}: {q.where}" for q in uses[:3])
        if family is None:
            problems[name] = f"exported by no service (used in {where})"
        elif not family.sampled_by:
            problems[name] = (
                f"declared by {sorted(family.services)} but never set by the traffic "
                f"(used in {where})"
            )
    return problems


async def drive_traffic(
    stack: RunningStack,
    api: httpx.AsyncClient,
    mongo: Mongo,
    gateways: tuple[httpx.AsyncClient, httpx.AsyncClient],
    producer: Any,
) -> None:
    await add_account(api, stack, gateways, "dashboards", "+14155550199")
    for gateway in gateways:
        await set_gateway(gateway, receipts=True, receiptDelayMs=50, readReceiptDelayMs=None)

    sent = await launch_campaign(api, phones(3, prefix="+1415"), delay_type="fast")
    await wait_for_statuses(mongo, stack, sent, 3, SENT)
    await redeliver_a_send(producer, mongo, stack, sent)
    await send_a_command(producer)

    for gateway in gateways:
        await set_gateway(gateway, mode="fail_5xx")
    failing = await launch_campaign(api, phones(1, prefix="+1212"), delay_type="fast")
    await wait_for_statuses(mongo, stack, failing, 1, {"failed"}, timeout=90)

    endpoint = await api.post(
        "/api/notification-endpoints",
        json={
            "url": f"http://127.0.0.1:{free_port()}/nobody-listens",
            "events": ["campaign.completed", "campaign.failed"],
        },
    )
    assert endpoint.status_code == 201, endpoint.text
    # The sweep is a system job: operators run it.
    async with api_client(stack) as operator:
        operator.headers["Authorization"] = f"Bearer {await add_operator_token(mongo, stack)}"
        run = await operator.post(f"/api/admin/schedules/{SWEEP}/run")
    assert run.status_code == 202, run.text


async def scrapes_once_served(stack: RunningStack, used: dict[str, list[Query]]) -> dict[str, str]:
    """The scrapes once every dashboard metric has samples, or the last ones after a minute
    (the test then names what is missing)."""
    last: dict[str, str] = {}

    async def probe() -> dict[str, str]:
        last.update(await scrape_all(stack))
        return last

    try:
        return await eventually(
            probe,
            lambda scrapes: not unserved(used, families(scrapes)),
            timeout=60,
            interval=1,
            what="every dashboard metric exported with samples",
        )
    except AssertionError:
        return last


@pytest.fixture(scope="module")
async def traffic(stack: RunningStack, producer: Any) -> dict[str, str]:
    """Drive the flow once; each service's scrape once every dashboard metric has samples (or
    the last ones, when some never get any)."""
    mongo: Mongo = AsyncMongoClient(stack.config.mongodb_url)
    async with (
        api_client(stack) as api,
        gateway_client(stack, stack.primary_gateway) as primary,
        gateway_client(stack, stack.fallback_gateway) as fallback,
    ):
        try:
            await drive_traffic(stack, api, mongo, (primary, fallback), producer)
            return await scrapes_once_served(stack, dashboard_metrics())
        finally:
            for gateway in (primary, fallback):  # back to the simulators' start-up state
                await gateway.delete("/_sim/config")
            await mongo.close()


async def test_every_metric_the_dashboards_query_is_exported_with_samples(
    traffic: dict[str, str],
) -> None:
    used = dashboard_metrics()
    assert len(used) >= 30, sorted(used)  # the dashboards were read, not skipped
    assert unserved(used, families(traffic)) == {}


async def test_the_scrape_time_gauges_come_from_the_campaign_service(
    traffic: dict[str, str],
) -> None:
    exported = families(traffic)
    for name in (
        "herald_campaigns",
        "herald_campaign_info",
        "herald_campaign_messages",
        "herald_consumer_lag_records",
    ):
        assert exported[name].sampled_by == {"campaign"}, name


@pytest.mark.parametrize("service", SERVICES)
async def test_each_service_passes_promtool_check_metrics(
    traffic: dict[str, str], service: str
) -> None:
    result = check_metrics(traffic[service])
    assert result.returncode == 0, result.stdout + result.stderr
    assert "herald_" in traffic[service]
