"""The sweep on the real Kafka broker and MongoDB-wire server: what it re-publishes, fixes,
ends, completes and pauses."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from faststream.kafka import KafkaBroker

from herald_core.contracts.events import SendMessage
from herald_core.contracts.topics import (
    CAMPAIGN_EVENTS,
    CAMPAIGN_SYSTEM_COMMANDS,
    MESSAGE_DLT,
    MESSAGE_SEND_PRIMARY,
)
from herald_core.messages.states import MessageStatus
from herald_core.schedules import campaign_schedule_id
from herald_devstack.topic_reader import TopicReader
from herald_infra.messages.counters import recount
from herald_infra.messages.unsent_endings import UnsentEndings
from herald_infra.mongo.client import Database
from herald_scheduler.campaign_rules import run_event_id
from herald_scheduler.settings import SchedulerSettings
from herald_scheduler.sweep import Sweep, SweepIncomplete, SweepReport

from .conftest import (
    TENANT,
    campaign_document,
    counts_of,
    message_document,
    new_campaign_id,
)

pytestmark = pytest.mark.integration

S = MessageStatus
LONG_AGO = datetime.now(UTC) - timedelta(minutes=10)


@pytest.fixture
async def sweep(
    db: Database, broker: KafkaBroker, settings: SchedulerSettings
) -> AsyncIterator[Sweep]:
    yield Sweep(db, broker, settings)


async def seed(
    db: Database,
    messages: Sequence[tuple[MessageStatus, dict[str, Any]]],
    *,
    status: str = "running",
    counts: dict[str, int] | None = None,
    **campaign_fields: Any,
) -> str:
    """A campaign with these messages, its counters matching them unless ``counts`` says."""
    campaign_id = new_campaign_id()
    documents = [message_document(campaign_id, n, s, **f) for n, (s, f) in enumerate(messages)]
    if documents:
        await db["messages"].insert_many(documents)
    await db["campaigns"].insert_one(
        campaign_document(
            campaign_id, status, counts=counts or counts_of(documents), **campaign_fields
        )
    )
    return campaign_id


async def campaign(db: Database, campaign_id: str) -> Any:
    return await db["campaigns"].find_one({"_id": campaign_id})


async def statuses(db: Database, campaign_id: str) -> list[str]:
    return sorted([m["status"] async for m in db["messages"].find({"campaignId": campaign_id})])


def of_campaign(records: list[Any], campaign_id: str) -> list[dict[str, Any]]:
    bodies = [json.loads(r.value) for r in records]
    return [b for b in bodies if b.get("campaign_id") == campaign_id]


async def test_a_pending_message_whose_publish_was_lost_is_published_again(
    db: Database, sweep: Sweep, settings: SchedulerSettings
) -> None:
    lost = {"updatedAt": LONG_AGO}
    campaign_id = await seed(
        db,
        [
            (S.PENDING, lost),  # its publish was lost
            (S.PENDING, {}),  # the dispatcher is publishing it right now
            (S.PENDING, {**lost, "accountId": None, "notBefore": LONG_AGO}),  # deferred
            (S.SENT, {}),
        ],
    )
    paused_id = await seed(db, [(S.PENDING, lost)], status="paused")

    async with TopicReader(settings.kafka_bootstrap_servers, MESSAGE_SEND_PRIMARY) as topic:
        report = await sweep.run()
        records = await topic.read_until(
            lambda rs: any(e["campaign_id"] == campaign_id for e in map(_body, rs)), timeout=30
        )
        records += await topic.read_to_end()

    sends = [SendMessage.model_validate_json(r.value) for r in records]
    ours = [e for e in sends if e.campaign_id in {campaign_id, paused_id}]
    assert [e.message_id for e in ours] == [f"msg_{campaign_id}_1_0"]
    assert (ours[0].account_id, ours[0].attempt, ours[0].phone) == ("default", 1, "+14155550000")
    assert report.republished >= 1
    assert await statuses(db, campaign_id) == ["pending", "pending", "queued", "sent"]
    assert await statuses(db, paused_id) == ["pending"]  # its resume publishes it
    counts = (await campaign(db, campaign_id))["counts"]
    assert (counts["pending"], counts["queued"]) == (2, 1)


async def test_the_queued_messages_past_a_stalled_fan_outs_watermark_are_published_again(
    db: Database, sweep: Sweep, settings: SchedulerSettings
) -> None:
    """A fan-out created messages 0-4 queued and published up to message 1, then stopped for
    good: the sweep publishes 2 and 4 (3 was handed back: its resume publishes it) and moves
    the watermark. A fan-out still moving, or one that finished, is left alone."""
    queued = [(S.QUEUED, {}), (S.QUEUED, {}), (S.QUEUED, {}), (S.QUEUED, {"heldAt": LONG_AGO})]
    stalled_id = await seed(db, [*queued, (S.QUEUED, {})], run=1)
    await db["campaigns"].update_one(
        {"_id": stalled_id},
        {"$set": {"fanOut": {"run": 1, "through": contact(stalled_id, 1), "at": LONG_AGO}}},
    )
    moving_id = await seed(db, queued, run=1)
    await db["campaigns"].update_one(
        {"_id": moving_id},
        {"$set": {"fanOut": {"run": 1, "through": contact(moving_id, 1), "at": datetime.now(UTC)}}},
    )
    finished_id = await seed(db, queued, run=1, dispatchedRun=1)
    await db["campaigns"].update_one(
        {"_id": finished_id},
        {"$set": {"fanOut": {"run": 1, "through": contact(finished_id, 1), "at": LONG_AGO}}},
    )

    async with TopicReader(settings.kafka_bootstrap_servers, MESSAGE_SEND_PRIMARY) as topic:
        report = await sweep.run()
        records = await topic.read_until(
            lambda rs: any(e["campaign_id"] == stalled_id for e in map(_body, rs)), timeout=30
        )
        records += await topic.read_to_end()

    sends = [SendMessage.model_validate_json(r.value) for r in records]
    ours = [e for e in sends if e.campaign_id in {stalled_id, moving_id, finished_id}]
    assert sorted(e.message_id for e in ours) == [f"msg_{stalled_id}_1_2", f"msg_{stalled_id}_1_4"]
    assert report.republished >= 2
    watermark = (await campaign(db, stalled_id))["fanOut"]
    assert watermark["through"] == contact(stalled_id, 4)
    assert await statuses(db, stalled_id) == ["queued"] * 5


def contact(campaign_id: str, n: int) -> str:
    """The contact id of the campaign's message ``n`` (as ``message_document`` makes it)."""
    return f"{campaign_id}:+14155550{n:03d}"


