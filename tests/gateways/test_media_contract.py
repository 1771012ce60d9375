"""Media sends (``Gateway.send_media``) against the simulator over HTTP: WAHA Plus's three
routes and Evolution's sendMedia give the bare id and are recorded with what was sent; faults
and session states classify as a text's; WAHA Core refuses media as the real Core does."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from herald_devstack.stack import lone_simulator
from herald_gateways.evolution import EvolutionGateway
from herald_gateways.failures import switches_route
from herald_gateways.interface import GatewayError, MediaFile
from herald_gateways.waha import WahaGateway
from tests.gateways.conftest import API_KEY, Simulator

PHONE = "+919876543210"
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAIAAACQd1PeAAAADElEQVR4nGP4z8AAAAMBAQDJ/pLvAAAAAElFTkSuQmCC"
IMAGE = MediaFile("image/png", "offer.png", data_base64=PNG)
VIDEO = MediaFile("video/mp4", "offer.mp4", url="https://cdn.example.com/offer.mp4")
DOCUMENT = MediaFile("application/pdf", None, url="https://cdn.example.com/offer.pdf")


def herald_id() -> str:
    return f"m-{uuid.uuid4().hex[:12]}"


@pytest.fixture
async def waha(simulator: Simulator) -> AsyncIterator[WahaGateway]:
    gateway = WahaGateway(simulator.url, API_KEY, timeout_seconds=5)
    yield gateway
    await gateway.close()


@pytest.fixture
async def evolution(simulator: Simulator) -> AsyncIterator[EvolutionGateway]:
    gateway = EvolutionGateway(simulator.url, API_KEY, timeout_seconds=5)
    yield gateway
    await gateway.close()


@pytest.mark.parametrize("session", ["noweb", "webjs"])
@pytest.mark.parametrize(
    ("media", "recorded"),
    [
        (
            IMAGE,
            {"kind": "image", "mimetype": "image/png", "filename": "offer.png", "from": "data"},
        ),
        (VIDEO, {"kind": "video", "mimetype": "video/mp4", "filename": "offer.mp4", "from": "url"}),
        (
            DOCUMENT,
            {"kind": "document", "mimetype": "application/pdf", "filename": None, "from": "url"},
        ),
    ],
)
async def test_waha_plus_media_gives_the_bare_id_and_is_recorded(
    waha: WahaGateway,
    simulator: Simulator,
    session: str,
    media: MediaFile,
    recorded: dict[str, str | None],
) -> None:
    message_id = herald_id()
    receipt = await waha.send_media(
        session=session, phone=PHONE, media=media, caption="Our offer", message_id=message_id
    )
    [record] = await simulator.sends_for(message_id)
    assert record["outcome"] == "accepted" and record["text"] == "Our offer"
    assert receipt.gateway_message_id == record["gatewayMessageId"]
    assert record["media"] == recorded


async def test_evolution_media_gives_key_id_and_is_recorded(
    evolution: EvolutionGateway, simulator: Simulator
) -> None:
    message_id = herald_id()
    receipt = await evolution.send_media(
        session="evo", phone=PHONE, media=DOCUMENT, caption="Our offer", message_id=message_id
    )
    [record] = await simulator.sends_for(message_id)
    assert record["outcome"] == "accepted"
    assert receipt.gateway_message_id == record["gatewayMessageId"]
    assert record["media"] == {
        "kind": "document",
        "mimetype": "application/pdf",
        "filename": "document.pdf",  # named by the adapter
        "from": "url",
    }


@pytest.mark.parametrize(
    ("mode", "reason", "retryable"),
    [
        ("fail_5xx", "gateway-error", True),
        ("rate_limit", "rate-limited", True),
        ("permanent_invalid_number", None, False),  # WAHA sends it (201), Evolution refuses
    ],
)
async def test_media_faults_classify_as_a_texts(
    waha: WahaGateway,
    evolution: EvolutionGateway,
    simulator: Simulator,
    mode: str,
    reason: str | None,
    retryable: bool,
) -> None:
    await simulator.put_config(mode=mode)
    with pytest.raises(GatewayError) as on_evolution:
        await evolution.send_media(
            session="evo", phone=PHONE, media=IMAGE, caption="", message_id=herald_id()
        )
    if reason is None:
        sent = await waha.send_media(
            session="noweb", phone=PHONE, media=IMAGE, caption="", message_id=herald_id()
        )
        assert sent.gateway_message_id is not None
        assert (on_evolution.value.reason, on_evolution.value.retryable) == (
            "invalid-recipient",
            False,
        )
        return
    with pytest.raises(GatewayError) as on_waha:
        await waha.send_media(
            session="noweb", phone=PHONE, media=IMAGE, caption="", message_id=herald_id()
        )
    for raised in (on_waha, on_evolution):
        assert (raised.value.reason, raised.value.retryable) == (reason, retryable)


async def test_media_to_a_session_not_connected_switches_route(
    waha: WahaGateway, evolution: EvolutionGateway, simulator: Simulator
) -> None:
    await simulator.put_session("noweb", "SCAN_QR_CODE")
    await simulator.put_session("evo", "STOPPED")
    with pytest.raises(GatewayError) as on_waha:
        await waha.send_media(
            session="noweb", phone=PHONE, media=VIDEO, caption="Hi", message_id=herald_id()
        )
    with pytest.raises(GatewayError) as on_evolution:
        await evolution.send_media(
            session="evo", phone=PHONE, media=VIDEO, caption="Hi", message_id=herald_id()
        )
    for raised in (on_waha, on_evolution):
        assert raised.value.reason == "session-not-connected" and switches_route(raised.value)


async def test_evolution_refuses_a_url_without_a_tld_for_good(
    evolution: EvolutionGateway,
) -> None:
    local = MediaFile("application/pdf", "a.pdf", url="http://minio:9000/a.pdf")
    with pytest.raises(GatewayError) as raised:
        await evolution.send_media(
            session="evo", phone=PHONE, media=local, caption="", message_id=herald_id()
        )
    assert (raised.value.reason, raised.value.retryable) == ("body-rejected", False)
    assert "must be a url or base64" in raised.value.detail


@pytest.fixture(scope="module")
def core_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with lone_simulator(
        tmp_path_factory.mktemp("waha-core-media"),
        API_KEY,
        *("--waha-tier", "CORE", "--sessions", "default"),
    ) as url:
        yield url


@pytest.mark.parametrize("media", [IMAGE, VIDEO, DOCUMENT], ids=lambda m: m.kind)
async def test_waha_core_cannot_send_media_another_route_may(
    core_url: str, media: MediaFile
) -> None:
    message_id = herald_id()
    gateway = WahaGateway(core_url, None, timeout_seconds=5)
    try:
        with pytest.raises(GatewayError) as raised:
            await gateway.send_media(
                session="default", phone=PHONE, media=media, caption="Hi", message_id=message_id
            )
    finally:
        await gateway.close()
    async with httpx.AsyncClient(base_url=core_url, headers={"X-Api-Key": API_KEY}) as control:
        [record] = (await control.get(f"/_sim/sends/{message_id}")).json()
    assert (raised.value.reason, raised.value.retryable) == ("not-supported-by-gateway", False)
    assert switches_route(raised.value)
    assert (record["outcome"], record["statusCode"]) == ("not_supported", 422)
    assert record["media"]["kind"] == media.kind
