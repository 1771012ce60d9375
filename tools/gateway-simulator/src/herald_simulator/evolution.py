"""Evolution API's shapes (v2, Baileys integration) for the subset Herald uses. Pure.

An Evolution *instance* is a simulator session of the same name; its connection state follows
the session's status: WORKING → ``open``; STARTING, SCAN_QR_CODE → ``connecting``; STOPPED,
FAILED → ``close``.

Errors have Evolution's shape ``{"status", "error", "response": {"message"}}``: 404 unknown
instance, 401 wrong ``apikey`` (in that order, as Evolution's guards run), 400 for a body its
JSON schema rejects (``instance requires property "text"``) or an empty text (``Text is
required``), 400 ``[{"jid", "exists": false, "number"}]`` for a number not on WhatsApp, 500
``Connection Closed`` when the instance is not open (Baileys' error, passed through). sendMedia
(``parse_send_media``) validates as 2.3.6 does: its schema, then a URL or base64 ``media`` and a
``fileName`` for a base64 document; a closed instance fails the upload first (500
``["Error: Connection Closed"]``).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from herald_simulator.config import SessionStatus

_STATES = {
    SessionStatus.WORKING: "open",
    SessionStatus.STARTING: "connecting",
    SessionStatus.SCAN_QR_CODE: "connecting",
    SessionStatus.STOPPED: "close",
    SessionStatus.FAILED: "close",
}
NUMBER_DIGITS = re.compile(r"[0-9]{5,20}")
CONNECTION_CLOSED = "Connection Closed"


def connection_state(status: SessionStatus) -> str:
    """Evolution's ``state`` of a session in this status."""
    return _STATES[status]


def error_body(status: int, message: Any) -> dict[str, Any]:
    """Evolution's error answer (its Express error handler's shape)."""
    return {"status": status, "error": HTTPStatus(status).phrase, "response": {"message": message}}


def instance_missing(instance: str) -> dict[str, Any]:
    return error_body(404, [f'The "{instance}" instance does not exist'])


def unauthorized() -> dict[str, Any]:
    return error_body(401, "Unauthorized")


def connection_state_body(instance: str, status: SessionStatus) -> dict[str, Any]:
    """``GET /instance/connectionState/{instance}``."""
    return {"instance": {"instanceName": instance, "state": connection_state(status)}}


def qr_body(value: str | None, png_base64: str | None, count: int) -> dict[str, Any]:
    """``GET /instance/connect/{instance}`` while connecting: what the instance holds so far
    (no ``code``/``base64`` until WhatsApp sent a QR, as Evolution omits undefined fields)."""
    body: dict[str, Any] = {"count": count}
    if value is not None:
        body["pairingCode"] = None
        body["code"] = value
    if png_base64 is not None:
        body["base64"] = f"data:image/png;base64,{png_base64}"
    return body


class BadRequest(Exception):
    """A 400 whose ``response.message`` is ``messages``."""

    def __init__(self, messages: list[Any]) -> None:
        super().__init__(messages)
        self.messages = messages


@dataclass(frozen=True, slots=True)
class EvolutionSendText:
    number: str
    text: str
    remote_jid: str


def remote_jid(number: str) -> str:
    """The jid Evolution sends to: a jid as given, else the digits (``+``, spaces, ``()-``
    dropped) and ``@s.whatsapp.net``."""
    if "@" in number:
        return number
    return re.sub(r"\D", "", number) + "@s.whatsapp.net"


def parse_send_text(body: Any) -> EvolutionSendText:
    """Validate a sendText body as Evolution does; raises BadRequest.

    The JSON schema first (every message at once), then Evolution's own check of the text, then
    whether the number can be on WhatsApp (5 to 20 digits): otherwise ``exists: false``.
    """
    fields = body if isinstance(body, dict) else {}
    problems: list[str] = []
    for key in ("number", "text"):
        if key not in fields:
            problems.append(f'instance requires property "{key}"')
    if "number" in fields and not isinstance(fields["number"], str):
        problems.append("Invalid format")
    if "text" in fields and not isinstance(fields["text"], str):
        problems.append("text is not of a type(s) string")
    if problems:
        raise BadRequest(problems)
    number: str = fields["number"]
    text: str = fields["text"]
    if not text.strip():
        raise BadRequest(["Text is required"])
    jid = remote_jid(number)
    if not NUMBER_DIGITS.fullmatch(jid.partition("@")[0]):
        raise BadRequest([not_on_whatsapp(jid, number)])
    return EvolutionSendText(number=number, text=text, remote_jid=jid)


