"""What one attempt to deliver a notification leads to: delivered, retried later, or failed.

Only a 2xx answer delivers. Any other answer (redirects are not followed), a timeout or a
connection error is retried by the :class:`RetrySchedule` until it gives up.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from enum import StrEnum

from herald_campaign.domain.notifications.backoff import RetrySchedule

MAX_ERROR_LENGTH = 300


class DeliveryStatus(StrEnum):
    PENDING = "pending"
    """Queued, not tried yet."""
    SENDING = "sending"
    """Claimed by a campaign replica, request in flight."""
    RETRYING = "retrying"
    """An attempt failed; the next one is due at ``nextAttemptAt``."""
    DELIVERED = "delivered"
    FAILED = "failed"
    """Every attempt failed; not tried again."""


DUE_STATUSES = (DeliveryStatus.PENDING, DeliveryStatus.RETRYING, DeliveryStatus.SENDING)
"""Statuses a worker may claim once ``nextAttemptAt`` passed (for ``sending``: the lease of a
worker that died mid-request ran out)."""


@dataclass(frozen=True)
class AttemptResult:
    """What the receiver answered: a status code, or no answer and why."""

    status_code: int | None = None
    error: str | None = None

    @property
    def succeeded(self) -> bool:
        return self.status_code is not None and 200 <= self.status_code < 300

    @classmethod
    def answered(cls, status_code: int, reason_phrase: str = "") -> AttemptResult:
        if 200 <= status_code < 300:
            return cls(status_code=status_code)
        return cls(status_code=status_code, error=f"HTTP {status_code} {reason_phrase}".strip())

    @classmethod
    def no_answer(cls, error: str) -> AttemptResult:
        return cls(error=error[:MAX_ERROR_LENGTH])


@dataclass(frozen=True)
class AttemptOutcome:
    """The delivery's state after attempt ``attempt``."""

    status: DeliveryStatus
    attempt: int
    status_code: int | None
    error: str | None
    next_attempt_at: datetime | None


def outcome_of_attempt(
    result: AttemptResult, attempt: int, schedule: RetrySchedule, now: datetime, draw: float
) -> AttemptOutcome:
    """Where attempt ``attempt`` (1-based) with ``result`` leaves the delivery; ``draw`` in
    [0, 1) picks the back-off's jitter."""
    if result.succeeded:
        return AttemptOutcome(DeliveryStatus.DELIVERED, attempt, result.status_code, None, None)
    error = result.error or f"HTTP {result.status_code}"
    if not schedule.retries_after(attempt):
        return AttemptOutcome(DeliveryStatus.FAILED, attempt, result.status_code, error, None)
    due = now + timedelta(seconds=schedule.delay_after(attempt, draw))
    return AttemptOutcome(DeliveryStatus.RETRYING, attempt, result.status_code, error, due)
