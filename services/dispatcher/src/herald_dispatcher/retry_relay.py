"""The retry relay: publishes each delay-topic record to its send topic once it is due.

A failed attempt waits on a delay topic (``message.retry.<delay>``, one per delay, as Spring
Kafka's retry topics do); the record's headers name its send topic and due time. The handler
never sleeps, so no partition holds up another:

- A due record is published to its send topic keyed by sender account; the handler returns only
  once Kafka confirmed it, and only then does the broker's ack commit the offset.
- A record not yet due pauses its partition, and FastStream's nack rewinds the partition to it
  (a seek back, nothing committed). A timer resumes the partition at the due time and Kafka
  hands the record out again. An ack commits the consumer's positions, and the waiting
  partition's position is the waiting record: no commit, by any handler, goes past it.
- aiokafka drops what it prefetched of a partition when it is paused or rewound. Should a record
  behind the waiting one still reach the handler, the partition is rewound to the waiting record
  again (never forward), and that record is handled when it comes back in order.

Bad headers and a payload that is not a SendMessage are dead-lettered by the broker's
DeadLetterOnFailure middleware, and so is a record whose relay kept failing for a reason other
than an outage (``internal-error``, after ``HERALD_HANDLER_ATTEMPTS`` tries; an outage of Kafka
is retried until it ends). The payload is validated here, after the check above, not by
FastStream before the handler runs: the middleware acks what it dead-letters, and an ack of a
record behind a waiting one would commit past the waiting record (a record behind a waiting
one never fails here: it is rewound before anything else).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any, Protocol, cast

from aiokafka import ConsumerRebalanceListener, TopicPartition
from faststream.kafka import KafkaBroker
from faststream.kafka.annotations import KafkaMessage

from herald_core.attempt_plan import Route
from herald_core.contracts.events import SendMessage
from herald_core.contracts.topics import RETRY_RELAY_GROUP
from herald_core.messages.delayed_attempts import (
    DelayedAttempt,
    InvalidDelayHeaders,
    read_delayed_attempt,
)
from herald_dispatcher.metrics import RETRY_WAITS
from herald_dispatcher.raw_records import (
    header_texts,
    parse_tolerating_binary_headers,
    payload_bytes,
)
from herald_dispatcher.waiting_partitions import WaitingPartitions, is_due, seconds_until
from herald_infra.kafka.broker import InvalidRecord
from herald_infra.runtime.logging import get_logger
from herald_infra.runtime.metrics import RETRIES_RELAYED

INVALID_RETRY_HEADERS = "invalid-retry-headers"
SEND_TOPICS = frozenset(route.send_topic for route in Route)

PublishAttempt = Callable[[SendMessage, str], Awaitable[object]]
"""Publishes a send event to a send topic and returns once Kafka confirmed it."""

log = get_logger(__name__)


class PausableConsumer(Protocol):
    """What the relay uses of aiokafka's consumer."""

    def pause(self, *partitions: Any) -> None: ...
    def resume(self, *partitions: Any) -> None: ...
    def paused(self) -> set[Any]: ...
    def seek(self, partition: Any, offset: int) -> None: ...


def epoch_ms() -> int:
    return time.time_ns() // 1_000_000


def delayed_attempt_of(headers: Mapping[str, str]) -> DelayedAttempt:
    """Where and when a delay-topic record goes; InvalidRecord when its headers do not say."""
    try:
        attempt = read_delayed_attempt(headers)
    except InvalidDelayHeaders as error:
        raise InvalidRecord(INVALID_RETRY_HEADERS, str(error)) from None
    if attempt.target_topic not in SEND_TOPICS:
        raise InvalidRecord(
            INVALID_RETRY_HEADERS, f"target topic {attempt.target_topic!r} is no send topic"
        )
    return attempt