def _body(record: Any) -> dict[str, Any]:
    body: dict[str, Any] = json.loads(record.value)
    return body


async def test_a_drifted_counter_is_set_to_the_recount(db: Database, sweep: Sweep) -> None:
    # A sender died between moving the message and moving the counter, twice.
    drifted = {"total": 3, "sent": 3, "failed": 0, "pending": 0, "queued": 0}
    campaign_id = await seed(
        db, [(S.SENT, {}), (S.SENT, {}), (S.FAILED, {})], status="paused", counts=drifted
    )
    report = await sweep.run()
    assert report.counters_reconciled >= 1
    stored = (await campaign(db, campaign_id))["counts"]
    assert stored == await recount(db, campaign_id)
    assert (stored["sent"], stored["failed"], stored["total"]) == (2, 1, 3)


async def test_a_run_that_is_over_completes_once_and_is_announced(
    db: Database, sweep: Sweep, settings: SchedulerSettings
) -> None:
    campaign_id = await seed(
        db, [(S.SENT, {}), (S.DELIVERED, {}), (S.FAILED, {})], run=1, dispatchedRun=1
    )
    async with TopicReader(settings.kafka_bootstrap_servers, CAMPAIGN_EVENTS) as topic:
        report = await sweep.run()
        again = await sweep.run()
        events = of_campaign(await topic.read_to_end(), campaign_id)

    assert campaign_id in report.completed and campaign_id not in again.completed
    done = await campaign(db, campaign_id)
    assert done["status"] == "completed" and done["completedAt"] is not None
    assert done["runCompletion"]["outcome"] == "completed"
    assert done["runCompletion"]["publishedAt"] is not None
    assert len(events) == 1
    assert events[0]["type"] == "campaign.completed"
    assert events[0]["event_id"] == run_event_id("campaign.completed", campaign_id, 1)
    assert (events[0]["run"], events[0]["counts"]["sent"], events[0]["counts"]["total"]) == (
        1,
        1,
        3,
    )


