"""The scheduler's metrics an alert reads exist before anything happened."""

from __future__ import annotations

from prometheus_client import REGISTRY

from herald_scheduler import metrics


def test_the_system_jobs_outcomes_exist_from_start_up() -> None:
    # HeraldSweepFailing takes increase() of the failed sweeps: a series that appeared only at
    # its first failure, already at 1, would hide that failure from it.
    assert metrics.FIRINGS is not None
    for kind in ("sweep", "redrive"):
        for outcome in ("done", "failed"):
            labels = {"kind": kind, "outcome": outcome}
            value = REGISTRY.get_sample_value("herald_schedule_firings_total", labels)
            assert value is not None, labels
