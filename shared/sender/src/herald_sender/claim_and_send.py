"""One attempt to deliver one message: claim, call the gateway, record the outcome.

The claim is a compare-and-set on ``_id``, ``status`` and ``attempt``, written durably: a send
event delivered twice (rebalance, crash, re-publish) finds the message already claimed and is
skipped, so the gateway is called at most once per attempt. Once the gateway was called, the
outcome is recorded through any database outage (retried in place, never by handling the
record again). A claim whose acknowledgement was lost is this process's own: handled again, it
is taken up where it stood if this process has not called the gateway for it, and left to the
sweep's expired-claim policy otherwise.
"""

from __future__ import annotations

import asyncio
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import partial
from typing import Any

from faststream.kafka import KafkaBroker

from herald_core.attempt_plan import AttemptPlan, Route
from herald_core.contracts.common import utc_now
from herald_core.contracts.events import MessageKind, MessageStatusChanged, SendMessage
from herald_core.contracts.topics import MESSAGE_STATUS
from herald_core.messages.states import CLAIMABLE_STATUSES, MessageStatus
from herald_gateways.failures import CIRCUIT_OPEN, circuit_open
from herald_gateways.interface import GatewayError, MediaFile, SendReceipt
from herald_infra.kafka.handler_retries import INTERNAL_ERROR, describe
from herald_infra.messages.attempt_outcomes import (
    RecordOrigin,
    attempt_record,
    fail_message,
    next_attempt_after,
    publish_dead_letter,
    republish_unfinished,
    schedule_next_attempt,
)
from herald_infra.messages.batched_transitions import TransitionBatcher
from herald_infra.messages.transitions import transition
from herald_infra.messages.unsent import HELD_AT, publish_held_message
from herald_infra.mongo.client import MESSAGES, Database
from herald_infra.mongo.outages import outlast_outage
from herald_infra.recipients.suppressions import SuppressionCache
from herald_infra.runtime.logging import bind_context, get_logger
from herald_infra.runtime.metrics import (
    CAMPAIGN_GATE_STOPS,
    DUPLICATE_DELIVERIES,
    SEND_ATTEMPTS,
    SEND_LATENCY,
)
from herald_sender.campaign_gate import CampaignGate, GateDecision
from herald_sender.circuit_registry import AccountCircuits
from herald_sender.gateway_directory import GatewayDirectory, SendRoute
from herald_sender.media_files import MediaFiles
from herald_sender.number_checks import NumberChecks, not_on_whatsapp
from herald_sender.pacer import SendPacer

log = get_logger(__name__)

CAMPAIGN_PAUSED = "campaign-paused"
CAMPAIGN_CANCELLED = "campaign-cancelled"
VALIDITY_OVER = "validity-window-over"
SUPPRESSED = "suppressed"
RENEWAL_MARGIN_SECONDS = 15.0
"""A claim is renewed before its gateway call unless its lease outlasts the call's timeout by
this much (time to record the outcome, and clocks of other hosts a little off)."""

_STOPPED_AS: dict[GateDecision, tuple[MessageStatus, str, str]] = {
    # decision: the status the message ends in, the reason it carries, the metric's outcome
    GateDecision.HOLD: (MessageStatus.QUEUED, CAMPAIGN_PAUSED, "held"),
    GateDecision.CANCEL: (MessageStatus.CANCELLED, CAMPAIGN_CANCELLED, "cancelled"),
    GateDecision.EXPIRE: (MessageStatus.EXPIRED, VALIDITY_OVER, "expired"),
}
_STOPPED_AT_FIELD = {
    # Handed back at the same attempt and plan step: the resume publishes exactly that again.
    MessageStatus.QUEUED: HELD_AT,
    MessageStatus.CANCELLED: "cancelledAt",
    MessageStatus.EXPIRED: "expiredAt",
    MessageStatus.SUPPRESSED: "suppressedAt",
}


def lease_may_run_out(lease_until: datetime, gateway_timeout_seconds: float, now: datetime) -> bool:
    """Whether a claim's lease could end before the gateway answered and the outcome was
    recorded (after a long wait for the account's turn), so that it must be renewed before the
    call. A younger claim is sent without that round trip: nobody else can have resolved it,
    since the sweep takes only claims whose lease ran out. Pure."""
    return lease_until - now < timedelta(seconds=gateway_timeout_seconds + RENEWAL_MARGIN_SECONDS)


@dataclass(frozen=True)
class SenderProfile:
    """What distinguishes the primary from the fallback deployment of the sender engine."""

    route: Route
    delivery_method: str
    """Recorded as the message's ``deliveryMethod``: ``baileys`` or ``web-js``."""
    topic: str
    group_id: str


