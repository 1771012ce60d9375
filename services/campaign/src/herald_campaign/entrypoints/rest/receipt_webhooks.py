"""``/api/webhooks``: delivery receipts from the gateways.

No bearer token here: a gateway proves itself by its signature (WAHA) or shared token
(Evolution API), checked on the raw body before anything else (see :mod:`.webhook_signatures`).
A receipt Herald cannot use (another event, an unknown message, one that would move a message
backwards) is still answered 200, so the gateway does not retry it; only a bad signature (401)
or an unreadable body (400/422) is refused.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute
from pydantic import BaseModel, Field, StrictBool, StrictInt, StrictStr, ValidationError

from herald_campaign.domain.receipts import (
    Receipt,
    ReceiptOutcome,
    ReceiptSource,
    evolution_acknowledgement,
    waha_acknowledgement,
)
from herald_campaign.entrypoints.rest.dependencies import Services, campaign_services
from herald_campaign.entrypoints.rest.errors import INVALID, error_body
from herald_campaign.entrypoints.rest.schemas import (
    ErrorResponse,
    ResponseModel,
    ValidationErrorResponse,
)
from herald_campaign.entrypoints.rest.webhook_signatures import EVOLUTION_TOKEN, WAHA_SIGNATURE
from herald_campaign.service_layer.receipts import RecordedReceipt
from herald_infra.runtime.logging import get_logger
from herald_infra.runtime.metrics import RECEIPTS

log = get_logger(__name__)

WAHA_ACK_EVENT = "message.ack"
EVOLUTION_UPDATE_EVENT = "messages.update"
BAD_SIGNATURE = "webhook signature missing or invalid"

_REFUSED: dict[int | str, dict[str, Any]] = {
    400: {"model": ValidationErrorResponse, "description": "The body is not JSON."},
    401: {"model": ErrorResponse, "description": "Missing or invalid signature, or no key set."},
    **INVALID,
}


# Gateway bodies: the gateway's own field names; fields Herald does not read are ignored.


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
    message_id: str | None = Field(default=None, description="The Herald message, if found.")
    status: str | None = Field(default=None, description="Its status after the receipt.")


def _invalid(error: ValidationError, *within: str) -> RequestValidationError:
    """The errors of a nested part of the body, located from the body's root."""
    return RequestValidationError(
        [{**e, "loc": ("body", *within, *e["loc"])} for e in error.errors()]
    )


def _answer(source: ReceiptSource, recorded: RecordedReceipt) -> ReceiptResponse:
    RECEIPTS.labels(source=source.value, outcome=recorded.outcome.value).inc()
    return ReceiptResponse(
        outcome=recorded.outcome,
        message_id=recorded.message_id,
        status=recorded.status.value if recorded.status else None,
    )


class SignedWebhookRoute(APIRoute):
    """A webhook route whose signature is checked on the raw body before FastAPI reads it, so a
    call without a valid one is refused (401) whatever its body holds. The route's gateway is
    the last segment of its path."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        source = ReceiptSource(self.path.rstrip("/").rsplit("/", 1)[-1])

        async def signed(request: Request) -> Response:
            keys = campaign_services(request).webhook_keys
            if not keys.authentic(source, request.headers, await request.body()):
                RECEIPTS.labels(
                    source=source.value, outcome=ReceiptOutcome.BAD_SIGNATURE.value
                ).inc()
                log.warning(
                    "webhook refused",
                    source=source.value,
                    reason="bad signature" if keys.configured(source) else "no key configured",
                )
                return JSONResponse(error_body(BAD_SIGNATURE), status.HTTP_401_UNAUTHORIZED)
            try:
                return await handle(request)
            except RequestValidationError:
                RECEIPTS.labels(source=source.value, outcome=ReceiptOutcome.INVALID.value).inc()
                raise

        return signed


router = APIRouter(prefix="/api/webhooks", tags=["webhooks"], route_class=SignedWebhookRoute)


@router.post(
    "/waha",
    response_model=ReceiptResponse,
    responses=_REFUSED,
    summary="WAHA webhook: message.ack delivery receipts",
    description=(
        f"Signed by WAHA: `{WAHA_SIGNATURE}` is the hex HMAC-SHA512 of the raw body under the "
        "webhook's `hmac.key` (Herald's `HERALD_WAHA_WEBHOOK_HMAC_KEY`). Ack DEVICE moves the "
        "message to delivered, READ and PLAYED to read, never backwards; other events and "
        "acks are answered 200 and change nothing."
    ),
)
async def waha_webhook(event: WahaWebhook, services: Services) -> ReceiptResponse:
    source = ReceiptSource.WAHA
    if event.event != WAHA_ACK_EVENT:
        return _answer(source, RecordedReceipt(ReceiptOutcome.IGNORED))
    try:
        ack = WahaMessageAck.model_validate(event.payload)
        acknowledgement = waha_acknowledgement(ack.ack, ack.ack_name)
    except ValidationError as error:
        raise _invalid(error, "payload") from None
    except ValueError:
        missing = {"type": "missing", "loc": ("body", "payload", "ack"), "msg": "Field required"}
        raise RequestValidationError([missing]) from None
    if ack.from_me is False:  # an incoming message's ack: not one Herald sent
        return _answer(source, RecordedReceipt(ReceiptOutcome.IGNORED))
    receipt = Receipt(source, ack.id, acknowledgement)
    return _answer(source, await services.receipts.record(receipt))


@router.post(
    "/evolution",
    response_model=ReceiptResponse,
    responses=_REFUSED,
    summary="Evolution API webhook: messages.update delivery receipts",
    description=(
        "Evolution API signs nothing, so its instance webhook must carry Herald's shared "
        f'secret as a fixed header: `"headers": {{"{EVOLUTION_TOKEN}": "<token>"}}` '
        "(`HERALD_EVOLUTION_WEBHOOK_TOKEN`); leave `byEvents` off. Status DELIVERY_ACK moves "
        "the message to delivered, READ and PLAYED to read, never backwards; other events "
        "and statuses are answered 200 and change nothing."
    ),
)
async def evolution_webhook(event: EvolutionWebhook, services: Services) -> ReceiptResponse:
    source = ReceiptSource.EVOLUTION
    # Evolution v2 names events "messages.update"; v1 sent "MESSAGES_UPDATE".
    if event.event.lower().replace("_", ".") != EVOLUTION_UPDATE_EVENT:
        return _answer(source, RecordedReceipt(ReceiptOutcome.IGNORED))
    try:
        update = EvolutionMessageUpdate.model_validate(event.data)
    except ValidationError as error:
        raise _invalid(error, "data") from None
    if update.from_me is False:
        return _answer(source, RecordedReceipt(ReceiptOutcome.IGNORED))
    receipt = Receipt(source, update.key_id, evolution_acknowledgement(update.status))
    return _answer(source, await services.receipts.record(receipt))
