"""When a failed notification is tried again: exponential back-off with a little jitter."""

from __future__ import annotations

from dataclasses import dataclass

MAX_DELAY_SECONDS = 3600.0
JITTER_RATIO = 0.1


@dataclass(frozen=True)
class RetrySchedule:
    """Attempt 1 at once; after failed attempt ``n`` wait ``first_delay * 2**(n-1)`` (capped at
    ``max_delay``), lengthened by up to ``jitter_ratio`` of it so that endpoints failing together
    are not retried in lockstep; give up after ``max_attempts``."""

    first_delay_seconds: float
    max_attempts: int
    max_delay_seconds: float = MAX_DELAY_SECONDS
    jitter_ratio: float = JITTER_RATIO

    def __post_init__(self) -> None:
        if self.first_delay_seconds <= 0:
            raise ValueError("first_delay_seconds must be positive")
        if self.max_attempts < 1:
            raise ValueError("max_attempts must be at least 1")

    def nominal_delay(self, attempt: int) -> float:
        """The wait after failed attempt ``attempt`` (1-based), before jitter."""
        if attempt < 1:
            raise ValueError("attempts count from 1")
        # min() on the exponent first: 2**attempt overflows a float for large attempts.
        doublings = min(attempt - 1, 64)
        return min(self.first_delay_seconds * 2.0**doublings, self.max_delay_seconds)

    def delay_after(self, attempt: int, draw: float) -> float:
        """The wait after failed attempt ``attempt``; ``draw`` in [0, 1) picks the jitter."""
        if not 0 <= draw < 1:
            raise ValueError("draw must be in [0, 1)")
        return self.nominal_delay(attempt) * (1 + self.jitter_ratio * draw)

    def retries_after(self, attempt: int) -> bool:
        """Whether failed attempt ``attempt`` is followed by another."""
        return attempt < self.max_attempts

    def nominal_delays(self) -> list[float]:
        """Every wait of a delivery that fails each attempt: ``max_attempts - 1`` of them."""
        return [self.nominal_delay(n) for n in range(1, self.max_attempts)]
