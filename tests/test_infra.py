"""The test infrastructure itself: the broker and database fixtures really work.

The first two tests use the session fixtures (so, with nothing configured, they start the
local Kafka and SecantusDB of deploy/local/); the others check tests/infra.py's choices
without starting anything.
"""

from __future__ import annotations

import asyncio
import uuid
from typing import Any

import pytest
from aiokafka import AIOKafkaConsumer, AIOKafkaProducer
from aiokafka.admin import AIOKafkaAdminClient, NewTopic
from pymongo import AsyncMongoClient

from tests import infra

DEADLINE_S = 30.0


@pytest.mark.integration
async def test_kafka_topic_produce_and_consume(kafka_bootstrap: str) -> None:
    topic = f"herald-infra-{uuid.uuid4().hex[:10]}"
    admin = AIOKafkaAdminClient(bootstrap_servers=kafka_bootstrap)
    await admin.start()
    try:
        await admin.create_topics([NewTopic(topic, num_partitions=3, replication_factor=1)])
        (description,) = await admin.describe_topics([topic])
        assert description["error_code"] == 0
        assert len(description["partitions"]) == 3
    finally:
        await admin.close()

    producer = AIOKafkaProducer(bootstrap_servers=kafka_bootstrap, acks="all")
    await producer.start()
    try:
        sent = await producer.send_and_wait(topic, b"hello herald", key=b"k-1", partition=2)
    finally:
        await producer.stop()
    assert sent.partition == 2

    consumer = AIOKafkaConsumer(
        topic,
        bootstrap_servers=kafka_bootstrap,
        group_id=f"herald-infra-{uuid.uuid4().hex[:10]}",
        auto_offset_reset="earliest",
        enable_auto_commit=False,
    )
    await consumer.start()
    try:
        async with asyncio.timeout(DEADLINE_S):
            record = await consumer.getone()
        # A committed offset also proves the group coordinator (__consumer_offsets) works.
        await consumer.commit()
    finally:
        await consumer.stop()
    assert (record.topic, record.partition, record.offset) == (topic, 2, sent.offset)
    assert (record.key, record.value) == (b"k-1", b"hello herald")


@pytest.mark.integration
async def test_mongodb_insert_and_find(mongodb_url: str) -> None:
    client: AsyncMongoClient[dict[str, Any]] = AsyncMongoClient(
        mongodb_url, serverSelectionTimeoutMS=int(DEADLINE_S * 1000)
    )
    database = f"herald_infra_{uuid.uuid4().hex[:10]}"
    try:
        collection = client[database]["things"]
        await collection.insert_one({"_id": "t-1", "name": "first", "n": 1})
        await collection.insert_one({"_id": "t-2", "name": "second", "n": 2})
        assert await collection.find_one({"_id": "t-1"}) == {"_id": "t-1", "name": "first", "n": 1}
        names = [doc["name"] async for doc in collection.find({"n": {"$gte": 1}}).sort("n", -1)]
        assert names == ["second", "first"]
    finally:
        await client.drop_database(database)
        await client.close()


def test_environment_wins_and_nothing_is_started(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("KAFKA_BOOTSTRAP_SERVERS", "broker.example:9092")
    monkeypatch.setenv("MONGODB_URL", "mongodb://db.example:27017/")

    def no_start() -> bool:
        raise AssertionError("must not look for Docker or start anything")

    monkeypatch.setattr(infra, "_use_docker", no_start)
    with infra.kafka_bootstrap() as bootstrap, infra.mongodb_url() as url:
        assert bootstrap == "broker.example:9092"
        assert url == "mongodb://db.example:27017/"


def test_infra_mode_is_validated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HERALD_TEST_INFRA", "kubernetes")
    with pytest.raises(infra.InfraError, match="auto, docker or local"):
        infra._mode()
    monkeypatch.setenv("HERALD_TEST_INFRA", "LOCAL")
    assert infra._mode() == "local"
