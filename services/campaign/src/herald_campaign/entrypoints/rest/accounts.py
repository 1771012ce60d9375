"""``/api/accounts``: the tenant's sender accounts (WhatsApp numbers and their gateway
sessions): create, list, read, change, disable and enable them."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, status

from herald_campaign.entrypoints.rest.account_schemas import (
    AccountListResponse,
    AccountResponse,
    CreateAccountRequest,
    CreatedAccountResponse,
    ReceiptUrlsResponse,
    RotatedReceiptTokenResponse,
    SessionQrResponse,
    UpdateAccountRequest,
)
from herald_campaign.entrypoints.rest.dependencies import AccountId, Services, Tenant
from herald_campaign.entrypoints.rest.errors import (
    ACCOUNT_CONFLICT,
    ACCOUNT_NOT_FOUND,
    AUTH,
    GATEWAY_UNAVAILABLE,
    INVALID,
    NOT_WAITING_FOR_SCAN,
)
from herald_campaign.entrypoints.rest.paging import PageOffset
from herald_core.accounts.model import AccountStatus, WebhookSetupStatus
from herald_core.attempt_plan import Route

_NOT_TRIED = WebhookSetupStatus.UNKNOWN

router = APIRouter(prefix="/api/accounts", tags=["accounts"], responses=AUTH)


@router.post(
    "",
    status_code=status.HTTP_201_CREATED,
    response_model=CreatedAccountResponse,
    responses={**INVALID, **ACCOUNT_CONFLICT},
    summary="Add a sender account",
    description=(
        "A WhatsApp number with its primary (Baileys) and fallback (whatsapp-web.js) gateway "
        "sessions. Caps and warm-up default to the service's settings. API keys are stored for "
        "the senders and never returned. The answer holds the account's receipt URLs, shown "
        "this once: Herald sets them as each session's webhook itself when HERALD_PUBLIC_URL "
        "is set (each session's `webhook` says how that went). Herald first asks each gateway "
        "what it is (`GET /api/server/version`, Evolution's `GET /`): one it cannot use "
        "(Evolution API v1) is refused naming the session's `gateway`; what the operator should "
        "fix (WAHA Core serves only the session `default`) comes back in `warnings`."
    ),
)
async def create_account(
    body: CreateAccountRequest, tenant: Tenant, services: Services
) -> CreatedAccountResponse:
    created = await services.accounts.create_account(tenant, body.draft())
    account = await services.webhook_setup.set_up(created.account)
    return CreatedAccountResponse.of_new(account, services.settings.public_url, created.warnings)


@router.get(
    "",
    response_model=AccountListResponse,
    responses=INVALID,
    summary="The tenant's sender accounts, oldest first",
)
async def list_accounts(
    tenant: Tenant,
    services: Services,
    status: Annotated[AccountStatus | None, Query(description="enabled or disabled")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 50,
    offset: PageOffset = 0,
) -> AccountListResponse:
    page = await services.accounts.list_accounts(tenant, status=status, limit=limit, offset=offset)
    return AccountListResponse.of(page, limit=limit, offset=offset)


@router.get(
    "/{account_id}",
    response_model=AccountResponse,
    responses={**INVALID, **ACCOUNT_NOT_FOUND},
    summary="A sender account",
)
async def get_account(account_id: AccountId, tenant: Tenant, services: Services) -> AccountResponse:
    return AccountResponse.of(await services.accounts.get_account(tenant, account_id))


@router.patch(
    "/{account_id}",
    response_model=AccountResponse,
    responses={**INVALID, **ACCOUNT_NOT_FOUND, **ACCOUNT_CONFLICT},
    summary="Change a sender account",
    description=(
        "Only the settings given change. A session's settings merge the same way; "
        '`"apiKey": "..."` replaces its key and `"apiKey": null` removes it. A session whose '
        "settings change has unknown health until it is checked again."
    ),
)
async def update_account(
    account_id: AccountId, body: UpdateAccountRequest, tenant: Tenant, services: Services
) -> AccountResponse:
    account = await services.accounts.update_account(tenant, account_id, body.changes())
    # A changed session is a new one to its gateway: it gets the webhook again.
    unset = tuple(r for r in Route if account.session_for(r).webhook.status is _NOT_TRIED)
    if unset:
        account = await services.webhook_setup.set_up(account, routes=unset)
    return AccountResponse.of(account)


@router.post(
    "/{account_id}/webhooks",
    response_model=AccountResponse,
    responses={**INVALID, **ACCOUNT_NOT_FOUND},
    summary="Set the account's webhooks up on its gateways again",
    description=(
        "Points each session's gateway webhook at the account's receipt URL again: after a "
        "gateway was reset, a session re-created, or a FAILED set-up. Each session's "
        "`webhook` says how it went."
    ),
)
async def set_up_webhooks(
    account_id: AccountId, tenant: Tenant, services: Services
) -> AccountResponse:
    account = await services.accounts.get_account(tenant, account_id)
    return AccountResponse.of(await services.webhook_setup.set_up(account))


@router.post(
    "/{account_id}/receipt-token",
    response_model=RotatedReceiptTokenResponse,
    responses={**INVALID, **ACCOUNT_NOT_FOUND},
    summary="Rotate the account's receipt token",
    description=(
        "A new secret for the account's receipt URLs (shown this once); the old URLs are "
        "refused from now on. Herald sets the new URLs on the account's gateways itself when "
        "HERALD_PUBLIC_URL is set; otherwise set them by hand."
    ),
)
async def rotate_receipt_token(
    account_id: AccountId, tenant: Tenant, services: Services
) -> RotatedReceiptTokenResponse:
    account = await services.accounts.rotate_receipt_token(tenant, account_id)
    assert account.receipt_token is not None
    urls = ReceiptUrlsResponse.of(account.receipt_token, services.settings.public_url)
    account = await services.webhook_setup.set_up(account)
    return RotatedReceiptTokenResponse(account=AccountResponse.of(account), receipt_urls=urls)


@router.get(
    "/{account_id}/sessions/{engine}/qr",
    response_model=SessionQrResponse,
    responses={**INVALID, **ACCOUNT_NOT_FOUND, **NOT_WAITING_FOR_SCAN, **GATEWAY_UNAVAILABLE},
    summary="The login QR code of a session waiting to be paired",
    description=(
        "Asks the session's gateway for the QR code that pairs the account's number (scan it "
        "with the phone: WhatsApp, Linked devices). Only a session waiting for a scan "
        "(health SCAN_QR_CODE) has one; codes change every few seconds, so ask again for a "
        "fresh one. The senders check each session every HERALD_SESSION_POLL_SECONDS and show "
        "what they found in the account's `health`."
    ),
)
async def session_login_qr(
    account_id: AccountId,
    engine: Annotated[Route, Path(description="primary or fallback")],
    tenant: Tenant,
    services: Services,
) -> SessionQrResponse:
    return SessionQrResponse.of(await services.pairing.login_qr(tenant, account_id, engine))


@router.post(
    "/{account_id}/disable",
    response_model=AccountResponse,
    responses={**INVALID, **ACCOUNT_NOT_FOUND},
    summary="Disable a sender account",
    description=(
        "The dispatcher gives it no new messages, and the senders stop sending its queued ones "
        "within seconds (HERALD_ACCOUNT_CACHE_SECONDS): each fails with reason "
        "`account-disabled` and becomes a dead letter, not retried on the other engine nor by "
        "the hourly redrive. Enable the account and redrive its dead letters to send them."
    ),
)
async def disable_account(
    account_id: AccountId, tenant: Tenant, services: Services
) -> AccountResponse:
    return AccountResponse.of(await services.accounts.disable_account(tenant, account_id))


@router.post(
    "/{account_id}/enable",
    response_model=AccountResponse,
    responses={**INVALID, **ACCOUNT_NOT_FOUND},
    summary="Enable a sender account again",
)
async def enable_account(
    account_id: AccountId, tenant: Tenant, services: Services
) -> AccountResponse:
    return AccountResponse.of(await services.accounts.enable_account(tenant, account_id))
