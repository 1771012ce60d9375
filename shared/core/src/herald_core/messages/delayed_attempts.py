"""Records on the delay topics (``message.retry.<delay>``): where they go next, and when. Pure.

Header names follow Spring Kafka's retry topics (``RetryTopicHeaders``); the relay in the
dispatcher reads them to publish a record to its send topic once it is due.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

DUE_TIMESTAMP = "retry_topic-backoff-timestamp"
"""Epoch milliseconds at which the record may go to its target topic."""
ATTEMPTS = "retry_topic-attempts"
TARGET_TOPIC = "herald-retry-target-topic"


class InvalidDelayHeaders(ValueError):
    pass


@dataclass(frozen=True)
class DelayedAttempt:
    target_topic: str
    due_ms: int

    def wait_seconds(self, now: datetime) -> float:
        """How long until it is due (0 or less: due now)."""
        return self.due_ms / 1000 - now.timestamp()


def delayed_attempt_headers(*, target_topic: str, due_at: datetime, attempt: int) -> dict[str, str]:
    return {
        DUE_TIMESTAMP: str(int(due_at.astimezone(UTC).timestamp() * 1000)),
        ATTEMPTS: str(attempt),
        TARGET_TOPIC: target_topic,
    }


def read_delayed_attempt(headers: Mapping[str, str | bytes]) -> DelayedAttempt:
    """The target and due time of a delay-topic record; raises InvalidDelayHeaders."""

    def text(name: str) -> str:
        value = headers.get(name)
        if value is None:
            raise InvalidDelayHeaders(f"header {name} is missing")
        return value.decode() if isinstance(value, bytes) else value

    target = text(TARGET_TOPIC)
    if not target.startswith("message.send."):
        raise InvalidDelayHeaders(f"header {TARGET_TOPIC} names no send topic: {target!r}")
    try:
        due_ms = int(text(DUE_TIMESTAMP))
    except ValueError:
        raise InvalidDelayHeaders(f"header {DUE_TIMESTAMP} is not epoch milliseconds") from None
    return DelayedAttempt(target, due_ms)
