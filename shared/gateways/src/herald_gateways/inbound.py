"""A recipient's message to a sender account, read from the gateway's webhook. Pure.

WAHA posts ``{event: "message", session, me, payload, engine, environment}``; ``payload`` is
its ``WAMessage`` (``src/structures/responses.dto.ts``), built by each engine's
``toWAMessage``: ``id`` serialized (``false_<chat>_<id>``, and ``_<participant>`` in GOWS
groups), ``timestamp`` in seconds, ``from`` the chat, ``fromMe``, ``body`` (the text, or a media
caption), ``participant`` (NOWEB, GOWS) or ``author`` (WEBJS) naming a group's sender, and the
engine's raw message in ``_data``. ``from`` keeps WhatsApp's hidden ``@lid`` ids as they are:
NOWEB's ``toCusFormat`` does so already in 2024.10.8 (its Baileys 6.7.8 gives no phone number
with it); GOWS (whatsmeow) carries the other form in ``_data.Info.SenderAlt``.

Evolution API posts ``{event: "messages.upsert", instance, data, ...}``; ``data`` is its
``prepareMessage`` of Baileys' message (``whatsapp.baileys.service.ts``): ``key`` exactly as
Baileys gives it (2.3.6, Baileys 7.0.0-rc.6: ``remoteJid``, ``remoteJidAlt``, ``fromMe``,
``id``, ``participant``, ``participantAlt``, ``addressingMode``; older Baileys named the other
form ``senderPn``/``senderLid``/``participantPn``/``participantLid``), ``pushName``,
``message`` (``conversation``; ``extendedTextMessage`` is rewritten to it; media with a
``caption``), ``messageType``, ``messageTimestamp`` (a number; a protobuf Long before 2.x
converted it), ``instanceId``, ``source``.

``waha_inbound`` and ``evolution_inbound`` read those into one :class:`InboundMessage`, or
raise :class:`InboundShapeError` naming where the shape is wrong.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeGuard

from herald_gateways.message_ids import bare_message_id

__all__ = [
    "EVOLUTION_UPSERT_EVENT",
    "EVOLUTION_UPSERT_EVENTS",
    "WAHA_MESSAGE_EVENT",
    "InboundMessage",
    "InboundShapeError",
    "evolution_inbound",
    "is_lid_jid",
    "lid_of_jid",
    "phone_of_jid",
    "waha_inbound",
]

WAHA_MESSAGE_EVENT = "message"
"""WAHA's event for a message someone else sent (``message.any`` would add our own)."""
EVOLUTION_UPSERT_EVENT = "messages.upsert"
"""Evolution's event for a new message; its configuration names it ``MESSAGES_UPSERT``."""
EVOLUTION_UPSERT_EVENTS = frozenset({EVOLUTION_UPSERT_EVENT, "MESSAGES_UPSERT"})
"""Both spellings, as the receipt handlers take ``messages.update`` and ``MESSAGES_UPDATE``."""

PHONE_SERVERS = ("c.us", "s.whatsapp.net")
"""The jid servers of phone numbers: WAHA's ``@c.us``, Baileys' and whatsmeow's
``@s.whatsapp.net``."""
LID_SERVER = "lid"
GROUP_SERVER = "g.us"
BROADCAST_SERVERS = ("broadcast", "newsletter")
"""``status@broadcast``, broadcast lists (``<id>@broadcast``) and channels (``@newsletter``)."""
_E164_DIGITS = range(5, 16)

_DIRECT_ALTERNATES = ("remoteJidAlt", "senderPn", "senderLid")
"""Baileys key fields naming a direct chat's sender in the other form (phone or lid)."""
_GROUP_ALTERNATES = ("participantAlt", "participantPn", "participantLid")
"""The same for a group's sender."""
_CAPTIONED = ("imageMessage", "videoMessage", "documentMessage")
_WRAPPERS = (
    "ephemeralMessage",
    "viewOnceMessage",
    "viewOnceMessageV2",
    "documentWithCaptionMessage",
)
"""WhatsApp's message containers whose ``message`` holds the real content."""

Loc = tuple[str | int, ...]


class InboundShapeError(ValueError):
    """A webhook body that is not the gateway's message shape; ``loc`` says where in the
    payload (WAHA) or data (Evolution) it goes wrong, the message what is wrong."""

    def __init__(self, loc: Loc, message: str) -> None:
        super().__init__(f"{'.'.join(str(part) for part in loc)}: {message}")
        self.loc = loc
        self.message = message


