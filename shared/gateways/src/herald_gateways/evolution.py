"""The Evolution API gateway adapter (v2; Baileys-based). Evolution API v1 is not supported:
its sendText body and webhook routes differ, and ``server_info`` tells it (account creation
refuses it, see ``support.check_gateway_setup``).

The subset of Evolution API's HTTP API it uses, authenticated with the ``apikey`` header:

- ``POST /message/sendText/{instance}`` ``{"number": "<digits>", "text"}`` → 201 with the sent
  message ``{"key": {"remoteJid", "fromMe", "id"}, "message", "messageTimestamp", "status",
  ...}``; the id is ``key.id``. Evolution checks the number is on WhatsApp first (400
  ``[{"jid", "exists": false, "number"}]``), which needs a connected instance.
- ``POST /message/sendMedia/{instance}`` ``{"number", "mediatype": "image" | "video" |
  "document", "mimetype", "media": <URL or base64>, "caption", "fileName"}`` → 201 with the sent
  message as sendText's (``message.imageMessage``, ``messageType: "imageMessage"``, …). Its
  schema (``src/validate/message.schema.ts``) wants ``number`` and ``mediatype``; its
  controller a ``media`` that is a URL (class-validator's ``isURL``: a host with a TLD or an
  IP) or base64, and a ``fileName`` with a base64 document (else 400). Evolution fetches a URL
  and uploads the file before the number check: a closed instance answers 500
  ``["Error: Connection Closed"]``, a URL it cannot fetch 500 with the fetch error.
- ``GET /instance/connectionState/{instance}`` → ``{"instance": {"instanceName", "state"}}``,
  state ``open``, ``connecting`` or ``close`` (session_health normalises it).
- ``GET /instance/connect/{instance}`` → while connecting, the login QR ``{"pairingCode",
  "code", "base64": "data:image/png;base64,...", "count"}`` (fields missing until WhatsApp
  sent a QR); when open, the connectionState answer. On a closed instance it starts a
  connection (that is how Evolution logs in again), so only ``login_qr`` calls it that way;
  ``session_health`` calls it only while the state is ``connecting``, to tell STARTING from
  SCAN_QR_CODE.
- ``POST /instance/create`` ``{"instanceName", "integration": "WHATSAPP-BAILEYS", "qrcode"}``
  → 201; 403 ``This name "x" is already in use.`` when it exists (then it is adopted).
- ``POST /webhook/set/{instance}`` ``{"webhook": {"enabled", "url", "headers", "byEvents",
  "base64", "events"}}``; Evolution signs nothing, so receipts are authenticated by a header
  (or the URL) Herald sets here. ``byEvents`` is always sent: left out, it keeps its old value.
- ``POST /chat/whatsappNumbers/{instance}`` ``{"numbers": [...]}`` → ``[{"exists", "jid",
  "number"}]``, a list at once.
- ``GET /`` → ``{"status", "message", "version", "clientName", ...}``.

Evolution 2.3.6 has no route from a lid to a phone number. Its ``messages.upsert`` usually
says both (``key.remoteJidAlt``, see ``inbound``); beyond that, ``whatsappNumbers`` answers a
lid from its on-WhatsApp cache (``src/utils/onWhatsappCache.ts``), which knows a lid's number
only when it came as the ``remoteJidAlt`` of a phone-addressed message, and only with
``DATABASE_SAVE_DATA_IS_ON_WHATSAPP``; otherwise it answers the lid itself.

Errors are ``{"status", "error", "response": {"message"}}``, classified by
``failures.classify_evolution_failure``.
"""

from __future__ import annotations

import mimetypes
from collections.abc import Mapping, Sequence
from typing import Any

import httpx

from herald_gateways.failures import WEBHOOK_SETUP_REFUSED, classify_evolution_failure
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
)
from herald_gateways.message_ids import bare_message_id
from herald_gateways.session_states import evolution_state, evolution_status
from herald_gateways.support import EVOLUTION_MIN_MAJOR, major_version

EVOLUTION_WEBHOOK_EVENTS = ("MESSAGES_UPDATE", "MESSAGES_UPSERT", "CONNECTION_UPDATE")
"""What Herald needs from Evolution: receipts (posted as ``messages.update``), inbound messages
(``messages.upsert``), connection state (``connection.update``)."""
EVOLUTION_INTEGRATION = "WHATSAPP-BAILEYS"


def evolution_gateway_info(body: Any) -> GatewayInfo:
    """A ``GET /`` answer as a GatewayInfo."""
    version = body.get("version") if isinstance(body, dict) else None
    return GatewayInfo(
        product="evolution",
        version=version if isinstance(version, str) else "",
        tier=None,
        engine=None,
    )


def evolution_number(phone: str) -> str:
    """Evolution's ``number`` of an E.164 number: the digits."""
    return phone.lstrip("+")


