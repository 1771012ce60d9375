"""Delivery-receipt webhooks against the real Kafka broker and MongoDB-wire server: each
status change counted once, never backwards, announced on ``message.status``; bad signatures
and unreadable bodies refused, receipts for unknown messages counted and dropped."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from prometheus_client import REGISTRY
from pydantic import SecretStr

from herald_core.contracts.events import MessageStatusChanged
from herald_core.contracts.topics import MESSAGE_STATUS
from herald_core.messages.states import MessageStatus
from herald_devstack.topic_reader import TopicReader

from .conftest import (
    RunningService,
    campaign_settings,
    create_campaign,
    message_document,
    running_service,
)

pytestmark = pytest.mark.integration

WAHA_KEY = "waha-it-hmac-key"
EVOLUTION_TOKEN = "evolution-it-token"
CHAT = "919876543210@c.us"
ACK_NAMES = {-1: "ERROR", 0: "PENDING", 1: "SERVER", 2: "DEVICE", 3: "READ", 4: "PLAYED"}
DEVICE, READ, PLAYED = 2, 3, 4


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "receipts").model_copy(
        update={
            "waha_webhook_hmac_key": SecretStr(WAHA_KEY),
            "evolution_webhook_token": SecretStr(EVOLUTION_TOKEN),
        }
    )
    async with running_service(settings) as svc:
        yield svc


@pytest.fixture
async def gateway(service: RunningService) -> AsyncIterator[httpx.AsyncClient]:
    """A client without a bearer token, as a gateway calls."""
    async with service.client_for(None) as client:
        yield client


def new_gateway_id() -> str:
    return f"3EB0{uuid.uuid4().hex[:20].upper()}"


def waha_ack(gateway_id: str, ack: int | None, **payload: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "id": f"true_{CHAT}_{gateway_id}",
        "from": CHAT,
        "to": None,
        "participant": None,
        "fromMe": True,
        "ack": ack,
        "ackName": ACK_NAMES.get(ack or 0),
        **payload,
    }
    return {"event": "message.ack", "session": "default", "engine": "NOWEB", "payload": body}


def hmac_sha512(raw: bytes, key: str) -> str:
    return hmac.new(key.encode(), raw, hashlib.sha512).hexdigest()


async def post_waha(
    client: httpx.AsyncClient,
    body: dict[str, Any] | bytes,
    *,
    key: str | None = WAHA_KEY,
    algorithm: str = "sha512",
) -> httpx.Response:
    """POST a WAHA webhook signed as WAHA signs it (no signature when ``key`` is None)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {"Content-Type": "application/json"}
    if key is not None:
        headers |= {"X-Webhook-Hmac": hmac_sha512(raw, key), "X-Webhook-Hmac-Algorithm": algorithm}
    return await client.post("/api/webhooks/waha", content=raw, headers=headers)


async def post_evolution(
    client: httpx.AsyncClient, body: dict[str, Any], *, token: str | None = EVOLUTION_TOKEN
) -> httpx.Response:
    headers = {"X-Herald-Webhook-Token": token} if token is not None else {}
    return await client.post("/api/webhooks/evolution", json=body, headers=headers)


def evolution_update(key_id: str, status: str | int, **data: Any) -> dict[str, Any]:
    return {
        "event": "messages.update",
        "instance": "herald-1",
        "data": {
            "keyId": key_id,
            "remoteJid": "919876543210@s.whatsapp.net",
            "fromMe": True,
            "status": status,
            "instanceId": "b5b5c0de",
            **data,
        },
        "date_time": "2026-05-20T10:00:00.000Z",
        "sender": "15550000000@s.whatsapp.net",
        "server_url": "http://evolution:8080",
        "apikey": "instance-key",
    }


