"""Sender accounts as a tenant sets them up: a new account from what was submitted, changes to
one, disabling and enabling. Pure; no I/O.

The account model and its rules are shared (:mod:`herald_core.accounts.model`): the dispatcher and
the senders read accounts too. Rules broken raise ``InvalidAccountSettings`` naming the field.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from pydantic import SecretStr

from herald_campaign.domain.phones import InvalidPhoneNumber, normalise_phone
from herald_core.accounts.model import (
    SESSION_ENGINE,
    AccountStatus,
    GatewayAdapter,
    GatewaySession,
    InvalidAccountSettings,
    SenderAccount,
    check_account,
)
from herald_core.attempt_plan import Route


@dataclass(frozen=True)
class SessionSetup:
    """A gateway session as submitted (its engine follows from its role)."""

    gateway: GatewayAdapter
    base_url: str
    session: str
    api_key: SecretStr | None = None


@dataclass(frozen=True)
class SessionChanges:
    """The settings of a session to change; None leaves one as it is."""

    gateway: GatewayAdapter | None = None
    base_url: str | None = None
    session: str | None = None
    api_key: SecretStr | None = None
    remove_api_key: bool = False


@dataclass(frozen=True)
class AccountDraft:
    phone: str
    primary: SessionSetup
    fallback: SessionSetup
    name: str | None = None
    hourly_cap: int | None = None
    daily_cap: int | None = None
    warmup_schedule: tuple[int, ...] | None = None
    activated_at: datetime | None = None
    """When the number started sending (day 1 of its warm-up); now if not given."""
    webhook_hmac_key: SecretStr | None = None
    """Set when the gateway signs its webhooks (WAHA Plus): receipts must then be signed."""


@dataclass(frozen=True)
class AccountDefaults:
    """What an account gets when its draft does not say (from the settings)."""

    hourly_cap: int
    daily_cap: int
    warmup_schedule: tuple[int, ...]


@dataclass(frozen=True)
class AccountChanges:
    """The settings of an account to change; None leaves one as it is."""

    phone: str | None = None
    name: str | None = None
    remove_name: bool = False
    primary: SessionChanges | None = None
    fallback: SessionChanges | None = None
    hourly_cap: int | None = None
    daily_cap: int | None = None
    warmup_schedule: tuple[int, ...] | None = None
    activated_at: datetime | None = None
    webhook_hmac_key: SecretStr | None = None
    remove_webhook_hmac_key: bool = False


def account_phone(raw: str, default_region: str | None) -> str:
    """The E.164 form of an account's number; InvalidAccountSettings naming ``phone``."""
    try:
        return normalise_phone(raw, default_region)
    except InvalidPhoneNumber as error:
        raise InvalidAccountSettings("phone", error.reason) from None


def _session(engine: Route, setup: SessionSetup) -> GatewaySession:
    return GatewaySession(
        engine=SESSION_ENGINE[engine],
        gateway=setup.gateway,
        base_url=setup.base_url,
        session=setup.session,
        api_key=setup.api_key,
    )


def new_account(
    account_id: str,
    tenant_id: str,
    draft: AccountDraft,
    *,
    defaults: AccountDefaults,
    default_region: str | None,
    now: datetime,
    receipt_token: SecretStr,
) -> SenderAccount:
    """An enabled account from a draft; its health is unknown until someone checks."""
    account = SenderAccount(
        id=account_id,
        tenant_id=tenant_id,
        phone=account_phone(draft.phone, default_region),
        name=draft.name,
        status=AccountStatus.ENABLED,
        primary=_session(Route.PRIMARY, draft.primary),
        fallback=_session(Route.FALLBACK, draft.fallback),
        hourly_cap=draft.hourly_cap if draft.hourly_cap is not None else defaults.hourly_cap,
        daily_cap=draft.daily_cap if draft.daily_cap is not None else defaults.daily_cap,
        warmup_schedule=(
            draft.warmup_schedule if draft.warmup_schedule is not None else defaults.warmup_schedule
        ),
        activated_at=draft.activated_at or now,
        receipt_token=receipt_token,
        webhook_hmac_key=draft.webhook_hmac_key,
        created_at=now,
        updated_at=now,
    )
    check_account(account)
    return account


def _changed_session(current: GatewaySession, changes: SessionChanges | None) -> GatewaySession:
    if changes is None:
        return current
    api_key = current.api_key
    if changes.remove_api_key:
        api_key = None
    elif changes.api_key is not None:
        api_key = changes.api_key
    changed = GatewaySession(
        engine=current.engine,
        gateway=changes.gateway or current.gateway,
        base_url=changes.base_url or current.base_url,
        session=changes.session or current.session,
        api_key=api_key,
    )
    # A changed session is another session, or the same one with new credentials: what was
    # known of its health no longer holds. An unchanged one keeps it.
    unchanged = changed == current.model_copy(
        update={"health": changed.health, "webhook": changed.webhook}
    )
    return current if unchanged else changed


def changed_account(
    account: SenderAccount,
    changes: AccountChanges,
    *,
    default_region: str | None,
    now: datetime,
) -> SenderAccount:
    """The account with ``changes`` applied."""
    name = None if changes.remove_name else (changes.name or account.name)
    hmac_key = (
        None
        if changes.remove_webhook_hmac_key
        else (changes.webhook_hmac_key or account.webhook_hmac_key)
    )
    changed = account.model_copy(
        update={
            "phone": (
                account_phone(changes.phone, default_region)
                if changes.phone is not None
                else account.phone
            ),
            "name": name,
            "primary": _changed_session(account.primary, changes.primary),
            "fallback": _changed_session(account.fallback, changes.fallback),
            "hourly_cap": changes.hourly_cap or account.hourly_cap,
            "daily_cap": changes.daily_cap or account.daily_cap,
            "warmup_schedule": (
                changes.warmup_schedule
                if changes.warmup_schedule is not None
                else account.warmup_schedule
            ),
            "activated_at": changes.activated_at or account.activated_at,
            "webhook_hmac_key": hmac_key,
            "updated_at": now,
        }
    )
    check_account(changed)
    return changed


def rotated_receipt_token(account: SenderAccount, token: SecretStr, now: datetime) -> SenderAccount:
    """The account with a new receipt token: its old receipt URLs stop working."""
    return account.model_copy(update={"receipt_token": token, "updated_at": now})


def disabled_account(account: SenderAccount, now: datetime) -> SenderAccount:
    """The account the dispatcher gives no more messages; the senders fail those it has
    (``account-disabled``) rather than send them."""
    if not account.enabled:
        return account
    return account.model_copy(
        update={"status": AccountStatus.DISABLED, "disabled_at": now, "updated_at": now}
    )


def enabled_account(account: SenderAccount, now: datetime) -> SenderAccount:
    if account.enabled:
        return account
    return account.model_copy(
        update={"status": AccountStatus.ENABLED, "disabled_at": None, "updated_at": now}
    )
