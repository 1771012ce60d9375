"""Herald's WAHA adapter against the real WAHA Core 2024.10.8 (offline: its session never
becomes WORKING, which is exactly the state whose answers matter here), and the simulator
asked the same questions: where they differ, the simulator is wrong."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from herald_devstack.waiting import eventually
from herald_gateways.failures import switches_route
from herald_gateways.interface import GatewayError, GatewayInfo, MediaFile, SessionStatus
from herald_gateways.registry import WEBHOOK_EVENTS
from herald_gateways.waha import MIN_TIMEOUT_SECONDS, NOT_WORKING_WAIT_SECONDS, WahaGateway
from herald_simulator import SimulatorConfig, create_app
from herald_simulator.config import WahaTier, parse_sessions
from tests.real_gateways.conftest import RealGateway
from tests.real_gateways.contract_fixtures import exchange

pytestmark = pytest.mark.e2e

PHONE = "+919876543210"


@pytest.fixture
async def waha(real_waha: RealGateway) -> AsyncIterator[WahaGateway]:
    gateway = WahaGateway(real_waha.url, real_waha.api_key, MIN_TIMEOUT_SECONDS)
    yield gateway
    await gateway.close()


@pytest.fixture
async def control(real_waha: RealGateway) -> AsyncIterator[httpx.AsyncClient]:
    """WAHA's own API, for what Herald does not do itself (start and stop the session)."""
    async with httpx.AsyncClient(base_url=real_waha.url, timeout=15) as client:
        yield client


async def test_version_tier_and_health(waha: WahaGateway, real_waha: RealGateway) -> None:
    info = await waha.server_info()
    health = await waha.session_health("default")
    wrong_key = WahaGateway(real_waha.url, "not-the-key", MIN_TIMEOUT_SECONDS)
    try:
        unnoticed = await wrong_key.server_info()
    finally:
        await wrong_key.close()
    assert (info.product, info.version, info.tier, info.engine) == (
        "waha",
        "2024.10.8",
        "CORE",
        "NOWEB",
    )
    assert info.single_session_only
    assert health.status in (SessionStatus.STOPPED, SessionStatus.STARTING)
    assert unnoticed == info  # Core checks no API key: a wrong one goes unnoticed


async def test_core_refuses_another_session_as_a_misconfiguration(waha: WahaGateway) -> None:
    started = time.monotonic()
    with pytest.raises(GatewayError) as sending:
        await waha.send_text(session="primary", phone=PHONE, text="Hi", message_id="m1")
    with pytest.raises(GatewayError) as health:
        await waha.session_health("primary")
    with pytest.raises(GatewayError) as creating:
        await waha.ensure_session("primary")
    with pytest.raises(GatewayError) as webhook:
        await waha.configure_webhook(
            "primary",
            url="http://127.0.0.1:4000/x",
            events=["message.ack"],
            headers={},
            hmac_key=None,
        )
    assert time.monotonic() - started < NOT_WORKING_WAIT_SECONDS
    for refused in (sending, health, creating):
        assert (refused.value.reason, refused.value.retryable) == ("gateway-misconfigured", False)
        assert not switches_route(refused.value)
    assert webhook.value.reason == "webhook-setup-refused"
    assert await waha.ensure_session("default") is False  # always there: adopted


async def test_a_stopped_session_is_not_connected(
    waha: WahaGateway, control: httpx.AsyncClient
) -> None:
    await control.post("/api/sessions/default/stop")
    with pytest.raises(GatewayError) as sending:
        await waha.send_text(session="default", phone=PHONE, text="Hi", message_id="m2")
    with pytest.raises(GatewayError) as checking:
        await waha.check_numbers("default", [PHONE])
    assert (sending.value.reason, sending.value.retryable) == ("session-not-connected", True)
    assert checking.value.reason == "session-not-connected"


