"""Request body caps and the streamed multipart upload, on small apps in memory: which cap a
route and type get, a declared length over it refused unread, a body that passes it refused
as it arrives, the multipart ``file`` part handed on chunk by chunk; and the 413s in the
OpenAPI document."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import aclosing
from typing import Any

import httpx
import pytest
from fastapi import FastAPI, Request
from starlette.types import Message

from herald_campaign.bootstrap import create_app
from herald_campaign.entrypoints.rest.body_limits import (
    CSV_UPLOAD_ROUTES,
    MB,
    MEDIA_UPLOAD_ROUTE,
    BodyCap,
    BodyLimits,
    document_caps,
    install_body_limits,
    size_text,
)
from herald_campaign.entrypoints.rest.csv_uploads import uploaded_file
from herald_campaign.entrypoints.rest.dependencies import WEBHOOKS_PREFIX
from herald_campaign.entrypoints.rest.errors import install_error_handlers
from herald_campaign.settings import CampaignSettings
from herald_core.media import MAX_BYTES, MediaKind

LIMITS = BodyLimits(json=1000, csv=5000, webhook=100)


def test_each_route_class_has_its_cap() -> None:
    limits = BodyLimits()
    assert limits.cap("/api/webhooks/waha", "application/json") == BodyCap(MB, "a webhook")
    assert limits.cap("/api/webhooks/evolution/tok_x", "") == BodyCap(MB, "a webhook")
    contacts = "/api/campaigns/cmp_1/contacts"
    assert limits.cap(contacts, "application/json").limit == 16 * MB
    assert limits.cap(contacts, "").limit == 16 * MB
    assert limits.cap(contacts, "text/csv; charset=utf-8") == BodyCap(512 * MB, "a CSV file")
    assert limits.cap(contacts, "multipart/form-data; boundary=x").limit == 512 * MB
    assert limits.cap("/api/suppressions/import", "text/csv").limit == 512 * MB
    # A CSV body anywhere else is held to the JSON cap.
    assert limits.cap("/api/campaigns", "text/csv").limit == 16 * MB
    assert limits.cap("/api/campaigns/cmp_1/contacts/verify", "text/csv").limit == 16 * MB
    assert limits.cap("/api/media", "image/png") == BodyCap(MAX_BYTES[MediaKind.IMAGE], "an image")
    assert limits.cap("/api/media", "video/mp4").what == "a video"
    assert limits.cap("/api/media", "application/pdf").what == "a document"
    assert limits.cap("/api/media", "text/html").limit == max(MAX_BYTES.values())


def test_a_refusal_names_the_cap() -> None:
    assert BodyCap(MB, "a webhook").refusal() == (
        "the request body is larger than the 1 MB a webhook may be"
    )
    assert size_text(1500) == "1,500 bytes"


def small_app(limits: BodyLimits = LIMITS) -> FastAPI:
    app = FastAPI()

    @app.post("/api/webhooks/waha")
    async def webhook(request: Request) -> dict[str, int]:
        return {"size": len(await request.body())}

    @app.post("/api/items")
    async def items(body: dict[str, Any]) -> dict[str, int]:
        return {"keys": len(body)}

    @app.post("/api/campaigns/{campaign_id}/contacts")
    async def upload(request: Request) -> dict[str, int]:
        size = 0
        async for chunk in request.stream():
            size += len(chunk)
        return {"size": size}

    install_error_handlers(app)
    install_body_limits(app, limits)
    return app


async def pieces(total: int, size: int = 30) -> AsyncIterator[bytes]:
    while total > 0:
        yield b"x" * min(size, total)
        total -= size


@pytest.fixture
async def client() -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=small_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as api:
        yield api


async def test_a_body_at_its_cap_is_taken_and_one_byte_more_refused(
    client: httpx.AsyncClient,
) -> None:
    assert (await client.post("/api/webhooks/waha", content=b"x" * 100)).json() == {"size": 100}
    over = await client.post("/api/webhooks/waha", content=b"x" * 101)
    assert over.status_code == 413
    assert over.json() == {
        "error": "the request body is larger than the 100 bytes a webhook may be"
    }


async def test_a_chunked_body_is_refused_once_it_passes_its_cap(
    client: httpx.AsyncClient,
) -> None:
    taken = await client.post("/api/webhooks/waha", content=pieces(100))
    assert taken.json() == {"size": 100}
    refused = await client.post("/api/webhooks/waha", content=pieces(10_000))
    assert refused.status_code == 413
    assert refused.json() == {
        "error": "the request body is larger than the 100 bytes a webhook may be"
    }
    json_body = await client.post(
        "/api/items", content=pieces(1001), headers={"Content-Type": "application/json"}
    )
    assert json_body.status_code == 413
    assert "1,000 bytes a JSON body" in json_body.json()["error"]


async def test_a_csv_upload_has_its_own_cap(client: httpx.AsyncClient) -> None:
    route = "/api/campaigns/c1/contacts"
    csv = {"Content-Type": "text/csv"}
    assert (await client.post(route, content=pieces(5000), headers=csv)).json() == {"size": 5000}
    assert (await client.post(route, content=pieces(5001), headers=csv)).status_code == 413
    as_json = await client.post(route, content=b"x" * 1001, headers={"Content-Type": "x/y+json"})
    assert as_json.status_code == 413


async def test_a_declared_length_over_the_cap_is_refused_before_the_body_is_read() -> None:
    app = small_app()
    received: list[object] = []
    sent: list[Message] = []

    async def receive() -> Message:
        received.append("receive")
        return {"type": "http.request", "body": b"x" * 101, "more_body": False}

    async def send(message: Message) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": "/api/webhooks/waha",
        "raw_path": b"/api/webhooks/waha",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"content-length", b"1500000000"), (b"host", b"test")],
        "server": ("test", 80),
        "client": ("127.0.0.1", 1234),
    }
    await app(scope, receive, send)
    assert received == []
    assert sent[0]["status"] == 413
    assert b"1,500,000,000" not in sent[1]["body"] and b"100 bytes a webhook" in sent[1]["body"]


def multipart_app() -> FastAPI:
    app = FastAPI()

    @app.post("/api/campaigns/{campaign_id}/contacts")
    async def upload(request: Request) -> dict[str, Any]:
        async with aclosing(uploaded_file(request)) as chunks:
            return {"chunks": [chunk.decode() async for chunk in chunks]}

    install_error_handlers(app)
    return app


def multipart(*parts: tuple[str, str, str | None]) -> bytes:
    body = ""
    for name, content, filename in parts:
        named = f'name="{name}"' + (f'; filename="{filename}"' if filename else "")
        body += f"--XyZ\r\nContent-Disposition: form-data; {named}\r\n\r\n{content}\r\n"
    return (body + "--XyZ--\r\n").encode()


MULTIPART = {"Content-Type": "multipart/form-data; boundary=XyZ"}


async def post_multipart(content: bytes | AsyncIterator[bytes]) -> httpx.Response:
    transport = httpx.ASGITransport(app=multipart_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as api:
        return await api.post("/api/campaigns/c1/contacts", content=content, headers=MULTIPART)


async def test_the_file_part_is_handed_on_as_its_chunks_arrive() -> None:
    body = multipart(("note", "ignored", None), ("file", "phone\n+919876543210\n", "c.csv"))
    head, tail = body.split(b"+91")

    async def two_chunks() -> AsyncIterator[bytes]:
        yield head
        yield b"+91" + tail

    answer = await post_multipart(two_chunks())
    assert answer.status_code == 200, answer.text
    assert answer.json() == {"chunks": ["phone\n", "+919876543210\n"]}


async def test_a_file_part_without_a_filename_and_a_second_file_part() -> None:
    body = multipart(("file", "phone\n1\n", None), ("file", "phone\n2\n", "second.csv"))
    assert (await post_multipart(body)).json() == {"chunks": ["phone\n1\n"]}


async def test_an_upload_without_a_file_part_is_422() -> None:
    answer = await post_multipart(multipart(("other", "phone\n", "x.csv")))
    assert answer.status_code == 422
    assert answer.json()["fields"][0]["field"] == "file"


async def test_a_malformed_or_cut_multipart_upload_is_400() -> None:
    transport = httpx.ASGITransport(app=multipart_app())
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as api:
        no_boundary = await api.post(
            "/api/campaigns/c1/contacts",
            content=b"x",
            headers={"Content-Type": "multipart/form-data"},
        )
    assert no_boundary.status_code == 400 and "boundary" in no_boundary.json()["error"]
    cut = multipart(("file", "phone\n+919876543210\n", "c.csv"))[:-20]
    answer = await post_multipart(cut)
    assert answer.status_code == 400 and "ended inside" in answer.json()["error"], answer.text
    for garbage in (b"--XyZ\r\nno header line\r\n\r\n", b"not multipart at all"):
        answer = await post_multipart(garbage)
        assert answer.status_code == 400, answer.text
        assert answer.json()["error"].startswith("malformed multipart upload: ")


def test_the_openapi_document_lists_each_route_s_caps() -> None:
    schema: dict[str, Any] = {
        "paths": {
            "/api/campaigns/{campaign_id}/contacts": {
                "post": {
                    "requestBody": {"content": {"application/json": {}, "text/csv": {}}},
                    "responses": {},
                }
            },
            "/api/suppressions/import": {"post": {"responses": {}}},
            "/api/webhooks/waha": {
                "post": {"requestBody": {"content": {"application/json": {}}}, "responses": {}}
            },
            "/api/campaigns": {"get": {"responses": {}}},
        }
    }
    document_caps(schema, BodyLimits())
    paths = schema["paths"]
    contacts = paths["/api/campaigns/{campaign_id}/contacts"]["post"]["responses"]["413"]
    assert contacts["description"] == (
        "The body is larger than its type may be: 16 MB for `application/json`; 512 MB for "
        "`text/csv`, `multipart/form-data`."
    )
    imported = paths["/api/suppressions/import"]["post"]["responses"]["413"]
    assert imported["description"] == "The body is larger than 512 MB."
    webhook = paths["/api/webhooks/waha"]["post"]["responses"]["413"]
    assert webhook["description"] == "The body is larger than 1 MB."
    assert paths["/api/campaigns"]["get"]["responses"] == {}


def test_the_campaign_app_has_the_routes_its_caps_name_and_documents_every_413() -> None:
    app = create_app(CampaignSettings(api_token="unit"))  # nothing connects before its lifespan
    paths = app.openapi()["paths"]
    posts = {path for path, operations in paths.items() if "post" in operations}
    assert {*CSV_UPLOAD_ROUTES, MEDIA_UPLOAD_ROUTE} <= posts
    assert {p for p in posts if p.startswith(WEBHOOKS_PREFIX)} == {
        "/api/webhooks/waha",
        "/api/webhooks/evolution",
        "/api/webhooks/waha/{token}",
        "/api/webhooks/evolution/{token}",
    }
    for path, operations in paths.items():
        for method, operation in operations.items():
            if "requestBody" in operation or path in CSV_UPLOAD_ROUTES:
                assert "413" in operation["responses"], (method, path)
