"""The lane consumer against the real Kafka broker: one lane per key, commits up to the lowest
unfinished record, bounded memory, retries in the lane (outages until they end, anything else a
few times, then the record is given up), rebalances."""

from __future__ import annotations

import asyncio
import uuid
from collections import defaultdict
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo.errors import AutoReconnect

from herald_devstack.kafka_offsets import committed_offset
from herald_devstack.waiting import eventually
from herald_sender.lane_consumer import LaneConsumer, LaneLimits, RecordHandedBack

pytestmark = pytest.mark.integration

FAST_LIMITS = LaneLimits(commit_interval_seconds=0.1, retry_backoff_seconds=0.05)


@pytest.fixture
async def topic(kafka_bootstrap: str) -> str:
    name = f"it-lanes-{uuid.uuid4().hex[:8]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(name, num_partitions=2, replication_factor=1)])
    finally:
        await admin.close()
    return name


async def produce(bootstrap: str, topic: str, keyed: list[tuple[str, str]], partition: int) -> None:
    producer = AIOKafkaProducer(bootstrap_servers=bootstrap)
    await producer.start()
    try:
        for key, value in keyed:
            await producer.send_and_wait(
                topic, value.encode(), key=key.encode(), partition=partition
            )
    finally:
        await producer.stop()


@asynccontextmanager
async def lanes(
    bootstrap: str,
    topic: str,
    group: str,
    handle: Callable[[Any], Awaitable[None]],
    limits: LaneLimits = FAST_LIMITS,
    give_up: Callable[[Any, Exception], Awaitable[None]] | None = None,
    ready: Callable[[bytes, int], int] | None = None,
) -> AsyncIterator[LaneConsumer]:
    lane_consumer = LaneConsumer(
        lambda: AIOKafkaConsumer(
            bootstrap_servers=bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        ),
        topic,
        handle,
        limits,
        give_up=give_up,
        ready=ready,
    )
    await lane_consumer.start()
    try:
        yield lane_consumer
    finally:
        await lane_consumer.stop()


async def test_a_slow_key_holds_up_neither_other_keys_nor_is_committed_past(
    kafka_bootstrap: str, topic: str
) -> None:
    group = f"g-{uuid.uuid4().hex[:6]}"
    release_slow = asyncio.Event()
    handled: list[str] = []

    async def handle(record: Any) -> None:
        value = record.value.decode()
        if value == "slow-1":
            await release_slow.wait()
        handled.append(value)

    # offset 0: the slow key's first record; then other keys, then the slow key again.
    records = [("slow", "slow-1"), ("a", "a-1"), ("b", "b-1"), ("slow", "slow-2"), ("a", "a-2")]
    await produce(kafka_bootstrap, topic, records, partition=0)
    async with lanes(kafka_bootstrap, topic, group, handle):
        await eventually(
            lambda: asyncio.sleep(0, list(handled)),
            lambda done: {"a-1", "b-1", "a-2"} <= set(done),
            timeout=30,
            what="the other keys handled while the slow one waits",
        )
        assert "slow-2" not in handled  # a key's records stay in order
        # Nothing is committed past the unfinished first record; give the committer a chance.
        await asyncio.sleep(0.5)
        assert await committed_offset(kafka_bootstrap, group, topic, 0) <= 0

        release_slow.set()
        await eventually(
            lambda: committed_offset(kafka_bootstrap, group, topic, 0),
            lambda offset: offset == len(records),
            timeout=30,
            what="everything committed once the slow record finished",
        )
    assert handled.index("slow-1") < handled.index("slow-2")


async def test_a_partition_is_paused_while_its_lanes_hold_too_much(
    kafka_bootstrap: str, topic: str
) -> None:
    group = f"g-{uuid.uuid4().hex[:6]}"
    gate = asyncio.Event()
    peak = 0
    consumer_ref: list[LaneConsumer] = []

    async def handle(record: Any) -> None:
        nonlocal peak
        peak = max(peak, consumer_ref[0].in_flight)
        await gate.wait()

    # Two partitions assigned: each may hold half the budget.
    limits = LaneLimits(
        max_in_flight=40,
        min_partition_share=1,
        commit_interval_seconds=0.1,
        fetch_max_records=5,
    )
    await produce(kafka_bootstrap, topic, [(f"k{i}", f"v{i}") for i in range(200)], partition=1)
    async with lanes(kafka_bootstrap, topic, group, handle, limits) as consumer:
        consumer_ref.append(consumer)
        await eventually(
            lambda: asyncio.sleep(0, consumer.partition_share),
            lambda share: share == 20,
            timeout=30,
            what="both partitions assigned",
        )
        await eventually(
            lambda: asyncio.sleep(0, consumer.in_flight),
            lambda n: n >= 20,
            timeout=30,
            what="the partition filled up to its limit",
        )
        await asyncio.sleep(0.5)  # had it not paused, it would keep fetching meanwhile
        assert consumer.in_flight < 20 + limits.fetch_max_records
        gate.set()
        await eventually(
            lambda: committed_offset(kafka_bootstrap, group, topic, 1),
            lambda offset: offset == 200,
            timeout=60,
            what="every record handled after resuming",
        )
    assert peak < 20 + limits.fetch_max_records