async def sent_messages(
    service: RunningService,
    stored_ids: list[str],
    *,
    status: MessageStatus = MessageStatus.SENT,
    method: str = "baileys",
) -> tuple[str, list[str]]:
    """A campaign with one message per gateway id, each ``status`` as the sender left it
    (``gatewayMessageId`` is what the send answered); returns its id and the message ids."""
    campaign_id: str = (await create_campaign(service.client))["id"]
    documents = [
        message_document(campaign_id, n, status, gatewayMessageId=stored, deliveryMethod=method)
        for n, stored in enumerate(stored_ids)
    ]
    await service.db["messages"].insert_many(documents)
    await service.db["campaigns"].update_one(
        {"_id": campaign_id},
        {"$set": {"counts.total": len(documents), f"counts.{status.value}": len(documents)}},
    )
    return campaign_id, [d["_id"] for d in documents]


async def counts(service: RunningService, campaign_id: str) -> dict[str, int]:
    campaign = await service.db["campaigns"].find_one({"_id": campaign_id})
    assert campaign is not None
    return {k: v for k, v in campaign["counts"].items() if k in ("sent", "delivered", "read")}


async def status_of(service: RunningService, message_id: str) -> str:
    message = await service.db["messages"].find_one({"_id": message_id})
    assert message is not None
    return str(message["status"])


def status_events(records: list[Any], campaign_id: str) -> list[MessageStatusChanged]:
    events = [MessageStatusChanged.model_validate_json(r.value) for r in records]
    return [e for e in events if e.campaign_id == campaign_id]


def receipts_counted(source: str, outcome: str) -> float:
    value = REGISTRY.get_sample_value(
        "herald_receipts_total", {"source": source, "outcome": outcome}
    )
    return value or 0.0


# Delivered and read, once each


async def test_delivered_then_read_each_counted_once(
    service: RunningService, gateway: httpx.AsyncClient
) -> None:
    gateway_id = new_gateway_id()
    campaign_id, [message_id] = await sent_messages(service, [gateway_id])
    async with TopicReader(service.kafka, MESSAGE_STATUS) as topic:
        outcomes = []
        for ack in (DEVICE, DEVICE, READ, READ, PLAYED, DEVICE):
            response = await post_waha(gateway, waha_ack(gateway_id, ack))
            assert response.status_code == 200, response.text
            outcomes.append(response.json()["outcome"])
            if ack == DEVICE and outcomes == ["applied"]:
                assert await counts(service, campaign_id) == {"sent": 0, "delivered": 1, "read": 0}
        events = status_events(await topic.read_to_end(), campaign_id)

    assert outcomes == ["applied", "duplicate", "applied", "duplicate", "duplicate", "stale"]
    assert await status_of(service, message_id) == "read"
    assert await counts(service, campaign_id) == {"sent": 0, "delivered": 0, "read": 1}
    assert [(e.previous_status, e.status) for e in events] == [
        ("sent", "delivered"),
        ("delivered", "read"),
    ]
    assert {(e.message_id, e.gateway_message_id, e.delivery_method) for e in events} == {
        (message_id, gateway_id, "baileys")
    }
    stored = await service.db["messages"].find_one({"_id": message_id})
    assert stored is not None and stored["deliveredAt"] <= stored["readAt"]
    stats = (await service.client.get(f"/api/messages/campaign/{campaign_id}/stats")).json()
    assert (stats["sent"], stats["delivered"]) == (1, 1)


async def test_the_answer_names_the_message_and_its_status(
    service: RunningService, gateway: httpx.AsyncClient
) -> None:
    gateway_id = new_gateway_id()
    _, [message_id] = await sent_messages(service, [gateway_id])
    response = await post_waha(gateway, waha_ack(gateway_id, DEVICE))
    assert response.json() == {
        "outcome": "applied",
        "messageId": message_id,
        "status": "delivered",
        "inbound": None,
    }


# Never backwards


