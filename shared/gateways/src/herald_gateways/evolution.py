"""The Evolution API gateway adapter (v2; Baileys-based).

The subset of Evolution API's HTTP API it uses, authenticated with the ``apikey`` header:

- ``POST /message/sendText/{instance}`` ``{"number": "<digits>", "text"}`` → 201 with the sent
  message ``{"key": {"remoteJid", "fromMe", "id"}, "message", "messageTimestamp", "status",
  ...}``; the id is ``key.id``.
- ``GET /instance/connectionState/{instance}`` → ``{"instance": {"instanceName", "state"}}``,
  state ``open``, ``connecting`` or ``close`` (session_health normalises it).
- ``GET /instance/connect/{instance}`` → while connecting, the login QR ``{"pairingCode",
  "code", "base64": "data:image/png;base64,...", "count"}`` (fields missing until WhatsApp
  sent a QR); when open, the connectionState answer. On a closed instance it starts a
  connection (that is how Evolution logs in again), so only ``login_qr`` calls it that way;
  ``session_health`` calls it only while the state is ``connecting``, to tell STARTING from
  SCAN_QR_CODE.

Errors are ``{"status", "error", "response": {"message"}}``, classified by
``send_errors.classify_evolution_failure``.
"""

from __future__ import annotations

from typing import Any

from herald_gateways.failures import classify_evolution_failure
from herald_gateways.http_client import (
    MESSAGE_ID_HEADER,
    GatewayHttp,
    json_or_none,
    path_segment,
)
from herald_gateways.interface import LoginQr, SendReceipt, SessionHealth
from herald_gateways.session_states import evolution_state, evolution_status


def evolution_number(phone: str) -> str:
    """Evolution's ``number`` of an E.164 number: the digits."""
    return phone.lstrip("+")


def evolution_message_id(body: Any) -> str | None:
    """``key.id`` of a sendText answer (None: the answer has no id)."""
    key = body.get("key") if isinstance(body, dict) else None
    ident = key.get("id") if isinstance(key, dict) else None
    return str(ident) if ident else None


def evolution_login_qr(body: Any) -> LoginQr | None:
    """The login QR in a ``/instance/connect`` answer (None: connected, or no QR yet)."""
    if not isinstance(body, dict):
        return None
    code = body.get("code")
    value = code if isinstance(code, str) and code else None
    mimetype, image = _split_data_url(body.get("base64"))
    pairing = body.get("pairingCode")
    if value is None and image is None:
        return None
    return LoginQr(
        mimetype=mimetype,
        image_base64=image,
        value=value,
        pairing_code=pairing if isinstance(pairing, str) and pairing else None,
    )


def _split_data_url(text: Any) -> tuple[str | None, str | None]:
    """``data:image/png;base64,AAAA`` → (``image/png``, ``AAAA``); bare base64 is a PNG."""
    if not isinstance(text, str) or not text:
        return None, None
    head, comma, data = text.partition(",")
    if comma and head.startswith("data:") and head.endswith(";base64"):
        return head[len("data:") : -len(";base64")] or "image/png", data or None
    return "image/png", text


class EvolutionGateway:
    def __init__(self, base_url: str, api_key: str | None, timeout_seconds: float) -> None:
        headers = {"apikey": api_key} if api_key else {}
        self._http = GatewayHttp(base_url, headers, timeout_seconds, classify_evolution_failure)

    async def send_text(
        self, *, session: str, phone: str, text: str, message_id: str
    ) -> SendReceipt:
        response = await self._http.request(
            "POST",
            f"/message/sendText/{path_segment(session)}",
            json={"number": evolution_number(phone), "text": text},
            headers={MESSAGE_ID_HEADER: message_id},
        )
        return SendReceipt(gateway_message_id=evolution_message_id(json_or_none(response)))

    async def session_health(self, session: str) -> SessionHealth:
        response = await self._http.request(
            "GET", f"/instance/connectionState/{path_segment(session)}"
        )
        state = evolution_state(json_or_none(response))
        qr_pending = state == "connecting" and await self._connect(session) is not None
        return SessionHealth(
            status=evolution_status(state, qr_pending=qr_pending), gateway_status=state or ""
        )

    async def session_status(self, session: str) -> str:
        return (await self.session_health(session)).status.value

    async def login_qr(self, session: str) -> LoginQr | None:
        return await self._connect(session)

    async def _connect(self, session: str) -> LoginQr | None:
        response = await self._http.request("GET", f"/instance/connect/{path_segment(session)}")
        return evolution_login_qr(json_or_none(response))

    async def close(self) -> None:
        await self._http.close()
