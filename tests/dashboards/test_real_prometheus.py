"""The dashboards and the alert rules against a real Prometheus scraping the running services.

Prometheus (Debian's server, deploy/local/prometheus.sh) scrapes the package's stack every second
with the configuration derived from deploy/prometheus/prometheus.yml and evaluates
deploy/prometheus/alerts.yml every second. Its alerts fire without their ``for`` (a test cannot
wait the minutes an operator's alert waits; the expressions are the deployed ones).

The traffic, in phases that each wait until Prometheus has scraped what the next one builds on
(a counter or a labelled histogram that first appears already incremented shows no rate, so each
gets increments after its first scrape): campaigns sent with delivery receipts, a Kafka
redelivery, a command over Kafka, a webhook endpoint nobody answers, the sweep run twice; the
primary sender stopped while a campaign of 120 fans out (lag grows, the target is down) and
started again; both gateways failing for one message, then for 25 (dead letters, retries through
a delay topic, open circuits); the scheduler stopped and started again; an account's session
stopped. Then every expression of every Grafana panel and variable must return a number, every
campaign's numbers on the *Campaigns* dashboard must equal its stats route, and each alert whose
condition the scenario produced must have fired.
"""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
import yaml
from pymongo import AsyncMongoClient

from herald_core.contracts.topics import MESSAGE_SEND_PRIMARY
from herald_devstack.processes import free_port, wait_ready
from herald_devstack.waiting import eventually
from tests.dashboards.grafana import Query, dashboard_files, load, panels, queries
from tests.dashboards.prometheus_server import (
    ALERTS,
    DEPLOYED,
    PrometheusApi,
    Sample,
    has_a_number,
    prometheus_for,
    value,
)
from tests.dashboards.promql import metric_names
from tests.dashboards.traffic import redeliver_a_send, send_a_command, set_gateway
from tests.system import (
    RunningStack,
    add_account,
    add_operator_token,
    add_tenant_token,
    api_client,
    gateway_client,
    launch_campaign,
    phones,
    set_gateway_session,
    wait_for_statuses,
)

pytestmark = pytest.mark.e2e

Mongo = AsyncMongoClient[dict[str, Any]]

SWEEP = "sch_system-sweep"
SENT = {"sent", "delivered", "read"}
ALL = ".*"
"""What Grafana puts for a variable set to All (the dashboards' ``allValue``)."""
LAGGING = 120
"""Messages fanned out while the primary sender is stopped: above the alert's 100."""
DEAD = 25
"""Messages failing on both routes after the first: above the alert's 10 dead letters."""
ALERT_TIMEOUT = 60.0


@dataclass
class Scenario:
    """What the traffic did, for the tests to check."""

    started: float
    campaigns: dict[str, tuple[int, set[str]]] = field(default_factory=dict)
    """Campaign id -> (messages, the statuses each ended in)."""
    fired: dict[str, list[dict[str, str]] | str] = field(default_factory=dict)
    """Alert -> the labels it fired with, or why it was not seen firing."""
    account: str = ""
    """The sender account whose session the scenario stops."""
    token: str = ""
    """The API token of the campaigns' tenant."""

    def duration(self) -> str:
        """The run so far as a PromQL duration: the dashboards looked at over the whole run."""
        return f"{math.ceil(time.monotonic() - self.started) + 30}s"


