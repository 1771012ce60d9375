"""Media campaigns through the API, against the real Kafka broker and MongoDB-wire server:
uploads kept per tenant, bounded by their kind (refused while the body arrives), typed; a
campaign names an upload or a URL to a public address, and its body is held to a caption's
1,024 characters, rendered for each contact too."""

from __future__ import annotations

import hashlib
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from herald_campaign.adapters.api_keys import register_api_key

from .conftest import (
    OTHER_TENANT,
    OTHER_TOKEN,
    RunningService,
    campaign_settings,
    running_service,
)

pytestmark = pytest.mark.integration

PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 1024
FIVE_MB = 5 * 1024 * 1024


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "media").model_copy(
        update={"outbound_allow": "127.0.0.2/32"}
    )
    async with running_service(settings) as svc:
        await register_api_key(svc.db, OTHER_TOKEN, OTHER_TENANT, "other tenant")
        yield svc


async def upload(
    api: httpx.AsyncClient, data: bytes, mimetype: str, **params: str
) -> httpx.Response:
    return await api.post(
        "/api/media", content=data, headers={"Content-Type": mimetype}, params=params
    )


async def chunks(total: int, size: int = 256 * 1024) -> AsyncIterator[bytes]:
    sent = 0
    while sent < total:
        piece = min(size, total - sent)
        sent += piece
        yield b"\x00" * piece


async def create(
    api: httpx.AsyncClient, media: dict[str, Any], body: str = "Hi {{name|there}}"
) -> httpx.Response:
    return await api.post(
        "/api/campaigns", json={"name": "media", "messageBody": body, "media": media}
    )


def field_errors(response: httpx.Response) -> dict[str, str]:
    return {f["field"]: f["message"] for f in response.json()["fields"]}


async def test_an_upload_is_kept_for_its_tenant_only(service: RunningService) -> None:
    made = await upload(service.client, PNG, "image/png", filename="offer.png")
    assert made.status_code == 201, made.text
    shown = made.json()
    assert shown["id"].startswith("med_") and shown["size"] == len(PNG)
    assert shown["sha256"] == hashlib.sha256(PNG).hexdigest()
    assert (shown["mimetype"], shown["filename"]) == ("image/png", "offer.png")
    assert (await service.client.get(f"/api/media/{shown['id']}")).json() == shown
    async with service.client_for(OTHER_TOKEN) as other:
        assert (await other.get(f"/api/media/{shown['id']}")).status_code == 404
        # Nor may another tenant's campaign name it.
        refused = await create(other, {"uploadId": shown["id"]})
    assert refused.status_code == 422, refused.text
    assert "media.uploadId" in field_errors(refused)


async def test_an_upload_of_a_type_whatsapp_does_not_deliver_is_415(
    service: RunningService,
) -> None:
    for mimetype in ("text/html", "image/svg+xml", ""):
        response = await upload(service.client, b"<svg/>", mimetype)
        assert response.status_code == 415, response.text
        assert "Content-Type" in response.json()["error"]


async def test_an_empty_upload_is_refused(service: RunningService) -> None:
    response = await upload(service.client, b"", "image/png")
    assert response.status_code == 422, response.text
    assert response.json() == {
        "error": "validation failed",
        "fields": [{"field": "body", "message": "the file is empty"}],
    }


async def test_an_image_over_5_mb_is_refused_by_its_length_or_as_it_arrives(
    service: RunningService,
) -> None:
    declared = await upload(service.client, b"\x00" * (FIVE_MB + 1), "image/jpeg")
    assert declared.status_code == 413, declared.text
    assert "5 MB" in declared.json()["error"]
    # Chunked, no length given: refused once more than 5 MB came.
    streamed = await service.client.post(
        "/api/media", content=chunks(FIVE_MB + 300 * 1024), headers={"Content-Type": "image/jpeg"}
    )
    assert streamed.status_code == 413, streamed.text
    # The same size is a video's to have.
    assert (await upload(service.client, b"\x00" * (FIVE_MB + 1), "video/mp4")).status_code == 201


async def test_a_campaign_with_an_upload_shows_and_stores_its_media(
    service: RunningService,
) -> None:
    uploaded = (await upload(service.client, PNG, "image/png", filename="a.png")).json()
    created = await create(service.client, {"uploadId": uploaded["id"]})
    assert created.status_code == 201, created.text
    assert created.json()["media"] == {
        "kind": "image",
        "mimetype": "image/png",
        "filename": "a.png",
        "url": None,
        "uploadId": uploaded["id"],
    }
    stored = await service.db["campaigns"].find_one({"_id": created.json()["id"]})
    assert stored is not None and stored["media"]["uploadId"] == uploaded["id"]


@pytest.mark.parametrize(
    ("media", "field"),
    [
        ({"url": "http://127.0.0.1:3100/a.png", "mimetype": "image/png"}, "media.url"),
        ({"url": "http://169.254.169.254/a.png", "mimetype": "image/png"}, "media.url"),
        ({"url": "https://no-such-host.invalid/a.png", "mimetype": "image/png"}, "media.url"),
        ({"uploadId": "med_" + "f" * 32}, "media.uploadId"),
    ],
)
async def test_media_herald_will_not_send_is_422_naming_the_field(
    service: RunningService, media: dict[str, Any], field: str
) -> None:
    response = await create(service.client, media)
    assert response.status_code == 422, response.text
    assert field in field_errors(response), response.text


@pytest.mark.parametrize(
    "media",
    [
        {"url": "https://cdn.example.com/a.png"},  # no type
        {"url": "https://cdn.example.com/a.svg", "mimetype": "image/svg+xml"},
        {
            "url": "https://cdn.example.com/a.png",
            "uploadId": "med_" + "0" * 32,
            "mimetype": "image/png",
        },
        {},
    ],
)
async def test_a_malformed_media_request_is_422_on_media(
    service: RunningService, media: dict[str, Any]
) -> None:
    response = await create(service.client, media)
    assert response.status_code == 422, response.text
    assert any(f.startswith("media") for f in field_errors(response)), response.text


async def test_an_allowed_address_may_be_named(service: RunningService) -> None:
    created = await create(
        service.client, {"url": "http://127.0.0.2:8080/a.pdf", "mimetype": "application/pdf"}
    )
    assert created.status_code == 201, created.text
    assert created.json()["media"]["kind"] == "document"


async def test_the_body_is_held_to_a_captions_length_for_it_and_each_contact(
    service: RunningService,
) -> None:
    uploaded = (await upload(service.client, PNG, "image/png")).json()
    too_long = await create(service.client, {"uploadId": uploaded["id"]}, body="x" * 1025)
    assert too_long.status_code == 422
    assert "1024" in field_errors(too_long)["messageBody"]

    created = await create(service.client, {"uploadId": uploaded["id"]}, body="{{a}}{{b}}")
    campaign_id = created.json()["id"]
    added = await service.client.post(
        f"/api/campaigns/{campaign_id}/contacts",
        json={
            "contacts": [
                {"phone": "+919876543210", "fields": {"a": "x" * 512, "b": "y" * 512}},
                # Renders to 1,025 characters: a text's length, but not a caption's.
                {"phone": "+919876543211", "fields": {"a": "x" * 513, "b": "y" * 512}},
            ]
        },
    )
    assert added.status_code == 200, added.text
    assert added.json()["accepted"] == 1
    assert [r["reason"] for r in added.json()["rejected"]] == ["body-too-long"]
