"""Delivery receipts: what a gateway's acknowledgement means for a message. Pure; no I/O.

A receipt only ever moves a message forward along ``sent → delivered → read`` (``sent → read``
when the read receipt is the first to arrive); a receipt that would move it backwards, or to
where it already is, changes nothing.

=================  ===========================  ==========================
Gateway            Reports                      Herald status
=================  ===========================  ==========================
WAHA ``ack``       -1 ERROR, 0 PENDING,         none (ignored)
                   1 SERVER
WAHA ``ack``       2 DEVICE                     ``delivered``
WAHA ``ack``       3 READ, 4 PLAYED             ``read``
Evolution          ERROR, PENDING, SERVER_ACK,  none (ignored)
``status``         DELETED
Evolution          DELIVERY_ACK                 ``delivered``
``status``         READ, PLAYED                 ``read``
=================  ===========================  ==========================

An ERROR ack is ignored rather than failing the message: the gateway accepted the send, and the
state machine has no way back from ``sent``.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from herald_core.messages.states import MessageStatus, can_transition
from herald_gateways.message_ids import bare_message_id

S = MessageStatus


class ReceiptSource(StrEnum):
    """Which gateway sent the receipt; also the last segment of its webhook's path."""

    WAHA = "waha"
    EVOLUTION = "evolution"


class ReceiptOutcome(StrEnum):
    """What one webhook call did (the ``outcome`` label of ``herald_receipts_total``)."""

    APPLIED = "applied"
    """The message moved forward (delivered or read)."""
    DUPLICATE = "duplicate"
    """The message is already in the reported status."""
    STALE = "stale"
    """The message is already further on (read, when the receipt says delivered)."""
    IGNORED = "ignored"
    """An event or acknowledgement that is no progress for Herald (server ack, pending, error,
    another event type, an acknowledgement of a message received rather than sent)."""
    NOT_SENT = "not-sent"
    """The message is not sent, delivered or read (a claim the sweep failed while the gateway
    did send, say); the state machine has no move for it."""
    UNKNOWN_MESSAGE = "unknown-message"
    """No message has the gateway's message id."""
    BAD_SIGNATURE = "bad-signature"
    """Missing or wrong signature (or token), or no key configured: refused with 401."""
    INVALID = "invalid"
    """A signed body that is not a receipt Herald can read: refused with 4xx."""


RECEIPT_PROGRESS: tuple[MessageStatus, ...] = (S.SENT, S.DELIVERED, S.READ)
"""The statuses a receipt moves a message along, in order."""


@dataclass(frozen=True)
class Acknowledgement:
    """What a gateway reported, in its own words, and what it means for Herald."""

    name: str
    """The gateway's name for it: ``DEVICE``, ``DELIVERY_ACK``, …"""
    status: MessageStatus | None
    """``delivered`` or ``read``; None when it is no progress for Herald."""


WAHA_ACKS: dict[int, Acknowledgement] = {
    -1: Acknowledgement("ERROR", None),
    0: Acknowledgement("PENDING", None),
    1: Acknowledgement("SERVER", None),
    2: Acknowledgement("DEVICE", S.DELIVERED),
    3: Acknowledgement("READ", S.READ),
    4: Acknowledgement("PLAYED", S.READ),
}
"""WAHA's ``ack`` levels (its ``ackName`` says the same in words)."""

EVOLUTION_STATUSES: dict[str, MessageStatus | None] = {
    "ERROR": None,
    "PENDING": None,
    "SERVER_ACK": None,
    "DELIVERY_ACK": S.DELIVERED,
    "READ": S.READ,
    "PLAYED": S.READ,
    "DELETED": None,
}
"""Evolution API's ``status`` of a ``messages.update`` event (Baileys' message statuses)."""

EVOLUTION_STATUS_NUMBERS: dict[int, str] = {
    0: "ERROR",
    1: "PENDING",
    2: "SERVER_ACK",
    3: "DELIVERY_ACK",
    4: "READ",
    5: "PLAYED",
}
"""Baileys' numeric statuses, for a ``status`` sent as a number."""


def waha_acknowledgement(ack: int | None, ack_name: str | None) -> Acknowledgement:
    """What a WAHA ``message.ack`` reports: by ``ack``, else by ``ackName``. A level WAHA may
    add later is no progress for Herald. Raises ValueError when both are missing."""
    if ack is not None:
        return WAHA_ACKS.get(ack, Acknowledgement(ack_name or f"ack {ack}", None))
    if ack_name is None:
        raise ValueError("ack or ackName is required")
    name = ack_name.strip().upper()
    for known in WAHA_ACKS.values():
        if known.name == name:
            return known
    return Acknowledgement(name, None)


def evolution_acknowledgement(status: str | int) -> Acknowledgement:
    """What an Evolution ``messages.update`` status reports (a name, or Baileys' number)."""
    if isinstance(status, int):
        name = EVOLUTION_STATUS_NUMBERS.get(status, f"status {status}")
    else:
        name = status.strip().upper()
    return Acknowledgement(name, EVOLUTION_STATUSES.get(name))


def gateway_id_candidates(reported_id: str) -> tuple[str, ...]:
    """The ids a message sent through the gateway may be stored under.

    Herald stores the bare id of every send (``herald_gateways.message_ids``), whatever shape
    the gateway answered in; receipts name it in WAHA's serialized form ``true_<chat>_<id>``,
    whose chat part may differ from the send's (GOWS: an ``@lid`` jid). Messages stored before
    that kept WEBJS's serialized id, so a serialized report is looked up as it is too.
    """
    bare = bare_message_id(reported_id)
    return (reported_id,) if bare == reported_id else (reported_id, bare)


@dataclass(frozen=True)
class ReceiptMove:
    """What a receipt does to a message: the status it moves to, or why it does not move."""

    outcome: ReceiptOutcome
    target: MessageStatus | None = None
    """Set exactly when ``outcome`` is APPLIED."""


def receipt_move(current: MessageStatus, reported: MessageStatus) -> ReceiptMove:
    """The never-backwards rule: a receipt moves a message forward along
    ``sent → delivered → read`` or not at all."""
    if reported not in RECEIPT_PROGRESS[1:]:
        raise ValueError(f"a receipt reports delivered or read, not {reported}")
    if current not in RECEIPT_PROGRESS:
        return ReceiptMove(ReceiptOutcome.NOT_SENT)
    if current == reported:
        return ReceiptMove(ReceiptOutcome.DUPLICATE)
    if RECEIPT_PROGRESS.index(reported) < RECEIPT_PROGRESS.index(current):
        return ReceiptMove(ReceiptOutcome.STALE)
    assert can_transition(current, reported), f"state machine lacks {current} -> {reported}"
    return ReceiptMove(ReceiptOutcome.APPLIED, reported)


@dataclass(frozen=True)
class Receipt:
    """One delivery receipt, whichever gateway sent it."""

    source: ReceiptSource
    gateway_message_id: str
    """The id the gateway reported the message by."""
    acknowledgement: Acknowledgement
