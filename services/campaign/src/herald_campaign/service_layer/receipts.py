"""Recording delivery receipts: find the message by its gateway id, move it forward through the
state machine (a compare-and-set that also moves the campaign's counters) and announce the
change on ``message.status``.

Receipts may arrive twice, out of order or concurrently (WAHA retries a webhook it thinks
failed); the compare-and-set makes each status change apply once, and the never-backwards rule
of :func:`~herald_campaign.domain.receipts.receipt_move` decides from the status actually found.
"""

from __future__ import annotations

from dataclasses import dataclass

from herald_campaign.domain.receipts import (
    Receipt,
    ReceiptOutcome,
    gateway_id_candidates,
    receipt_move,
)
from herald_campaign.service_layer.ports import StatusEventPublisher
from herald_core.contracts.common import utc_now
from herald_core.contracts.events import MessageStatusChanged
from herald_core.messages.states import ALLOWED_TRANSITIONS, MessageStatus
from herald_infra.messages.transitions import transition
from herald_infra.mongo.client import MESSAGES, Database, Document
from herald_infra.runtime.logging import bind_context, get_logger

log = get_logger(__name__)

_FIELDS = {
    "tenantId": 1,
    "campaignId": 1,
    "status": 1,
    "attempt": 1,
    "deliveryMethod": 1,
    "gatewayMessageId": 1,
}
_RECEIVED_AT = {MessageStatus.DELIVERED: "deliveredAt", MessageStatus.READ: "readAt"}


@dataclass(frozen=True)
class ReceiptScope:
    """Whose messages a receipt may touch: the account its URL belongs to (and that account's
    tenant), or, for the deployment's own gateway, the default account of every tenant."""

    account_id: str
    tenant_id: str | None = None

    def selector(self) -> Document:
        selector: Document = {"accountId": self.account_id}
        if self.tenant_id is not None:
            selector["tenantId"] = self.tenant_id
        return selector


@dataclass(frozen=True)
class RecordedReceipt:
    outcome: ReceiptOutcome
    message_id: str | None = None
    status: MessageStatus | None = None
    """The message's status after the receipt (None when no message was found)."""


class ReceiptService:
    def __init__(self, db: Database, events: StatusEventPublisher) -> None:
        self._db = db
        self._messages = db[MESSAGES]
        self._events = events

    async def record(self, receipt: Receipt, scope: ReceiptScope) -> RecordedReceipt:
        """Apply one receipt to a message within ``scope``; its outcome says what it did
        (nothing, for all but APPLIED). Another account's or tenant's message is unknown."""
        reported = receipt.acknowledgement.status
        if reported is None:
            return RecordedReceipt(ReceiptOutcome.IGNORED)
        message = await self._find(receipt.gateway_message_id, scope)
        if message is None:
            log.info(
                "receipt for an unknown message dropped",
                source=receipt.source.value,
                gateway_message_id=receipt.gateway_message_id,
            )
            return RecordedReceipt(ReceiptOutcome.UNKNOWN_MESSAGE)
        message_id = str(message["_id"])
        bind_context(campaign_id=message.get("campaignId"), message_id=message_id)
        # Each failed compare-and-set means the status moved meanwhile; it only moves forward,
        # so this ends within as many rounds as there are statuses.
        for _ in range(len(ALLOWED_TRANSITIONS)):
            current = MessageStatus(message["status"])
            move = receipt_move(current, reported)
            if move.target is None:
                return RecordedReceipt(move.outcome, message_id, current)
            if await transition(
                self._db,
                message_id=message_id,
                campaign_id=str(message["campaignId"]),
                source=current,
                target=move.target,
                fields={_RECEIVED_AT[move.target]: utc_now()},
            ):
                await self._announce(message, current, move.target)
                log.info(
                    "receipt recorded",
                    source=receipt.source.value,
                    reported=receipt.acknowledgement.name,
                    status=move.target.value,
                )
                return RecordedReceipt(ReceiptOutcome.APPLIED, message_id, move.target)
            found = await self._messages.find_one({"_id": message_id}, _FIELDS)
            if found is None:  # deleted meanwhile
                return RecordedReceipt(ReceiptOutcome.UNKNOWN_MESSAGE)
            message = found
        raise RuntimeError(f"message {message_id} kept changing status under a receipt")

    async def _find(self, reported_id: str, scope: ReceiptScope) -> Document | None:
        candidates = list(gateway_id_candidates(reported_id))
        return await self._messages.find_one(
            {"gatewayMessageId": {"$in": candidates}, **scope.selector()}, _FIELDS
        )

    async def _announce(
        self, message: Document, previous: MessageStatus, status: MessageStatus
    ) -> None:
        await self._events.publish(
            MessageStatusChanged(
                tenant_id=message["tenantId"],
                campaign_id=message["campaignId"],
                message_id=message["_id"],
                status=status.value,
                previous_status=previous.value,
                attempt=int(message.get("attempt", 1)),
                delivery_method=message.get("deliveryMethod"),
                gateway_message_id=message.get("gatewayMessageId"),
                at=utc_now(),
            )
        )
