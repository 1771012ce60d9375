"""A Kafka consumer that works on each sender account's records in a lane of its own.

Send topics are keyed by sender account, so one partition holds many accounts. Each account
waits its anti-ban gap between two sends; handling a partition's records one after another would
make every account of the partition wait for the slowest. Instead:

- each record goes to the lane of its key (the account); a lane handles its records in order,
  one at a time, and lanes run concurrently; a lane lives while it has records;
- offsets are committed per partition only up to the lowest unfinished record
  (:class:`PartitionProgress`), so a crash or a rebalance never skips unfinished work: what
  was finished after it is consumed again and skipped by its claim;
- a partition whose lanes hold too many unfinished records is paused until they drain, so
  memory stays bounded whatever the lag;
- a record whose handling fails is retried in its lane after a back-off, holding up only its
  account: for as long as MongoDB or Kafka are away (an outage), or else up to
  ``LaneLimits.attempts`` tries in all; then it is given up: handed to the consumer's
  ``give_up`` (the sender fails its message as ``internal-error`` and dead-letters it) and
  finished, so that the partition's commit point moves on past it;
- on a rebalance, the revoked partitions' progress is committed and the records their lanes did
  not start are dropped (the new owner reads them from the commit point);
- on stop (SIGTERM), nothing new is fetched or started; each lane finishes the record it is on,
  or its handler gives the record back (:class:`RecordHandedBack`) and it stays uncommitted for
  the partition's next owner; then what finished is committed and the consumer leaves its group;
- :meth:`LaneConsumer.ready_messages` says how many of the records held could start now, as the
  consumer's ``ready`` counts them per lane (the sender: those whose account is free now): the
  work that more consumers could take, which lag is not.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from aiokafka import AIOKafkaConsumer, ConsumerRebalanceListener, TopicPartition
from aiokafka.errors import KafkaError

from herald_infra.kafka.handler_retries import RetryPolicy, describe, is_outage
from herald_infra.runtime.logging import get_logger
from herald_infra.runtime.metrics import (
    HANDLER_FAILURES,
    SENDER_IN_FLIGHT,
    SENDER_LANES,
    SENDER_PAUSED_PARTITIONS,
)
from herald_sender.partition_progress import PartitionProgress

log = get_logger(__name__)

RecordHandler = Callable[[Any], Awaitable[None]]
RecordRecoverer = Callable[[Any, Exception], Awaitable[None]]
"""Given a record and the error it kept failing with, makes it a dead letter (the recoverer of
Spring Kafka's error handlers); returns once that is durable."""
ReadyCount = Callable[[bytes, int], int]
"""Given a lane's key and how many records it holds (the one it is on included), how many of
them could start now; called for every lane when :meth:`LaneConsumer.ready_messages` is read,
so it must be cheap and make no I/O."""


class RecordHandedBack(Exception):
    """Raised by a record handler that gave its record back unfinished because the consumer is
    stopping: the record is not finished, so its offset is not committed and the partition's
    next owner handles it."""


@dataclass(frozen=True)
class LaneLimits:
    max_in_flight: int = 4000
    """The records the lanes may hold unfinished, all partitions together: each assigned
    partition gets an even share (at least ``min_partition_share``); a partition is paused
    when its lanes hold its share, and resumed once they hold half of it. Memory stays
    bounded by this whatever the lag and whatever the partition count."""
    min_partition_share: int = 20
    commit_interval_seconds: float = 1.0
    retry_backoff_seconds: float = 0.5
    """The wait before a failed record's second try; it doubles with each further one, up to
    ``longest_backoff_seconds``."""
    longest_backoff_seconds: float = 5.0
    attempts: int = 3
    """Tries of a record whose handling fails with an error that is not an outage of MongoDB
    or Kafka (those are retried until they end); the last failure gives the record up."""
    fetch_max_records: int = 500
    drain_seconds: float = 10.0
    """On stop, how long the lanes may take to finish the records they are on; a record still
    running after that is abandoned (uncommitted, its claim left to the sweep)."""

    @property
    def retry_policy(self) -> RetryPolicy:
        return RetryPolicy(
            attempts=self.attempts,
            backoff_seconds=self.retry_backoff_seconds,
            longest_backoff_seconds=self.longest_backoff_seconds,
        )


@dataclass(frozen=True)
class _Work:
    partition: TopicPartition
    generation: int
    record: Any


class _Rebalance(ConsumerRebalanceListener):  # type: ignore[misc]
    def __init__(self, owner: LaneConsumer) -> None:
        self._owner = owner

    async def on_partitions_revoked(self, revoked: list[TopicPartition]) -> None:
        await self._owner._revoked(revoked)

    async def on_partitions_assigned(self, assigned: list[TopicPartition]) -> None:
        self._owner._assigned(assigned)


class LaneConsumer:
    def __init__(
        self,
        new_consumer: Callable[[], AIOKafkaConsumer],
        topic: str,
        handle: RecordHandler,
        limits: LaneLimits | None = None,
        *,
        give_up: RecordRecoverer | None = None,
        ready: ReadyCount | None = None,
    ) -> None:
        """``new_consumer`` builds the consumer at start (aiokafka wants a running loop); it
        must have a ``group_id`` and ``enable_auto_commit=False``. ``give_up`` dead-letters a
        record that kept failing; without one, such a record is only logged. ``ready`` counts
        the records of a lane that could start now (:meth:`ready_messages`); without one,
        none are counted."""
        self._new_consumer = new_consumer
        self._consumer: AIOKafkaConsumer | Any = None
        self._topic = topic
        self._handle = handle
        self._give_up = give_up
        self._ready = ready
        self._limits = limits or LaneLimits()
        self._retry = self._limits.retry_policy
        self._progress: dict[TopicPartition, PartitionProgress] = {}
        self._generation: dict[TopicPartition, int] = {}
        self._committed: dict[TopicPartition, int] = {}
        self._paused: set[TopicPartition] = set()
        self._lanes: dict[bytes, deque[_Work]] = {}
        self._lane_tasks: dict[bytes, asyncio.Task[None]] = {}
        self._in_hand: set[bytes] = set()
        """Lanes handling a record (popped from the lane, not finished)."""
        self._backing_off: set[bytes] = set()
        """Lanes waiting to try a failed record again."""
        self._fetching: asyncio.Task[None] | None = None
        self._stopping = False
        self._handed_back = 0

    async def start(self) -> None:
        self._consumer = self._new_consumer()
        self._consumer.subscribe([self._topic], listener=_Rebalance(self))
        await self._consumer.start()
        self._fetching = asyncio.create_task(self._fetch_loop(), name=f"lanes:{self._topic}")

    async def stop(self) -> None:
        """Stop fetching, let the lanes finish (or hand back) the record each is on, within
        ``LaneLimits.drain_seconds`` (records not started are left for the next owner), commit
        what finished, and leave the group."""
        self._stopping = True
        if self._fetching is not None:
            self._fetching.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._fetching
        in_hand = self.in_flight
        running = list(self._lane_tasks.values())
        late: set[asyncio.Task[None]] = set()
        if running:
            _, late = await asyncio.wait(running, timeout=self._limits.drain_seconds)
            for task in late:
                task.cancel()
            await asyncio.gather(*late, return_exceptions=True)
            if late:
                log.warning(
                    "records still running at the end of the drain were abandoned; the sweep "
                    "resolves their claims",
                    abandoned=len(late),
                    drain_seconds=self._limits.drain_seconds,
                )
        await self._commit()
        log.info(
            "lanes stopped",
            topic=self._topic,
            lanes_busy=len(running),
            handed_back=self._handed_back,
            abandoned=len(late),
            left_uncommitted=self.in_flight,
            unfinished_at_stop=in_hand,
        )
        await self._consumer.stop()

    # -- fetching -----------------------------------------------------------------------------

    async def _fetch_loop(self) -> None:
        last_commit = time.monotonic()
        while not self._stopping:
            try:
                batches = await self._consumer.getmany(
                    timeout_ms=200, max_records=self._limits.fetch_max_records
                )
            except Exception as error:  # the loop must outlive any failure, or lanes starve
                log.warning("fetch failed; retrying", error=repr(error))
                await asyncio.sleep(self._limits.retry_backoff_seconds)
                continue
            for partition, records in batches.items():
                self._accept(partition, records)
            self._pause_or_resume()
            if time.monotonic() - last_commit >= self._limits.commit_interval_seconds:
                await self._commit()
                last_commit = time.monotonic()

    def _accept(self, partition: TopicPartition, records: list[Any]) -> None:
        progress = self._progress.get(partition)
        if progress is None:  # revoked while the fetch was under way
            return
        generation = self._generation[partition]
        for record in records:
            progress.received(record.offset)
            key = record.key or b""
            lane = self._lanes.setdefault(key, deque())
            lane.append(_Work(partition, generation, record))
            if key not in self._lane_tasks:
                self._lane_tasks[key] = asyncio.create_task(self._run_lane(key))
        self._update_gauges()

    @property
    def partition_share(self) -> int:
        """How many unfinished records each assigned partition may hold."""
        limits = self._limits
        return max(limits.min_partition_share, limits.max_in_flight // max(1, len(self._progress)))

    def _pause_or_resume(self) -> None:
        share = self.partition_share
        for partition, progress in self._progress.items():
            if partition not in self._paused and progress.in_flight >= share:
                self._consumer.pause(partition)
                self._paused.add(partition)
            elif partition in self._paused and progress.in_flight <= share // 2:
                self._consumer.resume(partition)
                self._paused.discard(partition)
        SENDER_PAUSED_PARTITIONS.set(len(self._paused))

    # -- lanes --------------------------------------------------------------------------------

    async def _run_lane(self, key: bytes) -> None:
        lane = self._lanes[key]
        try:
            while lane and not self._stopping:
                work = lane.popleft()
                self._in_hand.add(key)
                try:
                    if self._is_current(work) and await self._handle_until_done(work):
                        self._finish(work)
                finally:
                    self._in_hand.discard(key)
        finally:
            if not lane or self._stopping:
                self._lanes.pop(key, None)
            self._lane_tasks.pop(key, None)
            if lane and not self._stopping:  # records arrived while the lane was closing
                self._lane_tasks[key] = asyncio.create_task(self._run_lane(key))
            self._update_gauges()

    def _is_current(self, work: _Work) -> bool:
        """False once the record's partition was revoked (or revoked and assigned again)."""
        return self._generation.get(work.partition) == work.generation and (
            work.partition in self._progress
        )

    async def _handle_until_done(self, work: _Work) -> bool:
        """Handle the record in this lane only, retrying an outage for as long as it lasts and
        any other error up to ``LaneLimits.attempts`` tries, then giving the record up; True
        once it is handled or given up, False when it was abandoned (stopping, or its partition
        was revoked)."""
        failures = outages = 0
        while True:
            try:
                await self._handle(work.record)
                return True
            except RecordHandedBack:
                self._handed_back += 1
                return False
            except Exception as error:
                if is_outage(error):
                    outages += 1
                    wait = self._retry.wait_after(outages)
                    HANDLER_FAILURES.labels(topic=self._topic, outcome="outage").inc()
                else:
                    failures, outages = failures + 1, 0
                    if self._retry.gives_up(failures):
                        HANDLER_FAILURES.labels(topic=self._topic, outcome="given-up").inc()
                        return await self._give_up_record(work, error, failures)
                    wait = self._retry.wait_after(failures)
                    HANDLER_FAILURES.labels(topic=self._topic, outcome="retried").inc()
                log.warning(
                    "send record failed; retrying",
                    partition=work.partition.partition,
                    offset=work.record.offset,
                    outage=outages > 0,
                    failures=failures,
                    retry_in_seconds=wait,
                    error=describe(error)[:300],
                )
            key = work.record.key or b""
            self._backing_off.add(key)
            try:
                await asyncio.sleep(wait)
            finally:
                self._backing_off.discard(key)
            if self._stopping or not self._is_current(work):
                return False

    async def _give_up_record(self, work: _Work, error: Exception, failures: int) -> bool:
        """Hand a record that kept failing to ``give_up`` (retried through outages); True once
        that is done or could not be done for another reason (logged: the lane moves on
        regardless), False when it was abandoned."""
        log.error(
            "send record kept failing; giving it up",
            partition=work.partition.partition,
            offset=work.record.offset,
            tries=failures,
            error=describe(error)[:500],
        )
        if self._give_up is None:
            return True
        outages = 0
        while True:
            try:
                await self._give_up(work.record, error)
                return True
            except RecordHandedBack:
                self._handed_back += 1
                return False
            except Exception as failure:
                if not is_outage(failure):
                    log.error(
                        "send record could not be given up; skipped",
                        partition=work.partition.partition,
                        offset=work.record.offset,
                        error=describe(failure)[:500],
                    )
                    return True
                outages += 1
                wait = self._retry.wait_after(outages)
                log.warning("outage while giving a record up; retrying", error=repr(failure))
            await asyncio.sleep(wait)
            if self._stopping or not self._is_current(work):
                return False

    def _finish(self, work: _Work) -> None:
        progress = self._progress.get(work.partition)
        if progress is not None and self._is_current(work):
            progress.finished(work.record.offset)

    # -- commits and rebalances ---------------------------------------------------------------

    async def _commit(self, partitions: list[TopicPartition] | None = None) -> None:
        offsets: dict[TopicPartition, int] = {}
        for partition in partitions if partitions is not None else list(self._progress):
            progress = self._progress.get(partition)
            point = progress.commit_point() if progress is not None else None
            if point is not None and point != self._committed.get(partition):
                offsets[partition] = point
        if not offsets:
            return
        try:
            await self._consumer.commit(offsets)
        except KafkaError as error:
            log.warning("commit failed; the next one retries", error=repr(error))
            return
        self._committed.update(offsets)

    async def _revoked(self, revoked: list[TopicPartition]) -> None:
        await self._commit(list(revoked))
        for partition in revoked:
            self._progress.pop(partition, None)
            self._committed.pop(partition, None)
            self._paused.discard(partition)
        self._update_gauges()

    def _assigned(self, assigned: list[TopicPartition]) -> None:
        for partition in assigned:
            self._generation[partition] = self._generation.get(partition, 0) + 1
            self._progress[partition] = PartitionProgress()

    def refresh_gauges(self) -> None:
        """Set the lane and in-flight gauges from the lanes now (they otherwise move only as
        records arrive and lanes close, and would read stale while busy lanes send)."""
        self._update_gauges()

    def _update_gauges(self) -> None:
        SENDER_LANES.set(len(self._lane_tasks))
        SENDER_IN_FLIGHT.set(self.in_flight)

    @property
    def in_flight(self) -> int:
        return sum(p.in_flight for p in self._progress.values())

    def ready_messages(self) -> int:
        """The records the lanes hold that could start now, were there capacity for them: the
        sum of what ``ready`` counts for each lane, none for a lane waiting to try a failed
        record again (an outage is no work for more consumers); 0 without ``ready``."""
        if self._ready is None:
            return 0
        total = 0
        for key, lane in self._lanes.items():
            held = len(lane) + (key in self._in_hand)
            if held and key not in self._backing_off:
                total += self._ready(key, held)
        return total
