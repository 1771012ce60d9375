"""The REST API's request and response bodies (camelCase JSON, as the seed design has them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic.alias_generators import to_camel

from herald_campaign.domain.contacts import ContactFieldValue, SubmittedContact
from herald_campaign.domain.stats import CampaignStats
from herald_campaign.service_layer.campaigns import CampaignPage, ContactsOutcome
from herald_campaign.service_layer.messages import QueueStats
from herald_shared.contracts.common import DelayType
from herald_shared.mongo import Document
from herald_shared.templates import WHATSAPP_MAX_BODY

MAX_CONTACTS_PER_REQUEST = 10_000


def _title(name: str, _: object) -> str:
    return name.replace("_", " ").capitalize()


class RequestModel(BaseModel):
    """A request body: camelCase on the wire, unknown fields are an error (a typo shows)."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=False,
        extra="forbid",
        field_title_generator=_title,
    )


class ResponseModel(BaseModel):
    """A response body: built from snake_case names, serialised camelCase."""

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        serialize_by_alias=True,
        field_title_generator=_title,
    )


# Requests


class CreateCampaignRequest(RequestModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    message_body: Annotated[str, Field(min_length=1, max_length=WHATSAPP_MAX_BODY)]
    delay_type: DelayType = DelayType.BALANCED

    @field_validator("message_body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value


class ContactRequest(RequestModel):
    phone: Annotated[str, Field(min_length=1, max_length=40)]
    name: Annotated[str | None, Field(max_length=200)] = None
    fields: Annotated[
        dict[Annotated[str, Field(max_length=64)], ContactFieldValue],
        Field(
            max_length=50,
            description="Custom fields a message template can use: {{field}}.",
        ),
    ] = {}

    def submitted(self) -> SubmittedContact:
        return SubmittedContact(phone=self.phone, name=self.name, fields=self.fields)


class AddContactsRequest(RequestModel):
    contacts: Annotated[
        list[ContactRequest], Field(min_length=1, max_length=MAX_CONTACTS_PER_REQUEST)
    ]


# Responses


class CampaignResponse(ResponseModel):
    id: str
    name: str
    message_body: str
    delay_type: DelayType
    status: str = Field(description="draft, running or completed")
    contact_count: int
    created_at: datetime
    updated_at: datetime
    launched_at: datetime | None = None

    @classmethod
    def of(cls, campaign: Document) -> CampaignResponse:
        return cls(
            id=campaign["_id"],
            name=campaign["name"],
            message_body=campaign["messageBody"],
            delay_type=campaign.get("delayType", DelayType.BALANCED),
            status=campaign["status"],
            contact_count=campaign.get("contactCount", 0),
            created_at=campaign["createdAt"],
            updated_at=campaign.get("updatedAt", campaign["createdAt"]),
            launched_at=campaign.get("launchedAt"),
        )


class CampaignListResponse(ResponseModel):
    campaigns: list[CampaignResponse]
    total: int
    limit: int
    offset: int

    @classmethod
    def of(cls, page: CampaignPage, *, limit: int, offset: int) -> CampaignListResponse:
        return cls(
            campaigns=[CampaignResponse.of(c) for c in page.campaigns],
            total=page.total,
            limit=limit,
            offset=offset,
        )


class RejectedContactResponse(ResponseModel):
    index: int = Field(description="Position of the contact in the request.")
    phone: str
    reason: str


class AddContactsResponse(ResponseModel):
    accepted: int = Field(description="Contacts added to the campaign.")
    rejected: list[RejectedContactResponse]
    duplicates: int = Field(
        description="Numbers repeated in the request or already in the campaign."
    )
    total: int = Field(description="Contacts in the campaign now.")

    @classmethod
    def of(cls, outcome: ContactsOutcome) -> AddContactsResponse:
        return cls(
            accepted=outcome.accepted,
            rejected=[
                RejectedContactResponse(index=r.index, phone=r.phone, reason=r.reason)
                for r in outcome.rejected
            ],
            duplicates=outcome.duplicates,
            total=outcome.total,
        )


class SendCampaignResponse(ResponseModel):
    campaign_id: str
    status: Literal["running"] = "running"


class CampaignStatsResponse(ResponseModel):
    total: int
    pending: int
    sent: int = Field(description="Sent, delivered and read.")
    delivered: int = Field(description="Delivered and read.")
    failed: int = Field(description="Failed and expired.")
    success_rate: str = Field(description="Percent of the total sent, two decimals.")

    @classmethod
    def of(cls, stats: CampaignStats) -> CampaignStatsResponse:
        return cls(
            total=stats.total,
            pending=stats.pending,
            sent=stats.sent,
            delivered=stats.delivered,
            failed=stats.failed,
            success_rate=stats.success_rate,
        )


class ProcessQueueResponse(ResponseModel):
    queued: int


class RetryFailedResponse(ResponseModel):
    requeued: int


class TopicLagResponse(ResponseModel):
    group: str
    lag: int
    end_offset: int
    committed: int


class QueueStatsResponse(ResponseModel):
    by_status: dict[str, int]
    topics: dict[str, TopicLagResponse] = Field(
        description="Lag of each Herald consumer group by topic (cluster-wide, not per tenant)."
    )

    @classmethod
    def of(cls, stats: QueueStats) -> QueueStatsResponse:
        return cls(
            by_status=stats.by_status,
            topics={
                t.topic: TopicLagResponse(
                    group=t.group, lag=t.lag, end_offset=t.end_offset, committed=t.committed
                )
                for t in stats.topics
            },
        )


class ErrorResponse(BaseModel):
    error: str


class FieldError(BaseModel):
    field: str = Field(description='Where the problem is: "messageBody", "contacts[3].phone".')
    message: str


class ValidationErrorResponse(BaseModel):
    error: str
    fields: list[FieldError]
