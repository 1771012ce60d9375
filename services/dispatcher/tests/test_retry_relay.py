"""The relay's handler against an in-memory consumer: what it publishes, pauses and rewinds."""

from __future__ import annotations

import asyncio
from typing import Any

import pytest
from aiokafka import ConsumerRecord, TopicPartition
from faststream.kafka.message import KafkaAckableMessage
from faststream.message import AckStatus
from pydantic import ValidationError

from herald_core.contracts.events import SendMessage
from herald_core.messages.delayed_attempts import DUE_TIMESTAMP, TARGET_TOPIC
from herald_devstack.waiting import eventually
from herald_dispatcher.retry_relay import RetryRelay, delayed_attempt_of
from herald_infra.kafka.broker import InvalidRecord

DELAY_TOPIC = "message.retry.2s"
NOW_MS = 1_800_000_000_000
SEND = SendMessage(
    tenant_id="t",
    campaign_id="c",
    message_id="m1",
    account_id="acc-7",
    phone="+919800000001",
    body="hello",
    attempt=3,
    step=2,
)


class InMemoryConsumer:
    """Records what the relay asks of aiokafka's consumer."""

    def __init__(self) -> None:
        self.paused_partitions: set[Any] = set()
        self.seeks: list[tuple[Any, int]] = []
        self.commits = 0

    def pause(self, *partitions: Any) -> None:
        self.paused_partitions.update(partitions)

    def resume(self, *partitions: Any) -> None:
        self.paused_partitions.difference_update(partitions)

    def paused(self) -> set[Any]:
        return set(self.paused_partitions)

    def seek(self, partition: Any, offset: int) -> None:
        self.seeks.append((partition, offset))

    async def commit(self) -> None:
        self.commits += 1


class Published:
    def __init__(self) -> None:
        self.sends: list[tuple[SendMessage, str]] = []

    async def __call__(self, send: SendMessage, topic: str) -> None:
        self.sends.append((send, topic))


def delayed(*, due_ms: int, target: str = "message.send.fallback") -> list[tuple[str, bytes]]:
    return [(TARGET_TOPIC, target.encode()), (DUE_TIMESTAMP, str(due_ms).encode())]


def message(
    consumer: InMemoryConsumer,
    offset: int,
    headers: list[tuple[str, bytes]],
    *,
    partition: int = 0,
    value: bytes = SEND.model_dump_json().encode(),
) -> KafkaAckableMessage:
    record = ConsumerRecord(
        topic=DELAY_TOPIC,
        partition=partition,
        offset=offset,
        timestamp=NOW_MS,
        timestamp_type=0,
        key=b"acc-7",
        value=value,
        checksum=None,
        serialized_key_size=5,
        serialized_value_size=len(value),
        headers=headers,
    )
    return KafkaAckableMessage(raw_message=record, body=value, consumer=consumer)


class ManualClock:
    def __init__(self, now_ms: int) -> None:
        self.now_ms = now_ms

    def __call__(self) -> int:
        return self.now_ms


def relay_at(now_ms: int, published: Published) -> RetryRelay:
    return RetryRelay(published, clock=lambda: now_ms)


async def test_a_due_record_is_published_to_its_send_topic_and_left_to_be_acked() -> None:
    consumer, published = InMemoryConsumer(), Published()
    incoming = message(consumer, 5, delayed(due_ms=NOW_MS))

    await relay_at(NOW_MS, published).handle(incoming)

    assert published.sends == [(SEND, "message.send.fallback")]
    assert consumer.paused_partitions == set()
    assert consumer.seeks == []
    assert incoming.committed is None  # the broker's ack commits it after the handler returns


async def test_a_record_not_due_pauses_its_partition_rewinds_to_it_and_resumes_when_due() -> None:
    consumer, published = InMemoryConsumer(), Published()
    relay = relay_at(NOW_MS, published)
    incoming = message(consumer, 5, delayed(due_ms=NOW_MS + 50))

    await relay.handle(incoming)

    partition = TopicPartition(DELAY_TOPIC, 0)
    assert published.sends == []
    assert consumer.paused_partitions == {partition}
    assert consumer.seeks == [(partition, 5)]
    assert incoming.committed is AckStatus.NACKED  # so the broker commits nothing for it
    assert consumer.commits == 0

    async def paused() -> set[Any]:
        return consumer.paused()

    await eventually(paused, lambda partitions: not partitions, timeout=2, what="resumed")


