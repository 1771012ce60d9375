"""What the simulator does because the real gateways do it (WAHA Core 2024.10.8, Evolution API
2.3.6; tests/real_gateways runs those): Core's one session, WAHA's wait before its 422, the
number check routes, GOWS's answer, session webhooks and the receipts that go to them."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import httpx
import pytest

from herald_simulator import SimulatorConfig, create_app
from herald_simulator.config import Engine, Profile, WahaTier, parse_sessions
from herald_simulator.main import config_from_args
from herald_simulator.receipts import ReceiptConfig

CHAT = "919876543210@c.us"
UNKNOWN = "919800000000"
HOOK = "http://herald.test/api/webhooks/waha/tok1"
EVO_HOOK = "http://herald.test/api/webhooks/evolution/tok2"
NO_WAIT = ReceiptConfig(delay_ms=0)


class Receiver:
    def __init__(self) -> None:
        self.requests: asyncio.Queue[httpx.Request] = asyncio.Queue()

    async def handle(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.put_nowait(request)
        return httpx.Response(200, json={})

    async def next(self, timeout: float = 5.0) -> httpx.Request:
        return await asyncio.wait_for(self.requests.get(), timeout)


@asynccontextmanager
async def simulator(
    receiver: Receiver | None = None, **config: Any
) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.MockTransport(receiver.handle) if receiver else None
    app = create_app(SimulatorConfig(**config), webhook_transport=transport)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://simulator"
    ) as client:
        yield client
        app.state.sim.receipts.cancel_pending()


async def send(client: httpx.AsyncClient, session: str = "default", chat: str = CHAT) -> Any:
    return await client.post(
        "/api/sendText", json={"session": session, "chatId": chat, "text": "Hi"}
    )


async def settled_receipts(client: httpx.AsyncClient, timeout: float = 5.0) -> dict[str, Any]:
    """The simulator's receipt log once nothing is pending any more."""
    deadline = time.monotonic() + timeout
    while True:
        log: dict[str, Any] = (await client.get("/_sim/receipts")).json()
        if log["pending"] == 0:
            return log
        assert time.monotonic() < deadline, log
        await asyncio.sleep(0.01)


def body_of(request: httpx.Request) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(request.content)
    return result


# WAHA Core


async def test_core_serves_only_default_and_checks_no_key() -> None:
    sessions = parse_sessions("default,other")
    async with simulator(tier=WahaTier.CORE, sessions=sessions, api_key="right") as client:
        version = (await client.get("/api/server/version")).json()
        other = await send(client, "other")
        check = await client.get("/api/contacts/check-exists?phone=919876543210&session=other")
        put = await client.put("/api/sessions/other", json={"config": {}})
        create = await client.post("/api/sessions", json={"name": "another"})
        read = await client.get("/api/sessions/other")
        default = await client.post(
            "/api/sendText",
            json={"session": "default", "chatId": CHAT, "text": "Hi"},
            headers={"X-Api-Key": "wrong"},
        )
    assert (version["tier"], version["version"]) == ("CORE", "2024.10.8")
    for refused in (other, check, put, create):
        assert refused.status_code == 422
        assert "WAHA Core support only 'default' session" in refused.json()["message"]
    assert read.status_code == 404
    assert default.status_code == 201  # the wrong key goes unnoticed


async def test_plus_checks_the_key_and_serves_any_session() -> None:
    async with simulator(sessions=parse_sessions("default,other"), api_key="right") as client:
        wrong = await client.get("/api/sessions/other", headers={"X-Api-Key": "wrong"})
        right = await client.get("/api/sessions/other", headers={"X-Api-Key": "right"})
    assert (wrong.status_code, right.status_code) == (401, 200)


# WAHA's wait for a session that is not WORKING


def test_the_real_profile_waits_five_seconds_and_the_fast_one_not_at_all() -> None:
    assert SimulatorConfig(profile=Profile.REAL).not_working_wait == 5.0
    assert SimulatorConfig().not_working_wait == 0.0
    assert SimulatorConfig(profile=Profile.REAL, not_working_wait_seconds=1).not_working_wait == 1
    assert config_from_args(["--profile", "real"], env={}).not_working_wait == 5.0
    env = {"SIM_NOT_WORKING_WAIT_SECONDS": "0.5", "SIM_WAHA_TIER": "core"}
    parsed = config_from_args([], env=env)
    assert (parsed.not_working_wait, parsed.tier) == (0.5, WahaTier.CORE)