class RetryRelay:
    """Relays due records; parks a partition whose next record is not due yet."""

    def __init__(self, publish: PublishAttempt, *, clock: Callable[[], int] = epoch_ms) -> None:
        self._publish = publish
        self._clock = clock
        self._waiting: WaitingPartitions[TopicPartition] = WaitingPartitions()
        self._resumes: dict[TopicPartition, asyncio.TimerHandle] = {}

    async def handle(self, message: KafkaMessage) -> None:
        record = message.raw_message
        if isinstance(record, tuple):
            raise TypeError("the retry relay handles one record at a time")
        consumer = cast(PausableConsumer, message.consumer)
        partition = TopicPartition(record.topic, record.partition)

        rewind_to = self._waiting.rewind_offset(partition, record.offset)
        if rewind_to is not None:
            consumer.seek(partition, rewind_to)
            return
        self._waiting.stop_waiting(partition)

        attempt = delayed_attempt_of(header_texts(record.headers))
        send = SendMessage.model_validate_json(record.value or b"")
        now = self._clock()
        if not is_due(attempt.due_ms, now):
            wait = seconds_until(attempt.due_ms, now)
            await self._wait(message, consumer, partition, record.offset, wait)
            return
        await self._publish(send, attempt.target_topic)
        RETRIES_RELAYED.labels(topic=record.topic).inc()
        log.debug(
            "retry relayed",
            message_id=send.message_id,
            topic=attempt.target_topic,
            late_ms=now - attempt.due_ms,
        )

    async def _wait(
        self,
        message: KafkaMessage,
        consumer: PausableConsumer,
        partition: TopicPartition,
        offset: int,
        seconds: float,
    ) -> None:
        consumer.pause(partition)
        await message.nack()  # seeks back to this record and commits nothing
        self._waiting.wait_at(partition, offset)
        self._schedule_resume(consumer, partition, seconds)
        RETRY_WAITS.labels(topic=partition.topic).inc()

    def _schedule_resume(
        self, consumer: PausableConsumer, partition: TopicPartition, seconds: float
    ) -> None:
        self._cancel_resumes([partition])
        self._resumes[partition] = asyncio.get_running_loop().call_later(
            seconds, self._resume, consumer, partition
        )

    def _resume(self, consumer: PausableConsumer, partition: TopicPartition) -> None:
        self._resumes.pop(partition, None)
        # A rebalance may have taken the partition away meanwhile; it is not paused then.
        if partition in consumer.paused():
            consumer.resume(partition)

    def _cancel_resumes(self, partitions: Iterable[TopicPartition]) -> None:
        for partition in partitions:
            timer = self._resumes.pop(partition, None)
            if timer is not None:
                timer.cancel()

    def forget(self, partitions: Iterable[TopicPartition]) -> None:
        """Drop what the relay knows of partitions a rebalance took away."""
        revoked = list(partitions)
        self._waiting.forget(revoked)
        self._cancel_resumes(revoked)

    async def stop(self) -> None:
        self._cancel_resumes(list(self._resumes))


class ForgetRevokedPartitions(ConsumerRebalanceListener):  # type: ignore[misc]
    """Keeps the relay's waiting partitions to those the consumer still owns."""

    def __init__(self, relay: RetryRelay) -> None:
        self._relay = relay

    async def on_partitions_revoked(self, revoked: set[TopicPartition]) -> None:
        self._relay.forget(revoked)

    async def on_partitions_assigned(self, assigned: set[TopicPartition]) -> None:
        pass


def subscribe_retry_relay(broker: KafkaBroker, delay_topics: Sequence[str]) -> RetryRelay:
    """Register the relay of ``delay_topics`` (group ``herald-retry-relay``) on ``broker``."""

    async def publish_attempt(send: SendMessage, topic: str) -> None:
        await broker.publish(send, topic=topic, key=send.account_id.encode())

    relay = RetryRelay(publish_attempt)

    @broker.subscriber(
        *delay_topics,
        group_id=RETRY_RELAY_GROUP,
        auto_offset_reset="earliest",
        listener=ForgetRevokedPartitions(relay),
        parser=parse_tolerating_binary_headers,
        decoder=payload_bytes,
        title=f"dispatcher:{','.join(delay_topics)}",
        description=(
            "Publishes each delayed attempt (a SendMessage) to the send topic its headers name "
            "once it is due; a partition whose next record is not due waits, paused."
        ),
    )
    async def relay_delayed_attempt(payload: bytes, message: KafkaMessage) -> None:
        await relay.handle(message)

    return relay
