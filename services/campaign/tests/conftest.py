"""Helpers for the campaign service's integration tests: the app on the real Kafka and MongoDB,
an HTTP client on it, a reader of what a topic received, and waiting with a deadline."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Any, TypeVar

import httpx
from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from fastapi import FastAPI

from herald_campaign.main import create_app
from herald_campaign.settings import CampaignSettings
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
        async with app.router.lifespan_context(app):
            service = RunningService(app, httpx.AsyncClient(), database(mongo, settings), settings)
            async with service.client_for(TOKEN) as client:
                service.client = client
                yield service
    finally:
        await mongo.close()


async def eventually(
    probe: Callable[[], Awaitable[T]],
    done: Callable[[T], bool],
    *,
    timeout: float = 30.0,
    what: str = "condition",
) -> T:
    """Probe until ``done`` holds; fail after ``timeout`` seconds with the last value seen."""
    deadline = time.monotonic() + timeout
    while True:
        value = await probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out waiting for {what}; last value: {value!r}")
        await asyncio.sleep(0.05)


class TopicReader:
    """Reads what a topic receives after :meth:`start`, every partition, no consumer group."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._bootstrap = bootstrap
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self._partitions: list[TopicPartition] = []

    async def __aenter__(self) -> TopicReader:
        await self._consumer.start()
        try:
            await self._assign()
        except BaseException:
            await self._consumer.stop()
            raise
        return self

    async def _assign(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
        await admin.start()
        try:
            described = await admin.describe_topics([self.topic])
        finally:
            await admin.close()
        found = {p["partition"] for t in described for p in t["partitions"]}
        assert found, f"topic {self.topic} has no partitions"
        self._partitions = [TopicPartition(self.topic, p) for p in sorted(found)]
        self._consumer.assign(self._partitions)
        await self._consumer.seek_to_end(*self._partitions)
        for tp in self._partitions:  # resolve the positions now, not at the first read
            await self._consumer.position(tp)

    async def __aexit__(self, *_: object) -> None:
        await self._consumer.stop()

    async def read_to_end(self, timeout: float = 30.0) -> list[Any]:
        """Every record up to the topic's current end (all acknowledged publishes included)."""
        end = await self._consumer.end_offsets(self._partitions)
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while not await self._reached(end):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out reading {self.topic} to its end")
            batches = await self._consumer.getmany(timeout_ms=200)
            records.extend(r for batch in batches.values() for r in batch)
        return records

    async def _reached(self, end: dict[TopicPartition, int]) -> bool:
        for tp in self._partitions:
            if await self._consumer.position(tp) < end[tp]:
                return False
        return True

    async def read_until(
        self, done: Callable[[list[Any]], bool], timeout: float = 30.0
    ) -> list[Any]:
        """Records until ``done(records)`` holds."""
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while not done(records):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out reading {self.topic}; got {len(records)}")
            batches = await self._consumer.getmany(timeout_ms=200)
            records.extend(r for batch in batches.values() for r in batch)
        return records


def by_key(records: list[Any], key: str) -> list[Any]:
    return [r for r in records if r.key == key.encode()]
