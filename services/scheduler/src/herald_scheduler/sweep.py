"""The sweep (the seed's queue processor, every five minutes by default): what keeps messages
and campaigns moving when a process died at the wrong moment.

Steps, in order, each its own function and each safe to run twice or from two places at once
(every change is a compare-and-set):

1. resolve expired claims (``sending`` past their lease) by the configured policy;
2. queue for the unsent worker (:mod:`.unsent_worker`) the overdue unsent messages, and the
   unsent messages cancelled campaigns still have (the worker ends them in batches);
3. publish again the messages whose publish was lost: ``pending`` ones with a sender account,
   and ``queued`` ones past the watermark of a fan-out that stalled;
4. reconcile the counters of active and recently finished campaigns with a recount;
5. complete the campaigns whose run is over (``running`` → ``completed``, or ``scheduled``
   while a recurring schedule goes on) and publish ``CampaignCompleted`` / ``CampaignFailed``;
6. pause by the system a running campaign whose messages fail (``PauseCampaign`` by system).

A step that fails is logged and the others still run; the sweep then reports the failure, so
its firing is tried again. Within a step, a campaign (or message) whose work fails for a reason
other than an outage is skipped and the step goes on with the others (see
:mod:`.sweep_failures`: after ``HERALD_HANDLER_ATTEMPTS`` sweeps in a row it is dead-lettered).
"""

from __future__ import annotations

import time
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any, TypeVar

from faststream.kafka import KafkaBroker

from herald_core.attempt_plan import AttemptPlan
from herald_core.campaigns.lifecycle import CampaignStatus, status_after_run
from herald_core.contracts.commands import PauseCampaign
from herald_core.contracts.common import utc_now
from herald_core.contracts.events import CampaignCompleted, CampaignFailed
from herald_core.contracts.topics import CAMPAIGN_EVENTS, CAMPAIGN_SYSTEM_COMMANDS
from herald_core.messages.states import MessageStatus
from herald_core.schedules import campaign_schedule_id
from herald_infra.campaigns.fan_out_watermark import FAN_OUT, Watermark, stalled_fan_out
from herald_infra.kafka.handler_retries import retry_policy
from herald_infra.messages.counters import count_by_status, reconcile_counters
from herald_infra.messages.queueing import (
    publish_send_events,
    queue_messages,
    send_event_from_document,
)
from herald_infra.messages.unsent import HELD_AT, UNSENT_STATUSES, WINDOWED_CAMPAIGN_STATUSES
from herald_infra.messages.unsent_endings import queue_unsent_ending
from herald_infra.mongo.client import (
    CAMPAIGN_RUNS,
    CAMPAIGNS,
    MESSAGES,
    SCHEDULES,
    UNSENT_ENDINGS,
    Database,
    Document,
)
from herald_infra.runtime.logging import get_logger
from herald_scheduler.campaign_rules import (
    UNFINISHED_STATUSES,
    RunEnd,
    auto_pause_event_id,
    auto_pause_verdict,
    run_event_id,
    run_is_over,
    run_verdict,
)
from herald_scheduler.expired_claims import ExpiredClaimPolicy, resolve_expired_claims
from herald_scheduler.metrics import SWEEP_ACTIONS, SWEEP_DURATION
from herald_scheduler.retention_rules import campaign_run_id
from herald_scheduler.settings import SchedulerSettings
from herald_scheduler.sweep_failures import SweepItemFailures

log = get_logger(__name__)

T = TypeVar("T")
C = CampaignStatus
RECONCILED_STATUSES = (C.RUNNING, C.PAUSED, C.SCHEDULED)
FINISHED = (C.COMPLETED, C.CANCELLED)
UNFINISHED = [s.value for s in UNFINISHED_STATUSES]
UNSENT = [s.value for s in UNSENT_STATUSES]
RUN_COMPLETION = "runCompletion"
"""On a campaign: the end of its latest run (``run``, ``outcome``, ``reason``, ``at``,
``publishedAt`` once its event is on Kafka)."""


@dataclass
class SweepReport:
    """What one sweep did."""

    claims_failed: int = 0
    claims_resent: int = 0
    unsent_endings_queued: int = 0
    """Campaigns whose unsent messages it queued to end (expired, or cancelled)."""
    republished: int = 0
    counters_reconciled: int = 0
    completed: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    auto_paused: list[str] = field(default_factory=list)
    errors: dict[str, str] = field(default_factory=dict)

    def summary(self) -> str:
        return (
            f"claims failed {self.claims_failed}, resent {self.claims_resent}; unsent endings "
            f"queued {self.unsent_endings_queued}; republished {self.republished}; "
            f"counters reconciled {self.counters_reconciled}; completed {len(self.completed)}, "
            f"failed {len(self.failed)}; auto-paused {len(self.auto_paused)}"
        )


