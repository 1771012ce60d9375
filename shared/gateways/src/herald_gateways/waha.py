"""The WAHA gateway adapter (engines NOWEB and GOWS in Baileys' role, WEBJS = whatsapp-web.js).

The subset of WAHA's HTTP API it uses, authenticated with the ``X-Api-Key`` header (which WAHA
Core does not check at all: a wrong key goes unnoticed there):

- ``POST /api/sendText`` ``{"session", "chatId": "<digits>@c.us", "text"}`` → 201 with the
  engine's message: NOWEB a Baileys ``WAMessage`` (id in ``key.id``), WEBJS a whatsapp-web.js
  ``Message`` (``id._serialized`` = ``true_<chat>_<id>``, or only ``_data.id``), GOWS
  ``{"id": "true_<chat>_<id>", "_data"}``. Some versions answer 201 with an empty body (WEBJS,
  devlikeapro/waha#1087): sent, id unknown. Every shape is reduced to the bare id
  (``message_ids.bare_message_id``). WAHA does not check that the number is on WhatsApp: it
  answers 201 and the message never gets past ack SERVER (``check_numbers`` asks first).
- ``POST /api/sendImage`` (``image/*``), ``/api/sendVideo`` (``video/*``), ``/api/sendFile``
  (anything else) ``{"session", "chatId", "file": {"mimetype", "filename", "url" | "data"},
  "caption"}`` → 201 with the engine's message, as sendText (WAHA Plus). WAHA Core answers
  422 once the session is WORKING: ``The feature is available only in Plus version…``
  (sendImage, sendFile) and ``The method is not implemented by the engine.`` (sendVideo),
  which is ``not-supported-by-gateway``; like sendText, a session that is not WORKING gets
  the 5 s 422 first, and any name but ``default`` Core's 422 at once.
- ``GET /api/sessions/{session}`` → ``{"name", "status", "config", "me": {"id", "pushName"} |
  null, "engine": {"engine"}}``; status is one of STOPPED, STARTING, SCAN_QR_CODE, WORKING,
  FAILED. ``PUT /api/sessions/{session}`` ``{"config"}`` replaces the config (and restarts a
  running session); ``POST /api/sessions`` ``{"name"}`` creates one (Plus; Core has only
  ``default``, always there).
- ``GET /api/{session}/auth/qr?format=image`` with ``Accept: application/json`` →
  ``{"mimetype": "image/png", "data": "<base64>"}``; only in SCAN_QR_CODE.
- ``GET /api/contacts/check-exists?phone=<digits>&session=`` → ``{"numberExists", "chatId"}``.
- ``GET /api/server/version`` → ``{"version", "engine", "tier", "browser"}``.
- ``GET /api/{session}/lids/{lid}`` → ``{"lid", "pn": "<digits>@c.us" | null}`` (``src/api/
  lids.controller.ts``, added in 2025; WORKING sessions only). 2024.10.8 has no such route:
  NestJS answers 404 ``Cannot GET …``, which ``phone_of_lid`` reads as "cannot tell".

sendText, auth/qr and check-exists wait up to 5 s for a session that is not WORKING, then
answer 422 ``{"error": "Session status is not as expected…", "session", "status",
"expected"}``: the client's timeout must stay well above that (``MIN_TIMEOUT_SECONDS``).
WAHA Core refuses every session name but ``default`` (422 on sends, 404 on the session):
``gateway-misconfigured``. Errors are classified by ``failures.classify_http_failure``.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import urlsplit

import httpx

from herald_gateways.failures import (
    GATEWAY_MISCONFIGURED,
    SESSION_NOT_CONNECTED,
    SESSION_NOT_FOUND,
    WEBHOOK_SETUP_REFUSED,
    classify_http_failure,
)
from herald_gateways.http_client import (
    MESSAGE_ID_HEADER,
    GatewayHttp,
    http_failure,
    json_or_none,
    path_segment,
)
from herald_gateways.inbound import lid_of_jid, phone_of_jid
from herald_gateways.interface import (
    GatewayError,
    GatewayInfo,
    LoginQr,
    MediaFile,
    SendReceipt,
    SessionHealth,
    SessionStatus,
)
from herald_gateways.message_ids import bare_message_id
from herald_gateways.session_states import waha_session_health
from herald_gateways.support import WAHA_CORE_SESSION

__all__ = [
    "MESSAGE_ID_HEADER",
    "MIN_TIMEOUT_SECONDS",
    "NOT_WORKING_WAIT_SECONDS",
    "WAHA_CORE_SESSION",
    "WAHA_MEDIA_ROUTES",
    "WAHA_WEBHOOK_EVENTS",
    "WahaGateway",
    "chat_id",
    "gateway_message_id",
    "waha_gateway_info",
    "waha_login_qr",
    "waha_media_body",
    "waha_phone_of_lid",
    "waha_webhook_config",
]

NOT_WORKING_WAIT_SECONDS = 5.0
"""How long WAHA waits for a session to be WORKING before its 422 (``WAIT_STATUS_TIMEOUT``)."""
MIN_TIMEOUT_SECONDS = 10.0
"""A client timeout under this turns WAHA's 422 (which switches engine) into a timeout (which
does not)."""
WAHA_WEBHOOK_EVENTS = ("message.ack", "message", "session.status")
"""What Herald needs from WAHA: receipts, inbound messages (replies, opt-outs), session status."""
CHECK_CONCURRENCY = 8
WAHA_NO_SUCH_ROUTE = "cannot get"
"""NestJS's 404 for a route this WAHA does not have (``Cannot GET /api/…``), unlike its 404s
for a session it does not know or that is stopped."""
"""check-exists answers one number per request: this many in flight at once."""


WAHA_MEDIA_ROUTES = {
    "image": "/api/sendImage",
    "video": "/api/sendVideo",
    "document": "/api/sendFile",
}
"""WAHA's send route per ``MediaFile.kind``."""


