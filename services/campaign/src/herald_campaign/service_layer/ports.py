"""What the service layer needs from the world beyond MongoDB, as small interfaces: Kafka
(events, send events, consumer lag), the accounts' gateways, and the stores of notification
endpoints and deliveries. :mod:`herald_campaign.adapters` implements them and
:mod:`herald_campaign.bootstrap` plugs the implementations in; tests may plug in fakes.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol, TypeVar

from herald_campaign.domain.notifications.endpoints import (
    NotificationDelivery,
    NotificationEndpoint,
)
from herald_campaign.domain.notifications.payloads import Notification, NotificationType
from herald_core.accounts.model import GatewaySession
from herald_core.attempt_plan import AttemptPlan
from herald_core.contracts.events import AnyContactEvent, MessageStatusChanged, SendMessage
from herald_gateways.interface import Gateway
from herald_infra.mongo.client import Document

Event_contra = TypeVar("Event_contra", contravariant=True)


class CampaignEventPublisher(Protocol[Event_contra]):
    """Announces what happened to a campaign on ``campaign.events``."""

    async def publish(self, event: Event_contra) -> None:
        """Return once the event is durable; raise :class:`EventBusUnavailable` otherwise."""


class StatusEventPublisher(Protocol):
    """Announces a message's status change on ``message.status``: a notification, not state
    (the change is in MongoDB already), so a failure is the publisher's to log, not raised."""

    async def publish(self, event: MessageStatusChanged) -> None: ...


class ContactEventPublisher(Protocol):
    """Announces opt-outs, opt-ins and replies on ``contact.events``: notices of changes already
    in MongoDB, so a failure is the publisher's to log, not raised."""

    async def publish(self, event: AnyContactEvent) -> None: ...


class MessageQueue(Protocol):
    """Puts messages on the send topics and marks them queued. Each method raises
    :class:`EventBusUnavailable` when Kafka does not take what it publishes."""

    async def queue_pending(self, campaign_id: str, *, batch_size: int) -> int:
        """Publish the campaign's ``pending`` messages and mark them queued; how many."""

    async def redrive_failed(self, selector: Document, *, topic: str, batch_size: int) -> int:
        """Give the retryable failed messages ``selector`` finds a fresh attempt plan, their
        send events on ``topic``; how many."""

    async def republish_waiting(
        self, campaign_id: str, plan: AttemptPlan, *, batch_size: int
    ) -> int:
        """Publish the messages of a resumed campaign that wait, each on the topic of the
        attempt it is at; how many."""


class RedrivePublisher(Protocol):
    """Publishes what a dead-letter redrive sends again. Raises :class:`EventBusUnavailable`
    when Kafka does not take it."""

    async def publish_send_events(self, events: Sequence[SendMessage], topic: str) -> None: ...

    async def republish_record(
        self, payload: bytes, *, topic: str, key: bytes | None, headers: dict[str, str]
    ) -> None:
        """Publish a poison record's original bytes and key again on ``topic``."""


@dataclass(frozen=True)
class WatchedConsumer:
    topic: str
    group: str


@dataclass(frozen=True)
class ConsumerLag:
    """One group on one topic, summed over the topic's partitions."""

    topic: str
    group: str
    lag: int
    end_offset: int
    committed: int


class LagReader(Protocol):
    """How far consumer groups are behind their topics."""

    async def read(self, watched: Sequence[WatchedConsumer]) -> list[ConsumerLag]:
        """Raise :class:`EventBusUnavailable` when Kafka does not answer."""
        ...


class GatewayFactory(Protocol):
    """The gateway of an account's session, from its settings: adapter name (``waha``,
    ``evolution``), base URL, API key and request timeout. Raises ValueError for settings no
    client can be made of: :class:`UnusableGatewaySettings` naming the one (a base URL no
    request can go to, an API key no header can carry), or any ValueError for an adapter it
    does not know."""

    def __call__(
        self, adapter: str, base_url: str, api_key: str | None, timeout_seconds: float
    ) -> Gateway: ...


class UnusableGatewaySettings(ValueError):
    """A session whose gateway cannot be asked anything: no client can be made of its settings
    (stored before the API refused such settings). ``setting`` names the session's setting as
    the API does (``baseUrl``, ``apiKey``, ``gateway``); ``detail`` says why, without the key."""

    def __init__(self, setting: str, detail: str) -> None:
        super().__init__(f"{setting}: {detail}")
        self.setting = setting
        self.detail = detail


def session_gateway(
    build: GatewayFactory, session: GatewaySession, timeout_seconds: float
) -> Gateway:
    """The gateway of one account session, built from its settings (close it after use);
    :class:`UnusableGatewaySettings` when none can be."""
    key = session.api_key.get_secret_value() if session.api_key is not None else None
    try:
        return build(session.gateway.value, session.base_url, key, timeout_seconds)
    except UnusableGatewaySettings:
        raise
    except ValueError as error:  # the factory knows no such adapter
        raise UnusableGatewaySettings("gateway", str(error)) from None


class NotificationEndpoints(Protocol):
    """The tenants' notification endpoints (their URLs, events, signing secrets, health)."""

    async def count(self, tenant_id: str) -> int: ...

    async def insert(
        self,
        *,
        endpoint_id: str,
        tenant_id: str,
        url: str,
        events: tuple[NotificationType, ...],
        description: str | None,
        secret: str,
        created_at: datetime,
    ) -> NotificationEndpoint: ...

    async def of_tenant(self, tenant_id: str) -> list[NotificationEndpoint]: ...

    async def get(self, tenant_id: str, endpoint_id: str) -> NotificationEndpoint | None: ...

    async def delete(self, tenant_id: str, endpoint_id: str) -> bool: ...

    async def subscribed(
        self, tenant_id: str, kind: NotificationType, registered_by: datetime
    ) -> list[NotificationEndpoint]:
        """The tenant's endpoints subscribed to ``kind`` that existed at ``registered_by``."""
        ...


class NotificationDeliveries(Protocol):
    """Each notification's delivery to each endpoint."""

    async def queue(
        self, notification: Notification, deliveries: list[tuple[str, str, bytes]], at: datetime
    ) -> list[str]:
        """Queue ``(delivery id, endpoint id, body)`` deliveries unless queued already;
        returns the ids of the new ones."""
        ...

    async def drop_endpoint(self, endpoint_id: str) -> int:
        """Remove every delivery of a deleted endpoint; returns how many."""
        ...

    async def recent(
        self, tenant_id: str, endpoint_id: str, limit: int
    ) -> list[NotificationDelivery]: ...
