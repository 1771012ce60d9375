"""The dispatcher's periodic release of deferred messages (those no sender account had room for
when they were created): every interval, the ones whose window opened get an account and go to
the attempt plan's first send topic.

Every replica runs it; the release is a compare-and-set per message, so replicas do not publish
a message twice, and a pass that fails is logged and tried again at the next interval.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from datetime import datetime

from faststream.kafka import KafkaBroker

from herald_core.accounts.shared_gateway import SharedGateway
from herald_core.contracts.common import utc_now
from herald_dispatcher.account_assignment import release_deferred_messages
from herald_dispatcher.metrics import MESSAGES_RELEASED
from herald_infra.mongo.client import Database
from herald_infra.runtime.logging import get_logger

log = get_logger(__name__)


class DeferredRelease:
    def __init__(
        self,
        db: Database,
        broker: KafkaBroker,
        *,
        interval_seconds: float,
        topic: str,
        shared_gateway: SharedGateway | None,
        batch_size: int,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._db = db
        self._broker = broker
        self._interval = interval_seconds
        self._topic = topic
        self._shared_gateway = shared_gateway
        self._batch_size = batch_size
        self._clock = clock
        self._task: asyncio.Task[None] | None = None

    async def release_once(self) -> int:
        """One pass; returns how many messages were released."""
        released = await release_deferred_messages(
            self._db,
            self._broker,
            self._clock(),
            topic=self._topic,
            shared_gateway=self._shared_gateway,
            batch_size=self._batch_size,
        )
        if released:
            MESSAGES_RELEASED.inc(released)
            log.info("deferred messages released", released=released)
        return released

    async def start(self) -> None:
        self._task = asyncio.create_task(self._run(), name="deferred-release")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def _run(self) -> None:
        while True:
            try:
                await self.release_once()
            except Exception as error:
                log.warning("release of deferred messages failed; trying again", error=repr(error))
            await asyncio.sleep(self._interval)
