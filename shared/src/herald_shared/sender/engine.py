"""One attempt to deliver one message: claim, call the gateway, record the outcome.

The claim is a compare-and-set on ``_id``, ``status`` and ``attempt``: a send event delivered
twice (rebalance, crash, re-publish) finds the message already claimed and is skipped, so the
gateway is called at most once per attempt.
"""

from __future__ import annotations

import asyncio
import os
import socket
import time
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from faststream.kafka import KafkaBroker

from herald_shared.contracts.common import utc_now
from herald_shared.contracts.events import MessageStatusChanged, SendMessage
from herald_shared.logging import bind_context, get_logger
from herald_shared.message_states import CLAIMABLE_STATUSES, MessageStatus
from herald_shared.message_transitions import transition, transition_from_any
from herald_shared.metrics import DUPLICATE_DELIVERIES, SEND_ATTEMPTS, SEND_LATENCY
from herald_shared.mongo import Database
from herald_shared.sender.gateway import Gateway, GatewayError
from herald_shared.topics import MESSAGE_STATUS

log = get_logger(__name__)


@dataclass(frozen=True)
class EngineProfile:
    """What distinguishes the primary from the fallback deployment of the sender engine."""

    delivery_method: str
    """Recorded as the message's ``deliveryMethod``: ``baileys`` or ``web-js``."""
    topic: str
    group_id: str
    session: str


class SenderEngine:
    def __init__(
        self,
        *,
        db: Database,
        broker: KafkaBroker,
        gateway: Gateway,
        profile: EngineProfile,
        lease_seconds: float,
    ) -> None:
        self._db = db
        self._broker = broker
        self._gateway = gateway
        self._profile = profile
        self._lease = timedelta(seconds=lease_seconds)
        self._owner = f"{socket.gethostname()}:{os.getpid()}"

    async def deliver(self, event: SendMessage) -> MessageStatus | None:
        """Deliver one send event; returns the message's new status, or None if skipped."""
        bind_context(campaign_id=event.campaign_id, message_id=event.message_id)
        engine = self._profile.delivery_method
        claimed_at = utc_now()
        source = await transition_from_any(
            self._db,
            message_id=event.message_id,
            campaign_id=event.campaign_id,
            sources=CLAIMABLE_STATUSES,
            target=MessageStatus.SENDING,
            attempt=event.attempt,
            fields={
                "claim": {
                    "engine": engine,
                    "owner": self._owner,
                    "claimedAt": claimed_at,
                    "leaseUntil": claimed_at + self._lease,
                }
            },
        )
        if source is None:
            DUPLICATE_DELIVERIES.labels(engine=engine).inc()
            log.debug("send skipped: already claimed or done", attempt=event.attempt)
            return None
        await self._publish_status(event, MessageStatus.SENDING, source)

        started = time.perf_counter()
        try:
            receipt = await self._gateway.send_text(
                session=self._profile.session,
                phone=event.phone,
                text=event.body,
                message_id=event.message_id,
            )
        except GatewayError as error:
            SEND_LATENCY.labels(engine=engine).observe(time.perf_counter() - started)
            SEND_ATTEMPTS.labels(engine=engine, outcome=error.reason).inc()
            return await self._record_failure(event, error)
        SEND_LATENCY.labels(engine=engine).observe(time.perf_counter() - started)
        SEND_ATTEMPTS.labels(engine=engine, outcome="sent").inc()
        return await self._record_sent(event, receipt.gateway_message_id)

    async def _record_sent(self, event: SendMessage, gateway_id: str | None) -> MessageStatus:
        now = utc_now()
        moved = await transition(
            self._db,
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
            push={"attempts": self._attempt_record(event, "sent", None, now)},
        )
        if not moved:
            log.warning("sent, but the claim was resolved by someone else meanwhile")
        await self._publish_status(
            event, MessageStatus.SENT, MessageStatus.SENDING, gateway_message_id=gateway_id
        )
        return MessageStatus.SENT

    async def _record_failure(self, event: SendMessage, error: GatewayError) -> MessageStatus:
        now = utc_now()
        await transition(
            self._db,
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
                "deliveryMethod": self._profile.delivery_method,
            },
            push={"attempts": self._attempt_record(event, "failed", error, now)},
        )
        log.info("send failed", reason=error.reason, retryable=error.retryable)
        await self._publish_status(
            event, MessageStatus.FAILED, MessageStatus.SENDING, reason=error.reason
        )
        return MessageStatus.FAILED

    def _attempt_record(
        self, event: SendMessage, outcome: str, error: GatewayError | None, at: Any
    ) -> dict[str, Any]:
        return {
            "attempt": event.attempt,
            "engine": self._profile.delivery_method,
            "outcome": outcome,
            "reason": error.reason if error else None,
            "error": error.detail if error else None,
            "at": at,
        }

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
