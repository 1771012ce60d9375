"""Commands other services publish on ``campaign.commands``, and the scheduler on
``campaign.system-commands`` (version 1).

Each command carries an ``event_id``; the campaign service acts on a given ``event_id`` once.
The system's own commands (a schedule's ``campaign.run``, a ``campaign.pause`` by the system)
travel on the topic tenants cannot write; on ``campaign.commands`` they are refused
(:func:`system_only`), since producing there is acting as any tenant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, TypeAdapter, model_validator

from herald_core.contracts.common import Contract, CustomDelay, DelayType, Identifier
from herald_core.schedules import InvalidSchedule, check_cron, zone
from herald_core.templates import MAX_TEMPLATE_LENGTH

ValidFor = Annotated[int, Field(ge=60, le=30 * 24 * 3600)]
"""How long after its launch (of each run) a campaign's messages may still be sent, in seconds."""

FieldValue = Annotated[str, Field(max_length=1000)]


class CreateCampaign(Contract):
    type: Literal["campaign.create"]
    version: Literal[1] = 1
    tenant_id: Identifier
    campaign_id: Identifier | None = None
    """Optional id chosen by the caller; otherwise derived from ``event_id``."""
    name: Annotated[str, Field(min_length=1, max_length=200)]
    message_body: Annotated[str, Field(min_length=1, max_length=MAX_TEMPLATE_LENGTH)]
    """A template (``{{name|there}}``); what it renders for each contact must fit 4,096."""
    delay_type: DelayType = DelayType.BALANCED
    custom_delay: CustomDelay | None = None
    """An own anti-ban gap range, instead of the delay type's profile."""
    expires_at: AwareDatetime | None = None
    """A message not sent by then becomes ``expired`` instead of arriving late."""
    valid_for_seconds: ValidFor | None = None
    """The same as a duration from the launch (of each run, for a recurring campaign)."""

    @model_validator(mode="after")
    def _one_validity(self) -> CreateCampaign:
        if self.expires_at is not None and self.valid_for_seconds is not None:
            raise ValueError("give expires_at or valid_for_seconds, not both")
        return self


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, use_attribute_docstrings=True)

    phone: Annotated[str, Field(min_length=1, max_length=40)]
    name: Annotated[str | None, Field(max_length=200)] = None
    fields: Annotated[
        dict[Annotated[str, Field(max_length=64)], FieldValue], Field(max_length=50)
    ] = Field(default_factory=dict)
    """Custom fields the message template may use (``{{city}}``)."""


class AddContacts(Contract):
    type: Literal["campaign.contacts.add"]
    version: Literal[1] = 1
    tenant_id: Identifier
    campaign_id: Identifier
    contacts: Annotated[list[ContactIn], Field(min_length=1, max_length=10_000)]


class SendCampaign(Contract):
    """Send a draft campaign now, at ``send_at``, or at every firing of ``cron`` (in
    ``timezone``); at most one of ``send_at`` and ``cron``."""

    type: Literal["campaign.send"]
    version: Literal[1] = 1
    tenant_id: Identifier
    campaign_id: Identifier
    send_at: AwareDatetime | None = None
    cron: Annotated[str, Field(min_length=9, max_length=120)] | None = None
    timezone: Annotated[str, Field(min_length=1, max_length=64)] = "UTC"

    @model_validator(mode="after")
    def _readable_schedule(self) -> SendCampaign:
        check_schedule(self.send_at, self.cron, self.timezone)
        return self


def check_schedule(send_at: datetime | None, cron: str | None, timezone: str) -> None:
    """Raise ValueError (naming what is wrong) unless the schedule can be read."""
    if send_at is not None and cron is not None:
        raise ValueError("give send_at or cron, not both")
    try:
        zone(timezone)
        if cron is not None:
            check_cron(cron)
    except InvalidSchedule as error:
        raise ValueError(str(error)) from None


class PauseCampaign(Contract):
    """Stop sending a running campaign's messages (they wait, nothing is lost)."""

    type: Literal["campaign.pause"]
    version: Literal[1] = 1
    tenant_id: Identifier
    campaign_id: Identifier
    by: Literal["user", "system"] = "user"
    """``system``: Herald paused it by itself (the scheduler's sweep), with ``reason``."""
    reason: Annotated[str, Field(max_length=500)] | None = None


class ResumeCampaign(Contract):
    type: Literal["campaign.resume"]
    version: Literal[1] = 1
    tenant_id: Identifier
    campaign_id: Identifier


class CancelCampaign(Contract):
    """Stop a campaign for good: every message not sent yet ends ``cancelled``."""

    type: Literal["campaign.cancel"]
    version: Literal[1] = 1
    tenant_id: Identifier
    campaign_id: Identifier
    reason: Annotated[str, Field(max_length=500)] | None = None


class StartCampaignRun(Contract):
    """A campaign's schedule fired (published by the scheduler): start the run it is due.

    ``event_id`` derives from the schedule and due time, so a firing repeated after a
    scheduler hand-over is a duplicate the campaign service skips.
    """

    type: Literal["campaign.run"]
    version: Literal[1] = 1
    tenant_id: Identifier
    campaign_id: Identifier
    schedule_id: Identifier
    scheduled_for: AwareDatetime


AnyTenantCommand = (
    CreateCampaign | AddContacts | SendCampaign | PauseCampaign | ResumeCampaign | CancelCampaign
)
TenantCommand = Annotated[AnyTenantCommand, Field(discriminator="type")]
"""What ``campaign.commands`` carries."""

AnySystemCommand = StartCampaignRun | PauseCampaign
SystemCommand = Annotated[AnySystemCommand, Field(discriminator="type")]
"""What ``campaign.system-commands`` carries: the scheduler's commands."""

SYSTEM_ONLY = "system-only"
"""The dead-letter reason of a system command that came on ``campaign.commands``."""


def system_only(payload: object) -> str | None:
    """Why the decoded JSON of a command is the system's own and may not come from a tenant
    (a schedule's ``campaign.run``, a pause ``by`` the system); None for a tenant's command.
    Read before validation, so a forged command is named as such, not as a schema error."""
    if not isinstance(payload, dict):
        return None
    kind = payload.get("type")
    if kind == "campaign.run":
        return "campaign.run is the scheduler's: accepted on campaign.system-commands only"
    if kind == "campaign.pause" and payload.get("by") == "system":
        return "a pause by the system is the scheduler's: accepted on campaign.system-commands only"
    return None


AnyCampaignCommand = (
    CreateCampaign
    | AddContacts
    | SendCampaign
    | PauseCampaign
    | ResumeCampaign
    | CancelCampaign
    | StartCampaignRun
)
CampaignCommand = Annotated[AnyCampaignCommand, Field(discriminator="type")]
campaign_command_adapter: TypeAdapter[AnyCampaignCommand] = TypeAdapter(CampaignCommand)
