"""Helpers for the campaign service's integration tests: the app on the real Kafka and MongoDB
and an HTTP client on it."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from fastapi import FastAPI

from herald_campaign.main import create_app
from herald_campaign.settings import CampaignSettings
from herald_devstack.asgi import running
from herald_shared.mongo import Database, connect, database

T = TypeVar("T")

TOKEN = "campaign-it-token"
TENANT = "tenant-a"


def campaign_settings(kafka_bootstrap: str, mongodb_url: str, purpose: str) -> CampaignSettings:
    """Settings on the test servers with a database of its own for ``purpose``."""
    return CampaignSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_url=mongodb_url,
        mongodb_database=f"it_campaign_{purpose}_{uuid.uuid4().hex[:8]}",
        api_token=TOKEN,
        default_tenant=TENANT,
        default_region="IN",
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