class SweepIncomplete(RuntimeError):
    """One or more steps failed; the others ran."""


async def resolve_claims(
    db: Database,
    broker: KafkaBroker,
    report: SweepReport,
    *,
    plan: AttemptPlan,
    policy: ExpiredClaimPolicy,
    now: datetime,
    limit: int,
    items: SweepItemFailures | None = None,
) -> None:
    """Step 1: claims whose lease ran out, by policy (:mod:`.expired_claims`)."""
    swept = await resolve_expired_claims(
        db,
        broker,
        plan=plan,
        policy=policy,
        now=now,
        limit=limit,
        items=items,
        errors=report.errors,
    )
    report.claims_failed += swept.failed
    report.claims_resent += swept.resent
    SWEEP_ACTIONS.labels(action="claims-failed").inc(swept.failed)
    SWEEP_ACTIONS.labels(action="claims-resent").inc(swept.resent)


async def end_unsent_messages(
    db: Database,
    report: SweepReport,
    *,
    now: datetime,
    recent_since: datetime,
    items: SweepItemFailures | None = None,
) -> None:
    """Step 2: queue for the unsent worker (:mod:`.unsent_worker`, which ends them in batches)
    the unsent messages past their validity window (they become ``expired``), and those a
    cancelled campaign still has once its cancel's were all ended (a fan-out batch made
    meanwhile): they become ``cancelled``. A campaign queued already is left as it is."""
    queued = {entry["_id"] async for entry in db[UNSENT_ENDINGS].find({}, {"_id": 1})}
    windowed = db[CAMPAIGNS].find(
        {
            "status": {"$in": [s.value for s in WINDOWED_CAMPAIGN_STATUSES]},
            "runExpiresAt": {"$ne": None},
        },
        {"tenantId": 1},
    )
    async for campaign in windowed:
        if campaign["_id"] in queued:
            continue

        async def queue_expiry(campaign: Document = campaign) -> int:
            overdue = {"expiresAt": {"$lte": now}}
            if not await has_messages_in(db, campaign["_id"], UNSENT, overdue):
                return 0
            await queue_unsent_ending(
                db,
                tenant_id=campaign["tenantId"],
                campaign_id=campaign["_id"],
                target=MessageStatus.EXPIRED,
                at=now,
            )
            return 1

        report.unsent_endings_queued += (
            await _each(items, "unsent", campaign, queue_expiry, report) or 0
        )
    async for campaign in db[CAMPAIGNS].find(
        {"status": C.CANCELLED.value}, {"counts": 1, "updatedAt": 1, "tenantId": 1}
    ):
        if campaign["_id"] in queued:
            continue

        async def queue_cancel(campaign: Document = campaign) -> int:
            counts = campaign.get("counts") or {}
            unsent = sum(int(counts.get(s, 0)) for s in UNSENT)
            updated_at = campaign.get("updatedAt")
            recent = isinstance(updated_at, datetime) and updated_at >= recent_since
            if not (unsent or recent) or not await has_messages_in(db, campaign["_id"], UNSENT):
                return 0
            await queue_unsent_ending(
                db,
                tenant_id=campaign["tenantId"],
                campaign_id=campaign["_id"],
                target=MessageStatus.CANCELLED,
                at=now,
            )
            return 1

        report.unsent_endings_queued += (
            await _each(items, "unsent", campaign, queue_cancel, report) or 0
        )


async def republish_lost_publishes(
    db: Database,
    broker: KafkaBroker,
    report: SweepReport,
    *,
    topic: str,
    published_before: datetime,
    limit: int,
    items: SweepItemFailures | None = None,
) -> None:
    """Step 3: messages whose publish was lost, up to ``limit`` per campaign, on the plan's
    first send topic. Only running campaigns' (a resume publishes a paused campaign's; a cancel
    ends a cancelled one's). A record published twice is harmless: a sender claims each
    attempt once.

    - ``pending`` messages that have a sender account and have waited since before
      ``published_before`` (whoever creates or releases one publishes it at once and marks it
      ``queued``): published and marked ``queued``;
    - the ``queued`` messages past the watermark of a fan-out that stalled since before
      ``published_before`` (see :mod:`herald_infra.campaigns.fan_out_watermark`): published, and the
      watermark moved past them."""
    running = [
        c
        async for c in db[CAMPAIGNS].find(
            {"status": C.RUNNING.value},
            {"_id": 1, "tenantId": 1, FAN_OUT: 1, "dispatchedRun": 1},
        )
    ]
    republished = 0
    for campaign in running:

        async def republish(campaign: Document = campaign) -> int:
            return await _republish_campaign(
                db, broker, campaign, topic=topic, published_before=published_before, limit=limit
            )

        republished += await _each(items, "republish", campaign, republish, report) or 0
    if republished:
        log.warning("messages whose publish was lost published again", messages=republished)
    report.republished += republished
    SWEEP_ACTIONS.labels(action="republished").inc(republished)


