"""Delivery receipts: WAHA ``message.ack`` webhooks of accepted sends, posted in process to a
receiver that records them (httpx.MockTransport)."""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest

from herald_simulator import SimulatorConfig, create_app, receipts
from herald_simulator.config import Engine
from herald_simulator.main import config_from_args
from herald_simulator.receipts import AckTarget, ReceiptConfig, message_ack_event, updated_config

CHAT = "919876543210@c.us"
HOOK = "http://herald.test/api/webhooks/waha"
KEY = "sim-hmac-key"


@dataclass
class Receiver:
    """The webhook's other end: records each request, answers with ``statuses`` in turn
    (200 once they run out)."""

    statuses: list[int] = field(default_factory=list)
    requests: asyncio.Queue[httpx.Request] = field(default_factory=asyncio.Queue)

    async def handle(self, request: httpx.Request) -> httpx.Response:
        await request.aread()
        self.requests.put_nowait(request)
        return httpx.Response(self.statuses.pop(0) if self.statuses else 200, json={})

    async def next(self, timeout: float = 5.0) -> httpx.Request:
        return await asyncio.wait_for(self.requests.get(), timeout)

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)


@asynccontextmanager
async def simulator(receiver: Receiver, **config: Any) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(SimulatorConfig(**config), webhook_transport=receiver.transport())
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://simulator"
    ) as client:
        yield client
        app.state.sim.receipts.cancel_pending()


async def send(client: httpx.AsyncClient, text: str = "Hello") -> httpx.Response:
    return await client.post(
        "/api/sendText", json={"session": "default", "chatId": CHAT, "text": text}
    )


async def eventually(
    probe: Callable[[], Awaitable[dict[str, Any]]],
    accept: Callable[[dict[str, Any]], bool],
    timeout: float = 5.0,
) -> dict[str, Any]:
    deadline = time.monotonic() + timeout
    while True:
        result = await probe()
        if accept(result):
            return result
        assert time.monotonic() < deadline, f"not reached; last: {result}"
        await asyncio.sleep(0.01)


async def receipt_log(client: httpx.AsyncClient) -> dict[str, Any]:
    response = await client.get("/_sim/receipts")
    assert response.status_code == 200
    result: dict[str, Any] = response.json()
    return result


def ack_of(request: httpx.Request) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(request.content)
    return body


# Receipts of accepted sends


async def test_no_webhook_url_no_receipts() -> None:
    receiver = Receiver()
    async with simulator(receiver) as client:
        assert (await send(client)).status_code == 201
        config = (await client.get("/_sim/config")).json()
        log = await receipt_log(client)
    assert config["receiptsActive"] is False and config["webhookUrl"] is None
    assert log["scheduled"] == 0
    assert receiver.requests.empty()


async def test_an_accepted_send_gets_a_signed_delivered_receipt() -> None:
    receiver = Receiver()
    startup = ReceiptConfig(webhook_url=HOOK, hmac_key=KEY, delay_ms=0)
    async with simulator(receiver, receipts=startup) as client:
        sent = (await send(client)).json()
        request = await receiver.next()
        log = await eventually(lambda: receipt_log(client), lambda r: r["pending"] == 0)

    assert str(request.url) == HOOK
    expected = hmac.new(KEY.encode(), request.content, hashlib.sha512).hexdigest()
    assert request.headers["X-Webhook-Hmac"] == expected
    assert request.headers["X-Webhook-Hmac-Algorithm"] == "sha512"
    ack = ack_of(request)
    assert (ack["event"], ack["session"], ack["engine"]) == ("message.ack", "default", "NOWEB")
    assert ack["payload"] == {
        "id": f"true_{CHAT}_{sent['key']['id']}",
        "from": CHAT,
        "fromMe": True,
        "ack": 2,
        "ackName": "DEVICE",
    }
    assert "id" not in ack and "timestamp" not in ack  # WAHA 2024.10.8 posts neither
    assert request.headers["User-Agent"] == "WAHA/2024.10.8"
    assert log == {
        "scheduled": 1,
        "pending": 0,
        "posted": {"DEVICE": 1},
        "byStatusCode": {"200": 1},
        "failed": 0,
        "lastError": None,
    }


async def test_read_receipts_follow_delivered_ones_webjs_shape() -> None:
    receiver = Receiver()
    startup = ReceiptConfig(webhook_url=HOOK, hmac_key=KEY, delay_ms=0, read_delay_ms=0)
    async with simulator(receiver, receipts=startup, engine=Engine.WEBJS) as client:
        sent = (await send(client)).json()
        delivered, read = ack_of(await receiver.next()), ack_of(await receiver.next())
    assert [delivered["payload"]["ackName"], read["payload"]["ackName"]] == ["DEVICE", "READ"]
    assert [delivered["payload"]["ack"], read["payload"]["ack"]] == [2, 3]
    assert read["payload"]["id"] == sent["id"]["_serialized"]
    assert (read["payload"]["from"], read["payload"]["to"]) == (sent["from"], CHAT)


