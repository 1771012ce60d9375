"""Prometheus metrics shared by the services (``herald_`` prefix, base units)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram, disable_created_metrics

# In the text format Prometheus scrapes, each counter and histogram series would come with a
# second gauge, ``<name>_created`` (its creation time): nothing reads it, and it doubles the
# series. Process-wide, read at each scrape; every service imports this module.
disable_created_metrics()  # type: ignore[no-untyped-call]

DEAD_LETTERED = Counter(
    "herald_dead_letters_total",
    "Records sent to message.dlt, by original topic and reason.",
    ["topic", "reason"],
)
HANDLER_FAILURES = Counter(
    "herald_handler_failures_total",
    "Failed tries of a consumer's handler, by topic (or scheduler job) and what followed: "
    "retried (a bounded number of times), outage (retried until MongoDB or Kafka are back), "
    "given-up (dead-lettered with the error, and the consumer moved on).",
    ["topic", "outcome"],
)
MESSAGE_TRANSITIONS = Counter(
    "herald_message_transitions_total",
    "Message status changes that applied, by source and target status.",
    ["source", "target"],
)
SEND_ATTEMPTS = Counter(
    "herald_send_attempts_total",
    "Gateway send attempts, by delivery method (baileys, web-js) and outcome.",
    ["delivery_method", "outcome"],
)
SEND_LATENCY = Histogram(
    "herald_send_latency_seconds",
    "Time of one gateway send call, by delivery method (baileys, web-js).",
    ["delivery_method"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
DUPLICATE_DELIVERIES = Counter(
    "herald_duplicate_deliveries_total",
    "Send events skipped because the message was already claimed or done, by delivery method.",
    ["delivery_method"],
)
COMMANDS = Counter(
    "herald_commands_total",
    "campaign.commands records handled, by type and outcome.",
    ["type", "outcome"],
)
RETRIES = Counter(
    "herald_retries_total",
    "Attempts scheduled after a failure, by the topic they go to (a send or a delay topic).",
    ["topic"],
)
RETRIES_RELAYED = Counter(
    "herald_retries_relayed_total",
    "Delay-topic records the relay published to their send topic once due, by delay topic.",
    ["topic"],
)
CIRCUIT_STATE = Gauge(
    "herald_circuit_state",
    "Circuit breaker per sender account and route (primary, fallback): 0 closed, 1 open, "
    "2 half-open.",
    ["account", "route"],
)
EXPIRED_CLAIMS = Counter(
    "herald_expired_claims_total",
    "Claims whose lease ran out without an outcome, by how the sweep resolved them.",
    ["resolution"],
)
RECEIPTS = Counter(
    "herald_receipts_total",
    "Delivery-receipt webhooks, by gateway (waha, evolution) and outcome (applied, duplicate, "
    "stale, ignored, not-sent, unknown-message, bad-signature, invalid).",
    ["source", "outcome"],
)
INBOUND_MESSAGES = Counter(
    "herald_inbound_messages_total",
    "Messages recipients wrote to the tenants' accounts, by gateway (waha, evolution) and "
    "outcome (opted-out, already-opted-out, opted-in, help, replied, message, duplicate, "
    "ignored, unknown-sender, invalid).",
    ["source", "outcome"],
)
SENDER_LANES = Gauge(
    "herald_sender_lanes",
    "Sender accounts this sender process is working on right now (one lane each).",
)
SENDER_IN_FLIGHT = Gauge(
    "herald_sender_in_flight",
    "Send records received and not finished by this sender process.",
)
SENDER_READY_MESSAGES = Gauge(
    "herald_sender_ready_messages",
    "Send records this sender process holds that could go to their gateway now and wait only "
    "for the process: their sender account is free (no send of it in flight or waiting for its "
    "turn, its gap over), at most one per account while pacing is on. Work that more sender "
    "pods could take; KEDA scales the senders on its sum. By route (primary, fallback).",
    ["route"],
)
SENDER_PAUSED_PARTITIONS = Gauge(
    "herald_sender_paused_partitions",
    "Partitions this sender process stopped fetching because their lanes hold too much.",
)
PACE_WAIT = Histogram(
    "herald_pace_wait_seconds",
    "Time a send waited for its sender account's next slot.",
    buckets=(0.001, 0.01, 0.1, 0.5, 1, 2.5, 5, 10, 30, 60),
)
PACE_LATENESS = Histogram(
    "herald_pace_lateness_seconds",
    "How long after its account's reserved slot a send took it.",
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 1),
)
PACE_GAP = Histogram(
    "herald_pace_gap_seconds",
    "The random gap drawn for a send: how long its account waits after the gateway answered "
    "before its next send, by pacing profile (fast, balanced, safe, custom).",
    ["profile"],
    buckets=(0.1, 0.5, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12.5, 15, 20, 25, 30, 45, 60),
)
PACE_LEASE_EVENTS = Counter(
    "herald_pace_lease_events_total",
    "Sender account leases this sender process took, extended, lost (another pod took the "
    "account), handed over (another pod or route wanted it) and gave back (idle or stopping).",
    ["event"],
)
SESSION_STATUS = Gauge(
    "herald_session_status",
    "Gateway session health per sender account and route (primary, fallback) as the sender's "
    "last check found it: 1 for its status (STOPPED, STARTING, SCAN_QR_CODE, WORKING, FAILED), "
    "0 for the others.",
    ["account", "route", "status"],
)
CAMPAIGN_GATE_STOPS = Counter(
    "herald_sender_campaign_stops_total",
    "Claimed messages a sender did not send because of their campaign, validity window or "
    "recipient's opt-out, by "
    "delivery method and outcome (held: campaign paused, handed back; cancelled: campaign "
    "cancelled; expired: validity window over; suppressed: the recipient opted out).",
    ["delivery_method", "outcome"],
)
NUMBER_CHECKS = Counter(
    "herald_number_checks_total",
    "Answers to 'is this number on WhatsApp' before a first send, by delivery method, where the "
    "answer came from (gateway, cache) and what it was (on-whatsapp, not-on-whatsapp).",
    ["delivery_method", "source", "result"],
)
