"""The campaign service's settings: Herald's shared ones plus its own (prefix ``HERALD_``)."""

from __future__ import annotations

from pydantic import SecretStr, field_validator

from herald_shared.settings import HeraldSettings


class CampaignSettings(HeraldSettings):
    default_region: str | None = "IN"
    """ISO 3166 region of phone numbers written without ``+<country code>`` ("9876543210");
    empty: such numbers are rejected."""

    api_key_cache_seconds: float = 30.0
    """How long a found API token is remembered before it is looked up again."""

    waha_webhook_hmac_key: SecretStr | None = None
    """The key WAHA signs its webhooks with (the webhook's ``hmac.key``): receipts arrive on
    ``POST /api/webhooks/waha``. Unset: every WAHA webhook is refused."""

    evolution_webhook_token: SecretStr | None = None
    """The shared secret Evolution API sends in the ``X-Herald-Webhook-Token`` header (set in
    the instance webhook's ``headers``): receipts arrive on ``POST /api/webhooks/evolution``.
    Unset: every Evolution webhook is refused."""

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        return value.strip().upper() or None if value else None
