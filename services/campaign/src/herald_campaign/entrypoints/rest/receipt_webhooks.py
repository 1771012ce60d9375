"""``/api/webhooks/{waha,evolution}``: receipts from the deployment's own gateway
(``HERALD_GATEWAY_URL``), the one that sends for tenants without sender accounts.

No bearer token here: the gateway proves itself with the deployment-wide key, checked on the raw
body before anything else (:mod:`.webhook_signatures`): WAHA Plus's HMAC signature, or Evolution's
fixed token header. That body is held to the webhooks' cap (1 MB, :mod:`.body_limits`). These
receipts touch only messages of the default account. Sender accounts' gateways post to each
account's own receipt URL instead (:mod:`.account_webhooks`).
"""

from __future__ import annotations

from collections.abc import Callable, Coroutine
from typing import Any

from fastapi import APIRouter, Request, Response, status
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from fastapi.routing import APIRoute

from herald_campaign.domain.receipts import ReceiptOutcome, ReceiptSource
from herald_campaign.entrypoints.rest.dependencies import Services, campaign_services
from herald_campaign.entrypoints.rest.errors import error_body
from herald_campaign.entrypoints.rest.gateway_webhook_bodies import (
    REFUSED,
    EvolutionWebhook,
    ReceiptResponse,
    WahaWebhook,
    evolution_receipt,
    waha_receipt,
)
from herald_campaign.entrypoints.rest.webhook_signatures import EVOLUTION_TOKEN, WAHA_SIGNATURE
from herald_campaign.entrypoints.services import CampaignServices
from herald_campaign.service_layer.receipts import ReceiptScope
from herald_infra.runtime.logging import get_logger
from herald_infra.runtime.metrics import RECEIPTS

log = get_logger(__name__)

BAD_SIGNATURE = "webhook signature missing or invalid"


def default_account_scope(services: CampaignServices) -> ReceiptScope:
    return ReceiptScope(account_id=services.settings.default_account_id)


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
    responses=REFUSED,
    summary="The deployment gateway's WAHA webhook: message.ack delivery receipts",
    description=(
        f"Signed by WAHA Plus: `{WAHA_SIGNATURE}` is the hex HMAC-SHA512 of the raw body under "
        "the webhook's `hmac.key` (Herald's `HERALD_WAHA_WEBHOOK_HMAC_KEY`). Only for the "
        "gateway at `HERALD_GATEWAY_URL` (tenants without sender accounts): its receipts touch "
        "messages of the default account only. Ack DEVICE moves the message to delivered, READ "
        "and PLAYED to read, never backwards; other events and acks are answered 200 and "
        "change nothing."
    ),
)
async def waha_webhook(event: WahaWebhook, services: Services) -> ReceiptResponse:
    return await waha_receipt(event, services, default_account_scope(services))


@router.post(
    "/evolution",
    response_model=ReceiptResponse,
    responses=REFUSED,
    summary="The deployment gateway's Evolution API webhook: messages.update delivery receipts",
    description=(
        "Evolution API signs nothing, so its instance webhook must carry Herald's shared "
        f'secret as a fixed header: `"headers": {{"{EVOLUTION_TOKEN}": "<token>"}}` '
        "(`HERALD_EVOLUTION_WEBHOOK_TOKEN`), with `byEvents` false. Only for the gateway at "
        "`HERALD_GATEWAY_URL`: its receipts touch messages of the default account only. Status "
        "DELIVERY_ACK moves the message to delivered, READ and PLAYED to read, never "
        "backwards; other events and statuses are answered 200 and change nothing."
    ),
)
async def evolution_webhook(event: EvolutionWebhook, services: Services) -> ReceiptResponse:
    return await evolution_receipt(event, services, default_account_scope(services))
