"""Request and response bodies of ``/api/notification-endpoints`` (camelCase JSON).

The signing secret is shown once, in the answer to the endpoint's creation."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import Field, StringConstraints, field_validator

from herald_campaign.domain.notifications.attempts import DeliveryStatus
from herald_campaign.domain.notifications.endpoints import (
    NotificationDelivery,
    NotificationEndpoint,
)
from herald_campaign.domain.notifications.payloads import NotificationType
from herald_campaign.entrypoints.rest.schemas import RequestModel, ResponseModel
from herald_campaign.entrypoints.rest.urls import checked_http_url
from herald_campaign.service_layer.notifications import EndpointDraft

MAX_URL_LENGTH = 2000


def webhook_url(value: str) -> str:
    """An http(s) URL with a host, without credentials or a fragment."""
    text = value.strip()
    url = checked_http_url(
        text,
        example="https://example.com/hook",
        credentials_hint="check X-Herald-Signature instead",
    )
    if url.fragment:
        raise ValueError("must not have a fragment")
    if any(c.isspace() for c in text):
        raise ValueError("must not contain spaces")
    return text


def distinct_events(events: list[NotificationType]) -> list[NotificationType]:
    return list(dict.fromkeys(events))


class CreateNotificationEndpointRequest(RequestModel):
    url: Annotated[
        str,
        Field(
            min_length=1,
            max_length=MAX_URL_LENGTH,
            description="Where Herald POSTs the notifications (http or https); its host must "
            "resolve to public addresses only (or to ones the operator allows: "
            "HERALD_OUTBOUND_ALLOW). Redirects are not followed.",
        ),
    ]
    events: list[NotificationType] = Field(
        min_length=1,
        max_length=len(NotificationType),
        description="The campaign events to notify: campaign.completed, campaign.failed, "
        "campaign.paused (paused by the system).",
    )
    description: (
        Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]
        | None
    ) = None

    _url = field_validator("url")(webhook_url)
    _events = field_validator("events")(distinct_events)

    def draft(self) -> EndpointDraft:
        return EndpointDraft(self.url, tuple(self.events), self.description)


class NotificationEndpointResponse(ResponseModel):
    id: str
    url: str
    events: list[NotificationType]
    description: str | None
    created_at: datetime
    last_status: DeliveryStatus | None = Field(
        description="How the latest attempt went: delivered, retrying (it failed and is tried "
        "again), failed (every attempt of its delivery failed); null before the first."
    )
    last_status_code: int | None = Field(
        description="The HTTP status of the latest attempt; null without an answer."
    )
    last_error: str | None = Field(description="Why the latest attempt failed.")
    last_attempt_at: datetime | None
    last_delivered_at: datetime | None
    consecutive_failures: int = Field(description="Failed attempts since the last delivery.")

    @classmethod
    def of(cls, endpoint: NotificationEndpoint) -> NotificationEndpointResponse:
        health = endpoint.health
        return cls(
            id=endpoint.id,
            url=endpoint.url,
            events=list(endpoint.events),
            description=endpoint.description,
            created_at=endpoint.created_at,
            last_status=health.last_status,
            last_status_code=health.last_status_code,
            last_error=health.last_error,
            last_attempt_at=health.last_attempt_at,
            last_delivered_at=health.last_delivered_at,
            consecutive_failures=health.consecutive_failures,
        )


class CreatedNotificationEndpointResponse(NotificationEndpointResponse):
    secret: str = Field(
        description="The key of the X-Herald-Signature HMAC; shown only in this answer."
    )

    @classmethod
    def created(cls, endpoint: NotificationEndpoint) -> CreatedNotificationEndpointResponse:
        shown = NotificationEndpointResponse.of(endpoint)
        return cls(**shown.model_dump(), secret=endpoint.secret)


class NotificationEndpointListResponse(ResponseModel):
    endpoints: list[NotificationEndpointResponse]
    total: int


class NotificationDeliveryResponse(ResponseModel):
    id: str = Field(description="The X-Herald-Delivery header and the body's id.")
    endpoint_id: str
    type: str
    event_id: str
    campaign_id: str | None
    status: DeliveryStatus
    attempts: int
    next_attempt_at: datetime | None
    last_status_code: int | None
    last_error: str | None
    last_attempt_at: datetime | None
    delivered_at: datetime | None
    created_at: datetime

    @classmethod
    def of(cls, delivery: NotificationDelivery) -> NotificationDeliveryResponse:
        return cls(
            id=delivery.id,
            endpoint_id=delivery.endpoint_id,
            type=delivery.type,
            event_id=delivery.event_id,
            campaign_id=delivery.campaign_id,
            status=delivery.status,
            attempts=delivery.attempts,
            next_attempt_at=delivery.next_attempt_at,
            last_status_code=delivery.last_status_code,
            last_error=delivery.last_error,
            last_attempt_at=delivery.last_attempt_at,
            delivered_at=delivery.delivered_at,
            created_at=delivery.created_at,
        )


class NotificationDeliveryListResponse(ResponseModel):
    deliveries: list[NotificationDeliveryResponse]


class PingQueuedResponse(ResponseModel):
    delivery_id: str