async def test_a_failing_record_is_retried_in_its_lane_and_committed_only_once_handled(
    kafka_bootstrap: str, topic: str
) -> None:
    group = f"g-{uuid.uuid4().hex[:6]}"
    tries: dict[str, int] = defaultdict(int)

    async def handle(record: Any) -> None:
        value = record.value.decode()
        tries[value] += 1
        if value == "flaky" and tries[value] < 3:
            raise ConnectionError("MongoDB away")

    await produce(kafka_bootstrap, topic, [("x", "flaky"), ("y", "fine")], partition=0)
    async with lanes(kafka_bootstrap, topic, group, handle):
        await eventually(
            lambda: committed_offset(kafka_bootstrap, group, topic, 0),
            lambda offset: offset == 2,
            timeout=30,
            what="both committed",
        )
    assert tries == {"flaky": 3, "fine": 1}


async def test_a_record_that_keeps_failing_is_given_up_and_its_partition_moves_on(
    kafka_bootstrap: str, topic: str
) -> None:
    group = f"g-{uuid.uuid4().hex[:6]}"
    tries: dict[str, int] = defaultdict(int)
    given_up: list[tuple[str, str]] = []

    async def handle(record: Any) -> None:
        value = record.value.decode()
        tries[value] += 1
        if value.startswith("bad"):
            raise ValueError(f"Invalid non-printable ASCII character in URL ({value})")

    async def give_up(record: Any, error: Exception) -> None:
        given_up.append((record.value.decode(), repr(error)))

    # The bad account's records first, then another account's, all on one partition.
    records = [("bad", "bad-1"), ("other", "other-1"), ("bad", "bad-2"), ("other", "other-2")]
    await produce(kafka_bootstrap, topic, records, partition=0)
    async with lanes(kafka_bootstrap, topic, group, handle, give_up=give_up):
        await eventually(
            lambda: committed_offset(kafka_bootstrap, group, topic, 0),
            lambda offset: offset == len(records),
            timeout=30,
            what="the partition committed past the records given up",
        )
    limit = FAST_LIMITS.attempts
    assert tries == {"bad-1": limit, "bad-2": limit, "other-1": 1, "other-2": 1}
    assert [value for value, _ in given_up] == ["bad-1", "bad-2"]
    assert "Invalid non-printable ASCII character" in given_up[0][1]


async def test_an_outage_is_retried_past_the_bound_until_it_ends(
    kafka_bootstrap: str, topic: str
) -> None:
    group = f"g-{uuid.uuid4().hex[:6]}"
    tries = 0
    given_up: list[Any] = []

    async def handle(record: Any) -> None:
        nonlocal tries
        tries += 1
        if tries <= 2 * FAST_LIMITS.attempts:
            raise AutoReconnect("MongoDB primary away")

    async def give_up(record: Any, error: Exception) -> None:
        given_up.append(record)

    await produce(kafka_bootstrap, topic, [("x", "waits-for-mongodb")], partition=1)
    async with lanes(kafka_bootstrap, topic, group, handle, give_up=give_up):
        await eventually(
            lambda: committed_offset(kafka_bootstrap, group, topic, 1),
            lambda offset: offset == 1,
            timeout=30,
            what="handled once the outage ended",
        )
    assert tries == 2 * FAST_LIMITS.attempts + 1
    assert given_up == []


async def test_a_rebalance_hands_unfinished_records_to_the_new_owner(
    kafka_bootstrap: str, topic: str
) -> None:
    group = f"g-{uuid.uuid4().hex[:6]}"
    handled: dict[str, list[str]] = defaultdict(list)

    def handler(name: str, delay: float) -> Callable[[Any], Awaitable[None]]:
        async def handle(record: Any) -> None:
            await asyncio.sleep(delay)
            handled[record.value.decode()].append(name)

        return handle

    values = [f"v{i}" for i in range(40)]
    for partition in (0, 1):
        keyed = [(f"k{i % 4}", v) for i, v in enumerate(values) if i % 2 == partition]
        await produce(kafka_bootstrap, topic, keyed, partition=partition)

    async with lanes(kafka_bootstrap, topic, group, handler("first", 0.5)):
        await eventually(
            lambda: asyncio.sleep(0, len(handled)),
            lambda n: n >= 4,
            timeout=30,
            what="the first consumer under way",
        )
        async with lanes(kafka_bootstrap, topic, group, handler("second", 0.0)):
            await eventually(
                lambda: asyncio.gather(
                    committed_offset(kafka_bootstrap, group, topic, 0),
                    committed_offset(kafka_bootstrap, group, topic, 1),
                ),
                lambda offsets: list(offsets) == [20, 20],
                timeout=60,
                what="both partitions committed to their end",
            )
    assert set(handled) == set(values)  # nothing lost (one may be handled twice around the
    # rebalance, which the sender's claim makes harmless)
    assert any("second" in names for names in handled.values()), "the second never got work"