@dataclass(frozen=True)
class InboundMessage:
    """One message a WhatsApp user sent to a sender account, in Herald's terms."""

    gateway_message_id: str
    """The bare id (``message_ids.bare_message_id``)."""
    chat: str
    """The chat's jid as the gateway gave it (the sender's, for a direct message)."""
    phone: str | None
    """The sender's number, E.164 ``+<digits>``, when its jid or an alternate field names it."""
    lid: str | None
    """The sender's ``<digits>@lid`` jid, when the gateway named the sender by one."""
    text: str | None
    """The text, or a media caption; None when the message has none."""
    at: datetime
    """When it was sent (aware, UTC, whole seconds)."""
    from_me: bool
    is_group: bool
    """A group chat: the sender is its participant (Herald ignores these)."""
    is_broadcast: bool
    """``status@broadcast``, a broadcast list or a channel (``@newsletter``)."""
    push_name: str | None = None
    """The name the sender chose for themselves, when the gateway passes it on."""

    @property
    def from_recipient(self) -> bool:
        """Whether a campaign's recipient wrote this: someone else, in a direct chat."""
        return not (self.from_me or self.is_group or self.is_broadcast)


# Jids


def _split_jid(jid: str) -> tuple[str, str]:
    """(user without its device, server) of ``user[:device]@server``."""
    user, _, server = jid.partition("@")
    return user.partition(":")[0], server


def phone_of_jid(jid: Any) -> str | None:
    """``+<digits>`` of a phone number's jid (``<digits>@c.us``, ``<digits>[:device]@s.whatsapp
    .net``) or of bare digits; None for anything else (a lid, a group, not a string)."""
    if not isinstance(jid, str) or not jid.strip():
        return None
    user, server = _split_jid(jid.strip().lstrip("+"))
    if server and server not in PHONE_SERVERS:
        return None
    if not user.isdigit() or len(user) not in _E164_DIGITS:
        return None
    return f"+{user}"


def is_lid_jid(jid: Any) -> bool:
    """Whether ``jid`` is a hidden user id, ``<digits>[:device]@lid``."""
    if not isinstance(jid, str):
        return False
    user, server = _split_jid(jid.strip())
    return server == LID_SERVER and user.isdigit()


def lid_of_jid(jid: Any) -> str | None:
    """``<digits>@lid`` of a lid jid (its device dropped); None for anything else."""
    if not is_lid_jid(jid):
        return None
    return f"{_split_jid(str(jid).strip())[0]}@{LID_SERVER}"


def _server(jid: str) -> str:
    return jid.partition("@")[2]


def _is_broadcast(jid: str) -> bool:
    return _server(jid) in BROADCAST_SERVERS


def _sender_forms(candidates: Sequence[Any]) -> tuple[str | None, str | None]:
    """(phone, lid) from the sender's jid and its alternates, each the first that is one."""
    phones = [phone for phone in map(phone_of_jid, candidates) if phone]
    lids = [lid for lid in map(lid_of_jid, candidates) if lid]
    return (phones[0] if phones else None, lids[0] if lids else None)


# Fields


def _mapping(value: Any, loc: Loc) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise InboundShapeError(loc, "must be an object")
    return value


def _required_text(fields: Mapping[str, Any], key: str, loc: Loc) -> str:
    value = fields.get(key)
    if value is None:
        raise InboundShapeError((*loc, key), "is missing")
    if not isinstance(value, str) or not value.strip():
        raise InboundShapeError((*loc, key), "must be a non-empty string")
    return value.strip()


def _jid(fields: Mapping[str, Any], key: str, loc: Loc) -> str:
    value = _required_text(fields, key, loc)
    if "@" not in value:
        raise InboundShapeError((*loc, key), f"must be a jid (<user>@<server>), not {value!r}")
    return value


def _flag(fields: Mapping[str, Any], key: str, loc: Loc) -> bool:
    value = fields.get(key)
    if not isinstance(value, bool):
        raise InboundShapeError((*loc, key), "must be true or false")
    return value


def _optional_text(fields: Mapping[str, Any], key: str, loc: Loc) -> str | None:
    """A string field's value; None when absent, null or empty."""
    value = fields.get(key)
    if value is None:
        return None
    if not isinstance(value, str):
        raise InboundShapeError((*loc, key), "must be a string")
    return value or None


def _name(value: Any) -> str | None:
    return value.strip() or None if isinstance(value, str) else None


