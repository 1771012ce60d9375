"""``/api/accounts`` against the real Kafka broker and MongoDB-wire server."""

from __future__ import annotations

import logging
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
import structlog

from herald_campaign.adapters.api_keys import register_api_key
from herald_core.messages.states import MessageStatus

from .conftest import (
    OTHER_TENANT,
    OTHER_TOKEN,
    TENANT,
    RunningService,
    campaign_settings,
    running_campaign_with_messages,
    running_service,
)

pytestmark = pytest.mark.integration

PRIMARY_KEY = "sk-primary-7d3c1b9e"
FALLBACK_KEY = "sk-fallback-52aa80f4"


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "accounts")
    settings = settings.model_copy(
        update={
            "account_hourly_cap": 120,
            "account_daily_cap": 900,
            "account_warmup_schedule": "30, 60, 120",
        }
    )
    async with running_service(settings) as svc:
        await register_api_key(svc.db, OTHER_TOKEN, OTHER_TENANT, "other tenant")
        yield svc


@pytest.fixture
def api(service: RunningService) -> httpx.AsyncClient:
    return service.client


def unique_phone() -> str:
    """A valid Indian mobile number of its own for each test (the tests share a database)."""
    return f"+9198{uuid.uuid4().int % 10**8:08d}"


def account_body(**fields: Any) -> dict[str, Any]:
    return {
        "phone": unique_phone(),
        "name": "Sales line",
        "primary": {
            "gateway": "waha",
            "baseUrl": "http://waha-noweb:3000/",
            "session": "sales",
            "apiKey": PRIMARY_KEY,
        },
        "fallback": {
            "gateway": "waha",
            "baseUrl": "http://waha-webjs:3000",
            "session": "sales-webjs",
            "apiKey": FALLBACK_KEY,
        },
        **fields,
    }


async def stored_key(service: RunningService, account_id: str, role: str) -> Any:
    """The API key the senders will read from MongoDB."""
    stored = await service.db["accounts"].find_one({"_id": account_id})
    assert stored is not None
    return stored["sessions"][role]["apiKey"]


async def create_account(api: httpx.AsyncClient, **fields: Any) -> dict[str, Any]:
    """The account as created, less its receipt URLs (shown in this answer only)."""
    response = await api.post("/api/accounts", json=account_body(**fields))
    assert response.status_code == 201, response.text
    created: dict[str, Any] = response.json()
    urls = created.pop("receiptUrls")
    assert urls["waha"] == f"/api/webhooks/waha/{urls['token']}"
    # The test gateways' host names resolve nowhere: they could not be asked what they are.
    assert all("was not checked" in w for w in created.pop("warnings"))
    return created


# Create, read, list


async def test_create_then_get(api: httpx.AsyncClient, service: RunningService) -> None:
    created = await create_account(api, phone="98765 12345")
    assert created["id"].startswith("acc_")
    assert created["phone"] == "+919876512345"
    assert created["name"] == "Sales line"
    assert created["status"] == "enabled"
    assert created["primary"] == {
        "engine": "baileys",
        "gateway": "waha",
        "baseUrl": "http://waha-noweb:3000",
        "session": "sales",
        "apiKeySet": True,
        "health": {"status": "UNKNOWN", "checkedAt": None, "detail": None},
        # No HERALD_PUBLIC_URL in this service: the webhook is the operator's to set.
        "webhook": {
            "status": "MANUAL",
            "checkedAt": created["primary"]["webhook"]["checkedAt"],
            "detail": "HERALD_PUBLIC_URL is not set: set the gateway's webhook to this "
            "account's receipt URL by hand "
            "(<Herald's public URL>/api/webhooks/waha/<receipt token>)",
        },
    }
    assert created["fallback"]["engine"] == "whatsapp-web.js"
    # The caps and warm-up come from the settings; day 1 allows the first warm-up step.
    assert (created["hourlyCap"], created["dailyCap"]) == (120, 900)
    assert created["warmupSchedule"] == [30, 60, 120]
    assert created["dailyAllowance"] == 30
    assert created["activatedAt"] == created["createdAt"]
    assert created["disabledAt"] is None

    fetched = await api.get(f"/api/accounts/{created['id']}")
    assert fetched.status_code == 200
    assert fetched.json() == created

    stored = await service.db["accounts"].find_one({"_id": created["id"]})
    assert stored is not None
    assert stored["tenantId"] == TENANT
    # Stored for the senders, in clear: they need it to call the gateway.
    assert stored["sessions"]["primary"]["apiKey"] == PRIMARY_KEY
    assert stored["sessions"]["fallback"]["apiKey"] == FALLBACK_KEY


