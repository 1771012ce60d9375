"""The attempt plan: which route makes each attempt of a message, and after what delay. Pure.

The default is the seed design's: attempt 1 on the primary route, attempt 2 on the fallback
route at once, attempt 3 on the fallback route after a back-off; then the message fails and
becomes a dead letter. The plan is configuration (``HERALD_ATTEMPT_PLAN``), written as
``primary, fallback, fallback@60s``: one step per attempt, an route and an optional delay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from enum import StrEnum

from herald_core.contracts.topics import MESSAGE_SEND_FALLBACK, MESSAGE_SEND_PRIMARY, retry_topic

DEFAULT_ATTEMPT_PLAN = "primary, fallback, fallback@60s"


class Route(StrEnum):
    """The two sender deployments; each has its own send topic and gateway."""

    PRIMARY = "primary"
    FALLBACK = "fallback"

    @property
    def send_topic(self) -> str:
        return MESSAGE_SEND_PRIMARY if self is Route.PRIMARY else MESSAGE_SEND_FALLBACK


@dataclass(frozen=True)
class AttemptStep:
    route: Route
    delay_seconds: float = 0.0

    @property
    def delay_topic(self) -> str | None:
        """The retry topic a delayed step waits in; None when the step runs at once."""
        return retry_topic(self.delay_seconds) if self.delay_seconds > 0 else None


@dataclass(frozen=True)
class NextAttempt:
    """Where a message goes after a failed attempt."""

    step: int
    """Index of the plan step that makes the next attempt."""
    route: Route
    delay_seconds: float

    @property
    def topic(self) -> str:
        """The topic to publish the next attempt on: its send topic, or its delay topic."""
        return retry_topic(self.delay_seconds) if self.delay_seconds > 0 else self.route.send_topic


class InvalidAttemptPlan(ValueError):
    pass


_STEP = re.compile(r"^(?P<route>[a-z]+)(?:@(?P<amount>\d+(?:\.\d+)?)(?P<unit>ms|s|m|h))?$")
_UNIT_SECONDS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}


@dataclass(frozen=True)
class AttemptPlan:
    steps: tuple[AttemptStep, ...]

    @classmethod
    def parse(cls, text: str) -> AttemptPlan:
        """``"primary, fallback, fallback@60s"`` → three steps; delays in ms, s, m or h."""
        steps = []
        for raw in text.split(","):
            item = raw.strip().lower()
            match = _STEP.match(item)
            if match is None:
                raise InvalidAttemptPlan(f"cannot read attempt step {raw.strip()!r}")
            try:
                route = Route(match["route"])
            except ValueError:
                raise InvalidAttemptPlan(
                    f"unknown route {match['route']!r} (primary or fallback)"
                ) from None
            delay = float(match["amount"] or 0) * _UNIT_SECONDS[match["unit"] or "s"]
            steps.append(AttemptStep(route, delay))
        if steps[0].delay_seconds:
            raise InvalidAttemptPlan("the first attempt cannot wait: drop its delay")
        return cls(tuple(steps))

    @property
    def first_topic(self) -> str:
        """The send topic of a message's first attempt (and of a redriven message's)."""
        return self.steps[0].route.send_topic

    def step(self, index: int) -> AttemptStep:
        return self.steps[min(max(index, 0), len(self.steps) - 1)]

    def send_topics(self) -> list[str]:
        """The send topics this plan uses, in the order its steps first use them."""
        return list(dict.fromkeys(step.route.send_topic for step in self.steps))

    def retry_topics(self) -> list[str]:
        """The delay topics this plan uses, one per distinct delay."""
        topics = {s.delay_topic for s in self.steps if s.delay_topic}
        return sorted(topics)

    def next_attempt(self, step: int, *, switch_route: bool = False) -> NextAttempt | None:
        """The attempt after a retryable failure at ``step``; None when the plan is exhausted.

        With ``switch_route`` (the route is rate limited, or its circuit is open) the next
        attempt is the first later step on another route, if the plan has one.
        """
        current = self.step(step).route
        later = range(step + 1, len(self.steps))
        if switch_route:
            for index in later:
                if self.steps[index].route is not current:
                    return self._attempt_at(index)
        return self._attempt_at(step + 1) if step + 1 < len(self.steps) else None

    def next_attempt_on_another_route(self, step: int) -> NextAttempt | None:
        """The first later step on another route than ``step``'s, or None: for a failure this
        route can never get past (the gateway cannot send such a message at all)."""
        current = self.step(step).route
        for index in range(step + 1, len(self.steps)):
            if self.steps[index].route is not current:
                return self._attempt_at(index)
        return None

    def _attempt_at(self, index: int) -> NextAttempt:
        chosen = self.steps[index]
        return NextAttempt(index, chosen.route, chosen.delay_seconds)