async def _republish_campaign(
    db: Database,
    broker: KafkaBroker,
    campaign: Document,
    *,
    topic: str,
    published_before: datetime,
    limit: int,
) -> int:
    """Step 3 for one running campaign; returns how many messages it published again."""
    republished = 0
    campaign_id = campaign["_id"]
    stale = [
        doc
        async for doc in db[MESSAGES]
        .find(
            {
                "campaignId": campaign_id,
                "status": MessageStatus.PENDING.value,
                "accountId": {"$ne": None},
                "updatedAt": {"$lte": published_before},
            }
        )
        .limit(limit)
    ]
    if stale:
        republished += await queue_messages(db, broker, campaign_id, stale, topic=topic)
    if stalled := stalled_fan_out(campaign, published_before):
        republished += await publish_past_watermark(
            db, broker, campaign_id, stalled, topic=topic, limit=limit
        )
    return republished


async def publish_past_watermark(
    db: Database,
    broker: KafkaBroker,
    campaign_id: str,
    watermark: Watermark,
    *,
    topic: str,
    limit: int,
) -> int:
    """Publish the first ``limit`` ``queued`` messages (not handed back) of the watermark's run
    past it, in contact order, then move it past them unless the fan-out moved it meanwhile."""
    found = [
        doc
        async for doc in db[MESSAGES]
        .find(
            {
                "campaignId": campaign_id,
                "status": MessageStatus.QUEUED.value,
                "run": watermark.run,
                "contactId": {"$gt": watermark.through or ""},
            }
        )
        .sort("contactId", 1)
        .limit(limit)
    ]
    if not found:
        return 0
    past = [doc for doc in found if HELD_AT not in doc]
    await publish_send_events(broker, [send_event_from_document(d) for d in past], topic)
    await db[CAMPAIGNS].update_one(
        {
            "_id": campaign_id,
            f"{FAN_OUT}.run": watermark.run,
            f"{FAN_OUT}.through": watermark.through,
        },
        {"$set": {f"{FAN_OUT}.through": found[-1]["contactId"], f"{FAN_OUT}.at": utc_now()}},
    )
    return len(past)


async def reconcile_campaign_counters(
    db: Database,
    report: SweepReport,
    *,
    recent_since: datetime,
    items: SweepItemFailures | None = None,
) -> None:
    """Step 4: set the counters of running, paused and scheduled campaigns, and of those that
    finished since ``recent_since``, to a recount of their messages."""
    campaigns = [
        c
        async for c in db[CAMPAIGNS].find(
            {"status": {"$in": [s.value for s in RECONCILED_STATUSES]}}, {"_id": 1, "tenantId": 1}
        )
    ]
    campaigns += [
        c
        async for c in db[CAMPAIGNS].find(
            {"status": {"$in": [s.value for s in FINISHED]}, "updatedAt": {"$gte": recent_since}},
            {"_id": 1, "tenantId": 1},
        )
    ]
    reconciled = 0
    for campaign in campaigns:

        async def reconcile(campaign_id: str = campaign["_id"]) -> int:
            corrections = await reconcile_counters(db, campaign_id)
            if corrections:
                log.warning("campaign counters reconciled", campaign_id=campaign_id, **corrections)
            return 1 if corrections else 0

        reconciled += await _each(items, "counters", campaign, reconcile, report) or 0
    report.counters_reconciled += reconciled
    SWEEP_ACTIONS.labels(action="counters-reconciled").inc(reconciled)


