"""What the gateways post to Herald's webhooks, and what Herald does with each event; shared by
the account receipt URLs (:mod:`.account_webhooks`) and the deployment gateway's webhooks
(:mod:`.receipt_webhooks`).

The bodies are the gateways' own, with their field names; fields Herald does not read are
ignored. A receipt Herald cannot use (another event, an unknown message, one that would move a
message backwards) is answered 200, so the gateway does not retry it; an unreadable body is 422
naming the field.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi.exceptions import RequestValidationError
from pydantic import BaseModel, Field, StrictBool, StrictInt, StrictStr, ValidationError

from herald_campaign.domain.receipts import (
    Receipt,
    ReceiptOutcome,
    ReceiptSource,
    evolution_acknowledgement,
    waha_acknowledgement,
)
from herald_campaign.entrypoints.rest.errors import INVALID
from herald_campaign.entrypoints.rest.schemas import (
    ErrorResponse,
    ResponseModel,
    ValidationErrorResponse,
)
from herald_campaign.entrypoints.services import CampaignServices
from herald_campaign.service_layer.receipts import ReceiptScope, RecordedReceipt
from herald_infra.runtime.metrics import RECEIPTS

WAHA_ACK_EVENT = "message.ack"
EVOLUTION_UPDATE_EVENT = "messages.update"

REFUSED: dict[int | str, dict[str, Any]] = {
    400: {"model": ValidationErrorResponse, "description": "The body is not JSON."},
    401: {
        "model": ErrorResponse,
        "description": "Unknown receipt URL, or a missing or bad signature.",
    },
    **INVALID,
}


class WahaWebhook(BaseModel):
    """What WAHA posts for every event: ``event`` says what ``payload`` holds."""

    event: Annotated[str, Field(min_length=1, examples=[WAHA_ACK_EVENT])]
    session: str | None = None
    engine: str | None = None
    payload: dict[str, Any] = Field(
        description="For message.ack: id, from, to, fromMe, ack (-1..4), ackName."
    )


class WahaMessageAck(BaseModel):
    """The payload of WAHA's ``message.ack``."""

    id: Annotated[StrictStr, Field(min_length=1)]
    from_: StrictStr | None = Field(default=None, alias="from")
    to: StrictStr | None = None
    from_me: StrictBool | None = Field(default=None, alias="fromMe")
    ack: StrictInt | None = None
    ack_name: StrictStr | None = Field(default=None, alias="ackName")


class EvolutionWebhook(BaseModel):
    """What Evolution API posts for every event: ``event`` says what ``data`` holds."""

    event: Annotated[str, Field(min_length=1, examples=[EVOLUTION_UPDATE_EVENT])]
    instance: str | None = None
    data: Any = Field(
        default=None, description="For messages.update: keyId, remoteJid, fromMe, status."
    )


class EvolutionMessageUpdate(BaseModel):
    """The data of Evolution API's ``messages.update``."""

    key_id: Annotated[StrictStr, Field(min_length=1, alias="keyId")]
    remote_jid: StrictStr | None = Field(default=None, alias="remoteJid")
    from_me: StrictBool | None = Field(default=None, alias="fromMe")
    status: StrictStr | StrictInt


class ReceiptResponse(ResponseModel):
    outcome: ReceiptOutcome = Field(
        description="applied, duplicate, stale (never backwards), ignored, not-sent or "
        "unknown-message; all but applied changed nothing."
    )
    message_id: str | None = Field(
        default=None,
        description="The Herald message, if found (for a recipient's message: the campaign "
        "message it answered).",
    )
    status: str | None = Field(default=None, description="Its status after the receipt.")
    inbound: str | None = Field(
        default=None,
        description="For a recipient's message (WAHA `message`, Evolution `messages.upsert`): "
        "what it did: opted-out, already-opted-out, opted-in, help, replied, message, "
        "duplicate, ignored (the account's own, a group's, a broadcast) or unknown-sender.",
    )


def invalid(error: ValidationError, *within: str) -> RequestValidationError:
    """The errors of a nested part of the body, located from the body's root."""
    return RequestValidationError(
        [{**e, "loc": ("body", *within, *e["loc"])} for e in error.errors()]
    )


def answer(source: ReceiptSource, recorded: RecordedReceipt) -> ReceiptResponse:
    RECEIPTS.labels(source=source.value, outcome=recorded.outcome.value).inc()
    return ReceiptResponse(
        outcome=recorded.outcome,
        message_id=recorded.message_id,
        status=recorded.status.value if recorded.status else None,
    )


def ignored(source: ReceiptSource) -> ReceiptResponse:
    return answer(source, RecordedReceipt(ReceiptOutcome.IGNORED))


async def waha_receipt(
    event: WahaWebhook, services: CampaignServices, scope: ReceiptScope
) -> ReceiptResponse:
    """A WAHA ``message.ack`` applied within ``scope``; any other event is ignored here."""
    source = ReceiptSource.WAHA
    if event.event != WAHA_ACK_EVENT:
        return ignored(source)
    try:
        ack = WahaMessageAck.model_validate(event.payload)
        acknowledgement = waha_acknowledgement(ack.ack, ack.ack_name)
    except ValidationError as error:
        raise invalid(error, "payload") from None
    except ValueError:
        missing = {"type": "missing", "loc": ("body", "payload", "ack"), "msg": "Field required"}
        raise RequestValidationError([missing]) from None
    if ack.from_me is False:  # an incoming message's ack: not one Herald sent
        return ignored(source)
    receipt = Receipt(source, ack.id, acknowledgement)
    return answer(source, await services.receipts.record(receipt, scope))


async def evolution_receipt(
    event: EvolutionWebhook, services: CampaignServices, scope: ReceiptScope
) -> ReceiptResponse:
    """An Evolution ``messages.update`` applied within ``scope``; any other event is ignored
    here. (Evolution 1.8 and 2.x both name it ``messages.update``; the upper-case
    ``MESSAGES_UPDATE`` of its configuration is taken too.)"""
    source = ReceiptSource.EVOLUTION
    if event.event.lower().replace("_", ".") != EVOLUTION_UPDATE_EVENT:
        return ignored(source)
    try:
        update = EvolutionMessageUpdate.model_validate(event.data)
    except ValidationError as error:
        raise invalid(error, "data") from None
    if update.from_me is False:
        return ignored(source)
    receipt = Receipt(source, update.key_id, evolution_acknowledgement(update.status))
    return answer(source, await services.receipts.record(receipt, scope))
