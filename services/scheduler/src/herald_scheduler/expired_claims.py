"""The sweep of expired claims: messages left ``sending`` by a sender that died mid-attempt.

A claim carries a lease. Once the lease ran out without an outcome, nobody knows whether the
gateway sent the message, so the sweep resolves it by policy, never by a blind resend:

- ``fail`` (default): the message becomes ``failed`` with reason ``outcome-unknown``, not
  retryable (the hourly redrive leaves it alone), and a dead letter an operator may redrive;
- ``resend``: the message is queued again for the same plan step with the next attempt number,
  accepting a possible duplicate over a possible loss.

The scheduler runs this in its periodic sweep; it is safe to run from several places at once
(each resolution is a compare-and-set on the claim's attempt).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum

from faststream.kafka import KafkaBroker

from herald_core.attempt_plan import AttemptPlan
from herald_core.contracts.common import utc_now
from herald_core.contracts.events import SendMessage
from herald_core.messages.states import MessageStatus
from herald_gateways.failures import OUTCOME_UNKNOWN
from herald_gateways.interface import GatewayError
from herald_infra.messages.attempt_outcomes import RecordOrigin, attempt_record, fail_message
from herald_infra.messages.queueing import publish_send_events, send_event_from_document
from herald_infra.messages.transitions import transition
from herald_infra.mongo.client import MESSAGES, Database, Document
from herald_infra.runtime.logging import get_logger
from herald_infra.runtime.metrics import EXPIRED_CLAIMS
from herald_scheduler.sweep_failures import SweepItemFailures

log = get_logger(__name__)


class ExpiredClaimPolicy(StrEnum):
    FAIL = "fail"
    RESEND = "resend"


@dataclass(frozen=True)
class ClaimSweep:
    failed: int = 0
    resent: int = 0


def _claim_event(doc: Document) -> SendMessage:
    event = send_event_from_document(doc)
    return event.model_copy(update={"first_failure_at": doc.get("firstFailureAt")})


async def resolve_expired_claims(
    db: Database,
    broker: KafkaBroker,
    *,
    plan: AttemptPlan,
    policy: ExpiredClaimPolicy = ExpiredClaimPolicy.FAIL,
    now: datetime | None = None,
    limit: int = 1000,
    items: SweepItemFailures | None = None,
    errors: dict[str, str] | None = None,
) -> ClaimSweep:
    """Resolve up to ``limit`` claims whose lease ended before ``now``; returns the counts.
    ``items`` keeps a message that cannot be resolved (not an outage) from the others, its
    failure recorded in ``errors``."""
    now = now or utc_now()
    expired = [
        doc
        async for doc in db[MESSAGES]
        .find({"status": MessageStatus.SENDING.value, "claim.leaseUntil": {"$lt": now}})
        .limit(limit)
    ]
    failed = resent = 0
    for doc in expired:

        async def resolve(doc: Document = doc) -> int:
            if policy is ExpiredClaimPolicy.FAIL:
                return await _fail_unknown_outcome(db, broker, plan, doc)
            return await _resend(db, broker, plan, doc)

        if items is None:
            resolved = await resolve()
        else:
            resolved = (
                await items.run(
                    "expired-claims",
                    resolve,
                    campaign_id=str(doc.get("campaignId")),
                    tenant_id=doc.get("tenantId"),
                    message_id=str(doc.get("_id")),
                    errors=errors,
                )
                or 0
            )
        if policy is ExpiredClaimPolicy.FAIL:
            failed += resolved
        else:
            resent += resolved
    if expired:
        log.warning("expired claims resolved", policy=policy.value, failed=failed, resent=resent)
    return ClaimSweep(failed=failed, resent=resent)


def _unknown_outcome(doc: Document) -> GatewayError:
    claim = doc.get("claim") or {}
    return GatewayError(
        OUTCOME_UNKNOWN,
        f"the claim by {claim.get('owner', 'a sender')} expired at {claim.get('leaseUntil')} "
        "without an outcome: the message may or may not have been sent",
        retryable=False,
    )


async def _fail_unknown_outcome(
    db: Database, broker: KafkaBroker, plan: AttemptPlan, doc: Document
) -> int:
    event = _claim_event(doc)
    engine = str((doc.get("claim") or {}).get("engine", "unknown"))
    origin = RecordOrigin(plan.step(event.step).route.send_topic)
    moved = await fail_message(
        db,
        broker,
        event,
        engine=engine,
        error=_unknown_outcome(doc),
        origin=origin,
        outcome="unknown",
    )
    if moved:
        EXPIRED_CLAIMS.labels(resolution=ExpiredClaimPolicy.FAIL.value).inc()
    return int(moved)


async def _resend(db: Database, broker: KafkaBroker, plan: AttemptPlan, doc: Document) -> int:
    event = _claim_event(doc)
    engine = str((doc.get("claim") or {}).get("engine", "unknown"))
    resend = event.model_copy(update={"attempt": event.attempt + 1})
    now = utc_now()
    moved = await transition(
        db,
        message_id=event.message_id,
        campaign_id=event.campaign_id,
        source=MessageStatus.SENDING,
        target=MessageStatus.QUEUED,
        attempt=event.attempt,
        fields={"attempt": resend.attempt, "retryCount": resend.attempt - 1},
        push={"attempts": attempt_record(event, engine, "unknown", _unknown_outcome(doc), now)},
    )
    if moved:
        await publish_send_events(broker, [resend], plan.step(event.step).route.send_topic)
        EXPIRED_CLAIMS.labels(resolution=ExpiredClaimPolicy.RESEND.value).inc()
    return int(moved)
