"""Events Herald publishes (version 1): ``campaign.events``, send topics, ``message.status``."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from herald_shared.contracts.common import Contract, CustomDelay, DelayType, Identifier


class CampaignCreated(Contract):
    type: Literal["campaign.created"] = "campaign.created"
    version: Literal[1] = 1
    tenant_id: Identifier
    campaign_id: Identifier
    name: str


class ContactsAdded(Contract):
    type: Literal["campaign.contacts_added"] = "campaign.contacts_added"
    version: Literal[1] = 1
    tenant_id: Identifier
    campaign_id: Identifier
    accepted: int
    rejected: int


class CampaignLaunched(Contract):
    """The campaign was told to send: the dispatcher fans it out into messages."""

    type: Literal["campaign.launched"] = "campaign.launched"
    version: Literal[1] = 1
    tenant_id: Identifier
    campaign_id: Identifier


CampaignEvent = Annotated[
    CampaignCreated | ContactsAdded | CampaignLaunched, Field(discriminator="type")
]
campaign_event_adapter: TypeAdapter[CampaignCreated | ContactsAdded | CampaignLaunched] = (
    TypeAdapter(CampaignEvent)
)


class SendMessage(Contract):
    """One attempt to deliver one message; published on a send topic keyed by ``account_id``.

    It carries everything the send needs, so a sender only claims the message in MongoDB.
    """

    type: Literal["message.send"] = "message.send"
    version: Literal[1] = 1
    tenant_id: Identifier
    campaign_id: Identifier
    message_id: Identifier
    account_id: Identifier
    phone: Annotated[str, Field(pattern=r"^\+[1-9]\d{6,14}$")]
    body: Annotated[str, Field(min_length=1, max_length=4096)]
    attempt: Annotated[int, Field(ge=1)] = 1
    """The message's attempt number; a sender claims only at this attempt (compare-and-set)."""
    step: Annotated[int, Field(ge=0)] = 0
    """Which step of the attempt plan makes this attempt (0: the first); a redrive restarts
    the plan at 0 while ``attempt`` keeps counting."""
    first_failure_at: datetime | None = None
    """When the first failed attempt of the current plan happened, if one did."""
    delay_type: DelayType = DelayType.BALANCED
    custom_delay: CustomDelay | None = None
    """The campaign's own gap range, when it has one (it wins over ``delay_type``)."""


class MessageStatusChanged(Contract):
    """A message moved from one status to another."""

    type: Literal["message.status"] = "message.status"
    version: Literal[1] = 1
    tenant_id: Identifier
    campaign_id: Identifier
    message_id: Identifier
    status: str
    previous_status: str
    attempt: int
    delivery_method: str | None = None
    gateway_message_id: str | None = None
    reason: str | None = None
    at: datetime
