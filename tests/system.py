"""Helpers for tests that run Herald's system as real processes (simulators and services)."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator, Mapping
from contextlib import asynccontextmanager, contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from prometheus_client.parser import text_string_to_metric_families
from pymongo import AsyncMongoClient

from herald_campaign.adapters.api_keys import register_api_key
from herald_campaign.domain.callers import Role
from herald_core.attempt_plan import AttemptPlan
from herald_core.messages.states import TERMINAL_STATUSES
from herald_devstack.processes import ManagedProcess, wait_ready
from herald_devstack.stack import (
    UNPACED_QUIET_ENV,
    StackConfig,
    StackPorts,
    process_names,
    services,
    simulators,
)
from herald_devstack.waiting import eventually
from herald_infra.kafka.broker import build_broker
from herald_infra.messages.counters import reconcile_counters
from herald_infra.mongo.client import MESSAGES, connect, database
from herald_infra.runtime.settings import HeraldSettings
from herald_scheduler.expired_claims import resolve_expired_claims


@dataclass
class RunningStack:
    config: StackConfig
    processes: dict[str, ManagedProcess]

    @property
    def api(self) -> str:
        return self.config.api_url

    @property
    def token(self) -> str:
        return self.config.api_token

    @property
    def primary_gateway(self) -> str:
        return self.config.url(self.config.primary_gateway_port)

    @property
    def fallback_gateway(self) -> str:
        return self.config.url(self.config.fallback_gateway_port)

    def service_url(self, service: str) -> str:
        """Base URL of one service's HTTP surface (/healthz, /readyz; campaign: the API)."""
        return self.config.url(self.config.service_ports[service])

    def metrics_url(self, service: str) -> str:
        """One service's ``/metrics``, on its metrics listener."""
        return self.config.metrics_url(service)


def stack_config(
    kafka_bootstrap: str,
    mongodb_url: str,
    run_dir: Path,
    service_env: Mapping[str, str],
    *,
    scheduler_replicas: int = 1,
) -> StackConfig:
    """A stack on free ports with its own database and token. Its senders keep no anti-ban
    gaps (``HERALD_PACE_SCALE=0``) unless ``service_env`` says otherwise; it runs
    ``scheduler_replicas`` scheduler processes (``scheduler``, ``scheduler-2`` …).

    The scheduler's sweep and redrive run only when ``service_env`` gives them a cron: at
    their production times a test would meet them only if it straddled a 5-minute mark, and
    then act differently from one that didn't."""
    ports = StackPorts.free(process_names(scheduler_replicas))
    return StackConfig(
        kafka_bootstrap=kafka_bootstrap,
        mongodb_url=mongodb_url,
        run_dir=run_dir,
        api_token=f"e2e-{uuid.uuid4().hex}",
        database=f"herald_e2e_{uuid.uuid4().hex[:8]}",
        service_ports=ports.services,
        metrics_ports=ports.metrics,
        primary_gateway_port=ports.primary_gateway,
        fallback_gateway_port=ports.fallback_gateway,
        service_env={
            **UNPACED_QUIET_ENV,
            **service_env,
        },
        scheduler_replicas=scheduler_replicas,
    )


@contextmanager
def running_stack(config: StackConfig) -> Iterator[RunningStack]:
    """Start the simulators and the five services, wait until each is ready, stop them after."""
    processes = [*simulators(config), *services(config)]
    try:
        for process in processes:
            process.start()
        wait_ready(processes, timeout=120)
        yield RunningStack(config, {p.name: p for p in processes})
    finally:
        for process in reversed(processes):
            process.stop(timeout=20)


def gateway_client(stack: RunningStack, base_url: str) -> httpx.AsyncClient:
    """A client of a gateway simulator's API and its ``/_sim`` test endpoints."""
    return httpx.AsyncClient(
        base_url=base_url, headers={"X-Api-Key": stack.config.gateway_api_key}, timeout=30
    )


def api_client(stack: RunningStack) -> httpx.AsyncClient:
    headers = {"Authorization": f"Bearer {stack.token}"}
    return httpx.AsyncClient(base_url=stack.api, headers=headers, timeout=60)


