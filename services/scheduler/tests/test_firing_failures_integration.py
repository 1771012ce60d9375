"""A firing or a schedule that keeps failing never stops the others, on the real Kafka broker
and MongoDB-wire server: an outage is retried until it ends, anything else a bounded number of
times, then the firing (or the schedule) is given up with a dead letter naming the error."""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import AsyncIterator, Callable
from datetime import datetime, timedelta
from typing import Any

import pytest
from faststream.kafka import KafkaBroker
from pymongo.errors import AutoReconnect

from herald_core.contracts.common import utc_now
from herald_core.contracts.topics import CAMPAIGN_SYSTEM_COMMANDS, MESSAGE_DLT, MESSAGE_SEND_PRIMARY
from herald_core.schedules import Firing, campaign_schedule_id
from herald_devstack.topic_reader import TopicReader
from herald_infra.kafka.handler_retries import RetryPolicy
from herald_infra.mongo.client import Database
from herald_scheduler.actions import ScheduleActions
from herald_scheduler.due_jobs import Job
from herald_scheduler.firing_loop import FiringLoop
from herald_scheduler.lease import LeaderLease, LeaseStatus
from herald_scheduler.redrive import ScheduledRedrive
from herald_scheduler.settings import SchedulerSettings
from herald_scheduler.sweep import Sweep

from .conftest import TENANT, new_campaign_id, one_shot_schedule

pytestmark = pytest.mark.integration

POLICY = RetryPolicy(attempts=3, backoff_seconds=0)


class FailingActions(ScheduleActions):
    """The real actions, except that a campaign's run start raises what ``failures`` says."""

    def __init__(
        self,
        db: Database,
        broker: KafkaBroker,
        settings: SchedulerSettings,
        failures: dict[str, list[Exception]],
    ) -> None:
        super().__init__(
            broker,
            sweep=Sweep(db, broker, settings),
            redrive=ScheduledRedrive(db, broker, first_topic=MESSAGE_SEND_PRIMARY, batch_size=10),
        )
        self.failures = failures
        self.tries: Counter[str] = Counter()

    async def start_campaign_run(self, job: Job, firing: Firing) -> None:
        self.tries[str(job.campaign_id)] += 1
        if self.failures.get(str(job.campaign_id)):
            raise self.failures[str(job.campaign_id)].pop(0)
        await super().start_campaign_run(job, firing)


class SteppedClock:
    """The loop's clock: the real time, moved a minute on at each step (past every back-off)."""

    def __init__(self) -> None:
        self.offset = timedelta()

    def __call__(self) -> datetime:
        return utc_now() + self.offset

    def step(self) -> None:
        self.offset += timedelta(seconds=61)


@pytest.fixture
async def clean(db: Database) -> Database:
    for collection in ("schedules", "schedule_firings", "scheduler_leases"):
        await db[collection].delete_many({})
    return db


async def leading_loop(
    db: Database, actions: ScheduleActions, clock: Callable[[], datetime]
) -> FiringLoop:
    lease = LeaderLease(db, "replica-f", lease_seconds=600)
    assert await lease.try_hold() is LeaseStatus.ACQUIRED
    return FiringLoop(
        db, lease, actions, tick_seconds=0.05, abandon_after_seconds=60, clock=clock, retry=POLICY
    )


@pytest.fixture
async def dead_letters(settings: SchedulerSettings) -> AsyncIterator[TopicReader]:
    async with TopicReader(settings.kafka_bootstrap_servers, MESSAGE_DLT) as reader:
        yield reader


def headers_of(record: Any) -> dict[str, str]:
    return {k: v.decode() for k, v in record.headers}


async def test_a_run_start_that_keeps_failing_is_given_up_while_an_outage_is_waited_out(
    clean: Database,
    broker: KafkaBroker,
    settings: SchedulerSettings,
    dead_letters: TopicReader,
) -> None:
    broken, flaky, fine = new_campaign_id(), new_campaign_id(), new_campaign_id()
    actions = FailingActions(
        clean,
        broker,
        settings,
        {
            broken: [ValueError("no such tenant in this region")] * 10,
            flaky: [AutoReconnect("MongoDB primary away")] * 4,
        },
    )
    clock = SteppedClock()
    loop = await leading_loop(clean, actions, clock)
    due = utc_now() - timedelta(seconds=1)
    await clean["schedules"].insert_many([one_shot_schedule(c, due) for c in (broken, flaky, fine)])

    for _ in range(8):
        await loop.tick()
        clock.step()

    # The outage was retried past the bound until it ended; the other error was not.
    assert actions.tries == {broken: POLICY.attempts, flaky: 5, fine: 1}
    firings = {f["scheduleId"]: f async for f in clean["schedule_firings"].find({"state": "done"})}
    assert firings[campaign_schedule_id(fine)]["outcome"] == "done"
    assert firings[campaign_schedule_id(flaky)]["outcome"] == "done"
    given_up = firings[campaign_schedule_id(broken)]
    assert given_up["outcome"] == "given-up"
    assert "internal-error: ValueError: no such tenant" in given_up["detail"]

    letters = [r for r in await dead_letters.read_to_end() if r.key == broken.encode()]
    assert len(letters) == 1
    headers = headers_of(letters[0])
    assert headers["herald-dlt-reason"] == "internal-error"
    assert headers["herald-dlt-attempts"] == str(POLICY.attempts)
    assert headers["kafka_dlt-original-topic"] == CAMPAIGN_SYSTEM_COMMANDS
    assert headers["kafka_dlt-exception-fqcn"] == "builtins.ValueError"
    # Its payload is the run command the firing would have published: a redrive starts it.
    command = json.loads(letters[0].value)
    expected = Firing(campaign_schedule_id(broken), given_up["scheduledFor"])
    assert (command["type"], command["event_id"]) == ("campaign.run", expected.command_event_id)


async def test_a_schedule_that_cannot_move_on_is_stopped_and_the_others_fire(
    clean: Database,
    broker: KafkaBroker,
    settings: SchedulerSettings,
    dead_letters: TopicReader,
) -> None:
    never, fine = new_campaign_id(), new_campaign_id()
    actions = FailingActions(clean, broker, settings, {})
    clock = SteppedClock()
    loop = await leading_loop(clean, actions, clock)
    long_ago = utc_now() - timedelta(days=1)
    # Stored before anything refused it: February 30th never comes, so the schedule cannot be
    # moved past its firing. It comes first (oldest nextRunAt) in every pass.
    await clean["schedules"].insert_many(
        [
            {**one_shot_schedule(never, long_ago), "cron": "0 0 30 2 *", "timezone": "UTC"},
            one_shot_schedule(fine, utc_now() + timedelta(seconds=30)),
        ]
    )

    for _ in range(6):
        await loop.tick()
        clock.step()

    assert actions.tries[fine] == 1
    stopped = await clean["schedules"].find_one({"_id": campaign_schedule_id(never)})
    assert stopped is not None and stopped["active"] is False and "nextRunAt" not in stopped
    assert stopped["stoppedReason"].startswith("internal-error: ")
    # Its due firing was acted on once all the same; then it fired no more.
    assert actions.tries[never] == 1
    letters = [r for r in await dead_letters.read_to_end() if r.key == never.encode()]
    assert len(letters) == 1
    headers = headers_of(letters[0])
    assert (headers["herald-dlt-reason"], headers["kafka_dlt-original-topic"]) == (
        "internal-error",
        "schedules",
    )
    assert json.loads(letters[0].value)["schedule_id"] == campaign_schedule_id(never)
    assert json.loads(letters[0].value)["tenant_id"] == TENANT
