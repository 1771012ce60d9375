"""Webhook notifications of campaign events to tenants.

A tenant registers endpoints (URL, events, a signing secret generated for it). The consumer of
``campaign.events`` turns each notifiable event (a campaign completed, failed, or paused by the
system) into one delivery per matching endpoint, idempotently. The delivery worker, a background
task of every campaign replica, claims due deliveries by compare-and-set, POSTs the signed JSON
body, and retries failures with exponential back-off; each attempt updates the delivery and the
endpoint's health.

Pure rules: :mod:`.signing`, :mod:`.backoff`, :mod:`.payloads`, :mod:`.attempts`. I/O:
:mod:`.repository`, :mod:`.service`, :mod:`.delivery_worker`, :mod:`.consumer`; wired by
:mod:`.component`.
"""
