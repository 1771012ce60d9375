"""Herald's Evolution adapter against the real Evolution API 2.3.6 (offline: no instance ever
connects), and the simulator asked the same questions: where they differ, the simulator is
wrong."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from herald_devstack.waiting import eventually
from herald_gateways.evolution import EvolutionGateway
from herald_gateways.failures import classify_evolution_failure, switches_route
from herald_gateways.interface import GatewayError, GatewayInfo, MediaFile, SessionStatus
from herald_gateways.registry import WEBHOOK_EVENTS
from herald_simulator import SimulatorConfig, create_app
from herald_simulator.config import parse_sessions
from tests.real_gateways.conftest import RealGateway
from tests.real_gateways.contract_fixtures import exchange

pytestmark = pytest.mark.e2e

PHONE = "+919876543210"
TOKEN_HEADER = "X-Herald-Webhook-Token"


@pytest.fixture
async def evolution(real_evolution: RealGateway) -> AsyncIterator[EvolutionGateway]:
    gateway = EvolutionGateway(real_evolution.url, real_evolution.api_key, 10)
    yield gateway
    await gateway.close()


@pytest.fixture(scope="module")
async def instance(real_evolution: RealGateway) -> AsyncIterator[str]:
    """A new instance, created through the adapter (5 s offline), shared by this module's
    tests; deleted afterwards."""
    name = f"acc-{uuid.uuid4().hex[:8]}"
    creator = EvolutionGateway(real_evolution.url, real_evolution.api_key, 30)
    try:
        assert await creator.ensure_session(name) is True
    finally:
        await creator.close()
    yield name
    async with httpx.AsyncClient(
        base_url=real_evolution.url, headers={"apikey": real_evolution.api_key}, timeout=15
    ) as client:
        await client.delete(f"/instance/logout/{name}")
        await client.delete(f"/instance/delete/{name}")


async def test_version_and_an_instance_created_then_adopted(
    evolution: EvolutionGateway, instance: str
) -> None:
    info = await evolution.server_info()
    adopted = await evolution.ensure_session(instance)
    health = await evolution.session_health(instance)
    assert info == GatewayInfo("evolution", "2.3.6", None, None)
    assert adopted is False  # 403 "already in use": the existing one is used
    assert health.status in (
        SessionStatus.STOPPED,
        SessionStatus.STARTING,
        SessionStatus.SCAN_QR_CODE,
    )
    assert health.gateway_status in ("close", "connecting")


async def test_its_real_errors_are_classified(
    evolution: EvolutionGateway, instance: str, real_evolution: RealGateway
) -> None:
    with pytest.raises(GatewayError) as sending:
        await evolution.send_text(session=instance, phone=PHONE, text="Hi", message_id="m1")
    with pytest.raises(GatewayError) as checking:
        await evolution.check_numbers(instance, [PHONE])
    with pytest.raises(GatewayError) as unknown:
        await evolution.session_health("nobody-here")
    wrong = EvolutionGateway(real_evolution.url, "wrong-key", 10)
    try:
        with pytest.raises(GatewayError) as unauthorized:
            await wrong.session_health(instance)
    finally:
        await wrong.close()
    # 500 Connection Closed; the raw Boom 428 of whatsappNumbers: not connected, switch engine
    assert (sending.value.reason, sending.value.retryable) == ("session-not-connected", True)
    assert (checking.value.reason, checking.value.retryable) == ("session-not-connected", True)
    assert unknown.value.reason == "session-not-found"
    assert unauthorized.value.reason == "gateway-unauthorized"


PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
"""A 1x1 PNG: Evolution converts images with sharp before it uploads them."""


async def test_media_is_refused_like_text_on_a_closed_instance(
    evolution: EvolutionGateway, instance: str
) -> None:
    image = MediaFile("image/png", "offer.png", data_base64=PNG)
    unnamed = MediaFile("application/pdf", data_base64="JVBERi0xLjQK")
    on_localhost = MediaFile("application/pdf", "a.pdf", url="http://localhost:9000/a.pdf")
    with pytest.raises(GatewayError) as sending:
        await evolution.send_media(
            session=instance, phone=PHONE, media=image, caption="Hi", message_id="m2"
        )
    with pytest.raises(GatewayError) as named:  # the adapter names it: past the 400
        await evolution.send_media(
            session=instance, phone=PHONE, media=unnamed, caption="Hi", message_id="m3"
        )
    with pytest.raises(GatewayError) as refused:
        await evolution.send_media(
            session=instance, phone=PHONE, media=on_localhost, caption="", message_id="m4"
        )
    assert (sending.value.reason, sending.value.retryable) == ("session-not-connected", True)
    assert switches_route(sending.value)
    assert named.value.reason == "session-not-connected"
    assert (refused.value.reason, refused.value.retryable) == ("body-rejected", False)


@pytest.mark.parametrize(
    "name",
    [
        "send_media_not_connected",
        "send_media_not_a_url",
        "send_media_unnamed_document",
        "send_media_schema",
        "send_media_url_unreachable",
    ],
)
async def test_the_media_fixtures_are_what_evolution_answers(
    real_evolution: RealGateway, instance: str, name: str
) -> None:
    found = exchange("evolution-2.3.6", name)
    path = found.request["path"].replace("acc1", instance)
    async with httpx.AsyncClient(
        base_url=real_evolution.url, headers={"apikey": real_evolution.api_key}, timeout=15
    ) as real:
        answer = await real.post(path, json=found.request["body"])
    assert answer.status_code == found.status, answer.text
    if name == "send_media_url_unreachable":  # the resolver's words differ between hosts
        [said] = answer.json()["response"]["message"]
        assert "example.com" in said or "fetch failed" in said, answer.text
    else:
        assert answer.json() == found.body
    assert classify_evolution_failure(answer.status_code, answer.text).reason == found.reason


async def test_connection_updates_come_to_the_url_herald_set_with_its_token(
    evolution: EvolutionGateway, instance: str, real_evolution: RealGateway
) -> None:
    path = f"/api/webhooks/evolution/token-{instance}"
    await evolution.configure_webhook(
        instance,
        url=real_evolution.hook_url(path),
        events=WEBHOOK_EVENTS["evolution"],
        headers={TOKEN_HEADER: "t0k"},
        hmac_key=None,
    )
    async with httpx.AsyncClient(
        base_url=real_evolution.url, headers={"apikey": real_evolution.api_key}
    ) as client:
        stored = (await client.get(f"/webhook/find/{instance}")).json()
        await client.get(f"/instance/connect/{instance}")  # it tries to connect, and says so

    async def hooks() -> list[Any]:
        return real_evolution.receiver.on(path)

    [first, *_] = await eventually(hooks, bool, timeout=30, what="a connection.update")
    assert (stored["webhookByEvents"], stored["enabled"]) == (False, True)
    assert set(stored["events"]) == set(WEBHOOK_EVENTS["evolution"])
    body = first.json()
    assert (body["event"], body["instance"]) == ("connection.update", instance)
    assert first.headers[TOKEN_HEADER.lower()] == "t0k"
    assert "x-webhook-hmac" not in first.headers  # Evolution signs nothing


# The simulator, asked what the real Evolution was asked


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("POST", "/message/sendText/{i}", {"number": "919876543210", "text": "Hi"}),
        ("POST", "/message/sendText/{i}", {"number": "919876543210", "text": " "}),
        (
            "POST",
            "/message/sendMedia/{i}",
            {"number": "919876543210", "mediatype": "image", "media": PNG, "fileName": "a.png"},
        ),
        (
            "POST",
            "/message/sendMedia/{i}",
            {"number": "919876543210", "mediatype": "document", "media": "JVBERi0xLjQK"},
        ),
        (
            "POST",
            "/message/sendMedia/{i}",
            {"number": "919876543210", "mediatype": "video", "media": "http://minio:9000/v.mp4"},
        ),
        ("POST", "/message/sendMedia/{i}", {"number": 5, "mediatype": "ptv"}),
        ("POST", "/chat/whatsappNumbers/{i}", {"numbers": ["919876543210"]}),
        ("GET", "/instance/connectionState/nobody-here", None),
        ("POST", "/instance/create", {"instanceName": "{i}", "integration": "WHATSAPP-BAILEYS"}),
        ("POST", "/webhook/set/{i}", {"webhook": {"url": "http://127.0.0.1:4000/x"}}),
    ],
)
async def test_the_simulator_answers_what_evolution_answers(
    real_evolution: RealGateway, instance: str, method: str, path: str, body: Any
) -> None:
    path = path.replace("{i}", instance)
    if isinstance(body, dict):
        body = {
            k: (v.replace("{i}", instance) if isinstance(v, str) else v) for k, v in body.items()
        }
    key = {"apikey": real_evolution.api_key}
    async with httpx.AsyncClient(base_url=real_evolution.url, headers=key, timeout=15) as real:
        expected = await real.request(method, path, json=body)
    app = create_app(
        SimulatorConfig(api_key=real_evolution.api_key, sessions=parse_sessions(instance))
    )
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://simulator", headers=key
    ) as simulated:
        control = {"X-Api-Key": real_evolution.api_key}  # the simulator's own control API
        stopped = await simulated.put(
            f"/_sim/sessions/{instance}", json={"status": "STOPPED"}, headers=control
        )
        assert stopped.status_code == 200, stopped.text
        got = await simulated.request(method, path, json=body)
    assert got.status_code == expected.status_code, (expected.text, got.text)
    assert set(got.json()) == set(expected.json()), (expected.text, got.text)
