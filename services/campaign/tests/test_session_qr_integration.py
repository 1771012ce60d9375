"""``GET /api/accounts/{id}/sessions/{primary|fallback}/qr`` against the real Kafka broker and
MongoDB-wire server, with a gateway simulator process as the accounts' gateway."""

from __future__ import annotations

import base64
import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from herald_campaign.adapters.api_keys import register_api_key
from herald_core.attempt_plan import Route
from herald_devstack.processes import free_port
from herald_devstack.stack import lone_simulator
from herald_sender.gateway_directory import GatewayDirectory, SessionAddress
from herald_sender.session_polling import SessionHealthPoller

from .conftest import (
    OTHER_TENANT,
    OTHER_TOKEN,
    RunningService,
    campaign_settings,
    running_service,
)

pytestmark = pytest.mark.integration

GATEWAY_KEY = "qr-it-key"
PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with lone_simulator(
        tmp_path_factory.mktemp("qr-gateway"), GATEWAY_KEY, "--sessions", "default"
    ) as url:
        yield url


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "session_qr").model_copy(
        update={"gateway_timeout_seconds": 5.0}
    )
    async with running_service(settings) as svc:
        await register_api_key(svc.db, OTHER_TOKEN, OTHER_TENANT, "other tenant")
        yield svc


@pytest.fixture
async def sim(gateway: str) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(base_url=gateway, headers={"X-Api-Key": GATEWAY_KEY}) as client:
        yield client


async def put_session(sim: httpx.AsyncClient, name: str, status: str, engine: str) -> None:
    answer = await sim.put(f"/_sim/sessions/{name}", json={"status": status, "engine": engine})
    assert answer.status_code == 200, answer.text


async def add_account(
    api: httpx.AsyncClient,
    gateway: str,
    *,
    primary: dict[str, Any] | None = None,
    fallback: dict[str, Any] | None = None,
) -> tuple[str, str, str]:
    """An account on ``gateway``; returns its id and its sessions' names."""
    name = uuid.uuid4().hex[:8]
    body = {
        "phone": f"+9198{uuid.uuid4().int % 10**8:08d}",
        "primary": {
            "gateway": "waha",
            "baseUrl": gateway,
            "session": f"p-{name}",
            "apiKey": GATEWAY_KEY,
            **(primary or {}),
        },
        "fallback": {
            "gateway": "waha",
            "baseUrl": gateway,
            "session": f"f-{name}",
            "apiKey": GATEWAY_KEY,
            **(fallback or {}),
        },
    }
    created = await api.post("/api/accounts", json=body)
    assert created.status_code == 201, created.text
    account: dict[str, Any] = created.json()
    return account["id"], account["primary"]["session"], account["fallback"]["session"]


async def test_a_session_waiting_for_a_scan_shows_the_gateways_qr_code(
    service: RunningService, sim: httpx.AsyncClient, gateway: str
) -> None:
    account_id, primary, fallback = await add_account(service.client, gateway)
    await put_session(sim, primary, "SCAN_QR_CODE", "NOWEB")
    await put_session(sim, fallback, "SCAN_QR_CODE", "WEBJS")

    for engine, session in (("primary", primary), ("fallback", fallback)):
        answer = await service.client.get(f"/api/accounts/{account_id}/sessions/{engine}/qr")
        assert answer.status_code == 200, answer.text
        qr = answer.json()
        raw = (await sim.get(f"/api/{session}/auth/qr", params={"format": "raw"})).json()
        assert (qr["accountId"], qr["engine"], qr["session"]) == (account_id, engine, session)
        assert qr["mimetype"] == "image/png"
        assert base64.b64decode(qr["imageBase64"]).startswith(PNG_MAGIC)
        image = await sim.get(f"/api/{session}/auth/qr", headers={"Accept": "application/json"})
        assert qr["imageBase64"] == image.json()["data"]
        assert raw["value"]  # WAHA answers the image or the raw value; Herald asks the image
        assert qr["value"] is None
        assert GATEWAY_KEY not in answer.text


async def test_an_evolution_session_gives_its_qr_code_too(
    service: RunningService, sim: httpx.AsyncClient, gateway: str
) -> None:
    account_id, primary, _ = await add_account(
        service.client, gateway, primary={"gateway": "evolution"}
    )
    await put_session(sim, primary, "SCAN_QR_CODE", "NOWEB")
    answer = await service.client.get(f"/api/accounts/{account_id}/sessions/primary/qr")
    assert answer.status_code == 200, answer.text
    qr = answer.json()
    raw = (await sim.get(f"/api/{primary}/auth/qr", params={"format": "raw"})).json()
    assert qr["value"] == raw["value"]
    assert qr["mimetype"] == "image/png"
    assert base64.b64decode(qr["imageBase64"]).startswith(PNG_MAGIC)