async def test_a_record_behind_the_awaited_one_rewinds_its_partition_to_it_unread() -> None:
    consumer, published = InMemoryConsumer(), Published()
    relay = relay_at(NOW_MS, published)
    await relay.handle(message(consumer, 5, delayed(due_ms=NOW_MS + 60_000)))

    # Due and valid, but behind offset 5: rewound, not relayed; its headers are not even read.
    await relay.handle(message(consumer, 6, delayed(due_ms=NOW_MS)))
    await relay.handle(message(consumer, 7, [(TARGET_TOPIC, b"nowhere")]))

    partition = TopicPartition(DELAY_TOPIC, 0)
    assert published.sends == []
    assert consumer.seeks == [(partition, 5), (partition, 5), (partition, 5)]
    await relay.stop()


async def test_once_the_awaited_record_comes_back_due_its_partition_flows_again() -> None:
    consumer, published = InMemoryConsumer(), Published()
    clock = ManualClock(NOW_MS)
    relay = RetryRelay(published, clock=clock)
    await relay.handle(message(consumer, 5, delayed(due_ms=NOW_MS + 1_000)))

    clock.now_ms += 1_000
    await relay.handle(message(consumer, 5, delayed(due_ms=NOW_MS + 1_000)))
    await relay.handle(message(consumer, 6, delayed(due_ms=NOW_MS)))

    assert [send.message_id for send, _ in published.sends] == ["m1", "m1"]
    assert consumer.seeks == [(TopicPartition(DELAY_TOPIC, 0), 5)]  # only the first wait
    await relay.stop()


async def test_other_partitions_flow_while_one_waits() -> None:
    consumer, published = InMemoryConsumer(), Published()
    relay = relay_at(NOW_MS, published)
    await relay.handle(message(consumer, 5, delayed(due_ms=NOW_MS + 60_000), partition=0))
    await relay.handle(message(consumer, 9, delayed(due_ms=NOW_MS), partition=1))

    assert len(published.sends) == 1
    assert consumer.paused_partitions == {TopicPartition(DELAY_TOPIC, 0)}
    await relay.stop()


async def test_a_revoked_partition_is_forgotten_and_not_resumed_by_a_stale_timer() -> None:
    consumer, published = InMemoryConsumer(), Published()
    relay = relay_at(NOW_MS, published)
    await relay.handle(message(consumer, 5, delayed(due_ms=NOW_MS + 30)))
    partition = TopicPartition(DELAY_TOPIC, 0)

    relay.forget({partition})
    consumer.seeks.clear()
    await asyncio.sleep(0.1)  # past the cancelled resume: it must not fire

    assert consumer.paused_partitions == {partition}
    # Records of the partition are handled again from wherever its next owner starts.
    await relay.handle(message(consumer, 6, delayed(due_ms=NOW_MS)))
    assert consumer.seeks == []
    assert len(published.sends) == 1


@pytest.mark.parametrize(
    "headers",
    [
        [],
        [(TARGET_TOPIC, b"message.send.fallback")],
        [(TARGET_TOPIC, b"message.send.fallback"), (DUE_TIMESTAMP, b"tomorrow")],
        [(TARGET_TOPIC, b"campaign.events"), (DUE_TIMESTAMP, b"1")],
        [(TARGET_TOPIC, b"message.send.elsewhere"), (DUE_TIMESTAMP, b"1")],
        [(TARGET_TOPIC, b"message.send.\xff"), (DUE_TIMESTAMP, b"1")],
    ],
)
async def test_a_record_whose_headers_say_no_send_topic_or_due_time_is_refused(
    headers: list[tuple[str, bytes]],
) -> None:
    consumer, published = InMemoryConsumer(), Published()
    with pytest.raises(InvalidRecord) as refused:
        await relay_at(NOW_MS, published).handle(message(consumer, 5, headers))
    assert refused.value.reason == "invalid-retry-headers"
    assert published.sends == []


@pytest.mark.parametrize("value", [b"\x00\xffnot json", b'{"type": "message.send"}'])
async def test_a_payload_that_is_no_send_message_is_refused(value: bytes) -> None:
    consumer, published = InMemoryConsumer(), Published()
    with pytest.raises(ValidationError):
        await relay_at(NOW_MS, published).handle(
            message(consumer, 5, delayed(due_ms=NOW_MS), value=value)
        )
    assert published.sends == []


def test_both_send_topics_are_valid_targets() -> None:
    for topic in ("message.send.primary", "message.send.fallback"):
        headers = {TARGET_TOPIC: topic, DUE_TIMESTAMP: "7"}
        assert delayed_attempt_of(headers).target_topic == topic