@pytest.fixture(scope="module")
def prometheus_url(stack: RunningStack, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with prometheus_for(stack, tmp_path_factory.mktemp("prometheus")) as url:
        yield url


@pytest.fixture(scope="module")
async def prom(prometheus_url: str) -> AsyncIterator[PrometheusApi]:
    async with httpx.AsyncClient(timeout=30) as client:
        yield PrometheusApi(prometheus_url, client)


async def now_in(prom: PrometheusApi, expr: str) -> float:
    """The value of ``expr`` (one series) in Prometheus now; 0 when it has no series."""
    samples = await prom.query(expr)
    return value(samples[0]) if samples else 0.0


async def scraped(prom: PrometheusApi, expr: str, minimum: float, what: str) -> None:
    """Wait until ``expr`` (one series) is at least ``minimum`` in Prometheus."""

    async def probe() -> list[Sample]:
        return await prom.query(expr)

    await eventually(
        probe,
        lambda samples: bool(samples) and value(samples[0]) >= minimum,
        timeout=60,
        interval=0.5,
        what=f"Prometheus to have scraped {what} ({expr} >= {minimum})",
    )


async def counted(
    prom: PrometheusApi, expr: str, what: str, action: Callable[[], Awaitable[object]]
) -> None:
    """Do ``action`` and wait until Prometheus has scraped ``expr`` (a count) one higher than
    before it: what the next phase builds on is in the database of Prometheus."""
    before = await now_in(prom, expr)
    await action()
    await scraped(prom, expr, before + 1, what)


async def watch_alert(
    prom: PrometheusApi, scenario: Scenario, key: str, labels: dict[str, str]
) -> None:
    """Wait until the alert ``key`` names (``Alert`` or ``Alert{what}``) fires with ``labels``
    among its labels; record under ``key`` what was seen, or why nothing was."""
    alert = key.partition("{")[0]

    async def probe() -> list[dict[str, str]]:
        return [a for a in await prom.firing() if a["alertname"] == alert]

    try:
        seen = await eventually(
            probe,
            lambda found: any(labels.items() <= a.items() for a in found),
            timeout=ALERT_TIMEOUT,
            interval=0.5,
            what=f"{alert} firing with {labels}",
        )
    except AssertionError as error:
        scenario.fired[key] = str(error)
        return
    scenario.fired[key] = [a for a in seen if labels.items() <= a.items()]


async def run_sweep(stack: RunningStack, mongo: Mongo, prom: PrometheusApi) -> None:
    """Run the sweep now, as operators do (a system job); wait until Prometheus has seen it
    fire."""
    token = await add_operator_token(mongo, stack)

    async def run() -> None:
        async with tenant_client(stack, token) as operator:
            started = await operator.post(f"/api/admin/schedules/{SWEEP}/run")
        assert started.status_code == 202, started.text

    expr = 'sum(herald_schedule_firing_lateness_seconds_count{kind="sweep"})'
    await counted(prom, expr, "a sweep", run)


async def restarted(
    stack: RunningStack, name: str, while_down: Callable[[], Awaitable[None]]
) -> None:
    """Stop one service process, await ``while_down``, start it again and wait until ready."""
    process = stack.processes[name]
    await asyncio.to_thread(process.stop, 20)
    try:
        await while_down()
    finally:
        process.start()
        await asyncio.to_thread(wait_ready, [process], 120)


async def drive(
    stack: RunningStack,
    operator: httpx.AsyncClient,
    api: httpx.AsyncClient,
    mongo: Mongo,
    gateways: tuple[httpx.AsyncClient, httpx.AsyncClient],
    producer: Any,
    prom: PrometheusApi,
    scenario: Scenario,
) -> None:
    primary = gateways[0]
    # The campaigns' tenant has no sender accounts: its messages go through the deployment's
    # own gateway sessions, whose receipts the simulators post to the campaign service. The
    # account whose session stops belongs to the operator's tenant.
    account = await add_account(operator, stack, gateways, "prom", "+14155550142")
    scenario.account = account["id"]
    for gateway in gateways:
        await set_gateway(gateway, receipts=True, receiptDelayMs=50, readReceiptDelayMs=100)
    endpoint = await api.post(
        "/api/notification-endpoints",
        json={
            "url": f"http://127.0.0.1:{free_port()}/nobody-listens",
            "events": ["campaign.completed", "campaign.failed"],
        },
    )
    assert endpoint.status_code == 201, endpoint.text

    # Sent campaigns, a redelivery, a command; the sweep, twice over the run.
    async def send_first() -> None:
        first = await launch_campaign(api, phones(3, prefix="+1415"), delay_type="fast")
        await wait_for_statuses(mongo, stack, first, 3, {"read"})  # through both receipts
        scenario.campaigns[first] = (3, SENT)

    read = 'sum(herald_message_transitions_total{target="read"})'
    await counted(prom, read, "the first campaign read", send_first)
    second = await launch_campaign(api, phones(4, prefix="+1646"), delay_type="fast")
    await wait_for_statuses(mongo, stack, second, 4, {"read"})
    scenario.campaigns[second] = (4, SENT)
    for _ in range(2):  # twice: a counter's first scrape may already hold the first one
        await counted(
            prom,
            "sum(herald_duplicate_deliveries_total)",
            "a redelivery",
            lambda: redeliver_a_send(producer, mongo, stack, second),
        )
    await send_a_command(producer)
    await send_a_command(producer)
    await run_sweep(stack, mongo, prom)

    # The primary sender stopped while a campaign fans out: its group's lag grows.
    lagging: list[str] = []

    async def fan_out_unconsumed() -> None:
        lagging.append(
            await launch_campaign(api, phones(LAGGING, prefix="+1312"), delay_type="fast")
        )
        await watch_alert(
            prom, scenario, "HeraldServiceDown{primary-sender}", {"job": "primary-sender"}
        )
        await watch_alert(
            prom, scenario, "HeraldConsumerLagGrowing", {"topic": MESSAGE_SEND_PRIMARY}
        )

    await restarted(stack, "primary-sender", fan_out_unconsumed)
    await wait_for_statuses(mongo, stack, lagging[0], LAGGING, SENT, timeout=120)
    scenario.campaigns[lagging[0]] = (LAGGING, SENT)

    # Both gateways failing: one message first, so that the dead-letter series exists before
    # the burst it must count; retries through the delay topic, open circuits.
    for gateway in gateways:
        await set_gateway(gateway, mode="fail_5xx")

    async def fail_one() -> None:
        one = await launch_campaign(api, phones(1, prefix="+1212"), delay_type="fast")
        await wait_for_statuses(mongo, stack, one, 1, {"failed"}, timeout=90)
        scenario.campaigns[one] = (1, {"failed"})

    await counted(prom, "sum(herald_dead_letters_total)", "the first dead letter", fail_one)
    burst = await launch_campaign(api, phones(DEAD, prefix="+1213"), delay_type="fast")
    await wait_for_statuses(mongo, stack, burst, DEAD, {"failed"}, timeout=120)
    scenario.campaigns[burst] = (DEAD, {"failed"})
    await watch_alert(prom, scenario, "HeraldDeadLetterRate", {"severity": "page"})
    # The tenant has no accounts: its messages use the deployment's own, "default".
    await watch_alert(prom, scenario, "HeraldCircuitOpen", {"account": "default"})
    for gateway in gateways:
        await gateway.delete("/_sim/config")
    await run_sweep(stack, mongo, prom)

    # No scheduler: no leader, and its target down.
    async def without_scheduler() -> None:
        await watch_alert(prom, scenario, "HeraldSchedulerWithoutLeader", {"severity": "page"})
        await watch_alert(prom, scenario, "HeraldServiceDown{scheduler}", {"job": "scheduler"})

    await restarted(stack, "scheduler", without_scheduler)

    # The account's primary session stopped.
    session = "prom-noweb"  # add_account's primary session of the account "prom"
    await set_gateway_session(primary, "STOPPED", name=session)
    try:
        await watch_alert(
            prom,
            scenario,
            "HeraldSessionNotWorking",
            {"account": scenario.account, "route": "primary"},
        )
    finally:
        await set_gateway_session(primary, "WORKING", name=session)


@pytest.fixture(scope="module")
async def scenario(stack: RunningStack, producer: Any, prom: PrometheusApi) -> Scenario:
    result = Scenario(started=time.monotonic())
    await scraped(prom, 'count(up{job=~".+"} == 1)', 5, "every service up")
    mongo: Mongo = AsyncMongoClient(stack.config.mongodb_url)
    result.token = await add_tenant_token(mongo, stack, "prometheus")
    async with (
        api_client(stack) as operator,
        tenant_client(stack, result.token) as api,
        gateway_client(stack, stack.primary_gateway) as primary,
        gateway_client(stack, stack.fallback_gateway) as fallback,
    ):
        try:
            await drive(stack, operator, api, mongo, (primary, fallback), producer, prom, result)
        finally:
            for gateway in (primary, fallback):  # back to the simulators' start-up state
                await gateway.delete("/_sim/config")
            await mongo.close()
    return result


def tenant_client(stack: RunningStack, token: str) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {token}"}
    return httpx.AsyncClient(base_url=stack.api, headers=headers, timeout=60)


def dashboard_queries() -> list[Query]:
    """Every expression of every panel and query variable, with the variables as placeholders
    (the real values come from the scenario: see :func:`as_run`)."""
    return [query for path in dashboard_files() for query in queries(path)]


def query_id(query: Query) -> str:
    return f"{query.dashboard.removesuffix('.json')}: {query.where}"


def as_run(query: Query, scenario: Scenario, **values: str) -> str:
    """The query as Grafana sends it over the run: variables All (or ``values``), every range
    variable the run's duration."""
    (path,) = [p for p in dashboard_files() if p.name == query.dashboard]
    variables = {v["name"]: ALL for v in load(path)["templating"]["list"]}
    for found in queries(path, {**variables, **values}, scenario.duration()):
        if found.where == query.where:
            return found.promql
    raise AssertionError(f"{query_id(query)} not found again")


async def test_the_scrape_configuration_is_the_deployed_one(
    scenario: Scenario, prom: PrometheusApi
) -> None:
    jobs = {sample["metric"]["job"] for sample in await prom.query("up")}
    deployed = yaml.safe_load(DEPLOYED.read_text())
    assert jobs == {job["job_name"] for job in deployed["scrape_configs"]}


@pytest.mark.parametrize("query", dashboard_queries(), ids=query_id)
async def test_every_panel_shows_numbers(
    scenario: Scenario, prom: PrometheusApi, query: Query
) -> None:
    samples = await prom.query(as_run(query, scenario))
    assert has_a_number(samples), f"{query.expr}\n→ {samples}"


def campaign_panel(target: str) -> Query:
    """A target of the *Campaigns* table panel, whose rows are campaigns."""
    (path,) = [p for p in dashboard_files() if p.name == "herald-campaigns.json"]
    board = load(path)
    (table,) = [p for p in panels(board) if p.get("title") == "Campaigns"]
    refs = {t["refId"] for t in table["targets"]}
    assert target in refs, refs
    (query,) = [q for q in queries(path) if q.where == f"panel 'Campaigns' target {target}"]
    return query


async def test_each_campaign_on_the_dashboard_agrees_with_its_stats_route(
    scenario: Scenario, stack: RunningStack, prom: PrometheusApi
) -> None:
    # The Campaigns table: B all messages, C sent (delivered and read included), D failed
    # (expired included), as the stats route counts them; Success rate in its own panel.
    total, sent, failed = (campaign_panel(t) for t in "BCD")
    rate = next(
        q
        for path in dashboard_files()
        for q in queries(path)
        if q.where == "panel 'Success rate' target A"
    )
    async with tenant_client(stack, scenario.token) as api:
        for campaign, (count, statuses) in scenario.campaigns.items():

            async def both(campaign: str = campaign) -> tuple[dict[str, float], dict[str, float]]:
                stats = (await api.get(f"/api/messages/campaign/{campaign}/stats")).json()
                api_numbers = {
                    "total": float(stats["total"]),
                    "sent": float(stats["sent"]),
                    "failed": float(stats["failed"]),
                    "success": round(float(stats["successRate"]) / 100, 4),
                }
                shown: dict[str, float] = {}
                for name, query in (
                    ("total", total),
                    ("sent", sent),
                    ("failed", failed),
                    ("success", rate),
                ):
                    samples = await prom.query(as_run(query, scenario, campaign=campaign))
                    if samples:
                        shown[name] = round(value(samples[0]), 4)
                return api_numbers, shown

            api_numbers, _ = await eventually(
                both,
                lambda pair: pair[0] == pair[1],
                timeout=30,
                interval=0.5,
                what=f"campaign {campaign} on the dashboard as on its stats route",
            )
            # Not 0 == 0: the campaign's messages are all there, ended as the scenario made them.
            expected_sent = count if statuses == SENT else 0
            assert api_numbers == {
                "total": count,
                "sent": expected_sent,
                "failed": count - expected_sent,
                "success": expected_sent / count,
            }, campaign


async def test_every_alert_rule_evaluates(scenario: Scenario, prom: PrometheusApi) -> None:
    document = yaml.safe_load(ALERTS.read_text())
    rules = [rule for group in document["groups"] for rule in group["rules"]]
    for rule in rules:
        await prom.query(rule["expr"])  # a QueryError names the rule's expression
    loaded = {rule["name"]: rule for rule in await prom.rules()}
    assert set(loaded) == {rule["alert"] for rule in rules}
    unhealthy = {name: r.get("lastError") for name, r in loaded.items() if r["health"] != "ok"}
    assert unhealthy == {}


async def test_every_metric_an_alert_reads_is_scraped(
    scenario: Scenario, prom: PrometheusApi
) -> None:
    # An alert on a series nobody exports would never fire.
    document = yaml.safe_load(ALERTS.read_text())
    missing: dict[str, list[str]] = {}
    for rule in (rule for group in document["groups"] for rule in group["rules"]):
        for name in sorted(metric_names(rule["expr"])):
            if not await prom.query(f"count({name})"):
                missing.setdefault(rule["alert"], []).append(name)
    assert missing == {}
    # The sweep failed nowhere, yet its failures are a series, at 0 (HeraldSweepFailing).
    failed = await prom.query('herald_schedule_firings_total{kind="sweep", outcome="failed"}')
    assert [value(sample) for sample in failed] == [0.0]


PRODUCED = (
    "HeraldSessionNotWorking",
    "HeraldCircuitOpen",
    "HeraldDeadLetterRate",
    "HeraldConsumerLagGrowing",
    "HeraldSchedulerWithoutLeader",
    "HeraldServiceDown{primary-sender}",
    "HeraldServiceDown{scheduler}",
)
"""The alerts whose condition the scenario produces. HeraldSweepFailing is not among them: the
sweep fails on a database error mid-run, which the shared stack cannot be given without breaking
the other tests; its rule is evaluated above and unit-tested in alerts.test.yml."""


@pytest.mark.parametrize("alert", PRODUCED)
async def test_the_alert_fires_when_its_condition_is_produced(
    scenario: Scenario, alert: str
) -> None:
    seen = scenario.fired.get(alert, "never watched")
    assert isinstance(seen, list) and seen, seen
    assert all(labels["alertname"] == alert.partition("{")[0] for labels in seen)
    assert all(labels["severity"] == "page" for labels in seen)