async def test_caps_warmup_and_activation_can_be_set_at_creation(api: httpx.AsyncClient) -> None:
    created = await create_account(
        api,
        hourlyCap=10,
        dailyCap=50,
        warmupSchedule=[],
        activatedAt="2025-01-01T00:00:00Z",
    )
    assert (created["hourlyCap"], created["dailyCap"], created["warmupSchedule"]) == (10, 50, [])
    assert created["dailyAllowance"] == 50
    assert created["activatedAt"].startswith("2025-01-01T00:00:00")


async def test_an_evolution_primary_with_its_key_is_accepted(api: httpx.AsyncClient) -> None:
    evolution = {
        "gateway": "evolution",
        "baseUrl": "https://evo.example.com",
        "session": "sales",
        "apiKey": PRIMARY_KEY,
    }
    created = await create_account(api, primary=evolution)
    assert created["primary"]["gateway"] == "evolution"
    assert created["primary"]["engine"] == "baileys"


async def test_list_is_oldest_first_and_paginated(api: httpx.AsyncClient) -> None:
    ids = [(await create_account(api, name=f"List {i}"))["id"] for i in range(3)]
    everything = (await api.get("/api/accounts", params={"limit": 500})).json()
    listed = [a["id"] for a in everything["accounts"]]
    assert [i for i in listed if i in ids] == ids
    assert everything["total"] == len(listed)
    position = listed.index(ids[1])
    page = (await api.get("/api/accounts", params={"limit": 1, "offset": position})).json()
    assert [a["id"] for a in page["accounts"]] == [ids[1]]
    assert (page["limit"], page["offset"]) == (1, position)


async def test_a_second_account_with_the_same_number_is_a_conflict(
    api: httpx.AsyncClient,
) -> None:
    phone = unique_phone()
    await create_account(api, phone=phone)
    again = await api.post("/api/accounts", json=account_body(phone=phone))
    assert again.status_code == 409
    assert again.json() == {"error": f"an account with phone {phone} exists already"}


async def test_unknown_account_is_404(api: httpx.AsyncClient) -> None:
    for response in [
        await api.get("/api/accounts/acc_nope"),
        await api.patch("/api/accounts/acc_nope", json={"hourlyCap": 5}),
        await api.post("/api/accounts/acc_nope/disable"),
        await api.post("/api/accounts/acc_nope/enable"),
    ]:
        assert response.status_code == 404
        assert response.json() == {"error": "account not found"}


# Validation


