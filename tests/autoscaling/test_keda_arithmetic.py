"""KEDA's and the HPA's replica arithmetic (tests/autoscaling/keda_arithmetic.py) on the cases
their documentation spells out."""

from __future__ import annotations

import pytest

from tests.autoscaling.keda_arithmetic import (
    KafkaTrigger,
    PrometheusTrigger,
    ReplicaBounds,
    desired_replicas,
    replay_kafka,
    replay_prometheus,
    stabilized,
)

BOUNDS = ReplicaBounds(min_replicas=1, max_replicas=48, scale_down_window_seconds=300)


@pytest.mark.parametrize(
    ("value", "replicas"),
    [(0, 0), (1, 1), (100, 1), (100.5, 2), (250, 3), (4_000, 40)],
)
def test_a_prometheus_trigger_asks_a_replica_per_threshold_rounded_up(
    value: float, replicas: int
) -> None:
    assert PrometheusTrigger(threshold=100).replicas(value) == replicas


def test_prometheus_metadata_is_read_as_keda_reads_it() -> None:
    trigger = PrometheusTrigger.from_metadata(
        {"serverAddress": "http://p:9090", "query": "q", "threshold": "100.5"}
    )
    assert trigger == PrometheusTrigger(threshold=100.5, activation_threshold=0)
    assert not trigger.is_active(0) and trigger.is_active(0.1)


@pytest.mark.parametrize(
    ("lag", "replicas"),
    [(0, 0), (500, 1), (501, 2), (20_000, 40), (24_000, 48), (1_000_000, 48)],
)
def test_a_kafka_trigger_asks_a_replica_per_lag_threshold_within_the_partitions(
    lag: float, replicas: int
) -> None:
    assert KafkaTrigger(lag_threshold=500, partitions=48).replicas(lag) == replicas


def test_idle_consumers_allowed_lift_the_partition_cap() -> None:
    trigger = KafkaTrigger.from_metadata(
        {"lagThreshold": "500", "allowIdleConsumers": "true"}, partitions=48
    )
    assert trigger.replicas(1_000_000) == 2_000


def test_kafka_metadata_defaults_are_keda_defaults() -> None:
    trigger = KafkaTrigger.from_metadata({}, partitions=3)
    assert trigger == KafkaTrigger(lag_threshold=10, partitions=3)


def test_the_bounds_hold_and_the_highest_trigger_wins() -> None:
    assert desired_replicas([(True, 0)], BOUNDS) == 1  # never below one
    assert desired_replicas([(True, 3), (True, 7)], BOUNDS) == 7
    assert desired_replicas([(True, 500)], BOUNDS) == 48


def test_activation_only_decides_between_zero_and_some() -> None:
    to_zero = ReplicaBounds(min_replicas=0, max_replicas=10)
    assert desired_replicas([(False, 3)], to_zero) == 0
    assert desired_replicas([(True, 3)], to_zero) == 3
    # Scaled to one at least anyway: the HPA goes by the metric, active or not.
    assert desired_replicas([(False, 3)], BOUNDS) == 3
    below_activation = PrometheusTrigger(threshold=10, activation_threshold=50)
    assert replay_prometheus([(0, 40)], below_activation, to_zero) == [0]
    assert replay_prometheus([(0, 40)], below_activation, BOUNDS) == [4]


def test_scale_up_is_immediate_and_scale_down_waits_out_the_window() -> None:
    bounds = ReplicaBounds(min_replicas=1, max_replicas=48, scale_down_window_seconds=60)
    desired = [(0.0, 1), (15.0, 9), (30.0, 2), (75.0, 2), (90.0, 1)]
    assert stabilized(desired, bounds) == [1, 9, 9, 9, 2]


def test_replays_turn_samples_into_replicas() -> None:
    trigger = PrometheusTrigger(threshold=100)
    assert replay_prometheus([(0, 0), (15, 350), (30, 20)], trigger, BOUNDS) == [1, 4, 4]
    lag = KafkaTrigger(lag_threshold=500, partitions=48)
    assert replay_kafka([(0, 19_500), (15, 19_000)], lag, BOUNDS) == [39, 39]
