"""Riding out a MongoDB outage: which errors mean "the database is away", and a write that is
retried, with back-off, until the database answers again.

A sender that has called the gateway must record what happened, whatever the database does
meanwhile: giving up would leave the message to be handled again, and so sent again. Such a
recording is retried here in place, never by handling the send record again.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable
from typing import TypeVar

from pymongo.errors import ConnectionFailure, PyMongoError

from herald_infra.runtime.logging import get_logger

log = get_logger(__name__)

T = TypeVar("T")

FIRST_WAIT_SECONDS = 0.2
LONGEST_WAIT_SECONDS = 5.0
LOG_EVERY_SECONDS = 10.0


def is_database_outage(error: BaseException) -> bool:
    """Whether ``error`` says the database is unreachable or not accepting writes (connection
    lost, no server selectable, shutting down, stepping down), as opposed to a refused or
    broken operation, which another try would not mend."""
    if isinstance(error, ConnectionFailure):  # AutoReconnect, NetworkTimeout, selection timeout
        return True
    return isinstance(error, PyMongoError) and error.has_error_label("RetryableWriteError")


def backoff_waits(
    first: float = FIRST_WAIT_SECONDS, longest: float = LONGEST_WAIT_SECONDS
) -> Callable[[], float]:
    """Successive waits, doubling from ``first`` up to ``longest``. Pure."""
    wait = first / 2

    def next_wait() -> float:
        nonlocal wait
        wait = min(wait * 2, longest)
        return wait

    return next_wait


async def outlast_outage(
    write: Callable[[], Awaitable[T]],
    *,
    what: str,
    waits: Callable[[], Callable[[], float]] = backoff_waits,
) -> T:
    """``write()``, tried again with back-off for as long as the database is away; any other
    error propagates. ``write`` must be safe to repeat (a compare-and-set, an idempotent
    upsert): its first try may have applied without its answer arriving."""
    next_wait = waits()
    since = time.monotonic()
    next_log = 0.0
    while True:
        try:
            return await write()
        except PyMongoError as error:
            if not is_database_outage(error):
                raise
            away = time.monotonic() - since
            if away >= next_log:
                next_log = away + LOG_EVERY_SECONDS
                log.warning("database away, trying again", what=what, error=repr(error)[:200])
            await asyncio.sleep(next_wait())
