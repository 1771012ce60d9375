"""Sender accounts of a tenant: create, list, read, change, disable and enable them.

Every read and write is scoped by tenant: another tenant's account is not found. An account's
API keys are stored for the senders and never logged; what the API shows of them is whether
they are set.
"""

from __future__ import annotations

from dataclasses import dataclass

from pymongo.errors import DuplicateKeyError

from herald_campaign.domain.accounts import (
    AccountChanges,
    AccountDefaults,
    AccountDraft,
    changed_account,
    disabled_account,
    enabled_account,
    new_account,
    rotated_receipt_token,
)
from herald_campaign.domain.receipt_urls import is_receipt_token, new_receipt_token
from herald_campaign.service_layer.campaigns import stored_now
from herald_campaign.service_layer.errors import AccountConflict, AccountNotFound, InvalidAccount
from herald_campaign.service_layer.gateway_addresses import check_gateway_addresses
from herald_campaign.service_layer.gateway_vetting import GatewayVetting
from herald_campaign.service_layer.quotas import TenantQuotas
from herald_core.accounts.model import (
    AccountStatus,
    GatewayAdapter,
    InvalidAccountSettings,
    SenderAccount,
    SessionHealth,
    WebhookSetup,
    account_document,
    account_of,
    new_account_id,
    session_health_document,
    webhook_setup_document,
)
from herald_core.attempt_plan import Route
from herald_infra.mongo.client import ACCOUNTS, Database, Document
from herald_infra.outbound.public_addresses import OutboundAllow
from herald_infra.runtime.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class AccountPage:
    accounts: list[SenderAccount]
    total: int


@dataclass(frozen=True)
class CreatedAccount:
    account: SenderAccount
    warnings: tuple[str, ...]
    """What the account's gateways said that the operator should know or fix."""


def _phone_taken(phone: str) -> AccountConflict:
    return AccountConflict(f"an account with phone {phone} exists already", "account-exists")


