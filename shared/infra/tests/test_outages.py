"""Which database errors are outages, and a write retried through one. Pure: no server."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pymongo.errors import (
    AutoReconnect,
    DuplicateKeyError,
    NetworkTimeout,
    NotPrimaryError,
    OperationFailure,
    ServerSelectionTimeoutError,
)

from herald_infra.mongo.outages import backoff_waits, is_database_outage, outlast_outage


@pytest.mark.parametrize(
    "error",
    [
        AutoReconnect("connection reset by peer"),
        NetworkTimeout("timed out"),
        ServerSelectionTimeoutError("no server"),
        NotPrimaryError("not primary"),
        OperationFailure(
            "shutting down", code=91, details={"errorLabels": ["RetryableWriteError"]}
        ),
    ],
)
def test_the_database_being_away_is_an_outage(error: Exception) -> None:
    assert is_database_outage(error)


@pytest.mark.parametrize(
    "error",
    [
        DuplicateKeyError("E11000"),
        OperationFailure("bad update", code=9),
        ValueError("not a database error"),
    ],
)
def test_a_refused_operation_is_not_an_outage(error: Exception) -> None:
    assert not is_database_outage(error)


def test_waits_double_up_to_the_longest() -> None:
    next_wait = backoff_waits(0.2, 1.0)
    assert [next_wait() for _ in range(5)] == [0.2, 0.4, 0.8, 1.0, 1.0]


def no_waits() -> Callable[[], float]:
    return lambda: 0.0


async def test_a_write_is_tried_again_until_the_database_answers() -> None:
    tries: list[int] = []

    async def write() -> str:
        tries.append(1)
        if len(tries) < 4:
            raise AutoReconnect("connection refused")
        return "recorded"

    assert await outlast_outage(write, what="test", waits=no_waits) == "recorded"
    assert len(tries) == 4


async def test_an_error_that_is_not_an_outage_is_raised_at_once() -> None:
    tries: list[int] = []

    async def write() -> None:
        tries.append(1)
        raise DuplicateKeyError("E11000")

    with pytest.raises(DuplicateKeyError):
        await outlast_outage(write, what="test", waits=no_waits)
    assert len(tries) == 1
