"""The firing loop of the active scheduler replica: fire each due schedule, once.

Every firing is recorded in ``schedule_firings`` under its firing id (schedule and due time)
before anything else; the insert is the one place where two replicas (or two loops) could both
decide to fire, and only one insert succeeds: the other skips. Then the schedule moves on (its
next run, or inactive after a one-shot), then the action runs, then the firing is ``done``.

- A replica that dies mid-firing leaves its firing ``started``; the next leader completes such
  firings first (actions are idempotent, the schedule's move is a compare-and-set). It leaves
  alone, for a lease's time, one touched just now: its replica may be alive and finishing it.
- A campaign send whose publish failed leaves its firing ``started`` and is retried with
  back-off while this replica leads: for as long as MongoDB or Kafka are away, and otherwise
  ``HERALD_HANDLER_ATTEMPTS`` times in all; then the firing is ``done`` with outcome
  ``given-up`` and its dead letter (the run command, reason ``internal-error``) is on
  ``message.dlt``. A failed redrive or sweep is recorded ``failed`` (its next run does
  everything again).
- A schedule the loop cannot even fire or move on (a document it cannot read, a cron
  expression that no longer fires) is skipped so that the others fire, tried again after a
  back-off, and after ``HERALD_HANDLER_ATTEMPTS`` failures made inactive (``stoppedReason``) and
  dead-lettered.
- A campaign send runs inline (one Kafka publish); the redrive and the sweep run beside the
  loop, so a long sweep never delays a send, and a system job whose previous run is still going
  waits for it (its missed slots then fire once).
- Between looks the loop sleeps until the next known run, at most a tick
  (``HERALD_SCHEDULER_TICK_SECONDS``): a job fires within a tick of its time.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta

from pymongo.errors import DuplicateKeyError
from structlog.contextvars import bound_contextvars

from herald_core.contracts.common import utc_now
from herald_core.schedules import FIRING_STARTED, SYSTEM_KINDS, Firing
from herald_infra.kafka.handler_retries import (
    INTERNAL_ERROR,
    RetryPolicy,
    RetryState,
    describe,
    is_outage,
)
from herald_infra.mongo.client import SCHEDULE_FIRINGS, SCHEDULES, Database, Document
from herald_infra.runtime.logging import get_logger
from herald_infra.runtime.metrics import HANDLER_FAILURES
from herald_scheduler.actions import FiringActions, InvalidJob
from herald_scheduler.due_jobs import (
    DueFiring,
    FiringReason,
    Job,
    after_firing,
    due_firing,
    lateness_seconds,
    wait_seconds,
)
from herald_scheduler.lease import LeaderLease
from herald_scheduler.metrics import FIRING_LATENESS, FIRINGS

log = get_logger(__name__)

STARTED = FIRING_STARTED
DONE = "done"
GIVEN_UP = "given-up"
"""The outcome of a firing whose action kept failing (not an outage): it is dead-lettered."""
DUE_BATCH = 100
RETRY_FIRST_SECONDS = 1.0
RETRY_MAX_SECONDS = 60.0


@dataclass
class _Retry:
    job: Job
    due: DueFiring
    attempts: int
    at: datetime
    failures: int = 0
    """Failures that were not outages: the firing is given up at the policy's attempts."""


def job_document(job: Job) -> Document:
    """What the loop knows of a schedule, as its document names it (for its dead letter)."""
    return {
        "_id": job.id,
        "kind": job.kind.value,
        "tenantId": job.tenant_id,
        "campaignId": job.campaign_id,
    }


def retry_delay(attempts: int) -> float:
    """Back-off before the next try of a failed action: 1 s, 2 s, 4 s … at most a minute."""
    return float(min(RETRY_MAX_SECONDS, RETRY_FIRST_SECONDS * 2 ** max(0, attempts - 1)))


