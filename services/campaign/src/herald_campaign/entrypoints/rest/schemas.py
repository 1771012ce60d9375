"""The REST API's request and response bodies (camelCase JSON, as the seed design has them)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

from herald_campaign.domain.campaigns import CampaignDraft, MediaChoice
from herald_campaign.domain.contacts import (
    ContactFieldValue,
    SubmittedContact,
    check_field_name,
    check_field_value,
)
from herald_campaign.domain.stats import CampaignStats
from herald_campaign.domain.time_range import TIME_RANGE, check_time_in_range
from herald_campaign.entrypoints.rest.urls import requestable_http_url
from herald_campaign.service_layer.campaigns import CampaignPage, ContactsOutcome
from herald_campaign.service_layer.dead_letters import (
    COUNT_CAP,
    CampaignRedrive,
    DeadLetterPage,
    Redriven,
)
from herald_campaign.service_layer.messages import QueueStats
from herald_core.contracts.common import CustomDelay, DelayType
from herald_core.media import WHATSAPP_MAX_CAPTION, caption_limit, media_kind, media_of
from herald_core.messages.dead_letters import DeadLetterStatus
from herald_core.templates import MAX_TEMPLATE_LENGTH, check_message_body
from herald_infra.mongo.client import Document

MAX_CONTACTS_PER_REQUEST = 10_000

Instant = Annotated[AwareDatetime, AfterValidator(check_time_in_range)]
"""A time a tenant gives (ISO 8601 with an offset), within the range Herald can store and add
durations to (:mod:`herald_campaign.domain.time_range`)."""
INSTANT_RANGE = f"It must lie {TIME_RANGE}."


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


class CustomDelayRequest(RequestModel):
    min_seconds: Annotated[float, Field(ge=1, le=3600)]
    max_seconds: Annotated[float, Field(ge=1, le=3600)]

    @model_validator(mode="after")
    def _a_range(self) -> CustomDelayRequest:
        if self.max_seconds <= self.min_seconds:
            raise ValueError("maxSeconds must be greater than minSeconds: a range, not one value")
        return self


class MediaRequest(RequestModel):
    """An image, video or document for every message, the message body as its caption: an
    upload's id (``POST /api/media``), or a URL the gateway fetches with its type."""

    upload_id: Annotated[str, Field(pattern=r"^med_[0-9a-f]{32}$")] | None = Field(
        default=None, description="An upload of this tenant's (its type and name come with it)."
    )
    url: Annotated[str, Field(min_length=8, max_length=2000)] | None = Field(
        default=None,
        description="An http(s) URL the gateway fetches; its host must resolve to public "
        "addresses only (or to ones the operator allows: HERALD_OUTBOUND_ALLOW).",
    )
    mimetype: Annotated[str, Field(min_length=3, max_length=127)] | None = Field(
        default=None,
        description="The file's type; required with url (image/jpeg, video/mp4, "
        "application/pdf …).",
    )
    filename: Annotated[str, Field(min_length=1, max_length=255)] | None = Field(
        default=None, description="The name a document shows in the chat."
    )

    @field_validator("url")
    @classmethod
    def _requestable(cls, value: str | None) -> str | None:
        if value is not None:
            requestable_http_url(value, example="https://example.com/offer.jpg")
        return value

    @model_validator(mode="after")
    def _one_source(self) -> MediaRequest:
        if (self.upload_id is None) == (self.url is None):
            raise ValueError("give uploadId or url, not both and not neither")
        if self.url is not None and self.mimetype is None:
            raise ValueError("mimetype is required with url")
        if self.mimetype is not None:
            media_kind(self.mimetype)  # UnsupportedMedia is a ValueError: a 422 on media
        return self

    def choice(self) -> MediaChoice:
        return MediaChoice(self.url, self.upload_id, self.mimetype, self.filename)