async def test_read_before_delivered_goes_straight_to_read_and_stays(
    service: RunningService, gateway: httpx.AsyncClient
) -> None:
    gateway_id = new_gateway_id()
    campaign_id, [message_id] = await sent_messages(service, [gateway_id])
    async with TopicReader(service.kafka, MESSAGE_STATUS) as topic:
        read = await post_waha(gateway, waha_ack(gateway_id, READ))
        delivered = await post_waha(gateway, waha_ack(gateway_id, DEVICE))
        events = status_events(await topic.read_to_end(), campaign_id)
    assert (read.json()["outcome"], delivered.json()["outcome"]) == ("applied", "stale")
    assert delivered.json()["status"] == "read"
    assert await status_of(service, message_id) == "read"
    assert await counts(service, campaign_id) == {"sent": 0, "delivered": 0, "read": 1}
    assert [(e.previous_status, e.status) for e in events] == [("sent", "read")]


async def test_concurrent_delivered_and_read_receipts_end_read_counted_once(
    service: RunningService, gateway: httpx.AsyncClient
) -> None:
    gateway_ids = [new_gateway_id() for _ in range(8)]
    campaign_id, message_ids = await sent_messages(service, gateway_ids)
    async with TopicReader(service.kafka, MESSAGE_STATUS) as topic:
        responses = await asyncio.gather(
            *(
                post_waha(gateway, waha_ack(gateway_id, ack))
                for gateway_id in gateway_ids
                for ack in (READ, DEVICE, READ, DEVICE)
            )
        )
        events = status_events(await topic.read_to_end(), campaign_id)
    assert {r.status_code for r in responses} == {200}
    assert {await status_of(service, m) for m in message_ids} == {"read"}
    assert await counts(service, campaign_id) == {"sent": 0, "delivered": 0, "read": 8}
    for message_id in message_ids:
        moves = [(e.previous_status, e.status) for e in events if e.message_id == message_id]
        assert moves in ([("sent", "read")], [("sent", "delivered"), ("delivered", "read")])


async def test_acks_that_are_no_progress_change_nothing(
    service: RunningService, gateway: httpx.AsyncClient
) -> None:
    gateway_id = new_gateway_id()
    campaign_id, [message_id] = await sent_messages(service, [gateway_id])
    for ack in (-1, 0, 1):
        response = await post_waha(gateway, waha_ack(gateway_id, ack))
        assert response.status_code == 200
        assert response.json()["outcome"] == "ignored"
    other_event = {"event": "message", "session": "default", "payload": {"id": "x", "body": "hi"}}
    assert (await post_waha(gateway, other_event)).json()["outcome"] == "ignored"
    incoming = waha_ack(gateway_id, DEVICE, fromMe=False)
    assert (await post_waha(gateway, incoming)).json()["outcome"] == "ignored"
    assert await status_of(service, message_id) == "sent"
    assert await counts(service, campaign_id) == {"sent": 1, "delivered": 0, "read": 0}


async def test_a_message_that_is_not_sent_is_left_alone(
    service: RunningService, gateway: httpx.AsyncClient
) -> None:
    gateway_id = new_gateway_id()
    _, [message_id] = await sent_messages(service, [gateway_id], status=MessageStatus.FAILED)
    response = await post_waha(gateway, waha_ack(gateway_id, DEVICE))
    assert response.status_code == 200
    assert response.json()["outcome"] == "not-sent"
    assert await status_of(service, message_id) == "failed"


# Gateway ids as each engine stores them


async def test_a_webjs_message_is_found_by_its_serialized_id(
    service: RunningService, gateway: httpx.AsyncClient
) -> None:
    gateway_id = new_gateway_id()
    serialized = f"true_{CHAT}_{gateway_id}"
    _, [message_id] = await sent_messages(service, [serialized], method="web-js")
    response = await post_waha(gateway, waha_ack(gateway_id, DEVICE))
    assert response.json()["outcome"] == "applied"
    assert await status_of(service, message_id) == "delivered"


# Signatures


