"""The retry relay against the real Kafka broker (and the recorder's MongoDB-wire server).

Delay topics are shared by every test of the session: each test keys its records by its own
sender account and finds them by their message ids.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiokafka import AIOKafkaProducer
from prometheus_client import REGISTRY

from herald_core.contracts.events import SendMessage
from herald_core.contracts.topics import MESSAGE_DLT, MESSAGE_SEND_FALLBACK, RETRY_RELAY_GROUP
from herald_core.messages.delayed_attempts import ATTEMPTS, DUE_TIMESTAMP, TARGET_TOPIC
from herald_devstack.asgi import running
from herald_devstack.kafka_offsets import committed_offset, handled
from herald_devstack.topic_reader import TopicReader
from herald_devstack.waiting import eventually
from herald_dispatcher.main import create_app
from herald_infra.runtime.settings import HeraldSettings

pytestmark = pytest.mark.integration

DELAY_TOPIC = "message.retry.2s"
ON_TIME_MS = 1_500
"""How late after its due time a record may reach its send topic (a timer, a fetch, a publish)."""
AT_ONCE_MS = 1_500
"""How soon a due record reaches its send topic."""


@pytest.fixture(scope="module")
def settings(kafka_bootstrap: str, mongodb_url: str) -> HeraldSettings:
    return HeraldSettings(
        kafka_bootstrap_servers=kafka_bootstrap,
        mongodb_url=mongodb_url,
        mongodb_database=f"it_retry_relay_{uuid.uuid4().hex[:8]}",
        attempt_plan="primary, fallback, fallback@2s",
    )


@pytest.fixture(scope="module")
async def producer(settings: HeraldSettings) -> AsyncIterator[AIOKafkaProducer]:
    producer = AIOKafkaProducer(bootstrap_servers=settings.kafka_bootstrap_servers, acks="all")
    await producer.start()
    try:
        yield producer
    finally:
        await producer.stop()


@pytest.fixture(scope="module")
async def relay(settings: HeraldSettings, producer: AIOKafkaProducer) -> AsyncIterator[None]:
    """The dispatcher, once its relay consumer owns the delay topic's partitions."""
    async with running(create_app(settings)):
        async with TopicReader(settings.kafka_bootstrap_servers, MESSAGE_SEND_FALLBACK) as sent:
            probe = send_event()
            await delay(producer, probe, partition=0, due_ms=now_ms())
            await sent.read_until(lambda records: relayed(records, probe) is not None, timeout=60)
        yield


def now_ms() -> int:
    return time.time_ns() // 1_000_000


def send_event(account_id: str | None = None, **fields: Any) -> SendMessage:
    return SendMessage(
        tenant_id="t-relay",
        campaign_id="c-relay",
        message_id=f"m-{uuid.uuid4().hex[:12]}",
        account_id=account_id or f"acc-{uuid.uuid4().hex[:8]}",
        phone="+919800000001",
        body="hello again",
        attempt=3,
        step=2,
        **fields,
    )


async def delay(
    producer: AIOKafkaProducer,
    event: SendMessage | bytes,
    *,
    partition: int,
    due_ms: int | None,
    key: str | None = None,
    target: str = MESSAGE_SEND_FALLBACK,
) -> Any:
    """Put a record on the delay topic as a sender does; returns its metadata."""
    headers = [(ATTEMPTS, b"3")]
    if due_ms is not None:
        headers += [(TARGET_TOPIC, target.encode()), (DUE_TIMESTAMP, str(due_ms).encode())]
    if isinstance(event, SendMessage):
        value, key = event.model_dump_json().encode(), key or event.account_id
    else:
        value = event
    return await producer.send_and_wait(
        DELAY_TOPIC, value, key=key.encode() if key else None, partition=partition, headers=headers
    )


def relayed(records: list[Any], event: SendMessage) -> Any:
    """The record that carried ``event`` to its send topic, if one did."""
    for record in records:
        if record.key == event.account_id.encode() and event.message_id.encode() in record.value:
            return record
    return None


def waits() -> float:
    return REGISTRY.get_sample_value("herald_retry_relay_waits_total", {"topic": DELAY_TOPIC}) or 0


async def test_a_delayed_attempt_reaches_its_send_topic_at_its_due_time_not_before(
    relay: None, settings: HeraldSettings, producer: AIOKafkaProducer
) -> None:
    event = send_event()
    async with TopicReader(settings.kafka_bootstrap_servers, MESSAGE_SEND_FALLBACK) as sent:
        due_ms = now_ms() + 2_000
        await delay(producer, event, partition=2, due_ms=due_ms)
        records = await sent.read_until(lambda records: relayed(records, event) is not None)

    record = relayed(records, event)
    assert due_ms <= record.timestamp <= due_ms + ON_TIME_MS
    assert SendMessage.model_validate_json(record.value) == event


