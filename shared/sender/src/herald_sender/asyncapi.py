"""What a sender deployment consumes and publishes, for the AsyncAPI document.

A sender reads its send topic with its own aiokafka consumer (:class:`LaneConsumer`, one lane
per sender account), which FastStream does not see; :func:`lane_consumer_specification`
declares that subscription on a broker of its own, made for the document and never started.
"""

from __future__ import annotations

from faststream.kafka import KafkaBroker

from herald_core.attempt_plan import AttemptPlan, NextAttempt, Route
from herald_core.contracts.events import SendMessage
from herald_infra.runtime.asyncapi import (
    Publication,
    delayed_attempts_on,
    message_dead_letters,
    send_attempts,
    status_changes,
)


def next_attempts(plan: AttemptPlan, route: Route) -> list[NextAttempt]:
    """Every attempt that may follow a failed one of ``route`` under ``plan``: the next step,
    or the first step on the other route when this one is rate limited or its circuit open."""
    following: dict[str, NextAttempt] = {}
    for index, step in enumerate(plan.steps):
        if step.route is not route:
            continue
        for switch in (False, True):
            attempt = plan.next_attempt(index, switch_route=switch)
            if attempt is not None:
                following.setdefault(attempt.topic, attempt)
    return list(following.values())


def sender_publications(plan: AttemptPlan, route: Route) -> list[Publication]:
    """Next attempts (at once, or on a delay topic), dead letters, status changes."""
    publications: list[Publication] = []
    for attempt in next_attempts(plan, route):
        if attempt.delay_seconds > 0:
            publications.append(delayed_attempts_on(attempt.topic))
        else:
            publications.append(
                send_attempts(
                    attempt.topic,
                    f"The next attempt of a message whose {route.value} attempt failed and "
                    "may be tried again (timeout, 5xx, rate limited, session not connected).",
                )
            )
    return [
        *publications,
        message_dead_letters(
            "Messages whose attempt plan is exhausted, or that failed for good (an invalid or "
            "non-WhatsApp number, a rejected body, a disabled account, a gateway that cannot be "
            "used as configured: gateway-misconfigured), or whose delivery kept failing for "
            "another reason than an outage (internal-error, after HERALD_HANDLER_ATTEMPTS "
            "tries)"
        ),
        status_changes(
            "Each status a sender moves a message to (sending, sent, retrying, failed, "
            "cancelled, expired, suppressed (the recipient opted out), and queued again when "
            "it hands a message back on stop)"
        ),
    ]


def lane_consumer_specification(
    service: str, route: Route, group_id: str, kafka_bootstrap: str
) -> KafkaBroker:
    """A broker, never started, that declares the subscription of a sender's lane consumer."""
    broker = KafkaBroker(kafka_bootstrap, client_id=f"herald-{service}")

    @broker.subscriber(
        route.send_topic,
        group_id=group_id,
        title=f"{service}:{route.send_topic}",
        description=(
            "Delivers each attempt through the account's gateway session on this route, at "
            "the account's anti-ban pace; one lane per sender account, offsets committed per "
            "partition up to the lowest unfinished record. A message is claimed in MongoDB "
            "(compare-and-set on id, status and attempt) before the gateway is called, so a "
            "record delivered twice is sent once."
        ),
    )
    async def deliver_attempt(event: SendMessage) -> None:
        """Declared for the document only: LaneConsumer and SendRecordHandler deliver these."""

    return broker
