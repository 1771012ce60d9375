"""A new account's gateways are asked what they are before it is stored (real Kafka broker and
MongoDB-wire server, a gateway simulator process answering as WAHA Core 2024.10 and as
Evolution API 1.8.2 do): Evolution v1 refuses the account naming the session's field; WAHA Core
with a session not named ``default`` is made, with warnings; a gateway that cannot be asked
refuses nothing."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest

from herald_devstack.stack import lone_simulator

from .conftest import RunningService, campaign_settings, running_service

pytestmark = pytest.mark.integration

GATEWAY_KEY = "vetting-it-key"


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with lone_simulator(
        tmp_path_factory.mktemp("vetting-gateway"),
        GATEWAY_KEY,
        *("--waha-tier", "CORE", "--evolution-version", "1.8.2", "--sessions", "default"),
    ) as url:
        yield url


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "vetting")
    async with running_service(settings) as svc:
        yield svc


def waha(url: str, session: str) -> dict[str, Any]:
    return {"gateway": "waha", "baseUrl": url, "session": session, "apiKey": GATEWAY_KEY}


def account(primary: dict[str, Any], fallback: dict[str, Any]) -> dict[str, Any]:
    phone = f"+9198{uuid.uuid4().int % 10**8:08d}"
    return {"phone": phone, "primary": primary, "fallback": fallback}


async def test_evolution_v1_is_refused_naming_the_field(
    service: RunningService, gateway: str
) -> None:
    evolution = {"gateway": "evolution", "baseUrl": gateway, "session": "sales", "apiKey": "k"}
    body = account(evolution, waha(gateway, "default"))
    response = await service.client.post("/api/accounts", json=body)
    assert response.status_code == 422, response.text
    [field] = response.json()["fields"]
    assert field["field"] == "primary.gateway"
    assert "1.8.2" in field["message"] and "v2" in field["message"]
    stored = await service.db["accounts"].count_documents({"phone": body["phone"]})
    assert stored == 0, "a refused account is not stored"


async def test_waha_core_with_another_session_is_made_with_warnings(
    service: RunningService, gateway: str
) -> None:
    response = await service.client.post(
        "/api/accounts", json=account(waha(gateway, "sales"), waha(gateway, "default"))
    )
    assert response.status_code == 201, response.text
    warnings = response.json()["warnings"]
    assert any(
        w.startswith("primary: WAHA Core") and "only the session 'default'" in w for w in warnings
    ), warnings
    # The fallback's session is `default`: only the API key warning concerns it.
    fallback = [w for w in warnings if w.startswith("fallback:")]
    assert fallback and all("session 'default'" not in w for w in fallback), warnings
    assert any("does not check its API key" in w for w in fallback), warnings


async def test_a_gateway_that_cannot_be_asked_refuses_nothing(service: RunningService) -> None:
    nowhere = "http://127.0.0.1:9"
    response = await service.client.post(
        "/api/accounts", json=account(waha(nowhere, "a"), waha(nowhere, "b"))
    )
    assert response.status_code == 201, response.text
    warnings = response.json()["warnings"]
    assert len(warnings) == 2 and all("was not checked" in w for w in warnings), warnings