MEDIA_TYPES = ("image", "document", "video", "audio")
"""sendMedia's ``mediatype`` enum (``src/validate/message.schema.ts`` ``mediaMessageSchema``)."""
_BASE64 = re.compile(r"[A-Za-z0-9+/]*={0,2}")
_URL_HOST = re.compile(
    r"(?:[0-9]{1,3}(?:\.[0-9]{1,3}){3}"  # an IPv4 address
    r"|(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}"  # a name with a TLD
    r")(?::[0-9]{1,5})?"
)


def is_base64(text: str) -> bool:
    """class-validator's ``isBase64`` (validator.js): a non-empty multiple of 4 characters of
    the base64 alphabet, ``=`` only as padding at the end."""
    return bool(text) and len(text) % 4 == 0 and bool(_BASE64.fullmatch(text))


def is_url(text: str) -> bool:
    """class-validator's ``isURL`` with its defaults, as far as Evolution's media goes: http,
    https or ftp (or no scheme), and a host that is an IP address or has a TLD (``localhost``
    and bare container names are not URLs to it)."""
    scheme, sep, rest = text.partition("://")
    if not sep:
        scheme, rest = "http", text
    if scheme.lower() not in ("http", "https", "ftp") or not rest or " " in text:
        return False
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    return bool(_URL_HOST.fullmatch(authority.rpartition("@")[2]))


@dataclass(frozen=True, slots=True)
class EvolutionSendMedia:
    number: str
    mediatype: str
    mimetype: str | None
    media: str
    caption: str
    file_name: str | None
    remote_jid: str

    @property
    def source(self) -> str:
        """``url`` or ``data``: how the file came."""
        return "data" if is_base64(self.media) else "url"


def parse_send_media(body: Any) -> EvolutionSendMedia:
    """Validate a sendMedia body as 2.3.6 does; raises BadRequest.

    Its JSON schema first (every message at once, nested in a list as seen), then its
    controller: a base64 document needs a ``fileName``, ``media`` must be a URL or base64.
    The number is checked only once the file is uploaded (see the route)."""
    fields = body if isinstance(body, dict) else {}
    problems: list[str] = []
    for key in ("number", "mediatype"):
        if key not in fields:
            problems.append(f'instance requires property "{key}"')
    if "number" in fields and not isinstance(fields["number"], str):
        problems.append("Invalid format")
    if "mediatype" in fields and fields["mediatype"] not in MEDIA_TYPES:
        problems.append(f"mediatype is not one of enum values: {','.join(MEDIA_TYPES)}")
    for key in ("mimetype", "media", "fileName", "caption"):
        if key in fields and not isinstance(fields[key], str):
            problems.append(f"{key} is not of a type(s) string")
    if problems:
        raise BadRequest([problems])
    media = fields.get("media") or ""
    file_name = fields.get("fileName")
    if is_base64(media) and not file_name and fields["mediatype"] == "document":
        raise BadRequest(["For base64 the file name must be informed."])
    if not (is_url(media) or is_base64(media)):
        raise BadRequest(["Owned media must be a url or base64"])
    number: str = fields["number"]
    return EvolutionSendMedia(
        number=number,
        mediatype=fields["mediatype"],
        mimetype=fields.get("mimetype"),
        media=media,
        caption=fields.get("caption") or "",
        file_name=file_name,
        remote_jid=remote_jid(number),
    )


def sent_media_message(
    instance: str, *, request: EvolutionSendMedia, message_id: str, timestamp: int
) -> dict[str, Any]:
    """The 201 answer of sendMedia: ``prepareMessage`` of the Baileys media message
    (``messageType`` ``imageMessage``, ``documentMessage``, …)."""
    kind = f"{request.mediatype}Message"
    content: dict[str, Any] = {
        "url": f"https://mmg.whatsapp.net/v/t62.7118-24/{timestamp}.enc",
        "mimetype": request.mimetype or "application/octet-stream",
        "caption": request.caption,
        "fileLength": 1024,
        "mediaKeyTimestamp": timestamp,
        "fileName": request.file_name or f"{request.mediatype}",
    }
    answer = sent_message(
        instance,
        remote_jid=request.remote_jid,
        text=request.caption,
        message_id=message_id,
        timestamp=timestamp,
    )
    answer.update(message={kind: content}, messageType=kind)
    return answer