async def complete_finished_runs(
    db: Database,
    broker: KafkaBroker,
    report: SweepReport,
    *,
    now: datetime,
    items: SweepItemFailures | None = None,
) -> None:
    """Step 5: a running campaign whose run is over moves (compare-and-set on status and run)
    to ``completed``, or back to ``scheduled`` while its recurring schedule is active, and its
    ``CampaignCompleted`` (``CampaignFailed`` when the run sent nothing) is published; an end
    recorded whose event did not make it is published again."""
    async for campaign in db[CAMPAIGNS].find({"status": C.RUNNING.value}):

        async def end_if_over(campaign: Document = campaign) -> None:
            if int(campaign.get("dispatchedRun") or 0) != int(campaign.get("run") or 0):
                return  # the dispatcher is still making this run's messages
            unfinished = await has_messages_in(db, campaign["_id"], UNFINISHED)
            if run_is_over(campaign, unfinished_messages=unfinished):
                await _end_run(db, campaign, now)

        await _each(items, "completion", campaign, end_if_over, report)
    async for campaign in db[CAMPAIGNS].find(
        {f"{RUN_COMPLETION}.publishedAt": None, f"{RUN_COMPLETION}.run": {"$gte": 1}}
    ):

        async def announce(campaign: Document = campaign) -> RunEnd:
            return await _publish_run_end(db, broker, campaign)

        end = await _each(items, "completion-event", campaign, announce, report)
        if end is None:
            continue
        (report.failed if end is RunEnd.FAILED else report.completed).append(campaign["_id"])
        SWEEP_ACTIONS.labels(action=end.value).inc()


async def has_messages_in(
    db: Database, campaign_id: str, statuses: Sequence[str], selector: Document | None = None
) -> bool:
    """Whether the campaign has a message in one of ``statuses`` (and matching ``selector``): a
    lookup per status, each by the ``(status, campaignId, expiresAt)`` index."""
    for status in statuses:
        query = {"status": status, "campaignId": campaign_id, **(selector or {})}
        if await db[MESSAGES].find_one(query, {"_id": 1}):
            return True
    return False


async def _end_run(db: Database, campaign: Document, now: datetime) -> None:
    campaign_id, run = campaign["_id"], int(campaign["run"])
    schedule = await db[SCHEDULES].find_one(
        {"_id": campaign_schedule_id(campaign_id)}, {"active": 1}
    )
    target = status_after_run(schedule_active=bool(schedule and schedule.get("active")))
    # Messages made before runs were numbered belong to the first run.
    runs = {"$in": [run, None]} if run == 1 else run
    verdict = run_verdict(await count_by_status(db, [campaign_id], {"run": runs}))
    fields: Document = {
        "status": target.value,
        "updatedAt": now,
        RUN_COMPLETION: {
            "run": run,
            "outcome": verdict.end.value,
            "reason": verdict.reason,
            "at": now,
            "publishedAt": None,
        },
    }
    if target is C.COMPLETED:
        fields["completedAt"] = now
    moved = await db[CAMPAIGNS].update_one(
        {"_id": campaign_id, "status": C.RUNNING.value, "run": run}, {"$set": fields}
    )
    if moved.modified_count:
        # When each run ended, for the retention of its messages (docs/retention.md).
        await db[CAMPAIGN_RUNS].update_one(
            {"_id": campaign_run_id(campaign_id, run)},
            {
                "$setOnInsert": {
                    "tenantId": campaign["tenantId"],
                    "campaignId": campaign_id,
                    "run": run,
                    "endedAt": now,
                }
            },
            upsert=True,
        )
        log.info(
            "campaign run over",
            campaign_id=campaign_id,
            run=run,
            outcome=verdict.end.value,
            status=target.value,
        )


async def _publish_run_end(db: Database, broker: KafkaBroker, campaign: Document) -> RunEnd:
    completion = campaign[RUN_COMPLETION]
    run, end = int(completion["run"]), RunEnd(completion["outcome"])
    counts = {name: int(value) for name, value in (campaign.get("counts") or {}).items()}
    common: dict[str, Any] = {
        "tenant_id": campaign["tenantId"],
        "campaign_id": campaign["_id"],
        "run": run,
        "counts": counts,
    }
    event: CampaignCompleted | CampaignFailed
    if end is RunEnd.FAILED:
        event = CampaignFailed(
            event_id=run_event_id("campaign.failed", campaign["_id"], run),
            reason=completion.get("reason") or "no message was sent",
            **common,
        )
    else:
        event = CampaignCompleted(
            event_id=run_event_id("campaign.completed", campaign["_id"], run), **common
        )
    await broker.publish(event, topic=CAMPAIGN_EVENTS, key=campaign["_id"].encode())
    await db[CAMPAIGNS].update_one(
        {"_id": campaign["_id"], f"{RUN_COMPLETION}.run": run},
        {"$set": {f"{RUN_COMPLETION}.publishedAt": utc_now()}},
    )
    return end


