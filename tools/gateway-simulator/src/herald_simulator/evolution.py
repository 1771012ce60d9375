"""Evolution API's shapes (v2, Baileys integration) for the subset Herald uses. Pure.

An Evolution *instance* is a simulator session of the same name; its connection state follows
the session's status: WORKING → ``open``; STARTING, SCAN_QR_CODE → ``connecting``; STOPPED,
FAILED → ``close``.

Errors have Evolution's shape ``{"status", "error", "response": {"message"}}``: 404 unknown
instance, 401 wrong ``apikey`` (in that order, as Evolution's guards run), 400 for a body its
JSON schema rejects (``instance requires property "text"``) or an empty text (``Text is
required``), 400 ``[{"jid", "exists": false, "number"}]`` for a number not on WhatsApp, 500
``Connection Closed`` when the instance is not open (Baileys' error, passed through).
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


def number_on_whatsapp(number: str, unknown: set[str]) -> dict[str, Any]:
    """One item of a whatsappNumbers answer (``OnWhatsAppDto``)."""
    jid = remote_jid(number)
    digits = jid.partition("@")[0]
    exists = bool(NUMBER_DIGITS.fullmatch(digits)) and digits not in unknown
    return {"jid": jid, "exists": exists, "number": number}