class MessageSender:
    def __init__(
        self,
        *,
        db: Database,
        broker: KafkaBroker,
        gateways: GatewayDirectory,
        profile: SenderProfile,
        plan: AttemptPlan,
        circuits: AccountCircuits,
        pacer: SendPacer,
        lease_seconds: float,
        owner: str,
        gate: CampaignGate | None = None,
        transitions: TransitionBatcher | None = None,
        numbers: NumberChecks | None = None,
        suppressions: SuppressionCache | None = None,
    ) -> None:
        """``gate``: the check of each claimed message against its campaign's status and its
        validity window; by default one reading ``campaigns`` with a 1-second cache.
        ``transitions``: applies the claims and the sends recorded, batched across lanes.
        ``numbers``: whether a recipient is on WhatsApp, asked before its first send; None
        sends without asking. ``suppressions``: the tenants' suppression lists, checked before
        the number check and again right before the gateway call; None sends without looking."""
        self._db = db
        self._broker = broker
        self._gateways = gateways
        self._profile = profile
        self._plan = plan
        self._circuits = circuits
        self._pacer = pacer
        self._lease = timedelta(seconds=lease_seconds)
        self._owner = owner
        self._gate = gate or CampaignGate.reading(db, cache_seconds=1.0)
        self._transitions = transitions or TransitionBatcher(db)
        self._numbers = numbers
        self._suppressions = suppressions
        self._media = MediaFiles(db)
        self._called: set[tuple[str, int]] = set()
        """(message, attempt) whose gateway call this process made and has not finished
        recording: a claim of those is never taken up again."""

    async def deliver(self, event: SendMessage, origin: RecordOrigin) -> MessageStatus | None:
        """Deliver one send event; returns the message's new status, or None if skipped."""
        bind_context(campaign_id=event.campaign_id, message_id=event.message_id)
        method = self._profile.delivery_method
        # Before the claim: a lookup that fails leaves the message unclaimed for the retry.
        route = await self._gateways.route(event.tenant_id, event.account_id)
        claimed_at = utc_now()
        source = await self._claim(event, claimed_at)
        if source is not None:
            await self._publish_status(event, MessageStatus.SENDING, source)
        elif (own_claim_at := await self._own_claim_not_sent(event)) is not None:
            claimed_at = own_claim_at
            log.info("claim taken up again: its acknowledgement was lost", attempt=event.attempt)
        else:
            if not await republish_unfinished(self._db, self._broker, self._plan, event, method):
                DUPLICATE_DELIVERIES.labels(delivery_method=method).inc()
                log.debug("send skipped: already claimed or done", attempt=event.attempt)
            return None
        if (stopped := await self._stop_if_not_sendable(event)) is not None:
            return stopped
        status = await self._attempt(event, route, claimed_at, origin)
        self._called.discard((event.message_id, event.attempt))
        return status

    async def give_up(
        self, event: SendMessage, origin: RecordOrigin, error: Exception
    ) -> MessageStatus | None:
        """End a message whose delivery kept failing with ``error``, neither an outage nor a
        gateway's answer (a bug, a sender account that cannot be read): claimed if it was not,
        then ``failed`` as ``internal-error`` (permanent: an operator redrives it once the cause
        is fixed) with its dead letter. A message whose gateway call this process made keeps its
        claim for the sweep (its outcome is unknown) and only its dead letter is published; one
        claimed or ended by someone else is left as it is (None)."""
        bind_context(campaign_id=event.campaign_id, message_id=event.message_id)
        failure = GatewayError(INTERNAL_ERROR, describe(error)[:1000], retryable=False)
        SEND_ATTEMPTS.labels(
            delivery_method=self._profile.delivery_method, outcome=INTERNAL_ERROR
        ).inc()
        if (event.message_id, event.attempt) in self._called:
            await publish_dead_letter(self._broker, event, failure, origin)
            log.error("message given up after its gateway call; the sweep resolves its claim")
            return None
        source = await self._claim(event, utc_now())
        if source is not None:
            await self._publish_status(event, MessageStatus.SENDING, source)
        elif await self._own_claim_not_sent(event) is None:
            # Failed by an earlier try whose dead letter did not make it (Kafka away), or
            # claimed or ended by someone else meanwhile.
            method = self._profile.delivery_method
            if not await republish_unfinished(self._db, self._broker, self._plan, event, method):
                log.warning("message given up, but claimed or done by someone else meanwhile")
            return None
        log.error("message given up", reason=INTERNAL_ERROR, error=failure.detail[:300])
        return await outlast_outage(
            partial(self._route_failure, event, failure, origin), what="message given up"
        )

    async def _attempt(
        self, event: SendMessage, route: SendRoute, claimed_at: datetime, origin: RecordOrigin
    ) -> MessageStatus | None:
        """The claimed message's turn, gateway call and recorded outcome."""

        try:
            await self._check_sendable(event, route)
            if await self._suppressed(event):
                return await self._end_suppressed(event)
            await self._check_number(event, route)
            media = await self._media_file(event)
            # The account's anti-ban turn, right before the gateway call: a message that is not
            # sent (disabled account, session down, circuit open) takes no slot.
            slot = await self._pacer.wait_turn(event)
            called = False
            try:
                # The wait may have been long: the campaign may have been paused or cancelled,
                # or the message's time run out, meanwhile.
                if (stopped := await self._stop_if_not_sendable(event)) is not None:
                    return stopped
                # An opt-out that came while the message waited stops it here.
                if await self._suppressed(event):
                    return await self._end_suppressed(event)
                if self._lease_may_run_out(claimed_at) and not await self._renew_claim(event):
                    # The wait outlasted the claim's lease and the sweep resolved the message:
                    # it is not ours to send any more.
                    log.warning("claim resolved by the sweep while waiting for the account")
                    return None
                called = True
                self._called.add((event.message_id, event.attempt))
                receipt = await self._send(event, route, media)
            finally:
                if called:
                    await self._pacer.gateway_answered(slot)
                else:  # a message not sent costs its account no pace
                    await self._pacer.slot_unused(slot)
        except GatewayError as error:
            failed = partial(self._route_failure, event, error, origin)
            return await outlast_outage(failed, what="failed attempt")
        # The message is out: from here on, only recording, through any database outage.
        await outlast_outage(
            lambda: self._circuits.record_success(event.tenant_id, event.account_id),
            what="circuit after a send",
        )
        return await outlast_outage(
            lambda: self._record_sent(event, receipt.gateway_message_id), what="sent message"
        )

    async def _stop_if_not_sendable(self, event: SendMessage) -> MessageStatus | None:
        """None if the claimed message may go to the gateway; otherwise end or hand back the
        claim as its campaign or validity window says, and return the message's status (None
        if the claim no longer held)."""
        decision = await self._gate.decide(event.campaign_id, event.expires_at, utc_now())
        if decision is GateDecision.SEND:
            return None
        target, reason, outcome = _STOPPED_AS[decision]
        if not await self._end_claim(event, target, reason, outcome):
            return None
        if decision is GateDecision.HOLD:
            return await self._after_hand_back(event)
        return target

    async def _suppressed(self, event: SendMessage) -> bool:
        """Whether the recipient is on the tenant's suppression list (from memory; see
        SuppressionCache). A confirmation reply to a keyword goes to a number that just opted
        out, by design."""
        if self._suppressions is None or event.kind is MessageKind.KEYWORD_REPLY:
            return False
        return await self._suppressions.is_suppressed(event.tenant_id, event.phone)

    async def _end_suppressed(self, event: SendMessage) -> MessageStatus | None:
        """End the claimed message ``suppressed``: its recipient opted out (or was put on the
        list) after the message was made. No gateway call, no pace taken."""
        target = MessageStatus.SUPPRESSED
        return target if await self._end_claim(event, target, SUPPRESSED, SUPPRESSED) else None

    async def _end_claim(
        self, event: SendMessage, target: MessageStatus, reason: str, outcome: str
    ) -> bool:
        """Move this process's claim to ``target`` without a send, count it (``outcome``) and
        announce it with ``reason``; False if the claim no longer held."""
        moved = await transition(
            self._db,
            message_id=event.message_id,
            campaign_id=event.campaign_id,
            source=MessageStatus.SENDING,
            target=target,
            attempt=event.attempt,
            fields={_STOPPED_AT_FIELD[target]: utc_now()},
        )
        if not moved:
            log.warning("claim resolved by someone else before it was stopped", reason=reason)
            return False
        CAMPAIGN_GATE_STOPS.labels(
            delivery_method=self._profile.delivery_method, outcome=outcome
        ).inc()
        await self._publish_status(event, target, MessageStatus.SENDING, reason=reason)
        log.info("message not sent", reason=reason, status=target.value)
        return True

    async def _after_hand_back(self, event: SendMessage) -> MessageStatus:
        """Look at the campaign again, uncached, now that the message is back in ``queued``: a
        resume that ran while it was being handed back did not see it waiting (it was
        ``sending``), so publish it again ourselves; a cancel likewise did not cancel it."""
        decision = await self._gate.decide_fresh(event.campaign_id, event.expires_at, utc_now())
        if decision is GateDecision.SEND:
            await publish_held_message(self._broker, self._plan, event)
            log.info("campaign resumed while the message was handed back; published again")
            return MessageStatus.QUEUED
        if decision is GateDecision.HOLD:
            return MessageStatus.QUEUED
        target, reason, _ = _STOPPED_AS[decision]
        moved = await transition(
            self._db,
            message_id=event.message_id,
            campaign_id=event.campaign_id,
            source=MessageStatus.QUEUED,
            target=target,
            attempt=event.attempt,
            fields={_STOPPED_AT_FIELD[target]: utc_now()},
        )
        if moved:
            await self._publish_status(event, target, MessageStatus.QUEUED, reason=reason)
            return target
        return MessageStatus.QUEUED

    def _lease_may_run_out(self, claimed_at: datetime) -> bool:
        return lease_may_run_out(
            claimed_at + self._lease, self._gateways.timeout_seconds, utc_now()
        )

    async def _renew_claim(self, event: SendMessage) -> bool:
        """Renew the lease of this process's claim, right before the gateway call; False if the
        claim no longer holds."""
        renewed = await self._db[MESSAGES].update_one(
            {
                "_id": event.message_id,
                "status": MessageStatus.SENDING.value,
                "attempt": event.attempt,
                "claim.owner": self._owner,
            },
            {"$set": {"claim.leaseUntil": utc_now() + self._lease}},
        )
        return bool(renewed.modified_count)

    async def _claim(self, event: SendMessage, claimed_at: datetime) -> MessageStatus | None:
        return await self._transitions.transition_from_any(
            message_id=event.message_id,
            campaign_id=event.campaign_id,
            sources=CLAIMABLE_STATUSES,
            target=MessageStatus.SENDING,
            attempt=event.attempt,
            fields={
                "claim": {
                    "engine": self._profile.delivery_method,  # stored name, kept
                    "step": event.step,
                    "owner": self._owner,
                    "claimedAt": claimed_at,
                    "leaseUntil": claimed_at + self._lease,
                }
            },
        )

    async def _own_claim_not_sent(self, event: SendMessage) -> datetime | None:
        """When the message is ``sending`` at this attempt under this process's own claim and
        this process has not called the gateway for it (the claim applied, its acknowledgement
        was lost), the time it was claimed; None otherwise."""
        if (event.message_id, event.attempt) in self._called:
            return None
        found = await self._db[MESSAGES].find_one(
            {
                "_id": event.message_id,
                "status": MessageStatus.SENDING.value,
                "attempt": event.attempt,
                "claim.owner": self._owner,
            },
            {"claim.claimedAt": 1},
        )
        if found is None:
            return None
        claimed_at: datetime = found["claim"]["claimedAt"]
        return claimed_at

    async def _check_sendable(self, event: SendMessage, route: SendRoute) -> None:
        """Raise the GatewayError of a send that must not call the gateway: the account is
        disabled or unknown, its circuit on this route is open and the plan has another route
        to go to, or its session was not connected at its last health check (then it is the
        gateway's own ``session-not-connected``, and goes the same way)."""
        method = self._profile.delivery_method
        try:
            route.check_account()
        except GatewayError as error:
            await self._count_failure(event, error)
            raise
        if not await self._circuits.allows(event.tenant_id, event.account_id):
            has_other_route = self._plan.next_attempt(event.step, switch_route=True)
            if has_other_route and has_other_route.route is not self._profile.route:
                SEND_ATTEMPTS.labels(delivery_method=method, outcome=CIRCUIT_OPEN).inc()
                raise circuit_open(event.account_id, method)
        try:
            route.check_session()
        except GatewayError as error:
            await self._count_failure(event, error)
            raise

    async def _check_number(self, event: SendMessage, route: SendRoute) -> None:
        """Raise ``not-on-whatsapp`` for a number that is not on WhatsApp. A number without a
        remembered answer is asked of the gateway in a paced turn of the account of its own:
        a check is a request to WhatsApp too."""
        if self._numbers is None or event.kind is MessageKind.KEYWORD_REPLY:
            return
        on_whatsapp = await self._numbers.known(event)
        if on_whatsapp is None:
            slot = await self._pacer.wait_turn(event)
            try:
                on_whatsapp = await self._numbers.ask(
                    event, route, partial(self._count_failure, event)
                )
            finally:
                await self._pacer.gateway_answered(slot)
        if not on_whatsapp:
            error = not_on_whatsapp(event.phone)
            await self._count_failure(event, error)
            raise error

    async def _media_file(self, event: SendMessage) -> MediaFile | None:
        """The message's media as the gateway takes it (None for a text); an upload that is
        gone fails the message (``media-missing``)."""
        try:
            return await self._media.file_of(event)
        except GatewayError as error:
            await self._count_failure(event, error)
            raise

    async def _send(
        self, event: SendMessage, route: SendRoute, media: MediaFile | None
    ) -> SendReceipt:
        """Call the account's gateway session: a text, or a media message with the body as
        its caption."""
        method = self._profile.delivery_method
        started = time.perf_counter()
        try:
            if media is None:
                receipt = await route.gateway.send_text(
                    session=route.session,
                    phone=event.phone,
                    text=event.body,
                    message_id=event.message_id,
                )
            else:
                receipt = await route.gateway.send_media(
                    session=route.session,
                    phone=event.phone,
                    media=media,
                    caption=event.body,
                    message_id=event.message_id,
                )
        except GatewayError as error:
            await self._count_failure(event, error)
            raise
        finally:
            SEND_LATENCY.labels(delivery_method=method).observe(time.perf_counter() - started)
        SEND_ATTEMPTS.labels(delivery_method=method, outcome="sent").inc()
        return receipt

    async def _count_failure(self, event: SendMessage, error: GatewayError) -> None:
        SEND_ATTEMPTS.labels(
            delivery_method=self._profile.delivery_method, outcome=error.reason
        ).inc()
        await self._circuits.record_failure(event.tenant_id, event.account_id, error)

    async def _route_failure(
        self, event: SendMessage, error: GatewayError, origin: RecordOrigin
    ) -> MessageStatus:
        method = self._profile.delivery_method
        following = next_attempt_after(self._plan, event, error)
        if following is not None:
            moved = await schedule_next_attempt(
                self._db, self._broker, event, following, engine=method, error=error
            )
            status = MessageStatus.RETRYING
        else:
            moved = await fail_message(
                self._db, self._broker, event, engine=method, error=error, origin=origin
            )
            status = MessageStatus.FAILED
        if not moved:
            # Recorded by an earlier try whose answer was lost (or resolved by the sweep): what
            # follows the failure may not have been published yet.
            await republish_unfinished(self._db, self._broker, self._plan, event, method)
        await self._publish_status(event, status, MessageStatus.SENDING, reason=error.reason)
        return status

    async def _record_sent(self, event: SendMessage, gateway_id: str | None) -> MessageStatus:
        now = utc_now()
        moved = await self._transitions.transition(
            message_id=event.message_id,
            campaign_id=event.campaign_id,
            source=MessageStatus.SENDING,
            target=MessageStatus.SENT,
            attempt=event.attempt,
            fields={
                "gatewayMessageId": gateway_id,
                "deliveryMethod": self._profile.delivery_method,
                "sentAt": now,
            },
            push={
                "attempts": attempt_record(event, self._profile.delivery_method, "sent", None, now)
            },
        )
        if not moved:
            log.warning("sent, but the claim was resolved by someone else meanwhile")
        await self._publish_status(
            event, MessageStatus.SENT, MessageStatus.SENDING, gateway_message_id=gateway_id
        )
        return MessageStatus.SENT

    async def _publish_status(
        self,
        event: SendMessage,
        status: MessageStatus,
        previous: MessageStatus,
        *,
        gateway_message_id: str | None = None,
        reason: str | None = None,
    ) -> None:
        # Status events are notifications, not state (MongoDB holds that): publish without
        # waiting for the broker, and log if it fails.
        pending = await self._broker.publish(
            MessageStatusChanged(
                tenant_id=event.tenant_id,
                campaign_id=event.campaign_id,
                message_id=event.message_id,
                status=status.value,
                previous_status=previous.value,
                attempt=event.attempt,
                delivery_method=self._profile.delivery_method,
                gateway_message_id=gateway_message_id,
                reason=reason,
                at=utc_now(),
            ),
            topic=MESSAGE_STATUS,
            key=event.message_id.encode(),
            no_confirm=True,
        )
        pending.add_done_callback(_log_publish_failure)


def _log_publish_failure(future: asyncio.Future[Any]) -> None:
    if not future.cancelled() and (error := future.exception()) is not None:
        log.warning("status event not published", error=repr(error))