class CreateCampaignRequest(RequestModel):
    name: Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
    # Before the body: the body's check reads it (a caption is shorter than a text).
    media: MediaRequest | None = Field(
        default=None,
        description="An image, video or document with every message; the body becomes its "
        f"caption, which WhatsApp keeps to {WHATSAPP_MAX_CAPTION} characters.",
    )
    message_body: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_TEMPLATE_LENGTH,
            description="A template: {{name}}, {{phone}} or any custom field of the contact, "
            "with a default for a missing value ({{name|there}}); plain substitution, nothing "
            "is evaluated. Rendered with every placeholder at its default it must fit "
            "WhatsApp's 4096 characters.",
        ),
    ]
    delay_type: DelayType = DelayType.BALANCED
    custom_delay: CustomDelayRequest | None = Field(
        default=None,
        description="An own anti-ban gap range in seconds, instead of the delay type's "
        "(fast 2-5, balanced 5-10, safe 10-30).",
    )
    expires_at: Instant | None = Field(
        default=None,
        description="A message not sent by then becomes `expired` instead of arriving late "
        f"(ISO 8601 with offset). {INSTANT_RANGE}",
    )
    valid_for_seconds: Annotated[int, Field(ge=60, le=30 * 24 * 3600)] | None = Field(
        default=None,
        description="The same as a duration from the launch (of each run, when recurring).",
    )

    @model_validator(mode="after")
    def _one_validity(self) -> CreateCampaignRequest:
        if self.expires_at is not None and self.valid_for_seconds is not None:
            raise ValueError("give expiresAt or validForSeconds, not both")
        return self

    def draft(self) -> CampaignDraft:
        custom = self.custom_delay
        return CampaignDraft(
            self.name,
            self.message_body,
            self.delay_type,
            CustomDelay(min_seconds=custom.min_seconds, max_seconds=custom.max_seconds)
            if custom is not None
            else None,
            expires_at=self.expires_at,
            valid_for_seconds=self.valid_for_seconds,
            media=self.media.choice() if self.media is not None else None,
        )

    @field_validator("message_body")
    @classmethod
    def _not_blank(cls, value: str) -> str:
        if not value.strip():
            raise ValueError("must not be blank")
        return value

    @field_validator("message_body")
    @classmethod
    def _a_template_that_fits_whatsapp(cls, value: str, info: ValidationInfo) -> str:
        limit = caption_limit(info.data.get("media") is not None)
        check_message_body(value, limit)  # its TemplateError is a ValueError: a 422 on messageBody
        return value


StorableFieldValue = Annotated[ContactFieldValue, AfterValidator(check_field_value)]


class ContactRequest(RequestModel):
    phone: Annotated[str, Field(min_length=1, max_length=40)]
    name: Annotated[str | None, Field(max_length=200)] = None
    fields: Annotated[
        dict[Annotated[str, Field(max_length=64)], StorableFieldValue],
        Field(
            max_length=50,
            description="Custom fields a message template can use: {{field}}. Their names: "
            "letters, digits and _, not starting with a digit; a whole number must fit 64 "
            "bits, a number must be finite.",
        ),
    ] = {}

    @field_validator("fields")
    @classmethod
    def _template_names(cls, fields: dict[str, ContactFieldValue]) -> dict[str, ContactFieldValue]:
        for name in fields:
            check_field_name(name)
        return fields

    def submitted(self) -> SubmittedContact:
        return SubmittedContact(phone=self.phone, name=self.name, fields=self.fields)


class AddContactsRequest(RequestModel):
    contacts: Annotated[
        list[ContactRequest], Field(min_length=1, max_length=MAX_CONTACTS_PER_REQUEST)
    ]


class LifecycleRequest(RequestModel):
    """The optional body of a pause or cancel."""

    reason: Annotated[str, Field(max_length=500)] | None = Field(
        default=None, description="Why; kept with the campaign and in its event."
    )


# Responses


class CustomDelayResponse(ResponseModel):
    min_seconds: float
    max_seconds: float


def _snake(stored: Document) -> dict[str, Any]:
    return {"min_seconds": stored["minSeconds"], "max_seconds": stored["maxSeconds"]}


class MediaResponse(ResponseModel):
    kind: str = Field(description="image, video or document")
    mimetype: str
    filename: str | None = None
    url: str | None = None
    upload_id: str | None = None


def _media_shown(stored: Document | None) -> MediaResponse | None:
    media = media_of(stored)
    if media is None:
        return None
    return MediaResponse(
        kind=media.kind.value,
        mimetype=media.mimetype,
        filename=media.filename,
        url=media.url,
        upload_id=media.upload_id,
    )


