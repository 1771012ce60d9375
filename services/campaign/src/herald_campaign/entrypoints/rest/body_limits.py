"""Every request body of the campaign API has a cap, and a body over it is refused with 413
(``{"error": ...}`` naming the cap) before it is read: at once when ``Content-Length`` says it
is over, otherwise (chunked) as soon as the bytes received pass it. The caps, by route:

- gateway webhooks (``/api/webhooks/…``): ``HERALD_WEBHOOK_BODY_MAX_BYTES``, 1 MB, checked
  before their signature is;
- a CSV file, as the body or a multipart upload (``/api/campaigns/{id}/contacts``,
  ``/api/suppressions/import``): ``HERALD_CSV_UPLOAD_MAX_BYTES``, 512 MB; it is read as it
  arrives, so the cap bounds an import's time, not its memory;
- a media upload (``POST /api/media``): what its kind may be (``herald_core.media.MAX_BYTES``);
- any other body (JSON): ``HERALD_JSON_BODY_MAX_BYTES``, 16 MB. A request adds at most 10,000
  contacts, but a contact may be large: with a CSV file's largest fields (50 of 1,000
  characters) some 54 KB, and JSON bounds a field's value less, so a cap that took any full list
  would take gigabytes. 16 MB is 1.6 KB a contact for a full request, ten times a contact with
  a name and a few fields; lists of larger contacts go as CSV, or in several requests.

One ASGI middleware does it, not FastAPI's ``max_body_size``: that takes one cap per route
whatever the body's type (a contact import is JSON or CSV), and answers a ``Content-Length``
over it in plain text, not as the API's other errors.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, status
from fastapi.responses import JSONResponse
from starlette.datastructures import Headers
from starlette.exceptions import HTTPException
from starlette.routing import compile_path
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from herald_campaign.entrypoints.rest.csv_uploads import CSV, MULTIPART, media_type_of
from herald_campaign.entrypoints.rest.dependencies import WEBHOOKS_PREFIX
from herald_campaign.entrypoints.rest.errors import error_body
from herald_campaign.settings import CampaignSettings
from herald_core.media import MAX_BYTES, MAX_UPLOAD_BYTES, MIMETYPES, MediaKind

MB = 1024 * 1024
MEDIA_UPLOAD_ROUTE = "/api/media"
CSV_UPLOAD_ROUTES = ("/api/campaigns/{campaign_id}/contacts", "/api/suppressions/import")
"""The routes that take a CSV file, as the body or as a multipart upload (and JSON too)."""
_CSV_UPLOAD_PATHS = tuple(compile_path(route)[0] for route in CSV_UPLOAD_ROUTES)
_MEDIA_KINDS = {MediaKind.IMAGE: "an image", MediaKind.VIDEO: "a video"}


def size_text(limit: int) -> str:
    """``16 MB`` for whole megabytes (of 1,048,576 bytes, as the caps are set), else bytes."""
    return f"{limit // MB} MB" if limit % MB == 0 else f"{limit:,} bytes"


@dataclass(frozen=True)
class BodyCap:
    """The largest body one request may have, and what that body is, for the error."""

    limit: int
    """Bytes."""
    what: str
    """``a webhook``, ``a JSON body``, ``a CSV file``, ``an image`` …"""

    def refusal(self) -> str:
        return f"the request body is larger than the {size_text(self.limit)} {self.what} may be"


class BodyTooLarge(HTTPException):
    """A body that passed its cap while it was read: the API's error handler answers it (413)."""

    def __init__(self, cap: BodyCap) -> None:
        super().__init__(status.HTTP_413_CONTENT_TOO_LARGE, cap.refusal())
        self.cap = cap