async def test_a_paired_session_has_no_qr_code(
    service: RunningService, sim: httpx.AsyncClient, gateway: str
) -> None:
    account_id, primary, fallback = await add_account(service.client, gateway)
    await put_session(sim, primary, "WORKING", "NOWEB")
    await put_session(sim, fallback, "STOPPED", "WEBJS")

    paired = await service.client.get(f"/api/accounts/{account_id}/sessions/primary/qr")
    assert paired.status_code == 409, paired.text
    assert paired.json()["error"] == (
        f"the primary session {primary} is WORKING, not waiting for a QR code scan: "
        "it is paired already"
    )
    stopped = await service.client.get(f"/api/accounts/{account_id}/sessions/fallback/qr")
    assert stopped.status_code == 409, stopped.text
    assert "is STOPPED" in stopped.json()["error"]
    assert "start it on its gateway first" in stopped.json()["error"]


async def test_another_tenants_account_is_not_found(
    service: RunningService, sim: httpx.AsyncClient, gateway: str
) -> None:
    account_id, primary, _ = await add_account(service.client, gateway)
    await put_session(sim, primary, "SCAN_QR_CODE", "NOWEB")
    async with service.client_for(OTHER_TOKEN) as other:
        answer = await other.get(f"/api/accounts/{account_id}/sessions/primary/qr")
    assert answer.status_code == 404, answer.text
    assert answer.json() == {"error": "account not found"}
    unknown = await service.client.get("/api/accounts/acc_nobody/sessions/primary/qr")
    assert unknown.status_code == 404


async def test_only_primary_and_fallback_sessions_exist(
    service: RunningService, gateway: str
) -> None:
    account_id, _, _ = await add_account(service.client, gateway)
    answer = await service.client.get(f"/api/accounts/{account_id}/sessions/backup/qr")
    assert answer.status_code == 422, answer.text
    assert answer.json()["fields"][0]["field"] == "engine"


async def test_a_gateway_that_cannot_answer_is_a_clear_error(
    service: RunningService, gateway: str
) -> None:
    nobody = f"http://127.0.0.1:{free_port()}"
    account_id, _, _ = await add_account(service.client, gateway, primary={"baseUrl": nobody})
    unreachable = await service.client.get(f"/api/accounts/{account_id}/sessions/primary/qr")
    assert unreachable.status_code == 503, unreachable.text
    assert unreachable.json()["error"].startswith(
        f"the primary session's gateway at {nobody} is unreachable"
    )

    wrong_key = "sk-not-the-gateways-key"
    account_id, _, _ = await add_account(service.client, gateway, primary={"apiKey": wrong_key})
    refused = await service.client.get(f"/api/accounts/{account_id}/sessions/primary/qr")
    assert refused.status_code == 502, refused.text
    assert "answered with an error: gateway-unauthorized" in refused.json()["error"]
    assert wrong_key not in refused.text

    # A session the gateway does not know (never created on the simulator).
    account_id, _, _ = await add_account(service.client, gateway)
    unknown = await service.client.get(f"/api/accounts/{account_id}/sessions/primary/qr")
    assert unknown.status_code == 502, unknown.text
    assert "session-not-found" in unknown.json()["error"]


async def test_the_route_is_in_the_openapi_document(service: RunningService) -> None:
    document = (await service.client.get("/openapi.json")).json()
    route = document["paths"]["/api/accounts/{account_id}/sessions/{engine}/qr"]["get"]
    assert {"200", "404", "409", "502", "503", "504"} <= set(route["responses"])


async def test_the_account_shows_the_health_the_senders_found(
    service: RunningService, sim: httpx.AsyncClient, gateway: str
) -> None:
    account_id, primary, _ = await add_account(service.client, gateway)
    await put_session(sim, primary, "SCAN_QR_CODE", "NOWEB")
    before = (await service.client.get(f"/api/accounts/{account_id}")).json()
    assert before["primary"]["health"]["status"] == "UNKNOWN"

    # What the primary sender's poller does every HERALD_SESSION_POLL_SECONDS.
    directory = GatewayDirectory(
        service.db,
        route=Route.PRIMARY,
        default_account_id="default",
        default_session=SessionAddress("waha", gateway, "default", GATEWAY_KEY),
        timeout_seconds=5,
    )
    try:
        await SessionHealthPoller(service.db, directory, interval_seconds=30).poll_once()
    finally:
        await directory.close()

    after = (await service.client.get(f"/api/accounts/{account_id}")).json()
    health = after["primary"]["health"]
    assert health["status"] == "SCAN_QR_CODE"
    assert health["checkedAt"] is not None
    assert "QR code" in health["detail"]
    assert after["fallback"]["health"]["status"] == "UNKNOWN"  # the fallback sender's to check