async def test_a_session_not_working_is_waited_for_then_refused() -> None:
    async with simulator(not_working_wait_seconds=0.3) as client:
        await client.put("/_sim/sessions/default", json={"status": "STARTING"})
        for path in ("/api/default/auth/qr", "/api/contacts/check-exists?phone=91&session=default"):
            started = time.monotonic()
            answer = await client.get(path)
            assert answer.status_code == 422 and time.monotonic() - started >= 0.3
        started = time.monotonic()
        refused = await send(client)
        waited = time.monotonic() - started
    assert refused.status_code == 422 and waited >= 0.3
    assert refused.json()["status"] == "STARTING" and "statusCode" not in refused.json()


async def test_a_session_that_starts_working_during_the_wait_sends() -> None:
    async with simulator(not_working_wait_seconds=5) as client:
        await client.put("/_sim/sessions/default", json={"status": "STARTING"})
        pending = asyncio.ensure_future(send(client))
        await asyncio.sleep(0.1)
        await client.put("/_sim/sessions/default", json={"status": "WORKING"})
        answer = await asyncio.wait_for(pending, 2)
    assert answer.status_code == 201


# Numbers not on WhatsApp


async def test_check_exists_and_the_send_waha_accepts_anyway() -> None:
    receiver = Receiver()
    receipts = ReceiptConfig(webhook_url=HOOK, delay_ms=0)
    async with simulator(receiver, not_on_whatsapp=frozenset({UNKNOWN}), receipts=receipts) as c:
        known = await c.get("/api/contacts/check-exists?phone=919876543210&session=default")
        unknown = await c.get(f"/api/contacts/check-exists?phone={UNKNOWN}&session=default")
        sent = await send(c, chat=f"{UNKNOWN}@c.us")
        receipt = body_of(await receiver.next())
        log = await settled_receipts(c)
    assert log["posted"] == {"SERVER": 1}  # all it will ever get: no DEVICE, no READ
    assert known.json() == {"numberExists": True, "chatId": CHAT}
    assert unknown.json() == {"numberExists": False}
    assert sent.status_code == 201
    assert receipt["payload"]["ackName"] == "SERVER"


# GOWS


async def test_gows_answers_its_serialized_id_as_a_string() -> None:
    async with simulator(engine=Engine.GOWS) as client:
        answer = (await send(client)).json()
    assert answer["id"].startswith(f"true_{CHAT}_3EB0")
    assert answer["_data"]["Info"]["ID"] == answer["id"].rsplit("_", 1)[1]


# WAHA session webhooks


def hook(**extra: Any) -> dict[str, Any]:
    return {"url": HOOK, "events": ["message.ack", "session.status"], **extra}


async def test_plus_posts_receipts_to_the_session_webhook_signed_with_its_headers() -> None:
    receiver = Receiver()
    webhook = hook(hmac={"key": "k1"}, customHeaders=[{"name": "X-Account", "value": "a1"}])
    async with simulator(receiver, receipts=NO_WAIT) as client:
        put = await client.put("/api/sessions/default", json={"config": {"webhooks": [webhook]}})
        stored = (await client.get("/api/sessions/default")).json()["config"]
        await send(client)
        request = await receiver.next()
    assert put.status_code == 200 and stored == {"webhooks": [webhook]}
    assert str(request.url) == HOOK and request.headers["X-Account"] == "a1"
    signed = hmac.new(b"k1", request.content, hashlib.sha512).hexdigest()
    assert request.headers["X-Webhook-Hmac"] == signed
    assert body_of(request)["event"] == "message.ack"


async def test_core_ignores_the_webhooks_hmac_and_custom_headers() -> None:
    receiver = Receiver()
    webhook = hook(hmac={"key": "k1"}, customHeaders=[{"name": "X-Account", "value": "a1"}])
    async with simulator(receiver, receipts=NO_WAIT, tier=WahaTier.CORE) as client:
        await client.put("/api/sessions/default", json={"config": {"webhooks": [webhook]}})
        await client.put("/_sim/sessions/default", json={"status": "STARTING"})
        status = await receiver.next()
    assert "X-Webhook-Hmac" not in status.headers and "X-Account" not in status.headers
    assert body_of(status)["event"] == "session.status"
    assert body_of(status)["payload"] == {"name": "default", "status": "STARTING"}


async def test_a_webhook_waha_would_refuse_is_400() -> None:
    async with simulator() as client:
        bad = {"webhooks": [{"url": "nowhere", "events": ["message.ack"]}]}
        answer = await client.put("/api/sessions/default", json={"config": bad})
    assert answer.status_code == 400


async def test_a_session_is_created_once() -> None:
    async with simulator() as client:
        created = await client.post("/api/sessions", json={"name": "acc1"})
        again = await client.post("/api/sessions", json={"name": "acc1"})
    assert created.status_code == 201 and created.json()["status"] == "STOPPED"
    assert again.status_code == 422 and "already exists" in again.json()["message"]


# Evolution


EVO = {"apikey": "evo-key"}


