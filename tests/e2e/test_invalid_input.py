"""Bad input meets a clear error, over real HTTP, and the system keeps going."""

from __future__ import annotations

import httpx
import pytest
from pymongo import AsyncMongoClient

from tests.system import RunningStack, add_tenant_token

pytestmark = pytest.mark.e2e


async def new_campaign(api: httpx.AsyncClient) -> str:
    response = await api.post("/api/campaigns", json={"name": "Bad input", "messageBody": "hi"})
    assert response.status_code == 201, response.text
    campaign_id: str = response.json()["id"]
    return campaign_id


async def test_malformed_json_is_refused(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/campaigns", content=b"{broken", headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 400
    body = response.json()
    assert body["error"] == "malformed JSON"
    assert [f["field"] for f in body["fields"]] == ["body"]


async def test_missing_field_is_named(api: httpx.AsyncClient) -> None:
    response = await api.post("/api/campaigns", json={"name": "No body"})
    assert response.status_code == 422
    assert response.json() == {
        "error": "validation failed",
        "fields": [{"field": "messageBody", "message": "Field required"}],
    }


async def test_unknown_delay_type_is_named(api: httpx.AsyncClient) -> None:
    response = await api.post(
        "/api/campaigns", json={"name": "x", "messageBody": "y", "delayType": "turbo"}
    )
    assert response.status_code == 422
    assert response.json() == {
        "error": "validation failed",
        "fields": [
            {"field": "delayType", "message": "Input should be 'fast', 'balanced' or 'safe'"}
        ],
    }


async def test_bad_phone_is_rejected_with_a_reason(api: httpx.AsyncClient) -> None:
    campaign_id = await new_campaign(api)
    response = await api.post(
        f"/api/campaigns/{campaign_id}/contacts",
        json={"contacts": [{"phone": "not-a-phone"}, {"phone": "+919876500001"}]},
    )
    assert response.status_code == 200
    report = response.json()
    assert report["accepted"] == 1
    assert report["rejected"] == [
        {"index": 0, "phone": "not-a-phone", "reason": "invalid phone number"}
    ]


async def test_unknown_campaign_is_404(api: httpx.AsyncClient) -> None:
    contacts = {"contacts": [{"phone": "+919876500003"}]}
    for method, path, body in [
        ("GET", "/api/campaigns/does-not-exist", None),
        ("POST", "/api/campaigns/does-not-exist/contacts", contacts),
        ("POST", "/api/campaigns/does-not-exist/send", None),
        ("GET", "/api/messages/campaign/does-not-exist/stats", None),
        ("POST", "/api/messages/retry-failed?campaignId=does-not-exist", None),
    ]:
        response = await api.request(method, path, json=body)
        assert response.status_code == 404, path
        assert response.json() == {"error": "campaign not found"}


async def test_every_route_needs_a_token(stack: RunningStack) -> None:
    routes = [
        ("GET", "/api/campaigns"),
        ("POST", "/api/campaigns"),
        ("GET", "/api/campaigns/x"),
        ("POST", "/api/campaigns/x/contacts"),
        ("POST", "/api/campaigns/x/send"),
        ("GET", "/api/messages/campaign/x/stats"),
        ("POST", "/api/messages/process-queue"),
        ("POST", "/api/messages/retry-failed"),
        ("GET", "/api/messages/queue-stats"),
    ]
    async with httpx.AsyncClient(base_url=stack.api) as anonymous:
        for method, path in routes:
            for headers in ({}, {"Authorization": "Bearer wrong-token"}):
                response = await anonymous.request(method, path, headers=headers)
                assert response.status_code == 401, (method, path, headers)
                assert response.json() == {"error": "missing or invalid bearer token"}
            # A broken body does not get past the missing token either.
            response = await anonymous.request(
                method, path, content=b"{broken", headers={"Content-Type": "application/json"}
            )
            assert response.status_code == 401, (method, path, "broken body")


async def test_another_tenants_campaign_is_404(
    api: httpx.AsyncClient,
    stack: RunningStack,
    mongo: AsyncMongoClient[dict[str, object]],
) -> None:
    campaign_id = await new_campaign(api)
    other = await add_tenant_token(mongo, stack, "tenant-b")
    async with httpx.AsyncClient(
        base_url=stack.api, headers={"Authorization": f"Bearer {other}"}
    ) as intruder:
        for method, path, body in [
            ("GET", f"/api/campaigns/{campaign_id}", None),
            (
                "POST",
                f"/api/campaigns/{campaign_id}/contacts",
                {"contacts": [{"phone": "+919876500002"}]},
            ),
            ("POST", f"/api/campaigns/{campaign_id}/send", None),
            ("GET", f"/api/messages/campaign/{campaign_id}/stats", None),
        ]:
            response = await intruder.request(method, path, json=body)
            assert response.status_code == 404, (method, path)
        listed = (await intruder.get("/api/campaigns")).json()
        assert campaign_id not in str(listed)
