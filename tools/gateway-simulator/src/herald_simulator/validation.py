"""Validation of the ``POST /api/sendText`` body."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from herald_simulator.errors import bad_request

CHAT_ID_PATTERN = re.compile(r"[0-9]{5,20}@c\.us")
MAX_TEXT_CHARS = 65_536  # WhatsApp's limit for one text message


@dataclass(frozen=True, slots=True)
class SendTextRequest:
    session: str
    chat_id: str
    text: str


def _string(body: dict[str, Any], key: str) -> str:
    if key not in body or body[key] is None:
        raise bad_request(key, "is required")
    value = body[key]
    if not isinstance(value, str):
        raise bad_request(key, "must be a string")
    return value


def parse_send_text(body: Any) -> SendTextRequest:
    """Validate a sendText body; raises SimError(400) naming the first bad field.

    Fields are checked in the order session, chatId, text; other fields WAHA accepts
    (``reply_to``, ``linkPreview``, ...) are ignored.
    """
    if not isinstance(body, dict):
        raise bad_request("body", "must be a JSON object")
    session = _string(body, "session")
    if not session:
        raise bad_request("session", "must not be empty")
    chat_id = _string(body, "chatId")
    if not CHAT_ID_PATTERN.fullmatch(chat_id):
        raise bad_request("chatId", f"must look like '<digits>@c.us', got {chat_id[:64]!r}")
    text = _string(body, "text")
    if not text.strip():
        raise bad_request("text", "must not be empty")
    if len(text) > MAX_TEXT_CHARS:
        raise bad_request("text", f"is too long ({len(text)} > {MAX_TEXT_CHARS} characters)")
    return SendTextRequest(session=session, chat_id=chat_id, text=text)
