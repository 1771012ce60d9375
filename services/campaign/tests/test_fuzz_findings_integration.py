"""What the API fuzzer (tests/fuzz) found in the campaign API, each fixed and kept fixed here,
against the real Kafka broker and MongoDB-wire server: a JSON body that is not UTF-8 was a 400
the document did not list, in a shape of its own; no route with a JSON body listed its 400 of
malformed JSON; an empty media upload was a 422 naming no field; malformed JSON to the
contacts route answered a 400 whose shape the route did not document."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from .conftest import RunningService, campaign_settings, create_campaign, running_service

pytestmark = pytest.mark.integration

MALFORMED_JSON = {"$ref": "#/components/schemas/ValidationErrorResponse"}


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "fuzz_findings")
    async with running_service(settings) as svc:
        yield svc


@pytest.mark.parametrize(
    ("method", "route"),
    [("POST", "/api/campaigns"), ("PUT", "/api/suppressions/keywords")],
)
async def test_a_json_body_that_is_not_utf8_is_malformed_json_naming_the_body(
    service: RunningService, method: str, route: str
) -> None:
    answer = await service.client.request(
        method, route, content=b'{"name": "\xff"}', headers={"Content-Type": "application/json"}
    )
    assert answer.status_code == 400, answer.text
    assert answer.json() == {
        "error": "malformed JSON",
        "fields": [{"field": "body", "message": "malformed JSON: the body is not UTF-8"}],
    }


async def test_every_route_with_a_json_body_documents_its_400(service: RunningService) -> None:
    document = service.app.openapi()
    json_routes = [
        (method.upper(), path, operation)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        if "application/json" in operation.get("requestBody", {}).get("content", {})
    ]
    assert ("POST", "/api/campaigns") in [(m, p) for m, p, _ in json_routes]
    undocumented = [
        f"{m} {p}" for m, p, operation in json_routes if "400" not in operation["responses"]
    ]
    assert undocumented == []
    created = document["paths"]["/api/campaigns"]["post"]["responses"]["400"]
    assert created["content"]["application/json"]["schema"] == MALFORMED_JSON
    malformed = await service.client.post(
        "/api/campaigns", content=b"{broken", headers={"Content-Type": "application/json"}
    )
    assert malformed.status_code == 400
    assert set(malformed.json()) == {"error", "fields"}


@pytest.mark.parametrize("content_type", ["text/csv", "image/png"])
async def test_an_empty_media_upload_is_a_422_naming_the_body(
    service: RunningService, content_type: str
) -> None:
    answer = await service.client.post(
        "/api/media", content=b"", headers={"Content-Type": content_type}
    )
    assert answer.status_code == 422, answer.text
    assert answer.json() == {
        "error": "validation failed",
        "fields": [{"field": "body", "message": "the file is empty"}],
    }


async def test_malformed_json_to_the_contacts_route_is_one_of_its_documented_400s(
    service: RunningService,
) -> None:
    campaign_id = (await create_campaign(service.client))["id"]
    answer = await service.client.post(
        f"/api/campaigns/{campaign_id}/contacts",
        content=b"{broken",
        headers={"Content-Type": "application/json"},
    )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"] == "malformed JSON"
    assert [field["field"] for field in answer.json()["fields"]] == ["body"]
    route = service.app.openapi()["paths"]["/api/campaigns/{campaign_id}/contacts"]["post"]
    documented = route["responses"]["400"]["content"]["application/json"]["schema"]["anyOf"]
    # Before, only the stopped import's shape (with `line`, `accepted` and `total`).
    assert MALFORMED_JSON in documented
