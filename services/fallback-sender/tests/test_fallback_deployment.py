"""What sets fallback-sender apart from primary-sender, as an operator checks it: the topic and
consumer group it reads, the sessions it sends through and how its sends are recorded, the port
it listens on, and the AsyncAPI channels that name it. Unit tests: nothing is started."""

from __future__ import annotations

import asyncio
import signal
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, cast

import httpx
import pytest
import uvicorn
from fastapi import FastAPI
from faststream.specification import AsyncAPI

from herald_core.accounts.model import (
    SESSION_ENGINE,
    GatewayAdapter,
    GatewaySession,
    SenderAccount,
    SessionEngine,
)
from herald_core.attempt_plan import DEFAULT_ATTEMPT_PLAN, AttemptPlan
from herald_fallback_sender.main import DEPLOYMENT, main
from herald_infra.runtime import service_app
from herald_infra.runtime.service_app import ServiceRuntime
from herald_infra.runtime.settings import HeraldSettings
from herald_sender import deployment
from herald_sender.asyncapi import lane_consumer_specification
from herald_sender.claim_and_send import SenderProfile
from herald_sender.lane_consumer import LaneConsumer

SERVICE = "fallback-sender"
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
        subscription = lane_consumer_specification(
            DEPLOYMENT.service, DEPLOYMENT.route, DEPLOYMENT.consumer_group, KAFKA
        )
        specification = AsyncAPI(
            self.runtime.broker, subscription, schema_version="3.0.0"
        ).to_specification()
        return cast(dict[str, Any], specification.to_jsonable())


@pytest.fixture
async def sender(monkeypatch: pytest.MonkeyPatch) -> AsyncIterator[BuiltSender]:
    """The deployment's app, built with the settings' defaults (no environment)."""
    profiles: list[SenderProfile] = []
    build = deployment.build_sender_app

    def build_and_keep_profile(
        service: str, settings: HeraldSettings, profile: SenderProfile
    ) -> FastAPI:
        profiles.append(profile)
        return build(service, settings, profile)

    monkeypatch.setattr(deployment, "build_sender_app", build_and_keep_profile)
    app = DEPLOYMENT.create_app(HeraldSettings.model_construct(kafka_bootstrap_servers=KAFKA))
    built = BuiltSender(app, profiles[0])
    try:
        yield built
    finally:
        await built.runtime.client.close()


@pytest.fixture
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
    """What ``herald-fallback-sender`` would listen with, had it been let to."""

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


@pytest.fixture
async def serve_without_listening(
    monkeypatch: pytest.MonkeyPatch,
) -> AsyncIterator[list[ServedSender]]:
    """Lets the entry point run through to uvicorn, which then does not listen; each run
    appends what it would have served."""
    served: list[ServedSender] = []

    class ServerThatDoesNotListen:
        def __init__(self, config: uvicorn.Config) -> None:
            self.config = config
            self.should_exit = False

        def run(self) -> None:
            served.append(ServedSender(self.config))

    monkeypatch.setattr(uvicorn, "Server", ServerThatDoesNotListen)
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


async def test_it_reads_message_send_fallback_in_the_group_herald_fallback_sender(
    send_topic_consumer: RecordingConsumer,
) -> None:
    # What `kafka-consumer-groups --describe --group herald-fallback-sender` and KEDA's lag
    # trigger look at.
    assert send_topic_consumer.topics == ["message.send.fallback"]
    assert send_topic_consumer.config["group_id"] == "herald-fallback-sender"
    assert send_topic_consumer.config["client_id"] == "herald-fallback-sender"


def test_it_reads_the_topic_a_failed_first_attempt_is_handed_over_on(sender: BuiltSender) -> None:
    # Under the default plan the primary hands a failed attempt to the fallback at once.
    handed_over = AttemptPlan.parse(DEFAULT_ATTEMPT_PLAN).next_attempt(0)
    assert handed_over is not None and handed_over.delay_seconds == 0
    assert sender.profile.topic == handed_over.topic


def test_it_sends_through_each_accounts_whatsapp_web_js_session_and_records_web_js(
    sender: BuiltSender,
) -> None:
    account = an_account()
    assert account.session_for(sender.profile.route) == account.fallback
    assert SESSION_ENGINE[sender.profile.route] is SessionEngine.WHATSAPP_WEB_JS
    # The message's deliveryMethod, the status events' delivery_method, the metrics' label.
    assert sender.profile.delivery_method == "web-js"


@pytest.mark.parametrize(
    ("configured", "port"), [(None, 9104), ("9200", 9200)], ids=["default", "HERALD_HTTP_PORT"]
)
async def test_it_listens_on_9104_unless_told_otherwise(
    serve_without_listening: list[ServedSender],
    monkeypatch: pytest.MonkeyPatch,
    configured: str | None,
    port: int,
) -> None:
    if configured is None:
        monkeypatch.delenv("HERALD_HTTP_PORT", raising=False)
    else:
        monkeypatch.setenv("HERALD_HTTP_PORT", configured)
    main()
    (served,) = serve_without_listening
    assert served.config.port == port
    health = await served.get("/healthz")
    assert health.json() == {"status": "ok", "service": SERVICE}


def test_its_asyncapi_channels_name_fallback_sender_and_its_topic(sender: BuiltSender) -> None:
    document = sender.asyncapi()
    channels, operations = document["channels"], document["operations"]
    assert all(name.startswith(f"{SERVICE}:") for name in channels)
    reads = {channels[n]["address"] for n, op in operations.items() if op["action"] == "receive"}
    assert reads == {"message.send.fallback"}
    assert channels[f"{SERVICE}:message.send.fallback"]["address"] == "message.send.fallback"
    writes = {channels[n]["address"] for n, op in operations.items() if op["action"] == "send"}
    # Under the default plan a failed fallback attempt waits a minute on its delay topic, and
    # never goes back to the primary.
    assert "message.retry.60s" in writes
    assert "message.send.primary" not in writes
