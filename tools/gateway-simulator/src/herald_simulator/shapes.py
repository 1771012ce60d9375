"""Engine-specific JSON bodies of a successful WAHA send (sendText, and Plus's media routes)."""

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


def media_content(
    kind: str, *, mimetype: str, filename: str | None, caption: str, timestamp: int
) -> dict[str, Any]:
    """WhatsApp's media message (``imageMessage``, ``videoMessage``, ``documentMessage``) as
    Baileys and whatsmeow carry it once uploaded: the fields Herald might read, not the keys."""
    content: dict[str, Any] = {
        "url": f"https://mmg.whatsapp.net/v/t62.7118-24/{timestamp}.enc",
        "mimetype": mimetype,
        "caption": caption,
        "fileLength": "1024",
        "mediaKeyTimestamp": str(timestamp),
    }
    if kind == "document":
        content["fileName"] = filename or "document"
        content["title"] = filename or "document"
    return {f"{kind}Message": content}


def sent_media_message(
    engine: Engine,
    *,
    kind: str,
    chat_id: str,
    mimetype: str,
    filename: str | None,
    caption: str,
    message_id: str,
    timestamp: int,
    me_id: str,
) -> dict[str, Any]:
    """What WAHA Plus answers for sendImage, sendVideo and sendFile: the engine's message as
    for sendText (``sent_message``), with the media content instead of the text (WEBJS: a
    ``Message`` with ``hasMedia``, its ``type`` the kind and its ``body`` the caption)."""
    content = media_content(
        kind, mimetype=mimetype, filename=filename, caption=caption, timestamp=timestamp
    )
    answer = sent_message(
        engine,
        chat_id=chat_id,
        text=caption,
        message_id=message_id,
        timestamp=timestamp,
        me_id=me_id,
    )
    if engine is Engine.GOWS:
        answer["_data"]["Message"] = content
    elif engine is Engine.NOWEB:
        answer["message"] = content
    else:
        answer.update(hasMedia=True, type=kind, body=caption)
    return answer
