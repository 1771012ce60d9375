"""What the retention tests share: the campaign service's API in process, on the real Kafka
broker and MongoDB-wire server, with a database of the test's own; a campaign whose run ended
(four messages, one dead-lettered, completed by the sweep); the retention job with a retention
of 0 days; and what the API answers of a campaign."""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from faststream.kafka import KafkaBroker

from herald_campaign.bootstrap import create_app
from herald_campaign.settings import CampaignSettings
from herald_core.contracts.topics import MESSAGE_SEND_FALLBACK
from herald_core.messages.dead_letters import (
    dead_letter_document,
    dead_letter_headers,
    message_dead_letter_id,
)
from herald_core.messages.ids import message_id
from herald_core.messages.states import MessageStatus
from herald_devstack.asgi import running
from herald_infra.kafka.broker import build_broker
from herald_infra.kafka.topics import ensure_topics
from herald_infra.messages.queueing import send_event_from_document
from herald_infra.mongo.client import Database, connect, database
from herald_scheduler.message_archive import RunArchive
from herald_scheduler.retention import MessageRetention
from herald_scheduler.settings import SchedulerSettings
from herald_scheduler.sweep import Sweep

TOKEN = "retention-it-token"
TENANT = "tenant-retention"
S = MessageStatus
PHONES = ["+919876500001", "+919876500002", "+919876500003", "+919876500004"]
OUTCOMES: list[tuple[MessageStatus, dict[str, Any]]] = [
    (S.SENT, {}),
    (S.READ, {}),
    (S.FAILED, {"failedReason": "not-on-whatsapp"}),
    (S.FAILED, {"failedReason": "exhausted", "retryable": True}),
]


class Stack:
    def __init__(self, api: httpx.AsyncClient, db: Database, broker: KafkaBroker) -> None:
        self.api, self.db, self.broker = api, db, broker


@contextlib.asynccontextmanager
async def retention_stack(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[Stack]:
    name = f"it_retention_{uuid.uuid4().hex[:8]}"
    settings = CampaignSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_url=mongodb_url,
        mongodb_database=name,
        api_token=TOKEN,
        default_tenant=TENANT,
        default_region="IN",
    )
    scheduler = SchedulerSettings(
        kafka_bootstrap_servers=kafka_bootstrap, mongodb_url=mongodb_url, mongodb_database=name
    )
    app = create_app(settings)
    mongo = connect(settings)
    await ensure_topics(scheduler)
    broker = build_broker(scheduler, client_id="it-retention")
    await broker.start()
    try:
        async with (
            running(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app),
                base_url="http://campaign",
                headers={"Authorization": f"Bearer {TOKEN}"},
            ) as api,
        ):
            yield Stack(api, database(mongo, settings), broker)
    finally:
        await broker.stop()
        await mongo.close()


async def ended_campaign(stack: Stack) -> tuple[str, list[dict[str, Any]]]:
    """A campaign sent to four contacts whose messages (as the dispatcher and senders leave
    them) all ended, one of them dead-lettered; the sweep has completed its run."""
    created = await stack.api.post(
        "/api/campaigns", json={"name": "Old sale", "messageBody": "Hi, 50% OFF!"}
    )
    assert created.status_code == 201, created.text
    campaign_id: str = created.json()["id"]
    added = await stack.api.post(
        f"/api/campaigns/{campaign_id}/contacts", json={"contacts": [{"phone": p} for p in PHONES]}
    )
    assert added.status_code == 200, added.text
    assert (await stack.api.post(f"/api/campaigns/{campaign_id}/send")).status_code == 202
    now = datetime.now(UTC).replace(microsecond=0)
    messages = [
        {
            "_id": message_id(campaign_id, phone, 1),
            "run": 1,
            "tenantId": TENANT,
            "campaignId": campaign_id,
            "contactId": f"{campaign_id}:{phone}",
            "phone": phone,
            "body": "Hi, 50% OFF!",
            "accountId": "default",
            "delayType": "balanced",
            "status": status.value,
            "attempt": 3 if status is S.FAILED else 1,
            "retryCount": 0,
            "attempts": [],
            "createdAt": now,
            "updatedAt": now,
            **extra,
        }
        for phone, (status, extra) in zip(PHONES, OUTCOMES, strict=True)
    ]
    await stack.db["messages"].insert_many(messages)
    counts: dict[str, int] = {"total": len(messages)}
    for status, _ in OUTCOMES:
        counts[status.value] = counts.get(status.value, 0) + 1
    await stack.db["campaigns"].update_one(
        {"_id": campaign_id},
        {"$set": {"dispatchedRun": 1, **{f"counts.{k}": v for k, v in counts.items()}}},
    )
    exhausted = messages[3]
    headers = dead_letter_headers(
        topic=MESSAGE_SEND_FALLBACK,
        partition=0,
        offset=7,
        error="herald_gateways.failures.GatewayTimeout",
        error_message="gateway timed out",
        reason="exhausted",
        attempts=3,
        dead_letter_id=message_dead_letter_id(exhausted["_id"], 3),
    )
    await stack.db["dead_letters"].insert_one(
        dead_letter_document(
            payload=send_event_from_document(exhausted).model_dump_json().encode(),
            headers=headers,
            key=b"default",
            dlt_partition=0,
            dlt_offset=7,
            recorded_at=now,
        )
    )
    sweep = Sweep(stack.db, stack.broker, SchedulerSettings())
    await sweep.run()
    campaign = await stack.db["campaigns"].find_one({"_id": campaign_id})
    assert campaign is not None and campaign["status"] == "completed", campaign
    return campaign_id, messages


def retention_job(
    stack: Stack, archive: RunArchive, *, job: type[MessageRetention] = MessageRetention
) -> MessageRetention:
    """The retention job with a retention of 0 days and a clock a second ahead (the run
    ended within the second)."""
    return job(
        stack.db,
        archive,
        default_days=0,
        batch_size=2,  # several batches even for four messages
        runs_per_pass=10,
        clock=lambda: datetime.now(UTC) + timedelta(seconds=1),
    )


async def answers(stack: Stack, campaign_id: str) -> dict[str, Any]:
    """The campaign's statistics, its entry in the campaign list and its dead letters' ids."""
    stats = await stack.api.get(f"/api/messages/campaign/{campaign_id}/stats")
    listed = await stack.api.get("/api/campaigns")
    dead = await stack.api.get("/api/dead-letters", params={"campaignId": campaign_id})
    for response in (stats, listed, dead):
        assert response.status_code == 200, response.text
    [in_list] = [c for c in listed.json()["campaigns"] if c["id"] == campaign_id]
    return {
        "stats": stats.json(),
        "listed": in_list,
        "dead": [d["id"] for d in dead.json()["deadLetters"]],
    }


def by_id(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return sorted(messages, key=lambda m: str(m["_id"]))


def as_archived(messages: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The messages as the archive's lines hold them (datetimes as ISO 8601), by id."""
    return by_id(
        [
            {**m, "createdAt": m["createdAt"].isoformat(), "updatedAt": m["updatedAt"].isoformat()}
            for m in messages
        ]
    )