def not_on_whatsapp(jid: str, number: str) -> dict[str, Any]:
    """The item Evolution answers (in a 400) for a number WhatsApp does not know."""
    return {"jid": jid, "exists": False, "number": number}


def instance_id(instance: str) -> str:
    """A stable UUID for an instance, as Evolution gives every instance one."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, f"herald-simulator/{instance}"))


def sent_message(
    instance: str, *, remote_jid: str, text: str, message_id: str, timestamp: int
) -> dict[str, Any]:
    """The 201 answer of sendText: Evolution's ``prepareMessage`` of the Baileys message."""
    return {
        "key": {"remoteJid": remote_jid, "fromMe": True, "id": message_id},
        "pushName": "Você",  # Evolution's own default for messages it sent
        "status": "PENDING",
        "message": {"conversation": text},
        "contextInfo": None,
        "messageType": "conversation",
        "messageTimestamp": timestamp,
        "instanceId": instance_id(instance),
        "source": "unknown",
    }


def welcome(version: str) -> dict[str, Any]:
    """``GET /``: Evolution's greeting, with its version."""
    return {
        "status": 200,
        "message": "Welcome to the Evolution API, it is working!",
        "version": version,
        "clientName": "evolution_exchange",
        "manager": "http://simulator/manager",
        "documentation": "https://doc.evolution-api.com",
    }


def name_in_use(name: str) -> dict[str, Any]:
    """``POST /instance/create`` for a name in use: its instance guard's 403."""
    return error_body(403, [f'This name "{name}" is already in use.'])


def created_body(name: str) -> dict[str, Any]:
    """``POST /instance/create``'s 201 (the fields Herald may read)."""
    return {
        "instance": {
            "instanceName": name,
            "instanceId": instance_id(name),
            "integration": "WHATSAPP-BAILEYS",
            "webhookWaBusiness": None,
            "accessTokenWaBusiness": "",
            "status": "close",
        },
        "hash": instance_id(name).upper(),
        "webhook": {},
        "settings": {"rejectCall": False, "groupsIgnore": False, "alwaysOnline": False},
        "qrcode": {"count": 0},
    }


def webhook_body(instance: str, webhook: dict[str, Any]) -> dict[str, Any]:
    """``/webhook/set`` and ``/webhook/find``: the stored webhook."""
    return {"id": f"wh-{instance_id(instance)[:8]}", **webhook, "instanceId": instance_id(instance)}


def connection_closed_boom() -> dict[str, Any]:
    """What 2.3.6 answers (with HTTP 400) when whatsappNumbers meets a closed connection:
    Baileys' Boom error as it is, not Evolution's error shape."""
    return {
        "data": None,
        "isBoom": True,
        "isServer": False,
        "output": {
            "statusCode": 428,
            "payload": {
                "statusCode": 428,
                "error": "Precondition Required",
                "message": CONNECTION_CLOSED,
            },
            "headers": {},
        },
    }


def lid_on_whatsapp(number: str, cached_digits: str | None, name: str | None) -> dict[str, Any]:
    """One item of a whatsappNumbers answer for a lid (``<digits>@lid``): from the
    on-WhatsApp cache, the number's jid when the cache holds the lid (with the contact's
    name), else the lid itself, said to exist (Baileys is not asked about lids)."""
    if cached_digits is None:
        return {"jid": number, "exists": True, "number": number, "lid": "lid"}
    item: dict[str, Any] = {"jid": f"{cached_digits}@s.whatsapp.net", "exists": True}
    item["number"] = number
    if name is not None:
        item["name"] = name
    return item


def number_on_whatsapp(number: str, unknown: set[str]) -> dict[str, Any]:
    """One item of a whatsappNumbers answer (``OnWhatsAppDto``)."""
    jid = remote_jid(number)
    digits = jid.partition("@")[0]
    exists = bool(NUMBER_DIGITS.fullmatch(digits)) and digits not in unknown
    return {"jid": jid, "exists": exists, "number": number}