def _whole(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _seconds(value: Any, loc: Loc) -> datetime:
    """A timestamp in epoch seconds: a number, a string of digits, or a protobuf Long as JSON
    (``{"low", "high", "unsigned"}``, ``low`` possibly negative as a signed 32-bit int)."""
    seconds: int | None = None
    if isinstance(value, bool):
        seconds = None
    elif isinstance(value, int):
        seconds = value
    elif isinstance(value, float) and math.isfinite(value):
        seconds = int(value)
    elif isinstance(value, str) and value.strip().isdigit():
        seconds = int(value.strip())
    elif isinstance(value, Mapping):
        low, high = value.get("low"), value.get("high")
        if _whole(low) and _whole(high):
            seconds = (high << 32) + (low & 0xFFFFFFFF)
    if value is None:
        raise InboundShapeError(loc, "is missing")
    if seconds is None or seconds < 0:
        raise InboundShapeError(loc, f"must be epoch seconds, not {value!r}")
    try:
        return datetime.fromtimestamp(seconds, UTC)
    except (OverflowError, OSError, ValueError):
        raise InboundShapeError(loc, f"must be epoch seconds, not {value!r}") from None


# WAHA


def waha_inbound(payload: Mapping[str, Any]) -> InboundMessage:
    """The message in a WAHA ``message`` event's ``payload`` (any engine); raises
    InboundShapeError (``loc`` within the payload)."""
    fields = _mapping(payload, ())
    chat = _jid(fields, "from", ())
    group = _server(chat) == GROUP_SERVER
    raw = fields.get("_data")
    data = raw if isinstance(raw, Mapping) else {}
    sender: Any = chat
    if group:
        sender = fields.get("participant") or fields.get("author")
    phone, lid = _sender_forms([sender, *_waha_alternates(data, group=group)])
    return InboundMessage(
        gateway_message_id=_bare_id(_required_text(fields, "id", ()), ("id",)),
        chat=chat,
        phone=phone,
        lid=lid,
        text=_optional_text(fields, "body", ()),
        at=_seconds(fields.get("timestamp"), ("timestamp",)),
        from_me=_flag(fields, "fromMe", ()),
        is_group=group,
        is_broadcast=_is_broadcast(chat),
        push_name=_waha_push_name(data),
    )


def _waha_alternates(data: Mapping[str, Any], *, group: bool) -> list[Any]:
    """The sender's other form in the engine's raw message: GOWS ``Info.SenderAlt``
    (whatsmeow), NOWEB ``key`` (Baileys, in versions that carry one)."""
    info = data.get("Info")
    key = data.get("key")
    found: list[Any] = []
    if isinstance(info, Mapping):
        found.append(info.get("SenderAlt"))
    if isinstance(key, Mapping):
        found.extend(key.get(name) for name in _GROUP_ALTERNATES if group)
        found.extend(key.get(name) for name in _DIRECT_ALTERNATES if not group)
    return found


def _waha_push_name(data: Mapping[str, Any]) -> str | None:
    """NOWEB ``pushName``, WEBJS ``notifyName``, GOWS ``Info.PushName``."""
    info = data.get("Info")
    for found in (
        data.get("pushName"),
        data.get("notifyName"),
        info.get("PushName") if isinstance(info, Mapping) else None,
    ):
        if name := _name(found):
            return name
    return None


def _bare_id(reported: str, loc: Loc) -> str:
    bare = bare_message_id(reported)
    if not bare:
        raise InboundShapeError(loc, "names no message id")
    return bare


# Evolution API


def evolution_inbound(data: Mapping[str, Any]) -> InboundMessage:
    """The message in an Evolution ``messages.upsert`` event's ``data``; raises
    InboundShapeError (``loc`` within the data)."""
    fields = _mapping(data, ())
    key = _mapping(fields.get("key"), ("key",))
    chat = _jid(key, "remoteJid", ("key",))
    group = _server(chat) == GROUP_SERVER
    sender: Any = key.get("participant") if group else chat
    alternates = [key.get(name) for name in (_GROUP_ALTERNATES if group else _DIRECT_ALTERNATES)]
    phone, lid = _sender_forms([sender, *alternates])
    message = fields.get("message")
    content = {} if message is None else _mapping(message, ("message",))
    return InboundMessage(
        gateway_message_id=_bare_id(_required_text(key, "id", ("key",)), ("key", "id")),
        chat=chat,
        phone=phone,
        lid=lid,
        text=_evolution_text(content, ("message",)),
        at=_seconds(fields.get("messageTimestamp"), ("messageTimestamp",)),
        from_me=_flag(key, "fromMe", ("key",)),
        is_group=group,
        is_broadcast=_is_broadcast(chat),
        push_name=_name(fields.get("pushName")),
    )


def _evolution_text(content: Mapping[str, Any], loc: Loc) -> str | None:
    """The text of a WhatsApp message: ``conversation``, ``extendedTextMessage.text`` or a
    media ``caption``, looking inside the containers that wrap the real content."""
    parts: list[tuple[Mapping[str, Any], str, Loc]] = [(content, "conversation", loc)]
    for kind, field in (("extendedTextMessage", "text"), *((k, "caption") for k in _CAPTIONED)):
        inner = content.get(kind)
        if isinstance(inner, Mapping):
            parts.append((inner, field, (*loc, kind)))
    for fields, field, where in parts:
        if text := _optional_text(fields, field, where):
            return text
    for wrapper in _WRAPPERS:
        wrapped = content.get(wrapper)
        inner = wrapped.get("message") if isinstance(wrapped, Mapping) else None
        if isinstance(inner, Mapping) and (
            text := _evolution_text(inner, (*loc, wrapper, "message"))
        ):
            return text
    return None