async def test_a_campaign_the_sweep_cannot_handle_holds_up_no_other_and_is_dead_lettered(
    db: Database, sweep: Sweep, settings: SchedulerSettings
) -> None:
    # Two runs over; the first one's document lost its tenant, so its completion event cannot
    # be made. It used to stop the step every sweep, before the campaigns behind it.
    broken = await seed(db, [(S.SENT, {})], run=1, dispatchedRun=1)
    await db["campaigns"].update_one({"_id": broken}, {"$unset": {"tenantId": ""}})
    fine = await seed(db, [(S.SENT, {})], run=1, dispatchedRun=1)
    try:
        async with (
            TopicReader(settings.kafka_bootstrap_servers, CAMPAIGN_EVENTS) as topic,
            TopicReader(settings.kafka_bootstrap_servers, MESSAGE_DLT) as dead_letters,
        ):
            failures = []
            for _ in range(3):  # HERALD_HANDLER_ATTEMPTS, by default
                with pytest.raises(SweepIncomplete) as incomplete:
                    await sweep.run()
                failures.append(str(incomplete.value))
            events = of_campaign(await topic.read_to_end(), fine)
            letters = [r for r in await dead_letters.read_to_end() if r.key == broken.encode()]
    finally:
        await db["campaigns"].delete_one({"_id": broken})

    assert [e["type"] for e in events] == ["campaign.completed"]
    assert (await campaign(db, fine))["runCompletion"]["publishedAt"] is not None
    # Each sweep reports the one campaign it could not handle, by step.
    assert all(f"completion-event:{broken}" in failure for failure in failures)
    # Dead-lettered once it failed the bounded number of sweeps in a row, with the error.
    assert len(letters) == 1
    headers = {k: v.decode() for k, v in letters[0].headers}
    assert headers["herald-dlt-reason"] == "internal-error"
    assert headers["kafka_dlt-exception-fqcn"] == "builtins.KeyError"
    assert "tenantId" in headers["kafka_dlt-exception-message"]
    body = json.loads(letters[0].value)
    assert (body["step"], body["campaign_id"]) == ("completion-event", broken)


async def test_a_recurring_campaign_goes_back_to_scheduled_after_its_run(
    db: Database, sweep: Sweep
) -> None:
    campaign_id = await seed(
        db,
        [(S.SENT, {"run": 1}), (S.SENT, {"run": 2}), (S.READ, {"run": 2})],
        run=2,
        dispatchedRun=2,
    )
    await db["schedules"].insert_one(
        {
            "_id": campaign_schedule_id(campaign_id),
            "kind": "campaign-send",
            "tenantId": TENANT,
            "campaignId": campaign_id,
            "cron": "0 9 * * MON",
            "timezone": "UTC",
            "active": True,
            "nextRunAt": datetime.now(UTC) + timedelta(days=3),
        }
    )
    await sweep.run()
    after = await campaign(db, campaign_id)
    assert after["status"] == "scheduled"
    assert after["runCompletion"]["run"] == 2 and "completedAt" not in after


async def test_a_run_that_sent_nothing_fails_with_the_reason(
    db: Database, sweep: Sweep, settings: SchedulerSettings
) -> None:
    campaign_id = await seed(db, [(S.FAILED, {}), (S.EXPIRED, {})], run=1, dispatchedRun=1)
    async with TopicReader(settings.kafka_bootstrap_servers, CAMPAIGN_EVENTS) as topic:
        report = await sweep.run()
        events = of_campaign(await topic.read_to_end(), campaign_id)
    assert campaign_id in report.failed
    assert (await campaign(db, campaign_id))["status"] == "completed"
    assert [e["type"] for e in events] == ["campaign.failed"]
    assert "1 failed, 1 expired" in events[0]["reason"]


