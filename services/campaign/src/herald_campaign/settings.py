"""The campaign service's settings: Herald's shared ones plus its own (prefix ``HERALD_``)."""

from __future__ import annotations

from pydantic import Field, SecretStr, field_validator

from herald_campaign.domain.quotas import Quotas
from herald_infra.runtime.settings import HeraldSettings


class CampaignSettings(HeraldSettings):
    default_region: str | None = "IN"
    """ISO 3166 region of phone numbers written without ``+<country code>`` ("9876543210");
    empty: such numbers are rejected."""

    api_key_cache_seconds: float = Field(default=2.0, ge=0.0, le=10.0)
    """How long a found API key is remembered before it is looked up again: the bound on how
    long a revoked or expired key, or a disabled tenant's key, may still work (2 s)."""

    admin_token: SecretStr | None = None
    """The operator credential: it acts on the ``/api/admin`` routes (tenants, their keys and
    quotas, the system jobs) and on nothing else. Unset: only operator keys in ``api_keys``."""

    waha_webhook_hmac_key: SecretStr | None = None
    """The key WAHA signs its webhooks with (the webhook's ``hmac.key``): receipts arrive on
    ``POST /api/webhooks/waha``. Unset: every WAHA webhook is refused."""

    evolution_webhook_token: SecretStr | None = None
    """The shared secret Evolution API sends in the ``X-Herald-Webhook-Token`` header (set in
    the instance webhook's ``headers``): receipts arrive on ``POST /api/webhooks/evolution``.
    Unset: every Evolution webhook is refused."""

    public_url: str | None = None
    """Herald's address as the gateways reach it (``https://herald.example.com``): each sender
    account's receipt URLs start with it, and Herald sets them as its gateways' webhooks. Unset:
    accounts show their receipt paths, and each gateway's webhook is set by hand."""

    webhook_setup_timeout_seconds: float = 10.0
    """How long setting an account's webhook up may wait for its gateway (account creation waits
    for it; a gateway that does not answer in time shows FAILED, to be tried again)."""

    metrics_refresh_seconds: float = 5.0
    """``/metrics`` reads campaign counters (MongoDB) and consumer lag (Kafka) at most once per
    this many seconds, however often it is scraped."""

    campaign_metrics_finished_seconds: float = Field(default=3600.0, ge=0.0)
    """How long a completed or cancelled campaign stays on the per-campaign gauges
    (``herald_campaign_info``, ``herald_campaign_messages``, ``herald_campaign_engagement``);
    scheduled, running and paused campaigns stay for as long as they are."""

    campaign_metrics_limit: int = Field(default=500, ge=1)
    """At most this many campaigns (the most recently updated of those above) on the
    per-campaign gauges, whatever the number of campaigns or tenants: a campaign shown adds a
    series for its status, one per message status and one per kind of engagement, so this
    bounds the series a scrape adds."""

    json_body_max_bytes: int = Field(default=16 * 1024 * 1024, ge=64 * 1024)
    """The largest JSON request body (16 MB): 10,000 contacts, the most one request may add,
    of 1.6 KB each on average. Larger is refused with 413 before or as it is read."""

    csv_upload_max_bytes: int = Field(default=512 * 1024 * 1024, ge=64 * 1024)
    """The largest CSV file (512 MB), as the body or a multipart upload: files are read as they
    arrive, so this bounds an import's time, not the memory it takes."""

    webhook_body_max_bytes: int = Field(default=1024 * 1024, ge=64 * 1024)
    """The largest gateway webhook (1 MB): one event, without its media (Herald asks for none
    inline)."""

    quota_contacts_per_campaign: int = Field(default=1_000_000, ge=1)
    """Quota: contacts one campaign may hold (1,000,000), unless an operator set the tenant's
    own (``PUT /api/admin/tenants/{tenantId}/quotas``). docs/quotas.md lists every quota."""

    quota_running_campaigns: int = Field(default=20, ge=0)
    """Quota: a tenant's campaigns ``running`` at the same time (20); a launch, resume or
    scheduled run past it is refused."""

    quota_accounts: int = Field(default=50, ge=0)
    """Quota: a tenant's sender accounts, enabled or disabled (50)."""

    quota_schedules: int = Field(default=100, ge=0)
    """Quota: a tenant's active schedules (100)."""

    quota_min_cron_interval_seconds: int = Field(default=300, ge=1)
    """Quota: the shortest interval between two firings of a campaign's cron expression
    (300 s: ``*/5 * * * *`` is taken, ``*/1 * * * *`` and ``* * * * * *`` are refused)."""

    quota_cache_seconds: float = Field(default=5.0, ge=0.0, le=60.0)
    """How long a tenant's quotas are remembered: an operator's change applies within this
    time (5 s)."""

    def default_quotas(self) -> Quotas:
        """Every tenant's quotas but where an operator set its own."""
        return Quotas(
            contacts_per_campaign=self.quota_contacts_per_campaign,
            running_campaigns=self.quota_running_campaigns,
            accounts=self.quota_accounts,
            schedules=self.quota_schedules,
            min_cron_interval_seconds=self.quota_min_cron_interval_seconds,
            message_retention_days=self.message_retention_days,
        )

    @field_validator("public_url")
    @classmethod
    def _public_url(cls, value: str | None) -> str | None:
        if not value or not value.strip():
            return None
        text = value.strip().rstrip("/")
        if not text.startswith(("http://", "https://")):
            raise ValueError("HERALD_PUBLIC_URL must be an http(s) URL")
        return text

    @field_validator("default_region")
    @classmethod
    def _region(cls, value: str | None) -> str | None:
        return value.strip().upper() or None if value else None
