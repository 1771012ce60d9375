"""When a delay-topic record is due, and which partitions wait for one that is not. Pure."""

from __future__ import annotations

from collections.abc import Hashable, Iterable
from typing import Generic, TypeVar

Partition = TypeVar("Partition", bound=Hashable)


def is_due(due_ms: int, now_ms: int) -> bool:
    return due_ms <= now_ms


def seconds_until(due_ms: int, now_ms: int) -> float:
    """How long a record that is not due yet still waits (0 once due)."""
    return max(due_ms - now_ms, 0) / 1000


class WaitingPartitions(Generic[Partition]):
    """Partitions rewound to a record that is not due yet, by the offset of that record.

    Until that record comes back, the consumer must hand out nothing behind it; should it do
    so anyway, the relay rewinds the partition again instead of handling the record.
    """

    def __init__(self) -> None:
        self._offsets: dict[Partition, int] = {}

    def wait_at(self, partition: Partition, offset: int) -> None:
        self._offsets[partition] = offset

    def rewind_offset(self, partition: Partition, offset: int) -> int | None:
        """Where to rewind ``partition`` when the record at ``offset`` arrives: the offset it
        waits at when the record is behind that one, else None (the record may be handled)."""
        waiting = self._offsets.get(partition)
        return waiting if waiting is not None and offset > waiting else None

    def stop_waiting(self, partition: Partition) -> None:
        """The awaited record (or an earlier one, after a rebalance) came back."""
        self._offsets.pop(partition, None)

    def forget(self, partitions: Iterable[Partition]) -> None:
        """Partitions taken away by a rebalance: their next owner starts from the commit."""
        for partition in partitions:
            self._offsets.pop(partition, None)

    def __contains__(self, partition: object) -> bool:
        return partition in self._offsets
