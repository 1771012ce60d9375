"""Which campaign events tenants are notified of, and the exact JSON body they receive.

Body (compact JSON, ASCII)::

    {"id": "<delivery id>", "type": "campaign.completed", "occurredAt": "2026-05-20T10:00:00.000Z",
     "tenantId": "...", "campaignId": "...", "data": {"run": 1, "counts": {...}}}

``data`` holds the event's own fields in camelCase (completed and failed: ``run``, ``counts``,
failed also ``reason``; paused: ``by``, ``reason``). The body of a delivery is made once and
sent byte for byte on every attempt, so its signature and ``id`` stay the same.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from pydantic.alias_generators import to_camel

from herald_core.contracts.events import (
    AnyCampaignEvent,
    CampaignCompleted,
    CampaignFailed,
    CampaignPaused,
)


class NotificationType(StrEnum):
    """The campaign events an endpoint can subscribe to."""

    CAMPAIGN_COMPLETED = "campaign.completed"
    CAMPAIGN_FAILED = "campaign.failed"
    CAMPAIGN_PAUSED = "campaign.paused"
    """Paused by the system (too many failures); a user's own pause is not notified."""


PING = "ping"
"""The type of the test notification ``POST /api/notification-endpoints/{id}/test`` sends."""

# Fields every event has; the body carries them at its top level, not in ``data``.
_ENVELOPE = frozenset({"type", "version", "event_id", "occurred_at", "tenant_id", "campaign_id"})


@dataclass(frozen=True)
class Notification:
    """What one event tells the tenant's endpoints."""

    type: str
    event_id: str
    tenant_id: str
    occurred_at: datetime
    campaign_id: str | None
    data: dict[str, Any] = field(default_factory=dict)


def notification_type_of(event: AnyCampaignEvent) -> NotificationType | None:
    """The notification an event makes, or None when tenants are not told of it."""
    if isinstance(event, CampaignCompleted):
        return NotificationType.CAMPAIGN_COMPLETED
    if isinstance(event, CampaignFailed):
        return NotificationType.CAMPAIGN_FAILED
    if isinstance(event, CampaignPaused) and event.by == "system":
        return NotificationType.CAMPAIGN_PAUSED
    return None


def notification_of(event: AnyCampaignEvent) -> Notification | None:
    """The notification of a notifiable event; None for every other event."""
    kind = notification_type_of(event)
    if kind is None:
        return None
    own_fields = event.model_dump(mode="json", exclude=set(_ENVELOPE))
    return Notification(
        type=kind.value,
        event_id=event.event_id,
        tenant_id=event.tenant_id,
        occurred_at=event.occurred_at,
        campaign_id=event.campaign_id,
        data={to_camel(name): value for name, value in own_fields.items()},
    )


def ping_notification(tenant_id: str, endpoint_id: str, ping_id: str, at: datetime) -> Notification:
    """A test notification for one endpoint; ``ping_id`` makes each request its own."""
    return Notification(
        type=PING,
        event_id=ping_id,
        tenant_id=tenant_id,
        occurred_at=at,
        campaign_id=None,
        data={"endpointId": endpoint_id, "message": "Test notification from Herald"},
    )


def delivery_id(event_id: str, endpoint_id: str) -> str:
    """The id of one event's delivery to one endpoint: the same for a redelivered event, so it
    is queued once."""
    digest = hashlib.sha256(f"{event_id}|{endpoint_id}".encode()).hexdigest()
    return f"ntd_{digest[:32]}"


def timestamp(at: datetime) -> str:
    """ISO 8601 in UTC with milliseconds and ``Z``."""
    utc = at.astimezone(UTC) if at.tzinfo else at.replace(tzinfo=UTC)
    return utc.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def notification_body(notification: Notification, delivery: str) -> bytes:
    """The exact bytes POSTed (and signed) for ``notification``'s delivery ``delivery``."""
    document = {
        "id": delivery,
        "type": notification.type,
        "occurredAt": timestamp(notification.occurred_at),
        "tenantId": notification.tenant_id,
        "campaignId": notification.campaign_id,
        "data": notification.data,
    }
    return json.dumps(document, separators=(",", ":"), ensure_ascii=True).encode("ascii")
