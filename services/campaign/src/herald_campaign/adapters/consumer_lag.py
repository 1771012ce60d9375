"""How far consumer groups are behind their topics, read from Kafka's own offsets: the
:class:`~herald_campaign.service_layer.ports.LagReader` of the campaign service."""

from __future__ import annotations

import asyncio
from collections.abc import Mapping, Sequence
from typing import Any

from aiokafka import AIOKafkaConsumer, TopicPartition
from aiokafka.admin import AIOKafkaAdminClient
from aiokafka.errors import KafkaError

from herald_campaign.service_layer.errors import EventBusUnavailable
from herald_campaign.service_layer.ports import ConsumerLag, WatchedConsumer


class KafkaConsumerLag:
    """Reads committed and end offsets; its Kafka clients open on first use and stay open."""

    def __init__(
        self, connection: str | Mapping[str, Any], *, timeout_seconds: float = 10.0
    ) -> None:
        """``connection``: aiokafka's connection arguments, bootstrap servers and security
        (``herald_infra.kafka.connection.client_options``), or a plaintext bootstrap address."""
        self._connection: dict[str, Any] = (
            {"bootstrap_servers": connection} if isinstance(connection, str) else dict(connection)
        )
        self._timeout = timeout_seconds
        self._lock = asyncio.Lock()
        self._admin: Any = None
        self._consumer: Any = None

    async def read(self, watched: Sequence[WatchedConsumer]) -> list[ConsumerLag]:
        """The lag of each watched group; raises :class:`EventBusUnavailable` if Kafka fails."""
        try:
            async with asyncio.timeout(self._timeout):
                await self._open()
                partitions = await self._partitions({w.topic for w in watched})
                return [await self._lag_of(w, partitions.get(w.topic, [])) for w in watched]
        except (KafkaError, TimeoutError, OSError) as error:
            raise EventBusUnavailable(f"cannot read consumer lag: {error!r}") from error

    async def close(self) -> None:
        async with self._lock:
            if self._consumer is not None:
                await self._consumer.stop()
            if self._admin is not None:
                await self._admin.close()
            self._admin = self._consumer = None

    async def _open(self) -> None:
        async with self._lock:
            if self._admin is not None:
                return
            admin = AIOKafkaAdminClient(**self._connection)
            consumer = AIOKafkaConsumer(**self._connection, enable_auto_commit=False)
            await admin.start()
            try:
                await consumer.start()
            except BaseException:
                await admin.close()
                raise
            self._admin, self._consumer = admin, consumer

    async def _partitions(self, topics: set[str]) -> dict[str, list[TopicPartition]]:
        """The partitions of each topic, from fresh metadata (a topic may be new)."""
        described = await self._admin.describe_topics(sorted(topics))
        return {
            t["topic"]: [TopicPartition(t["topic"], p["partition"]) for p in t["partitions"]]
            for t in described
            if t.get("error_code", 0) == 0
        }

    async def _lag_of(
        self, watched: WatchedConsumer, partitions: list[TopicPartition]
    ) -> ConsumerLag:
        if not partitions:
            return ConsumerLag(watched.topic, watched.group, lag=0, end_offset=0, committed=0)
        committed = await self._admin.list_consumer_group_offsets(
            watched.group, partitions=partitions
        )
        end = await self._consumer.end_offsets(partitions)
        beginning = await self._consumer.beginning_offsets(partitions)
        lag = committed_total = 0
        for tp in partitions:
            meta = committed.get(tp)
            offset = meta.offset if meta is not None and meta.offset >= 0 else None
            # A group that never committed on a partition starts at its beginning (the Herald
            # consumers reset to "earliest").
            lag += max(end[tp] - (offset if offset is not None else beginning[tp]), 0)
            committed_total += offset or 0
        return ConsumerLag(
            watched.topic,
            watched.group,
            lag=lag,
            end_offset=sum(end[tp] for tp in partitions),
            committed=committed_total,
        )
