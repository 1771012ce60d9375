"""The WAHA gateway adapter (engines NOWEB = Baileys, WEBJS = whatsapp-web.js).

The subset of WAHA's HTTP API it uses, authenticated with the ``X-Api-Key`` header:

- ``POST /api/sendText`` ``{"session", "chatId": "<digits>@c.us", "text"}`` → 201 with the
  engine's message: NOWEB a Baileys ``WAMessage`` (id in ``key.id``), WEBJS a whatsapp-web.js
  ``Message`` (id in ``id._serialized``, or in ``_data.id`` when only that is there). Some
  versions answer 201 with an empty body (WEBJS, devlikeapro/waha#1087): sent, id unknown.
- ``GET /api/sessions/{session}`` → ``{"name", "status", "me": {"id", "pushName"} | null,
  "engine": {"engine"}}``; status is one of STOPPED, STARTING, SCAN_QR_CODE, WORKING, FAILED.
- ``GET /api/{session}/auth/qr?format=image`` with ``Accept: application/json`` →
  ``{"mimetype": "image/png", "data": "<base64>"}``; only in SCAN_QR_CODE (else 422).

Errors are classified by ``send_errors.classify_http_failure``.
"""

from __future__ import annotations

from typing import Any

from herald_gateways.failures import SESSION_NOT_CONNECTED, classify_http_failure
from herald_gateways.http_client import (
    MESSAGE_ID_HEADER,
    GatewayHttp,
    json_or_none,
    path_segment,
)
from herald_gateways.interface import (
    GatewayError,
    LoginQr,
    SendReceipt,
    SessionHealth,
    SessionStatus,
)
from herald_gateways.session_states import waha_session_health

__all__ = ["MESSAGE_ID_HEADER", "WahaGateway", "chat_id", "gateway_message_id", "waha_login_qr"]


def chat_id(phone: str) -> str:
    """WAHA's chat id of an E.164 number: the digits and ``@c.us``."""
    return f"{phone.lstrip('+')}@c.us"


def gateway_message_id(body: Any) -> str | None:
    """The message id in a sendText answer, whichever engine shaped it (None: no id in it)."""
    if not isinstance(body, dict):
        return None
    key = body.get("key")
    if isinstance(key, dict) and key.get("id"):  # NOWEB (Baileys)
        return str(key["id"])
    ident = body.get("id")
    if isinstance(ident, dict):  # WEBJS (whatsapp-web.js)
        return str(ident.get("_serialized") or ident.get("id") or "") or None
    if isinstance(ident, str) and ident:
        return ident
    data = body.get("_data")  # WEBJS: the raw message, when the top level lacks the id
    if isinstance(data, dict) and isinstance(data.get("id"), dict):
        return gateway_message_id({"id": data["id"]})
    return None


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


class WahaGateway:
    def __init__(self, base_url: str, api_key: str | None, timeout_seconds: float) -> None:
        headers = {"X-Api-Key": api_key} if api_key else {}
        self._http = GatewayHttp(base_url, headers, timeout_seconds, classify_http_failure)

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

    async def session_health(self, session: str) -> SessionHealth:
        response = await self._http.request("GET", f"/api/sessions/{path_segment(session)}")
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

    async def close(self) -> None:
        await self._http.close()