@pytest.mark.parametrize(
    "signing",
    [
        {"key": None},
        {"key": "not-the-key"},
        {"key": WAHA_KEY, "algorithm": "sha256"},
    ],
    ids=["unsigned", "wrong-key", "wrong-algorithm"],
)
async def test_a_receipt_without_a_valid_signature_is_refused_and_changes_nothing(
    service: RunningService, gateway: httpx.AsyncClient, signing: dict[str, Any]
) -> None:
    gateway_id = new_gateway_id()
    campaign_id, [message_id] = await sent_messages(service, [gateway_id])
    refused_before = receipts_counted("waha", "bad-signature")
    async with TopicReader(service.kafka, MESSAGE_STATUS) as topic:
        response = await post_waha(gateway, waha_ack(gateway_id, READ), **signing)
        events = status_events(await topic.read_to_end(), campaign_id)
    assert response.status_code == 401
    assert response.json() == {"error": "webhook signature missing or invalid"}
    assert await status_of(service, message_id) == "sent"
    assert await counts(service, campaign_id) == {"sent": 1, "delivered": 0, "read": 0}
    assert events == []
    assert receipts_counted("waha", "bad-signature") == refused_before + 1


async def test_a_signature_of_another_body_is_refused(
    service: RunningService, gateway: httpx.AsyncClient
) -> None:
    gateway_id = new_gateway_id()
    _, [message_id] = await sent_messages(service, [gateway_id])
    signed = json.dumps(waha_ack(gateway_id, DEVICE)).encode()
    tampered = json.dumps(waha_ack(gateway_id, READ)).encode()
    response = await gateway.post(
        "/api/webhooks/waha",
        content=tampered,
        headers={
            "Content-Type": "application/json",
            "X-Webhook-Hmac": hmac_sha512(signed, WAHA_KEY),
            "X-Webhook-Hmac-Algorithm": "sha512",
        },
    )
    assert response.status_code == 401
    assert await status_of(service, message_id) == "sent"


async def test_the_signature_is_checked_before_the_body_is_read(
    gateway: httpx.AsyncClient,
) -> None:
    response = await post_waha(gateway, b"{not json", key="not-the-key")
    assert response.status_code == 401


async def test_a_service_without_keys_refuses_every_webhook(
    kafka_bootstrap: str, mongodb_url: str
) -> None:
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "receipts_unkeyed")
    async with running_service(settings) as unkeyed, unkeyed.client_for(None) as client:
        gateway_id = new_gateway_id()
        _, [message_id] = await sent_messages(unkeyed, [gateway_id])
        for key in (WAHA_KEY, ""):
            assert (
                await post_waha(client, waha_ack(gateway_id, DEVICE), key=key)
            ).status_code == 401
        for token in (EVOLUTION_TOKEN, ""):
            response = await post_evolution(
                client, evolution_update(gateway_id, "DELIVERY_ACK"), token=token
            )
            assert response.status_code == 401
        assert await status_of(unkeyed, message_id) == "sent"


async def test_webhooks_need_no_bearer_token_and_a_bearer_token_is_no_signature(
    service: RunningService,
) -> None:
    gateway_id = new_gateway_id()
    await sent_messages(service, [gateway_id])
    body = waha_ack(gateway_id, DEVICE)
    refused = await service.client.post("/api/webhooks/waha", json=body)
    assert refused.status_code == 401
    assert refused.json() == {"error": "webhook signature missing or invalid"}


# Unknown messages and unreadable bodies


async def test_a_receipt_for_an_unknown_message_is_counted_and_dropped(
    gateway: httpx.AsyncClient,
) -> None:
    before = receipts_counted("waha", "unknown-message")
    response = await post_waha(gateway, waha_ack(new_gateway_id(), DEVICE))
    assert response.status_code == 200
    assert response.json() == {
        "outcome": "unknown-message",
        "messageId": None,
        "status": None,
        "inbound": None,
    }
    assert receipts_counted("waha", "unknown-message") == before + 1