class CampaignArchiveResponse(ResponseModel):
    """Where the messages of a campaign's archived runs went (docs/retention.md): runs 1 to
    ``throughRun``, one gzipped JSON Lines file each, deleted from Herald's store."""

    through_run: int = Field(description="Runs 1 to this one are archived.")
    runs: int = Field(description="Runs archived.")
    messages: int = Field(description="Messages archived, every archived run together.")
    run: int = Field(description="The latest run archived.")
    location: str = Field(
        description="The latest archived run's file (`file://…`, or `s3://bucket/key` in a "
        "bucket); the others are beside it, named `run-<n>.jsonl.gz`."
    )
    archived_at: datetime | None = Field(
        default=None,
        description="When the latest archived run's messages were deleted; null while that "
        "is under way.",
    )

    @classmethod
    def of(cls, stored: Document | None) -> CampaignArchiveResponse | None:
        if not stored or not stored.get("throughRun"):
            return None
        return cls(
            through_run=int(stored["throughRun"]),
            runs=int(stored.get("runs") or 0),
            messages=int(stored.get("messages") or 0),
            run=int(stored.get("run") or stored["throughRun"]),
            location=str(stored.get("location") or ""),
            archived_at=stored.get("archivedAt"),
        )


class CampaignResponse(ResponseModel):
    id: str
    name: str
    message_body: str
    media: MediaResponse | None = None
    delay_type: DelayType
    custom_delay: CustomDelayResponse | None = None
    status: str = Field(description="draft, scheduled, running, paused, completed or cancelled")
    contact_count: int
    created_at: datetime
    updated_at: datetime
    launched_at: datetime | None = None
    run: int = Field(default=0, description="Runs started: 1 once sent; n for a recurring one.")
    expires_at: datetime | None = None
    valid_for_seconds: int | None = None
    paused_at: datetime | None = Field(default=None, description="When it was last paused.")
    paused_by: Literal["user", "system"] | None = None
    pause_reason: str | None = None
    resumed_at: datetime | None = Field(default=None, description="When it was last resumed.")
    cancelled_at: datetime | None = None
    cancel_reason: str | None = None
    cancelled_messages: int | None = Field(
        default=None,
        description="Messages not sent yet when it was cancelled: each becomes `cancelled` "
        "(in the background, in batches, after the cancel answered).",
    )
    archive: CampaignArchiveResponse | None = Field(
        default=None,
        description="Set once the messages of its ended runs were archived and deleted, after "
        "the tenant's retention (docs/retention.md); its statistics stay as they were.",
    )

    @classmethod
    def of(cls, campaign: Document) -> CampaignResponse:
        return cls(
            id=campaign["_id"],
            name=campaign["name"],
            message_body=campaign["messageBody"],
            media=_media_shown(campaign.get("media")),
            delay_type=campaign.get("delayType", DelayType.BALANCED),
            custom_delay=CustomDelayResponse(**_snake(campaign["customDelay"]))
            if campaign.get("customDelay")
            else None,
            status=campaign["status"],
            contact_count=campaign.get("contactCount", 0),
            created_at=campaign["createdAt"],
            updated_at=campaign.get("updatedAt", campaign["createdAt"]),
            launched_at=campaign.get("launchedAt"),
            run=campaign.get("run", 0),
            expires_at=campaign.get("expiresAt"),
            valid_for_seconds=campaign.get("validForSeconds"),
            paused_at=campaign.get("pausedAt"),
            paused_by=campaign.get("pausedBy"),
            pause_reason=campaign.get("pauseReason"),
            resumed_at=campaign.get("resumedAt"),
            cancelled_at=campaign.get("cancelledAt"),
            cancel_reason=campaign.get("cancelReason"),
            cancelled_messages=campaign.get("cancelledMessages"),
            archive=CampaignArchiveResponse.of(campaign.get("archive")),
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
    suppressed: list[str] = Field(
        default_factory=list,
        description="Numbers added that are on the tenant's suppression list: they stay in "
        "the campaign, and get no message while the number is on the list.",
    )

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
            suppressed=outcome.suppressed,
        )


