"""Simulated recipients write back: their messages reach the sessions' webhooks as WAHA and
Evolution post them, after their delay, once per session; posted in process to a receiver
that records them (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import re
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import httpx
import pytest

from herald_simulator import SimulatorConfig, create_app
from herald_simulator.config import Engine, WahaTier, parse_sessions
from herald_simulator.lids import lid_of_phone
from herald_simulator.main import config_from_args
from herald_simulator.receipts import ReceiptConfig
from herald_simulator.recipient_behaviours import RecipientBehaviour, Reply, parse_behaviour

DIGITS = "919876543210"
PHONE = f"+{DIGITS}"
CHAT = f"{DIGITS}@c.us"
HOOK = "http://herald.test/api/webhooks/waha/tok1"
EVO_HOOK = "http://herald.test/api/webhooks/evolution/tok2"
KEY = "session-hmac-key"
PHONE_ID = re.compile(r"[0-9A-F]{32}")


class Receiver:
    """The webhooks' other end: records every request, answers 200."""

    def __init__(self) -> None:
        self.requests: asyncio.Queue[httpx.Request] = asyncio.Queue()

    async def handle(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.put_nowait(request)
        return httpx.Response(200, json={})

    async def next(self, timeout: float = 5.0) -> httpx.Request:
        return await asyncio.wait_for(self.requests.get(), timeout)

    async def events(self, count: int, timeout: float = 5.0) -> list[dict[str, Any]]:
        return [body(await self.next(timeout)) for _ in range(count)]

    async def nothing_more(self, wait: float = 0.3) -> None:
        await asyncio.sleep(wait)
        assert self.requests.empty(), body(self.requests.get_nowait())


def body(request: httpx.Request) -> dict[str, Any]:
    parsed: dict[str, Any] = json.loads(request.content)
    return parsed


@asynccontextmanager
async def simulator(receiver: Receiver, **config: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(
        SimulatorConfig(**config), webhook_transport=httpx.MockTransport(receiver.handle)
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://simulator"
    ) as client:
        yield client
        app.state.sim.begin_shutdown()


async def waha_hook(
    client: httpx.AsyncClient, events: list[str], *, session: str = "default", key: str | None = KEY
) -> None:
    hook: dict[str, Any] = {"url": HOOK, "events": events}
    if key:
        hook["hmac"] = {"key": key}
    answer = await client.put(f"/api/sessions/{session}", json={"config": {"webhooks": [hook]}})
    assert answer.status_code == 200, answer.text


async def behaviours(client: httpx.AsyncClient, *items: dict[str, Any]) -> dict[str, Any]:
    answer = await client.put("/_sim/recipients", json=list(items))
    assert answer.status_code == 200, answer.text
    result: dict[str, Any] = answer.json()
    return result


async def send(client: httpx.AsyncClient, session: str = "default", text: str = "Hi") -> Any:
    answer = await client.post(
        "/api/sendText", json={"session": session, "chatId": CHAT, "text": text}
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


async def evolution_send(client: httpx.AsyncClient, instance: str = "acc1") -> Any:
    answer = await client.post(
        f"/message/sendText/{instance}", json={"number": DIGITS, "text": "Hi"}
    )
    assert answer.status_code == 201, answer.text
    return answer.json()


OPT_OUT = {"phone": PHONE, "optOutAfterFirst": True}
THANKS = {"phone": PHONE, "replies": [{"text": "thanks", "afterMs": 300}], "pushName": "Asha"}


# WAHA


async def test_a_reply_reaches_the_sessions_message_webhook_signed_after_its_delay() -> None:
    receiver = Receiver()
    async with simulator(receiver) as client:
        await waha_hook(client, ["message"])
        await behaviours(client, THANKS)
        started = time.monotonic()
        await send(client)
        request = await receiver.next()
        after = time.monotonic() - started
    assert after >= 0.3
    assert str(request.url) == HOOK
    expected = hmac.new(KEY.encode(), request.content, hashlib.sha512).hexdigest()
    assert request.headers["X-Webhook-Hmac"] == expected
    assert request.headers["User-Agent"] == "WAHA/2024.10.8"
    event = body(request)
    assert (event["event"], event["session"], event["engine"]) == ("message", "default", "NOWEB")
    payload = event["payload"]
    message_id = payload["_data"]["key"]["id"]
    assert PHONE_ID.fullmatch(message_id)
    assert payload["id"] == f"false_{CHAT}_{message_id}"
    assert (payload["from"], payload["fromMe"], payload["body"]) == (CHAT, False, "thanks")
    assert "to" not in payload and "participant" not in payload  # NOWEB, a direct chat
    assert (payload["ack"], payload["ackName"]) == (None, "UNKNOWN")
    assert payload["_data"]["key"] == {
        "remoteJid": f"{DIGITS}@s.whatsapp.net",
        "fromMe": False,
        "id": message_id,
    }
    assert payload["_data"]["pushName"] == "Asha"
    assert abs(payload["timestamp"] - time.time()) < 5


async def test_stop_comes_once_after_the_first_message_of_each_session() -> None:
    receiver = Receiver()
    async with simulator(receiver, sessions=parse_sessions("default,second")) as client:
        await client.put("/_sim/config", json={"receipts": False})  # messages only
        await waha_hook(client, ["message"], session="default")
        await waha_hook(client, ["*"], session="second")
        await behaviours(client, {**OPT_OUT, "replies": [{"text": "who is this?", "afterMs": 50}]})
        for _ in range(3):
            await send(client)
        first = await receiver.events(2)
        await receiver.nothing_more()
        await send(client, "second")
        second = await receiver.events(2)
        await receiver.nothing_more()
        log = (await client.get("/_sim/recipients")).json()
    assert [e["payload"]["body"] for e in first] == ["STOP", "who is this?"]
    assert [(e["session"], e["payload"]["body"]) for e in second] == [
        ("second", "STOP"),
        ("second", "who is this?"),
    ]
    assert [(m["session"], m["text"], m["webhooks"]) for m in log["inbound"]] == [
        ("default", "STOP", 1),
        ("default", "who is this?", 1),
        ("second", "STOP", 1),
        ("second", "who is this?", 1),
    ]
    assert log["inbound"][0]["phone"] == PHONE and log["pending"] == 0


async def test_webhooks_not_subscribed_to_message_get_nothing() -> None:
    receiver = Receiver()
    async with simulator(receiver) as client:
        await waha_hook(client, ["message.ack", "session.status"])
        await behaviours(client, OPT_OUT)
        await send(client)
        await asyncio.sleep(0.2)
        log = (await client.get("/_sim/recipients")).json()
        await receiver.nothing_more(0)  # its receipt comes after a second
    [stop] = log["inbound"]
    assert (stop["text"], stop["webhooks"]) == ("STOP", 0)


async def test_the_global_webhook_gets_receipts_only() -> None:
    receiver = Receiver()
    async with simulator(receiver, receipts=ReceiptConfig(webhook_url=HOOK, delay_ms=0)) as client:
        await behaviours(client, OPT_OUT)
        await send(client)
        [receipt] = await receiver.events(1)
        await receiver.nothing_more()
    assert receipt["event"] == "message.ack"


async def test_waha_core_posts_messages_unsigned() -> None:
    receiver = Receiver()
    async with simulator(receiver, tier=WahaTier.CORE) as client:
        await waha_hook(client, ["message"])
        await behaviours(client, OPT_OUT)
        await send(client)
        request = await receiver.next()
    assert "X-Webhook-Hmac" not in request.headers
    assert body(request)["environment"]["tier"] == "CORE"


async def test_webjs_names_us_as_to_and_gows_names_the_sender_by_its_lid() -> None:
    receiver = Receiver()
    async with simulator(receiver, sessions=parse_sessions("w:WEBJS,g:GOWS")) as client:
        for session in ("w", "g"):
            await waha_hook(client, ["message"], session=session)
        await behaviours(client, {**OPT_OUT, "pushName": "Asha"})
        await send(client, "w")
        webjs = body(await receiver.next())
        await send(client, "g")
        gows = body(await receiver.next())
        me = (await client.get("/api/sessions/w")).json()["me"]["id"]
        lid = gows["payload"]["from"]
        found = (await client.get(f"/api/g/lids/{lid}")).json()
        unknown = (await client.get("/api/g/lids/111111111111111")).json()
        on_noweb = await client.get(f"/api/default/lids/{lid.replace('@', '%40')}")
    payload = webjs["payload"]
    assert (payload["from"], payload["to"], payload["ack"], payload["ackName"]) == (
        CHAT,
        me,
        1,
        "SERVER",
    )
    assert payload["_data"]["notifyName"] == "Asha" and payload["_data"]["self"] == "in"
    assert payload["id"] == f"false_{CHAT}_{payload['_data']['id']['id']}"
    info = gows["payload"]["_data"]["Info"]
    assert lid == lid_of_phone(DIGITS) and lid.endswith("@lid")
    assert (info["Chat"], info["AddressingMode"], info["SenderAlt"]) == (
        lid,
        "lid",
        f"{DIGITS}@s.whatsapp.net",
    )
    assert gows["payload"]["id"] == f"false_{lid}_{info['ID']}"
    assert gows["me"]["lid"].endswith("@lid")
    assert found == {"lid": lid, "pn": CHAT}
    assert unknown == {"lid": "111111111111111@lid", "pn": None}
    assert on_noweb.status_code == 404  # 2024.10.8 has no lids API
    assert on_noweb.json()["message"] == f"Cannot GET /api/default/lids/{lid.replace('@', '%40')}"


async def test_noweb_passes_a_lid_addressed_sender_on_without_its_number() -> None:
    receiver = Receiver()
    async with simulator(receiver) as client:
        await waha_hook(client, ["message"])
        await behaviours(client, {**OPT_OUT, "addressing": "lid"})
        await send(client)
        payload = body(await receiver.next())["payload"]
    lid = lid_of_phone(DIGITS)
    assert payload["from"] == lid and payload["_data"]["key"]["remoteJid"] == lid
    assert DIGITS not in json.dumps(payload)


async def test_a_gows_receipt_and_the_lids_api_agree() -> None:
    receiver = Receiver()
    async with simulator(receiver, engine=Engine.GOWS) as client:
        await waha_hook(client, ["message.ack"])
        await send(client)
        ack = body(await receiver.next())
        answer = (await client.get(f"/api/default/lids/{ack['payload']['from']}")).json()
    assert answer["pn"] == CHAT


async def test_an_answer_waits_for_its_session_to_work_again() -> None:
    receiver = Receiver()
    async with simulator(receiver) as client:
        await waha_hook(client, ["message"])
        await behaviours(client, {"phone": PHONE, "replies": [{"text": "later", "afterMs": 50}]})
        await send(client)
        await client.put("/_sim/sessions/default", json={"status": "STARTING"})
        await asyncio.sleep(0.2)
        assert receiver.requests.empty()
        await client.put("/_sim/sessions/default", json={"status": "WORKING"})
        event = body(await receiver.next())
    assert event["payload"]["body"] == "later"


async def test_numbers_without_a_behaviour_or_off_whatsapp_say_nothing() -> None:
    receiver = Receiver()
    async with simulator(receiver, not_on_whatsapp=frozenset({DIGITS})) as client:
        await waha_hook(client, ["message"])
        await behaviours(client, OPT_OUT)
        await send(client)
        await client.post(
            "/api/sendText", json={"session": "default", "chatId": "919800000001@c.us", "text": "x"}
        )
        await receiver.nothing_more()
        assert (await client.get("/_sim/recipients")).json()["inbound"] == []


# Evolution


async def evolution_hook(client: httpx.AsyncClient, events: list[str], **extra: Any) -> None:
    webhook = {"enabled": True, "url": EVO_HOOK, "events": events, "headers": {"X-Token": "t"}}
    answer = await client.post("/webhook/set/acc1", json={"webhook": {**webhook, **extra}})
    assert answer.status_code == 201, answer.text


async def test_evolution_posts_messages_upsert_to_its_instance_webhook() -> None:
    receiver = Receiver()
    async with simulator(receiver, sessions=parse_sessions("acc1")) as client:
        await evolution_hook(client, ["MESSAGES_UPSERT"])
        await behaviours(client, {**OPT_OUT, **THANKS})
        started = time.monotonic()
        await evolution_send(client)
        stop, thanks = await receiver.events(2)
        after = time.monotonic() - started
        me = (await client.get("/api/sessions/acc1")).json()["me"]["id"]
        cached = (
            await client.post(
                "/chat/whatsappNumbers/acc1", json={"numbers": [lid_of_phone(DIGITS)]}
            )
        ).json()
        log = (await client.get("/_sim/recipients")).json()
    assert after >= 0.3
    assert [stop["data"]["message"], thanks["data"]["message"]] == [
        {"conversation": "STOP"},
        {"conversation": "thanks"},
    ]
    assert (stop["event"], stop["instance"], stop["destination"]) == (
        "messages.upsert",
        "acc1",
        EVO_HOOK,
    )
    data = stop["data"]
    key = data["key"]
    assert key == {
        "remoteJid": f"{DIGITS}@s.whatsapp.net",
        "remoteJidAlt": lid_of_phone(DIGITS),
        "fromMe": False,
        "id": key["id"],
        "addressingMode": "pn",
    }
    assert PHONE_ID.fullmatch(key["id"])
    assert (data["messageType"], data["status"], data["source"], data["pushName"]) == (
        "conversation",
        "DELIVERY_ACK",
        "android",
        "Asha",
    )
    assert isinstance(data["messageTimestamp"], int)
    assert stop["sender"] == me.replace("@c.us", "@s.whatsapp.net")
    assert cached == [
        {
            "jid": f"{DIGITS}@s.whatsapp.net",
            "exists": True,
            "number": lid_of_phone(DIGITS),
            "name": "Asha",
        }
    ]
    assert [m["gateway"] for m in log["inbound"]] == ["evolution", "evolution"]


async def test_evolution_posts_unsigned_with_its_headers_and_by_events() -> None:
    receiver = Receiver()
    async with simulator(receiver, sessions=parse_sessions("acc1")) as client:
        await evolution_hook(client, [], byEvents=True)  # no events: all of them
        await behaviours(client, {**OPT_OUT, "addressing": "lid"})
        await evolution_send(client)
        request = await receiver.next()
        uncached = (
            await client.post(
                "/chat/whatsappNumbers/acc1", json={"numbers": [lid_of_phone(DIGITS)]}
            )
        ).json()
    assert str(request.url) == f"{EVO_HOOK}/messages-upsert"
    assert request.headers["X-Token"] == "t" and "X-Webhook-Hmac" not in request.headers
    assert request.headers["User-Agent"].startswith("axios/")
    key = body(request)["data"]["key"]
    assert (key["remoteJid"], key["remoteJidAlt"], key["addressingMode"]) == (
        lid_of_phone(DIGITS),
        f"{DIGITS}@s.whatsapp.net",
        "lid",
    )
    lid = lid_of_phone(DIGITS)
    assert uncached == [{"jid": lid, "exists": True, "number": lid, "lid": "lid"}]


async def test_an_instance_not_subscribed_to_messages_upsert_gets_none() -> None:
    receiver = Receiver()
    async with simulator(receiver, sessions=parse_sessions("acc1")) as client:
        await evolution_hook(client, ["CONNECTION_UPDATE"])
        await behaviours(client, OPT_OUT)
        await evolution_send(client)
        await receiver.nothing_more()


# What each number got and sent


async def test_the_ledger_tells_what_each_number_received_and_sent() -> None:
    receiver = Receiver()
    async with simulator(receiver, not_on_whatsapp=frozenset({"919800000000"})) as client:
        await behaviours(client, OPT_OUT)
        await client.put("/_sim/config", json={"mode": "fail_5xx"})
        await client.post("/api/sendText", json={"session": "default", "chatId": CHAT, "text": "a"})
        await client.put("/_sim/config", json={"mode": "ok"})
        await send(client, text="b")
        await send(client, text="c")
        await client.post(
            "/api/sendText", json={"session": "default", "chatId": "919800000000@c.us", "text": "d"}
        )
        await asyncio.sleep(0.1)
        mine = (await client.get(f"/_sim/phones/{PHONE}")).json()
        other = (await client.get("/_sim/phones/919800000000")).json()
        bad = await client.get("/_sim/phones/nobody")
    assert [(s["text"], s["outcome"]) for s in mine["sends"]] == [
        ("a", "fail_5xx"),
        ("b", "accepted"),
        ("c", "accepted"),
    ]
    assert [r["text"] for r in mine["received"]] == ["b", "c"]
    assert [m["text"] for m in mine["sent"]] == ["STOP"]
    assert (other["phone"], other["received"], other["sent"]) == ("+919800000000", [], [])
    assert [s["outcome"] for s in other["sends"]] == ["not_on_whatsapp"]
    assert bad.status_code == 400


# The control routes


async def test_behaviours_are_listed_replaced_and_cleared() -> None:
    async with simulator(Receiver()) as client:
        listed = await behaviours(
            client,
            THANKS,
            {"phone": "919800000002", "optOutAfterFirst": True, "optOutText": "UNSUBSCRIBE"},
        )
        cleared = (await client.delete("/_sim/recipients")).json()
    assert listed["behaviours"] == [
        {
            "phone": PHONE,
            "replies": [{"text": "thanks", "afterMs": 300.0}],
            "optOutAfterFirst": False,
            "optOutText": "STOP",
            "optOutAfterMs": 0.0,
            "pushName": "Asha",
            "addressing": None,
        },
        {
            "phone": "+919800000002",
            "replies": [],
            "optOutAfterFirst": True,
            "optOutText": "UNSUBSCRIBE",
            "optOutAfterMs": 0.0,
            "pushName": "Recipient 0002",
            "addressing": None,
        },
    ]
    assert cleared == {"behaviours": [], "inbound": [], "pending": 0}


@pytest.mark.parametrize(
    ("sent", "field"),
    [
        ({"recipients": "all"}, "recipients"),
        ([{"replies": []}], "recipients[0].phone"),
        ([{"phone": "call me"}], "recipients[0].phone"),
        (
            [{"phone": PHONE, "replies": [{"text": "", "afterMs": 1}]}],
            "recipients[0].replies[0].text",
        ),
        (
            [{"phone": PHONE, "replies": [{"text": "x", "afterMs": -1}]}],
            "recipients[0].replies[0].afterMs",
        ),
        (
            [{"phone": PHONE, "replies": [{"text": "x", "after": 1}]}],
            "recipients[0].replies[0].after",
        ),
        ([{"phone": PHONE, "optOutAfterFirst": "yes"}], "recipients[0].optOutAfterFirst"),
        ([{"phone": PHONE, "addressing": "email"}], "recipients[0].addressing"),
        ([{"phone": PHONE, "colour": "red"}], "recipients[0].colour"),
        ([{"phone": PHONE}, {"phone": DIGITS}], "recipients[1].phone"),
    ],
)
async def test_a_bad_behaviour_is_400_naming_it_and_changes_nothing(sent: Any, field: str) -> None:
    async with simulator(Receiver()) as client:
        await behaviours(client, OPT_OUT)
        answer = await client.put("/_sim/recipients", json=sent)
        after = (await client.get("/_sim/recipients")).json()
    assert answer.status_code == 400
    assert answer.json()["field"] == field
    assert [b["phone"] for b in after["behaviours"]] == [PHONE]


async def test_startup_behaviours_come_back_on_reset() -> None:
    startup = (RecipientBehaviour(DIGITS, opt_out_after_first=True),)
    async with simulator(Receiver(), recipients=startup) as client:
        await client.delete("/_sim/recipients")
        await client.post("/_sim/reset")
        listed = (await client.get("/_sim/recipients")).json()
    assert [b["phone"] for b in listed["behaviours"]] == [PHONE]


def test_the_command_line_takes_behaviours_inline_or_from_a_file(tmp_path: Path) -> None:
    inline = json.dumps([THANKS])
    from_file = tmp_path / "recipients.json"
    from_file.write_text(json.dumps({"recipients": [OPT_OUT]}))
    by_flag = config_from_args(["--recipients", inline], env={}).recipients
    by_env = config_from_args([], env={"SIM_RECIPIENTS": str(from_file)}).recipients
    assert by_flag == (RecipientBehaviour(DIGITS, (Reply("thanks", 300.0),), push_name="Asha"),)
    assert by_env == (parse_behaviour(OPT_OUT),)
    assert config_from_args([], env={}).recipients == ()


@pytest.mark.parametrize("value", ['[{"phone": 1}]', "/no/such/file.json", "[not json"])
def test_bad_recipients_on_the_command_line_exit_2(value: str) -> None:
    with pytest.raises(SystemExit) as exited:
        config_from_args(["--recipients", value], env={})
    assert exited.value.code == 2


async def test_evolution_answers_lids_without_baileys_even_when_closed() -> None:
    lid = lid_of_phone(DIGITS)
    async with simulator(Receiver(), sessions=parse_sessions("acc1")) as client:
        await client.put("/_sim/sessions/acc1", json={"status": "STOPPED"})
        lids = await client.post("/chat/whatsappNumbers/acc1", json={"numbers": [lid]})
        mixed = await client.post("/chat/whatsappNumbers/acc1", json={"numbers": [lid, DIGITS]})
    assert (lids.status_code, lids.json()) == (
        200,
        [{"jid": lid, "exists": True, "number": lid, "lid": "lid"}],
    )
    assert mixed.status_code == 400 and mixed.json()["output"]["statusCode"] == 428
