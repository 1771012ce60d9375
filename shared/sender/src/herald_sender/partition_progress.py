"""Which offsets of one partition a sender has finished, and how far it may commit. Pure.

A sender works on the records of one partition concurrently (one lane per sender account), so
they finish out of order. The partition's commit point is its lowest unfinished offset: a
restart resumes there, so nothing unfinished is skipped, and what was finished after it is
consumed again and skipped by its claim.
"""

from __future__ import annotations

import heapq


class PartitionProgress:
    def __init__(self) -> None:
        self._unfinished: set[int] = set()
        self._heap: list[int] = []
        self._next_offset: int | None = None
        """One past the highest offset received."""

    def received(self, offset: int) -> None:
        self._unfinished.add(offset)
        heapq.heappush(self._heap, offset)
        if self._next_offset is None or offset >= self._next_offset:
            self._next_offset = offset + 1

    def finished(self, offset: int) -> None:
        self._unfinished.discard(offset)
        while self._heap and self._heap[0] not in self._unfinished:
            heapq.heappop(self._heap)

    @property
    def in_flight(self) -> int:
        """Records received and not finished."""
        return len(self._unfinished)

    def commit_point(self) -> int | None:
        """The offset to commit (the next one a restart reads): the lowest unfinished offset,
        or one past the highest received when all are finished; None before any record."""
        if self._heap:
            return self._heap[0]
        return self._next_offset