async def test_receipts_wait_their_delay() -> None:
    receiver = Receiver()
    startup = ReceiptConfig(webhook_url=HOOK, delay_ms=200, read_delay_ms=200)
    async with simulator(receiver, receipts=startup) as client:
        started = time.monotonic()
        await send(client)
        await receiver.next()
        delivered_after = time.monotonic() - started
        await receiver.next()
        read_after = time.monotonic() - started
    assert delivered_after >= 0.2
    assert read_after >= 0.4


async def test_without_a_key_receipts_are_unsigned() -> None:
    receiver = Receiver()
    async with simulator(receiver, receipts=ReceiptConfig(webhook_url=HOOK, delay_ms=0)) as client:
        await send(client)
        request = await receiver.next()
    assert "X-Webhook-Hmac" not in request.headers


async def test_failed_sends_get_no_receipts_and_delivered_timeouts_do() -> None:
    receiver = Receiver()
    async with simulator(receiver, receipts=ReceiptConfig(webhook_url=HOOK, delay_ms=0)) as client:
        await client.put("/_sim/config", json={"mode": "fail_5xx"})
        assert (await send(client)).status_code == 500
        await client.put("/_sim/config", json={"mode": "bad_request"})
        assert (await send(client)).status_code == 400
        assert (await receipt_log(client))["scheduled"] == 0
        await client.put(
            "/_sim/config", json={"mode": "timeout", "timeoutSeconds": 0, "timeoutDelivers": True}
        )
        assert (await send(client)).status_code == 504
        request = await receiver.next()
        sends = (await client.get("/_sim/sends?byMessage=false")).json()
    assert sends["byOutcome"]["timeout_delivered"] == 1
    assert ack_of(request)["payload"]["ackName"] == "DEVICE"


