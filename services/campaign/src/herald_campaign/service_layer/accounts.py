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
)
from herald_campaign.service_layer.campaigns import stored_now
from herald_campaign.service_layer.errors import AccountConflict, AccountNotFound, InvalidAccount
from herald_core.accounts.model import (
    AccountStatus,
    InvalidAccountSettings,
    SenderAccount,
    account_document,
    account_of,
    new_account_id,
)
from herald_core.attempt_plan import Route
from herald_infra.mongo.client import ACCOUNTS, Database, Document
from herald_infra.runtime.logging import get_logger

log = get_logger(__name__)


@dataclass(frozen=True)
class AccountPage:
    accounts: list[SenderAccount]
    total: int


def _phone_taken(phone: str) -> AccountConflict:
    return AccountConflict(f"an account with phone {phone} exists already", "account-exists")


class AccountService:
    def __init__(
        self, db: Database, *, defaults: AccountDefaults, default_region: str | None
    ) -> None:
        self._accounts = db[ACCOUNTS]
        self._defaults = defaults
        self._default_region = default_region

    async def create_account(self, tenant_id: str, draft: AccountDraft) -> SenderAccount:
        """A new enabled account; InvalidAccount naming the field, or AccountConflict when the
        tenant has an account with this number already."""
        try:
            account = new_account(
                new_account_id(),
                tenant_id,
                draft,
                defaults=self._defaults,
                default_region=self._default_region,
                now=stored_now(),
            )
        except InvalidAccountSettings as error:
            raise InvalidAccount(error.field, error.message) from None
        try:
            await self._accounts.insert_one(account_document(account))
        except DuplicateKeyError:
            raise _phone_taken(account.phone) from None
        log.info("sender account created", account_id=account.id, tenant_id=tenant_id)
        return account

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
        document = account_document(changed)
        fields = {
            name: value
            for name, value in document.items()
            if name not in {"_id", "tenantId", "createdAt", "sessions"}
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
