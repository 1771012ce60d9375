"""The replica counts KEDA and the Kubernetes HPA would ask for, from a trigger's metric, so that
a metric measured in a test can be replayed through a ScaledObject without a cluster. Pure.

The arithmetic is public (KEDA's scaler pages and its kafka scaler's source, the HPA's
algorithm in the Kubernetes docs):

- a ``prometheus`` trigger (metric type ``AverageValue``, KEDA's default) asks for
  ``ceil(value / threshold)`` replicas: the query's value is the deployment's total, and each
  replica should carry ``threshold`` of it;
- a ``kafka`` trigger asks for ``ceil(total lag / lagThreshold)``; unless ``allowIdleConsumers``,
  the lag is first capped at ``partitions x lagThreshold``, so it never asks for more replicas
  than the topic has partitions;
- a trigger is active while its value is above its activation threshold (``activationThreshold``,
  ``activationLagThreshold``); activation decides only between zero replicas and some: with
  ``minReplicaCount`` 0 and no trigger active KEDA scales to zero; otherwise the HPA takes the
  highest count any trigger asks for, within ``[max(1, minReplicaCount), maxReplicaCount]``;
- the HPA scales up at once, and down only to the highest count it computed over the last
  ``stabilizationWindowSeconds`` of its scale-down behaviour.

Left out: the HPA's 10% tolerance around the current count (it only delays a change smaller than
that) and the rate limits of its scaling policies (how fast, not how far).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class PrometheusTrigger:
    threshold: float
    activation_threshold: float = 0.0

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str]) -> PrometheusTrigger:
        """From a ScaledObject's ``prometheus`` trigger metadata (strings, as KEDA takes them)."""
        return cls(
            threshold=float(metadata["threshold"]),
            activation_threshold=float(metadata.get("activationThreshold", "0")),
        )

    def is_active(self, value: float) -> bool:
        return value > self.activation_threshold

    def replicas(self, value: float) -> int:
        """What the trigger asks for, before the ScaledObject's bounds."""
        return math.ceil(max(0.0, value) / self.threshold)


@dataclass(frozen=True)
class KafkaTrigger:
    lag_threshold: float
    partitions: int
    activation_lag_threshold: float = 0.0
    allow_idle_consumers: bool = False

    @classmethod
    def from_metadata(cls, metadata: Mapping[str, str], *, partitions: int) -> KafkaTrigger:
        """From a ScaledObject's ``kafka`` trigger metadata; ``partitions``: the topic's."""
        return cls(
            lag_threshold=float(metadata.get("lagThreshold", "10")),
            partitions=partitions,
            activation_lag_threshold=float(metadata.get("activationLagThreshold", "0")),
            allow_idle_consumers=metadata.get("allowIdleConsumers", "false") == "true",
        )

    def is_active(self, lag: float) -> bool:
        return lag > self.activation_lag_threshold

    def replicas(self, lag: float) -> int:
        """What the trigger asks for, before the ScaledObject's bounds."""
        counted = max(0.0, lag)
        if not self.allow_idle_consumers:
            counted = min(counted, self.partitions * self.lag_threshold)
        return math.ceil(counted / self.lag_threshold)


@dataclass(frozen=True)
class ReplicaBounds:
    min_replicas: int
    max_replicas: int
    scale_down_window_seconds: float = 300.0

    @classmethod
    def from_scaled_object(cls, spec: Mapping[str, Any]) -> ReplicaBounds:
        """From a ScaledObject's ``spec`` (KEDA's defaults where it says nothing)."""
        behavior = (
            spec.get("advanced", {}).get("horizontalPodAutoscalerConfig", {}).get("behavior", {})
        )
        window = behavior.get("scaleDown", {}).get("stabilizationWindowSeconds", 300)
        return cls(
            min_replicas=int(spec.get("minReplicaCount", 0)),
            max_replicas=int(spec.get("maxReplicaCount", 100)),
            scale_down_window_seconds=float(window),
        )


def desired_replicas(asked: Sequence[tuple[bool, int]], bounds: ReplicaBounds) -> int:
    """The count KEDA and the HPA settle on from each trigger's (active, replicas asked)."""
    if bounds.min_replicas == 0 and not any(active for active, _ in asked):
        return 0
    highest = max(replicas for _, replicas in asked)
    return min(bounds.max_replicas, max(1, bounds.min_replicas, highest))


def stabilized(series: Sequence[tuple[float, int]], bounds: ReplicaBounds) -> list[int]:
    """The replicas over time from desired counts at times (seconds, ascending): each the
    highest desired count of the scale-down window that ends then (scale-up is immediate)."""
    result = []
    for index, (at, _) in enumerate(series):
        window = [
            count
            for when, count in series[: index + 1]
            if at - when <= bounds.scale_down_window_seconds
        ]
        result.append(max(window))
    return result


def replay_prometheus(
    samples: Sequence[tuple[float, float]], trigger: PrometheusTrigger, bounds: ReplicaBounds
) -> list[int]:
    """The replicas a ``prometheus`` trigger alone gives for (time, query value) samples."""
    desired = [
        (at, desired_replicas([(trigger.is_active(value), trigger.replicas(value))], bounds))
        for at, value in samples
    ]
    return stabilized(desired, bounds)


def replay_kafka(
    samples: Sequence[tuple[float, float]], trigger: KafkaTrigger, bounds: ReplicaBounds
) -> list[int]:
    """The replicas a ``kafka`` trigger alone gives for (time, total lag) samples."""
    desired = [
        (at, desired_replicas([(trigger.is_active(lag), trigger.replicas(lag))], bounds))
        for at, lag in samples
    ]
    return stabilized(desired, bounds)
