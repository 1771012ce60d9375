import asyncio
from collections.abc import AsyncIterator
from contextlib import aclosing

import pytest

from herald_dispatcher.read_ahead import read_ahead


async def numbers(count: int, log: list[str]) -> AsyncIterator[int]:
    for n in range(count):
        log.append(f"read {n}")
        yield n


async def test_the_next_item_is_prepared_while_the_caller_works_on_the_current_one() -> None:
    log: list[str] = []
    prepared_one = asyncio.Event()

    async def prepare(n: int) -> int:
        log.append(f"prepared {n}")
        if n == 1:
            prepared_one.set()
        return n * 10

    got = []
    async for value in read_ahead(numbers(3, log), prepare):
        if value == 0:
            # Item 1 gets ready while item 0 is still being worked on.
            await asyncio.wait_for(prepared_one.wait(), timeout=5)
        got.append(value)
    assert got == [0, 10, 20]
    assert log.index("prepared 1") < log.index("read 2")  # at most one waits ready


async def test_an_error_while_preparing_reaches_the_caller_in_its_turn() -> None:
    async def prepare(n: int) -> int:
        if n == 2:
            raise RuntimeError("server gone")
        return n

    got = []
    with pytest.raises(RuntimeError, match="server gone"):
        async for value in read_ahead(numbers(5, []), prepare):
            got.append(value)
    assert got == [0, 1]


async def test_stopping_early_stops_the_preparing() -> None:
    log: list[str] = []

    async def prepare(n: int) -> int:
        return n

    batches = read_ahead(numbers(100, log), prepare)
    async with aclosing(batches):
        async for value in batches:
            if value == 1:
                break
    await asyncio.sleep(0.05)
    assert len(log) <= 4  # read no further than the next couple of items
