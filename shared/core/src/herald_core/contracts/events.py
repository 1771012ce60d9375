"""Events Herald publishes (version 1): ``campaign.events``, send topics, ``message.status``,
``contact.events``."""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Literal

from pydantic import Field, TypeAdapter

from herald_core.contracts.common import Contract, CustomDelay, DelayType, Identifier
from herald_core.media import MediaRef


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
    """The campaign was told to send (now, or its schedule fired): the dispatcher fans the run
    out into messages."""

    type: Literal["campaign.launched"] = "campaign.launched"
    version: Literal[1] = 1
    tenant_id: Identifier
    campaign_id: Identifier
    run: Annotated[int, Field(ge=1)] = 1
    """Which run of the campaign: 1, or the n-th firing of a recurring schedule. Each run is
    its own batch of messages, one per recipient."""
    expires_at: datetime | None = None
    """Messages of this run not sent by then become ``expired``."""


class CampaignScheduled(Contract):
    """The campaign will send at ``send_at``, or at every firing of ``cron``."""

    type: Literal["campaign.scheduled"] = "campaign.scheduled"
    version: Literal[1] = 1
    tenant_id: Identifier
    campaign_id: Identifier
    schedule_id: Identifier
    send_at: datetime | None = None
    cron: str | None = None
    timezone: str = "UTC"
    next_run_at: datetime


class CampaignPaused(Contract):
    type: Literal["campaign.paused"] = "campaign.paused"
    version: Literal[1] = 1
    tenant_id: Identifier
    campaign_id: Identifier
    by: Literal["user", "system"] = "user"
    reason: str | None = None


class CampaignResumed(Contract):
    type: Literal["campaign.resumed"] = "campaign.resumed"
    version: Literal[1] = 1
    tenant_id: Identifier
    campaign_id: Identifier


class CampaignCancelled(Contract):
    type: Literal["campaign.cancelled"] = "campaign.cancelled"
    version: Literal[1] = 1
    tenant_id: Identifier
    campaign_id: Identifier
    cancelled_messages: int
    """Messages not sent yet when the campaign was cancelled: each becomes ``cancelled``, in
    the background, in batches (they may still be moving when this event is published)."""
    reason: str | None = None


class CampaignCompleted(Contract):
    """Every message of the campaign's run reached an end (sent, failed, expired, ...)."""

    type: Literal["campaign.completed"] = "campaign.completed"
    version: Literal[1] = 1
    tenant_id: Identifier
    campaign_id: Identifier
    run: int = 1
    counts: dict[str, int]
    """Messages per status over the campaign's life, and ``total``."""


class CampaignFailed(Contract):
    """A run ended with not one message sent: every one failed or expired."""

    type: Literal["campaign.failed"] = "campaign.failed"
    version: Literal[1] = 1
    tenant_id: Identifier
    campaign_id: Identifier
    run: int = 1
    counts: dict[str, int]
    reason: str


AnyCampaignEvent = (
    CampaignCreated
    | ContactsAdded
    | CampaignLaunched
    | CampaignScheduled
    | CampaignPaused
    | CampaignResumed
    | CampaignCancelled
    | CampaignCompleted
    | CampaignFailed
)
CampaignEvent = Annotated[AnyCampaignEvent, Field(discriminator="type")]
campaign_event_adapter: TypeAdapter[AnyCampaignEvent] = TypeAdapter(CampaignEvent)


class MessageKind(StrEnum):
    CAMPAIGN = "campaign"
    """A campaign's message to a contact."""
    KEYWORD_REPLY = "keyword-reply"
    """Herald's confirmation of a recipient's keyword (opt-out, opt-in, help), sent through the
    account the keyword reached; it goes to a number that just opted out, by design."""


KEYWORD_REPLIES_CAMPAIGN = "keyword-replies"
"""The ``campaign_id`` of keyword replies: no campaign has it (campaign ids are ``cmp_…``)."""


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
    expires_at: datetime | None = None
    """Not sent by then: the message becomes ``expired`` instead of arriving late."""
    media: MediaRef | None = None
    """The campaign's image, video or document, with ``body`` as its caption."""
    kind: MessageKind = MessageKind.CAMPAIGN


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


E164 = Annotated[str, Field(pattern=r"^\+[1-9]\d{6,14}$")]


class ContactOptedOut(Contract):
    """A number was put on the tenant's suppression list: by an opt-out keyword the recipient
    sent (``reason`` keyword), or by the tenant (manual, import, not-on-whatsapp). Herald sends
    it nothing more (a confirmation reply aside) until it opts in again or the entry is
    removed."""

    type: Literal["contact.opted_out"] = "contact.opted_out"
    version: Literal[1] = 1
    tenant_id: Identifier
    phone: E164
    reason: Literal["keyword", "manual", "import", "not-on-whatsapp"]
    account_id: Identifier | None = None
    """The sender account the keyword reached, for a keyword opt-out."""
    keyword: str | None = None
    """The recipient's message as it matched an opt-out keyword."""
    campaign_id: Identifier | None = None
    """The campaign whose message the opt-out answered, when one was sent to the number from
    that account within the reply window."""
    message_id: Identifier | None = None
    at: datetime


class ContactOptedIn(Contract):
    """A number left the tenant's suppression list: by an opt-in keyword (only a keyword
    opt-out is lifted so), or removed by the tenant (``reason`` manual)."""

    type: Literal["contact.opted_in"] = "contact.opted_in"
    version: Literal[1] = 1
    tenant_id: Identifier
    phone: E164
    reason: Literal["keyword", "manual"]
    account_id: Identifier | None = None
    keyword: str | None = None
    at: datetime


class MessageReplied(Contract):
    """A recipient wrote back within the reply window of a campaign message to them; the
    message is marked ``replied`` (a flag beside its status). Only the first reply to a
    message is announced."""

    type: Literal["message.replied"] = "message.replied"
    version: Literal[1] = 1
    tenant_id: Identifier
    phone: E164
    account_id: Identifier
    campaign_id: Identifier
    message_id: Identifier
    text: Annotated[str, Field(max_length=4096)] | None = None
    """The reply's text (or media caption), when it has one."""
    replied_at: datetime


AnyContactEvent = ContactOptedOut | ContactOptedIn | MessageReplied
ContactEvent = Annotated[AnyContactEvent, Field(discriminator="type")]
contact_event_adapter: TypeAdapter[AnyContactEvent] = TypeAdapter(ContactEvent)
