"""The unsent worker: on the replica that holds the lease, it ends the unsent messages of
cancelled campaigns and of runs out of time, in batches, tenants in turn
(:mod:`herald_infra.messages.unsent_endings`), for as long as some are queued.

A cancel queues its campaign and answers; the sweep queues the runs whose validity window is
over. The queue is the work's only state, so a replica that dies or loses the lease mid-way
leaves the rest to the next leader. Rounds follow each other without a pause while there is
work: each is at most one batch per tenant, so MongoDB serves one batch at a time.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable

from herald_infra.kafka.handler_retries import is_outage
from herald_infra.messages.unsent_endings import RoundReport, UnsentEndings
from herald_infra.runtime.logging import get_logger
from herald_scheduler.metrics import SWEEP_ACTIONS

log = get_logger(__name__)


class UnsentWorker:
    def __init__(
        self,
        endings: UnsentEndings,
        *,
        leading: Callable[[], bool],
        idle_seconds: float,
    ) -> None:
        """``leading``: whether this replica holds the lease now (only then does it work)."""
        self._endings = endings
        self._leading = leading
        self._idle_seconds = idle_seconds

    async def run_forever(self) -> None:
        while True:
            report = await self.run_round() if self._leading() else None
            if report is None or not (report.found or report.finished):
                await asyncio.sleep(self._idle_seconds)
            else:
                await asyncio.sleep(0)  # the replica's other tasks (lease, firings) get a turn

    async def run_round(self) -> RoundReport | None:
        """One round; None if it failed (logged; the next round starts over from the queue)."""
        try:
            report = await self._endings.run_round()
        except asyncio.CancelledError:
            raise
        except Exception as error:
            level = log.warning if is_outage(error) else log.error
            level("unsent worker round failed", error=repr(error))
            return None
        for target, moved in report.moved.items():
            SWEEP_ACTIONS.labels(action=target).inc(moved)
        return report
