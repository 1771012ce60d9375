"""Anti-ban pacing rules: how long a sender account waits between two sends. Pure; no I/O.

The gap before an account's next send is drawn at random, uniformly, from its campaign's
profile (``fast`` 2 to 5 s, ``balanced`` 5 to 10 s, ``safe`` 10 to 30 s) or from a custom range, and
multiplied by the deployment's pace scale (1 in production; tests and demos shorten every gap
proportionally, e.g. 0.001). Never a fixed interval: a fixed rhythm is what anti-spam systems
look for.
"""

from __future__ import annotations

import random
from dataclasses import dataclass

from herald_core.contracts.common import DelayType


@dataclass(frozen=True)
class PaceRange:
    """The bounds, in seconds, of the random gap between two sends of one account."""

    min_seconds: float
    max_seconds: float

    def __post_init__(self) -> None:
        if not 0 <= self.min_seconds <= self.max_seconds:
            raise ValueError(
                f"a pace range needs 0 <= min <= max, got {self.min_seconds}..{self.max_seconds}"
            )

    def scaled(self, scale: float) -> PaceRange:
        return PaceRange(self.min_seconds * scale, self.max_seconds * scale)

    def draw(self, rng: random.Random) -> float:
        """One gap, uniform over the range."""
        return rng.uniform(self.min_seconds, self.max_seconds)


PROFILES: dict[DelayType, PaceRange] = {
    DelayType.FAST: PaceRange(2.0, 5.0),
    DelayType.BALANCED: PaceRange(5.0, 10.0),
    DelayType.SAFE: PaceRange(10.0, 30.0),
}


def pace_range(
    delay_type: DelayType, custom: tuple[float, float] | None = None, *, scale: float = 1.0
) -> PaceRange:
    """The gap range of a message: its custom range when it has one, else its profile's,
    multiplied by ``scale``."""
    chosen = PaceRange(*custom) if custom is not None else PROFILES[delay_type]
    return chosen.scaled(scale)
