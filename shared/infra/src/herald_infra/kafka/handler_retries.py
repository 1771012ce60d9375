"""What a consumer does when handling a record fails: the architecture's "failures stay where
they start", in one place for every consumer (FastStream subscribers, the senders' lanes, the
scheduler's firings and sweep).

- An outage of MongoDB or Kafka (:func:`is_outage`: unreachable, timing out, no primary, no
  leader) is retried with back-off for as long as it lasts: everything else waits for it anyway,
  and the record is fine.
- Any other error is retried a few times (:class:`RetryPolicy`, ``HERALD_HANDLER_ATTEMPTS`` in
  all, a short doubling back-off), then the record is given up: it becomes a dead letter that
  names the error (reason ``internal-error`` unless the consumer knows better) and the consumer
  moves on, so that no record, account or tenant holds a partition that others share.

Like Spring Kafka's ``DefaultErrorHandler`` with a ``BackOff`` and a
``DeadLetterPublishingRecoverer``. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass
from typing import Generic, TypeVar

from aiokafka.errors import (
    BrokerNotAvailableError,
    KafkaError,
    KafkaTimeoutError,
    KafkaUnavailableError,
    ProducerClosed,
    RequestTimedOutError,
)

from herald_infra.mongo.outages import is_database_outage
from herald_infra.runtime.settings import HeraldSettings

INTERNAL_ERROR = "internal-error"
"""The dead-letter (and message failure) reason of a record whose handling kept failing with an
error that is neither an outage nor one the handler knows: its exception type and message say
what happened."""

_KAFKA_AWAY = (
    KafkaTimeoutError,
    KafkaUnavailableError,
    BrokerNotAvailableError,
    RequestTimedOutError,
    ProducerClosed,
)


def is_kafka_outage(error: BaseException) -> bool:
    """Whether ``error`` says Kafka is unreachable or not answering in time (no connection, no
    leader, no coordinator, a timeout), as opposed to a refused request (too large, not
    authorised), which another try would not mend."""
    if not isinstance(error, KafkaError):
        return False
    return bool(getattr(error, "retriable", False)) or isinstance(error, _KAFKA_AWAY)


def is_outage(error: BaseException) -> bool:
    """Whether ``error`` is an outage of the infrastructure (MongoDB or Kafka away, a connection
    refused or timing out), to be retried for as long as it lasts; follows ``raise … from``."""
    seen = 0
    current: BaseException | None = error
    while current is not None and seen < 5:
        if (
            is_database_outage(current)
            or is_kafka_outage(current)
            or isinstance(current, ConnectionError | TimeoutError)
        ):
            return True
        current, seen = current.__cause__, seen + 1
    return False


def describe(error: BaseException) -> str:
    """The error as a dead letter names it: its type and message."""
    text = str(error)
    return f"{type(error).__name__}: {text}" if text else type(error).__name__


@dataclass(frozen=True)
class RetryPolicy:
    """How often and how soon a failing record is tried again."""

    attempts: int = 3
    """Tries in all of a record whose handling fails with an error that is not an outage; the
    last failure gives it up (dead letter)."""
    backoff_seconds: float = 0.5
    """The wait before the second try; it doubles with each further one."""
    longest_backoff_seconds: float = 5.0
    """The longest wait between two tries, outages included (they are retried forever)."""

    def __post_init__(self) -> None:
        if self.attempts < 1:
            raise ValueError("a record is tried at least once")

    def gives_up(self, failures: int) -> bool:
        """Whether a record that failed ``failures`` times (outages not counted) is given up."""
        return failures >= self.attempts

    def wait_after(self, failures: int) -> float:
        """The wait before the next try after the ``failures``-th failure in a row (1, 2 …)."""
        return float(
            min(self.longest_backoff_seconds, self.backoff_seconds * 2 ** max(0, failures - 1))
        )


K = TypeVar("K", bound=Hashable)


@dataclass
class _Count:
    failures: int = 0
    """Failures that were not outages."""
    outages: int = 0
    """Outages in a row since the last failure of another kind."""


class RetryState(Generic[K]):
    """The failures of records being retried, by key (a record's topic, partition and offset;
    a schedule's id), for consumers that try a record again by having it redelivered. Bounded:
    past ``keep`` keys the oldest is forgotten (its record then starts counting afresh)."""

    def __init__(self, policy: RetryPolicy, *, keep: int = 10_000) -> None:
        self.policy = policy
        self._keep = keep
        self._counts: dict[K, _Count] = {}

    def failed(self, key: K, error: BaseException) -> float | None:
        """Count a failure of ``key``: the wait before its next try, or None when it is given
        up (then it is forgotten)."""
        count = self._counts.pop(key, None) or _Count()
        if is_outage(error):
            count.outages += 1
            wait = self.policy.wait_after(count.outages)
        else:
            count.failures += 1
            count.outages = 0
            if self.policy.gives_up(count.failures):
                return None
            wait = self.policy.wait_after(count.failures)
        self._counts[key] = count  # re-inserted: the most recently failed are kept longest
        while len(self._counts) > self._keep:
            del self._counts[next(iter(self._counts))]
        return wait

    def failures(self, key: K) -> int:
        """Failures of ``key`` so far that were not outages."""
        count = self._counts.get(key)
        return count.failures if count is not None else 0

    def succeeded(self, key: K) -> None:
        """``key`` was handled (or dropped): forget its failures."""
        self._counts.pop(key, None)


def retry_policy(settings: HeraldSettings) -> RetryPolicy:
    """The policy ``HERALD_HANDLER_ATTEMPTS`` and ``HERALD_HANDLER_BACKOFF_SECONDS`` set."""
    return RetryPolicy(
        attempts=settings.handler_attempts, backoff_seconds=settings.handler_backoff_seconds
    )
