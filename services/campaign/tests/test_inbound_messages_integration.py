"""What recipients write back, on an account's receipt URL, against the real Kafka broker and
MongoDB-wire server (the gateways' payload shapes as WAHA and Evolution API post them):

- an opt-out keyword puts the number on the tenant's suppression list, marks the campaign
  message it answered and counts it on the campaign, and announces ``contact.opted_out``; the
  same message posted twice acts once;
- an opt-in keyword lifts a keyword opt-out (not a number the tenant put there);
- any other text within the reply window marks the message ``replied`` once, counted in the
  stats, and announces ``message.replied``; a reply after the window marks nothing;
- the account's own messages, groups and broadcasts are ignored; a body that is no message is
  a 422 naming the field;
- one tenant's STOP does not suppress the number for another tenant;
- a keyword confirmation, when the tenant set one, is queued through the same account.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest

from herald_campaign.adapters.api_keys import register_api_key
from herald_core.contracts.events import (
    ContactOptedIn,
    ContactOptedOut,
    MessageReplied,
    SendMessage,
    contact_event_adapter,
)
from herald_core.contracts.topics import CONTACT_EVENTS, MESSAGE_SEND_PRIMARY
from herald_core.messages.ids import message_id
from herald_devstack.topic_reader import TopicReader

from .conftest import (
    OTHER_TENANT,
    OTHER_TOKEN,
    TENANT,
    RunningService,
    campaign_settings,
    create_campaign,
    running_service,
)

pytestmark = pytest.mark.integration

UNREACHABLE_GATEWAY = "http://127.0.0.1:9"


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "inbound").model_copy(
        update={"webhook_setup_timeout_seconds": 1.0}
    )
    async with running_service(settings) as svc:
        await register_api_key(svc.db, OTHER_TOKEN, OTHER_TENANT, "other tenant")
        yield svc


@pytest.fixture
async def gateway(service: RunningService) -> AsyncIterator[httpx.AsyncClient]:
    async with service.client_for(None) as client:
        yield client


def new_phone() -> str:
    return f"+9198{uuid.uuid4().int % 10**8:08d}"


def session(name: str, gateway: str) -> dict[str, Any]:
    return {"gateway": gateway, "baseUrl": UNREACHABLE_GATEWAY, "session": name, "apiKey": "k"}


async def create_account(api: httpx.AsyncClient) -> dict[str, Any]:
    body = {
        "phone": new_phone(),
        "primary": session("sales-evo", "evolution"),
        "fallback": session("sales", "waha"),
    }
    response = await api.post("/api/accounts", json=body)
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    return created


def path_of(url: str) -> str:
    """The path of a receipt URL (shown as a path alone without HERALD_PUBLIC_URL)."""
    return url if url.startswith("/") else "/" + url.split("/", 3)[3]


def jid(phone: str, server: str = "c.us") -> str:
    return f"{phone.lstrip('+')}@{server}"


def waha_message(phone: str, text: str, **payload: Any) -> dict[str, Any]:
    """WAHA's ``message`` event, as WAHA 2024.10.8 posts it (see tests/real_gateways/fixtures)."""
    gateway_id = f"3EB0{uuid.uuid4().hex[:16].upper()}"
    return {
        "event": "message",
        "session": "sales",
        "engine": "NOWEB",
        "payload": {
            "id": f"false_{jid(phone)}_{gateway_id}",
            "timestamp": int(datetime.now(UTC).timestamp()),
            "from": jid(phone),
            "fromMe": False,
            "to": "15551234567@c.us",
            "body": text,
            "hasMedia": False,
            **payload,
        },
    }


def evolution_upsert(phone: str, text: str) -> dict[str, Any]:
    """Evolution API's ``messages.upsert`` event."""
    return {
        "event": "messages.upsert",
        "instance": "sales-evo",
        "data": {
            "key": {
                "remoteJid": jid(phone, "s.whatsapp.net"),
                "fromMe": False,
                "id": f"3EB0{uuid.uuid4().hex[:16].upper()}",
            },
            "pushName": "Recipient",
            "message": {"conversation": text},
            "messageType": "conversation",
            "messageTimestamp": int(datetime.now(UTC).timestamp()),
        },
    }


async def sent_campaign_message(
    service: RunningService,
    account_id: str,
    phone: str,
    *,
    sent_ago: timedelta = timedelta(minutes=5),
) -> tuple[str, str]:
    """A running campaign of TENANT with a sent message to ``phone`` from ``account_id``, as
    the dispatcher and a sender leave it; (campaign id, message id)."""
    campaign_id: str = (await create_campaign(service.client))["id"]
    added = await service.client.post(
        f"/api/campaigns/{campaign_id}/contacts", json={"contacts": [{"phone": phone}]}
    )
    assert added.status_code == 200, added.text
    assert (await service.client.post(f"/api/campaigns/{campaign_id}/send")).status_code == 202
    now = datetime.now(UTC)
    document = {
        "_id": message_id(campaign_id, phone, 1),
        "run": 1,
        "tenantId": TENANT,
        "campaignId": campaign_id,
        "phone": phone,
        "body": "Hi",
        "accountId": account_id,
        "status": "sent",
        "attempt": 1,
        "sentAt": now - sent_ago,
        "createdAt": now - sent_ago,
    }
    await service.db["messages"].insert_one(document)
    await service.db["campaigns"].update_one(
        {"_id": campaign_id}, {"$set": {"counts.total": 1, "counts.sent": 1}}
    )
    return campaign_id, str(document["_id"])