async def test_stop_finishes_the_record_in_hand_and_leaves_a_handed_back_one_uncommitted(
    kafka_bootstrap: str, topic: str
) -> None:
    group = f"g-{uuid.uuid4().hex[:6]}"
    at_gateway = asyncio.Event()
    answer = asyncio.Event()
    waiting_for_turn = asyncio.Event()
    stopping = asyncio.Event()
    handled: list[str] = []

    async def handle(record: Any) -> None:
        value = record.value.decode()
        if value == "a-1":  # in a gateway call when the stop comes: it finishes
            at_gateway.set()
            await answer.wait()
        elif value == "b-1":  # waiting for its account's turn: it is given back
            waiting_for_turn.set()
            await stopping.wait()
            raise RecordHandedBack("stopping")
        handled.append(value)

    # offsets 0, 1, 2: a-1 (in hand), b-1 (handed back), a-2 (never started)
    await produce(kafka_bootstrap, topic, [("a", "a-1"), ("b", "b-1"), ("a", "a-2")], partition=0)
    consumer = LaneConsumer(
        lambda: AIOKafkaConsumer(
            bootstrap_servers=kafka_bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        ),
        topic,
        handle,
        FAST_LIMITS,
    )
    await consumer.start()
    await asyncio.wait_for(asyncio.gather(at_gateway.wait(), waiting_for_turn.wait()), 30)

    stopping.set()
    stop = asyncio.create_task(consumer.stop())
    done, _ = await asyncio.wait({stop}, timeout=0.5)
    assert not done, "stop must wait for the record in hand"
    answer.set()
    await asyncio.wait_for(stop, 10)

    assert handled == ["a-1"]  # a-2 was not started once stopping
    # Committed up to the handed-back record: the next owner starts there.
    assert await committed_offset(kafka_bootstrap, group, topic, 0) == 1

    async def record(next_owner_record: Any) -> None:
        handled.append(next_owner_record.value.decode())

    async with lanes(kafka_bootstrap, topic, group, record):
        await eventually(
            lambda: committed_offset(kafka_bootstrap, group, topic, 0),
            lambda offset: offset == 3,
            timeout=30,
            what="the next owner handled what was left",
        )
    assert handled == ["a-1", "b-1", "a-2"]


async def test_stop_abandons_a_record_that_outlasts_the_drain(
    kafka_bootstrap: str, topic: str
) -> None:
    group = f"g-{uuid.uuid4().hex[:6]}"
    started = asyncio.Event()

    async def hang(_record: Any) -> None:
        started.set()
        await asyncio.Event().wait()

    await produce(kafka_bootstrap, topic, [("x", "stuck")], partition=1)
    limits = LaneLimits(commit_interval_seconds=0.1, drain_seconds=0.5)
    consumer = LaneConsumer(
        lambda: AIOKafkaConsumer(
            bootstrap_servers=kafka_bootstrap,
            group_id=group,
            enable_auto_commit=False,
            auto_offset_reset="earliest",
        ),
        topic,
        hang,
        limits,
    )
    await consumer.start()
    await asyncio.wait_for(started.wait(), 30)
    await asyncio.wait_for(consumer.stop(), 5)  # the drain's limit, not the record, decides
    assert await committed_offset(kafka_bootstrap, group, topic, 1) <= 0


async def test_ready_messages_count_what_each_lane_holds_as_its_ready_count_says(
    kafka_bootstrap: str, topic: str
) -> None:
    group = f"g-{uuid.uuid4().hex[:6]}"
    release = asyncio.Event()
    asked: dict[bytes, int] = {}

    async def handle(record: Any) -> None:
        await release.wait()

    def ready(key: bytes, held: int) -> int:
        asked[key] = held
        return held if key == b"free" else 0  # "busy": its account is not free

    records = [("free", "f-1"), ("busy", "b-1"), ("free", "f-2"), ("free", "f-3"), ("busy", "b-2")]
    await produce(kafka_bootstrap, topic, records, partition=0)
    async with lanes(kafka_bootstrap, topic, group, handle, ready=ready) as consumer:
        # Each lane holds the record it is on and those behind it.
        await eventually(
            lambda: asyncio.sleep(0, consumer.ready_messages()),
            lambda count: count == 3,
            timeout=30,
            what="the free lane's three records counted",
        )
        assert asked == {b"free": 3, b"busy": 2}
        release.set()
        await eventually(
            lambda: asyncio.sleep(0, consumer.ready_messages()),
            lambda count: count == 0,
            timeout=30,
            what="nothing ready once the lanes are done",
        )
