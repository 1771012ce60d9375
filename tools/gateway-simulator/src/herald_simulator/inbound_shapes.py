"""The webhook bodies of a message a recipient sends, as each gateway posts them. Pure.

WAHA ``message`` (``src/core/webhooks.core.ts`` callWebhook: ``{event, session, me, payload,
engine, environment}``), ``payload`` per engine:

- NOWEB (2024.10.8, Baileys 6.7.8; ``session.noweb.core.ts`` toWAMessage): ``{id:
  "false_<chat>_<id>", timestamp, from, fromMe: false, body, hasMedia, ack: null (NaN),
  ackName: "UNKNOWN", replyTo: null, _data}``; no ``to`` in a direct chat; ``_data`` is
  Baileys' message (``key``, ``messageTimestamp``, ``pushName``, ``broadcast``, ``message``).
  A lid-addressed sender stays ``<lid>@lid``, with no number beside it.
- WEBJS (2024.10.8, whatsapp-web.js 1.26): ``{id, timestamp, from, fromMe: false, to: <us>,
  body, hasMedia, ack: 1, ackName: "SERVER", vCards: [], _data}``, ``_data`` the WhatsApp Web
  ``Msg`` (``notifyName``, ``self: "in"``). Always the phone number's ``@c.us``.
- GOWS (2025, whatsmeow; ``session.gows.core.ts`` toWAMessage): ``{id, timestamp, from,
  fromMe: false, source: "app", body, to: null, participant: null, hasMedia, media: null,
  ack: null, ackName: "UNKNOWN", replyTo: null, _data: {Info, Message}}``; lid-addressed, the
  chat is the ``@lid`` and ``Info.SenderAlt`` the number.

Evolution ``messages.upsert`` (2.3.6, Baileys 7.0.0-rc.6; ``whatsapp.baileys.service.ts``
prepareMessage, ``webhook.controller.ts``): ``{event, instance, data: {key: {remoteJid,
remoteJidAlt, fromMe: false, id, addressingMode}, pushName, status: "DELIVERY_ACK", message:
{conversation}, messageType: "conversation", messageTimestamp, instanceId, source},
destination, date_time, sender, server_url, apikey}``.

The shapes are checked against ``tests/real_gateways/fixtures`` (``message``,
``messages.upsert``).
"""

from __future__ import annotations

import random
import time
from dataclasses import dataclass
from typing import Any

from herald_simulator.lids import lid_of_phone

PHONE_SERVER = "s.whatsapp.net"
WAHA_ENVIRONMENT = {"version": "2024.10.8", "browser": None}
LID_ENGINES = frozenset({"NOWEB", "GOWS", "EVOLUTION"})
"""Who passes a lid-addressed sender on as it is (WEBJS, in 2024.10.8, is not shown to)."""
DEFAULT_ADDRESSING = {"GOWS": "lid"}
"""How each engine names a sender by default (``pn`` otherwise)."""


@dataclass(frozen=True, slots=True)
class InboundText:
    """One text a recipient sends to a session."""

    digits: str
    """The sender's number, no ``+``."""
    text: str
    message_id: str
    """The bare id, as the sender's phone made it (``phone_message_id``)."""
    timestamp: int
    """Epoch seconds."""
    push_name: str
    addressing: str
    """``pn`` or ``lid``: how the gateway names the sender (``addressing_for``)."""

    @property
    def phone_jid(self) -> str:
        return f"{self.digits}@{PHONE_SERVER}"

    @property
    def lid(self) -> str:
        return lid_of_phone(self.digits)

    @property
    def by_lid(self) -> bool:
        return self.addressing == "lid"


def addressing_for(engine: str, wanted: str | None) -> str:
    """``pn`` or ``lid`` for a sender on this engine (``EVOLUTION`` for Evolution API):
    ``wanted`` where the engine carries a lid, else its default."""
    if wanted is not None and engine in LID_ENGINES:
        return wanted
    return DEFAULT_ADDRESSING.get(engine, "pn")


def phone_message_id(rng: random.Random) -> str:
    """A message id as an Android phone makes it: 32 upper-case hex digits (Baileys'
    ``getDevice`` reads ``android`` from that length)."""
    return f"{rng.getrandbits(128):032X}"


def _cus(jid: str) -> str:
    """WAHA's ``toCusFormat``: a phone number's ``@s.whatsapp.net`` as ``@c.us``; a lid as is."""
    return jid.replace(f"@{PHONE_SERVER}", "@c.us")


