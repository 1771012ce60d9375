"""Helpers for the scheduler's integration tests: settings on the test servers with a database
of the module's own, a started broker, and campaign and schedule documents as the campaign
service writes them."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import pytest
from faststream.kafka import KafkaBroker

from herald_core.messages.states import MessageStatus
from herald_core.schedules import campaign_schedule_id
from herald_infra.kafka.broker import build_broker
from herald_infra.kafka.topics import ensure_topics
from herald_scheduler.settings import SchedulerSettings

TENANT = "tenant-s"


@pytest.fixture(scope="module")
def settings(kafka_bootstrap: str, mongodb_url: str) -> SchedulerSettings:
    return SchedulerSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_url=mongodb_url,
        mongodb_database=f"it_scheduler_{uuid.uuid4().hex[:8]}",
        scheduler_lease_seconds=2,
        scheduler_tick_seconds=0.05,
        auto_pause_min_attempts=20,
        auto_pause_failure_ratio=0.8,
    )


@pytest.fixture
async def broker(settings: SchedulerSettings) -> AsyncIterator[KafkaBroker]:
    await ensure_topics(settings)
    broker = build_broker(settings, client_id="it-scheduler")
    await broker.start()
    yield broker
    await broker.stop()


def new_campaign_id() -> str:
    return f"cmp_{uuid.uuid4().hex[:12]}"


def campaign_document(campaign_id: str, status: str = "running", **fields: Any) -> dict[str, Any]:
    now = datetime.now(UTC)
    return {
        "_id": campaign_id,
        "tenantId": TENANT,
        "name": "scheduler test",
        "messageBody": "Hi",
        "status": status,
        "counts": {"total": 0, **{s.value: 0 for s in MessageStatus}},
        "createdAt": now,
        "updatedAt": now,
        **fields,
    }


def message_document(
    campaign_id: str, n: int, status: MessageStatus, *, run: int = 1, **fields: Any
) -> dict[str, Any]:
    now = datetime.now(UTC)
    phone = f"+14155550{n:03d}"
    return {
        "_id": f"msg_{campaign_id}_{run}_{n}",
        "run": run,
        "tenantId": TENANT,
        "campaignId": campaign_id,
        "contactId": f"{campaign_id}:{phone}",
        "phone": phone,
        "body": "Hi",
        "accountId": "default",
        "delayType": "fast",
        "status": status.value,
        "attempt": 1,
        "retryCount": 0,
        "attempts": [],
        "createdAt": now,
        "updatedAt": now,
        **fields,
    }


def counts_of(messages: list[dict[str, Any]]) -> dict[str, int]:
    counts = {s.value: 0 for s in MessageStatus}
    for message in messages:
        counts[message["status"]] += 1
    return {"total": len(messages), **counts}


def one_shot_schedule(campaign_id: str, send_at: datetime, **fields: Any) -> dict[str, Any]:
    return {
        "_id": campaign_schedule_id(campaign_id),
        "kind": "campaign-send",
        "tenantId": TENANT,
        "campaignId": campaign_id,
        "sendAt": send_at,
        "active": True,
        "nextRunAt": send_at,
        "createdAt": datetime.now(UTC),
        **fields,
    }
