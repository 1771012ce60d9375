"""A circuit breaker per sender account and route. Pure: the clock is an argument.

Closed: sends go through. After ``threshold`` consecutive retryable failures, or at once when
the gateway says the session is not connected, it opens: for ``cooldown`` seconds the account's
messages skip this route (the attempt plan routes them to the other one). Then it is half-open:
the next send is a trial; success closes it, failure opens it again for another cool-down.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum


class CircuitState(StrEnum):
    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half-open"

    @property
    def gauge_value(self) -> int:
        return {"closed": 0, "open": 1, "half-open": 2}[self.value]


@dataclass
class CircuitBreaker:
    threshold: int
    cooldown_seconds: float
    state: CircuitState = CircuitState.CLOSED
    consecutive_failures: int = 0
    open_until: float | None = None
    reason: str | None = None

    def allows(self, now: float) -> bool:
        """Whether a send may use this route now; an elapsed cool-down turns open into
        half-open (the caller sends a trial)."""
        if (
            self.state is CircuitState.OPEN
            and self.open_until is not None
            and now >= self.open_until
        ):
            self.state = CircuitState.HALF_OPEN
        return self.state is not CircuitState.OPEN

    def record_success(self) -> None:
        self.state = CircuitState.CLOSED
        self.consecutive_failures = 0
        self.open_until = None
        self.reason = None

    def record_failure(self, now: float, reason: str, *, session_down: bool = False) -> None:
        """A retryable failure of this route for this account."""
        self.consecutive_failures += 1
        if (
            session_down
            or self.state is CircuitState.HALF_OPEN
            or self.consecutive_failures >= self.threshold
        ):
            self.state = CircuitState.OPEN
            self.open_until = now + self.cooldown_seconds
            self.reason = reason
