"""Webhook notifications of campaign events to tenants: the pure rules.

A tenant registers endpoints (URL, events, a signing secret generated for it). The consumer of
``campaign.events`` turns each notifiable event (a campaign completed, failed, or paused by the
system) into one delivery per matching endpoint, idempotently. The delivery worker, a background
task of every campaign replica, claims due deliveries by compare-and-set, POSTs the signed JSON
body, and retries failures with exponential back-off; each attempt updates the delivery and the
endpoint's health.

Here: which events notify and the body sent (:mod:`.payloads`), signing (:mod:`.signing`), the
back-off (:mod:`.backoff`), what an attempt leads to (:mod:`.attempts`), what a tenant sees
(:mod:`.endpoints`). The operations: :mod:`herald_campaign.service_layer.notifications`; the
stores and the worker: :mod:`herald_campaign.adapters`; the consumer:
:mod:`herald_campaign.entrypoints.notifications_consumer`.
"""