async def test_a_receipt_the_receiver_fails_is_tried_again(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(receipts, "RETRY_PAUSE_SECONDS", 0.0)
    receiver = Receiver(statuses=[503, 500])
    async with simulator(receiver, receipts=ReceiptConfig(webhook_url=HOOK, delay_ms=0)) as client:
        await send(client)
        attempts = [await receiver.next() for _ in range(3)]
        log = await eventually(lambda: receipt_log(client), lambda r: r["pending"] == 0)
    assert len({a.content for a in attempts}) == 1
    assert (log["posted"], log["byStatusCode"], log["failed"]) == ({"DEVICE": 1}, {"200": 1}, 0)


async def test_a_receipt_refused_with_4xx_is_not_tried_again_and_one_never_taken_is_failed(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(receipts, "RETRY_PAUSE_SECONDS", 0.0)
    receiver = Receiver(statuses=[401, 500, 500, 500])
    async with simulator(receiver, receipts=ReceiptConfig(webhook_url=HOOK, delay_ms=0)) as client:
        await send(client)
        await receiver.next()
        refused = await eventually(lambda: receipt_log(client), lambda r: r["pending"] == 0)
        await send(client)
        for _ in range(3):
            await receiver.next()
        failed = await eventually(lambda: receipt_log(client), lambda r: r["pending"] == 0)
    assert refused["byStatusCode"] == {"401": 1} and refused["failed"] == 0
    assert refused["lastError"].startswith("401")
    assert failed["failed"] == 1 and failed["lastError"].startswith("500")
    assert receiver.requests.empty()


# Runtime configuration


async def test_receipts_are_configured_at_runtime() -> None:
    receiver = Receiver()
    async with simulator(receiver) as client:
        changed = await client.put(
            "/_sim/config",
            json={"webhookUrl": HOOK, "webhookHmacKey": KEY, "receiptDelayMs": 0},
        )
        assert changed.status_code == 200
        assert changed.json()["receiptsActive"] is True
        assert changed.json()["webhookHmacKeySet"] is True
        await send(client, "first")
        first = await receiver.next()

        off = await client.put("/_sim/config", json={"receipts": False})
        assert off.json()["receiptsActive"] is False
        await send(client, "second")
        assert (await receipt_log(client))["scheduled"] == 1

        back = await client.put("/_sim/config", json={"receipts": True, "readReceiptDelayMs": 0})
        assert back.json()["readReceiptDelayMs"] == 0
        await send(client, "third")
        names = [ack_of(await receiver.next())["payload"]["ackName"] for _ in range(2)]

        reset = (await client.delete("/_sim/config")).json()
    assert "X-Webhook-Hmac" in first.headers
    assert names == ["DEVICE", "READ"]
    assert (reset["receiptsActive"], reset["webhookUrl"], reset["receiptDelayMs"]) == (
        False,
        None,
        1000.0,
    )


@pytest.mark.parametrize(
    ("change", "field_name"),
    [
        ({"receipts": "yes"}, "receipts"),
        ({"webhookUrl": "ftp://herald.test/"}, "webhookUrl"),
        ({"webhookUrl": 3}, "webhookUrl"),
        ({"receiptDelayMs": -1}, "receiptDelayMs"),
        ({"receiptDelayMs": None}, "receiptDelayMs"),
        ({"readReceiptDelayMs": "soon"}, "readReceiptDelayMs"),
        ({"webhookHmacKey": 12}, "webhookHmacKey"),
        ({"receiptDelayMs": 5, "failureRate": 2}, "failureRate"),
    ],
)
async def test_a_bad_receipt_change_is_400_and_changes_nothing(
    change: dict[str, Any], field_name: str
) -> None:
    async with simulator(Receiver()) as client:
        before = (await client.get("/_sim/config")).json()
        response = await client.put("/_sim/config", json=change)
        after = (await client.get("/_sim/config")).json()
    assert response.status_code == 400
    assert response.json()["field"] == field_name
    assert after == before


async def test_reset_forgets_the_receipts_posted() -> None:
    receiver = Receiver()
    async with simulator(receiver, receipts=ReceiptConfig(webhook_url=HOOK, delay_ms=0)) as client:
        await send(client)
        await receiver.next()
        assert (await client.post("/_sim/reset")).status_code == 200
        log = await receipt_log(client)
    assert (log["scheduled"], log["posted"]) == (0, {})


# Pure parts


def test_the_ack_event_carries_wahas_serialized_id() -> None:
    target = AckTarget("s1", "NOWEB", "15550000001@c.us", CHAT, "3EB0AA")
    event = message_ack_event(target, 3, tier="CORE")
    assert event["payload"]["id"] == f"true_{CHAT}_3EB0AA"
    assert (event["payload"]["ack"], event["payload"]["ackName"]) == (3, "READ")
    assert event["environment"]["tier"] == "CORE"
    assert event["me"]["id"] == "15550000001@c.us"


def test_a_gows_receipt_may_name_the_chat_by_its_lid() -> None:
    target = AckTarget("s1", "GOWS", "15550000001@c.us", CHAT, "3EB0AA")
    payload = message_ack_event(target, 2)["payload"]
    assert payload["id"].startswith("true_") and payload["id"].endswith("@lid_3EB0AA")
    assert payload["from"].endswith("@lid") and CHAT not in payload["id"]


def test_updated_config_keeps_what_is_not_named() -> None:
    current = ReceiptConfig(webhook_url=HOOK, hmac_key=KEY, delay_ms=5, read_delay_ms=7)
    assert updated_config(current, {}) == current
    changed = updated_config(current, {"readReceiptDelayMs": None, "webhookHmacKey": ""})
    assert changed == ReceiptConfig(webhook_url=HOOK, hmac_key=None, delay_ms=5)


@pytest.mark.parametrize(
    "bad",
    [
        {"webhook_url": "herald.test/hook"},
        {"delay_ms": -1.0},
        {"read_delay_ms": float("nan")},
    ],
)
def test_receipt_config_refuses_bad_values(bad: dict[str, Any]) -> None:
    with pytest.raises(ValueError):
        ReceiptConfig(**bad)


def test_receipt_options_and_env() -> None:
    env = {"SIM_WEBHOOK_URL": HOOK, "SIM_WEBHOOK_HMAC_KEY": KEY, "SIM_RECEIPT_DELAY_MS": "250"}
    config = config_from_args(["--read-receipt-delay-ms", "500"], env=env).receipts
    assert config == ReceiptConfig(webhook_url=HOOK, hmac_key=KEY, delay_ms=250, read_delay_ms=500)
    assert config.active
    off = config_from_args(["--receipts", "OFF"], env=env).receipts
    assert off.enabled is False and not off.active
    defaults = config_from_args([], env={}).receipts
    assert defaults == ReceiptConfig() and not defaults.active


@pytest.mark.parametrize(
    "argv",
    [
        ["--receipt-delay-ms", "-5"],
        ["--read-receipt-delay-ms", "x"],
        ["--receipts", "maybe"],
        ["--webhook-url", "not-a-url"],
    ],
)
def test_bad_receipt_options_exit_2(argv: list[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        config_from_args(argv, env={})
    assert exc.value.code == 2
