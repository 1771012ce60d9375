"""Wiring of webhook notifications into the campaign service's runtime."""

from __future__ import annotations

from herald_campaign.notifications.backoff import RetrySchedule
from herald_campaign.notifications.consumer import subscribe_to_campaign_events
from herald_campaign.notifications.delivery_worker import DeliveryWorker
from herald_campaign.notifications.repository import DeliveryRepository, EndpointRepository
from herald_campaign.notifications.service import NotificationService
from herald_infra.runtime.service_app import ServiceRuntime
from herald_infra.runtime.settings import HeraldSettings


def wire_notifications(runtime: ServiceRuntime, settings: HeraldSettings) -> NotificationService:
    """Subscribe the ``campaign.events`` consumer, run the delivery worker with the service,
    and return the endpoints' operations for the REST API."""
    endpoints = EndpointRepository(runtime.db)
    deliveries = DeliveryRepository(runtime.db)
    worker = DeliveryWorker(
        endpoints,
        deliveries,
        schedule=RetrySchedule(
            first_delay_seconds=settings.notification_backoff_seconds,
            max_attempts=settings.notification_max_attempts,
        ),
        timeout_seconds=settings.notification_timeout_seconds,
    )
    service = NotificationService(endpoints, deliveries, on_queued=worker.wake)
    subscribe_to_campaign_events(runtime.broker, service)
    runtime.on_start.append(worker.start)
    runtime.on_stop.append(worker.stop)
    return service