async def test_a_run_with_unfinished_messages_or_not_fully_dispatched_goes_on(
    db: Database, sweep: Sweep
) -> None:
    busy = await seed(db, [(S.SENT, {}), (S.RETRYING, {})], run=1, dispatchedRun=1)
    dispatching = await seed(db, [(S.SENT, {"run": 2})], run=2, dispatchedRun=1)
    await sweep.run()
    assert (await campaign(db, busy))["status"] == "running"
    assert (await campaign(db, dispatching))["status"] == "running"


async def test_a_failing_campaign_is_paused_by_the_system_with_one_command(
    db: Database, sweep: Sweep, settings: SchedulerSettings
) -> None:
    failing: list[tuple[MessageStatus, dict[str, Any]]] = [(S.FAILED, {}) for _ in range(22)]
    failing += [(S.SENT, {}) for _ in range(3)]
    campaign_id = await seed(db, [*failing, (S.QUEUED, {})], launchedAt=LONG_AGO)
    healthy = await seed(db, [(S.SENT, {}) for _ in range(25)] + [(S.QUEUED, {})])
    async with TopicReader(settings.kafka_bootstrap_servers, CAMPAIGN_SYSTEM_COMMANDS) as topic:
        first = await sweep.run()
        second = await sweep.run()
        records = await topic.read_to_end()
    commands = of_campaign(records, campaign_id)
    assert campaign_id in first.auto_paused and campaign_id in second.auto_paused
    assert healthy not in first.auto_paused and of_campaign(records, healthy) == []
    assert len(commands) == 2 and commands[0]["event_id"] == commands[1]["event_id"]
    assert (commands[0]["type"], commands[0]["by"]) == ("campaign.pause", "system")
    assert "22 of the last 25" in commands[0]["reason"]


async def test_overdue_messages_expire_and_a_cancelled_campaigns_unsent_are_cancelled(
    db: Database, sweep: Sweep
) -> None:
    window_over = datetime.now(UTC) - timedelta(seconds=1)
    overdue = {"expiresAt": window_over}
    running_id = await seed(
        db, [(S.QUEUED, overdue), (S.QUEUED, {}), (S.SENT, overdue)], runExpiresAt=window_over
    )
    cancelled_id = await seed(
        db, [(S.QUEUED, {}), (S.RETRYING, {}), (S.SENT, {})], status="cancelled"
    )
    report: SweepReport = await sweep.run()
    # The sweep queues them; the unsent worker ends them, in batches.
    assert report.unsent_endings_queued >= 2
    queued = {e["_id"]: e["target"] async for e in db["unsent_endings"].find({})}
    assert (queued[running_id], queued[cancelled_id]) == ("expired", "cancelled")
    assert await statuses(db, running_id) == ["queued", "queued", "sent"]
    # Queued already: the next sweep leaves them as they are.
    assert (await sweep.run()).unsent_endings_queued == 0

    await UnsentEndings(db, batch_size=1).run_until_done()

    assert await statuses(db, running_id) == ["expired", "queued", "sent"]
    assert await statuses(db, cancelled_id) == ["cancelled", "cancelled", "sent"]
    assert (await campaign(db, cancelled_id))["counts"]["cancelled"] == 2


async def test_an_expired_claim_is_resolved_by_the_policy(db: Database, sweep: Sweep) -> None:
    claim = {"claim": {"owner": "dead-sender", "leaseUntil": LONG_AGO, "engine": "baileys"}}
    campaign_id = await seed(db, [(S.SENDING, claim)])
    report = await sweep.run()
    assert report.claims_failed >= 1
    [message] = [m async for m in db["messages"].find({"campaignId": campaign_id})]
    assert (message["status"], message["failedReason"]) == ("failed", "outcome-unknown")
