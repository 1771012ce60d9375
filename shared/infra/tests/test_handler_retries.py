"""The rule every consumer follows when a record's handling fails: outages are retried until
they end, anything else a bounded number of times and then dead-lettered. Pure: no server."""

from __future__ import annotations

from dataclasses import dataclass, field
from types import SimpleNamespace
from typing import Any

import pytest
from aiokafka.errors import (
    KafkaConnectionError,
    KafkaTimeoutError,
    MessageSizeTooLargeError,
    NotLeaderForPartitionError,
)
from croniter import CroniterBadDateError
from faststream.exceptions import NackMessage
from pymongo.errors import AutoReconnect, DuplicateKeyError, ServerSelectionTimeoutError

from herald_core.contracts.topics import MESSAGE_DLT
from herald_infra.kafka.broker import DeadLetterOnFailure, InvalidRecord, RecordPosition
from herald_infra.kafka.handler_retries import (
    INTERNAL_ERROR,
    RetryPolicy,
    RetryState,
    describe,
    is_outage,
)


class BusUnavailable(RuntimeError):
    """Like a service's own wrapper of a Kafka failure (raised ``from`` it)."""


def wrapped(cause: Exception) -> Exception:
    try:
        raise BusUnavailable("cannot publish") from cause
    except BusUnavailable as error:
        return error


@pytest.mark.parametrize(
    "error",
    [
        AutoReconnect("connection reset by peer"),
        ServerSelectionTimeoutError("no server"),
        KafkaConnectionError("no broker"),
        KafkaTimeoutError(),
        NotLeaderForPartitionError(),
        ConnectionRefusedError("refused"),
        TimeoutError(),
        wrapped(KafkaTimeoutError()),
    ],
)
def test_mongodb_or_kafka_away_is_an_outage(error: Exception) -> None:
    assert is_outage(error)


@pytest.mark.parametrize(
    "error",
    [
        ValueError("Invalid non-printable ASCII character in URL"),
        OverflowError("date value out of range"),
        CroniterBadDateError("failed to find next date"),
        KeyError("status"),
        DuplicateKeyError("E11000"),
        MessageSizeTooLargeError(),
        wrapped(MessageSizeTooLargeError()),
    ],
)
def test_anything_else_is_not_an_outage(error: Exception) -> None:
    assert not is_outage(error)


def test_waits_double_up_to_the_longest_and_the_last_try_gives_up() -> None:
    policy = RetryPolicy(attempts=3, backoff_seconds=0.5, longest_backoff_seconds=1.5)
    assert [policy.wait_after(n) for n in (1, 2, 3, 4)] == [0.5, 1.0, 1.5, 1.5]
    assert [policy.gives_up(n) for n in (1, 2, 3)] == [False, False, True]
    with pytest.raises(ValueError):
        RetryPolicy(attempts=0)


def test_a_record_is_given_up_at_its_third_failure_and_outages_do_not_count() -> None:
    state: RetryState[str] = RetryState(RetryPolicy(attempts=3, backoff_seconds=1))
    assert state.failed("r", ValueError("bug")) == 1.0
    for _ in range(10):  # an outage in between: retried, not counted
        assert state.failed("r", AutoReconnect("away")) is not None
    assert state.failures("r") == 1
    assert state.failed("r", ValueError("bug")) == 2.0
    assert state.failed("r", ValueError("bug")) is None
    assert state.failures("r") == 0  # forgotten once given up


def test_a_success_forgets_the_failures_and_the_state_stays_bounded() -> None:
    state: RetryState[int] = RetryState(RetryPolicy(attempts=2), keep=3)
    state.failed(1, ValueError("bug"))
    state.succeeded(1)
    assert state.failed(1, ValueError("bug")) is not None  # counts afresh
    for key in range(2, 10):
        state.failed(key, ValueError("bug"))
    assert state.failures(1) == 0  # the oldest forgotten: at most `keep` remembered
    assert state.failures(9) == 1


def test_an_error_is_described_by_its_type_and_message() -> None:
    assert describe(OverflowError("date value out of range")) == (
        "OverflowError: date value out of range"
    )
    assert describe(KeyError("status")) == "KeyError: 'status'"
    assert describe(TimeoutError()) == "TimeoutError"


# The broker's middleware, as FastStream drives it: each delivery of a record runs
# consume_scope once; raising nacks it (the partition is rewound and the record comes again).


@dataclass
class Published:
    body: Any
    topic: str
    key: bytes | None
    headers: dict[str, str]