def _noweb_payload(message: InboundText) -> dict[str, Any]:
    remote = message.lid if message.by_lid else message.phone_jid
    chat = _cus(remote)
    return {
        "id": f"false_{chat}_{message.message_id}",
        "timestamp": message.timestamp,
        "from": chat,
        "fromMe": False,
        "body": message.text,
        "hasMedia": False,
        "ack": None,
        "ackName": "UNKNOWN",
        "replyTo": None,
        "_data": {
            "key": {"remoteJid": remote, "fromMe": False, "id": message.message_id},
            "messageTimestamp": message.timestamp,
            "pushName": message.push_name,
            "broadcast": False,
            "message": {"conversation": message.text},
        },
    }


def _webjs_payload(message: InboundText, me_id: str) -> dict[str, Any]:
    chat = _cus(message.phone_jid)
    serialized = f"false_{chat}_{message.message_id}"
    return {
        "id": serialized,
        "timestamp": message.timestamp,
        "from": chat,
        "fromMe": False,
        "to": me_id,
        "body": message.text,
        "hasMedia": False,
        "ack": 1,
        "ackName": "SERVER",
        "vCards": [],
        "_data": {
            "id": {
                "fromMe": False,
                "remote": chat,
                "id": message.message_id,
                "_serialized": serialized,
            },
            "viewed": False,
            "body": message.text,
            "type": "chat",
            "t": message.timestamp,
            "notifyName": message.push_name,
            "from": chat,
            "to": me_id,
            "self": "in",
            "ack": 1,
            "isNewMsg": True,
            "star": False,
            "broadcast": False,
            "mentionedJidList": [],
            "isForwarded": False,
            "labels": [],
        },
    }


def _gows_payload(message: InboundText) -> dict[str, Any]:
    chat, alternate = (
        (message.lid, message.phone_jid) if message.by_lid else (message.phone_jid, message.lid)
    )
    sent_at = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(message.timestamp))
    return {
        "id": f"false_{_cus(chat)}_{message.message_id}",
        "timestamp": message.timestamp,
        "from": _cus(chat),
        "fromMe": False,
        "source": "app",
        "body": message.text,
        "to": None,
        "participant": None,
        "hasMedia": False,
        "media": None,
        "ack": None,
        "ackName": "UNKNOWN",
        "replyTo": None,
        "_data": {
            "Info": {
                "Chat": chat,
                "Sender": chat,
                "IsFromMe": False,
                "IsGroup": False,
                "AddressingMode": message.addressing,
                "SenderAlt": alternate,
                "RecipientAlt": "",
                "BroadcastListOwner": "",
                "ID": message.message_id,
                "ServerID": 0,
                "Type": "text",
                "PushName": message.push_name,
                "Timestamp": sent_at,
                "Category": "",
                "Multicast": False,
                "MediaType": "",
                "Edit": "",
            },
            "Message": {"conversation": message.text},
        },
    }


def waha_message_event(
    message: InboundText, *, session: str, engine: str, me_id: str, tier: str
) -> dict[str, Any]:
    """WAHA's ``message`` webhook body for ``message``, as ``engine`` shapes its payload."""
    me: dict[str, Any] = {"id": me_id, "pushName": f"Herald simulator ({session})"}
    if engine == "GOWS":
        payload = _gows_payload(message)
        me["lid"] = lid_of_phone(me_id.partition("@")[0])
    elif engine == "WEBJS":
        payload = _webjs_payload(message, me_id)
    else:
        payload = _noweb_payload(message)
    return {
        "event": "message",
        "session": session,
        "me": me,
        "payload": payload,
        "engine": engine,
        "environment": {**WAHA_ENVIRONMENT, "engine": engine, "tier": tier},
    }


def evolution_upsert_event(
    message: InboundText,
    *,
    instance: str,
    instance_id: str,
    me_id: str,
    destination: str,
    server_url: str,
    date_time: str,
) -> dict[str, Any]:
    """Evolution's ``messages.upsert`` webhook body for ``message``."""
    if message.by_lid:
        key_jids = {"remoteJid": message.lid, "remoteJidAlt": message.phone_jid}
    else:
        key_jids = {"remoteJid": message.phone_jid, "remoteJidAlt": message.lid}
    key = {**key_jids, "fromMe": False, "id": message.message_id}
    key["addressingMode"] = message.addressing
    return {
        "event": "messages.upsert",
        "instance": instance,
        "data": {
            "key": key,
            "pushName": message.push_name,
            "status": "DELIVERY_ACK",
            "message": {"conversation": message.text},
            "messageType": "conversation",
            "messageTimestamp": message.timestamp,
            "instanceId": instance_id,
            "source": "android",
        },
        "destination": destination,
        "date_time": date_time,
        "sender": me_id.replace("@c.us", f"@{PHONE_SERVER}"),
        "server_url": server_url,
        "apikey": instance_id.upper(),
    }
