"""Reading a recipient's message out of the gateways' webhooks, and asking a gateway for the
number behind a lid. Every shape read here is a real gateway's (``tests/real_gateways/
fixtures``, each naming its upstream source); the bad ones are those shapes broken."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from herald_gateways.evolution import EvolutionGateway
from herald_gateways.inbound import (
    EVOLUTION_UPSERT_EVENT,
    EVOLUTION_UPSERT_EVENTS,
    WAHA_MESSAGE_EVENT,
    InboundMessage,
    InboundShapeError,
    evolution_inbound,
    lid_of_jid,
    phone_of_jid,
    waha_inbound,
)
from herald_gateways.interface import GatewayError
from herald_gateways.waha import WahaGateway
from tests.real_gateways.contract_fixtures import Webhook, load, webhooks

WAHA_MESSAGES = webhooks(WAHA_MESSAGE_EVENT)
EVOLUTION_MESSAGES = webhooks(EVOLUTION_UPSERT_EVENT)
LID = "123456789012345@lid"


def read(message: InboundMessage) -> dict[str, Any]:
    """An InboundMessage in the fixtures' ``inbound`` terms."""
    return {
        "chat": message.chat,
        "phone": message.phone,
        "lid": message.lid,
        "text": message.text,
        "at": int(message.at.timestamp()),
        "from_me": message.from_me,
        "is_group": message.is_group,
        "is_broadcast": message.is_broadcast,
        "from_recipient": message.from_recipient,
        "push_name": message.push_name,
    }


def test_every_engine_and_addressing_has_a_real_shape() -> None:
    engines = {w.body["engine"] for w in WAHA_MESSAGES}
    assert engines == {"NOWEB", "WEBJS", "GOWS"}
    modes = {w.body["data"]["key"].get("addressingMode") for w in EVOLUTION_MESSAGES}
    assert modes == {"pn", "lid"}
    assert "MESSAGES_UPSERT" in EVOLUTION_UPSERT_EVENTS


@pytest.mark.parametrize("found", WAHA_MESSAGES, ids=lambda w: w.id)
def test_each_waha_message_is_read_as_the_engine_means_it(found: Webhook) -> None:
    message = waha_inbound(found.body["payload"])
    assert message.gateway_message_id == found.message_id
    assert read(message) == found.inbound
    assert message.at.tzinfo is UTC


@pytest.mark.parametrize("found", EVOLUTION_MESSAGES, ids=lambda w: w.id)
def test_each_evolution_message_is_read_as_evolution_means_it(found: Webhook) -> None:
    message = evolution_inbound(found.body["data"])
    assert message.gateway_message_id == found.message_id
    assert read(message) == found.inbound


def fixture_body(name: str) -> dict[str, Any]:
    """A deep copy of a fixture webhook's body, to break."""
    [found] = [w for w in WAHA_MESSAGES + EVOLUTION_MESSAGES if w.id == name]
    return copy.deepcopy(found.body)


NOWEB = "waha-2024.10.8-noweb:message"
EVOLUTION = "evolution-2.3.6:messages_upsert"


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        (lambda p: p.pop("id"), ("id",)),
        (lambda p: p.update(id=""), ("id",)),
        (lambda p: p.update(id=7), ("id",)),
        (lambda p: p.pop("from"), ("from",)),
        (lambda p: p.update({"from": "919876543210"}), ("from",)),
        (lambda p: p.update(fromMe="false"), ("fromMe",)),
        (lambda p: p.pop("fromMe"), ("fromMe",)),
        (lambda p: p.pop("timestamp"), ("timestamp",)),
        (lambda p: p.update(timestamp="yesterday"), ("timestamp",)),
        (lambda p: p.update(timestamp=True), ("timestamp",)),
        (lambda p: p.update(timestamp=-1), ("timestamp",)),
        (lambda p: p.update(body=["STOP"]), ("body",)),
    ],
)
def test_a_broken_waha_payload_says_where(change: Any, loc: tuple[str, ...]) -> None:
    payload = fixture_body(NOWEB)["payload"]
    change(payload)
    with pytest.raises(InboundShapeError) as raised:
        waha_inbound(payload)
    assert raised.value.loc == loc
    assert str(raised.value).startswith(".".join(loc) + ": ")
    assert isinstance(raised.value, ValueError)