class FiringLoop:
    def __init__(
        self,
        db: Database,
        lease: LeaderLease,
        actions: FiringActions,
        *,
        tick_seconds: float,
        abandon_after_seconds: float,
        clock: Callable[[], datetime] = utc_now,
        retry: RetryPolicy | None = None,
    ) -> None:
        """``retry``: how often a failure that is not an outage is tried again, of a firing's
        action or of a schedule the loop cannot fire, before it is given up."""
        self._schedules = db[SCHEDULES]
        self._firings = db[SCHEDULE_FIRINGS]
        self._lease = lease
        self._actions = actions
        self._tick = tick_seconds
        self._clock = clock
        self._owner = lease.owner
        self._abandon_after = timedelta(seconds=abandon_after_seconds)
        self._takeover_pending = True
        self._watched: dict[str, datetime] = {}
        """Firings another replica left ``started`` recently: when to look at them again."""
        self._retries: dict[str, _Retry] = {}
        self._policy = retry or RetryPolicy()
        self._unfireable: RetryState[str] = RetryState(self._policy)
        """Schedules the loop failed to fire or move on, by id."""
        self._held_back: dict[str, datetime] = {}
        """When such a schedule is tried again."""
        self._beside: dict[str, asyncio.Task[None]] = {}
        self._wake = asyncio.Event()

    def leadership_acquired(self) -> None:
        """Called when this replica took the lease: complete abandoned firings first."""
        self._takeover_pending = True
        self._wake.set()

    async def run_forever(self) -> None:
        while True:
            try:
                wait = await self.tick()
            except asyncio.CancelledError:
                raise
            except Exception as error:
                log.error("firing loop pass failed", error=repr(error))
                wait = self._tick
            self._wake.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wake.wait(), timeout=wait)

    async def tick(self) -> float:
        """One look for due jobs (when leading); returns how long to sleep."""
        if not self._lease.is_leader():
            self._retries.clear()  # the next leader completes them
            self._watched.clear()
            return self._tick
        if self._takeover_pending:
            await self.complete_abandoned_firings()
            self._takeover_pending = False
        await self._take_over_watched()
        await self._retry_failed()
        for document in await self._due_schedules(self._clock()):
            if not self._lease.is_leader():
                break
            held_back = self._held_back.get(str(document.get("_id")))
            if held_back is not None and held_back > self._clock():
                continue
            try:
                job = Job.of(document)
                due = due_firing(job, self._clock())
                if due is not None and job.id not in self._beside:
                    await self.fire(job, due)
            except Exception as error:
                if is_outage(error):
                    raise  # nothing fires meanwhile: the next pass tries again
                await self._schedule_failed(document, error)
            else:
                self._unfireable.succeeded(job.id)
                self._held_back.pop(job.id, None)
        return await self._wait()

    async def _schedule_failed(self, document: Document, error: Exception) -> None:
        """A schedule that could not be fired or moved on (not an outage): skipped for a
        back-off while the others fire; made inactive and dead-lettered once it failed the
        policy's attempts."""
        schedule_id = str(document.get("_id"))
        wait = self._unfireable.failed(schedule_id, error)
        if wait is not None:
            HANDLER_FAILURES.labels(topic=SCHEDULES, outcome="retried").inc()
            self._held_back[schedule_id] = self._clock() + timedelta(seconds=wait)
            log.warning(
                "schedule could not be fired; the others go on",
                schedule_id=schedule_id,
                retry_in_seconds=wait,
                error=describe(error)[:300],
            )
            return
        HANDLER_FAILURES.labels(topic=SCHEDULES, outcome=GIVEN_UP).inc()
        self._held_back.pop(schedule_id, None)
        now = self._clock()
        await self._schedules.update_one(
            {"_id": document.get("_id")},
            {
                "$set": {
                    "active": False,
                    "stoppedAt": now,
                    "updatedAt": now,
                    "stoppedReason": f"{INTERNAL_ERROR}: {describe(error)}"[:1000],
                },
                "$unset": {"nextRunAt": "", "runRequestedAt": ""},
            },
        )
        try:
            await self._actions.dead_letter(document, None, error, attempts=self._policy.attempts)
        except Exception as failure:
            if is_outage(failure):
                raise
            log.error("schedule's dead letter not published", error=describe(failure)[:300])
        log.error(
            "schedule kept failing; made inactive and dead-lettered",
            schedule_id=schedule_id,
            error=describe(error)[:500],
        )

    async def _due_schedules(self, now: datetime) -> list[Document]:
        # Two queries rather than one $or, each on the (active, nextRunAt) index's prefix.
        due = [
            d
            async for d in self._schedules.find({"active": True, "nextRunAt": {"$lte": now}})
            .sort("nextRunAt", 1)
            .limit(DUE_BATCH)
        ]
        seen = {d["_id"] for d in due}
        due += [
            d
            async for d in self._schedules.find(
                {"active": True, "runRequestedAt": {"$lte": now}}
            ).limit(DUE_BATCH)
            if d["_id"] not in seen
        ]
        return due

    async def _wait(self) -> float:
        now = self._clock()
        upcoming = await self._schedules.find_one(
            {"active": True, "nextRunAt": {"$gt": now}}, {"nextRunAt": 1}, sort=[("nextRunAt", 1)]
        )
        wait = wait_seconds(upcoming["nextRunAt"] if upcoming else None, now, self._tick)
        if self._retries:
            soonest = min(r.at for r in self._retries.values())
            wait = min(wait, max(0.0, (soonest - now).total_seconds()))
        return wait

    async def fire(self, job: Job, due: DueFiring) -> bool:
        """Record the firing, move the schedule on, run the action; False when the firing was
        recorded already (another replica or loop fired it). Raises what fails to move the
        schedule on (not an outage), the action then being tried later all the same."""
        firing = due.firing
        now = self._clock()
        try:
            await self._firings.insert_one(
                {
                    "_id": firing.firing_id,
                    "scheduleId": job.id,
                    "kind": job.kind.value,
                    "tenantId": job.tenant_id,
                    "campaignId": job.campaign_id,
                    "scheduledFor": firing.scheduled_for,
                    "reason": due.reason.value,
                    "firedAt": now,
                    "latenessSeconds": lateness_seconds(job, due, now),
                    "state": STARTED,
                    "by": self._owner,
                    "attempts": 1,
                }
            )
        except DuplicateKeyError:
            FIRINGS.labels(kind=job.kind.value, outcome="duplicate").inc()
            log.info("firing recorded already; skipped", firing_id=firing.firing_id)
            # Its firer may have died before moving the schedule on: the move is idempotent.
            await self._move_on(job, due, now)
            return False
        FIRING_LATENESS.labels(kind=job.kind.value).observe(lateness_seconds(job, due, now))
        log.info(
            "schedule fired",
            firing_id=firing.firing_id,
            kind=job.kind.value,
            campaign_id=job.campaign_id,
            reason=due.reason.value,
            lateness_seconds=round(lateness_seconds(job, due, now), 3),
        )
        try:
            await self._move_on(job, due, now)
        except Exception as error:
            # Recorded, not acted on: act later; the next look moves the schedule on (or,
            # should it keep failing, gives the schedule up).
            if is_outage(error):
                self._fail(job, due, error)
                return True
            self._retries[firing.firing_id] = _Retry(job, due, 1, now)
            raise  # the schedule itself failed: the pass counts it
        await self._run(job, due, outcome="done")
        return True

    async def _move_on(self, job: Job, due: DueFiring, now: datetime) -> None:
        """Move the schedule past this firing, if nobody did: its next run, or inactive."""
        after = after_firing(job, due, now)
        selector: Document = {"_id": job.id}
        if due.reason is FiringReason.SCHEDULED:
            selector["nextRunAt"] = due.firing.scheduled_for
        else:
            selector["runRequestedAt"] = due.firing.scheduled_for
        changes: Document = {
            "lastRunAt": now,
            "lastFiringId": due.firing.firing_id,
            "updatedAt": now,
        }
        unset: dict[str, str] = {}
        if due.reason is FiringReason.REQUESTED:
            unset["runRequestedAt"] = ""
        if after.active and after.next_run_at is not None:
            changes["nextRunAt"] = after.next_run_at
        elif not after.active:
            changes["active"] = False
            unset |= {"nextRunAt": "", "runRequestedAt": ""}
        update: Document = {"$set": changes}
        if unset:
            update["$unset"] = unset
        await self._schedules.update_one(selector, update)

    async def _run(self, job: Job, due: DueFiring, *, outcome: str) -> None:
        if job.kind in SYSTEM_KINDS:
            task = asyncio.create_task(
                self._complete(job, due, outcome=outcome), name=f"firing:{due.firing.firing_id}"
            )
            self._beside[job.id] = task
            task.add_done_callback(lambda _: self._beside.pop(job.id, None))
        else:
            await self._complete(job, due, outcome=outcome)

    async def _complete(self, job: Job, due: DueFiring, *, outcome: str) -> None:
        """Run the action and mark the firing done; on failure keep it ``started`` for a retry."""
        firing_id = due.firing.firing_id
        with bound_contextvars(firing_id=firing_id, campaign_id=job.campaign_id):
            try:
                detail = await self._actions.run(job, due.firing)
            except InvalidJob as error:
                outcome, detail = "invalid", str(error)
                log.error("firing cannot act", error=detail)
            except Exception as error:
                if job.kind in SYSTEM_KINDS:
                    # The redrive and the sweep are not retried: their next run does it all
                    # again.
                    outcome, detail = "failed", repr(error)[:500]
                    log.error("system job failed", kind=job.kind.value, error=detail)
                elif not self._fail(job, due, error):
                    return
                else:
                    outcome, detail = GIVEN_UP, f"{INTERNAL_ERROR}: {describe(error)}"[:500]
                    attempts = self._policy.attempts
                    await self._actions.dead_letter(
                        job_document(job), due.firing, error, attempts=attempts
                    )
                    log.error("firing kept failing; dead-lettered", error=detail)
        self._retries.pop(firing_id, None)
        await self._firings.update_one(
            {"_id": firing_id, "state": STARTED},
            {
                "$set": {
                    "state": DONE,
                    "doneAt": self._clock(),
                    "outcome": outcome,
                    "detail": detail,
                }
            },
        )
        FIRINGS.labels(kind=job.kind.value, outcome=outcome).inc()

    def _fail(self, job: Job, due: DueFiring, error: Exception) -> bool:
        """Schedule another try of a firing whose action failed: with back-off for as long as
        MongoDB or Kafka are away, and up to the policy's attempts for anything else; True when
        it is given up instead."""
        firing_id = due.firing.firing_id
        earlier = self._retries.get(firing_id)
        attempts = (earlier.attempts if earlier is not None else 0) + 1
        failures = earlier.failures if earlier is not None else 0
        if is_outage(error):
            delay = retry_delay(attempts)
            HANDLER_FAILURES.labels(topic=SCHEDULES, outcome="outage").inc()
        else:
            failures += 1
            if self._policy.gives_up(failures):
                HANDLER_FAILURES.labels(topic=SCHEDULES, outcome=GIVEN_UP).inc()
                return True
            delay = self._policy.wait_after(failures)
            HANDLER_FAILURES.labels(topic=SCHEDULES, outcome="retried").inc()
        self._retries[firing_id] = _Retry(
            job, due, attempts, self._clock() + timedelta(seconds=delay), failures
        )
        FIRINGS.labels(kind=job.kind.value, outcome="failed").inc()
        log.warning(
            "firing action failed; retrying",
            firing_id=firing_id,
            attempts=attempts,
            retry_in_seconds=delay,
            error=repr(error)[:300],
        )
        return False

    async def _retry_failed(self) -> None:
        now = self._clock()
        for firing_id, retry in list(self._retries.items()):
            if retry.at > now or retry.job.id in self._beside:
                continue
            await self._firings.update_one(
                {"_id": firing_id, "state": STARTED}, {"$inc": {"attempts": 1}}
            )
            await self._run(retry.job, retry.due, outcome="done")

    async def complete_abandoned_firings(self) -> int:
        """Complete the firings other replicas left ``started``; returns how many this replica
        took over. One touched within the last ``abandon_after_seconds`` may still be under
        way (its replica lost the lease but lives): it is looked at again once that long has
        passed, and taken over only if still ``started``."""
        candidates = [
            d async for d in self._firings.find({"state": STARTED, "by": {"$ne": self._owner}})
        ]
        return await self._take_over(candidates)

    async def _take_over_watched(self) -> int:
        now = self._clock()
        ripe = [firing_id for firing_id, at in self._watched.items() if at <= now]
        if not ripe:
            return 0
        for firing_id in ripe:
            del self._watched[firing_id]
        candidates = [
            d
            async for d in self._firings.find(
                {"_id": {"$in": ripe}, "state": STARTED, "by": {"$ne": self._owner}}
            )
        ]
        return await self._take_over(candidates)

    async def _take_over(self, candidates: list[Document]) -> int:
        taken = 0
        now = self._clock()
        for firing in candidates:
            touched = firing.get("resumedAt") or firing["firedAt"]
            free_at = touched + self._abandon_after
            if free_at > now:
                self._watched[firing["_id"]] = free_at
                continue
            claimed = await self._firings.update_one(
                {"_id": firing["_id"], "state": STARTED, "by": firing["by"]},
                {"$set": {"by": self._owner, "resumedAt": now}, "$inc": {"attempts": 1}},
            )
            if not claimed.modified_count:
                continue
            document = await self._schedules.find_one({"_id": firing["scheduleId"]})
            if document is None:
                await self._firings.update_one(
                    {"_id": firing["_id"]},
                    {"$set": {"state": DONE, "doneAt": now, "outcome": "schedule-gone"}},
                )
                continue
            log.warning(
                "completing a firing another replica left",
                firing_id=firing["_id"],
                left_by=firing["by"],
            )
            try:
                job = Job.of(document)
                due = DueFiring(
                    Firing(firing["scheduleId"], firing["scheduledFor"]),
                    FiringReason(firing["reason"]),
                )
            except Exception as error:  # a document this loop cannot read: not ours to fire
                if is_outage(error):
                    raise
                await self._firings.update_one(
                    {"_id": firing["_id"]},
                    {
                        "$set": {
                            "state": DONE,
                            "doneAt": now,
                            "outcome": GIVEN_UP,
                            "detail": f"{INTERNAL_ERROR}: {describe(error)}"[:500],
                        }
                    },
                )
                await self._schedule_failed(document, error)
                continue
            try:
                await self._move_on(job, due, now)
            except Exception as error:
                if is_outage(error):
                    raise
                # Acted on all the same; the loop's passes give the schedule up should it keep
                # failing to move on.
                log.warning("schedule could not be moved on", error=describe(error)[:300])
            await self._run(job, due, outcome="resumed")
            taken += 1
        return taken

    async def stop(self, timeout: float = 30.0) -> None:
        """Let the redrive or sweep under way finish (up to ``timeout``), then cancel it."""
        tasks = list(self._beside.values())
        if not tasks:
            return
        _, pending = await asyncio.wait(tasks, timeout=timeout)
        for task in pending:
            task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await asyncio.gather(*pending, return_exceptions=True)