class SendCampaignResponse(ResponseModel):
    campaign_id: str
    status: Literal["running", "scheduled"] = "running"
    schedule_id: str | None = Field(
        default=None, description="Sent with a schedule: the schedule (see /api/schedules)."
    )
    next_run_at: datetime | None = Field(
        default=None, description="Sent with a schedule: when it sends (first)."
    )


class CampaignStatsResponse(ResponseModel):
    total: int
    pending: int
    sent: int = Field(description="Sent, delivered and read.")
    delivered: int = Field(description="Delivered and read.")
    failed: int = Field(description="Failed and expired.")
    not_on_whatsapp: int = Field(
        description="Of failed: numbers the gateway said are not on WhatsApp (never sent)."
    )
    success_rate: str = Field(description="Percent of the total sent, two decimals.")
    suppressed: int = Field(
        description="Recipients not sent to because they are on the suppression list: "
        "contacts the fan-out made no message for, and messages stopped before their send "
        "(status `suppressed`)."
    )
    replied: int = Field(
        description="Sent messages a recipient wrote back to within the reply window."
    )
    opted_out: int = Field(description="Sent messages answered with an opt-out keyword.")
    reply_rate: str = Field(description="Percent of the sent messages replied to.")
    opt_out_rate: str = Field(description="Percent of the sent messages answered with an opt-out.")

    @classmethod
    def of(cls, stats: CampaignStats) -> CampaignStatsResponse:
        return cls(
            total=stats.total,
            pending=stats.pending,
            sent=stats.sent,
            delivered=stats.delivered,
            failed=stats.failed,
            not_on_whatsapp=stats.not_on_whatsapp,
            success_rate=stats.success_rate,
            suppressed=stats.suppressed,
            replied=stats.replied,
            opted_out=stats.opted_out,
            reply_rate=stats.reply_rate,
            opt_out_rate=stats.opt_out_rate,
        )


class ProcessQueueResponse(ResponseModel):
    queued: int


class RetryFailedResponse(ResponseModel):
    requeued: int


class ConsumerLagResponse(ResponseModel):
    topic: str
    group: str
    lag: int
    end_offset: int
    committed: int


class CircuitResponse(ResponseModel):
    account_id: str
    engine: str = Field(description="primary or fallback")
    state: str = Field(description="closed, open or half-open")
    consecutive_failures: int
    open_until: datetime | None = Field(
        default=None,
        description="Until when an open circuit sends this account's messages to the other engine.",
    )
    reason: str | None = None
    updated_at: datetime | None = None

    @classmethod
    def of(cls, circuit: Document) -> CircuitResponse:
        return cls(
            account_id=circuit["accountId"],
            engine=circuit["engine"],
            state=circuit["state"],
            consecutive_failures=circuit.get("consecutiveFailures", 0),
            open_until=circuit.get("openUntil"),
            reason=circuit.get("reason"),
            updated_at=circuit.get("updatedAt"),
        )


class QueueStatsResponse(ResponseModel):
    by_status: dict[str, int]
    consumers: list[ConsumerLagResponse] = Field(
        description="Lag of each Herald consumer group on each topic it reads (cluster-wide, "
        "not per tenant); a topic read by two groups (campaign.events) appears twice."
    )
    circuits: list[CircuitResponse] = Field(
        description="The tenant's circuit breakers, one per sender account and engine."
    )

    @classmethod
    def of(cls, stats: QueueStats) -> QueueStatsResponse:
        return cls(
            by_status=stats.by_status,
            consumers=[
                ConsumerLagResponse(
                    topic=t.topic,
                    group=t.group,
                    lag=t.lag,
                    end_offset=t.end_offset,
                    committed=t.committed,
                )
                for t in stats.topics
            ],
            circuits=[CircuitResponse.of(c) for c in stats.circuits],
        )