def with_session(role: str, **fields: Any) -> dict[str, Any]:
    body = account_body()
    body[role] = {**body[role], **fields}
    return body


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({k: v for k, v in account_body().items() if k != "primary"}, "primary"),
        (account_body(phone="12"), "phone"),
        (account_body(phone="+1 800 555 0100"), "phone"),  # toll free: cannot WhatsApp
        (with_session("primary", gateway="twilio"), "primary.gateway"),
        (with_session("primary", baseUrl="waha:3000"), "primary.baseUrl"),
        (with_session("primary", baseUrl="ftp://waha"), "primary.baseUrl"),
        (with_session("fallback", baseUrl="http://waha/?x=1"), "fallback.baseUrl"),
        (with_session("primary", session=""), "primary.session"),
        (with_session("primary", session="a/b"), "primary.session"),
        (with_session("primary", apiKey="   "), "primary.apiKey"),
        (with_session("primary", api_key="x"), "primary.api_key"),
        (with_session("fallback", gateway="evolution"), "fallback.gateway"),
        (with_session("primary", gateway="evolution", apiKey=None), "primary.apiKey"),
        (account_body(hourlyCap=0), "hourlyCap"),
        (account_body(dailyCap="many"), "dailyCap"),
        (account_body(warmupSchedule=[10, 0]), "warmupSchedule[1]"),
        (account_body(activatedAt="2026-01-01T00:00:00"), "activatedAt"),
        (account_body(apiKey="x"), "apiKey"),
    ],
)
async def test_invalid_account_fields_are_named(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    response = await api.post("/api/accounts", json=body)
    assert response.status_code == 422, response.text
    result = response.json()
    assert result["error"] == "validation failed"
    assert field in [f["field"] for f in result["fields"]], result


# Update, disable, enable


async def test_a_patch_changes_only_what_it_names(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    created = await create_account(api)
    response = await api.patch(
        f"/api/accounts/{created['id']}",
        json={"hourlyCap": 7, "warmupSchedule": [5], "fallback": {"session": "renamed"}},
    )
    assert response.status_code == 200, response.text
    changed = response.json()
    assert changed["hourlyCap"] == 7
    assert changed["warmupSchedule"] == [5]
    assert changed["dailyAllowance"] == 5
    assert changed["fallback"]["session"] == "renamed"
    assert changed["fallback"]["baseUrl"] == created["fallback"]["baseUrl"]
    assert changed["fallback"]["apiKeySet"] is True
    assert changed["primary"] == created["primary"]
    assert changed["name"] == created["name"]
    assert changed["dailyCap"] == created["dailyCap"]
    assert changed["updatedAt"] >= created["updatedAt"]
    assert (await api.get(f"/api/accounts/{created['id']}")).json() == changed
    assert await stored_key(service, created["id"], "fallback") == FALLBACK_KEY


async def test_an_api_key_can_be_replaced_and_removed_but_never_read(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    created = await create_account(api)
    path = f"/api/accounts/{created['id']}"
    replaced = await api.patch(path, json={"primary": {"apiKey": "sk-replacement-91"}})
    assert replaced.status_code == 200, replaced.text
    assert replaced.json()["primary"]["apiKeySet"] is True
    assert "sk-replacement-91" not in replaced.text
    assert await stored_key(service, created["id"], "primary") == "sk-replacement-91"

    removed = await api.patch(path, json={"primary": {"apiKey": None}})
    assert removed.json()["primary"]["apiKeySet"] is False
    assert await stored_key(service, created["id"], "primary") is None


async def test_a_changed_session_forgets_its_health(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    created = await create_account(api)
    working = {"status": "WORKING", "checkedAt": None, "detail": "checked by a test"}
    await service.db["accounts"].update_one(
        {"_id": created["id"]},
        {"$set": {"sessions.primary.health": working, "sessions.fallback.health": working}},
    )
    changed = (
        await api.patch(f"/api/accounts/{created['id']}", json={"primary": {"session": "new"}})
    ).json()
    assert changed["primary"]["health"]["status"] == "UNKNOWN"
    assert changed["fallback"]["health"] == working


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"hourlyCap": None}, "hourlyCap"),
        ({"primary": None}, "primary"),
        ({"primary": {"gateway": None}}, "primary.gateway"),
        ({"fallback": {"gateway": "evolution"}}, "fallback.gateway"),
        ({"phone": "not a number"}, "phone"),
        ({"status": "disabled"}, "status"),
    ],
)
async def test_invalid_changes_are_named_and_change_nothing(
    api: httpx.AsyncClient, body: dict[str, Any], field: str
) -> None:
    created = await create_account(api)
    response = await api.patch(f"/api/accounts/{created['id']}", json=body)
    assert response.status_code == 422, response.text
    assert field in [f["field"] for f in response.json()["fields"]]
    assert (await api.get(f"/api/accounts/{created['id']}")).json() == created


async def test_a_phone_taken_by_another_account_cannot_be_patched_in(
    api: httpx.AsyncClient,
) -> None:
    first = await create_account(api)
    second = await create_account(api)
    response = await api.patch(f"/api/accounts/{second['id']}", json={"phone": first["phone"]})
    assert response.status_code == 409


async def test_disable_and_enable(api: httpx.AsyncClient) -> None:
    created = await create_account(api)
    path = f"/api/accounts/{created['id']}"
    disabled = (await api.post(f"{path}/disable")).json()
    assert disabled["status"] == "disabled"
    assert disabled["disabledAt"] is not None
    again = await api.post(f"{path}/disable")
    assert again.status_code == 200
    assert again.json() == disabled

    listed = (await api.get("/api/accounts", params={"status": "disabled", "limit": 500})).json()
    assert created["id"] in [a["id"] for a in listed["accounts"]]
    assert {a["status"] for a in listed["accounts"]} == {"disabled"}

    enabled = (await api.post(f"{path}/enable")).json()
    assert enabled["status"] == "enabled"
    assert enabled["disabledAt"] is None
    assert enabled["activatedAt"] == created["activatedAt"]
    listed = (await api.get("/api/accounts", params={"status": "enabled", "limit": 500})).json()
    assert created["id"] in [a["id"] for a in listed["accounts"]]


# Tenants