async def suppression(
    service: RunningService, phone: str, api: httpx.AsyncClient | None = None
) -> dict[str, Any] | None:
    """The number's entry on the tenant's list, as the API shows it; None if not on it."""
    response = await (api or service.client).get(f"/api/suppressions/{phone}")
    if response.status_code == 404:
        return None
    assert response.status_code == 200, response.text
    entry: dict[str, Any] = response.json()
    return entry


async def stats(service: RunningService, campaign_id: str) -> dict[str, Any]:
    response = await service.client.get(f"/api/messages/campaign/{campaign_id}/stats")
    assert response.status_code == 200, response.text
    body: dict[str, Any] = response.json()
    return body


def events_for(records: list[Any], phone: str) -> list[Any]:
    key = f"{TENANT}|{phone}".encode()
    return [contact_event_adapter.validate_json(r.value) for r in records if r.key == key]


async def test_stop_suppresses_the_number_marks_the_message_and_is_announced_once(
    service: RunningService, gateway: httpx.AsyncClient
) -> None:
    account = await create_account(service.client)
    phone = new_phone()
    campaign_id, message = await sent_campaign_message(service, account["id"], phone)
    url = path_of(account["receiptUrls"]["waha"])
    stop = waha_message(phone, "Stop!")

    async with TopicReader(service.kafka, CONTACT_EVENTS) as events:
        answered = await gateway.post(url, json=stop)
        again = await gateway.post(url, json=stop)  # WAHA posting it once more
        records = await events.read_until(lambda got: len(events_for(got, phone)) >= 1)

    assert answered.status_code == 200, answered.text
    assert (answered.json()["inbound"], answered.json()["messageId"]) == ("opted-out", message)
    assert again.json()["inbound"] == "duplicate"
    entry = await suppression(service, phone)
    assert entry is not None
    assert entry["reason"] == "keyword"
    assert entry["source"]["text"] == "Stop!"
    assert (entry["source"]["campaignId"], entry["source"]["messageId"]) == (campaign_id, message)
    [event] = events_for(records, phone)
    assert isinstance(event, ContactOptedOut)
    assert (event.reason, event.account_id, event.message_id) == ("keyword", account["id"], message)

    figures = await stats(service, campaign_id)
    assert (figures["optedOut"], figures["optOutRate"], figures["replied"]) == (1, "100.00", 0)

    # Another STOP from the number changes nothing more.
    later = await gateway.post(url, json=waha_message(phone, "STOP"))
    assert later.json()["inbound"] == "already-opted-out"
    assert (await stats(service, campaign_id))["optedOut"] == 1


async def test_a_reply_marks_the_message_once_and_a_late_one_marks_nothing(
    service: RunningService, gateway: httpx.AsyncClient
) -> None:
    account = await create_account(service.client)
    phone, late_phone = new_phone(), new_phone()
    campaign_id, message = await sent_campaign_message(service, account["id"], phone)
    late_campaign, late_message = await sent_campaign_message(
        service, account["id"], late_phone, sent_ago=timedelta(days=8)
    )
    url = path_of(account["receiptUrls"]["evolution"])

    async with TopicReader(service.kafka, CONTACT_EVENTS) as events:
        first = await gateway.post(url, json=evolution_upsert(phone, "Thanks, see you there"))
        second = await gateway.post(url, json=evolution_upsert(phone, "Also, what time?"))
        records = await events.read_until(lambda got: len(events_for(got, phone)) >= 1)

    assert (first.json()["inbound"], first.json()["messageId"]) == ("replied", message)
    assert second.json()["inbound"] == "message"
    stored = await service.db["messages"].find_one({"_id": message})
    assert stored is not None
    assert stored["replied"] is True and stored["status"] == "sent"  # a flag beside its status
    figures = await stats(service, campaign_id)
    assert (figures["replied"], figures["replyRate"], figures["optedOut"]) == (1, "100.00", 0)
    [event] = events_for(records, phone)
    assert isinstance(event, MessageReplied)
    assert (event.message_id, event.text) == (message, "Thanks, see you there")
    assert await suppression(service, phone) is None

    late = await gateway.post(url, json=evolution_upsert(late_phone, "hello?"))
    assert late.json()["inbound"] == "message"
    assert (await stats(service, late_campaign))["replied"] == 0
    late_stored = await service.db["messages"].find_one({"_id": late_message})
    assert late_stored is not None and "replied" not in late_stored