async def test_a_body_that_is_not_json_is_400(gateway: httpx.AsyncClient) -> None:
    response = await post_waha(gateway, b"{not json")
    assert response.status_code == 400
    assert response.json()["error"] == "malformed JSON"
    assert [f["field"] for f in response.json()["fields"]] == ["body"]


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"event": "message.ack", "session": "default"}, "payload"),
        ({"event": "message.ack", "payload": {"ack": 2, "fromMe": True}}, "payload.id"),
        ({"event": "message.ack", "payload": {"id": "x", "ack": "2"}}, "payload.ack"),
        ({"event": "message.ack", "payload": {"id": "x", "fromMe": True}}, "payload.ack"),
        (
            {"event": "message.ack", "payload": {"id": "x", "ack": 2, "fromMe": "yes"}},
            "payload.fromMe",
        ),
        ({"payload": {"id": "x", "ack": 2}}, "event"),
    ],
)
async def test_a_malformed_receipt_is_422_naming_the_field(
    gateway: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    before = receipts_counted("waha", "invalid")
    response = await post_waha(gateway, body)
    assert response.status_code == 422, response.text
    assert response.json()["error"] == "validation failed"
    assert [f["field"] for f in response.json()["fields"]] == [field]
    assert receipts_counted("waha", "invalid") == before + 1


# Evolution API


async def test_evolution_delivered_and_read_with_its_shared_token(
    service: RunningService, gateway: httpx.AsyncClient
) -> None:
    key_id = new_gateway_id()
    campaign_id, [message_id] = await sent_messages(service, [key_id])
    async with TopicReader(service.kafka, MESSAGE_STATUS) as topic:
        unsigned = await post_evolution(
            gateway, evolution_update(key_id, "DELIVERY_ACK"), token=None
        )
        wrong = await post_evolution(gateway, evolution_update(key_id, "READ"), token="nope")
        outcomes = [
            (await post_evolution(gateway, evolution_update(key_id, status))).json()["outcome"]
            for status in ("SERVER_ACK", "DELIVERY_ACK", "DELIVERY_ACK", "READ", "DELIVERY_ACK")
        ]
        events = status_events(await topic.read_to_end(), campaign_id)
    assert (unsigned.status_code, wrong.status_code) == (401, 401)
    assert outcomes == ["ignored", "applied", "duplicate", "applied", "stale"]
    assert await status_of(service, message_id) == "read"
    assert await counts(service, campaign_id) == {"sent": 0, "delivered": 0, "read": 1}
    assert [(e.previous_status, e.status) for e in events] == [
        ("sent", "delivered"),
        ("delivered", "read"),
    ]


async def test_evolution_events_other_than_message_updates_are_ignored(
    gateway: httpx.AsyncClient,
) -> None:
    upsert = {"event": "messages.upsert", "instance": "herald-1", "data": [{"key": {}}]}
    assert (await post_evolution(gateway, upsert)).json()["outcome"] == "ignored"
    v1_name = evolution_update(new_gateway_id(), "DELIVERY_ACK") | {"event": "MESSAGES_UPDATE"}
    assert (await post_evolution(gateway, v1_name)).json()["outcome"] == "unknown-message"


async def test_a_malformed_evolution_update_is_422_naming_the_field(
    gateway: httpx.AsyncClient,
) -> None:
    body = evolution_update("x", "READ")
    del body["data"]["keyId"]
    response = await post_evolution(gateway, body)
    assert response.status_code == 422
    assert [f["field"] for f in response.json()["fields"]] == ["data.keyId"]


# The OpenAPI document


async def test_the_webhooks_are_documented_without_bearer_security(
    gateway: httpx.AsyncClient,
) -> None:
    document = (await gateway.get("/openapi.json")).json()
    for path in ("/api/webhooks/waha", "/api/webhooks/evolution"):
        operation = document["paths"][path]["post"]
        assert "security" not in operation
        assert set(operation["responses"]) >= {"200", "401", "422"}
    assert "outcome" in document["components"]["schemas"]["ReceiptResponse"]["properties"]