async def auto_pause_failing_campaigns(
    db: Database,
    broker: KafkaBroker,
    report: SweepReport,
    *,
    min_attempts: int,
    failure_ratio: float,
    items: SweepItemFailures | None = None,
) -> None:
    """Step 6: ask the campaign service to pause (by the system, with the reason) each running
    campaign whose messages fail (see :func:`auto_pause_verdict`). The command's id derives from
    the campaign's launch or resume, so it applies once however many sweeps publish it."""
    async for campaign in db[CAMPAIGNS].find({"status": C.RUNNING.value}):

        async def pause_if_failing(campaign: Document = campaign) -> bool:
            verdict = auto_pause_verdict(
                campaign, min_attempts=min_attempts, failure_ratio=failure_ratio
            )
            if verdict is None:
                return False
            command = PauseCampaign(
                type="campaign.pause",
                event_id=auto_pause_event_id(campaign),
                tenant_id=campaign["tenantId"],
                campaign_id=campaign["_id"],
                by="system",
                reason=verdict.reason,
            )
            await broker.publish(
                command, topic=CAMPAIGN_SYSTEM_COMMANDS, key=campaign["_id"].encode()
            )
            log.warning(
                "campaign paused by the system", campaign_id=campaign["_id"], reason=verdict.reason
            )
            return True

        if await _each(items, "auto-pause", campaign, pause_if_failing, report):
            report.auto_paused.append(campaign["_id"])
            SWEEP_ACTIONS.labels(action="auto-paused").inc()


async def _each(
    items: SweepItemFailures | None,
    step: str,
    campaign: Document,
    work: Callable[[], Awaitable[T]],
    report: SweepReport,
) -> T | None:
    """One campaign's work of a step, kept from the others' by ``items`` (when given)."""
    if items is None:
        return await work()
    return await items.run(
        step,
        work,
        campaign_id=str(campaign.get("_id")),
        tenant_id=campaign.get("tenantId"),
        errors=report.errors,
    )


class Sweep:
    """Runs the steps in order; see the module's description."""

    def __init__(
        self,
        db: Database,
        broker: KafkaBroker,
        settings: SchedulerSettings,
        *,
        clock: Callable[[], datetime] = utc_now,
    ) -> None:
        self._db = db
        self._broker = broker
        self._settings = settings
        self._plan = AttemptPlan.parse(settings.attempt_plan)
        self._clock = clock
        self._items = SweepItemFailures(broker, retry_policy(settings))

    async def run(self) -> SweepReport:
        """One sweep; raises :class:`SweepIncomplete` (after every step ran) if a step failed."""
        started = time.perf_counter()
        now = self._clock()
        s = self._settings
        db, broker, report, items = self._db, self._broker, SweepReport(), self._items
        recent_since = now - timedelta(seconds=s.sweep_recent_seconds)
        steps: list[tuple[str, Callable[[], Awaitable[None]]]] = [
            (
                "expired-claims",
                lambda: resolve_claims(
                    db,
                    broker,
                    report,
                    plan=self._plan,
                    policy=ExpiredClaimPolicy(s.expired_claim_policy),
                    now=now,
                    limit=s.sweep_batch_size,
                    items=items,
                ),
            ),
            (
                "unsent",
                lambda: end_unsent_messages(
                    db, report, now=now, recent_since=recent_since, items=items
                ),
            ),
            (
                "republish",
                lambda: republish_lost_publishes(
                    db,
                    broker,
                    report,
                    topic=self._plan.first_topic,
                    published_before=now - timedelta(seconds=s.republish_grace_seconds),
                    limit=s.sweep_batch_size,
                    items=items,
                ),
            ),
            (
                "counters",
                lambda: reconcile_campaign_counters(
                    db, report, recent_since=recent_since, items=items
                ),
            ),
            (
                "completion",
                lambda: complete_finished_runs(db, broker, report, now=now, items=items),
            ),
            (
                "auto-pause",
                lambda: auto_pause_failing_campaigns(
                    db,
                    broker,
                    report,
                    min_attempts=s.auto_pause_min_attempts,
                    failure_ratio=s.auto_pause_failure_ratio,
                    items=items,
                ),
            ),
        ]
        for name, step in steps:
            try:
                await step()
            except Exception as error:
                log.error("sweep step failed", step=name, error=repr(error))
                report.errors[name] = repr(error)
        SWEEP_DURATION.observe(time.perf_counter() - started)
        if report.errors:
            raise SweepIncomplete(f"sweep steps failed: {report.errors}; {report.summary()}")
        return report
