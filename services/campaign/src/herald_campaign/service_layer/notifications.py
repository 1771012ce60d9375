"""The operations on notification endpoints (the REST API's) and the queueing of an event's
notifications (the ``campaign.events`` consumer's)."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from prometheus_client import Counter

from herald_campaign.domain.notifications.endpoints import (
    NotificationDelivery,
    NotificationEndpoint,
)
from herald_campaign.domain.notifications.payloads import (
    Notification,
    NotificationType,
    delivery_id,
    notification_body,
    notification_of,
    ping_notification,
)
from herald_campaign.domain.notifications.signing import new_signing_secret
from herald_campaign.service_layer.errors import InvalidField, OperationRefused
from herald_campaign.service_layer.ports import NotificationDeliveries, NotificationEndpoints
from herald_core.contracts.common import utc_now
from herald_core.contracts.events import AnyCampaignEvent
from herald_infra.outbound.public_addresses import AddressRefused, OutboundAllow, check_public_url
from herald_infra.runtime.logging import get_logger

MAX_ENDPOINTS_PER_TENANT = 25

NOTIFICATIONS_QUEUED = Counter(
    "herald_notifications_queued_total",
    "Notification deliveries queued, by event type (one per subscribed endpoint).",
    ["type"],
)

log = get_logger(__name__)


class TooManyEndpoints(OperationRefused):
    reason = "too-many-endpoints"


@dataclass(frozen=True)
class EndpointDraft:
    url: str
    events: tuple[NotificationType, ...]
    description: str | None = None


class NotificationService:
    """Endpoints of a tenant, and the deliveries queued for the worker."""

    def __init__(
        self,
        endpoints: NotificationEndpoints,
        deliveries: NotificationDeliveries,
        *,
        on_queued: Callable[[], None] = lambda: None,
        clock: Callable[[], datetime] = utc_now,
        max_endpoints: int = MAX_ENDPOINTS_PER_TENANT,
        outbound_allow: OutboundAllow | None = None,
    ) -> None:
        """``outbound_allow``: the non-public addresses an endpoint may be at all the same
        (HERALD_OUTBOUND_ALLOW; None: none)."""
        self._outbound_allow = outbound_allow or OutboundAllow()
        self._endpoints = endpoints
        self._deliveries = deliveries
        self._on_queued = on_queued
        self._clock = clock
        self._max_endpoints = max_endpoints

    async def register_endpoint(self, tenant_id: str, draft: EndpointDraft) -> NotificationEndpoint:
        """A new endpoint with a fresh signing secret (the caller shows it once); InvalidField
        naming ``url`` when it points at an address Herald may not fetch (loopback, a private
        network, the metadata address, a host that does not resolve)."""
        try:
            await check_public_url(draft.url, self._outbound_allow)
        except AddressRefused as refused:
            raise InvalidField("url", str(refused)) from None
        if await self._endpoints.count(tenant_id) >= self._max_endpoints:
            raise TooManyEndpoints(
                f"a tenant has at most {self._max_endpoints} notification endpoints; "
                "delete one first"
            )
        endpoint = await self._endpoints.insert(
            endpoint_id=f"ne_{uuid.uuid4().hex[:24]}",
            tenant_id=tenant_id,
            url=draft.url,
            events=draft.events,
            description=draft.description,
            secret=new_signing_secret(),
            created_at=self._clock(),
        )
        log.info("notification endpoint registered", endpoint_id=endpoint.id, tenant_id=tenant_id)
        return endpoint

    async def list_endpoints(self, tenant_id: str) -> list[NotificationEndpoint]:
        return await self._endpoints.of_tenant(tenant_id)

    async def get_endpoint(self, tenant_id: str, endpoint_id: str) -> NotificationEndpoint | None:
        return await self._endpoints.get(tenant_id, endpoint_id)

    async def delete_endpoint(self, tenant_id: str, endpoint_id: str) -> bool:
        """Delete the endpoint and its deliveries (queued ones are never sent); False when the
        tenant has no such endpoint."""
        if not await self._endpoints.delete(tenant_id, endpoint_id):
            return False
        dropped = await self._deliveries.drop_endpoint(endpoint_id)
        log.info("notification endpoint deleted", endpoint_id=endpoint_id, dropped=dropped)
        return True

    async def send_test(self, tenant_id: str, endpoint_id: str) -> str | None:
        """Queue a ``ping`` to the endpoint; its delivery id, or None without such endpoint."""
        endpoint = await self._endpoints.get(tenant_id, endpoint_id)
        if endpoint is None:
            return None
        now = self._clock()
        ping = ping_notification(tenant_id, endpoint.id, f"ping_{uuid.uuid4().hex}", now)
        queued = await self._queue(ping, [endpoint], now)
        return queued[0] if queued else None

    async def deliveries_of(
        self, tenant_id: str, endpoint_id: str, limit: int
    ) -> list[NotificationDelivery] | None:
        """The endpoint's latest deliveries, newest first; None without such endpoint."""
        if await self._endpoints.get(tenant_id, endpoint_id) is None:
            return None
        return await self._deliveries.recent(tenant_id, endpoint_id, limit)

    async def notify(self, event: AnyCampaignEvent) -> int:
        """Queue the event's notification for each of its tenant's endpoints subscribed to it;
        once per event id and endpoint, however often the event arrives. Returns how many
        deliveries were new."""
        notification = notification_of(event)
        if notification is None:
            return 0
        kind = NotificationType(notification.type)
        endpoints = await self._endpoints.subscribed(
            notification.tenant_id, kind, notification.occurred_at
        )
        if not endpoints:
            return 0
        new = await self._queue(notification, endpoints, self._clock())
        log.info(
            "notifications queued",
            type=notification.type,
            campaign_id=notification.campaign_id,
            event_id=notification.event_id,
            endpoints=len(endpoints),
            new=len(new),
        )
        return len(new)

    async def _queue(
        self, notification: Notification, endpoints: list[NotificationEndpoint], at: datetime
    ) -> list[str]:
        """Queue one delivery per endpoint; the ids of the new ones."""
        planned = []
        for endpoint in endpoints:
            ident = delivery_id(notification.event_id, endpoint.id)
            planned.append((ident, endpoint.id, notification_body(notification, ident)))
        new = await self._deliveries.queue(notification, planned, at)
        if new:
            NOTIFICATIONS_QUEUED.labels(type=notification.type).inc(len(new))
            self._on_queued()
        return new
