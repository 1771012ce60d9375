"""Herald as real processes with two scheduler replicas, a short lease and a fast sweep, for
the scheduled-send tests: a one-shot send on time and once, a leader killed mid-way, a cron
campaign's runs, the schedules API."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pymongo import AsyncMongoClient

from herald_devstack.waiting import eventually
from tests.system import RunningStack, metric_value, running_stack, stack_config

LEASE_SECONDS = 3.0
SCHEDULERS = ("scheduler", "scheduler-2")
SCHEDULING_ENV = {
    "HERALD_SCHEDULER_LEASE_SECONDS": f"{LEASE_SECONDS:g}",
    # Six fields, seconds last: the sweep (which completes campaigns) every two seconds.
    "HERALD_SWEEP_CRON": "* * * * * */2",
    "HERALD_REDRIVE_CRON": "0 * * * *",
    # The cron campaigns fire every few seconds (the quota's default is 5 minutes).
    "HERALD_QUOTA_MIN_CRON_INTERVAL_SECONDS": "1",
}


@pytest.fixture(scope="package")
def stack(
    kafka_bootstrap: str, mongodb_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    config = stack_config(
        kafka_bootstrap,
        mongodb_url,
        tmp_path_factory.mktemp("herald-scheduling"),
        SCHEDULING_ENV,
        scheduler_replicas=len(SCHEDULERS),
    )
    with running_stack(config) as running:
        yield running


Mongo = AsyncMongoClient[dict[str, Any]]


def in_seconds(seconds: float) -> datetime:
    """A moment ``seconds`` from now, at the millisecond (what MongoDB stores)."""
    at = datetime.now(UTC) + timedelta(seconds=seconds)
    return at.replace(microsecond=at.microsecond // 1000 * 1000)


async def draft_campaign(api: httpx.AsyncClient, numbers: list[str]) -> str:
    created = await api.post(
        "/api/campaigns",
        json={"name": "scheduled", "messageBody": "Hi {{name|there}}", "delayType": "fast"},
    )
    assert created.status_code == 201, created.text
    campaign_id: str = created.json()["id"]
    added = await api.post(
        f"/api/campaigns/{campaign_id}/contacts",
        json={"contacts": [{"phone": p} for p in numbers]},
    )
    assert added.status_code == 200 and added.json()["accepted"] == len(numbers), added.text
    return campaign_id


async def schedule_send(
    api: httpx.AsyncClient, campaign_id: str, schedule: dict[str, Any]
) -> dict[str, Any]:
    sent = await api.post(f"/api/campaigns/{campaign_id}/send", json=schedule)
    assert sent.status_code == 202, sent.text
    body: dict[str, Any] = sent.json()
    assert body["status"] == "scheduled", body
    return body


async def firings_of(mongo: Mongo, stack: RunningStack, schedule_id: str) -> list[dict[str, Any]]:
    cursor = mongo[stack.config.database]["schedule_firings"].find({"scheduleId": schedule_id})
    return sorted([f async for f in cursor], key=lambda f: f["scheduledFor"])


async def campaign_of(api: httpx.AsyncClient, campaign_id: str) -> dict[str, Any]:
    response = await api.get(f"/api/campaigns/{campaign_id}")
    assert response.status_code == 200, response.text
    campaign: dict[str, Any] = response.json()
    return campaign


async def wait_for_status(
    api: httpx.AsyncClient, campaign_id: str, status: str, *, timeout: float = 60
) -> dict[str, Any]:
    return await eventually(
        lambda: campaign_of(api, campaign_id),
        lambda c: c["status"] == status,
        timeout=timeout,
        what=f"campaign {campaign_id} {status}",
    )


async def leaders(stack: RunningStack) -> list[str]:
    """The scheduler processes whose ``herald_scheduler_leader`` gauge says they lead."""
    found = []
    for name in SCHEDULERS:
        if stack.processes[name].pid() is None:
            continue
        if await metric_value(stack, name, "herald_scheduler_leader", {}) == 1:
            found.append(name)
    return found


async def the_leader(stack: RunningStack, *, timeout: float = 30) -> str:
    found = await eventually(
        lambda: leaders(stack), lambda names: len(names) == 1, timeout=timeout, what="one leader"
    )
    return found[0]


async def lateness_samples(stack: RunningStack, kind: str) -> tuple[float, float]:
    """Firings of ``kind`` so far over the live schedulers: (all, those within 1 s)."""
    count = within = 0.0
    for name in SCHEDULERS:
        if stack.processes[name].pid() is None:
            continue
        labels = {"kind": kind}
        count += (
            await metric_value(stack, name, "herald_schedule_firing_lateness_seconds_count", labels)
            or 0.0
        )
        within += (
            await metric_value(
                stack,
                name,
                "herald_schedule_firing_lateness_seconds_bucket",
                {**labels, "le": "1.0"},
            )
            or 0.0
        )
    return count, within
