"""Scheduled and recurring sends with two scheduler processes: a one-shot send fires once, on
time; a cron campaign runs again and again, each run messaging every recipient once; a send
command with a time, delivered twice, schedules once."""

from __future__ import annotations

import json
import uuid
from collections import defaultdict
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from aiokafka import AIOKafkaProducer

from herald_devstack.waiting import eventually
from tests.system import (
    RunningStack,
    messages_of,
    no_duplicate_sends,
    phones,
    sends_of,
    wait_for_statuses,
)

from .conftest import (
    Mongo,
    campaign_of,
    draft_campaign,
    firings_of,
    in_seconds,
    lateness_samples,
    schedule_send,
    wait_for_status,
)

pytestmark = pytest.mark.e2e


def utc(stored: datetime) -> datetime:
    """A time read back from MongoDB (naive, UTC) as an aware one."""
    return stored if stored.tzinfo else stored.replace(tzinfo=UTC)


async def test_a_one_shot_send_fires_once_within_a_second_of_its_time(
    api: httpx.AsyncClient,
    mongo: Mongo,
    stack: RunningStack,
    primary: httpx.AsyncClient,
    fallback: httpx.AsyncClient,
) -> None:
    numbers = phones(3, prefix="+1702")
    campaign_id = await draft_campaign(api, numbers)
    send_at = in_seconds(4)
    firings_before = await lateness_samples(stack, "campaign-send")

    body = await schedule_send(api, campaign_id, {"sendAt": send_at.isoformat()})

    assert datetime.fromisoformat(body["nextRunAt"]) == send_at
    assert body["scheduleId"] == f"sch_{campaign_id}"
    assert (await campaign_of(api, campaign_id))["status"] == "scheduled"
    messages = await wait_for_statuses(mongo, stack, campaign_id, 3, {"sent"}, timeout=60)

    [firing] = await firings_of(mongo, stack, body["scheduleId"])
    lateness = (utc(firing["firedAt"]) - send_at).total_seconds()
    assert utc(firing["scheduledFor"]) == send_at
    assert 0 <= lateness < 1, firing
    firings_after = await lateness_samples(stack, "campaign-send")
    assert firings_after[0] - firings_before[0] == 1  # one firing, over both schedulers
    assert firings_after[1] - firings_before[1] == 1  # … within 1 s by the metric too
    calls = [r["time"] for m in messages for r in await sends_of(primary, m["_id"])]
    first_call = min(calls)
    print(
        f"\none-shot send: fired {lateness * 1000:.0f} ms after sendAt; first gateway call "
        f"{(first_call - send_at.timestamp()) * 1000:.0f} ms after sendAt"
    )
    done = await wait_for_status(api, campaign_id, "completed")
    assert done["run"] == 1
    assert len(await firings_of(mongo, stack, body["scheduleId"])) == 1
    accepted = await no_duplicate_sends(primary, fallback)
    assert all(accepted[m["_id"]] == 1 for m in messages)
    schedule = await api.get(f"/api/schedules/{body['scheduleId']}")
    assert schedule.status_code == 200, schedule.text
    assert schedule.json()["active"] is False and schedule.json()["nextRunAt"] is None


async def test_a_send_at_in_the_past_fires_at_once(
    api: httpx.AsyncClient, mongo: Mongo, stack: RunningStack
) -> None:
    campaign_id = await draft_campaign(api, phones(1, prefix="+1704"))
    body = await schedule_send(api, campaign_id, {"sendAt": "2020-01-01T09:00:00+01:00"})
    await wait_for_statuses(mongo, stack, campaign_id, 1, {"sent"}, timeout=30)
    [firing] = await firings_of(mongo, stack, body["scheduleId"])
    assert utc(firing["scheduledFor"]) == datetime(2020, 1, 1, 8, 0, tzinfo=UTC)
    # Due when it was given: not late (the lateness metric would otherwise say years).
    assert firing["latenessSeconds"] < 1, firing


async def test_a_cron_campaign_runs_again_and_messages_each_recipient_once_per_run(
    api: httpx.AsyncClient,
    mongo: Mongo,
    stack: RunningStack,
    primary: httpx.AsyncClient,
    fallback: httpx.AsyncClient,
) -> None:
    numbers = phones(3, prefix="+1703")
    campaign_id = await draft_campaign(api, numbers)
    # Six fields, seconds last: every five seconds.
    body = await schedule_send(
        api, campaign_id, {"cron": "* * * * * */5", "timezone": "Europe/Berlin"}
    )
    first_run = datetime.fromisoformat(body["nextRunAt"])
    assert first_run.second % 5 == 0 and first_run.microsecond == 0

    def sent_per_run(messages: list[dict[str, Any]]) -> dict[int, int]:
        runs: dict[int, int] = defaultdict(int)
        for message in messages:
            runs[message["run"]] += message["status"] == "sent"
        return dict(runs)

    await eventually(
        lambda: messages_of(mongo, stack, campaign_id),
        lambda messages: sent_per_run(messages).get(2) == len(numbers),
        timeout=60,
        what="the second run sent",
    )
    stopped = await api.delete(f"/api/schedules/{body['scheduleId']}")
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["schedule"]["active"] is False

    done = await wait_for_status(api, campaign_id, "completed")
    runs = done["run"]
    assert runs >= 2
    messages = await wait_for_statuses(
        mongo, stack, campaign_id, runs * len(numbers), {"sent"}, timeout=60
    )
    by_run: dict[int, list[dict[str, Any]]] = defaultdict(list)
    for message in messages:
        by_run[message["run"]].append(message)
    assert sorted(by_run) == list(range(1, runs + 1))
    for run_messages in by_run.values():
        assert sorted(m["phone"] for m in run_messages) == sorted(numbers)
    assert len({m["_id"] for m in messages}) == len(messages)  # a fresh batch per run
    firings = await firings_of(mongo, stack, body["scheduleId"])
    assert len(firings) == runs
    slots = [utc(f["scheduledFor"]) for f in firings]
    assert slots[0] == first_run
    assert all(s.second % 5 == 0 and s.microsecond == 0 for s in slots)
    assert len(set(slots)) == len(slots)
    accepted = await no_duplicate_sends(primary, fallback)
    assert all(accepted[m["_id"]] == 1 for m in messages)


async def test_a_send_command_with_a_time_delivered_twice_schedules_and_runs_once(
    api: httpx.AsyncClient, mongo: Mongo, stack: RunningStack
) -> None:
    campaign_id = await draft_campaign(api, phones(2, prefix="+1705"))
    send_at = in_seconds(3)
    command = {
        "type": "campaign.send",
        "event_id": uuid.uuid4().hex,
        "tenant_id": "default",
        "campaign_id": campaign_id,
        "send_at": send_at.isoformat(),
    }
    producer = AIOKafkaProducer(bootstrap_servers=stack.config.kafka_bootstrap)
    await producer.start()
    try:
        for _ in range(2):
            await producer.send_and_wait(
                "campaign.commands", json.dumps(command).encode(), key=campaign_id.encode()
            )
    finally:
        await producer.stop()

    await wait_for_statuses(mongo, stack, campaign_id, 2, {"sent"}, timeout=60)
    [firing] = await firings_of(mongo, stack, f"sch_{campaign_id}")
    assert utc(firing["scheduledFor"]) == send_at
    assert (await wait_for_status(api, campaign_id, "completed"))["run"] == 1
