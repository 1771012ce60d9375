"""What follows a failed attempt: the next attempt by the plan, or a failed message and its
dead letter. Used by the sender engine and by the sweep of expired claims.

Each step first makes the new state durable in MongoDB (a compare-and-set from ``sending`` at
the attempt), then publishes what follows (the next attempt's send event, or the dead letter),
awaiting Kafka's acknowledgement; only then may the caller's offset be committed. If the
process dies in between, the send record is consumed again, its claim no longer applies, and
:func:`republish_unfinished` publishes what the message document says should follow.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from faststream.kafka import KafkaBroker

from herald_core.attempt_plan import AttemptPlan, NextAttempt
from herald_core.contracts.common import utc_now
from herald_core.contracts.events import SendMessage
from herald_core.contracts.topics import MESSAGE_DLT
from herald_core.messages.dead_letters import dead_letter_headers, message_dead_letter_id
from herald_core.messages.delayed_attempts import delayed_attempt_headers
from herald_core.messages.states import MessageStatus
from herald_gateways.failures import switches_route
from herald_gateways.interface import GatewayError
from herald_infra.messages.counters import failure_counters
from herald_infra.messages.transitions import transition
from herald_infra.mongo.client import MESSAGES, Database, Document
from herald_infra.runtime.logging import get_logger
from herald_infra.runtime.metrics import DEAD_LETTERED, RETRIES

log = get_logger(__name__)

GATEWAY_ERROR_TYPE = f"{GatewayError.__module__}.{GatewayError.__qualname__}"


@dataclass(frozen=True)
class RecordOrigin:
    """Where the send record of an attempt was read: named in its dead letter's headers."""

    topic: str
    partition: int = -1
    offset: int = -1


def attempt_record(
    event: SendMessage, engine: str, outcome: str, error: GatewayError | None, at: datetime
) -> dict[str, Any]:
    """One entry of a message's ``attempts`` history."""
    return {
        "attempt": event.attempt,
        "step": event.step,
        "engine": engine,
        "outcome": outcome,
        "reason": error.reason if error else None,
        "error": error.detail if error else None,
        "at": at,
    }


def next_attempt_after(
    plan: AttemptPlan, event: SendMessage, error: GatewayError
) -> NextAttempt | None:
    """The attempt the plan makes after this failure; None when the message fails for good.
    A permanent failure fails it, unless it is this route's alone (the gateway cannot send such
    a message at all): then the plan's next step on another route, if it has one."""
    if not error.retryable:
        return plan.next_attempt_on_another_route(event.step) if switches_route(error) else None
    return plan.next_attempt(event.step, switch_route=switches_route(error))


async def schedule_next_attempt(
    db: Database,
    broker: KafkaBroker,
    event: SendMessage,
    following: NextAttempt,
    *,
    engine: str,
    error: GatewayError,
) -> bool:
    """``sending`` → ``retrying`` with the next attempt number, then publish that attempt (on
    its send topic, or on its delay topic with the due time). False if the claim no longer held.
    """
    now = utc_now()
    next_event = event.model_copy(
        update={
            "attempt": event.attempt + 1,
            "step": following.step,
            "first_failure_at": event.first_failure_at or now,
        }
    )
    due = now + timedelta(seconds=following.delay_seconds)
    moved = await transition(
        db,
        message_id=event.message_id,
        campaign_id=event.campaign_id,
        source=MessageStatus.SENDING,
        target=MessageStatus.RETRYING,
        attempt=event.attempt,
        fields={
            "attempt": next_event.attempt,
            "retryCount": next_event.attempt - 1,
            "planStep": following.step,
            "nextAttemptAt": due,
            "firstFailureAt": next_event.first_failure_at,
            "lastError": {"reason": error.reason, "detail": error.detail, "at": now},
            "deliveryMethod": engine,
        },
        push={"attempts": attempt_record(event, engine, "failed", error, now)},
    )
    if moved:
        await publish_attempt(broker, next_event, following, due)
        log.info(
            "attempt failed, next one scheduled",
            reason=error.reason,
            next_attempt=next_event.attempt,
            next_route=following.route.value,
            delay_seconds=following.delay_seconds,
        )
    return moved


async def publish_attempt(
    broker: KafkaBroker, event: SendMessage, following: NextAttempt, due: datetime
) -> None:
    """Publish an attempt on its send topic, or on its delay topic until ``due``."""
    headers = None
    if following.delay_seconds > 0:
        headers = delayed_attempt_headers(
            target_topic=following.route.send_topic, due_at=due, attempt=event.attempt
        )
    await broker.publish(
        event, topic=following.topic, key=event.account_id.encode(), headers=headers
    )
    RETRIES.labels(topic=following.topic).inc()