def evolution_media_body(phone: str, media: MediaFile, caption: str) -> dict[str, Any]:
    """The body of sendMedia (``src/api/dto/sendMessage.dto.ts`` ``SendMediaDto``).

    A document always gets a ``fileName``: Evolution refuses a base64 one without it, derives
    one from a URL with a regular expression that fails on URLs without an extension, and
    reads the mimetype from the name's extension, so a made-up name keeps the mimetype's."""
    body: dict[str, Any] = {
        "number": evolution_number(phone),
        "mediatype": media.kind,
        "mimetype": media.mimetype,
        "media": media.url if media.url is not None else media.data_base64,
        "caption": caption,
    }
    filename = media.filename
    if filename is None and media.kind == "document":
        filename = "document" + (mimetypes.guess_extension(media.mimetype) or "")
    if filename is not None:
        body["fileName"] = filename
    return body


def evolution_message_id(body: Any) -> str | None:
    """``key.id`` of a sendText or sendMedia answer (None: the answer has no id)."""
    key = body.get("key") if isinstance(body, dict) else None
    ident = key.get("id") if isinstance(key, dict) else None
    return bare_message_id(str(ident)) if ident else None


def evolution_numbers_on_whatsapp(body: Any, numbers: Mapping[str, str]) -> dict[str, bool]:
    """A whatsappNumbers answer as {phone: on WhatsApp}; ``numbers`` maps each number sent to
    its phone. A number the answer leaves out is not on WhatsApp."""
    found = {phone: False for phone in numbers.values()}
    for item in body if isinstance(body, list) else []:
        if not isinstance(item, dict):
            continue
        phone = numbers.get(str(item.get("number") or "").lstrip("+"))
        if phone is not None and item.get("exists") is True:
            found[phone] = True
    return found


def evolution_phone_of_lid(body: Any, lid: str) -> str | None:
    """The phone number a whatsappNumbers answer gives for ``lid``: its item's ``jid`` when
    that is a phone number's (None: the answer names the lid itself, or nothing)."""
    for item in body if isinstance(body, list) else []:
        if isinstance(item, dict) and item.get("number") == lid and item.get("exists") is True:
            return phone_of_jid(item.get("jid"))
    return None


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
        headers = {"apikey": api_key} if api_key else {}
        self._http = GatewayHttp(
            base_url, headers, timeout_seconds, classify_evolution_failure, transport
        )

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

    async def send_media(
        self, *, session: str, phone: str, media: MediaFile, caption: str, message_id: str
    ) -> SendReceipt:
        response = await self._http.request(
            "POST",
            f"/message/sendMedia/{path_segment(session)}",
            json=evolution_media_body(phone, media, caption),
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

    async def server_info(self) -> GatewayInfo:
        return evolution_gateway_info(json_or_none(await self._http.request("GET", "/")))

    async def ensure_session(self, session: str) -> bool:
        created = await self._http.request(
            "POST",
            "/instance/create",
            json={"instanceName": session, "integration": EVOLUTION_INTEGRATION, "qrcode": True},
            expect=(403,),
        )
        if created.status_code == 403 and "already in use" not in created.text:
            raise http_failure(classify_evolution_failure, created)
        return created.status_code != 403

    async def configure_webhook(
        self,
        session: str,
        *,
        url: str,
        events: Sequence[str],
        headers: Mapping[str, str],
        hmac_key: str | None,
    ) -> None:
        # Evolution signs nothing: hmac_key has no use here; the headers (or the URL) carry
        # what proves a webhook came from this instance.
        del hmac_key
        info = await self.server_info()
        major = major_version(info.version)
        if major is not None and major < EVOLUTION_MIN_MAJOR:
            raise GatewayError(
                WEBHOOK_SETUP_REFUSED,
                f"Evolution API {info.version} is v1, which Herald does not support (its "
                "sendText body and webhook settings differ); upgrade to Evolution API v2",
                retryable=False,
            )
        answer = await self._http.request(
            "POST",
            f"/webhook/set/{path_segment(session)}",
            json={
                "webhook": {
                    "enabled": True,
                    "url": url,
                    "headers": dict(headers),
                    "byEvents": False,
                    "base64": False,
                    "events": list(events),
                }
            },
            expect=(400,),
        )
        if answer.status_code == 400:
            raise GatewayError(
                WEBHOOK_SETUP_REFUSED,
                f"Evolution refused the webhook settings of instance {session!r} "
                f"({answer.text[:300]}); set its webhook by hand: url {url}, byEvents off, "
                f"events {', '.join(events)}, headers {', '.join(headers)}",
                retryable=False,
                status_code=answer.status_code,
            )

    async def check_numbers(self, session: str, phones: Sequence[str]) -> dict[str, bool]:
        numbers = {evolution_number(phone): phone for phone in phones}
        if not numbers:
            return {}
        response = await self._http.request(
            "POST",
            f"/chat/whatsappNumbers/{path_segment(session)}",
            json={"numbers": list(numbers)},
        )
        return evolution_numbers_on_whatsapp(json_or_none(response), numbers)

    async def phone_of_lid(self, session: str, lid: str) -> str | None:
        """What Evolution's on-WhatsApp cache knows of ``lid`` (``whatsappNumbers``; see the
        module's docstring): often nothing, so None is the usual answer."""
        jid = lid_of_jid(lid)
        if jid is None:
            raise ValueError(f"not a lid (<digits>@lid): {lid!r}")
        response = await self._http.request(
            "POST", f"/chat/whatsappNumbers/{path_segment(session)}", json={"numbers": [jid]}
        )
        return evolution_phone_of_lid(json_or_none(response), jid)

    async def close(self) -> None:
        await self._http.close()
