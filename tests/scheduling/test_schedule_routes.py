"""``/api/schedules`` and scheduled sends over REST: the tenant's schedules, stop one or all, run
one now; another tenant's and the system jobs are invisible to a tenant; operators list and run
the system jobs (``/api/admin/schedules``); no run is requested on top of one in progress; bad
schedules are 422 naming the field."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from herald_devstack.processes import wait_ready
from herald_devstack.stack import QUIET_CRON
from herald_devstack.waiting import eventually
from tests.system import (
    RunningStack,
    add_operator_token,
    add_tenant_token,
    api_client,
    phones,
    wait_for_statuses,
)

from .conftest import (
    SCHEDULERS,
    Mongo,
    campaign_of,
    draft_campaign,
    firings_of,
    in_seconds,
    schedule_send,
)

pytestmark = pytest.mark.e2e

SWEEP = "sch_system-sweep"
REDRIVE = "sch_system-redrive"
RETENTION = "sch_system-retention"


@pytest.fixture
async def operator(mongo: Mongo, stack: RunningStack) -> AsyncIterator[httpx.AsyncClient]:
    """The API with an operator key."""
    token = await add_operator_token(mongo, stack)
    async with api_client(stack) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client


async def schedules(api: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    response = await api.get("/api/schedules")
    assert response.status_code == 200, response.text
    return {s["id"]: s for s in response.json()["schedules"]}


async def system_jobs(operator: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    response = await operator.get("/api/admin/schedules")
    assert response.status_code == 200, response.text
    return {s["id"]: s for s in response.json()["schedules"]}


async def requested_runs(mongo: Mongo, stack: RunningStack, job: str) -> list[dict[str, Any]]:
    """The firings of ``job`` that a request made (not its cron: an hour may turn meanwhile)."""
    return [f for f in await firings_of(mongo, stack, job) if f["reason"] == "requested"]


async def schedule_document(mongo: Mongo, stack: RunningStack, schedule_id: str) -> Any:
    return await mongo[stack.config.database]["schedules"].find_one({"_id": schedule_id})


async def test_the_tenant_lists_its_own_schedules_and_the_operator_the_system_jobs(
    api: httpx.AsyncClient, operator: httpx.AsyncClient
) -> None:
    campaign_id = await draft_campaign(api, phones(1, prefix="+1707"))
    body = await schedule_send(
        api, campaign_id, {"cron": "0 9 * * MON", "timezone": "Europe/Berlin"}
    )
    listed = await schedules(api)
    assert not {SWEEP, REDRIVE, RETENTION} & set(listed)
    assert all(s["system"] is False for s in listed.values())
    jobs = await system_jobs(operator)
    assert set(jobs) == {REDRIVE, SWEEP, RETENTION}
    assert jobs[SWEEP]["system"] is True and jobs[SWEEP]["cron"] == "* * * * * */2"
    assert jobs[REDRIVE]["system"] is True and jobs[REDRIVE]["cron"] == "0 * * * *"
    assert jobs[REDRIVE]["nextRunAt"] is not None
    # The stack keeps the retention job quiet (UNPACED_QUIET_ENV): it is listed all the same.
    assert jobs[RETENTION]["system"] is True and jobs[RETENTION]["cron"] == QUIET_CRON
    assert (await operator.get(f"/api/admin/schedules/{REDRIVE}")).json() == jobs[REDRIVE]
    # Operators have the system jobs there, not a tenant's schedules.
    theirs = await operator.get(f"/api/admin/schedules/{body['scheduleId']}")
    assert theirs.status_code == 404, theirs.text
    for tenant_route in ("/api/schedules", f"/api/schedules/{body['scheduleId']}"):
        assert (await operator.get(tenant_route)).status_code == 403
    mine = listed[body["scheduleId"]]
    assert mine == {
        **mine,
        "kind": "campaign-send",
        "system": False,
        "campaignId": campaign_id,
        "cron": "0 9 * * MON",
        "timezone": "Europe/Berlin",
        "active": True,
        "nextRunAt": body["nextRunAt"],
        "lastRunAt": None,
    }
    assert mine["nextRunAt"].endswith(("T07:00:00Z", "T08:00:00Z"))  # 09:00 Berlin
    stopped = await api.delete(f"/api/schedules/{body['scheduleId']}")
    assert stopped.status_code == 200, stopped.text


async def test_stopping_a_schedule_that_never_ran_puts_the_campaign_back_to_draft(
    api: httpx.AsyncClient,
) -> None:
    campaign_id = await draft_campaign(api, phones(1, prefix="+1708"))
    body = await schedule_send(api, campaign_id, {"sendAt": in_seconds(3600).isoformat()})
    again = await api.post(f"/api/campaigns/{campaign_id}/send")
    assert again.status_code == 409, again.text

    stopped = await api.delete(f"/api/schedules/{body['scheduleId']}")
    assert stopped.status_code == 200, stopped.text
    assert stopped.json()["campaignStatus"] == "draft"
    assert stopped.json()["schedule"]["active"] is False
    assert stopped.json()["schedule"]["nextRunAt"] is None
    assert (await campaign_of(api, campaign_id))["status"] == "draft"
    twice = await api.delete(f"/api/schedules/{body['scheduleId']}")
    assert twice.status_code == 200 and twice.json()["campaignStatus"] == "draft"
    run = await api.post(f"/api/schedules/{body['scheduleId']}/run")
    assert run.status_code == 409 and run.json()["reason"] == "schedule-stopped", run.text
    # A draft again, it can be scheduled again (or sent now).
    await schedule_send(api, campaign_id, {"sendAt": in_seconds(3600).isoformat()})
    assert (await api.delete(f"/api/schedules/{body['scheduleId']}")).status_code == 200


async def test_run_now_fires_within_about_a_second(
    api: httpx.AsyncClient, mongo: Mongo, stack: RunningStack
) -> None:
    campaign_id = await draft_campaign(api, phones(2, prefix="+1709"))
    body = await schedule_send(api, campaign_id, {"sendAt": in_seconds(3600).isoformat()})
    run = await api.post(f"/api/schedules/{body['scheduleId']}/run")
    assert run.status_code == 202, run.text
    requested = run.json()["runRequestedAt"]
    assert requested is not None
    firings = await eventually(
        lambda: firings_of(mongo, stack, body["scheduleId"]),
        lambda found: len(found) == 1,
        timeout=10,
        what="the requested run fired",
    )
    assert firings[0]["reason"] == "requested"
    assert firings[0]["latenessSeconds"] < 1.5, firings[0]
    await wait_for_statuses(mongo, stack, campaign_id, 2, {"sent"}, timeout=60)
    schedule = (await api.get(f"/api/schedules/{body['scheduleId']}")).json()
    assert schedule["active"] is False  # a one-shot fired now instead of at its time
    assert schedule["runRequestedAt"] is None and schedule["lastRunAt"] is not None


async def test_a_tenant_neither_reads_nor_stops_nor_runs_a_system_job(
    api: httpx.AsyncClient, mongo: Mongo, stack: RunningStack
) -> None:
    for job in (REDRIVE, SWEEP):
        for response in (
            await api.get(f"/api/schedules/{job}"),
            await api.delete(f"/api/schedules/{job}"),
            await api.post(f"/api/schedules/{job}/run"),
            await api.post(f"/api/schedules/{job}/run"),
        ):
            assert response.status_code == 404, response.text
            assert response.json() == {"error": "schedule not found"}
        # Nothing asked the scheduler for a run: it fires a job only at its time or on a
        # request, and no request is recorded.
        document = await schedule_document(mongo, stack, job)
        assert document["active"] is True and document.get("runRequestedAt") is None
    for admin_route in ("/api/admin/schedules", f"/api/admin/schedules/{REDRIVE}"):
        refused = await api.get(admin_route)
        assert refused.status_code == 403, refused.text
    refused = await api.post(f"/api/admin/schedules/{REDRIVE}/run")
    assert refused.status_code == 403, refused.text
    assert (await schedule_document(mongo, stack, REDRIVE)).get("runRequestedAt") is None


async def test_an_operator_runs_a_system_job_and_the_scheduler_fires_it(
    operator: httpx.AsyncClient, mongo: Mongo, stack: RunningStack
) -> None:
    before = len(await requested_runs(mongo, stack, REDRIVE))
    run = await operator.post(f"/api/admin/schedules/{REDRIVE}/run")
    assert run.status_code == 202, run.text
    assert run.json()["runRequestedAt"] is not None
    firings = await eventually(
        lambda: requested_runs(mongo, stack, REDRIVE),
        lambda found: len(found) == before + 1 and found[-1]["state"] == "done",
        timeout=10,
        what="the redrive ran",
    )
    assert "redriven" in firings[-1]["detail"]
    job = (await system_jobs(operator))[REDRIVE]
    assert job["active"] is True and job["runRequestedAt"] is None


async def test_a_run_in_progress_is_not_requested_again(
    operator: httpx.AsyncClient, mongo: Mongo, stack: RunningStack
) -> None:
    before = len(await requested_runs(mongo, stack, REDRIVE))
    # With no scheduler running, a requested run stays in progress (asked for, not fired).
    for name in SCHEDULERS:
        await asyncio.to_thread(stack.processes[name].stop, 20)
    try:
        first = await operator.post(f"/api/admin/schedules/{REDRIVE}/run")
        assert first.status_code == 202, first.text
        for _ in range(3):
            again = await operator.post(f"/api/admin/schedules/{REDRIVE}/run")
            assert again.status_code == 409, again.text
            assert again.json()["reason"] == "run-in-progress"
            assert "has not fired yet" in again.json()["error"]
        assert (await system_jobs(operator))[REDRIVE]["runRequestedAt"] == (
            first.json()["runRequestedAt"]
        )
    finally:
        for name in SCHEDULERS:
            stack.processes[name].start()
        await asyncio.to_thread(wait_ready, [stack.processes[n] for n in SCHEDULERS], 60)
    await eventually(
        lambda: requested_runs(mongo, stack, REDRIVE),
        lambda found: len(found) == before + 1 and found[-1]["state"] == "done",
        timeout=30,
        what="the one requested redrive ran",
    )
    # Once it has ended, the job can run again.
    after = await operator.post(f"/api/admin/schedules/{REDRIVE}/run")
    assert after.status_code == 202, after.text
    await eventually(
        lambda: requested_runs(mongo, stack, REDRIVE),
        lambda found: len(found) == before + 2 and found[-1]["state"] == "done",
        timeout=10,
        what="the next requested redrive ran",
    )


async def test_another_tenants_schedules_are_not_found(
    api: httpx.AsyncClient, mongo: Mongo, stack: RunningStack
) -> None:
    campaign_id = await draft_campaign(api, phones(1, prefix="+1714"))
    body = await schedule_send(api, campaign_id, {"sendAt": in_seconds(3600).isoformat()})
    token = await add_tenant_token(mongo, stack, "tenant-other")
    async with api_client(stack) as other:
        other.headers["Authorization"] = f"Bearer {token}"
        path = f"/api/schedules/{body['scheduleId']}"
        for response in (
            await other.get(path),
            await other.delete(path),
            await other.post(f"{path}/run"),
        ):
            assert response.status_code == 404, response.text
            assert response.json() == {"error": "schedule not found"}
        theirs = (await other.get("/api/schedules")).json()
        assert theirs["schedules"] == []
        assert theirs["total"] == 0
        assert (await other.delete("/api/schedules")).json() == {"stopped": 0}
    assert (await api.get(path)).json()["active"] is True
    assert (await api.delete(path)).status_code == 200


async def test_stopping_all_stops_only_the_tenants_active_schedules(
    api: httpx.AsyncClient, operator: httpx.AsyncClient
) -> None:
    ids = []
    for prefix in ("+1715", "+1712"):
        campaign_id = await draft_campaign(api, phones(1, prefix=prefix))
        body = await schedule_send(api, campaign_id, {"cron": "0 0 1 1 *"})
        ids.append(body["scheduleId"])
    stopped = await api.delete("/api/schedules")
    assert stopped.status_code == 200 and stopped.json()["stopped"] >= 2, stopped.text
    listed = await schedules(api)
    assert all(listed[i]["active"] is False for i in ids)
    jobs = await system_jobs(operator)
    assert all(jobs[job]["active"] is True for job in (SWEEP, REDRIVE, RETENTION))
    assert (await api.delete("/api/schedules")).json() == {"stopped": 0}


@pytest.mark.parametrize(
    ("schedule", "field", "words"),
    [
        ({"cron": "61 * * * *"}, "cron", "invalid cron expression"),
        ({"cron": "every monday"}, "cron", "invalid cron expression"),
        ({"cron": "0 9 * * MON", "timezone": "Mars/Olympus"}, "timezone", "unknown time zone"),
        ({"sendAt": "2026-06-01T09:00:00"}, "sendAt", "timezone"),
        ({"sendAt": "tomorrow"}, "sendAt", "datetime"),
        (
            {"sendAt": "2026-06-01T09:00:00Z", "cron": "0 9 * * MON"},
            "cron",
            "not both",
        ),
        ({"send_at": "2026-06-01T09:00:00Z"}, "send_at", "Extra inputs"),
    ],
)
async def test_a_schedule_that_cannot_be_read_is_422_naming_the_field(
    api: httpx.AsyncClient, schedule: dict[str, Any], field: str, words: str
) -> None:
    campaign_id = await draft_campaign(api, phones(1, prefix="+1713"))
    response = await api.post(f"/api/campaigns/{campaign_id}/send", json=schedule)
    assert response.status_code == 422, response.text
    [error] = response.json()["fields"]
    assert error["field"] == field
    assert words.lower() in error["message"].lower(), error
    assert (await campaign_of(api, campaign_id))["status"] == "draft"


async def test_a_campaign_without_contacts_cannot_be_scheduled(api: httpx.AsyncClient) -> None:
    created = await api.post("/api/campaigns", json={"name": "empty", "messageBody": "Hi"})
    campaign_id = created.json()["id"]
    response = await api.post(
        f"/api/campaigns/{campaign_id}/send", json={"sendAt": in_seconds(60).isoformat()}
    )
    assert response.status_code == 409 and "no contacts" in response.json()["error"]
