import asyncio

import pytest

from herald_dispatcher.write_behind import WriteBehind


async def test_writes_run_in_the_background_at_most_so_many_behind() -> None:
    behind = WriteBehind(max_behind=2)
    gates = [asyncio.Event() for _ in range(3)]
    done: list[int] = []

    async def write(n: int) -> None:
        await gates[n].wait()
        done.append(n)

    await behind.start(write(0))
    await behind.start(write(1))  # two in flight: the caller went on
    third = asyncio.create_task(behind.start(write(2)))
    await asyncio.sleep(0)
    assert not third.done()  # waits for the oldest
    gates[0].set()
    await asyncio.wait_for(third, timeout=5)
    assert done == [0]
    gates[1].set()
    gates[2].set()
    await asyncio.wait_for(behind.drain(), timeout=5)
    assert sorted(done) == [0, 1, 2]


async def test_a_failed_write_surfaces_when_the_fan_out_drains() -> None:
    behind = WriteBehind()

    async def failing() -> None:
        raise RuntimeError("server gone")

    await behind.start(failing())
    with pytest.raises(RuntimeError, match="server gone"):
        await behind.drain()


async def test_cancel_stops_the_writes_in_flight() -> None:
    behind = WriteBehind()
    started = asyncio.Event()

    async def endless() -> None:
        started.set()
        await asyncio.Event().wait()

    await behind.start(endless())
    await asyncio.wait_for(started.wait(), timeout=5)
    behind.cancel()
    await asyncio.wait_for(behind.drain(), timeout=5)  # nothing left to wait for
