"""Each sender account's receipt URLs, against the real Kafka broker and MongoDB-wire server:
a receipt posted to an account's URL moves that account's message and no other tenant's or
account's; an unknown or rotated token is refused before the body is read; an account with an
HMAC key needs WAHA's signature too; the gateway's own session reports update the account's
health; and the set-up result is on the account when the gateway cannot be told."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from herald_campaign.adapters.api_keys import register_api_key
from herald_core.messages.states import MessageStatus

from .conftest import (
    OTHER_TENANT,
    OTHER_TOKEN,
    TENANT,
    RunningService,
    campaign_settings,
    create_campaign,
    message_document,
    running_service,
)

pytestmark = pytest.mark.integration

CHAT = "919876543210@c.us"
UNREACHABLE_GATEWAY = "http://127.0.0.1:9"  # discard port: nothing listens


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "receipt_urls").model_copy(
        update={"public_url": "https://herald.example.com/", "webhook_setup_timeout_seconds": 2.0}
    )
    async with running_service(settings) as svc:
        await register_api_key(svc.db, OTHER_TOKEN, OTHER_TENANT, "other tenant")
        yield svc


@pytest.fixture
async def gateway(service: RunningService) -> AsyncIterator[httpx.AsyncClient]:
    """A client without a bearer token, as a gateway calls."""
    async with service.client_for(None) as client:
        yield client


def session(name: str, gateway: str = "waha") -> dict[str, Any]:
    return {"gateway": gateway, "baseUrl": UNREACHABLE_GATEWAY, "session": name, "apiKey": "k"}


async def create_account(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    body = {
        "phone": f"+9198{uuid.uuid4().int % 10**8:08d}",
        "primary": session("sales"),
        "fallback": session("sales-webjs"),
        **fields,
    }
    response = await api.post("/api/accounts", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def waha_ack(gateway_id: str, ack: int = 2) -> dict[str, Any]:
    payload = {"id": f"true_{CHAT}_{gateway_id}", "from": CHAT, "fromMe": True, "ack": ack}
    return {"event": "message.ack", "session": "sales", "engine": "NOWEB", "payload": payload}


def path_of(url: str) -> str:
    return "/" + url.split("/", 3)[3]


async def sent_message(
    service: RunningService, account_id: str, gateway_id: str, *, tenant: str = TENANT
) -> str:
    """A sent message of ``account_id`` whose send answered ``gateway_id``; its id."""
    campaign_id: str = (await create_campaign(service.client))["id"]
    document = message_document(
        campaign_id,
        0,
        MessageStatus.SENT,
        _id=f"msg-{uuid.uuid4().hex}",
        tenantId=tenant,
        accountId=account_id,
        gatewayMessageId=gateway_id,
    )
    await service.db["messages"].insert_one(document)
    message_id: str = document["_id"]
    return message_id


async def status_of(service: RunningService, message_id: str) -> str:
    message = await service.db["messages"].find_one({"_id": message_id})
    assert message is not None
    return str(message["status"])


async def test_the_urls_are_shown_once_with_the_public_url_and_set_up_is_reported(
    service: RunningService,
) -> None:
    created = await create_account(service.client)
    urls = created["receiptUrls"]
    assert urls["waha"] == f"https://herald.example.com/api/webhooks/waha/{urls['token']}"
    assert urls["evolution"] == f"https://herald.example.com/api/webhooks/evolution/{urls['token']}"
    # The gateway does not answer: the set-up failed, said on each session, and the account
    # exists all the same.
    for role in ("primary", "fallback"):
        webhook = created[role]["webhook"]
        assert webhook["status"] == "FAILED", webhook
        assert webhook["detail"].startswith("gateway-unreachable"), webhook
    fetched = (await service.client.get(f"/api/accounts/{created['id']}")).json()
    assert "receiptUrls" not in fetched and urls["token"] not in json.dumps(fetched)
    assert fetched["receiptTokenSet"] is True
    assert fetched["primary"]["webhook"]["status"] == "FAILED"


async def test_a_receipt_moves_only_the_accounts_own_message(
    service: RunningService, gateway: httpx.AsyncClient
) -> None:
    mine = await create_account(service.client)
    async with service.client_for(OTHER_TOKEN) as other_api:
        theirs = await create_account(other_api)
    gateway_id = f"3EB0{uuid.uuid4().hex[:20].upper()}"
    # The same gateway id on a message of another tenant's account and of the default account.
    my_message = await sent_message(service, mine["id"], gateway_id)
    their_message = await sent_message(service, theirs["id"], gateway_id, tenant=OTHER_TENANT)
    default_message = await sent_message(service, "default", gateway_id)

    url = path_of(mine["receiptUrls"]["waha"])
    applied = await gateway.post(url, json=waha_ack(gateway_id))
    assert applied.status_code == 200, applied.text
    assert applied.json() == {
        "outcome": "applied",
        "messageId": my_message,
        "status": "delivered",
        "inbound": None,  # not a recipient's message
    }
    assert await status_of(service, my_message) == "delivered"
    assert await status_of(service, their_message) == "sent"
    assert await status_of(service, default_message) == "sent"

    # Another account's message is unknown at this URL, whatever its gateway id.
    other_id = f"3EB0{uuid.uuid4().hex[:20].upper()}"
    await sent_message(service, theirs["id"], other_id, tenant=OTHER_TENANT)
    unknown = await gateway.post(url, json=waha_ack(other_id))
    assert unknown.status_code == 200 and unknown.json()["outcome"] == "unknown-message"


async def test_evolution_receipts_at_the_evolution_url(
    service: RunningService, gateway: httpx.AsyncClient
) -> None:
    account = await create_account(service.client)
    key_id = f"3EB0{uuid.uuid4().hex[:20].upper()}"
    message_id = await sent_message(service, account["id"], key_id)
    body = {
        "event": "messages.update",
        "instance": "sales",
        "data": {
            "keyId": key_id,
            "remoteJid": "919876543210@s.whatsapp.net",
            "fromMe": True,
            "status": "READ",
        },
    }
    response = await gateway.post(path_of(account["receiptUrls"]["evolution"]), json=body)
    assert response.status_code == 200, response.text
    assert response.json()["outcome"] == "applied"
    assert await status_of(service, message_id) == "read"


@pytest.mark.parametrize(
    "token",
    ["rt_" + "A" * 43, "not-a-token", "rt_" + "A" * 44],
    ids=["unknown", "malformed", "too-long"],
)
async def test_an_unknown_token_is_refused_before_the_body_is_read(
    gateway: httpx.AsyncClient, token: str
) -> None:
    for kind in ("waha", "evolution"):
        response = await gateway.post(f"/api/webhooks/{kind}/{token}", content=b"not json")
        assert response.status_code == 401, response.text
        assert response.json()["error"] == "unknown receipt URL, or a missing or bad signature"


async def test_a_rotated_token_stops_the_old_urls_and_starts_new_ones(
    service: RunningService, gateway: httpx.AsyncClient
) -> None:
    account = await create_account(service.client)
    old = path_of(account["receiptUrls"]["waha"])
    rotated = await service.client.post(f"/api/accounts/{account['id']}/receipt-token")
    assert rotated.status_code == 200, rotated.text
    new_urls = rotated.json()["receiptUrls"]
    assert new_urls["token"] != account["receiptUrls"]["token"]
    assert rotated.json()["account"]["primary"]["webhook"]["status"] == "FAILED"

    gateway_id = f"3EB0{uuid.uuid4().hex[:20].upper()}"
    message_id = await sent_message(service, account["id"], gateway_id)
    assert (await gateway.post(old, json=waha_ack(gateway_id))).status_code == 401
    assert await status_of(service, message_id) == "sent"
    moved = await gateway.post(path_of(new_urls["waha"]), json=waha_ack(gateway_id))
    assert moved.status_code == 200 and moved.json()["outcome"] == "applied"

    # Another tenant cannot rotate it.
    async with service.client_for(OTHER_TOKEN) as other_api:
        refused = await other_api.post(f"/api/accounts/{account['id']}/receipt-token")
    assert refused.status_code == 404


async def test_an_account_with_an_hmac_key_needs_the_signature_too(
    service: RunningService, gateway: httpx.AsyncClient
) -> None:
    key = "waha-plus-key-" + uuid.uuid4().hex
    account = await create_account(service.client, webhookHmacKey=key)
    assert account["webhookHmacKeySet"] is True and key not in json.dumps(account)
    gateway_id = f"3EB0{uuid.uuid4().hex[:20].upper()}"
    message_id = await sent_message(service, account["id"], gateway_id)
    url = path_of(account["receiptUrls"]["waha"])
    raw = json.dumps(waha_ack(gateway_id)).encode()
    as_json = {"Content-Type": "application/json"}

    unsigned = await gateway.post(url, content=raw, headers=as_json)
    wrong = await gateway.post(url, content=raw, headers=as_json | {"X-Webhook-Hmac": "00" * 64})
    assert (unsigned.status_code, wrong.status_code) == (401, 401)
    assert await status_of(service, message_id) == "sent"

    signature = hmac.new(key.encode(), raw, hashlib.sha512).hexdigest()
    signed = await gateway.post(
        url,
        content=raw,
        headers=as_json | {"X-Webhook-Hmac": signature, "X-Webhook-Hmac-Algorithm": "sha512"},
    )
    assert signed.status_code == 200 and signed.json()["outcome"] == "applied"


async def test_the_gateways_session_reports_update_the_accounts_health(
    service: RunningService, gateway: httpx.AsyncClient
) -> None:
    account = await create_account(
        service.client, primary=session("sales-evo", gateway="evolution")
    )
    token = account["receiptUrls"]["token"]
    waha = {
        "event": "session.status",
        "session": "sales-webjs",
        "payload": {"status": "SCAN_QR_CODE"},
    }
    assert (await gateway.post(f"/api/webhooks/waha/{token}", json=waha)).status_code == 200
    evolution = {
        "event": "connection.update",
        "instance": "sales-evo",
        "data": {"instance": "sales-evo", "state": "open", "statusReason": 200},
    }
    assert (
        await gateway.post(f"/api/webhooks/evolution/{token}", json=evolution)
    ).status_code == 200
    # A report about a session the account does not have changes nothing.
    stranger = {"event": "session.status", "session": "other", "payload": {"status": "FAILED"}}
    assert (await gateway.post(f"/api/webhooks/waha/{token}", json=stranger)).status_code == 200

    fetched = (await service.client.get(f"/api/accounts/{account['id']}")).json()
    assert fetched["fallback"]["health"]["status"] == "SCAN_QR_CODE"
    # The same words as a check would write.
    assert (
        fetched["fallback"]["health"]["detail"] == "waiting for the number to be paired (QR code)"
    )
    assert fetched["primary"]["health"]["status"] == "WORKING"


async def test_a_bad_receipt_body_at_a_valid_url_names_the_field(
    service: RunningService, gateway: httpx.AsyncClient
) -> None:
    account = await create_account(service.client)
    url = path_of(account["receiptUrls"]["waha"])
    body = {"event": "message.ack", "payload": {"id": "", "fromMe": True, "ack": 2}}
    response = await gateway.post(url, json=body)
    assert response.status_code == 422
    assert "payload.id" in response.text or '"payload","id"' in response.text.replace(" ", "")


async def test_an_operator_can_retry_the_set_up(service: RunningService) -> None:
    account = await create_account(service.client)
    retried = await service.client.post(f"/api/accounts/{account['id']}/webhooks")
    assert retried.status_code == 200, retried.text
    webhook = retried.json()["primary"]["webhook"]
    assert webhook["status"] == "FAILED"
    assert webhook["checkedAt"] > account["primary"]["webhook"]["checkedAt"]
