"""The Evolution API adapter against the simulator over HTTP: sends, health, QR, errors."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator

import pytest

from herald_devstack.processes import free_port
from herald_gateways.evolution import EvolutionGateway
from herald_gateways.interface import GatewayError, SessionStatus
from tests.gateways.conftest import API_KEY, Simulator

INSTANCE = "evo"
EVO_KEY = {"apikey": API_KEY}
PHONE = "+919876543210"
PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"


@pytest.fixture
async def evolution(simulator: Simulator) -> AsyncIterator[EvolutionGateway]:
    gateway = EvolutionGateway(simulator.url, API_KEY, timeout_seconds=5)
    yield gateway
    await gateway.close()


def herald_id() -> str:
    return f"m-{uuid.uuid4().hex[:12]}"


async def send(gateway: EvolutionGateway, message_id: str, text: str = "Hi") -> str | None:
    receipt = await gateway.send_text(
        session=INSTANCE, phone=PHONE, text=text, message_id=message_id
    )
    return receipt.gateway_message_id


async def test_send_gives_key_id(evolution: EvolutionGateway, simulator: Simulator) -> None:
    message_id = herald_id()
    gateway_id = await send(evolution, message_id)
    [record] = await simulator.sends_for(message_id)
    assert record["outcome"] == "accepted"
    assert record["chatId"] == "919876543210@s.whatsapp.net"
    assert gateway_id == record["gatewayMessageId"]


async def test_answer_without_id_is_a_send_without_id(
    evolution: EvolutionGateway, simulator: Simulator
) -> None:
    await simulator.put_config(mode="accepted_without_id")
    message_id = herald_id()
    assert await send(evolution, message_id) is None
    assert [r["outcome"] for r in await simulator.sends_for(message_id)] == ["accepted"]


@pytest.mark.parametrize(
    ("simulated", "expected"),
    [
        ("WORKING", SessionStatus.WORKING),  # open
        ("STARTING", SessionStatus.STARTING),  # connecting, no QR yet
        ("SCAN_QR_CODE", SessionStatus.SCAN_QR_CODE),  # connecting, QR held
        ("STOPPED", SessionStatus.STOPPED),  # close
        ("FAILED", SessionStatus.STOPPED),  # close: Evolution does not tell them apart
    ],
)
async def test_session_health_normalised(
    evolution: EvolutionGateway, simulator: Simulator, simulated: str, expected: SessionStatus
) -> None:
    await simulator.put_session(INSTANCE, simulated)
    health = await evolution.session_health(INSTANCE)
    assert health.status is expected
    assert health.connected is (expected is SessionStatus.WORKING)
    assert await evolution.session_status(INSTANCE) == expected.value


async def test_login_qr(evolution: EvolutionGateway, simulator: Simulator) -> None:
    assert await evolution.login_qr(INSTANCE) is None  # open: paired already
    await simulator.put_session(INSTANCE, "SCAN_QR_CODE")
    qr = await evolution.login_qr(INSTANCE)
    assert qr is not None and qr.value is not None and qr.value.startswith("2@")
    assert qr.mimetype == "image/png" and qr.image_base64 is not None
    assert base64.b64decode(qr.image_base64).startswith(PNG_SIGNATURE)


async def test_login_qr_on_a_closed_instance_starts_pairing(
    evolution: EvolutionGateway, simulator: Simulator
) -> None:
    await simulator.put_session(INSTANCE, "STOPPED")
    assert await evolution.login_qr(INSTANCE) is not None
    assert (await evolution.session_health(INSTANCE)).status is SessionStatus.SCAN_QR_CODE


@pytest.mark.parametrize(
    ("mode", "reason", "retryable"),
    [
        ("fail_5xx", "gateway-error", True),
        ("rate_limit", "rate-limited", True),
        ("permanent_invalid_number", "invalid-recipient", False),
    ],
)
async def test_fault_answers_are_classified(
    evolution: EvolutionGateway, simulator: Simulator, mode: str, reason: str, retryable: bool
) -> None:
    await simulator.put_config(mode=mode)
    with pytest.raises(GatewayError) as caught:
        await send(evolution, herald_id())
    assert (caught.value.reason, caught.value.retryable) == (reason, retryable)


@pytest.mark.parametrize("status", ["STOPPED", "STARTING", "SCAN_QR_CODE"])
async def test_instance_not_open_is_session_not_connected(
    evolution: EvolutionGateway, simulator: Simulator, status: str
) -> None:
    await simulator.put_session(INSTANCE, status)
    with pytest.raises(GatewayError) as caught:
        await send(evolution, herald_id())
    assert (caught.value.reason, caught.value.retryable) == ("session-not-connected", True)


async def test_rejected_body_unknown_instance_and_wrong_key(
    evolution: EvolutionGateway, simulator: Simulator
) -> None:
    with pytest.raises(GatewayError) as empty_text:
        await send(evolution, herald_id(), text="   ")  # Evolution checks: "Text is required"
    with pytest.raises(GatewayError) as unknown:
        await evolution.session_health("nobody")
    wrong = EvolutionGateway(simulator.url, "wrong-key", timeout_seconds=5)
    try:
        with pytest.raises(GatewayError) as unauthorized:
            await send(wrong, herald_id())
    finally:
        await wrong.close()
    assert (empty_text.value.reason, empty_text.value.retryable) == ("body-rejected", False)
    assert (unknown.value.reason, unknown.value.retryable) == ("session-not-found", True)
    assert (unauthorized.value.reason, unauthorized.value.retryable) == (
        "gateway-unauthorized",
        True,
    )


async def test_timeout_and_unreachable_gateway(simulator: Simulator) -> None:
    await simulator.put_config(mode="timeout", timeoutSeconds=2)
    impatient = EvolutionGateway(simulator.url, API_KEY, timeout_seconds=0.3)
    nobody = EvolutionGateway(f"http://127.0.0.1:{free_port()}", API_KEY, timeout_seconds=2)
    try:
        with pytest.raises(GatewayError) as timed_out:
            await send(impatient, herald_id())
        with pytest.raises(GatewayError) as refused:
            await send(nobody, herald_id())
    finally:
        await impatient.close()
        await nobody.close()
    assert (timed_out.value.reason, timed_out.value.retryable) == ("gateway-timeout", True)
    assert (refused.value.reason, refused.value.retryable) == ("gateway-unreachable", True)


async def test_instance_created_or_adopted_and_its_webhook_set(
    evolution: EvolutionGateway, simulator: Simulator
) -> None:
    info = await evolution.server_info()
    created = await evolution.ensure_session("acc-new")
    adopted = await evolution.ensure_session("acc-new")
    await evolution.configure_webhook(
        "acc-new",
        url="http://herald.test/api/webhooks/evolution/t1",
        events=["MESSAGES_UPDATE", "CONNECTION_UPDATE"],
        headers={"X-Herald-Webhook-Token": "t1"},
        hmac_key=None,
    )
    stored = (await simulator.control.get("/webhook/find/acc-new", headers=EVO_KEY)).json()
    assert (info.product, info.version) == ("evolution", "2.3.6")
    assert (created, adopted) == (True, False)
    assert stored["url"] == "http://herald.test/api/webhooks/evolution/t1"
    assert stored["headers"] == {"X-Herald-Webhook-Token": "t1"}
    assert stored["webhookByEvents"] is False


async def test_numbers_checked_at_once_and_a_closed_instance_cannot_tell(
    evolution: EvolutionGateway, simulator: Simulator
) -> None:
    await simulator.put_config(notOnWhatsapp=["919800000000"])
    found = await evolution.check_numbers(INSTANCE, [PHONE, "+919800000000"])
    with pytest.raises(GatewayError) as refused:
        await evolution.send_text(
            session=INSTANCE, phone="+919800000000", text="Hi", message_id=herald_id()
        )
    await simulator.put_session(INSTANCE, "STOPPED")
    with pytest.raises(GatewayError) as closed:
        await evolution.check_numbers(INSTANCE, [PHONE])
    assert found == {PHONE: True, "+919800000000": False}
    assert (refused.value.reason, refused.value.retryable) == ("invalid-recipient", False)
    assert (closed.value.reason, closed.value.retryable) == ("session-not-connected", True)