async def add_tenant_token(
    client: AsyncMongoClient[dict[str, object]], stack: RunningStack, tenant: str
) -> str:
    """A bearer token for another tenant, registered as an operator would."""
    token = f"{tenant}-{uuid.uuid4().hex}"
    await register_api_key(client[stack.config.database], token, tenant, tenant)
    return token


async def add_operator_token(
    client: AsyncMongoClient[dict[str, object]], stack: RunningStack
) -> str:
    """A bearer token of an operator key (the ``/api/admin`` routes), registered in
    ``api_keys`` as ``herald admin keys`` would."""
    token = f"operator-{uuid.uuid4().hex}"
    await register_api_key(
        client[stack.config.database], token, None, "operator", role=Role.OPERATOR
    )
    return token


def phones(count: int, *, prefix: str = "+1415") -> list[str]:
    """``count`` distinct valid E.164 numbers (US, San Francisco area)."""
    return [f"{prefix}555{index:04d}" for index in range(count)]


async def launch_campaign(
    api: httpx.AsyncClient,
    numbers: list[str],
    *,
    body: str = "Hello {{name|there}}",
    delay_type: str = "balanced",
) -> str:
    """Create a campaign with these recipients and send it; returns its id."""
    created = await api.post(
        "/api/campaigns",
        json={"name": "delivery test", "messageBody": body, "delayType": delay_type},
    )
    assert created.status_code == 201, created.text
    campaign_id: str = created.json()["id"]
    for start in range(0, len(numbers), 1000):
        chunk = [{"phone": p} for p in numbers[start : start + 1000]]
        added = await api.post(f"/api/campaigns/{campaign_id}/contacts", json={"contacts": chunk})
        assert added.status_code == 200, added.text
        assert added.json()["accepted"] == len(chunk), added.text
    sent = await api.post(f"/api/campaigns/{campaign_id}/send")
    assert sent.status_code == 202, sent.text
    return campaign_id


async def set_gateway_mode(gateway: httpx.AsyncClient, mode: str) -> None:
    """Force every send of a simulator to one outcome (``ok``, ``fail_5xx``, ``rate_limit``…)."""
    response = await gateway.put("/_sim/config", json={"mode": mode})
    assert response.status_code == 200, response.text


async def set_gateway_session(
    gateway: httpx.AsyncClient, status: str, *, name: str = "default"
) -> None:
    """Put a simulator's session in a WAHA status: ``WORKING``, or e.g. ``STOPPED``, where
    every send is refused with 422 (session not connected)."""
    response = await gateway.put(f"/_sim/sessions/{name}", json={"status": status})
    assert response.status_code == 200, response.text


async def sends_of(gateway: httpx.AsyncClient, message_id: str) -> list[dict[str, Any]]:
    """Every request a simulator received for one Herald message, oldest first."""
    response = await gateway.get(f"/_sim/sends/{message_id}")
    if response.status_code == 404:
        return []
    assert response.status_code == 200, response.text
    records: list[dict[str, Any]] = response.json()
    return records


async def messages_of(
    mongo: AsyncMongoClient[dict[str, Any]], stack: RunningStack, campaign_id: str
) -> list[dict[str, Any]]:
    cursor = mongo[stack.config.database]["messages"].find({"campaignId": campaign_id})
    return [doc async for doc in cursor]


async def wait_for_statuses(
    mongo: AsyncMongoClient[dict[str, Any]],
    stack: RunningStack,
    campaign_id: str,
    count: int,
    statuses: set[str],
    *,
    timeout: float = 60,
) -> list[dict[str, Any]]:
    """Wait until ``count`` messages of the campaign exist and each is in one of ``statuses``."""

    async def probe() -> list[dict[str, Any]]:
        return await messages_of(mongo, stack, campaign_id)

    return await eventually(
        probe,
        lambda docs: len(docs) == count and all(d["status"] in statuses for d in docs),
        timeout=timeout,
        what=f"{count} messages of {campaign_id} in {sorted(statuses)}",
    )