class AccountService:
    def __init__(
        self,
        db: Database,
        *,
        defaults: AccountDefaults,
        default_region: str | None,
        vetting: GatewayVetting | None = None,
        outbound_allow: OutboundAllow | None = None,
        quotas: TenantQuotas | None = None,
    ) -> None:
        """``vetting`` asks a new account's gateways what they are before it is stored; None
        stores it unasked. ``outbound_allow``: the non-public addresses a gateway may be at
        all the same (HERALD_OUTBOUND_ALLOW; None: none)."""
        self._outbound_allow = outbound_allow or OutboundAllow()
        self._accounts = db[ACCOUNTS]
        self._defaults = defaults
        self._default_region = default_region
        self._vetting = vetting
        # The tenants' quotas (the defaults when not given): ``accounts`` caps creation.
        self._quotas = quotas or TenantQuotas(db)

    async def create_account(self, tenant_id: str, draft: AccountDraft) -> CreatedAccount:
        """A new enabled account, and what its gateways' reports warn of; InvalidAccount naming
        the field (a rule broken, or a gateway Herald cannot use), AccountConflict when the
        tenant has an account with this number already, or QuotaExceeded when it has as many
        accounts as its ``accounts`` quota allows."""
        try:
            account = new_account(
                new_account_id(),
                tenant_id,
                draft,
                defaults=self._defaults,
                default_region=self._default_region,
                now=stored_now(),
                receipt_token=new_receipt_token(),
            )
        except InvalidAccountSettings as error:
            raise InvalidAccount(error.field, error.message) from None
        await check_gateway_addresses(account, self._outbound_allow)
        await self._quotas.check_room_for_account(tenant_id)
        warnings = await self._vetting.vet(account) if self._vetting is not None else ()
        async with self._quotas.room_for_account(tenant_id):
            try:
                await self._accounts.insert_one(account_document(account))
            except DuplicateKeyError:
                raise _phone_taken(account.phone) from None
        log.info("sender account created", account_id=account.id, tenant_id=tenant_id)
        return CreatedAccount(account, warnings)

    async def get_account(self, tenant_id: str, account_id: str) -> SenderAccount:
        document = await self._accounts.find_one({"_id": account_id, "tenantId": tenant_id})
        if document is None:
            raise AccountNotFound(account_id)
        return account_of(document)

    async def list_accounts(
        self, tenant_id: str, *, status: AccountStatus | None, limit: int, offset: int
    ) -> AccountPage:
        """The tenant's accounts, oldest first."""
        selector: Document = {"tenantId": tenant_id}
        if status is not None:
            selector["status"] = status.value
        cursor = (
            self._accounts.find(selector)
            .sort([("createdAt", 1), ("_id", 1)])
            .skip(offset)
            .limit(limit)
        )
        accounts = [account_of(document) async for document in cursor]
        return AccountPage(accounts, await self._accounts.count_documents(selector))

    async def update_account(
        self, tenant_id: str, account_id: str, changes: AccountChanges
    ) -> SenderAccount:
        """The account with ``changes`` applied. A session whose settings changed gets unknown
        health; an unchanged one keeps whatever a health check wrote meanwhile."""
        current = await self.get_account(tenant_id, account_id)
        try:
            changed = changed_account(
                current, changes, default_region=self._default_region, now=stored_now()
            )
        except InvalidAccountSettings as error:
            raise InvalidAccount(error.field, error.message) from None
        moved = tuple(
            r for r in Route if changed.session_for(r).base_url != current.session_for(r).base_url
        )
        await check_gateway_addresses(changed, self._outbound_allow, moved)
        document = account_document(changed)
        fields = {
            name: value
            for name, value in document.items()
            if name not in {"_id", "tenantId", "createdAt", "sessions", "receiptToken"}
        }
        for route in Route:
            if changed.session_for(route) != current.session_for(route):
                fields[f"sessions.{route.value}"] = document["sessions"][route.value]
        try:
            await self._write(tenant_id, account_id, fields)
        except DuplicateKeyError:
            raise _phone_taken(changed.phone) from None
        log.info("sender account changed", account_id=account_id, tenant_id=tenant_id)
        return await self.get_account(tenant_id, account_id)

    async def disable_account(self, tenant_id: str, account_id: str) -> SenderAccount:
        """The dispatcher gives a disabled account no new messages and the senders send none
        of its queued ones (they fail as ``account-disabled``, redrivable); idempotent."""
        current = await self.get_account(tenant_id, account_id)
        account = disabled_account(current, stored_now())
        if account is not current:
            await self._set_status(account)
            log.info("sender account disabled", account_id=account_id, tenant_id=tenant_id)
        return account

    async def enable_account(self, tenant_id: str, account_id: str) -> SenderAccount:
        current = await self.get_account(tenant_id, account_id)
        account = enabled_account(current, stored_now())
        if account is not current:
            await self._set_status(account)
            log.info("sender account enabled", account_id=account_id, tenant_id=tenant_id)
        return account

    async def rotate_receipt_token(self, tenant_id: str, account_id: str) -> SenderAccount:
        """The account with a new receipt token; receipts to the old URLs are refused from now
        on (the gateways must be told the new ones: :class:`WebhookSetupService`)."""
        current = await self.get_account(tenant_id, account_id)
        account = rotated_receipt_token(current, new_receipt_token(), stored_now())
        assert account.receipt_token is not None
        await self._write(
            tenant_id,
            account_id,
            {
                "receiptToken": account.receipt_token.get_secret_value(),
                "updatedAt": account.updated_at,
            },
        )
        log.info("receipt token rotated", account_id=account_id, tenant_id=tenant_id)
        return account

    async def by_receipt_token(self, token: str) -> SenderAccount | None:
        """The account whose receipt URLs carry ``token``, of whichever tenant (the token is
        the proof); None for anything else."""
        if not is_receipt_token(token):
            return None
        document = await self._accounts.find_one({"receiptToken": token})
        return account_of(document) if document is not None else None

    async def record_webhook_setup(
        self, account: SenderAccount, route: Route, setup: WebhookSetup
    ) -> None:
        await self._write(
            account.tenant_id,
            account.id,
            {f"sessions.{route.value}.webhook": webhook_setup_document(setup)},
        )

    async def record_reported_health(
        self, account: SenderAccount, gateway: GatewayAdapter, session: str, health: SessionHealth
    ) -> list[Route]:
        """A session change the gateway itself reported (its webhook): the health of every
        session of ``account`` on that gateway kind with that session name; the routes
        updated."""
        routes = [
            route
            for route in Route
            if account.session_for(route).gateway is gateway
            and account.session_for(route).session == session
        ]
        if routes:
            await self._write(
                account.tenant_id,
                account.id,
                {
                    f"sessions.{route.value}.health": session_health_document(health)
                    for route in routes
                },
            )
        return routes

    async def _set_status(self, account: SenderAccount) -> None:
        await self._write(
            account.tenant_id,
            account.id,
            {
                "status": account.status.value,
                "disabledAt": account.disabled_at,
                "updatedAt": account.updated_at,
            },
        )

    async def _write(self, tenant_id: str, account_id: str, fields: Document) -> None:
        result = await self._accounts.update_one(
            {"_id": account_id, "tenantId": tenant_id}, {"$set": fields}
        )
        if result.matched_count != 1:
            raise AccountNotFound(account_id)
