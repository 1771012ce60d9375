"""Input past what Herald can store or use is a 422 naming the field, never a 500 (issue 15,
point 3): numbers past MongoDB's 64 bits, NaN and Infinity, field names MongoDB or a template
cannot take, times without a UTC form, crons that never fire, offsets MongoDB cannot skip,
URLs and API keys no request can carry, against the real Kafka broker and MongoDB-wire
server."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from herald_campaign.entrypoints.rest.paging import MAX_OFFSET
from herald_devstack.processes import free_port

from .conftest import RunningService, campaign_settings, campaign_with_contacts, running_service

pytestmark = pytest.mark.integration

NO_UTC_FORM_LATE = "9999-12-31T23:59:59-12:00"  # past datetime.max once in UTC
NO_UTC_FORM_EARLY = "0001-01-01T00:00:00+01:00"  # before datetime.min once in UTC
TAB_URL = "http://gw\tx:3100"  # urlsplit drops the tab; httpx refuses the URL


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    # A public URL makes Herald set each session's webhook up on its gateway: a request to it.
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "input_bounds").model_copy(
        update={
            "public_url": "https://herald.example.com/",
            "webhook_setup_timeout_seconds": 2.0,
            "gateway_timeout_seconds": 2.0,
        }
    )
    async with running_service(settings) as svc:
        yield svc


@pytest.fixture
def api(service: RunningService) -> httpx.AsyncClient:
    return service.client


def named_fields(response: httpx.Response) -> dict[str, str]:
    assert response.status_code == 422, response.text
    body = response.json()
    assert body["error"] == "validation failed", body
    return {f["field"]: f["message"] for f in body["fields"]}


def nobody() -> str:
    """A gateway address nothing listens on: asking it fails at once."""
    return f"http://127.0.0.1:{free_port()}"


def account_body(**fields: Any) -> dict[str, Any]:
    session = {"gateway": "waha", "baseUrl": nobody(), "apiKey": "sk-bounds"}
    return {
        "phone": f"+9198{uuid.uuid4().int % 10**8:08d}",
        "primary": {**session, "session": "default"},
        "fallback": {**session, "session": "default"},
        **fields,
    }


async def create_account(api: httpx.AsyncClient) -> str:
    created = await api.post("/api/accounts", json=account_body())
    assert created.status_code == 201, created.text
    account_id: str = created.json()["id"]
    return account_id


async def add_contact(api: httpx.AsyncClient, raw_fields: str) -> httpx.Response:
    """POST one contact whose ``fields`` are written as is (JSON literals Python's json takes,
    such as NaN, included)."""
    campaign = await api.post("/api/campaigns", json={"name": "Bounds", "messageBody": "Hi"})
    assert campaign.status_code == 201, campaign.text
    body = f'{{"contacts": [{{"phone": "+919876543210", "fields": {raw_fields}}}]}}'
    return await api.post(
        f"/api/campaigns/{campaign.json()['id']}/contacts",
        content=body,
        headers={"Content-Type": "application/json"},
    )


async def test_a_contact_field_number_past_64_bits_is_refused_naming_it(
    api: httpx.AsyncClient,
) -> None:
    for number in ("99999999999999999999", "-9223372036854775809"):
        fields = named_fields(await add_contact(api, f'{{"n": {number}}}'))
        assert "64 bits" in fields["contacts[0].fields.n"], fields
    accepted = await add_contact(api, '{"n": 9223372036854775807}')
    assert accepted.status_code == 200, accepted.text


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999"])
async def test_a_contact_field_of_nan_or_infinity_is_refused_naming_it(
    api: httpx.AsyncClient, literal: str
) -> None:
    fields = named_fields(await add_contact(api, f'{{"n": {literal}}}'))
    assert "finite" in fields["contacts[0].fields.n"], fields


@pytest.mark.parametrize("name", ["$x", "a.b", ""])
async def test_a_contact_field_name_mongodb_or_a_template_cannot_take_is_refused(
    api: httpx.AsyncClient, name: str
) -> None:
    fields = named_fields(await add_contact(api, f'{{"{name}": "v"}}'))
    assert repr(name) in fields["contacts[0].fields"], fields


async def test_an_expiry_without_a_utc_form_is_refused_naming_it(api: httpx.AsyncClient) -> None:
    for expires_at in (NO_UTC_FORM_LATE, NO_UTC_FORM_EARLY, "9000-01-01T00:00:00Z"):
        created = await api.post(
            "/api/campaigns", json={"name": "X", "messageBody": "Hi", "expiresAt": expires_at}
        )
        assert "1970-01-01" in named_fields(created)["expiresAt"]


async def test_a_send_time_without_a_utc_form_is_refused_naming_it(
    api: httpx.AsyncClient,
) -> None:
    campaign_id = await campaign_with_contacts(api)
    sent = await api.post(f"/api/campaigns/{campaign_id}/send", json={"sendAt": NO_UTC_FORM_LATE})
    assert "1970-01-01" in named_fields(sent)["sendAt"]
    campaign = await api.get(f"/api/campaigns/{campaign_id}")
    assert campaign.json()["status"] == "draft"


async def test_an_activation_time_without_a_utc_form_is_refused_naming_it(
    api: httpx.AsyncClient,
) -> None:
    created = await api.post("/api/accounts", json=account_body(activatedAt=NO_UTC_FORM_EARLY))
    assert "1970-01-01" in named_fields(created)["activatedAt"]
    account_id = await create_account(api)
    changed = await api.patch(f"/api/accounts/{account_id}", json={"activatedAt": NO_UTC_FORM_LATE})
    assert "1970-01-01" in named_fields(changed)["activatedAt"]


async def test_a_cron_that_never_fires_is_refused_naming_it(api: httpx.AsyncClient) -> None:
    campaign_id = await campaign_with_contacts(api)
    for timezone in ("UTC", "Asia/Kolkata"):
        sent = await api.post(
            f"/api/campaigns/{campaign_id}/send", json={"cron": "0 0 30 2 *", "timezone": timezone}
        )
        assert "does not fire within 5 years" in named_fields(sent)["cron"]
    leap_day = await api.post(f"/api/campaigns/{campaign_id}/send", json={"cron": "0 9 29 2 *"})
    assert leap_day.status_code == 202, leap_day.text


@pytest.mark.parametrize(
    "route", ["/api/campaigns", "/api/accounts", "/api/dead-letters", "/api/schedules"]
)
async def test_an_offset_mongodb_cannot_skip_is_refused_on_every_list_route(
    api: httpx.AsyncClient, route: str
) -> None:
    listed = await api.get(route, params={"offset": "10000000000000000000"})
    assert f"{MAX_OFFSET}" in named_fields(listed)["offset"]
    furthest = await api.get(route, params={"offset": MAX_OFFSET})
    assert furthest.status_code == 200, furthest.text


async def test_a_gateway_url_no_request_can_go_to_is_refused_naming_it(
    api: httpx.AsyncClient,
) -> None:
    body = account_body()
    body["primary"]["baseUrl"] = TAB_URL
    created = await api.post("/api/accounts", json=body)
    assert "control characters" in named_fields(created)["primary.baseUrl"]

    account_id = await create_account(api)
    for url in (TAB_URL, "http://xn--zz:3100"):
        changed = await api.patch(f"/api/accounts/{account_id}", json={"primary": {"baseUrl": url}})
        assert "primary.baseUrl" in named_fields(changed)


async def test_a_gateway_api_key_no_header_can_carry_is_refused_naming_it(
    api: httpx.AsyncClient,
) -> None:
    body = account_body()
    body["fallback"]["apiKey"] = "ключ"
    created = await api.post("/api/accounts", json=body)
    assert "ASCII" in named_fields(created)["fallback.apiKey"]


async def test_the_qr_code_of_a_stored_session_no_request_can_use_names_the_setting(
    service: RunningService, api: httpx.AsyncClient
) -> None:
    account_id = await create_account(api)
    # Stored before the API refused such settings.
    await service.db["accounts"].update_one(
        {"_id": account_id},
        {"$set": {"sessions.primary.baseUrl": TAB_URL, "sessions.fallback.apiKey": "ключ"}},
    )
    primary = await api.get(f"/api/accounts/{account_id}/sessions/primary/qr")
    assert "cannot be requested" in named_fields(primary)["primary.baseUrl"]
    fallback = await api.get(f"/api/accounts/{account_id}/sessions/fallback/qr")
    assert "ASCII" in named_fields(fallback)["fallback.apiKey"]
    assert "ключ" not in fallback.text


async def test_webhook_set_up_of_a_stored_session_no_request_can_use_fails_naming_it(
    service: RunningService, api: httpx.AsyncClient
) -> None:
    account_id = await create_account(api)
    await service.db["accounts"].update_one(
        {"_id": account_id}, {"$set": {"sessions.primary.baseUrl": TAB_URL}}
    )
    retried = await api.post(f"/api/accounts/{account_id}/webhooks")
    assert retried.status_code == 200, retried.text
    webhook = retried.json()["primary"]["webhook"]
    assert webhook["status"] == "FAILED", webhook
    assert webhook["detail"].startswith("the session's baseUrl cannot be requested"), webhook


async def test_a_media_url_no_request_can_go_to_is_refused_naming_it(
    api: httpx.AsyncClient,
) -> None:
    for url, why in (
        ("https://example.com:99999/offer.png", "invalid port"),
        ("https://[::1/offer.png", "is not a URL"),
        ("https://exa\tmple.com/offer.png", "control characters"),
    ):
        created = await api.post(
            "/api/campaigns",
            json={
                "name": "Media",
                "messageBody": "Hi",
                "media": {"url": url, "mimetype": "image/png"},
            },
        )
        assert why in named_fields(created)["media.url"]
