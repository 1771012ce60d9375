"""The message state machine: which status may follow which. Pure; no I/O."""

from __future__ import annotations

from enum import StrEnum


class MessageStatus(StrEnum):
    PENDING = "pending"
    QUEUED = "queued"
    SENDING = "sending"
    SENT = "sent"
    DELIVERED = "delivered"
    READ = "read"
    RETRYING = "retrying"
    FAILED = "failed"
    CANCELLED = "cancelled"
    EXPIRED = "expired"
    SUPPRESSED = "suppressed"
    """Not sent: the recipient opted out (or is on the tenant's suppression list) after the
    message was made; the sender checks right before the gateway call."""


S = MessageStatus

ALLOWED_TRANSITIONS: dict[MessageStatus, frozenset[MessageStatus]] = {
    S.PENDING: frozenset({S.QUEUED, S.SENDING, S.CANCELLED, S.EXPIRED}),
    S.QUEUED: frozenset({S.SENDING, S.CANCELLED, S.EXPIRED}),
    # A claim ends in an outcome; an expired claim may be handed back to the queue by policy, and
    # a claim of a paused campaign is handed back; one found cancelled, out of time or to a
    # number that opted out ends so.
    S.SENDING: frozenset(
        {S.SENT, S.FAILED, S.RETRYING, S.QUEUED, S.CANCELLED, S.EXPIRED, S.SUPPRESSED}
    ),
    S.RETRYING: frozenset({S.QUEUED, S.SENDING, S.FAILED, S.CANCELLED, S.EXPIRED}),
    S.SENT: frozenset({S.DELIVERED, S.READ}),
    S.DELIVERED: frozenset({S.READ}),
    S.READ: frozenset(),
    # A failed message may be redriven with a fresh attempt plan.
    S.FAILED: frozenset({S.QUEUED}),
    S.CANCELLED: frozenset(),
    S.EXPIRED: frozenset(),
    S.SUPPRESSED: frozenset(),
}

TERMINAL_STATUSES: frozenset[MessageStatus] = frozenset(
    {S.SENT, S.DELIVERED, S.READ, S.FAILED, S.CANCELLED, S.EXPIRED, S.SUPPRESSED}
)
"""Statuses in which Herald has nothing more to do for a message (receipts may still arrive)."""

CLAIMABLE_STATUSES: tuple[MessageStatus, ...] = (S.QUEUED, S.PENDING, S.RETRYING)
"""Statuses a sender may claim a message from, most likely first."""


class IllegalTransition(ValueError):
    """A transition the state machine forbids; a programming error, never a race."""


def can_transition(current: MessageStatus, target: MessageStatus) -> bool:
    return target in ALLOWED_TRANSITIONS[current]


def check_transition(current: MessageStatus, target: MessageStatus) -> None:
    if not can_transition(current, target):
        raise IllegalTransition(f"a message cannot go from {current} to {target}")


def counter_field(status: MessageStatus) -> str:
    """The campaign document field that counts messages in ``status``."""
    return f"counts.{status.value}"


NOT_ON_WHATSAPP_FAILURES = "failedNotOnWhatsapp"
"""The campaign document field that counts its ``failed`` messages whose number is not on
WhatsApp (``failedReason`` ``not-on-whatsapp``): it moves with the transitions into and out of
``failed``, as the status counters do, so a campaign's statistics never count its messages."""
