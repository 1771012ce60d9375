"""Prometheus metrics of webhook notifications."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

NOTIFICATION_DELIVERIES = Counter(
    "herald_notification_deliveries_total",
    "Webhook notification attempts by outcome: delivered, retrying (failed, tried again "
    "later), failed (gave up), dropped (its endpoint was deleted).",
    ["outcome"],
)
NOTIFICATION_LATENCY = Histogram(
    "herald_notification_delivery_seconds",
    "Time of one webhook notification request, answered or not.",
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
NOTIFICATIONS_QUEUED = Counter(
    "herald_notifications_queued_total",
    "Notification deliveries queued, by event type (one per subscribed endpoint).",
    ["type"],
)