async def test_session_status_webhooks_come_to_the_url_herald_set_unsigned(
    waha: WahaGateway, control: httpx.AsyncClient, real_waha: RealGateway
) -> None:
    path = "/api/webhooks/waha/token-waha-1"
    await control.post("/api/sessions/default/stop")
    kept = await control.put(
        "/api/sessions/default", json={"config": {"metadata": {"owner": "ops"}}}
    )
    assert kept.status_code == 200, kept.text
    await waha.configure_webhook(
        "default",
        url=real_waha.hook_url(path),
        events=WEBHOOK_EVENTS["waha"],
        headers={"X-Account": "a1"},
        hmac_key="a-key-core-ignores",
    )
    config = (await control.get("/api/sessions/default")).json()["config"]
    started = await control.post("/api/sessions/default/start")
    assert started.status_code == 201, started.text

    hooks = await eventually(
        lambda: _hooks(real_waha, path), bool, timeout=30, what="a session.status webhook"
    )
    first = hooks[0]
    assert config["metadata"] == {"owner": "ops"}  # the session's other settings kept
    assert first.json()["event"] == "session.status"
    assert first.json()["session"] == "default"
    assert first.headers["user-agent"] == "WAHA/2024.10.8"
    assert "x-webhook-hmac" not in first.headers  # Core signs nothing…
    assert "x-account" not in first.headers  # …and sends no custom header


async def test_a_session_not_working_is_refused_after_five_seconds_not_timed_out(
    waha: WahaGateway, control: httpx.AsyncClient
) -> None:
    status = (await control.get("/api/sessions/default")).json()["status"]
    if status == "STOPPED":
        assert (await control.post("/api/sessions/default/start")).status_code == 201
    started = time.monotonic()
    with pytest.raises(GatewayError) as sending:
        await waha.send_text(session="default", phone=PHONE, text="Hi", message_id="m3")
    waited = time.monotonic() - started
    with pytest.raises(GatewayError) as checking:
        await waha.check_numbers("default", [PHONE])
    assert NOT_WORKING_WAIT_SECONDS - 0.5 <= waited < MIN_TIMEOUT_SECONDS
    assert (sending.value.reason, sending.value.retryable) == ("session-not-connected", True)
    assert switches_route(sending.value)
    assert checking.value.reason == "session-not-connected"
    assert await waha.login_qr("default") is None  # STARTING: no QR (offline, never one)


IMAGE = MediaFile("image/jpeg", "offer.jpg", url="https://example.com/offer.jpg")


async def test_media_waits_for_a_working_session_like_text_and_core_refuses_other_names(
    waha: WahaGateway, control: httpx.AsyncClient
) -> None:
    status = (await control.get("/api/sessions/default")).json()["status"]
    if status == "STOPPED":
        assert (await control.post("/api/sessions/default/start")).status_code == 201
    started = time.monotonic()
    with pytest.raises(GatewayError) as waiting:
        await waha.send_media(
            session="default", phone=PHONE, media=IMAGE, caption="Hi", message_id="m4"
        )
    waited = time.monotonic() - started
    with pytest.raises(GatewayError) as other:
        await waha.send_media(
            session="primary", phone=PHONE, media=IMAGE, caption="Hi", message_id="m5"
        )
    assert NOT_WORKING_WAIT_SECONDS - 0.5 <= waited < MIN_TIMEOUT_SECONDS
    assert (waiting.value.reason, switches_route(waiting.value)) == ("session-not-connected", True)
    assert other.value.reason == "gateway-misconfigured"


