"""The dispatcher's own metrics."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

MESSAGES_DISPATCHED = Counter(
    "herald_messages_dispatched_total",
    "Messages created and published to their first send topic by the dispatcher.",
)
MESSAGES_DEFERRED = Counter(
    "herald_messages_deferred_total",
    "Messages created without a sender account because none had room in its caps.",
)
MESSAGES_SUPPRESSED = Counter(
    "herald_fan_out_suppressed_total",
    "Contacts the fan-out made no message for: their number is on the tenant's suppression list.",
)
MESSAGES_RELEASED = Counter(
    "herald_deferred_messages_released_total",
    "Deferred messages given a sender account and published once a cap window opened.",
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
RETRY_WAITS = Counter(
    "herald_retry_relay_waits_total",
    "Times the retry relay paused a delay-topic partition until its next record is due, "
    "by delay topic.",
    ["topic"],
)
DEAD_LETTERS_RECORDED = Counter(
    "herald_dead_letters_recorded_total",
    "Dead letters stored in MongoDB by the recorder (a redelivered one is not counted again).",
)
