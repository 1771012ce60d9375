"""Reading what a Kafka topic receives during a test, without a consumer group."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient


class TopicReader:
    """Reads what a topic receives after :meth:`start`, every partition, no consumer group."""

    def __init__(self, bootstrap: str, topic: str) -> None:
        self.topic = topic
        self._bootstrap = bootstrap
        self._consumer = AIOKafkaConsumer(bootstrap_servers=bootstrap, enable_auto_commit=False)
        self._partitions: list[TopicPartition] = []

    async def __aenter__(self) -> TopicReader:
        await self._consumer.start()
        try:
            await self._assign()
        except BaseException:
            await self._consumer.stop()
            raise
        return self

    async def _assign(self) -> None:
        admin = AIOKafkaAdminClient(bootstrap_servers=self._bootstrap)
        await admin.start()
        try:
            described = await admin.describe_topics([self.topic])
        finally:
            await admin.close()
        found = {p["partition"] for t in described for p in t["partitions"]}
        assert found, f"topic {self.topic} has no partitions"
        self._partitions = [TopicPartition(self.topic, p) for p in sorted(found)]
        self._consumer.assign(self._partitions)
        await self._consumer.seek_to_end(*self._partitions)
        for tp in self._partitions:  # resolve the positions now, not at the first read
            await self._consumer.position(tp)

    async def __aexit__(self, *_: object) -> None:
        await self._consumer.stop()

    async def read_to_end(self, timeout: float = 30.0) -> list[Any]:
        """Every record up to the topic's current end (all acknowledged publishes included)."""
        end = await self._consumer.end_offsets(self._partitions)
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while not await self._reached(end):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out reading {self.topic} to its end")
            batches = await self._consumer.getmany(timeout_ms=200)
            records.extend(r for batch in batches.values() for r in batch)
        return records

    async def _reached(self, end: dict[TopicPartition, int]) -> bool:
        for tp in self._partitions:
            if await self._consumer.position(tp) < end[tp]:
                return False
        return True

    async def read_until(
        self, done: Callable[[list[Any]], bool], timeout: float = 30.0
    ) -> list[Any]:
        """Records until ``done(records)`` holds."""
        records: list[Any] = []
        deadline = time.monotonic() + timeout
        while not done(records):
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out reading {self.topic}; got {len(records)}")
            batches = await self._consumer.getmany(timeout_ms=200)
            records.extend(r for batch in batches.values() for r in batch)
        return records
