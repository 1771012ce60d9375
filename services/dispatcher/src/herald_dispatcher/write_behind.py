"""Writes a fan-out does not have to wait for, run alongside its next batches.

The fan-out remembers each batch's recipients' accounts (the sticky memory the next campaign
reads) once the batch's messages are stored. Nothing of the batch's publication depends on it,
and on the MongoDB-wire server of local runs those inserts into another collection than the
messages' run several times slower while the senders write (figures in docs/benchmarks.md), so
they go on in the background, at most a few batches behind; the fan-out waits for them before it
ends.

A dispatcher that dies mid-fan-out may leave the last few batches' recipients unremembered:
their next campaign chooses their account afresh (still within caps). Stickiness is a
preference, not a guarantee; no message is lost or sent twice by it.
"""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import Coroutine
from typing import Any

MAX_BEHIND = 4
"""Writes in flight before the fan-out waits for the oldest: bounds the memory they hold."""


class WriteBehind:
    def __init__(self, max_behind: int = MAX_BEHIND) -> None:
        self._max_behind = max_behind
        self._running: deque[asyncio.Task[Any]] = deque()

    async def start(self, write: Coroutine[Any, Any, Any]) -> None:
        """Run ``write`` in the background; first wait for the oldest one while
        ``max_behind`` are in flight (raising its error, if it failed)."""
        while len(self._running) >= self._max_behind:
            await self._running.popleft()
        self._running.append(asyncio.create_task(write))

    async def drain(self) -> None:
        """Wait for every write started; raises the first error among them."""
        while self._running:
            await self._running.popleft()

    def cancel(self) -> None:
        """Stop the writes in flight (the fan-out failed): their recipients stay
        unremembered, as after a crash."""
        while self._running:
            self._running.popleft().cancel()
