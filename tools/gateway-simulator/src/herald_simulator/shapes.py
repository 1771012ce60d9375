"""Engine-specific JSON bodies of a successful ``POST /api/sendText``."""

from __future__ import annotations

from typing import Any

from herald_simulator.config import Engine


def sent_message(
    engine: Engine, *, chat_id: str, text: str, message_id: str, timestamp: int, me_id: str
) -> dict[str, Any]:
    """What WAHA answers for a text message that was handed to WhatsApp.

    NOWEB (Baileys): a Baileys ``WAMessage``; the id is ``key.id`` and ``messageTimestamp`` is
    a string of epoch seconds, as WAHA serialises it. GOWS (whatsmeow): ``{"id":
    "true_<chatId>_<id>", "_data"}``, the serialized id as a string and whatsmeow's message
    under ``_data``. WEBJS: a whatsapp-web.js ``Message``; the id is ``id.id``
    (``id._serialized`` is ``true_<chatId>_<id>``), ``timestamp`` is an int.
    """
    if engine is Engine.GOWS:
        return {
            "id": f"true_{chat_id}_{message_id}",
            "_data": {
                "Info": {
                    "ID": message_id,
                    "Chat": chat_id.replace("@c.us", "@s.whatsapp.net"),
                    "IsFromMe": True,
                    "Timestamp": timestamp,
                },
                "Message": {"conversation": text},
            },
        }
    if engine is Engine.NOWEB:
        return {
            "key": {"remoteJid": chat_id, "fromMe": True, "id": message_id},
            "message": {"extendedTextMessage": {"text": text}},
            "messageTimestamp": str(timestamp),
            "status": "PENDING",
        }
    return {
        "id": {
            "fromMe": True,
            "remote": chat_id,
            "id": message_id,
            "_serialized": f"true_{chat_id}_{message_id}",
        },
        "ack": 0,
        "hasMedia": False,
        "body": text,
        "type": "chat",
        "timestamp": timestamp,
        "from": me_id,
        "to": chat_id,
        "deviceType": "web",
        "isForwarded": False,
        "forwardingScore": 0,
        "isStatus": False,
        "isStarred": False,
        "fromMe": True,
        "hasQuotedMsg": False,
        "hasReaction": False,
        "vCards": [],
        "mentionedIds": [],
        "links": [],
    }