async def test_start_lifts_a_keyword_opt_out_but_not_the_tenants_own_entry(
    service: RunningService, gateway: httpx.AsyncClient
) -> None:
    account = await create_account(service.client)
    url = path_of(account["receiptUrls"]["waha"])
    recipient, listed = new_phone(), new_phone()
    assert (await gateway.post(url, json=waha_message(recipient, "STOP"))).status_code == 200
    added = await service.client.post("/api/suppressions", json={"numbers": [listed]})
    assert added.json()["added"] == 1

    async with TopicReader(service.kafka, CONTACT_EVENTS) as events:
        lifted = await gateway.post(url, json=waha_message(recipient, "start"))
        kept = await gateway.post(url, json=waha_message(listed, "START"))
        records = await events.read_until(lambda got: len(events_for(got, recipient)) >= 1)

    assert lifted.json()["inbound"] == "opted-in" and kept.json()["inbound"] == "opted-in"
    assert await suppression(service, recipient) is None
    kept_entry = await suppression(service, listed)
    assert kept_entry is not None and kept_entry["reason"] == "manual"
    [event] = events_for(records, recipient)
    assert isinstance(event, ContactOptedIn) and event.reason == "keyword"
    assert events_for(records, listed) == []


async def test_the_accounts_own_messages_groups_and_broadcasts_are_ignored(
    service: RunningService, gateway: httpx.AsyncClient
) -> None:
    account = await create_account(service.client)
    url = path_of(account["receiptUrls"]["waha"])
    phone = new_phone()
    own = waha_message(phone, "STOP", fromMe=True)
    group = waha_message(phone, "STOP", **{"from": "120363025246125486@g.us"})
    status = waha_message(phone, "STOP", **{"from": "status@broadcast"})
    for body in (own, group, status):
        answer = await gateway.post(url, json=body)
        assert (answer.status_code, answer.json()["inbound"]) == (200, "ignored"), answer.text
    assert await suppression(service, phone) is None


async def test_a_body_that_is_no_message_is_refused_naming_the_field(
    service: RunningService, gateway: httpx.AsyncClient
) -> None:
    account = await create_account(service.client)
    url = path_of(account["receiptUrls"]["waha"])
    body = waha_message(new_phone(), "STOP")
    del body["payload"]["from"]
    refused = await gateway.post(url, json=body)
    assert refused.status_code == 422, refused.text
    assert refused.json()["fields"][0]["field"].startswith("payload.from")

    evolution = evolution_upsert(new_phone(), "STOP")
    evolution["data"]["key"]["id"] = 42
    refused = await gateway.post(path_of(account["receiptUrls"]["evolution"]), json=evolution)
    assert refused.status_code == 422, refused.text
    assert refused.json()["fields"][0]["field"].startswith("data.key.id")


async def test_one_tenants_stop_does_not_suppress_the_number_for_another(
    service: RunningService, gateway: httpx.AsyncClient
) -> None:
    async with service.client_for(OTHER_TOKEN) as other_api:
        theirs = await create_account(other_api)
        phone = new_phone()
        answer = await gateway.post(
            path_of(theirs["receiptUrls"]["waha"]), json=waha_message(phone, "STOP")
        )
        assert answer.json()["inbound"] == "opted-out"
        assert await suppression(service, phone, other_api) is not None
    assert await suppression(service, phone) is None


async def test_a_confirmation_goes_through_the_same_account_once_per_keyword(
    service: RunningService, gateway: httpx.AsyncClient
) -> None:
    async with service.client_for(OTHER_TOKEN) as other_api:
        settings = {"replies": {"opt-out": "You will get no more messages. Reply START."}}
        assert (await other_api.put("/api/suppressions/keywords", json=settings)).status_code == 200
        account = await create_account(other_api)
    url = path_of(account["receiptUrls"]["waha"])
    phone = new_phone()
    stop = waha_message(phone, "unsubscribe")

    async with TopicReader(service.kafka, MESSAGE_SEND_PRIMARY) as sends:
        await gateway.post(url, json=stop)
        await gateway.post(url, json=stop)
        records = await sends.read_until(
            lambda got: any(phone.encode() in r.value for r in got), timeout=15
        )

    published = [
        SendMessage.model_validate_json(r.value) for r in records if phone.encode() in r.value
    ]
    [confirmation] = published
    assert confirmation.kind == "keyword-reply"
    assert (confirmation.account_id, confirmation.body) == (
        account["id"],
        "You will get no more messages. Reply START.",
    )
    stored = await service.db["messages"].find({"phone": phone}).to_list()
    assert [(m["kind"], m["status"], m["tenantId"]) for m in stored] == [
        ("keyword-reply", "queued", OTHER_TENANT)
    ]
