"""``/api/campaigns/{id}/contacts/verify`` against the real Kafka broker and MongoDB-wire
server, with a gateway simulator process told which numbers WhatsApp does not know: the
campaign's contacts are checked in the background, through the tenant's account or the
deployment's gateway, the answers remembered per tenant for the senders; another tenant sees
nothing; a gateway that cannot answer fails the verification with its reason."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest

from herald_campaign.adapters.api_keys import register_api_key
from herald_devstack.stack import lone_simulator
from herald_devstack.waiting import eventually

from .conftest import (
    OTHER_TENANT,
    OTHER_TOKEN,
    TENANT,
    RunningService,
    campaign_settings,
    create_campaign,
    running_service,
)

pytestmark = pytest.mark.integration

GATEWAY_KEY = "verify-it-key"
MISSING = ("+919800000101", "+919800000102")
PRESENT = ("+919800000111", "+919800000112", "+919800000113")


@pytest.fixture(scope="module")
def gateway(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    missing = ",".join(phone.lstrip("+") for phone in MISSING)
    with lone_simulator(
        tmp_path_factory.mktemp("verify-gateway"),
        GATEWAY_KEY,
        *("--sessions", "default,sales", "--not-on-whatsapp", missing),
    ) as url:
        yield url


@pytest.fixture(scope="module")
async def service(
    kafka_bootstrap: str, mongodb_url: str, gateway: str
) -> AsyncIterator[RunningService]:
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "verify").model_copy(
        # The deployment's gateway, for tenants without accounts; pacing on, its gaps short.
        update={"gateway_url": gateway, "gateway_api_key": GATEWAY_KEY, "pace_scale": 0.001}
    )
    async with running_service(settings) as svc:
        await register_api_key(svc.db, OTHER_TOKEN, OTHER_TENANT, "other tenant")
        yield svc


async def campaign_of(api: httpx.AsyncClient, phones: tuple[str, ...]) -> str:
    campaign_id: str = (await create_campaign(api, delayType="fast"))["id"]
    added = await api.post(
        f"/api/campaigns/{campaign_id}/contacts", json={"contacts": [{"phone": p} for p in phones]}
    )
    assert added.status_code == 200 and added.json()["accepted"] == len(phones), added.text
    return campaign_id


async def verified(api: httpx.AsyncClient, campaign_id: str) -> dict[str, Any]:
    started = await api.post(f"/api/campaigns/{campaign_id}/contacts/verify")
    assert started.status_code == 202, started.text

    async def progress() -> dict[str, Any]:
        response = await api.get(f"/api/campaigns/{campaign_id}/contacts/verify")
        assert response.status_code == 200, response.text
        body: dict[str, Any] = response.json()
        return body

    return await eventually(
        progress, lambda p: p["status"] != "running", timeout=60, what="verification ended"
    )


async def test_contacts_are_checked_through_the_deployment_gateway_and_remembered(
    service: RunningService,
) -> None:
    campaign_id = await campaign_of(service.client, (*PRESENT, *MISSING))
    result = await verified(service.client, campaign_id)
    assert result["status"] == "done", result
    assert (result["contacts"], result["checked"]) == (5, 5)
    assert (result["onWhatsapp"], result["notOnWhatsapp"]) == (3, 2)
    remembered = {
        doc["phone"]: doc["onWhatsapp"]
        async for doc in service.db["number_checks"].find({"tenantId": TENANT})
    }
    assert {p: remembered.get(p) for p in (*PRESENT, *MISSING)} == {
        **dict.fromkeys(PRESENT, True),
        **dict.fromkeys(MISSING, False),
    }

    # Again: every answer is remembered; the counts are the same.
    again = await verified(service.client, campaign_id)
    assert (again["status"], again["checked"], again["notOnWhatsapp"]) == ("done", 5, 2)


async def test_another_tenant_sees_no_verification(service: RunningService) -> None:
    campaign_id = await campaign_of(service.client, PRESENT[:1])
    async with service.client_for(OTHER_TOKEN) as other:
        assert (await other.get(f"/api/campaigns/{campaign_id}/contacts/verify")).status_code == 404
        assert (
            await other.post(f"/api/campaigns/{campaign_id}/contacts/verify")
        ).status_code == 404
    # Its own campaign, never verified: 404 too.
    fresh = await campaign_of(service.client, PRESENT[:1])
    assert (await service.client.get(f"/api/campaigns/{fresh}/contacts/verify")).status_code == 404


async def test_a_tenant_with_an_evolution_account_checks_through_it(
    service: RunningService, gateway: str
) -> None:
    tenant = f"evo-{uuid.uuid4().hex[:6]}"
    token = f"{tenant}-token"
    await register_api_key(service.db, token, tenant, tenant)
    async with service.client_for(token) as api:
        created = await api.post(
            "/api/accounts",
            json={
                "phone": "+919800000199",
                "primary": {
                    "gateway": "evolution",
                    "baseUrl": gateway,
                    "session": "sales",
                    "apiKey": GATEWAY_KEY,
                },
                "fallback": {
                    "gateway": "waha",
                    "baseUrl": gateway,
                    "session": "default",
                    "apiKey": GATEWAY_KEY,
                },
            },
        )
        assert created.status_code == 201, created.text
        campaign_id = await campaign_of(api, (*PRESENT, *MISSING))
        result = await verified(api, campaign_id)
    assert (result["status"], result["onWhatsapp"], result["notOnWhatsapp"]) == ("done", 3, 2)


async def test_a_gateway_that_cannot_answer_fails_the_verification(
    service: RunningService,
) -> None:
    tenant = f"down-{uuid.uuid4().hex[:6]}"
    token = f"{tenant}-token"
    await register_api_key(service.db, token, tenant, tenant)
    nowhere = {"gateway": "waha", "baseUrl": "http://127.0.0.1:9", "apiKey": GATEWAY_KEY}
    async with service.client_for(token) as api:
        created = await api.post(
            "/api/accounts",
            json={
                "phone": "+919800000198",
                "primary": {**nowhere, "session": "a"},
                "fallback": {**nowhere, "session": "b"},
            },
        )
        assert created.status_code == 201, created.text
        campaign_id = await campaign_of(api, PRESENT[:2])
        result = await verified(api, campaign_id)
    assert result["status"] == "failed"
    assert result["detail"].startswith("gateway-unreachable"), result
