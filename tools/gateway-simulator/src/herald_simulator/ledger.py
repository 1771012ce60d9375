"""The send ledger: counts every send request (text or media) and every accepted send, per
Herald message, and keeps them per number too.

Tests use it to prove that nothing was sent twice, and which messages each number received.
Memory per send is kept small (slotted records, shared outcome and session strings, text
truncated to a preview, one index entry per number) so a run of 100,000 sends stays in the tens
of megabytes.
"""

from __future__ import annotations

import sys
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from typing import Any


class Outcome(StrEnum):
    """What the simulator answered to one send (WAHA's sendText, sendImage, sendVideo,
    sendFile; Evolution's sendText, sendMedia)."""

    ACCEPTED = "accepted"  # 201
    NOT_ON_WHATSAPP = "not_on_whatsapp"  # WAHA: 201, but no phone will ever get it
    TIMEOUT_DELIVERED = "timeout_delivered"  # hung until timeout, but the message went out
    FAIL_5XX = "fail_5xx"  # 500
    RATE_LIMITED = "rate_limit"  # 429
    TIMEOUT = "timeout"  # hung until timeout, not sent
    PERMANENT_INVALID_NUMBER = "permanent_invalid_number"  # Evolution: 400, not on WhatsApp
    SESSION_NOT_WORKING = "session_not_working"  # 422
    UNKNOWN_SESSION = "unknown_session"  # 404
    INVALID_REQUEST = "invalid_request"  # 400, validation
    UNAUTHORIZED = "unauthorized"  # 401
    NOT_SUPPORTED = "not_supported"  # WAHA Core and media: 422, a Plus feature

    @property
    def accepted(self) -> bool:
        return self in _ACCEPTED

    @property
    def reached_phone(self) -> bool:
        """Whether the number got the message (accepted, and WhatsApp knows the number)."""
        return self in _REACHED


_ACCEPTED = frozenset({Outcome.ACCEPTED, Outcome.NOT_ON_WHATSAPP, Outcome.TIMEOUT_DELIVERED})
_REACHED = frozenset({Outcome.ACCEPTED, Outcome.TIMEOUT_DELIVERED})


def chat_digits(chat_id: str) -> str:
    """The number of a chat id (``<digits>@c.us``, ``<digits>@s.whatsapp.net``)."""
    return chat_id.partition("@")[0].lstrip("+")


def ledger_key(herald_message_id: str | None, session: str, chat_id: str, text: str) -> str:
    """The Herald message id when given, else ``session|chatId|text``."""
    if herald_message_id:
        return herald_message_id
    return f"{session}|{chat_id}|{text}"


@dataclass(frozen=True, slots=True)
class MediaSent:
    """What a media send carried, so tests can assert what was sent."""

    kind: str
    """``image``, ``video`` or ``document`` (WAHA: by its route; Evolution: its ``mediatype``)."""
    mimetype: str | None
    filename: str | None
    source: str | None
    """``url`` or ``data`` (base64): how the file came; None when neither did."""

    def to_json(self) -> dict[str, Any]:
        return {
            "kind": self.kind,
            "mimetype": self.mimetype,
            "filename": self.filename,
            "from": self.source,
        }


@dataclass(frozen=True, slots=True)
class SendRecord:
    time: float  # epoch seconds
    session: str
    chat_id: str
    text: str  # preview, at most Ledger.text_preview_chars characters
    outcome: Outcome
    status_code: int
    gateway_message_id: str | None
    media: MediaSent | None = None
    """None for a text; for media, ``text`` is its caption."""

    def to_json(self) -> dict[str, Any]:
        return {
            "time": self.time,
            "session": self.session,
            "chatId": self.chat_id,
            "text": self.text,
            "outcome": self.outcome.value,
            "statusCode": self.status_code,
            "gatewayMessageId": self.gateway_message_id,
            # WAHA's serialized form, which the WEBJS answer carries as id._serialized
            "serializedId": f"true_{self.chat_id}_{self.gateway_message_id}"
            if self.gateway_message_id
            else None,
            "media": self.media.to_json() if self.media is not None else None,
        }


class SendLedger:
    """In-memory ledger of sendText requests. Not thread-safe; the app uses one event loop."""

    def __init__(self, text_preview_chars: int = 80) -> None:
        self.text_preview_chars = text_preview_chars
        self.reset()

    def reset(self) -> None:
        self.total = 0
        self.accepted = 0
        self.by_outcome: Counter[Outcome] = Counter()
        self._accepted_by_key: dict[str, int] = {}
        self._duplicates: dict[str, None] = {}  # insertion-ordered set
        # one record per key is the common case: stored bare, promoted to a list on the second
        self._records: dict[str, SendRecord | list[SendRecord]] = {}
        self._by_phone: dict[str, SendRecord | list[SendRecord]] = {}  # the same, per number

    def record(
        self,
        key: str | None,
        *,
        time: float,
        session: str,
        chat_id: str,
        text: str,
        outcome: Outcome,
        status_code: int,
        gateway_message_id: str | None = None,
        media: MediaSent | None = None,
    ) -> None:
        """Count one request; keep its details when it has a key (``None``: counts only)."""
        self.total += 1
        self.by_outcome[outcome] += 1
        if outcome.accepted:
            self.accepted += 1
        if key is None:
            return
        if outcome.accepted:
            count = self._accepted_by_key.get(key, 0) + 1
            self._accepted_by_key[key] = count
            if count == 2:
                self._duplicates[key] = None
        preview = text if len(text) <= self.text_preview_chars else text[: self.text_preview_chars]
        entry = SendRecord(
            time=time,
            session=sys.intern(session),
            chat_id=chat_id,
            text=preview,
            outcome=outcome,
            status_code=status_code,
            gateway_message_id=gateway_message_id,
            media=media,
        )
        _keep(self._records, key, entry)
        if chat_id:
            _keep(self._by_phone, chat_digits(chat_id), entry)

    def accepted_count(self, key: str) -> int:
        return self._accepted_by_key.get(key, 0)

    @property
    def duplicates(self) -> list[str]:
        return list(self._duplicates)

    def sends_for(self, key: str) -> list[SendRecord]:
        records = self._records.get(key)
        if records is None:
            return []
        return list(records) if isinstance(records, list) else [records]

    def sends_to(self, digits: str) -> list[SendRecord]:
        """Every recorded send to a number (its digits), in order, whatever its outcome."""
        records = self._by_phone.get(digits.lstrip("+"))
        if records is None:
            return []
        return list(records) if isinstance(records, list) else [records]

    def summary(self, *, include_by_message: bool = True) -> dict[str, Any]:
        result: dict[str, Any] = {
            "total": self.total,
            "accepted": self.accepted,
            "distinct": len(self._accepted_by_key),
            "byOutcome": {outcome.value: n for outcome, n in sorted(self.by_outcome.items())},
            "duplicates": self.duplicates,
        }
        if include_by_message:
            result["byMessage"] = dict(self._accepted_by_key)
        return result


def _keep(index: dict[str, SendRecord | list[SendRecord]], key: str, entry: SendRecord) -> None:
    records = index.get(key)
    if records is None:
        index[key] = entry
    elif isinstance(records, list):
        records.append(entry)
    else:
        index[key] = [records, entry]
