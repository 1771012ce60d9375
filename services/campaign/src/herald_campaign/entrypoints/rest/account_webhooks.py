"""``/api/webhooks/{waha,evolution}/{token}``: each sender account's receipt URLs.

Herald sets these up on the account's gateways itself (:mod:`..service_layer.webhook_setup`);
the token in the path is the account's receipt token, a secret shown only when the account is
made or its token rotated. A call is checked before its body is read: an unknown token is 401;
when the account has a ``webhookHmacKey``, a WAHA call must also be signed with it. The body the
signature check reads is held to the webhooks' cap (1 MB, :mod:`.body_limits`). What a call
may touch is that account's messages and sessions, never another account's or tenant's.

Events taken:
- WAHA ``message.ack`` and Evolution ``messages.update``: delivery receipts;
- WAHA ``session.status`` and Evolution ``connection.update``: the session's health, as the
  gateway reports it, on the account (``sessions.<route>.health``);
- WAHA ``message`` and Evolution ``messages.upsert``: what recipients write (opt-out and opt-in
  keywords, replies; see :mod:`herald_campaign.service_layer.inbound_messages`);
- anything else is answered 200 and changes nothing.
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Path, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from herald_campaign.domain.receipt_urls import RECEIPT_TOKEN_PATTERN
from herald_campaign.domain.receipts import ReceiptOutcome, ReceiptSource
from herald_campaign.entrypoints.rest.dependencies import Services, campaign_services
from herald_campaign.entrypoints.rest.errors import error_body
from herald_campaign.entrypoints.rest.gateway_webhook_bodies import (
    REFUSED,
    EvolutionWebhook,
    ReceiptResponse,
    WahaWebhook,
    evolution_receipt,
    ignored,
    waha_receipt,
)
from herald_campaign.entrypoints.rest.webhook_signatures import (
    WAHA_ALGORITHM,
    WAHA_SIGNATURE,
    waha_signature_valid,
)
from herald_campaign.service_layer.receipts import ReceiptScope
from herald_core.accounts.model import GatewayAdapter, HealthStatus, SenderAccount, SessionHealth
from herald_core.contracts.common import utc_now
from herald_gateways.inbound import (
    EVOLUTION_UPSERT_EVENT,
    WAHA_MESSAGE_EVENT,
    InboundMessage,
    InboundShapeError,
    evolution_inbound,
    waha_inbound,
)
from herald_gateways.interface import SessionHealth as GatewayHealth
from herald_gateways.session_states import evolution_status, health_detail, waha_status
from herald_infra.runtime.logging import get_logger
from herald_infra.runtime.metrics import INBOUND_MESSAGES, RECEIPTS

log = get_logger(__name__)

UNKNOWN_URL = "unknown receipt URL, or a missing or bad signature"
WAHA_SESSION_EVENT = "session.status"
EVOLUTION_CONNECTION_EVENT = "connection.update"
_ACCOUNT = "herald_receipt_account"

Token = Annotated[
    str,
    Path(
        description="The account's receipt token (shown when the account was made or its "
        "token rotated).",
        pattern=RECEIPT_TOKEN_PATTERN,
    ),
]


class AccountWebhookRoute(APIRoute):
    """Finds the account by the token in the path, and checks its signature when it has an HMAC
    key, before FastAPI reads the body; refuses the call with 401 otherwise."""

    def get_route_handler(self) -> Callable[[Request], Coroutine[Any, Any, Response]]:
        handle = super().get_route_handler()
        source = ReceiptSource(self.path.split("/")[3])

        async def authenticated(request: Request) -> Response:
            services = campaign_services(request)
            account = await services.accounts.by_receipt_token(request.path_params["token"])
            if account is None or not _signed_if_keyed(
                account, source, request, await request.body()
            ):
                RECEIPTS.labels(
                    source=source.value, outcome=ReceiptOutcome.BAD_SIGNATURE.value
                ).inc()
                log.warning(
                    "account webhook refused",
                    source=source.value,
                    reason="unknown token" if account is None else "bad signature",
                )
                return JSONResponse(error_body(UNKNOWN_URL), status.HTTP_401_UNAUTHORIZED)
            request.state.__setattr__(_ACCOUNT, account)
            try:
                return await handle(request)
            except RequestValidationError:
                RECEIPTS.labels(source=source.value, outcome=ReceiptOutcome.INVALID.value).inc()
                raise

        return authenticated


def _signed_if_keyed(
    account: SenderAccount, source: ReceiptSource, request: Request, body: bytes
) -> bool:
    """WAHA Plus signs with the account's key when it has one; Core and Evolution never sign,
    so an account without a key relies on its secret URL alone."""
    if account.webhook_hmac_key is None or source is not ReceiptSource.WAHA:
        return True
    return waha_signature_valid(
        body,
        account.webhook_hmac_key.get_secret_value(),
        request.headers.get(WAHA_SIGNATURE),
        request.headers.get(WAHA_ALGORITHM),
    )


def receipt_account(request: Request) -> SenderAccount:
    account: SenderAccount = getattr(request.state, _ACCOUNT)
    return account


Account = Annotated[SenderAccount, Depends(receipt_account)]

router = APIRouter(prefix="/api/webhooks", tags=["webhooks"], route_class=AccountWebhookRoute)


def _scope(account: SenderAccount) -> ReceiptScope:
    return ReceiptScope(account_id=account.id, tenant_id=account.tenant_id)


async def _record_health(
    services: Services,
    account: SenderAccount,
    gateway: GatewayAdapter,
    session: str | None,
    health: GatewayHealth,
) -> None:
    if not session:
        return
    stored = SessionHealth(
        status=HealthStatus(health.status.value),
        checked_at=utc_now(),
        detail=health_detail(health),
    )
    await services.accounts.record_reported_health(account, gateway, session, stored)


@router.post(
    "/waha/{token}",
    response_model=ReceiptResponse,
    responses=REFUSED,
    summary="A sender account's WAHA webhook: receipts and session changes",
    description=(
        "The URL Herald gives the account's WAHA sessions (`config.webhooks`). WAHA Core "
        "signs nothing: the token in the path is the proof. When the account has a "
        f"`webhookHmacKey` (WAHA Plus), `{WAHA_SIGNATURE}` must also be the HMAC-SHA512 of "
        "the body under it. `message.ack` DEVICE moves the account's message to delivered, "
        "READ and PLAYED to read, never backwards; `session.status` updates the session's "
        "health; other events are answered 200 and change nothing."
    ),
)
async def account_waha_webhook(
    token: Token, event: WahaWebhook, account: Account, services: Services
) -> ReceiptResponse:
    if event.event == WAHA_MESSAGE_EVENT:
        try:
            inbound = waha_inbound(event.payload)
        except InboundShapeError as error:
            raise _invalid_inbound(ReceiptSource.WAHA, "payload", error) from None
        return await _inbound(services, account, GatewayAdapter.WAHA, event.session, inbound)
    if event.event == WAHA_SESSION_EVENT:
        raw = event.payload.get("status")
        if isinstance(raw, str) and raw:
            health = GatewayHealth(waha_status(raw), raw)
            await _record_health(services, account, GatewayAdapter.WAHA, event.session, health)
        return ignored(ReceiptSource.WAHA)
    return await waha_receipt(event, services, _scope(account))


@router.post(
    "/evolution/{token}",
    response_model=ReceiptResponse,
    responses=REFUSED,
    summary="A sender account's Evolution API webhook: receipts and connection changes",
    description=(
        "The URL Herald gives the account's Evolution instances (`/webhook/set`, `byEvents` "
        "false). Evolution signs nothing: the token in the path is the proof. "
        "`messages.update` DELIVERY_ACK moves the account's message to delivered, READ and "
        "PLAYED to read, never backwards; `connection.update` updates the session's health; "
        "other events are answered 200 and change nothing."
    ),
)
async def account_evolution_webhook(
    token: Token, event: EvolutionWebhook, account: Account, services: Services
) -> ReceiptResponse:
    name = event.event.lower().replace("_", ".")
    if name == EVOLUTION_UPSERT_EVENT:
        try:
            inbound = evolution_inbound(event.data if isinstance(event.data, dict) else {})
        except InboundShapeError as error:
            raise _invalid_inbound(ReceiptSource.EVOLUTION, "data", error) from None
        return await _inbound(services, account, GatewayAdapter.EVOLUTION, event.instance, inbound)
    if name == EVOLUTION_CONNECTION_EVENT:
        state = event.data.get("state") if isinstance(event.data, dict) else None
        if isinstance(state, str) and state:
            health = GatewayHealth(evolution_status(state, qr_pending=False), state)
            await _record_health(
                services, account, GatewayAdapter.EVOLUTION, event.instance, health
            )
        return ignored(ReceiptSource.EVOLUTION)
    return await evolution_receipt(event, services, _scope(account))


def _invalid_inbound(
    source: ReceiptSource, within: str, error: InboundShapeError
) -> RequestValidationError:
    INBOUND_MESSAGES.labels(source=source.value, outcome="invalid").inc()
    return RequestValidationError(
        [{"type": "value_error", "loc": ("body", within, *error.loc), "msg": str(error)}]
    )


async def _inbound(
    services: Services,
    account: SenderAccount,
    adapter: GatewayAdapter,
    session: str | None,
    message: InboundMessage,
) -> ReceiptResponse:
    """A recipient's message: answered 200 whatever it did (the outcome says), so the gateway
    does not post it again."""
    result = await services.inbound.receive(account, adapter, session, message)
    INBOUND_MESSAGES.labels(source=adapter.value, outcome=result.outcome.value).inc()
    return ReceiptResponse(
        outcome=ReceiptOutcome.IGNORED,
        inbound=result.outcome.value,
        message_id=result.answered.message_id if result.answered else None,
    )