def test_a_waha_payload_that_is_not_an_object() -> None:
    with pytest.raises(InboundShapeError) as raised:
        waha_inbound(["not", "a", "payload"])  # type: ignore[arg-type]
    assert raised.value.loc == ()


@pytest.mark.parametrize(
    ("change", "loc"),
    [
        (lambda d: d.pop("key"), ("key",)),
        (lambda d: d.update(key="ACD3"), ("key",)),
        (lambda d: d["key"].pop("id"), ("key", "id")),
        (lambda d: d["key"].update(remoteJid=919876543210), ("key", "remoteJid")),
        (lambda d: d["key"].pop("remoteJid"), ("key", "remoteJid")),
        (lambda d: d["key"].update(fromMe=None), ("key", "fromMe")),
        (lambda d: d.pop("messageTimestamp"), ("messageTimestamp",)),
        (lambda d: d.update(messageTimestamp={"low": "x"}), ("messageTimestamp",)),
        (lambda d: d.update(message="STOP"), ("message",)),
        (lambda d: d.update(message={"conversation": 5}), ("message", "conversation")),
        (
            lambda d: d.update(message={"imageMessage": {"caption": {"text": "x"}}}),
            ("message", "imageMessage", "caption"),
        ),
    ],
)
def test_a_broken_evolution_message_says_where(change: Any, loc: tuple[str, ...]) -> None:
    data = fixture_body(EVOLUTION)["data"]
    change(data)
    with pytest.raises(InboundShapeError) as raised:
        evolution_inbound(data)
    assert raised.value.loc == loc


@pytest.mark.parametrize(
    ("timestamp", "seconds"),
    [
        (1765129432, 1765129432),
        ("1765129432", 1765129432),
        (1765129432.0, 1765129432),
        ({"low": 1765129432, "high": 0, "unsigned": True}, 1765129432),  # a protobuf Long
        ({"low": -1, "high": 0, "unsigned": False}, 0xFFFFFFFF),  # low as a signed 32-bit int
        ({"low": 0, "high": 1}, 1 << 32),
    ],
)
def test_evolution_timestamps_in_every_form_baileys_gives(timestamp: Any, seconds: int) -> None:
    data = fixture_body(EVOLUTION)["data"]
    data["messageTimestamp"] = timestamp
    assert evolution_inbound(data).at == datetime.fromtimestamp(seconds, UTC)


@pytest.mark.parametrize(
    ("message", "text"),
    [
        ({"conversation": "STOP"}, "STOP"),
        ({"conversation": ""}, None),
        ({"extendedTextMessage": {"text": "stop please"}}, "stop please"),
        ({"videoMessage": {"caption": "look"}}, "look"),
        ({"documentMessage": {"fileName": "a.pdf"}}, None),
        ({"ephemeralMessage": {"message": {"extendedTextMessage": {"text": "bye"}}}}, "bye"),
        (
            {"documentWithCaptionMessage": {"message": {"documentMessage": {"caption": "cv"}}}},
            "cv",
        ),
        ({"reactionMessage": {"text": "👍"}}, None),
        (None, None),
    ],
)
def test_the_text_of_an_evolution_message(message: Any, text: str | None) -> None:
    data = fixture_body(EVOLUTION)["data"]
    data["message"] = message
    assert evolution_inbound(data).text == text


def test_own_messages_statuses_and_channels_are_not_a_recipients() -> None:
    data = fixture_body(EVOLUTION)["data"]
    data["key"]["fromMe"] = True
    assert not evolution_inbound(data).from_recipient
    for chat in ("status@broadcast", "1717171717@broadcast", "120363111111111111@newsletter"):
        payload = fixture_body(NOWEB)["payload"]
        payload["from"] = chat
        message = waha_inbound(payload)
        assert message.is_broadcast and not message.is_group and not message.from_recipient


def test_a_waha_message_with_empty_body_has_no_text() -> None:
    payload = fixture_body("waha-2024.10.8-webjs:message")["payload"]
    payload["body"] = ""  # whatsapp-web.js: media without a caption
    assert waha_inbound(payload).text is None


