"""The WAHA gateway adapter (engines NOWEB = Baileys, WEBJS = whatsapp-web.js)."""

from __future__ import annotations

from typing import Any

import httpx

from herald_shared.sender.gateway import SendReceipt
from herald_shared.sender.send_errors import classify_http_failure, classify_transport_failure

MESSAGE_ID_HEADER = "X-Herald-Message-Id"
"""Sent along with every request; real gateways ignore it, the simulator counts sends by it."""


def chat_id(phone: str) -> str:
    """WAHA's chat id of an E.164 number: the digits and ``@c.us``."""
    return f"{phone.lstrip('+')}@c.us"


def gateway_message_id(body: Any) -> str | None:
    """The message id in a sendText answer, whichever engine shaped it."""
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
    return None


class WahaGateway:
    def __init__(self, base_url: str, api_key: str | None, timeout_seconds: float) -> None:
        headers = {"X-Api-Key": api_key} if api_key else {}
        self._http = httpx.AsyncClient(
            base_url=base_url,
            headers=headers,
            timeout=timeout_seconds,
            limits=httpx.Limits(max_connections=200, max_keepalive_connections=50),
        )

    async def send_text(
        self, *, session: str, phone: str, text: str, message_id: str
    ) -> SendReceipt:
        try:
            response = await self._http.post(
                "/api/sendText",
                json={"session": session, "chatId": chat_id(phone), "text": text},
                headers={MESSAGE_ID_HEADER: message_id},
            )
        except httpx.TransportError as error:
            raise classify_transport_failure(error) from error
        if response.status_code >= 300:
            raise classify_http_failure(response.status_code, response.text[:500])
        try:
            body = response.json()
        except ValueError:
            body = None
        return SendReceipt(gateway_message_id=gateway_message_id(body))

    async def session_status(self, session: str) -> str:
        try:
            response = await self._http.get(f"/api/sessions/{session}")
        except httpx.TransportError as error:
            raise classify_transport_failure(error) from error
        if response.status_code >= 300:
            raise classify_http_failure(response.status_code, response.text[:500])
        return str(response.json().get("status", "UNKNOWN"))

    async def close(self) -> None:
        await self._http.aclose()