async def no_duplicate_sends(*gateways: httpx.AsyncClient) -> dict[str, int]:
    """Accepted sends per Herald message over all the simulators; asserts none got one twice."""
    accepted: dict[str, int] = {}
    for gateway in gateways:
        response = await gateway.get("/_sim/sends")
        assert response.status_code == 200, response.text
        summary = response.json()
        assert summary["duplicates"] == [], summary["duplicates"]
        for message_id, count in summary["byMessage"].items():
            accepted[message_id] = accepted.get(message_id, 0) + count
    twice = {m: n for m, n in accepted.items() if n > 1}
    assert twice == {}, f"sent more than once across gateways: {twice}"
    return accepted


async def metric_value(
    stack: RunningStack, service: str, name: str, labels: Mapping[str, str]
) -> float | None:
    """The value of one sample on a service's ``/metrics`` (the sample called ``name`` whose
    labels include ``labels``), or None when the service exposes no such sample."""
    async with httpx.AsyncClient(timeout=10) as client:
        response = await client.get(stack.metrics_url(service))
    assert response.status_code == 200, response.text
    for family in text_string_to_metric_families(response.text):
        for sample in family.samples:
            if sample.name == name and labels.items() <= sample.labels.items():
                return float(sample.value)
    return None


@dataclass
class Sweep:
    """What the scheduler's periodic sweep does for crash recovery, run from a test."""

    db: Any
    broker: Any
    plan: AttemptPlan
    corrections: dict[str, int]
    """Every counter correction the reconciliations made, summed per counter."""

    async def __call__(self, campaign_id: str) -> int:
        """Resolve the claims whose lease expired (by the configured policy); once none of the
        campaign's messages is busy, reconcile its counters. Returns how many are busy."""
        await resolve_expired_claims(self.db, self.broker, plan=self.plan)
        busy = await self.db[MESSAGES].count_documents(
            {"campaignId": campaign_id, "status": {"$nin": [s.value for s in TERMINAL_STATUSES]}}
        )
        if busy == 0:
            for name, delta in (await reconcile_counters(self.db, campaign_id)).items():
                self.corrections[name] = self.corrections.get(name, 0) + delta
        return int(busy)


@asynccontextmanager
async def sweeper(stack: RunningStack) -> AsyncIterator[Sweep]:
    """A :class:`Sweep` connected to the stack's Kafka and database."""
    env = stack.config.service_env
    settings = HeraldSettings(
        kafka_bootstrap_servers=stack.config.kafka_bootstrap,
        mongodb_url=stack.config.mongodb_url,
        mongodb_database=stack.config.database,
        attempt_plan=env.get("HERALD_ATTEMPT_PLAN", HeraldSettings().attempt_plan),
    )
    broker = build_broker(settings, client_id="herald-test-sweeper")
    client = connect(settings)
    await broker.start()
    try:
        yield Sweep(
            database(client, settings), broker, AttemptPlan.parse(settings.attempt_plan), {}
        )
    finally:
        await broker.stop()
        await client.close()


async def add_account(
    api: httpx.AsyncClient,
    stack: RunningStack,
    gateways: tuple[httpx.AsyncClient, ...],
    name: str,
    phone: str,
) -> dict[str, Any]:
    """An account whose sessions are new sessions on the simulators (NOWEB on the primary's,
    WEBJS on the fallback's), created through the API as an operator would."""
    primary_gw, fallback_gw = gateways
    sessions = {"primary": f"{name}-noweb", "fallback": f"{name}-webjs"}
    await primary_gw.put(f"/_sim/sessions/{sessions['primary']}", json={"engine": "NOWEB"})
    await fallback_gw.put(f"/_sim/sessions/{sessions['fallback']}", json={"engine": "WEBJS"})
    key = stack.config.gateway_api_key
    created = await api.post(
        "/api/accounts",
        json={
            "phone": phone,
            "name": name,
            "primary": {
                "gateway": "waha",
                "baseUrl": stack.primary_gateway,
                "session": sessions["primary"],
                "apiKey": key,
            },
            "fallback": {
                "gateway": "waha",
                "baseUrl": stack.fallback_gateway,
                "session": sessions["fallback"],
                "apiKey": key,
            },
            "warmupSchedule": [],
        },
    )
    assert created.status_code == 201, created.text
    account: dict[str, Any] = created.json()
    return account
