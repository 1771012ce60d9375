"""Commands other services publish on ``campaign.commands`` (version 1).

Each command carries an ``event_id``; the campaign service acts on a given ``event_id`` once.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from herald_shared.contracts.common import Contract, CustomDelay, DelayType, Identifier


class CreateCampaign(Contract):
    type: Literal["campaign.create"]
    version: Literal[1] = 1
    tenant_id: Identifier
    campaign_id: Identifier | None = None
    """Optional id chosen by the caller; otherwise derived from ``event_id``."""
    name: Annotated[str, Field(min_length=1, max_length=200)]
    message_body: Annotated[str, Field(min_length=1, max_length=4096)]
    delay_type: DelayType = DelayType.BALANCED
    custom_delay: CustomDelay | None = None
    """An own anti-ban gap range, instead of the delay type's profile."""


class ContactIn(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    phone: Annotated[str, Field(min_length=1, max_length=40)]
    name: Annotated[str | None, Field(max_length=200)] = None


class AddContacts(Contract):
    type: Literal["campaign.contacts.add"]
    version: Literal[1] = 1
    tenant_id: Identifier
    campaign_id: Identifier
    contacts: Annotated[list[ContactIn], Field(min_length=1, max_length=10_000)]


class SendCampaign(Contract):
    type: Literal["campaign.send"]
    version: Literal[1] = 1
    tenant_id: Identifier
    campaign_id: Identifier


CampaignCommand = Annotated[
    CreateCampaign | AddContacts | SendCampaign, Field(discriminator="type")
]
campaign_command_adapter: TypeAdapter[CreateCampaign | AddContacts | SendCampaign] = TypeAdapter(
    CampaignCommand
)
