"""The WAHA adapter against the simulator over HTTP: both engines' answers, health, QR, errors."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator

import pytest

from herald_devstack.processes import free_port
from herald_gateways.interface import GatewayError, SessionStatus
from herald_gateways.waha import WahaGateway
from tests.gateways.conftest import API_KEY, Simulator

PHONE = "+919876543210"
CHAT = "919876543210@c.us"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def waha(simulator: Simulator) -> AsyncIterator[WahaGateway]:
    gateway = WahaGateway(simulator.url, API_KEY, timeout_seconds=5)
    yield gateway
    await gateway.close()


def herald_id() -> str:
    return f"m-{uuid.uuid4().hex[:12]}"


async def send(gateway: WahaGateway, session: str, message_id: str, text: str = "Hi") -> str | None:
    receipt = await gateway.send_text(
        session=session, phone=PHONE, text=text, message_id=message_id
    )
    return receipt.gateway_message_id


async def test_noweb_answer_gives_baileys_key_id(waha: WahaGateway, simulator: Simulator) -> None:
    message_id = herald_id()
    gateway_id = await send(waha, "noweb", message_id)
    [record] = await simulator.sends_for(message_id)
    assert record["outcome"] == "accepted" and record["chatId"] == CHAT
    assert gateway_id == record["gatewayMessageId"]  # key.id


async def test_webjs_answer_gives_the_bare_id_of_its_serialized_one(
    waha: WahaGateway, simulator: Simulator
) -> None:
    message_id = herald_id()
    gateway_id = await send(waha, "webjs", message_id)
    [record] = await simulator.sends_for(message_id)
    assert record["serializedId"] == f"true_{CHAT}_{gateway_id}"
    assert gateway_id == record["gatewayMessageId"]


async def test_gows_answer_gives_the_bare_id(waha: WahaGateway, simulator: Simulator) -> None:
    await simulator.control.put("/_sim/sessions/gows", json={"engine": "GOWS"})
    message_id = herald_id()
    gateway_id = await send(waha, "gows", message_id)
    [record] = await simulator.sends_for(message_id)
    assert gateway_id == record["gatewayMessageId"]


@pytest.mark.parametrize("session", ["noweb", "webjs"])
async def test_answer_without_id_is_a_send_without_id(
    waha: WahaGateway, simulator: Simulator, session: str
) -> None:
    await simulator.put_config(mode="accepted_without_id", session=session)
    message_id = herald_id()
    assert await send(waha, session, message_id) is None
    [record] = await simulator.sends_for(message_id)
    assert record["outcome"] == "accepted"


@pytest.mark.parametrize("status", list(SessionStatus))
async def test_session_health_in_each_status(
    waha: WahaGateway, simulator: Simulator, status: SessionStatus
) -> None:
    await simulator.put_session("webjs", status.value)
    health = await waha.session_health("webjs")
    assert (health.status, health.gateway_status, health.engine) == (status, status.value, "WEBJS")
    assert health.connected is (status is SessionStatus.WORKING)
    assert (health.me_id is not None) is health.connected
    assert await waha.session_status("webjs") == status.value


async def test_login_qr_only_while_waiting_for_a_scan(
    waha: WahaGateway, simulator: Simulator
) -> None:
    assert await waha.login_qr("noweb") is None  # WORKING: paired already
    await simulator.put_session("noweb", "SCAN_QR_CODE")
    qr = await waha.login_qr("noweb")
    assert qr is not None and qr.mimetype == "image/png" and qr.image_base64 is not None
    assert base64.b64decode(qr.image_base64).startswith(PNG_SIGNATURE)


@pytest.mark.parametrize(
    ("mode", "reason", "retryable"),
    [
        ("fail_5xx", "gateway-error", True),
        ("rate_limit", "rate-limited", True),
        ("bad_request", "body-rejected", False),
    ],
)
async def test_fault_answers_are_classified(
    waha: WahaGateway, simulator: Simulator, mode: str, reason: str, retryable: bool
) -> None:
    await simulator.put_config(mode=mode)
    with pytest.raises(GatewayError) as caught:
        await send(waha, "noweb", herald_id())
    assert (caught.value.reason, caught.value.retryable) == (reason, retryable)


async def test_session_not_working_is_session_not_connected(
    waha: WahaGateway, simulator: Simulator
) -> None:
    await simulator.put_session("noweb", "SCAN_QR_CODE")
    with pytest.raises(GatewayError) as caught:
        await send(waha, "noweb", herald_id())
    assert (caught.value.reason, caught.value.retryable) == ("session-not-connected", True)


async def test_a_number_not_on_whatsapp_is_sent_and_the_check_tells(
    waha: WahaGateway, simulator: Simulator
) -> None:
    await simulator.put_config(notOnWhatsapp=["919800000000"])
    sent = await waha.send_text(
        session="noweb", phone="+919800000000", text="Hi", message_id=herald_id()
    )
    found = await waha.check_numbers("noweb", [PHONE, "+919800000000"])
    assert sent.gateway_message_id is not None  # WAHA does not check: 201
    assert found == {PHONE: True, "+919800000000": False}


async def test_stopped_session_refuses_sends_and_checks_as_not_connected(
    waha: WahaGateway, simulator: Simulator
) -> None:
    await simulator.put_session("noweb", "STOPPED")
    with pytest.raises(GatewayError) as sending:
        await send(waha, "noweb", herald_id())
    with pytest.raises(GatewayError) as checking:
        await waha.check_numbers("noweb", [PHONE])
    assert {sending.value.reason, checking.value.reason} == {"session-not-connected"}


async def test_server_info_session_and_webhook(waha: WahaGateway, simulator: Simulator) -> None:
    info = await waha.server_info()
    created = await waha.ensure_session("brand-new")
    adopted = await waha.ensure_session("brand-new")
    await waha.configure_webhook(
        "noweb",
        url="http://herald.test/api/webhooks/waha/t1",
        events=["message.ack", "session.status"],
        headers={"X-Account": "a1"},
        hmac_key="k1",
    )
    session = (await simulator.control.get("/api/sessions/noweb")).json()
    assert (info.product, info.tier, info.version) == ("waha", "PLUS", "2024.10.8")
    assert (created, adopted) == (True, False)
    assert session["config"]["webhooks"] == [
        {
            "url": "http://herald.test/api/webhooks/waha/t1",
            "events": ["message.ack", "session.status"],
            "customHeaders": [{"name": "X-Account", "value": "a1"}],
            "hmac": {"key": "k1"},
        }
    ]


async def test_a_session_that_has_the_webhook_already_is_not_restarted(
    waha: WahaGateway, simulator: Simulator
) -> None:
    """WAHA stops and starts a running session on every PUT of its config: the webhook is set
    once, and asking again with the same settings changes (and restarts) nothing."""

    async def restarts() -> int:
        sessions = (await simulator.control.get("/_sim/sessions")).json()
        [found] = [s for s in sessions if s["name"] == "webjs"]
        return int(found["restarts"])

    async def set_webhook(url: str) -> None:
        await waha.configure_webhook(
            "webjs", url=url, events=["message.ack"], headers={}, hmac_key=None
        )

    before = await restarts()
    await set_webhook("http://herald.test/api/webhooks/waha/t2")
    assert await restarts() == before + 1
    await set_webhook("http://herald.test/api/webhooks/waha/t2")
    assert await restarts() == before + 1
    await set_webhook("http://herald.test/other")
    assert await restarts() == before + 2


async def test_unknown_session_and_wrong_key(waha: WahaGateway, simulator: Simulator) -> None:
    with pytest.raises(GatewayError) as unknown:
        await waha.session_health("nobody")
    wrong = WahaGateway(simulator.url, "wrong-key", timeout_seconds=5)
    try:
        with pytest.raises(GatewayError) as unauthorized:
            await send(wrong, "noweb", herald_id())
    finally:
        await wrong.close()
    assert (unknown.value.reason, unknown.value.retryable) == ("session-not-found", True)
    assert (unauthorized.value.reason, unauthorized.value.retryable) == (
        "gateway-unauthorized",
        True,
    )


async def test_timeout_and_unreachable_gateway(simulator: Simulator) -> None:
    await simulator.put_config(mode="timeout", timeoutSeconds=2)
    impatient = WahaGateway(simulator.url, API_KEY, timeout_seconds=0.3)
    nobody = WahaGateway(f"http://127.0.0.1:{free_port()}", API_KEY, timeout_seconds=2)
    try:
        with pytest.raises(GatewayError) as timed_out:
            await send(impatient, "noweb", herald_id())
        with pytest.raises(GatewayError) as refused:
            await send(nobody, "noweb", herald_id())
    finally:
        await impatient.close()
        await nobody.close()
    assert (timed_out.value.reason, timed_out.value.retryable) == ("gateway-timeout", True)
    assert (refused.value.reason, refused.value.retryable) == ("gateway-unreachable", True)