class DeadLetterResponse(ResponseModel):
    id: str
    campaign_id: str | None = None
    message_id: str | None = Field(
        default=None, description="The failed message; null for a poison record."
    )
    reason: str = Field(description='Why: "exhausted", "permanent", "schema-invalid", ...')
    exception_type: str | None = None
    exception_message: str | None = None
    original_topic: str
    original_partition: int
    original_offset: int
    attempts: int
    first_failure_at: datetime | None = None
    last_failure_at: datetime | None = None
    payload: str = Field(description="The record's value as text.")
    key: str | None = Field(default=None, description="The record's key as text.")
    recorded_at: datetime
    status: DeadLetterStatus
    redrive_count: int
    redriven_at: datetime | None = None

    @classmethod
    def of(cls, dead_letter: Document) -> DeadLetterResponse:
        return cls(
            id=dead_letter["_id"],
            campaign_id=dead_letter.get("campaignId"),
            message_id=dead_letter.get("messageId"),
            reason=dead_letter.get("reason", "unknown"),
            exception_type=dead_letter.get("exceptionType"),
            exception_message=dead_letter.get("exceptionMessage"),
            original_topic=dead_letter.get("originalTopic", "unknown"),
            original_partition=dead_letter.get("originalPartition", -1),
            original_offset=dead_letter.get("originalOffset", -1),
            attempts=dead_letter.get("attempts", 1),
            first_failure_at=dead_letter.get("firstFailureAt"),
            last_failure_at=dead_letter.get("lastFailureAt"),
            payload=dead_letter.get("payload", ""),
            key=dead_letter.get("key"),
            recorded_at=dead_letter["recordedAt"],
            status=dead_letter.get("status", DeadLetterStatus.OPEN),
            redrive_count=dead_letter.get("redriveCount", 0),
            redriven_at=dead_letter.get("redrivenAt"),
        )


DeadLetterTotal = Annotated[
    int, Field(description=f"How many match: exact up to {COUNT_CAP:,}, beyond a lower bound.")
]
TotalIsLowerBound = Annotated[
    bool,
    Field(description=f"True when more than {COUNT_CAP:,} match and total counts only some."),
]


class DeadLetterListResponse(ResponseModel):
    dead_letters: list[DeadLetterResponse]
    total: DeadLetterTotal
    total_is_lower_bound: TotalIsLowerBound
    limit: int
    offset: int

    @classmethod
    def of(cls, page: DeadLetterPage, *, limit: int, offset: int) -> DeadLetterListResponse:
        return cls(
            dead_letters=[DeadLetterResponse.of(d) for d in page.dead_letters],
            total=page.total,
            total_is_lower_bound=page.total_is_lower_bound,
            limit=limit,
            offset=offset,
        )


class RedrivenMessageResponse(ResponseModel):
    id: str
    status: str
    attempt: int = Field(description="The message's new attempt number.")
    plan_step: int = Field(description="The attempt plan's step (0: a fresh plan).")
    retry_count: int


class RedriveResponse(ResponseModel):
    dead_letter: DeadLetterResponse
    topic: str = Field(
        description="Where the redrive was published: the attempt plan's first send topic, "
        "or the poison record's original topic."
    )
    message: RedrivenMessageResponse | None = Field(
        description="The message with its new attempt; null for a poison record."
    )

    @classmethod
    def of(cls, redriven: Redriven) -> RedriveResponse:
        message = redriven.message
        return cls(
            dead_letter=DeadLetterResponse.of(redriven.dead_letter),
            topic=redriven.topic,
            message=(
                RedrivenMessageResponse(
                    id=message["_id"],
                    status=message["status"],
                    attempt=message.get("attempt", 1),
                    plan_step=message.get("planStep", 0),
                    retry_count=message.get("retryCount", 0),
                )
                if message is not None
                else None
            ),
        )


class CampaignRedriveResponse(ResponseModel):
    redriven: int
    skipped: int = Field(
        description="Open dead letters left open: their message is no longer failed, or a "
        "poison record has no Herald topic to go back to."
    )

    @classmethod
    def of(cls, outcome: CampaignRedrive) -> CampaignRedriveResponse:
        return cls(redriven=outcome.redriven, skipped=outcome.skipped)


class ErrorResponse(BaseModel):
    error: str


class FieldError(BaseModel):
    field: str = Field(description='Where the problem is: "messageBody", "contacts[3].phone".')
    message: str


class ValidationErrorResponse(BaseModel):
    error: str
    fields: list[FieldError]