async def test_a_partition_waiting_for_a_later_record_holds_up_no_other_partition(
    relay: None, settings: HeraldSettings, producer: AIOKafkaProducer
) -> None:
    account = f"acc-{uuid.uuid4().hex[:8]}"
    first, later, behind_later = send_event(account), send_event(account), send_event(account)
    elsewhere = send_event()
    waits_before = waits()
    async with TopicReader(settings.kafka_bootstrap_servers, MESSAGE_SEND_FALLBACK) as sent:
        await delay(producer, first, partition=0, due_ms=now_ms())
        later_due_ms = now_ms() + 3_000
        await delay(producer, later, partition=0, due_ms=later_due_ms)
        await delay(producer, behind_later, partition=0, due_ms=now_ms())
        # Once `first` is relayed, partition 0 is at `later`, which is not due for 3 s.
        records = await sent.read_until(lambda records: relayed(records, first) is not None)

        elsewhere_sent_ms = now_ms()
        await delay(producer, elsewhere, partition=1, due_ms=elsewhere_sent_ms)
        records += await sent.read_until(lambda records: relayed(records, elsewhere) is not None)
        elsewhere_relayed = relayed(records, elsewhere)
        assert elsewhere_relayed.timestamp <= elsewhere_sent_ms + AT_ONCE_MS
        assert elsewhere_relayed.timestamp < later_due_ms

        records += await sent.read_until(
            lambda more: relayed(records + more, behind_later) is not None
        )

    later_relayed, behind_relayed = relayed(records, later), relayed(records, behind_later)
    assert later_due_ms <= later_relayed.timestamp <= later_due_ms + ON_TIME_MS
    # The record behind the waiting one kept its place: relayed after it (same key, so the
    # same send-topic partition, in relay order), never before.
    assert later_relayed.partition == behind_relayed.partition
    assert later_relayed.offset < behind_relayed.offset
    # Paused, not polled: the waiting record was seen about once, not in a loop.
    assert waits() - waits_before <= 3


async def test_the_relay_commits_a_delayed_record_only_after_relaying_it(
    relay: None, settings: HeraldSettings, producer: AIOKafkaProducer
) -> None:
    event = send_event()
    bootstrap = settings.kafka_bootstrap_servers
    async with TopicReader(bootstrap, MESSAGE_SEND_FALLBACK) as sent:
        due_ms = now_ms() + 2_500
        waiting = await delay(producer, event, partition=3, due_ms=due_ms)
        # Until it is due, the group's commit on its partition stays at or before it.
        while now_ms() < due_ms - 300:
            committed = await committed_offset(bootstrap, RETRY_RELAY_GROUP, DELAY_TOPIC, 3)
            assert committed <= waiting.offset, "committed past a record not relayed yet"
            await asyncio.sleep(0.2)
        await eventually(
            lambda: handled(bootstrap, RETRY_RELAY_GROUP, DELAY_TOPIC, 3, waiting.offset),
            bool,
            timeout=10,
            what="delayed record committed",
        )
        committed_seen_ms = now_ms()
        records = await sent.read_to_end()

    record = relayed(records, event)
    assert record is not None, "committed, yet not on its send topic"
    assert due_ms <= record.timestamp <= committed_seen_ms


async def test_records_with_bad_headers_or_payload_are_dead_lettered_and_the_rest_flows(
    relay: None, settings: HeraldSettings, producer: AIOKafkaProducer, db: Any
) -> None:
    key = f"acc-{uuid.uuid4().hex[:8]}"
    valid = send_event(key)
    invalid_phone = send_event(key).model_dump_json().replace("+919800000001", "12")
    bootstrap = settings.kafka_bootstrap_servers
    async with (
        TopicReader(bootstrap, MESSAGE_DLT) as dead_letters,
        TopicReader(bootstrap, MESSAGE_SEND_FALLBACK) as sent,
    ):
        no_headers = await delay(producer, send_event(key), partition=4, due_ms=None)
        not_json = await delay(producer, b"\x00\xff", partition=4, due_ms=now_ms(), key=key)
        schema_invalid = await delay(
            producer, invalid_phone.encode(), partition=4, due_ms=now_ms(), key=key
        )
        await delay(producer, valid, partition=4, due_ms=now_ms())
        await sent.read_until(lambda records: relayed(records, valid) is not None)
        letters = await dead_letters.read_until(
            lambda records: len([r for r in records if r.key == key.encode()]) >= 3
        )

    mine = [{k: v.decode() for k, v in r.headers} for r in letters if r.key == key.encode()]
    by_offset = {int(headers["kafka_dlt-original-offset"]): headers for headers in mine}
    assert set(by_offset) == {no_headers.offset, not_json.offset, schema_invalid.offset}
    for headers in by_offset.values():
        assert headers["kafka_dlt-original-topic"] == DELAY_TOPIC
        assert headers["kafka_dlt-original-partition"] == "4"
        assert headers["kafka_dlt-exception-fqcn"]
    assert by_offset[no_headers.offset]["herald-dlt-reason"] == "invalid-retry-headers"
    assert by_offset[not_json.offset]["herald-dlt-reason"] == "schema-invalid"
    assert by_offset[schema_invalid.offset]["herald-dlt-reason"] == "schema-invalid"

    # The dispatcher's recorder keeps them in MongoDB too.
    stored = await eventually(
        lambda: db["dead_letters"].count_documents(
            {"originalTopic": DELAY_TOPIC, "key": key, "originalPartition": 4}
        ),
        lambda count: count == 3,
        what="dead letters recorded",
    )
    assert stored == 3
