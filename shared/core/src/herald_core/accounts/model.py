"""Sender accounts: a tenant's WhatsApp numbers and the gateway sessions that send from them.
Pure; no I/O (MongoDB access is in :mod:`herald_infra.accounts.repository`).

An account has one session per sender deployment: ``primary`` on a Baileys engine and
``fallback`` on whatsapp-web.js, both logged in to the same number, so both share the number's
pace and caps. Each session names its gateway adapter (``waha`` or ``evolution``), base URL,
session name (Evolution's instance) and API key. The API key is a secret: a ``SecretStr`` here
(its repr is masked), stored for the senders, never logged and never returned by the API.

Document in ``accounts`` (camelCase like every Herald collection)::

    {_id, tenantId, phone, name, status: enabled|disabled,
     sessions: {primary: SESSION, fallback: SESSION},
     hourlyCap, dailyCap, warmupSchedule: [int], activatedAt,
     receiptToken, webhookHmacKey,
     createdAt, updatedAt, disabledAt}
    SESSION = {engine, gateway, baseUrl, session, apiKey,
               health: {status, checkedAt, detail},
               webhook: {status, checkedAt, detail}}

``receiptToken`` is the secret part of the account's receipt URLs
(``/api/webhooks/<gateway>/<token>``): whoever knows it may report receipts of this account's
messages, and of no other. Accounts made before it existed have none until it is rotated.
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any
from uuid import uuid4

from pydantic import BaseModel, ConfigDict, Field, SecretStr

from herald_core.accounts.sending_limits import SendingLimits
from herald_core.attempt_plan import Route

ACCOUNT_ID_PREFIX = "acc_"


class AccountStatus(StrEnum):
    """Whether the dispatcher may give the account new messages."""

    ENABLED = "enabled"
    DISABLED = "disabled"


class GatewayAdapter(StrEnum):
    """The HTTP gateway a session runs on (see the sender's adapters)."""

    WAHA = "waha"
    EVOLUTION = "evolution"


class SessionEngine(StrEnum):
    """The WhatsApp library behind a session."""

    BAILEYS = "baileys"
    WHATSAPP_WEB_JS = "whatsapp-web.js"


SESSION_ENGINE: dict[Route, SessionEngine] = {
    Route.PRIMARY: SessionEngine.BAILEYS,
    Route.FALLBACK: SessionEngine.WHATSAPP_WEB_JS,
}
"""The library each sender deployment's session runs: the fallback is another library, so a
fault of one does not take both down."""

ADAPTER_ENGINES: dict[GatewayAdapter, frozenset[SessionEngine]] = {
    # WAHA: NOWEB and GOWS serve Baileys' role, WEBJS is whatsapp-web.js
    # (herald_gateways.support.ROUTE_ENGINES).
    GatewayAdapter.WAHA: frozenset(SessionEngine),
    # Evolution API runs Baileys only.
    GatewayAdapter.EVOLUTION: frozenset({SessionEngine.BAILEYS}),
}
"""Which libraries each gateway adapter can run a session on."""


class HealthStatus(StrEnum):
    """A session's health as last checked: the sender's session vocabulary (WAHA's,
    ``herald_gateways.interface.SessionStatus``), plus UNKNOWN until someone checks."""

    UNKNOWN = "UNKNOWN"
    STOPPED = "STOPPED"
    STARTING = "STARTING"
    SCAN_QR_CODE = "SCAN_QR_CODE"
    WORKING = "WORKING"
    FAILED = "FAILED"


class InvalidAccountSettings(ValueError):
    """A rule of sender accounts the settings break; ``field`` is the camelCase path of the
    offending setting (``fallback.gateway``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


class _Model(BaseModel):
    model_config = ConfigDict(frozen=True, extra="forbid")


class SessionHealth(_Model):
    """Until someone checks the session, its health is unknown."""

    status: HealthStatus = HealthStatus.UNKNOWN
    checked_at: datetime | None = None
    detail: str | None = None


class WebhookSetupStatus(StrEnum):
    """Whether the session's gateway sends its events to the account's receipt URL."""

    UNKNOWN = "UNKNOWN"
    """Not tried yet."""
    CONFIGURED = "CONFIGURED"
    """Herald set the gateway's webhook up itself."""
    MANUAL = "MANUAL"
    """Herald could not (no public URL, or the gateway's tier or version refuses): the detail
    says what the operator must configure by hand."""
    FAILED = "FAILED"
    """The gateway could not be asked (unreachable, an error); try again."""


class WebhookSetup(_Model):
    status: WebhookSetupStatus = WebhookSetupStatus.UNKNOWN
    checked_at: datetime | None = None
    detail: str | None = None


class GatewaySession(_Model):
    """How one sender deployment reaches the account's number."""

    engine: SessionEngine
    gateway: GatewayAdapter
    base_url: str
    session: str
    """WAHA's session name, or Evolution's instance name."""
    api_key: SecretStr | None = None
    health: SessionHealth = SessionHealth()
    webhook: WebhookSetup = WebhookSetup()


class SenderAccount(_Model):
    id: str
    tenant_id: str
    phone: str
    """E.164."""
    name: str | None = None
    status: AccountStatus = AccountStatus.ENABLED
    primary: GatewaySession
    fallback: GatewaySession
    hourly_cap: Annotated[int, Field(ge=1)]
    daily_cap: Annotated[int, Field(ge=1)]
    warmup_schedule: tuple[Annotated[int, Field(ge=1)], ...] = ()
    activated_at: datetime
    """Day 1 of its warm-up."""
    receipt_token: SecretStr | None = None
    """The secret of the account's receipt URLs (None: an account older than them)."""
    webhook_hmac_key: SecretStr | None = None
    """When set, receipts must also carry WAHA's ``X-Webhook-Hmac`` under this key (WAHA Plus
    signs; WAHA Core and Evolution do not)."""
    created_at: datetime
    updated_at: datetime
    disabled_at: datetime | None = None

    @property
    def enabled(self) -> bool:
        return self.status is AccountStatus.ENABLED

    @property
    def limits(self) -> SendingLimits:
        return SendingLimits(
            hourly_cap=self.hourly_cap,
            daily_cap=self.daily_cap,
            warmup_schedule=self.warmup_schedule,
            activated_at=self.activated_at,
        )

    def session_for(self, engine: Route) -> GatewaySession:
        """The session a sender deployment (primary or fallback) sends this account's messages
        through."""
        return self.primary if engine is Route.PRIMARY else self.fallback


def new_account_id() -> str:
    return f"{ACCOUNT_ID_PREFIX}{uuid4().hex}"


def check_session(engine: Route, session: GatewaySession) -> None:
    """The rules a session must keep for its deployment; raises :class:`InvalidAccountSettings`
    naming the field (``primary.gateway``…) otherwise."""
    role = engine.value
    if session.engine is not SESSION_ENGINE[engine]:
        raise InvalidAccountSettings(
            f"{role}.engine", f"the {role} session runs {SESSION_ENGINE[engine].value}"
        )
    if session.engine not in ADAPTER_ENGINES[session.gateway]:
        raise InvalidAccountSettings(
            f"{role}.gateway",
            f"{session.gateway.value} cannot run {session.engine.value}; "
            f"the {role} session needs a gateway that can (waha)",
        )
    if session.gateway is GatewayAdapter.EVOLUTION and session.api_key is None:
        raise InvalidAccountSettings(f"{role}.apiKey", "evolution needs an API key")


def check_account(account: SenderAccount) -> None:
    """The rules of an account as a whole; raises :class:`InvalidAccountSettings`."""
    for engine in Route:
        check_session(engine, account.session_for(engine))


# Documents


def _session_document(session: GatewaySession) -> dict[str, Any]:
    return {
        "engine": session.engine.value,
        "gateway": session.gateway.value,
        "baseUrl": session.base_url,
        "session": session.session,
        "apiKey": session.api_key.get_secret_value() if session.api_key is not None else None,
        "health": session_health_document(session.health),
        "webhook": webhook_setup_document(session.webhook),
    }


def session_health_document(health: SessionHealth) -> dict[str, Any]:
    """``sessions.<route>.health`` of an account document."""
    return {"status": health.status.value, "checkedAt": health.checked_at, "detail": health.detail}


def webhook_setup_document(setup: WebhookSetup) -> dict[str, Any]:
    """``sessions.<route>.webhook`` of an account document."""
    return {"status": setup.status.value, "checkedAt": setup.checked_at, "detail": setup.detail}


def _session_of(document: dict[str, Any]) -> GatewaySession:
    health: dict[str, Any] = document.get("health") or {}
    webhook: dict[str, Any] = document.get("webhook") or {}
    return GatewaySession(
        engine=document["engine"],
        gateway=document["gateway"],
        base_url=document["baseUrl"],
        session=document["session"],
        api_key=document.get("apiKey"),
        health=SessionHealth(
            status=health.get("status", HealthStatus.UNKNOWN),
            checked_at=health.get("checkedAt"),
            detail=health.get("detail"),
        ),
        webhook=WebhookSetup(
            status=webhook.get("status", WebhookSetupStatus.UNKNOWN),
            checked_at=webhook.get("checkedAt"),
            detail=webhook.get("detail"),
        ),
    )


def _secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value() if value is not None else None


def account_document(account: SenderAccount) -> dict[str, Any]:
    """The ``accounts`` document of an account (the API key in clear: the senders need it; the
    receipt token in clear: Herald gives it to the gateways). No ``receiptToken`` key when there
    is none, so its unique index stays sparse."""
    document = {
        "_id": account.id,
        "tenantId": account.tenant_id,
        "phone": account.phone,
        "name": account.name,
        "status": account.status.value,
        "sessions": {
            Route.PRIMARY.value: _session_document(account.primary),
            Route.FALLBACK.value: _session_document(account.fallback),
        },
        "hourlyCap": account.hourly_cap,
        "dailyCap": account.daily_cap,
        "warmupSchedule": list(account.warmup_schedule),
        "activatedAt": account.activated_at,
        "createdAt": account.created_at,
        "updatedAt": account.updated_at,
        "disabledAt": account.disabled_at,
        "webhookHmacKey": _secret(account.webhook_hmac_key),
    }
    if account.receipt_token is not None:
        document["receiptToken"] = account.receipt_token.get_secret_value()
    return document


def account_of(document: dict[str, Any]) -> SenderAccount:
    """The account an ``accounts`` document holds."""
    sessions = document["sessions"]
    return SenderAccount(
        id=document["_id"],
        tenant_id=document["tenantId"],
        phone=document["phone"],
        name=document.get("name"),
        status=document.get("status", AccountStatus.ENABLED),
        primary=_session_of(sessions[Route.PRIMARY.value]),
        fallback=_session_of(sessions[Route.FALLBACK.value]),
        hourly_cap=document["hourlyCap"],
        daily_cap=document["dailyCap"],
        warmup_schedule=tuple(document.get("warmupSchedule") or ()),
        activated_at=document["activatedAt"],
        created_at=document["createdAt"],
        updated_at=document.get("updatedAt", document["createdAt"]),
        disabled_at=document.get("disabledAt"),
        receipt_token=document.get("receiptToken"),
        webhook_hmac_key=document.get("webhookHmacKey"),
    )