def waha_media_body(session: str, phone: str, media: MediaFile, caption: str) -> dict[str, Any]:
    """The body of sendImage, sendVideo and sendFile (``src/structures/chatting.dto.ts``,
    ``files.dto.ts``: ``RemoteFile`` with ``url``, ``BinaryFile`` with base64 ``data``)."""
    file: dict[str, Any] = {"mimetype": media.mimetype}
    if media.filename is not None:
        file["filename"] = media.filename
    if media.url is not None:
        file["url"] = media.url
    else:
        file["data"] = media.data_base64
    return {"session": session, "chatId": chat_id(phone), "file": file, "caption": caption}


def chat_id(phone: str) -> str:
    """WAHA's chat id of an E.164 number: the digits and ``@c.us``."""
    return f"{phone.lstrip('+')}@c.us"


def gateway_message_id(body: Any) -> str | None:
    """The bare message id in a send's answer (text or media), whichever engine shaped it
    (None: no id)."""
    if not isinstance(body, dict):
        return None
    key = body.get("key")
    if isinstance(key, dict) and key.get("id"):  # NOWEB (Baileys)
        return bare_message_id(str(key["id"]))
    ident = body.get("id")
    if isinstance(ident, dict):  # WEBJS (whatsapp-web.js)
        found = str(ident.get("_serialized") or ident.get("id") or "")
        return bare_message_id(found) if found else None
    if isinstance(ident, str) and ident:  # GOWS: the serialized id as a string
        return bare_message_id(ident)
    data = body.get("_data")  # WEBJS: the raw message, when the top level lacks the id
    if isinstance(data, dict) and isinstance(data.get("id"), dict):
        return gateway_message_id({"id": data["id"]})
    return None


def waha_gateway_info(body: Any) -> GatewayInfo:
    """A ``GET /api/server/version`` answer as a GatewayInfo."""
    fields = body if isinstance(body, dict) else {}

    def text(key: str) -> str | None:
        value = fields.get(key)
        return str(value) if isinstance(value, str) and value else None

    return GatewayInfo(
        product="waha",
        version=text("version") or "",
        tier=(text("tier") or "").upper() or None,
        engine=(text("engine") or "").upper() or None,
    )


def _same_receiver(url: str, other: Any) -> bool:
    """Whether a configured webhook goes to the receiver ``url`` names (its origin and path
    but the last segment: a receipt URL whose token changed is the same receiver)."""
    if not isinstance(other, str):
        return False
    mine, theirs = urlsplit(url), urlsplit(other)
    return (mine.scheme, mine.netloc, mine.path.rsplit("/", 1)[0]) == (
        theirs.scheme,
        theirs.netloc,
        theirs.path.rsplit("/", 1)[0],
    )