async def fail_message(
    db: Database,
    broker: KafkaBroker,
    event: SendMessage,
    *,
    engine: str,
    error: GatewayError,
    origin: RecordOrigin,
    outcome: str = "failed",
) -> bool:
    """``sending`` → ``failed`` (retryable failures stay redrivable), then its dead letter.
    False if the claim no longer held."""
    now = utc_now()
    moved = await transition(
        db,
        message_id=event.message_id,
        campaign_id=event.campaign_id,
        source=MessageStatus.SENDING,
        target=MessageStatus.FAILED,
        attempt=event.attempt,
        fields={
            "failedReason": error.reason,
            "failedDetail": error.detail,
            "failedAt": now,
            "retryable": error.retryable,
            "deliveryMethod": engine,
            "firstFailureAt": event.first_failure_at or now,
            "deadLetter": {
                "topic": origin.topic,
                "partition": origin.partition,
                "offset": origin.offset,
            },
        },
        push={"attempts": attempt_record(event, engine, outcome, error, now)},
        counters=failure_counters(error.reason),
    )
    if moved:
        await publish_dead_letter(broker, event, error, origin)
        log.info("message failed", reason=error.reason, retryable=error.retryable)
    return moved


async def publish_dead_letter(
    broker: KafkaBroker, event: SendMessage, error: GatewayError, origin: RecordOrigin
) -> None:
    """The dead letter of a message whose plan ended at ``event``'s attempt (one per attempt:
    publishing it again is recorded once)."""
    why = "attempt plan exhausted" if error.retryable else "permanent failure"
    headers = dead_letter_headers(
        topic=origin.topic,
        partition=origin.partition,
        offset=origin.offset,
        error=GATEWAY_ERROR_TYPE,
        error_message=f"{why}: {error.reason}: {error.detail}",
        reason=error.reason,
        attempts=event.step + 1,
        first_failure=event.first_failure_at,
        dead_letter_id=message_dead_letter_id(event.message_id, event.attempt),
    )
    await broker.publish(event, topic=MESSAGE_DLT, key=event.account_id.encode(), headers=headers)
    DEAD_LETTERED.labels(topic=origin.topic, reason=error.reason).inc()


async def republish_unfinished(
    db: Database, broker: KafkaBroker, plan: AttemptPlan, event: SendMessage, engine: str
) -> bool:
    """For a send event whose claim did not apply: if the message document shows that this
    very attempt failed and what follows may not have been published (the process died, or
    Kafka refused, between the two), publish it again. Duplicates are harmless: the next
    attempt is claimed once, a dead letter is recorded once. True if something was published.
    """
    doc: Document | None = await db[MESSAGES].find_one(
        {"_id": event.message_id},
        {
            "status": 1,
            "attempt": 1,
            "planStep": 1,
            "nextAttemptAt": 1,
            "firstFailureAt": 1,
            "failedReason": 1,
            "failedDetail": 1,
            "retryable": 1,
            "deliveryMethod": 1,
            "deadLetter": 1,
        },
    )
    if doc is None or doc.get("deliveryMethod") != engine:
        return False
    status, attempt = doc.get("status"), doc.get("attempt")
    if status == MessageStatus.RETRYING.value and attempt == event.attempt + 1:
        step = int(doc.get("planStep", event.step + 1))
        chosen = plan.step(step)
        following = NextAttempt(step, chosen.route, chosen.delay_seconds)
        next_event = event.model_copy(
            update={"attempt": attempt, "step": step, "first_failure_at": doc.get("firstFailureAt")}
        )
        await publish_attempt(broker, next_event, following, doc.get("nextAttemptAt") or utc_now())
        return True
    if status == MessageStatus.FAILED.value and attempt == event.attempt and doc.get("deadLetter"):
        error = GatewayError(
            str(doc.get("failedReason")),
            str(doc.get("failedDetail")),
            retryable=bool(doc.get("retryable")),
        )
        origin_doc = doc["deadLetter"]
        origin = RecordOrigin(origin_doc["topic"], origin_doc["partition"], origin_doc["offset"])
        failed_event = event.model_copy(update={"first_failure_at": doc.get("firstFailureAt")})
        await publish_dead_letter(broker, failed_event, error, origin)
        return True
    return False
