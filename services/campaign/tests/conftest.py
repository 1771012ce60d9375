"""Helpers for the campaign service's integration tests: the app on the real Kafka and MongoDB
and an HTTP client on it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI
from pydantic import ValidationError

from herald_campaign.bootstrap import create_app
from herald_campaign.settings import CampaignSettings
from herald_core.contracts.events import SendMessage
from herald_core.messages.states import MessageStatus
from herald_devstack.asgi import running
from herald_infra.mongo.client import Database, connect, database
from herald_infra.runtime.service_app import metrics_app_of

T = TypeVar("T")

TOKEN = "campaign-it-token"
TENANT = "tenant-a"
OTHER_TOKEN = "campaign-it-other-tenant"
OTHER_TENANT = "tenant-b"


def campaign_settings(kafka_bootstrap: str, mongodb_url: str, purpose: str) -> CampaignSettings:
    """Settings on the test servers with a database of its own for ``purpose``."""
    return CampaignSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_url=mongodb_url,
        mongodb_database=f"it_campaign_{purpose}_{uuid.uuid4().hex[:8]}",
        api_token=TOKEN,
        default_tenant=TENANT,
        default_region="IN",
        # The tests' gateway simulators and notification receivers listen on loopback.
        outbound_allow="127.0.0.0/8",
    )


@dataclass
class RunningService:
    app: FastAPI
    client: httpx.AsyncClient
    """Authenticated as ``TENANT``."""
    db: Database
    settings: CampaignSettings

    @property
    def kafka(self) -> str:
        return self.settings.kafka_bootstrap_servers

    def client_for(self, token: str | None) -> httpx.AsyncClient:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app), base_url="http://campaign", headers=headers
        )

    def metrics_client(self) -> httpx.AsyncClient:
        """A client of the service's metrics listener (its own port when served)."""
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=metrics_app_of(self.app)),
            base_url="http://campaign-metrics",
        )


@asynccontextmanager
async def running_service(settings: CampaignSettings) -> AsyncIterator[RunningService]:
    """The app with its lifespan running (Kafka, MongoDB, the command consumer)."""
    app = create_app(settings)
    mongo = connect(settings)
    try:
        async with running(app):
            service = RunningService(app, httpx.AsyncClient(), database(mongo, settings), settings)
            async with service.client_for(TOKEN) as client:
                service.client = client
                yield service
    finally:
        await mongo.close()


def by_key(records: list[Any], key: str) -> list[Any]:
    return [r for r in records if r.key == key.encode()]


def send_events(records: list[Any], campaign_id: str) -> list[SendMessage]:
    """The send events of one campaign among ``records`` (send topics are shared by the tests of
    the session; whatever is not a send event is someone else's)."""
    events = []
    for record in records:
        try:
            events.append(SendMessage.model_validate_json(record.value))
        except ValidationError:
            continue
    return [e for e in events if e.campaign_id == campaign_id]


async def create_campaign(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {"name": "Summer Sale", "messageBody": "Hi {{name}}, 50% OFF!", **fields}
    response = await api.post("/api/campaigns", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


async def campaign_with_contacts(api: httpx.AsyncClient) -> str:
    campaign_id: str = (await create_campaign(api))["id"]
    added = await api.post(
        f"/api/campaigns/{campaign_id}/contacts", json={"contacts": [{"phone": "+919876543210"}]}
    )
    assert added.status_code == 200, added.text
    return campaign_id


def message_document(campaign_id: str, n: int, status: MessageStatus, **extra: Any) -> Any:
    now = datetime.now(UTC)
    return {
        "_id": f"msg-{campaign_id}-{n}",
        "tenantId": TENANT,
        "campaignId": campaign_id,
        "contactId": f"{campaign_id}:+9198765000{n:02d}",
        "phone": f"+9198765000{n:02d}",
        "body": "Hi",
        "accountId": "default",
        "delayType": "fast",
        "status": status.value,
        "attempt": 1,
        "retryCount": 0,
        "attempts": [],
        "createdAt": now,
        "updatedAt": now,
        **extra,
    }


async def running_campaign_with_messages(
    api: httpx.AsyncClient, service: RunningService, statuses: list[tuple[MessageStatus, bool]]
) -> str:
    """A running campaign whose messages the test wrote itself (as the dispatcher would):
    ``msg-<campaign>-<n>`` in each status, retryable or not."""
    campaign_id = await campaign_with_contacts(api)
    assert (await api.post(f"/api/campaigns/{campaign_id}/send")).status_code == 202
    documents = [
        message_document(campaign_id, n, status, **({"retryable": retryable} if retryable else {}))
        for n, (status, retryable) in enumerate(statuses)
    ]
    await service.db["messages"].insert_many(documents)
    counts: dict[str, int] = {"total": len(documents)}
    for status, _ in statuses:
        counts[status.value] = counts.get(status.value, 0) + 1
    await service.db["campaigns"].update_one(
        {"_id": campaign_id}, {"$set": {f"counts.{k}": v for k, v in counts.items()}}
    )
    return campaign_id