async def test_another_tenant_sees_none_of_our_accounts(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    ours = await create_account(api)
    async with service.client_for(OTHER_TOKEN) as other:
        path = f"/api/accounts/{ours['id']}"
        assert (await other.get(path)).status_code == 404
        assert (await other.patch(path, json={"hourlyCap": 1})).status_code == 404
        assert (await other.post(f"{path}/disable")).status_code == 404
        listed = (await other.get("/api/accounts", params={"limit": 500})).json()
        assert ours["id"] not in [a["id"] for a in listed["accounts"]]
        # The same number is another tenant's business.
        theirs = await other.post("/api/accounts", json=account_body(phone=ours["phone"]))
        assert theirs.status_code == 201, theirs.text
    assert (await api.get(path)).json() == ours


async def test_accounts_need_a_token(service: RunningService) -> None:
    async with service.client_for(None) as anonymous:
        assert (await anonymous.get("/api/accounts")).status_code == 401
        assert (await anonymous.post("/api/accounts", json=account_body())).status_code == 401


# Secrecy of the API keys


async def test_api_keys_never_appear_in_responses_or_logs(
    api: httpx.AsyncClient, caplog: pytest.LogCaptureFixture, capsys: pytest.CaptureFixture[str]
) -> None:
    caplog.set_level(logging.DEBUG)
    # As herald_infra.runtime.logging configures it: the driver at DEBUG logs every command with its
    # documents, keys included.
    caplog.set_level(logging.WARNING, logger="pymongo")
    with structlog.testing.capture_logs() as structured:
        created = await api.post("/api/accounts", json=account_body())
        path = f"/api/accounts/{created.json()['id']}"
        responses = [
            created,
            await api.get(path),
            await api.get("/api/accounts", params={"limit": 500}),
            await api.patch(path, json={"primary": {"apiKey": PRIMARY_KEY + "-new"}}),
            await api.post(f"{path}/disable"),
            await api.post(f"{path}/enable"),
            # Refused input is not echoed either.
            await api.post(
                "/api/accounts", json=with_session("primary", apiKey=PRIMARY_KEY + "x" * 600)
            ),
            await api.post(
                "/api/accounts",
                json=with_session("primary", baseUrl=f"http://admin:{PRIMARY_KEY}@waha:3000"),
            ),
            await api.post(
                "/api/accounts",
                json=with_session("fallback", gateway="evolution", apiKey=FALLBACK_KEY),
            ),
        ]
    assert [r.status_code for r in responses] == [201, 200, 200, 200, 200, 200, 422, 422, 422]
    assert structured, "the account operations log"
    captured = capsys.readouterr()
    everything = "\n".join(
        [r.text for r in responses]
        + [repr(entry) for entry in structured]
        + [caplog.text, captured.out, captured.err]
    )
    for secret in (PRIMARY_KEY, FALLBACK_KEY):
        assert secret not in everything


async def test_openapi_documents_the_account_routes(api: httpx.AsyncClient) -> None:
    document = (await api.get("/openapi.json")).json()
    paths = document["paths"]
    assert set(paths["/api/accounts"]) == {"get", "post"}
    assert set(paths["/api/accounts/{account_id}"]) == {"get", "patch"}
    assert "post" in paths["/api/accounts/{account_id}/disable"]
    assert "post" in paths["/api/accounts/{account_id}/enable"]
    schemas = document["components"]["schemas"]
    assert "apiKeySet" in schemas["SessionResponse"]["properties"]
    assert "apiKey" not in schemas["SessionResponse"]["properties"]
    assert schemas["SessionRequest"]["properties"]["apiKey"]["anyOf"][0]["writeOnly"] is True
    create = paths["/api/accounts"]["post"]
    assert set(create["responses"]) >= {"201", "401", "409", "422"}


# Messages waiting for an account with room


async def test_process_queue_leaves_deferred_messages_to_their_release(
    api: httpx.AsyncClient, service: RunningService
) -> None:
    campaign_id = await running_campaign_with_messages(
        api, service, [(MessageStatus.PENDING, False), (MessageStatus.PENDING, False)]
    )
    deferred_id = f"msg-{campaign_id}-1"
    await service.db["messages"].update_one(
        {"_id": deferred_id},
        {"$set": {"accountId": None, "notBefore": datetime.now(UTC) + timedelta(hours=1)}},
    )
    assert (await api.post("/api/messages/process-queue")).json() == {"queued": 1}
    deferred = await service.db["messages"].find_one({"_id": deferred_id})
    assert deferred is not None and deferred["status"] == "pending"
