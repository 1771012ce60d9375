"""The scheduler's Prometheus metrics (``herald_`` prefix, base units)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

from herald_core.schedules import SYSTEM_KINDS

FIRING_LATENESS = Histogram(
    "herald_schedule_firing_lateness_seconds",
    "How long after its scheduled time (or the run request) a schedule fired, by kind.",
    ["kind"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300, 3600),
)
FIRINGS = Counter(
    "herald_schedule_firings_total",
    "Schedule firings, by kind (campaign-send, redrive, sweep) and outcome (done, failed, "
    "duplicate: another replica fired it, resumed: finished after a replica died).",
    ["kind", "outcome"],
)
# The system jobs' outcomes exist from start-up at 0, so that the first failure counts: a
# series that appears already at 1 shows no increase() to an alert (HeraldSweepFailing).
for _kind in SYSTEM_KINDS:
    for _outcome in ("done", "failed"):
        FIRINGS.labels(kind=_kind.value, outcome=_outcome)
LEADER = Gauge(
    "herald_scheduler_leader",
    "1 on the scheduler replica that holds the lease (the only one that fires), else 0.",
)
SWEEP_DURATION = Histogram(
    "herald_sweep_duration_seconds",
    "Time of one sweep (every step).",
    buckets=(0.01, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)
SWEEP_ACTIONS = Counter(
    "herald_sweep_actions_total",
    "What the sweep did, by action: republished (pending messages whose publish was lost), "
    "claims-failed / claims-resent (expired claims), expired, cancelled (unsent messages of "
    "cancelled campaigns), counters-reconciled (campaigns whose counters were off), completed, "
    "failed (runs that sent nothing), auto-paused.",
    ["action"],
)
REDRIVEN = Counter(
    "herald_redriven_messages_total",
    "Retryable failed messages the scheduled redrive gave a fresh attempt plan.",
)
