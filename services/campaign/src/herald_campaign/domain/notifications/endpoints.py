"""What a tenant sees of its notification endpoints and of their deliveries. Pure; no I/O."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from herald_campaign.domain.notifications.attempts import DeliveryStatus
from herald_campaign.domain.notifications.payloads import NotificationType


@dataclass(frozen=True)
class EndpointHealth:
    """How the endpoint's latest delivery attempts went."""

    last_status: DeliveryStatus | None = None
    last_status_code: int | None = None
    last_error: str | None = None
    last_attempt_at: datetime | None = None
    last_delivered_at: datetime | None = None
    consecutive_failures: int = 0


@dataclass(frozen=True)
class NotificationEndpoint:
    id: str
    tenant_id: str
    url: str
    events: tuple[NotificationType, ...]
    description: str | None
    created_at: datetime
    health: EndpointHealth
    secret: str = field(repr=False)
    """The signing key; never in a listing, a log line or a repr."""


@dataclass(frozen=True)
class NotificationDelivery:
    """One notification's delivery to one endpoint, as the tenant sees it."""

    id: str
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
