"""The dispatcher's own metrics."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

MESSAGES_DISPATCHED = Counter(
    "herald_messages_dispatched_total",
    "Messages created and published to message.send.primary by the dispatcher.",
)
FAN_OUTS = Counter(
    "herald_campaign_fan_outs_total",
    "Launch events handled by the dispatcher (a redelivered launch counts again).",
)
FAN_OUT_DURATION = Histogram(
    "herald_campaign_fan_out_duration_seconds",
    "Time from a launch event to the last of its messages queued.",
    buckets=(0.1, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300),
)