@dataclass(frozen=True)
class BodyLimits:
    """The caps of the campaign API's request bodies, by route and ``Content-Type``."""

    json: int = 16 * MB
    csv: int = 512 * MB
    webhook: int = 1 * MB

    @classmethod
    def of(cls, settings: CampaignSettings) -> BodyLimits:
        return cls(
            json=settings.json_body_max_bytes,
            csv=settings.csv_upload_max_bytes,
            webhook=settings.webhook_body_max_bytes,
        )

    def cap(self, path: str, content_type: str) -> BodyCap:
        """The cap of a request to ``path`` whose ``Content-Type`` header is ``content_type``."""
        media_type, _ = media_type_of(content_type)
        if path.startswith(WEBHOOKS_PREFIX):
            return BodyCap(self.webhook, "a webhook")
        if path == MEDIA_UPLOAD_ROUTE:
            kind = MIMETYPES.get(media_type)
            if kind is None:  # refused as a type Herald does not send, unread
                return BodyCap(MAX_UPLOAD_BYTES, "a media file")
            return BodyCap(MAX_BYTES[kind], _MEDIA_KINDS.get(kind, f"a {kind.value}"))
        if media_type in (CSV, MULTIPART) and any(p.match(path) for p in _CSV_UPLOAD_PATHS):
            return BodyCap(self.csv, "a CSV file")
        return BodyCap(self.json, "a JSON body")


def refusal_response(cap: BodyCap) -> JSONResponse:
    # No "Connection: close": closing on a body still arriving resets the connection, and
    # clients (curl, httpx) then report the reset, not this answer. The server drops what
    # else comes of the body, unread and unkept.
    return JSONResponse(error_body(cap.refusal()), status.HTTP_413_CONTENT_TOO_LARGE)


def _declared_length(headers: Headers) -> int | None:
    value = headers.get("content-length")
    return int(value) if value is not None and value.strip().isdigit() else None


class BodyLimitMiddleware:
    """Holds each request's body to its cap (:meth:`BodyLimits.cap`): a declared length over
    it is answered at once, and a body that passes it as it arrives raises
    :class:`BodyTooLarge` from ``receive``, before the bytes past the cap reach the app."""

    def __init__(self, app: ASGIApp, limits: BodyLimits) -> None:
        self.app = app
        self.limits = limits

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = Headers(scope=scope)
        cap = self.limits.cap(scope["path"], headers.get("content-type", ""))
        declared = _declared_length(headers)
        if declared is not None and declared > cap.limit:
            await refusal_response(cap)(scope, receive, send)
            return
        received = 0
        started = False

        async def capped_receive() -> Message:
            nonlocal received
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap.limit:
                    raise BodyTooLarge(cap)
            return message

        async def watched_send(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, capped_receive, watched_send)
        except BodyTooLarge:
            # Where no error handler answered it (the app's answer it otherwise, as JSON too).
            if started:
                raise
            await refusal_response(cap)(scope, receive, send)


def install_body_limits(app: FastAPI, limits: BodyLimits) -> None:
    """Caps every request body of ``app`` and lists the 413 in its OpenAPI document."""
    app.add_middleware(BodyLimitMiddleware, limits=limits)
    build_openapi = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = build_openapi()
            document_caps(app.openapi_schema, limits)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]  # FastAPI's way to extend its OpenAPI


def document_caps(schema: dict[str, Any], limits: BodyLimits) -> None:
    """A 413 on each operation that takes a body, naming its cap for each type it takes."""
    for path, operations in schema.get("paths", {}).items():
        for operation in operations.values():
            types = list(operation.get("requestBody", {}).get("content", {}))
            if path in CSV_UPLOAD_ROUTES:
                types = [t for t in types if t not in (CSV, MULTIPART)] + [CSV, MULTIPART]
            if not types:
                continue
            operation["responses"].setdefault(
                str(status.HTTP_413_CONTENT_TOO_LARGE),
                {
                    "description": _caps_text(path, types, limits.cap),
                    "content": {
                        "application/json": {
                            "schema": {"$ref": "#/components/schemas/ErrorResponse"}
                        }
                    },
                },
            )


def _caps_text(path: str, types: list[str], cap: Callable[[str, str], BodyCap]) -> str:
    caps = {t: cap(path, t) for t in types}
    if len({c.limit for c in caps.values()}) == 1:
        return f"The body is larger than {size_text(next(iter(caps.values())).limit)}."
    by_size: dict[int, list[str]] = {}
    for media_type, body_cap in caps.items():
        by_size.setdefault(body_cap.limit, []).append(f"`{media_type}`")
    listed = "; ".join(f"{size_text(size)} for {', '.join(t)}" for size, t in by_size.items())
    return f"The body is larger than its type may be: {listed}."