def waha_webhook_config(
    current: Any,
    *,
    url: str,
    events: Sequence[str],
    headers: Mapping[str, str],
    hmac_key: str | None,
) -> dict[str, Any]:
    """A session's ``config`` with Herald's webhook set: the rest of ``current`` (other
    webhooks, metadata, proxy, …) kept, a webhook to the same receiver replaced."""
    config = dict(current) if isinstance(current, dict) else {}
    kept = [
        hook
        for hook in config.get("webhooks") or []
        if isinstance(hook, dict) and not _same_receiver(url, hook.get("url"))
    ]
    webhook: dict[str, Any] = {
        "url": url,
        "events": list(events),
        "customHeaders": [{"name": k, "value": v} for k, v in headers.items()] or None,
        "hmac": {"key": hmac_key} if hmac_key else None,
    }
    config["webhooks"] = [*kept, webhook]
    return config


def waha_login_qr(body: Any) -> LoginQr | None:
    """The QR in an ``auth/qr`` answer (image ``{"mimetype", "data"}`` or raw ``{"value"}``)."""
    if not isinstance(body, dict):
        return None
    data = body.get("data")
    value = body.get("value")
    image = data if isinstance(data, str) and data else None
    raw = value if isinstance(value, str) and value else None
    if image is None and raw is None:
        return None
    mimetype = str(body.get("mimetype") or "image/png") if image else None
    return LoginQr(mimetype=mimetype, image_base64=image, value=raw)


def waha_phone_of_lid(body: Any) -> str | None:
    """The phone number in a lids answer ``{"lid", "pn"}`` (None: ``pn`` is null or unusable)."""
    return phone_of_jid(body.get("pn")) if isinstance(body, dict) else None