@dataclass
class FakeBroker:
    published: list[Published] = field(default_factory=list)

    async def publish(
        self, body: Any, *, topic: str, key: bytes | None, headers: dict[str, str]
    ) -> None:
        self.published.append(Published(body, topic, key, headers))


def record(topic: str = "campaign.commands", offset: int = 7) -> Any:
    raw = SimpleNamespace(topic=topic, partition=2, offset=offset, key=b"cmp_1")
    return SimpleNamespace(raw_message=raw, body=b'{"type": "campaign.send"}')


class Handler:
    def __init__(self, *errors: Exception) -> None:
        self.errors = list(errors)
        self.calls = 0

    async def __call__(self, msg: Any) -> str:
        self.calls += 1
        if self.errors:
            raise self.errors.pop(0)
        return "handled"


async def deliver(
    broker: FakeBroker, retries: RetryState[RecordPosition], handler: Handler, msg: Any
) -> tuple[str, Any]:
    """One delivery: ("raised", error) when it is nacked, ("acked", result) otherwise."""
    middleware = DeadLetterOnFailure(
        msg,
        context=None,
        broker=broker,  # type: ignore[arg-type]
        retries=retries,
    )
    try:
        return "acked", await middleware.consume_scope(handler, msg)
    except Exception as error:
        return "raised", error


def no_waits(attempts: int = 3) -> RetryState[RecordPosition]:
    return RetryState(RetryPolicy(attempts=attempts, backoff_seconds=0, longest_backoff_seconds=0))


async def test_an_unexpected_error_is_retried_then_dead_lettered_with_the_error() -> None:
    broker, retries = FakeBroker(), no_waits()
    handler = Handler(*[CroniterBadDateError("failed to find next date")] * 10)
    msg = record()
    outcomes = [(await deliver(broker, retries, handler, msg))[0] for _ in range(3)]

    assert outcomes == ["raised", "raised", "acked"]
    assert handler.calls == 3
    [letter] = broker.published
    assert (letter.topic, letter.key, letter.body) == (MESSAGE_DLT, b"cmp_1", msg.body)
    assert letter.headers["herald-dlt-reason"] == INTERNAL_ERROR
    assert letter.headers["herald-dlt-attempts"] == "3"
    assert letter.headers["kafka_dlt-exception-fqcn"].endswith("CroniterBadDateError")
    assert letter.headers["kafka_dlt-exception-message"] == (
        "CroniterBadDateError: failed to find next date"
    )
    assert letter.headers["kafka_dlt-original-offset"] == "7"


async def test_an_outage_is_retried_for_as_long_as_it_lasts() -> None:
    broker, retries = FakeBroker(), no_waits()
    handler = Handler(*[AutoReconnect("primary away")] * 20)
    msg = record()
    outcomes = [(await deliver(broker, retries, handler, msg))[0] for _ in range(21)]

    assert outcomes == ["raised"] * 20 + ["acked"]
    assert broker.published == []


async def test_a_record_that_recovers_is_not_dead_lettered_and_the_next_counts_afresh() -> None:
    broker, retries = FakeBroker(), no_waits()
    msg = record()
    handler = Handler(ValueError("flaky"), ValueError("flaky"))
    assert [(await deliver(broker, retries, handler, msg))[0] for _ in range(3)] == [
        "raised",
        "raised",
        "acked",
    ]
    assert broker.published == []
    # The same position failing later (a redelivery after a rebalance) starts from none.
    assert (await deliver(broker, retries, Handler(ValueError("again")), msg))[0] == "raised"


async def test_poison_is_dead_lettered_at_once_and_framework_signals_pass_through() -> None:
    broker, retries = FakeBroker(), no_waits()
    refused = Handler(InvalidRecord("no-contacts", "none"))
    assert await deliver(broker, retries, refused, record()) == ("acked", None)
    assert broker.published[0].headers["herald-dlt-reason"] == "no-contacts"

    nack = NackMessage()
    assert await deliver(broker, retries, Handler(nack), record(offset=8)) == ("raised", nack)
    assert len(broker.published) == 1


async def test_a_dead_letter_that_keeps_failing_is_never_dead_lettered_again() -> None:
    broker, retries = FakeBroker(), no_waits(attempts=1)
    outcome = await deliver(broker, retries, Handler(ValueError("bug")), record(MESSAGE_DLT))
    assert outcome == ("acked", None)  # logged and left on its topic: no loop
    assert broker.published == []