def test_older_baileys_alternate_fields_name_the_number_too() -> None:
    """Baileys 6.7.1x put the other form in ``senderPn``/``participantPn``."""
    data = fixture_body(EVOLUTION)["data"]
    data["key"] = {"remoteJid": LID, "fromMe": False, "id": "ACD3", "senderPn": "919876543210"}
    assert (evolution_inbound(data).phone, evolution_inbound(data).lid) == ("+919876543210", LID)
    payload = fixture_body(NOWEB)["payload"]
    payload["from"] = LID
    payload["_data"]["key"] = {"remoteJid": LID, "remoteJidAlt": "919876543210@s.whatsapp.net"}
    assert waha_inbound(payload).phone == "+919876543210"


@pytest.mark.parametrize(
    ("jid", "phone", "lid"),
    [
        ("919876543210@c.us", "+919876543210", None),
        ("919876543210@s.whatsapp.net", "+919876543210", None),
        ("919876543210:12@s.whatsapp.net", "+919876543210", None),
        ("+919876543210", "+919876543210", None),
        ("123456789012345@lid", None, "123456789012345@lid"),
        ("123456789012345:3@lid", None, "123456789012345@lid"),
        ("120363025246125486@g.us", None, None),
        ("status@broadcast", None, None),
        ("abc@c.us", None, None),
        ("1234567890123456@c.us", None, None),  # longer than E.164 allows
        ("", None, None),
        (None, None, None),
    ],
)
def test_jids(jid: Any, phone: str | None, lid: str | None) -> None:
    assert (phone_of_jid(jid), lid_of_jid(jid)) == (phone, lid)


# The number behind a lid


def exchange_of(fixture: str, name: str) -> dict[str, Any]:
    found: dict[str, Any] = load(fixture)["exchanges"][name]
    return found


@pytest.mark.parametrize(
    ("fixture", "name"),
    [
        ("waha-gows", "lids_pn"),
        ("waha-gows", "lids_unknown"),
        ("waha-2024.10.8-noweb", "lids_no_route"),
        ("evolution-2.3.6", "whatsapp_numbers_lid"),
        ("evolution-2.3.6", "whatsapp_numbers_lid_cached"),
    ],
)
async def test_the_phone_of_a_lid_as_each_gateway_answers(fixture: str, name: str) -> None:
    found = exchange_of(fixture, name)
    request, response = found["request"], found["response"]
    asked: list[httpx.Request] = []

    def answer(sent: httpx.Request) -> httpx.Response:
        asked.append(sent)
        return httpx.Response(response["status"], json=response["body"])

    kind = EvolutionGateway if fixture.startswith("evolution") else WahaGateway
    gateway = kind("http://gateway.test", "k", 10, transport=httpx.MockTransport(answer))
    if kind is WahaGateway:  # /api/{session}/lids/{lid}
        session, lid = request["path"].split("/")[2], request["path"].rsplit("/", 1)[1]
    else:  # /chat/whatsappNumbers/{instance} {"numbers": [lid]}
        session, lid = request["path"].rsplit("/", 1)[1], request["body"]["numbers"][0]
    try:
        phone = await gateway.phone_of_lid(session, lid)
    finally:
        await gateway.close()
    [sent] = asked
    assert (sent.method, sent.url.path) == (request["method"], request["path"])
    assert (json.loads(sent.content) if sent.content else None) == request.get("body")
    assert phone == found["phone"]


async def test_waha_says_when_the_session_itself_is_missing() -> None:
    def answer(_: httpx.Request) -> httpx.Response:
        return httpx.Response(
            404, json={"statusCode": 404, "message": "Session not found", "error": "Not Found"}
        )

    gateway = WahaGateway("http://gateway.test", None, 10, transport=httpx.MockTransport(answer))
    try:
        with pytest.raises(GatewayError) as raised:
            await gateway.phone_of_lid("primary", LID)
    finally:
        await gateway.close()
    assert raised.value.reason == "session-not-found"


@pytest.mark.parametrize("kind", [WahaGateway, EvolutionGateway])
async def test_only_a_lid_is_looked_up(kind: type[WahaGateway] | type[EvolutionGateway]) -> None:
    def answer(_: httpx.Request) -> httpx.Response:
        raise AssertionError("the gateway is not asked")

    gateway = kind("http://gateway.test", None, 10, transport=httpx.MockTransport(answer))
    try:
        with pytest.raises(ValueError, match="not a lid"):
            await gateway.phone_of_lid("s", "919876543210@c.us")
    finally:
        await gateway.close()