class WahaGateway:
    def __init__(
        self,
        base_url: str,
        api_key: str | None,
        timeout_seconds: float,
        *,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        """``transport``: where requests go (tests answer in process; the services give one
        that checks and pins the addresses it connects to); None: the network."""
        headers = {"X-Api-Key": api_key} if api_key else {}
        self._http = GatewayHttp(
            base_url, headers, timeout_seconds, classify_http_failure, transport
        )
        self._info: GatewayInfo | None = None

    async def send_text(
        self, *, session: str, phone: str, text: str, message_id: str
    ) -> SendReceipt:
        response = await self._http.request(
            "POST",
            "/api/sendText",
            json={"session": session, "chatId": chat_id(phone), "text": text},
            headers={MESSAGE_ID_HEADER: message_id},
        )
        return SendReceipt(gateway_message_id=gateway_message_id(json_or_none(response)))

    async def send_media(
        self, *, session: str, phone: str, media: MediaFile, caption: str, message_id: str
    ) -> SendReceipt:
        response = await self._http.request(
            "POST",
            WAHA_MEDIA_ROUTES[media.kind],
            json=waha_media_body(session, phone, media, caption),
            headers={MESSAGE_ID_HEADER: message_id},
        )
        return SendReceipt(gateway_message_id=gateway_message_id(json_or_none(response)))

    async def session_health(self, session: str) -> SessionHealth:
        try:
            response = await self._http.request("GET", f"/api/sessions/{path_segment(session)}")
        except GatewayError as error:
            if error.reason == SESSION_NOT_FOUND:  # on Core, any name but default is "not found"
                await self._refuse_on_core(session, GATEWAY_MISCONFIGURED)
            raise
        return waha_session_health(json_or_none(response))

    async def session_status(self, session: str) -> str:
        return (await self.session_health(session)).status.value

    async def login_qr(self, session: str) -> LoginQr | None:
        # Asking for the QR outside SCAN_QR_CODE makes WAHA wait up to 5 s before its 422.
        if (await self.session_health(session)).status is not SessionStatus.SCAN_QR_CODE:
            return None
        try:
            response = await self._http.request(
                "GET",
                f"/api/{path_segment(session)}/auth/qr",
                params={"format": "image"},
                headers={"Accept": "application/json"},
            )
        except GatewayError as error:
            if error.reason == SESSION_NOT_CONNECTED:
                return None  # paired (or stopped) between the two calls
            raise
        return waha_login_qr(json_or_none(response))

    async def server_info(self) -> GatewayInfo:
        response = await self._http.request("GET", "/api/server/version")
        self._info = waha_gateway_info(json_or_none(response))
        return self._info

    async def ensure_session(self, session: str) -> bool:
        await self._refuse_on_core(session, GATEWAY_MISCONFIGURED, ask=True)
        found = await self._http.request(
            "GET", f"/api/sessions/{path_segment(session)}", expect=(404,)
        )
        if found.status_code != 404:
            return False
        created = await self._http.request(
            "POST", "/api/sessions", json={"name": session}, expect=(422,)
        )
        if created.status_code == 422 and "already exists" in created.text:
            return False  # created by someone else meanwhile
        if created.status_code == 422:
            raise http_failure(classify_http_failure, created)
        return True

    async def configure_webhook(
        self,
        session: str,
        *,
        url: str,
        events: Sequence[str],
        headers: Mapping[str, str],
        hmac_key: str | None,
    ) -> None:
        await self._refuse_on_core(session, WEBHOOK_SETUP_REFUSED, ask=True)
        path = f"/api/sessions/{path_segment(session)}"
        current = json_or_none(await self._http.request("GET", path))
        stored = current.get("config") if isinstance(current, dict) else None
        config = waha_webhook_config(
            stored, url=url, events=events, headers=headers, hmac_key=hmac_key
        )
        if config == stored:
            # WAHA stops and starts a running session on every PUT (sessions.controller.ts,
            # update): a session that has this webhook already is left alone.
            return
        answer = await self._http.request("PUT", path, json={"config": config}, expect=(400, 422))
        if answer.status_code in (400, 422):
            raise GatewayError(
                WEBHOOK_SETUP_REFUSED,
                f"WAHA refused the webhook settings of session {session!r} (HTTP "
                f"{answer.status_code}: {answer.text[:300]}); set its webhook by hand: url "
                f"{url}, events {', '.join(events)}",
                retryable=False,
                status_code=answer.status_code,
            )

    async def check_numbers(self, session: str, phones: Sequence[str]) -> dict[str, bool]:
        limit = asyncio.Semaphore(CHECK_CONCURRENCY)

        async def check(phone: str) -> bool:
            async with limit:
                response = await self._http.request(
                    "GET",
                    "/api/contacts/check-exists",
                    params={"phone": phone.lstrip("+"), "session": session},
                )
            body = json_or_none(response)
            return isinstance(body, dict) and body.get("numberExists") is True

        unique = list(dict.fromkeys(phones))
        found = await asyncio.gather(*(check(phone) for phone in unique), return_exceptions=True)
        for each in found:
            if isinstance(each, BaseException):
                raise each
        return {phone: each is True for phone, each in zip(unique, found, strict=True)}

    async def phone_of_lid(self, session: str, lid: str) -> str | None:
        """WAHA's lids API (2025 and later); None when it does not know the lid, or when this
        WAHA has no lids API (2024.10.8)."""
        jid = lid_of_jid(lid)
        if jid is None:
            raise ValueError(f"not a lid (<digits>@lid): {lid!r}")
        response = await self._http.request(
            "GET",
            f"/api/{path_segment(session)}/lids/{path_segment(jid)}",
            expect=(404,),
        )
        if response.status_code == 404:
            if WAHA_NO_SUCH_ROUTE in response.text.lower():
                return None
            raise http_failure(classify_http_failure, response)
        return waha_phone_of_lid(json_or_none(response))

    async def _refuse_on_core(self, session: str, reason: str, *, ask: bool = False) -> None:
        """Raise ``reason`` when the gateway is WAHA Core and ``session`` is not ``default``
        (asking the gateway what it is when ``ask``, or when it is not known yet)."""
        if session == WAHA_CORE_SESSION:
            return
        if self._info is None or ask:
            try:
                await self.server_info()
            except GatewayError:
                return  # cannot tell: the caller's own answer stands
        if self._info is not None and self._info.single_session_only:
            raise GatewayError(
                reason,
                "WAHA Core serves only the session named "
                f"'{WAHA_CORE_SESSION}', not {session!r}: name the account's session "
                f"'{WAHA_CORE_SESSION}' (one account per WAHA Core), or run WAHA Plus",
                retryable=False,
            )

    async def close(self) -> None:
        await self._http.close()
