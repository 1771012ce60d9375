"""Both sender deployments (primary: Baileys shape, fallback: whatsapp-web.js shape) against the
real Kafka broker, MongoDB-wire server and gateway simulator."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from herald_core.contracts.events import SendMessage
from herald_devstack.asgi import running
from herald_devstack.kafka_offsets import handled
from herald_devstack.stack import lone_simulator
from herald_devstack.waiting import eventually
from herald_fallback_sender.main import DEPLOYMENT as FALLBACK
from herald_infra.runtime.settings import HeraldSettings
from herald_primary_sender.main import DEPLOYMENT as PRIMARY
from herald_sender.deployment import SenderDeployment

pytestmark = pytest.mark.integration
API_KEY = "it-key"
ENGINES = {"baileys": "NOWEB", "web-js": "WEBJS"}


@pytest.fixture(scope="module", params=[PRIMARY, FALLBACK], ids=lambda d: d.service)
def deployment(request: pytest.FixtureRequest) -> SenderDeployment:
    chosen: SenderDeployment = request.param
    return chosen


@pytest.fixture(scope="module")
def simulator(
    deployment: SenderDeployment, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    engine = ENGINES[deployment.delivery_method]
    with lone_simulator(tmp_path_factory.mktemp("sim"), API_KEY, "--engine", engine) as url:
        yield url


@pytest.fixture(scope="module")
def settings(kafka_bootstrap: str, mongodb_url: str, simulator: str) -> HeraldSettings:
    return HeraldSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_url=mongodb_url,
        mongodb_database=f"it_sender_{uuid.uuid4().hex[:8]}",
        gateway_url=simulator,
        gateway_api_key=API_KEY,
    )


@pytest.fixture(scope="module")
async def sender(deployment: SenderDeployment, settings: HeraldSettings) -> AsyncIterator[None]:
    async with running(deployment.create_app(settings)):
        yield


async def seed_message(db: Any, phone: str) -> SendMessage:
    campaign_id = f"c-{uuid.uuid4().hex[:8]}"
    event = SendMessage(
        tenant_id="t",
        campaign_id=campaign_id,
        message_id=f"m-{uuid.uuid4().hex}",
        account_id="default",
        phone=phone,
        body="hello",
    )
    await db["campaigns"].insert_one(
        {"_id": campaign_id, "tenantId": "t", "counts": {"total": 1, "queued": 1}}
    )
    await db["messages"].insert_one(
        {
            "_id": event.message_id,
            "tenantId": "t",
            "campaignId": campaign_id,
            "phone": phone,
            "body": "hello",
            "accountId": "default",
            "status": "queued",
            "attempt": 1,
        }
    )
    return event


async def publish(
    deployment: SenderDeployment, settings: HeraldSettings, *events: SendMessage
) -> Any:
    """Publish the events in order; returns the record metadata of the last one."""
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        for event in events:
            last = await producer.send_and_wait(
                deployment.topic, event.model_dump_json().encode(), key=b"default"
            )
    finally:
        await producer.stop()
    return last


async def test_a_send_event_delivered_twice_calls_the_gateway_once(
    deployment: SenderDeployment, sender: None, settings: HeraldSettings, db: Any, simulator: str
) -> None:
    event = await seed_message(db, "+919876543210")

    second = await publish(deployment, settings, event, event)

    async def message() -> dict[str, Any]:
        doc: dict[str, Any] = await db["messages"].find_one({"_id": event.message_id})
        return doc

    sent = await eventually(message, lambda m: m["status"] == "sent", timeout=30, what="sent")
    await eventually(
        lambda: handled(
            settings.kafka_bootstrap_servers,
            deployment.consumer_group,
            deployment.topic,
            second.partition,
            second.offset,
        ),
        bool,
        timeout=30,
        what="second delivery handled",
    )
    assert sent["deliveryMethod"] == deployment.delivery_method
    assert [a["outcome"] for a in sent["attempts"]] == ["sent"]
    async with httpx.AsyncClient(base_url=simulator, headers={"X-Api-Key": API_KEY}) as gateway:
        sends = (await gateway.get(f"/_sim/sends/{event.message_id}")).json()
    assert [s["outcome"] for s in sends] == ["accepted"]
    # Each engine shapes its answer differently; the id recorded is the bare one in it.
    assert sent["gatewayMessageId"] == sends[0]["gatewayMessageId"]
    campaign = await db["campaigns"].find_one({"_id": event.campaign_id})
    assert campaign["counts"] == {"total": 1, "queued": 0, "sending": 0, "sent": 1}


async def test_a_permanent_gateway_error_fails_the_message_with_its_reason(
    deployment: SenderDeployment, sender: None, settings: HeraldSettings, db: Any, simulator: str
) -> None:
    event = await seed_message(db, "+14155550199")
    async with httpx.AsyncClient(base_url=simulator, headers={"X-Api-Key": API_KEY}) as gateway:
        await gateway.put("/_sim/config", json={"mode": "bad_request"})
        try:
            await publish(deployment, settings, event)

            async def message() -> dict[str, Any]:
                doc: dict[str, Any] = await db["messages"].find_one({"_id": event.message_id})
                return doc

            failed = await eventually(
                message, lambda m: m["status"] == "failed", timeout=30, what="failed"
            )
        finally:
            await gateway.delete("/_sim/config")
    assert failed["failedReason"] == "body-rejected"
    assert failed["retryable"] is False
    campaign = await db["campaigns"].find_one({"_id": event.campaign_id})
    assert campaign["counts"]["failed"] == 1


async def test_a_poison_send_event_is_dead_lettered_and_the_next_is_sent(
    deployment: SenderDeployment, sender: None, settings: HeraldSettings, db: Any
) -> None:
    event = await seed_message(db, "+919800000001")
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers)
    await producer.start()
    try:
        await producer.send_and_wait(deployment.topic, b'{"type": "message.send"}', key=b"x")
        await producer.send_and_wait(deployment.topic, event.model_dump_json().encode(), key=b"x")
    finally:
        await producer.stop()

    async def status() -> str:
        doc = await db["messages"].find_one({"_id": event.message_id})
        return str(doc["status"])

    await eventually(status, lambda s: s == "sent", timeout=30, what="sent behind poison")
