"""Request and response bodies of ``/api/accounts`` (camelCase JSON).

API keys come in as ``SecretStr`` (masked wherever a request is printed) and never go out: a
session shows ``apiKeySet`` instead.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, TypeVar

from pydantic import Field, SecretStr, StringConstraints, field_validator

from herald_campaign.domain.accounts import (
    AccountChanges,
    AccountDraft,
    SessionChanges,
    SessionSetup,
)
from herald_campaign.domain.receipt_urls import receipt_path, receipt_url
from herald_campaign.entrypoints.rest.schemas import (
    INSTANT_RANGE,
    Instant,
    RequestModel,
    ResponseModel,
)
from herald_campaign.entrypoints.rest.urls import checked_http_url
from herald_campaign.service_layer.accounts import AccountPage
from herald_campaign.service_layer.session_pairing import SessionQr
from herald_core.accounts.model import (
    AccountStatus,
    GatewayAdapter,
    GatewaySession,
    HealthStatus,
    SenderAccount,
    SessionEngine,
    WebhookSetupStatus,
)
from herald_core.accounts.sending_limits import daily_allowance
from herald_core.attempt_plan import Route
from herald_core.contracts.common import utc_now

T = TypeVar("T")

MAX_API_KEY_LENGTH = 500
MAX_WARMUP_DAYS = 90

SessionName = Annotated[
    str,
    StringConstraints(
        strip_whitespace=True, min_length=1, max_length=100, pattern=r"^[A-Za-z0-9_.@-]+$"
    ),
    Field(description="WAHA's session name, or Evolution's instance name."),
]
BaseUrl = Annotated[
    str,
    Field(
        min_length=1,
        max_length=2000,
        description="The gateway's address, like http://waha:3000 (no credentials in it). "
        "Its host must resolve to public addresses only, or to ones the operator allows "
        "(HERALD_OUTBOUND_ALLOW); one that does not resolve yet is accepted.",
    ),
]
ApiKey = Annotated[
    SecretStr,
    Field(description="The gateway's API key; write-only (responses say `apiKeySet`)."),
]
HourlyCap = Annotated[
    int, Field(ge=1, le=100_000, description="Messages the account may be given per UTC hour.")
]
DailyCap = Annotated[
    int, Field(ge=1, le=1_000_000, description="Messages per UTC day once warmed up.")
]
WarmupSchedule = Annotated[
    list[Annotated[int, Field(ge=1, le=1_000_000)]],
    Field(
        max_length=MAX_WARMUP_DAYS,
        description="Daily allowance on day 1, 2, … after activation (capped by dailyCap); "
        "afterwards dailyCap applies. [] for no warm-up.",
    ),
]
ActivatedAt = Annotated[
    Instant,
    Field(description=f"When the number started sending: day 1 of its warm-up. {INSTANT_RANGE}"),
]
AccountName = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
WebhookHmacKey = Annotated[
    SecretStr,
    Field(
        description="Only for WAHA Plus, which signs its webhooks: receipts to the account's "
        "WAHA receipt URL must then carry `X-Webhook-Hmac` under this key (Herald gives it to "
        "the gateway). WAHA Core and Evolution sign nothing; leave it unset for them. "
        "Write-only (responses say `webhookHmacKeySet`)."
    ),
]


def gateway_url(value: str) -> str:
    """An http(s) URL with a host and nothing after the path, without a trailing slash."""
    text = value.strip()
    url = checked_http_url(text, example="http://waha:3000", credentials_hint="set apiKey instead")
    if url.query or url.fragment:
        raise ValueError("must not have a query or a fragment")
    return text.rstrip("/")


def api_key_text(value: SecretStr | None) -> SecretStr | None:
    if value is not None:
        key = value.get_secret_value()
        if not key.strip():
            raise ValueError("must not be blank")
        if len(key) > MAX_API_KEY_LENGTH:
            raise ValueError(f"must be at most {MAX_API_KEY_LENGTH} characters")
    return value


def header_api_key(value: SecretStr | None) -> SecretStr | None:
    """A gateway API key travels in a header (``X-Api-Key``, ``apikey``): printable ASCII."""
    checked = api_key_text(value)
    if checked is not None:
        key = checked.get_secret_value()
        if not (key.isascii() and key.isprintable()):
            raise ValueError("must be printable ASCII: it is sent in a header")
    return checked


def not_null(value: T | None) -> T:
    if value is None:
        raise ValueError("must not be null")
    return value


# Requests


class SessionRequest(RequestModel):
    gateway: GatewayAdapter
    base_url: BaseUrl
    session: SessionName
    api_key: ApiKey | None = None

    _url = field_validator("base_url")(gateway_url)
    _key = field_validator("api_key")(header_api_key)

    def setup(self) -> SessionSetup:
        return SessionSetup(self.gateway, self.base_url, self.session, self.api_key)


class SessionChangesRequest(RequestModel):
    """Only the settings given change; ``apiKey: null`` removes the key."""

    gateway: GatewayAdapter | None = None
    base_url: BaseUrl | None = None
    session: SessionName | None = None
    api_key: ApiKey | None = None

    _not_null = field_validator("gateway", "base_url", "session")(not_null)
    _url = field_validator("base_url")(gateway_url)
    _key = field_validator("api_key")(header_api_key)

    def changes(self) -> SessionChanges:
        return SessionChanges(
            gateway=self.gateway,
            base_url=self.base_url,
            session=self.session,
            api_key=self.api_key,
            remove_api_key="api_key" in self.model_fields_set and self.api_key is None,
        )


class CreateAccountRequest(RequestModel):
    phone: Annotated[
        str,
        Field(
            min_length=1,
            max_length=40,
            description="The account's WhatsApp number; normalised to E.164.",
        ),
    ]
    name: AccountName | None = None
    primary: SessionRequest = Field(description="The Baileys session (primary-sender).")
    fallback: SessionRequest = Field(description="The whatsapp-web.js session (fallback-sender).")
    hourly_cap: HourlyCap | None = None
    daily_cap: DailyCap | None = None
    warmup_schedule: WarmupSchedule | None = None
    activated_at: ActivatedAt | None = None
    webhook_hmac_key: WebhookHmacKey | None = None

    _hmac = field_validator("webhook_hmac_key")(api_key_text)

    def draft(self) -> AccountDraft:
        return AccountDraft(
            phone=self.phone,
            name=self.name,
            primary=self.primary.setup(),
            fallback=self.fallback.setup(),
            hourly_cap=self.hourly_cap,
            daily_cap=self.daily_cap,
            warmup_schedule=(
                tuple(self.warmup_schedule) if self.warmup_schedule is not None else None
            ),
            activated_at=self.activated_at,
            webhook_hmac_key=self.webhook_hmac_key,
        )


class UpdateAccountRequest(RequestModel):
    """Only the settings given change; ``name: null`` removes the name."""

    phone: Annotated[str, Field(min_length=1, max_length=40)] | None = None
    name: AccountName | None = None
    primary: SessionChangesRequest | None = None
    fallback: SessionChangesRequest | None = None
    hourly_cap: HourlyCap | None = None
    daily_cap: DailyCap | None = None
    warmup_schedule: WarmupSchedule | None = None
    activated_at: ActivatedAt | None = None
    webhook_hmac_key: WebhookHmacKey | None = Field(
        default=None, description="A new key; `null` removes it."
    )

    _hmac = field_validator("webhook_hmac_key")(api_key_text)
    _not_null = field_validator(
        "phone",
        "primary",
        "fallback",
        "hourly_cap",
        "daily_cap",
        "warmup_schedule",
        "activated_at",
    )(not_null)

    def changes(self) -> AccountChanges:
        return AccountChanges(
            phone=self.phone,
            name=self.name,
            remove_name="name" in self.model_fields_set and self.name is None,
            primary=self.primary.changes() if self.primary is not None else None,
            fallback=self.fallback.changes() if self.fallback is not None else None,
            hourly_cap=self.hourly_cap,
            daily_cap=self.daily_cap,
            warmup_schedule=(
                tuple(self.warmup_schedule) if self.warmup_schedule is not None else None
            ),
            activated_at=self.activated_at,
            webhook_hmac_key=self.webhook_hmac_key,
            remove_webhook_hmac_key=(
                "webhook_hmac_key" in self.model_fields_set and self.webhook_hmac_key is None
            ),
        )


# Responses


class SessionHealthResponse(ResponseModel):
    status: HealthStatus
    checked_at: datetime | None = None
    detail: str | None = None


class WebhookSetupResponse(ResponseModel):
    status: WebhookSetupStatus = Field(
        description="UNKNOWN (not tried), CONFIGURED (Herald set the gateway's webhook to the "
        "account's receipt URL), MANUAL (Herald cannot: the detail says what to set by hand), "
        "FAILED (the gateway could not be asked: POST .../webhooks to try again)."
    )
    checked_at: datetime | None = None
    detail: str | None = None


class SessionResponse(ResponseModel):
    engine: SessionEngine
    gateway: GatewayAdapter
    base_url: str
    session: str
    api_key_set: bool = Field(description="Whether the session has an API key (never shown).")
    health: SessionHealthResponse
    webhook: WebhookSetupResponse

    @classmethod
    def of(cls, session: GatewaySession) -> SessionResponse:
        return cls(
            engine=session.engine,
            gateway=session.gateway,
            base_url=session.base_url,
            session=session.session,
            api_key_set=session.api_key is not None,
            health=SessionHealthResponse(
                status=session.health.status,
                checked_at=session.health.checked_at,
                detail=session.health.detail,
            ),
            webhook=WebhookSetupResponse(
                status=session.webhook.status,
                checked_at=session.webhook.checked_at,
                detail=session.webhook.detail,
            ),
        )


class AccountResponse(ResponseModel):
    id: str
    phone: str
    name: str | None
    status: AccountStatus = Field(description="enabled or disabled")
    primary: SessionResponse
    fallback: SessionResponse
    hourly_cap: int
    daily_cap: int
    warmup_schedule: list[int]
    daily_allowance: int = Field(
        description="What the account may be given today (UTC): dailyCap, lowered while it "
        "warms up."
    )
    activated_at: datetime
    receipt_token_set: bool = Field(
        description="Whether the account has receipt URLs (accounts made before them get "
        "theirs by rotating the token)."
    )
    webhook_hmac_key_set: bool
    created_at: datetime
    updated_at: datetime
    disabled_at: datetime | None = None

    @classmethod
    def of(cls, account: SenderAccount) -> AccountResponse:
        return cls(
            id=account.id,
            phone=account.phone,
            name=account.name,
            status=account.status,
            primary=SessionResponse.of(account.primary),
            fallback=SessionResponse.of(account.fallback),
            hourly_cap=account.hourly_cap,
            daily_cap=account.daily_cap,
            warmup_schedule=list(account.warmup_schedule),
            daily_allowance=daily_allowance(account.limits, utc_now()),
            activated_at=account.activated_at,
            receipt_token_set=account.receipt_token is not None,
            webhook_hmac_key_set=account.webhook_hmac_key is not None,
            created_at=account.created_at,
            updated_at=account.updated_at,
            disabled_at=account.disabled_at,
        )


class ReceiptUrlsResponse(ResponseModel):
    """Where the account's gateways post receipts: shown only here, when the account is made
    and when its token is rotated. Herald gives them to the gateways itself (each session's
    `webhook` says whether that worked); keep them to configure a gateway by hand."""

    token: str = Field(description="The secret in the URLs; rotate it if it leaks.")
    waha: str = Field(description="The receipt URL (or path, without HERALD_PUBLIC_URL) for WAHA.")
    evolution: str = Field(description="The same for Evolution API.")

    @classmethod
    def of(cls, token: SecretStr, public_url: str | None) -> ReceiptUrlsResponse:
        def url(gateway: GatewayAdapter) -> str:
            if public_url:
                return receipt_url(public_url, gateway, token)
            return receipt_path(gateway, token)

        return cls(
            token=token.get_secret_value(),
            waha=url(GatewayAdapter.WAHA),
            evolution=url(GatewayAdapter.EVOLUTION),
        )


class CreatedAccountResponse(AccountResponse):
    receipt_urls: ReceiptUrlsResponse
    warnings: list[str] = Field(
        description="What the account's gateways said that the operator should know or fix "
        "(WAHA Core and a session not named `default`, say); empty when nothing."
    )

    @classmethod
    def of_new(
        cls, account: SenderAccount, public_url: str | None, warnings: tuple[str, ...]
    ) -> CreatedAccountResponse:
        assert account.receipt_token is not None, "a new account has a receipt token"
        shown = AccountResponse.of(account).model_dump()
        return cls(
            **shown,
            receipt_urls=ReceiptUrlsResponse.of(account.receipt_token, public_url),
            warnings=list(warnings),
        )


class RotatedReceiptTokenResponse(ResponseModel):
    account: AccountResponse
    receipt_urls: ReceiptUrlsResponse


class SessionQrResponse(ResponseModel):
    """A login QR code to scan with the account's phone (WhatsApp → Linked devices), as the
    gateway gave it."""

    account_id: str
    engine: Route = Field(description="primary or fallback")
    session: str
    mimetype: str | None = Field(description="The image's type (image/png) when there is one.")
    image_base64: str | None = Field(
        description="The QR code as an image, base64 (no data: prefix)."
    )
    value: str | None = Field(description="The raw QR value, for clients that draw it.")
    pairing_code: str | None = Field(
        default=None, description="A code to type on the phone instead (Evolution only)."
    )

    @classmethod
    def of(cls, found: SessionQr) -> SessionQrResponse:
        return cls(
            account_id=found.account_id,
            engine=found.route,
            session=found.session,
            mimetype=found.qr.mimetype,
            image_base64=found.qr.image_base64,
            value=found.qr.value,
            pairing_code=found.qr.pairing_code,
        )


class AccountListResponse(ResponseModel):
    accounts: list[AccountResponse]
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, page: AccountPage, *, limit: int, offset: int) -> AccountListResponse:
        return cls(
            accounts=[AccountResponse.of(a) for a in page.accounts],
            total=page.total,
            limit=limit,
            offset=offset,
        )
