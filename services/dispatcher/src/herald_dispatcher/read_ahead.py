"""Preparing the next batch while the current one is worked on.

A fan-out's batch first reads (its messages that exist, the tenant's accounts, the recipients'
last accounts), then writes and publishes. Those reads of batch k+1 depend on nothing batch k
writes, so they go on while batch k is stored and published: on a busy server each batch's
reads cost a wait of their own, and this hides it. (The accounts' usage is read when the batch
is dispatched: batch k's takes change it.)
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable
from typing import TypeVar

Item = TypeVar("Item")
Prepared = TypeVar("Prepared")


async def read_ahead(
    items: AsyncIterator[Item], prepare: Callable[[Item], Awaitable[Prepared]]
) -> AsyncGenerator[Prepared, None]:
    """``prepare(item)`` of each item, in order, each prepared while the caller still works on
    the one before (at most one waits ready). An error of ``items`` or ``prepare`` is raised
    to the caller in its turn; closing the iterator stops the preparing."""
    ready: asyncio.Queue[tuple[Prepared] | Exception | None] = asyncio.Queue(maxsize=1)

    async def produce() -> None:
        try:
            async for item in items:
                await ready.put((await prepare(item),))
        except Exception as error:
            await ready.put(error)
            return
        await ready.put(None)

    producer = asyncio.create_task(produce(), name="read-ahead")
    try:
        while (got := await ready.get()) is not None:
            if isinstance(got, Exception):
                raise got
            yield got[0]
    finally:
        producer.cancel()
