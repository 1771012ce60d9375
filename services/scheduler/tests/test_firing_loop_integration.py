"""The firing loop on the real Kafka broker and MongoDB-wire server: on time, once, across
racing replicas, after downtime and after a replica died mid-firing."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from faststream.kafka import KafkaBroker

from herald_core.contracts.common import utc_now
from herald_core.contracts.topics import CAMPAIGN_SYSTEM_COMMANDS, MESSAGE_SEND_PRIMARY
from herald_core.schedules import Firing, ScheduleKind, campaign_schedule_id, system_schedule_id
from herald_devstack.topic_reader import TopicReader
from herald_devstack.waiting import eventually
from herald_infra.mongo.client import Database
from herald_scheduler.actions import ScheduleActions
from herald_scheduler.firing_loop import FiringLoop
from herald_scheduler.lease import LeaderLease, LeaseStatus
from herald_scheduler.redrive import ScheduledRedrive
from herald_scheduler.replica import SchedulerReplica
from herald_scheduler.settings import SchedulerSettings
from herald_scheduler.sweep import Sweep
from herald_scheduler.system_jobs import configured_system_jobs, ensure_system_jobs

from .conftest import new_campaign_id, one_shot_schedule

pytestmark = pytest.mark.integration


def skewed(seconds: float) -> Callable[[], datetime]:
    return lambda: datetime.now(UTC) + timedelta(seconds=seconds)


def replica(
    db: Database,
    broker: KafkaBroker,
    settings: SchedulerSettings,
    owner: str,
    *,
    lease_seconds: float | None = None,
    abandon_after_seconds: float | None = None,
    clock: Callable[[], datetime] = utc_now,
) -> tuple[LeaderLease, FiringLoop]:
    """A lease and a firing loop wired as the service wires them."""
    lease = LeaderLease(
        db, owner, lease_seconds=lease_seconds or settings.scheduler_lease_seconds, clock=clock
    )
    actions = ScheduleActions(
        broker,
        sweep=Sweep(db, broker, settings, clock=clock),
        redrive=ScheduledRedrive(db, broker, first_topic=MESSAGE_SEND_PRIMARY, batch_size=100),
    )
    loop = FiringLoop(
        db,
        lease,
        actions,
        tick_seconds=settings.scheduler_tick_seconds,
        abandon_after_seconds=abandon_after_seconds or settings.scheduler_lease_seconds,
        clock=clock,
    )
    return lease, loop


@contextlib.asynccontextmanager
async def looping(db: Database, lease: LeaderLease, loop: FiringLoop) -> AsyncIterator[None]:
    """The replica running: keeping its lease and firing (no system jobs: the tests add them)."""
    running = SchedulerReplica(db, lease, loop, system_jobs=[])
    await running.start()
    try:
        yield
    finally:
        await running.stop()


@pytest.fixture
async def clean(db: Database) -> Database:
    for collection in ("schedules", "schedule_firings", "scheduler_leases"):
        await db[collection].delete_many({})
    return db


@pytest.fixture
async def commands(settings: SchedulerSettings) -> AsyncIterator[TopicReader]:
    async with TopicReader(settings.kafka_bootstrap_servers, CAMPAIGN_SYSTEM_COMMANDS) as reader:
        yield reader


def run_starts(records: list[Any], campaign_ids: set[str]) -> list[dict[str, Any]]:
    """The StartCampaignRun commands among ``records`` for these campaigns."""
    found = []
    for record in records:
        body = json.loads(record.value)
        if body.get("type") == "campaign.run" and body.get("campaign_id") in campaign_ids:
            found.append(body)
    return found


async def firings_of(db: Database, schedule_id: str) -> list[dict[str, Any]]:
    return [f async for f in db["schedule_firings"].find({"scheduleId": schedule_id})]


async def test_a_one_shot_fires_once_on_time_and_becomes_inactive(
    clean: Database, broker: KafkaBroker, settings: SchedulerSettings, commands: TopicReader
) -> None:
    campaign_id = new_campaign_id()
    send_at = (utc_now() + timedelta(seconds=1.5)).replace(microsecond=0)
    await clean["schedules"].insert_one(one_shot_schedule(campaign_id, send_at))
    lease, loop = replica(clean, broker, settings, "replica-a")
    assert await lease.try_hold() is LeaseStatus.ACQUIRED

    async with looping(clean, lease, loop):
        firings = await eventually(
            lambda: firings_of(clean, campaign_schedule_id(campaign_id)),
            lambda found: len(found) == 1 and found[0]["state"] == "done",
            timeout=15,
            what="the one-shot fired",
        )
        await asyncio.sleep(0.5)  # a second firing would have happened by now

    firing = firings[0]
    assert len(await firings_of(clean, campaign_schedule_id(campaign_id))) == 1
    assert firing["scheduledFor"] == send_at
    assert 0 <= (firing["firedAt"] - send_at).total_seconds() < 0.3, firing
    assert firing["outcome"] == "done" and firing["by"] == "replica-a"
    schedule: Any = await clean["schedules"].find_one({"_id": campaign_schedule_id(campaign_id)})
    assert schedule["active"] is False and "nextRunAt" not in schedule
    assert schedule["lastFiringId"] == firing["_id"]
    starts = run_starts(await commands.read_to_end(), {campaign_id})
    assert len(starts) == 1
    expected = Firing(campaign_schedule_id(campaign_id), send_at)
    assert starts[0]["event_id"] == expected.command_event_id
    assert starts[0]["tenant_id"] == "tenant-s"
    assert datetime.fromisoformat(starts[0]["scheduled_for"]) == send_at


async def test_two_loops_racing_fire_every_firing_once(
    clean: Database, broker: KafkaBroker, settings: SchedulerSettings, commands: TopicReader
) -> None:
    # A clock skew larger than the lease makes both replicas believe they lead. (Neither
    # takes over the other's firings under way: they are younger than a minute.)
    lease_a, loop_a = replica(
        clean, broker, settings, "replica-a", lease_seconds=20, abandon_after_seconds=60
    )
    lease_b, loop_b = replica(
        clean,
        broker,
        settings,
        "replica-b",
        lease_seconds=20,
        abandon_after_seconds=60,
        clock=skewed(21),
    )
    assert await lease_a.try_hold() is LeaseStatus.ACQUIRED
    assert await lease_b.try_hold() is LeaseStatus.ACQUIRED
    assert lease_a.is_leader() and lease_b.is_leader()
    due = utc_now() - timedelta(seconds=1)
    campaign_ids = [new_campaign_id() for _ in range(25)]
    await clean["schedules"].insert_many([one_shot_schedule(c, due) for c in campaign_ids])

    for _ in range(3):
        await asyncio.gather(loop_a.tick(), loop_b.tick())

    for campaign_id in campaign_ids:
        firings = await firings_of(clean, campaign_schedule_id(campaign_id))
        assert len(firings) == 1 and firings[0]["state"] == "done", firings
    by = {f["by"] async for f in clean["schedule_firings"].find({})}
    assert by <= {"replica-a", "replica-b"}
    starts = run_starts(await commands.read_to_end(), set(campaign_ids))
    per_campaign = {c: sum(1 for s in starts if s["campaign_id"] == c) for c in campaign_ids}
    assert set(per_campaign.values()) == {1}, per_campaign


async def test_a_recurring_job_fires_at_each_slot_under_its_own_firing(
    clean: Database, broker: KafkaBroker, settings: SchedulerSettings, commands: TopicReader
) -> None:
    campaign_id = new_campaign_id()
    schedule_id = campaign_schedule_id(campaign_id)
    first = (utc_now() + timedelta(seconds=1)).replace(microsecond=0)
    await clean["schedules"].insert_one(
        {
            **one_shot_schedule(campaign_id, first),
            "cron": "* * * * * *",  # every second
            "timezone": "UTC",
        }
    )
    lease, loop = replica(clean, broker, settings, "replica-a")
    await lease.try_hold()
    async with looping(clean, lease, loop):
        await eventually(
            lambda: firings_of(clean, schedule_id),
            lambda found: len(found) >= 3,
            timeout=15,
            what="three firings",
        )
        await clean["schedules"].update_one(
            {"_id": schedule_id}, {"$set": {"active": False}, "$unset": {"nextRunAt": ""}}
        )
    firings = sorted(await firings_of(clean, schedule_id), key=lambda f: f["scheduledFor"])
    slots = [f["scheduledFor"] for f in firings]
    assert slots[0] == first
    assert all(b - a == timedelta(seconds=1) for a, b in itertools.pairwise(slots))
    assert max(f["latenessSeconds"] for f in firings) < 0.3
    starts = run_starts(await commands.read_to_end(), {campaign_id})
    assert len({s["event_id"] for s in starts}) == len(starts) == len(firings)


async def test_slots_missed_while_no_scheduler_ran_fire_once(
    clean: Database, broker: KafkaBroker, settings: SchedulerSettings
) -> None:
    campaign_id = new_campaign_id()
    schedule_id = campaign_schedule_id(campaign_id)
    missed_since = (utc_now() - timedelta(seconds=30)).replace(microsecond=0)
    await clean["schedules"].insert_one(
        {
            **one_shot_schedule(campaign_id, missed_since),
            "cron": "* * * * * *",
            "timezone": "UTC",
        }
    )
    lease, loop = replica(clean, broker, settings, "replica-a")
    await lease.try_hold()
    before = utc_now()
    await loop.tick()
    await loop.tick()
    firings = await firings_of(clean, schedule_id)
    # Thirty missed, one fired. (A slow tick, on a busy machine or while a new topic's leader
    # is elected, may also fire the slot due since: that one was not missed.)
    missed = [f["scheduledFor"] for f in firings if f["scheduledFor"] < before]
    assert missed == [missed_since]
    schedule: Any = await clean["schedules"].find_one({"_id": schedule_id})
    assert schedule["nextRunAt"] > before


async def test_a_run_request_fires_within_a_tick_and_keeps_the_next_slot(
    clean: Database, broker: KafkaBroker, settings: SchedulerSettings, commands: TopicReader
) -> None:
    campaign_id = new_campaign_id()
    schedule_id = campaign_schedule_id(campaign_id)
    next_week = (utc_now() + timedelta(days=7)).replace(microsecond=0)
    await clean["schedules"].insert_one(
        {**one_shot_schedule(campaign_id, next_week), "cron": "0 9 * * MON", "timezone": "UTC"}
    )
    lease, loop = replica(clean, broker, settings, "replica-a")
    await lease.try_hold()
    async with looping(clean, lease, loop):
        requested = utc_now().replace(microsecond=utc_now().microsecond // 1000 * 1000)
        await clean["schedules"].update_one(
            {"_id": schedule_id}, {"$set": {"runRequestedAt": requested}}
        )
        firings = await eventually(
            lambda: firings_of(clean, schedule_id),
            lambda found: len(found) == 1 and found[0]["state"] == "done",
            timeout=10,
            what="the requested run",
        )
    assert firings[0]["reason"] == "requested"
    assert (firings[0]["firedAt"] - requested).total_seconds() < 1
    schedule: Any = await clean["schedules"].find_one({"_id": schedule_id})
    assert "runRequestedAt" not in schedule and schedule["nextRunAt"] == next_week
    assert len(run_starts(await commands.read_to_end(), {campaign_id})) == 1


async def test_a_new_leader_completes_a_firing_a_dead_replica_left_started(
    clean: Database, broker: KafkaBroker, settings: SchedulerSettings, commands: TopicReader
) -> None:
    campaign_id = new_campaign_id()
    schedule_id = campaign_schedule_id(campaign_id)
    due = (utc_now() - timedelta(seconds=5)).replace(microsecond=0)
    # The dead replica recorded the firing and died before it moved the schedule on.
    await clean["schedules"].insert_one(one_shot_schedule(campaign_id, due))
    firing = Firing(schedule_id, due)
    await clean["schedule_firings"].insert_one(
        {
            "_id": firing.firing_id,
            "scheduleId": schedule_id,
            "kind": "campaign-send",
            "scheduledFor": due,
            "reason": "scheduled",
            "firedAt": due,
            "state": "started",
            "by": "dead-replica",
            "attempts": 1,
        }
    )
    lease, loop = replica(clean, broker, settings, f"replica-{uuid.uuid4().hex[:4]}")
    assert await lease.try_hold() is LeaseStatus.ACQUIRED
    loop.leadership_acquired()
    await loop.tick()
    await loop.tick()

    firings = await firings_of(clean, schedule_id)
    assert len(firings) == 1
    assert (firings[0]["state"], firings[0]["outcome"], firings[0]["by"]) == (
        "done",
        "resumed",
        lease.owner,
    )
    schedule: Any = await clean["schedules"].find_one({"_id": schedule_id})
    assert schedule["active"] is False
    starts = run_starts(await commands.read_to_end(), {campaign_id})
    assert [s["event_id"] for s in starts] == [firing.command_event_id]


async def test_the_sweep_runs_now_when_asked_beside_the_loop(
    clean: Database, broker: KafkaBroker, settings: SchedulerSettings
) -> None:
    await ensure_system_jobs(clean, configured_system_jobs(settings), utc_now())
    sweep_id = system_schedule_id(ScheduleKind.SWEEP)
    stored: Any = await clean["schedules"].find_one({"_id": sweep_id})
    assert stored["cron"] == "*/5 * * * *" and stored["active"] is True
    lease, loop = replica(clean, broker, settings, "replica-a")
    await lease.try_hold()
    async with looping(clean, lease, loop):
        await clean["schedules"].update_one(
            {"_id": sweep_id}, {"$set": {"runRequestedAt": utc_now()}}
        )
        firings = await eventually(
            lambda: firings_of(clean, sweep_id),
            lambda found: len(found) == 1 and found[0]["state"] == "done",
            timeout=30,
            what="the sweep ran",
        )
    assert "republished" in firings[0]["detail"]
    after: Any = await clean["schedules"].find_one({"_id": sweep_id})
    assert after["nextRunAt"] == stored["nextRunAt"] and after["active"] is True
