"""The WAHA adapter against the simulator as WAHA Core with WAHA's real timing: only the
session ``default``, no API key check, and the 5-second wait before a 422 on a session that is
not WORKING, which the adapter must outlast (else a timeout, which does not switch engines)."""

from __future__ import annotations

import time
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from herald_devstack.stack import lone_simulator
from herald_gateways.failures import switches_route
from herald_gateways.interface import GatewayError, GatewayInfo
from herald_gateways.waha import MIN_TIMEOUT_SECONDS, NOT_WORKING_WAIT_SECONDS, WahaGateway
from tests.gateways.conftest import API_KEY

PHONE = "+919876543210"


@pytest.fixture(scope="module")
def core_url(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with lone_simulator(
        tmp_path_factory.mktemp("waha-core"),
        API_KEY,
        *("--waha-tier", "CORE", "--profile", "real", "--sessions", "default"),
    ) as url:
        yield url


@pytest.fixture
async def core(core_url: str) -> AsyncIterator[WahaGateway]:
    async with httpx.AsyncClient(base_url=core_url, headers={"X-Api-Key": API_KEY}) as control:
        assert (await control.post("/_sim/reset")).status_code == 200
    # A wrong key: Core does not check it, so nothing below notices.
    gateway = WahaGateway(core_url, "not-the-key", timeout_seconds=MIN_TIMEOUT_SECONDS)
    yield gateway
    await gateway.close()


async def test_core_says_what_it_is(core: WahaGateway) -> None:
    info = await core.server_info()
    assert info == GatewayInfo("waha", "2024.10.8", "CORE", "NOWEB")
    assert info.single_session_only


async def test_another_session_is_a_misconfiguration_not_a_transient_failure(
    core: WahaGateway,
) -> None:
    started = time.monotonic()
    with pytest.raises(GatewayError) as sending:
        await core.send_text(session="primary", phone=PHONE, text="Hi", message_id="m1")
    with pytest.raises(GatewayError) as health:
        await core.session_health("primary")
    with pytest.raises(GatewayError) as creating:
        await core.ensure_session("primary")
    assert time.monotonic() - started < NOT_WORKING_WAIT_SECONDS  # Core refuses at once
    for raised in (sending, health, creating):
        assert raised.value.reason == "gateway-misconfigured", raised.value
        assert not raised.value.retryable and not switches_route(raised.value)
    assert "'default'" in health.value.detail
    assert await core.ensure_session("default") is False  # Core's one session, adopted


async def test_a_session_not_working_is_refused_after_wahas_five_seconds(
    core: WahaGateway, core_url: str
) -> None:
    async with httpx.AsyncClient(base_url=core_url, headers={"X-Api-Key": API_KEY}) as control:
        await control.put("/_sim/sessions/default", json={"status": "STARTING"})
    started = time.monotonic()
    with pytest.raises(GatewayError) as raised:
        await core.send_text(session="default", phone=PHONE, text="Hi", message_id="m2")
    waited = time.monotonic() - started
    assert NOT_WORKING_WAIT_SECONDS <= waited < MIN_TIMEOUT_SECONDS
    assert (raised.value.reason, raised.value.retryable) == ("session-not-connected", True)
    assert switches_route(raised.value)  # the next attempt goes to the other engine
