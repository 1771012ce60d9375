"""Request and response bodies of the quota routes (camelCase JSON), and the error body of a
request a quota refuses."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field

from herald_campaign.domain.quotas import QUOTA_MAXIMUM, QuotaName, Quotas
from herald_campaign.entrypoints.rest.schemas import FieldError, RequestModel, ResponseModel
from herald_campaign.service_layer.quotas import QuotaUsage


class QuotaValues(ResponseModel):
    contacts_per_campaign: int = Field(description="Contacts one campaign may hold.")
    running_campaigns: int = Field(
        description="Campaigns running at the same time (paused and scheduled ones do not count)."
    )
    accounts: int = Field(description="Sender accounts, enabled or disabled.")
    schedules: int = Field(description="Active schedules.")
    min_cron_interval_seconds: int = Field(
        description="The shortest time between two firings of a campaign's cron expression."
    )
    message_retention_days: int = Field(
        default=90,
        description="Days a campaign run's messages are kept after the run ended; then they "
        "are archived (the campaign's `archive` says where) and deleted.",
    )

    @classmethod
    def of(cls, quotas: Quotas) -> QuotaValues:
        return cls(
            contacts_per_campaign=quotas.contacts_per_campaign,
            running_campaigns=quotas.running_campaigns,
            accounts=quotas.accounts,
            schedules=quotas.schedules,
            min_cron_interval_seconds=quotas.min_cron_interval_seconds,
            message_retention_days=quotas.message_retention_days,
        )


class QuotaUsageValues(ResponseModel):
    running_campaigns: int = Field(description="The tenant's campaigns running now.")
    accounts: int = Field(description="The tenant's sender accounts.")
    schedules: int = Field(description="The tenant's active schedules.")

    @classmethod
    def of(cls, usage: QuotaUsage) -> QuotaUsageValues:
        return cls(
            running_campaigns=usage.running_campaigns,
            accounts=usage.accounts,
            schedules=usage.schedules,
        )


class QuotasResponse(ResponseModel):
    """A tenant's quotas and what it holds of them (a campaign's contacts: its
    ``contactCount``)."""

    quotas: QuotaValues
    usage: QuotaUsageValues
    shared_gateway: bool = Field(
        description="Whether a tenant without sender accounts sends through the deployment's "
        "shared gateway; when false, it needs an account of its own to send."
    )


class TenantQuotasResponse(QuotasResponse):
    """What an operator sees of a tenant's quotas: also where each comes from."""

    tenant_id: str
    overrides: dict[str, int] = Field(
        description="The quotas set for this tenant, by name; the others are the defaults."
    )
    defaults: QuotaValues


Count = Annotated[int, Field(ge=0, le=QUOTA_MAXIMUM)]
Positive = Annotated[int, Field(ge=1, le=QUOTA_MAXIMUM)]


class QuotaOverridesRequest(RequestModel):
    """Body of ``PUT /api/admin/tenants/{tenantId}/quotas``: the quotas to change; a quota
    left out keeps its value, ``null`` takes it back to the default."""

    contacts_per_campaign: Positive | None = None
    running_campaigns: Count | None = None
    accounts: Count | None = None
    schedules: Count | None = None
    min_cron_interval_seconds: Positive | None = None
    message_retention_days: Count | None = None

    def changes(self) -> dict[str, int | None]:
        """The quotas given, by their API names (None: back to the default)."""
        names = {
            "contacts_per_campaign": QuotaName.CONTACTS_PER_CAMPAIGN,
            "running_campaigns": QuotaName.RUNNING_CAMPAIGNS,
            "accounts": QuotaName.ACCOUNTS,
            "schedules": QuotaName.SCHEDULES,
            "min_cron_interval_seconds": QuotaName.MIN_CRON_INTERVAL_SECONDS,
            "message_retention_days": QuotaName.MESSAGE_RETENTION_DAYS,
        }
        return {names[field].value: getattr(self, field) for field in self.model_fields_set}


class QuotaErrorResponse(ResponseModel):
    """A request one of the tenant's quotas refuses."""

    error: str
    quota: QuotaName = Field(description="The quota the request would pass.")
    limit: int = Field(description="That quota's value for the tenant.")
    used: int | None = Field(
        default=None, description="What the tenant holds of it now (none for a cron interval)."
    )
    fields: list[FieldError] | None = Field(
        default=None, description="The request field at fault (422: the cron expression)."
    )
