"""What a test of one sender deployment (primary-sender, fallback-sender) needs to look at it
as an operator would, without starting anything: its app as built, the Kafka consumer its lanes
open, what its entry point would serve, and an account with a session on each library. Each
service's tests assert what sets it apart; this module only looks."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from faststream.specification import AsyncAPI

from herald_core.accounts.model import (
    GatewayAdapter,
    GatewaySession,
    SenderAccount,
    SessionEngine,
)
from herald_infra.runtime import service_app
from herald_infra.runtime.service_app import ServiceRuntime
from herald_infra.runtime.settings import HeraldSettings
from herald_sender import deployment
from herald_sender.asyncapi import lane_consumer_specification
from herald_sender.claim_and_send import SenderProfile
from herald_sender.deployment import SenderDeployment
from herald_sender.lane_consumer import LaneConsumer

KAFKA = "kafka.test:9092"


class RecordingConsumer:
    """Stands in for aiokafka's consumer: keeps how the sender configured and subscribed it,
    and fetches nothing."""

    def __init__(self, **config: Any) -> None:
        self.config = config
        self.topics: list[str] = []

    def subscribe(self, topics: list[str], listener: object = None) -> None:
        self.topics = list(topics)

    async def start(self) -> None:
        pass

    async def getmany(
        self, timeout_ms: int = 0, max_records: int | None = None
    ) -> dict[object, list[object]]:
        await asyncio.sleep(timeout_ms / 1000)
        return {}

    async def commit(self, offsets: object = None) -> None:
        pass

    async def stop(self) -> None:
        pass


@dataclass(frozen=True)
class BuiltSender:
    deployment: SenderDeployment
    app: FastAPI
    profile: SenderProfile
    """What the deployment told the sender engine it is."""

    @property
    def runtime(self) -> ServiceRuntime:
        runtime = self.app.state.runtime
        assert isinstance(runtime, ServiceRuntime)
        return runtime

    def lanes(self) -> LaneConsumer:
        """The consumer of the send topic, as the app starts it."""
        owners = [getattr(hook, "__self__", None) for hook in self.runtime.on_start]
        (lanes,) = [owner for owner in owners if isinstance(owner, LaneConsumer)]
        return lanes

    def asyncapi(self) -> dict[str, Any]:
        """The AsyncAPI document of this deployment, as ``make docs`` builds it: the app's
        broker (what it publishes) and the declaration of its lane consumer's subscription."""
        sender = self.deployment
        subscription = lane_consumer_specification(
            sender.service, sender.route, sender.consumer_group, KAFKA
        )
        specification = AsyncAPI(
            self.runtime.broker, subscription, schema_version="3.0.0"
        ).to_specification()
        return cast(dict[str, Any], specification.to_jsonable())


@asynccontextmanager
async def built_sender(
    sender: SenderDeployment, monkeypatch: pytest.MonkeyPatch
) -> AsyncIterator[BuiltSender]:
    """The deployment's app, built with the settings' defaults (no environment), and what it
    told the sender engine it is."""
    profiles: list[SenderProfile] = []
    build = deployment.build_sender_app

    def build_and_keep_profile(
        service: str, settings: HeraldSettings, profile: SenderProfile
    ) -> FastAPI:
        profiles.append(profile)
        return build(service, settings, profile)

    monkeypatch.setattr(deployment, "build_sender_app", build_and_keep_profile)
    app = sender.create_app(HeraldSettings.model_construct(kafka_bootstrap_servers=KAFKA))
    built = BuiltSender(sender, app, profiles[0])
    try:
        yield built
    finally:
        await built.runtime.client.close()


async def send_topic_consumer(
    sender: BuiltSender, monkeypatch: pytest.MonkeyPatch
) -> RecordingConsumer:
    """The Kafka consumer the deployment's lanes open when the app starts (then stop)."""
    opened: list[RecordingConsumer] = []

    def open_consumer(**config: Any) -> RecordingConsumer:
        opened.append(RecordingConsumer(**config))
        return opened[-1]

    monkeypatch.setattr(deployment, "AIOKafkaConsumer", open_consumer)
    lanes = sender.lanes()
    await lanes.start()
    await lanes.stop()
    (consumer,) = opened
    return consumer


@dataclass
class ServedSender:
    """What a sender's entry point would listen with, had it been let to."""

    config: uvicorn.Config

    @property
    def app(self) -> FastAPI:
        assert isinstance(self.config.app, FastAPI)
        return self.config.app

    async def get(self, path: str) -> httpx.Response:
        """A request to the app, without starting it (no Kafka, no MongoDB)."""
        transport = httpx.ASGITransport(app=self.app)
        async with httpx.AsyncClient(transport=transport, base_url="http://sender") as client:
            return await client.get(path)


@asynccontextmanager
async def serving_without_listening(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[list[ServedSender]]:
    """Lets the entry point run through to uvicorn, which then does not listen; each run
    appends what it would have served."""
    served: list[ServedSender] = []

    def run_without_listening(server: uvicorn.Server, metrics: object) -> None:
        served.append(ServedSender(server.config))

    monkeypatch.setattr(service_app, "run_servers", run_without_listening)
    monkeypatch.setattr(service_app, "configure_logging", lambda service, level: None)
    monkeypatch.setattr(signal, "signal", lambda signum, handler: None)
    try:
        yield served
    finally:
        for run in served:
            runtime = run.app.state.runtime
            assert isinstance(runtime, ServiceRuntime)
            await runtime.client.close()


def an_account() -> SenderAccount:
    """A number with a session on each library, as the accounts API creates it."""
    at = datetime(2026, 1, 5, tzinfo=UTC)
    return SenderAccount(
        id="acc_1",
        tenant_id="tenant-a",
        phone="+5511999990001",
        primary=GatewaySession(
            engine=SessionEngine.BAILEYS,
            gateway=GatewayAdapter.WAHA,
            base_url="http://waha-noweb:3000",
            session="default",
        ),
        fallback=GatewaySession(
            engine=SessionEngine.WHATSAPP_WEB_JS,
            gateway=GatewayAdapter.WAHA,
            base_url="http://waha-webjs:3000",
            session="default",
        ),
        hourly_cap=60,
        daily_cap=500,
        activated_at=at,
        created_at=at,
        updated_at=at,
    )
