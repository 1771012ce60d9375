"""One scheduler replica: it writes the system jobs, keeps trying for the lease, and fires while
it holds it. Any number of replicas may run; one fires at a time."""

from __future__ import annotations

import asyncio
import contextlib

from herald_core.contracts.common import utc_now
from herald_infra.mongo.client import Database
from herald_infra.runtime.logging import get_logger
from herald_scheduler.firing_loop import FiringLoop
from herald_scheduler.lease import LeaderLease, LeaseStatus
from herald_scheduler.metrics import LEADER
from herald_scheduler.system_jobs import SystemJob, ensure_system_jobs
from herald_scheduler.unsent_worker import UnsentWorker

log = get_logger(__name__)


class SchedulerReplica:
    def __init__(
        self,
        db: Database,
        lease: LeaderLease,
        loop: FiringLoop,
        system_jobs: list[SystemJob],
        unsent: UnsentWorker | None = None,
    ) -> None:
        """``unsent``: the worker that ends queued unsent messages while this replica leads."""
        self._db = db
        self._lease = lease
        self._loop = loop
        self._system_jobs = system_jobs
        self._unsent = unsent
        self._tasks: list[asyncio.Task[None]] = []

    @property
    def owner(self) -> str:
        return self._lease.owner

    async def start(self) -> None:
        await ensure_system_jobs(self._db, self._system_jobs, utc_now())
        LEADER.set(0)
        self._tasks = [
            asyncio.create_task(self._keep_lease(), name="scheduler-lease"),
            asyncio.create_task(self._loop.run_forever(), name="scheduler-firing-loop"),
        ]
        if self._unsent is not None:
            self._tasks.append(
                asyncio.create_task(self._unsent.run_forever(), name="scheduler-unsent-worker")
            )
        log.info("scheduler replica started", owner=self.owner)

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        await self._loop.stop()
        with contextlib.suppress(Exception):
            await self._lease.release()
        LEADER.set(0)

    async def _keep_lease(self) -> None:
        while True:
            try:
                status = await self._lease.try_hold()
                if status is LeaseStatus.ACQUIRED:
                    self._loop.leadership_acquired()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                # The lease this replica holds (if any) lasts until it ends by its own clock.
                log.warning("lease renewal failed", error=repr(error))
            LEADER.set(1 if self._lease.is_leader() else 0)
            await asyncio.sleep(self._lease.next_attempt_in())