@pytest.mark.parametrize("name", ["send_image_core", "send_file_core", "send_video_core"])
async def test_core_refuses_media_on_a_working_session_as_not_supported(
    real_waha_past_the_gate: RealGateway, name: str
) -> None:
    """Past the WORKING gate, Core's engines answer every media route with a 422 of their
    own; the fixture holds exactly that answer, the adapter classifies it, the simulator as
    Core gives it too."""
    found = exchange("waha-2024.10.8-noweb", name)
    async with httpx.AsyncClient(base_url=real_waha_past_the_gate.url, timeout=15) as real:
        answer = await real.post(found.request["path"], json=found.request["body"])
    gateway = WahaGateway(real_waha_past_the_gate.url, None, MIN_TIMEOUT_SECONDS)
    file = found.request["body"]["file"]
    media = MediaFile(file["mimetype"], file["filename"], file.get("url"), file.get("data"))
    try:
        with pytest.raises(GatewayError) as sending:
            await gateway.send_media(
                session="default", phone=PHONE, media=media, caption="Hi", message_id="m6"
            )
    finally:
        await gateway.close()
    app = create_app(SimulatorConfig(tier=WahaTier.CORE, sessions=parse_sessions("default")))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://simulator"
    ) as simulated:
        got = await simulated.post(found.request["path"], json=found.request["body"])
    assert (answer.status_code, answer.json()) == (found.status, found.body)
    assert (sending.value.reason, sending.value.retryable) == ("not-supported-by-gateway", False)
    assert switches_route(sending.value)  # another route (Plus, Evolution) may send it
    assert (got.status_code, got.json()) == (found.status, found.body)


async def _hooks(real_waha: RealGateway, path: str) -> list[Any]:
    return real_waha.receiver.on(path)


# The simulator, asked what the real WAHA was asked

PROBES: list[tuple[str, str, Any]] = [
    ("POST", "/api/sendText", {"session": "primary", "chatId": "919876543210@c.us", "text": "x"}),
    ("GET", "/api/sessions/primary", None),
    ("PUT", "/api/sessions/primary", {"config": {}}),
    ("POST", "/api/sessions", {"name": "primary"}),
    ("POST", "/api/sessions", {"name": "default"}),
    ("GET", "/api/contacts/check-exists?phone=919876543210&session=primary", None),
    ("POST", "/api/sendText", b"{bad"),
    (
        "POST",
        "/api/sendImage",
        {"session": "primary", "chatId": "919876543210@c.us", "file": {}, "caption": "x"},
    ),
    ("POST", "/api/sendVideo", {"session": "primary"}),
    ("POST", "/api/sendFile", b"{bad"),
]


@pytest.mark.parametrize(("method", "path", "body"), PROBES)
async def test_the_simulator_as_core_answers_what_waha_core_answers(
    real_waha: RealGateway, method: str, path: str, body: Any
) -> None:
    kw: dict[str, Any] = (
        {"content": body, "headers": {"Content-Type": "application/json"}}
        if isinstance(body, bytes)
        else {"json": body}
    )
    async with httpx.AsyncClient(base_url=real_waha.url, timeout=15) as real:
        expected = await real.request(method, path, **kw)
    app = create_app(SimulatorConfig(tier=WahaTier.CORE, sessions=parse_sessions("default")))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://simulator"
    ) as simulated:
        got = await simulated.request(method, path, **kw)
    assert got.status_code == expected.status_code, (expected.text, got.text)
    assert set(got.json()) == set(expected.json()), (expected.text, got.text)
    message = expected.json().get("message")
    if expected.status_code != 400 and isinstance(message, str):  # 400: node's JSON parser
        first_words = " ".join(message.split()[:4])
        assert got.json()["message"].startswith(first_words), (expected.text, got.text)


async def test_the_version_answers_agree(real_waha: RealGateway) -> None:
    async with httpx.AsyncClient(base_url=real_waha.url) as real:
        expected = (await real.get("/api/server/version")).json()
    app = create_app(SimulatorConfig(tier=WahaTier.CORE))
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://simulator"
    ) as simulated:
        got = (await simulated.get("/api/server/version")).json()
    assert set(got) == set(expected)
    assert GatewayInfo("waha", got["version"], got["tier"], got["engine"]) == GatewayInfo(
        "waha", expected["version"], expected["tier"], expected["engine"]
    )
