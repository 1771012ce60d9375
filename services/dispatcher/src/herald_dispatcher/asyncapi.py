"""What the dispatcher publishes, for the AsyncAPI document (see herald_infra.runtime.asyncapi)."""

from __future__ import annotations

from herald_core.attempt_plan import AttemptPlan
from herald_infra.runtime.asyncapi import Publication, poison_dead_letters, send_attempts

FAN_OUT = (
    "The first attempt of every message of a launched campaign run (fan-out), and of the "
    "messages held back by their account's hourly or daily cap once a window opens."
)
RELAY = "Delayed attempts relayed from their delay topic once due."


def dispatcher_publications(plan: AttemptPlan) -> list[Publication]:
    """The messages it makes, the delayed attempts it relays, the poison records it meets."""
    reasons: dict[str, list[str]] = {plan.first_topic: [FAN_OUT]}
    for step in plan.steps:
        if step.delay_topic and RELAY not in reasons.setdefault(step.route.send_topic, []):
            reasons[step.route.send_topic].append(RELAY)
    return [
        *(send_attempts(topic, " ".join(why)) for topic, why in reasons.items()),
        poison_dead_letters(
            "Records of campaign.events and of the delay topics it cannot decode or validate "
            "(undecodable, schema-invalid, invalid-retry-headers), and those whose fan-out or "
            "relay kept failing for another reason than an outage (internal-error, after "
            "HERALD_HANDLER_ATTEMPTS tries)"
        ),
    ]