async def test_evolution_version_create_and_adopt() -> None:
    async with simulator(api_key="evo-key", evolution_version="1.8.2") as client:
        welcome = (await client.get("/")).json()
        created = await client.post(
            "/instance/create", json={"instanceName": "acc1", "qrcode": True}, headers=EVO
        )
        again = await client.post("/instance/create", json={"instanceName": "acc1"}, headers=EVO)
        keyless = await client.post("/instance/create", json={"instanceName": "acc2"})
    assert welcome["version"] == "1.8.2"
    assert created.status_code == 201 and created.json()["instance"]["status"] == "close"
    assert again.status_code == 403
    assert again.json()["response"]["message"] == ['This name "acc1" is already in use.']
    assert keyless.status_code == 401


async def test_evolution_posts_receipts_to_the_instance_webhook_unsigned() -> None:
    receiver = Receiver()
    webhook = {
        "enabled": True,
        "url": EVO_HOOK,
        "headers": {"X-Herald-Webhook-Token": "t1"},
        "byEvents": False,
        "events": ["MESSAGES_UPDATE", "CONNECTION_UPDATE"],
    }
    async with simulator(receiver, receipts=NO_WAIT, sessions=parse_sessions("evo")) as client:
        set_answer = await client.post("/webhook/set/evo", json={"webhook": webhook})
        sent = await client.post(
            "/message/sendText/evo", json={"number": "919876543210", "text": "Hi"}
        )
        request = await receiver.next()
    assert set_answer.status_code == 201 and set_answer.json()["webhookByEvents"] is False
    assert str(request.url) == EVO_HOOK
    assert request.headers["X-Herald-Webhook-Token"] == "t1"
    assert "X-Webhook-Hmac" not in request.headers
    update = body_of(request)
    assert update["event"] == "messages.update" and update["instance"] == "evo"
    assert update["data"]["keyId"] == sent.json()["key"]["id"]
    assert update["data"]["status"] == "DELIVERY_ACK"


async def test_evolution_webhook_by_events_and_connection_update() -> None:
    receiver = Receiver()
    webhook = {"enabled": True, "url": EVO_HOOK, "byEvents": True, "events": ["CONNECTION_UPDATE"]}
    async with simulator(receiver, receipts=NO_WAIT, sessions=parse_sessions("evo")) as client:
        await client.post("/webhook/set/evo", json={"webhook": webhook})
        await client.put("/_sim/sessions/evo", json={"status": "STOPPED"})
        request = await receiver.next()
        bad = await client.post("/webhook/set/evo", json={"webhook": {"url": EVO_HOOK}})
    assert str(request.url) == f"{EVO_HOOK}/connection-update"
    assert body_of(request)["data"]["state"] == "close"
    assert bad.status_code == 400


async def test_evolution_whatsapp_numbers_open_and_closed() -> None:
    async with simulator(sessions=parse_sessions("evo"), not_on_whatsapp=frozenset({UNKNOWN})) as c:
        numbers = {"numbers": ["919876543210", UNKNOWN]}
        found = (await c.post("/chat/whatsappNumbers/evo", json=numbers)).json()
        refused = await c.post("/message/sendText/evo", json={"number": UNKNOWN, "text": "Hi"})
        await c.put("/_sim/sessions/evo", json={"status": "STOPPED"})
        closed = await c.post("/chat/whatsappNumbers/evo", json=numbers)
    assert [(n["number"], n["exists"]) for n in found] == [("919876543210", True), (UNKNOWN, False)]
    assert refused.status_code == 400
    assert refused.json()["response"]["message"][0]["exists"] is False
    assert closed.status_code == 400 and closed.json()["output"]["statusCode"] == 428


@pytest.mark.parametrize("version", ["2.3.6", "1.8.2"])
def test_evolution_version_option(version: str) -> None:
    config = config_from_args(["--evolution-version", version], env={})
    assert config.evolution_version == version


async def test_the_not_on_whatsapp_mode_makes_every_check_say_so() -> None:
    async with simulator(sessions=parse_sessions("default,evo")) as client:
        await client.put("/_sim/config", json={"mode": "permanent_invalid_number"})
        waha = await client.get("/api/contacts/check-exists?phone=919876543210&session=default")
        evo = await client.post("/chat/whatsappNumbers/evo", json={"numbers": ["919876543210"]})
    assert waha.json() == {"numberExists": False}
    assert [n["exists"] for n in evo.json()] == [False]


async def test_core_does_not_sign_even_the_global_webhook() -> None:
    receiver = Receiver()
    receipts = ReceiptConfig(webhook_url=HOOK, hmac_key="k1", delay_ms=0)
    async with simulator(receiver, receipts=receipts, tier=WahaTier.CORE) as client:
        await send(client)
        request = await receiver.next()
    assert "X-Webhook-Hmac" not in request.headers
    assert body_of(request)["environment"]["tier"] == "CORE"
