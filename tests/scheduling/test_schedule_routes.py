"""``/api/schedules`` and scheduled sends over REST: the tenant's schedules and the system
jobs, stop one or all, run one now; another tenant's are invisible; bad schedules are 422
naming the field."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from herald_devstack.waiting import eventually
from tests.system import RunningStack, add_tenant_token, api_client, phones, wait_for_statuses

from .conftest import (
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


async def schedules(api: httpx.AsyncClient) -> dict[str, dict[str, Any]]:
    response = await api.get("/api/schedules")
    assert response.status_code == 200, response.text
    return {s["id"]: s for s in response.json()["schedules"]}


async def test_the_list_shows_the_system_jobs_and_the_tenants_schedules(
    api: httpx.AsyncClient,
) -> None:
    campaign_id = await draft_campaign(api, phones(1, prefix="+1707"))
    body = await schedule_send(
        api, campaign_id, {"cron": "0 9 * * MON", "timezone": "Europe/Berlin"}
    )
    listed = await schedules(api)
    assert listed[SWEEP]["system"] is True and listed[SWEEP]["cron"] == "* * * * * */2"
    assert listed[REDRIVE]["system"] is True and listed[REDRIVE]["cron"] == "0 * * * *"
    assert listed[REDRIVE]["nextRunAt"] is not None
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


async def test_a_system_job_can_run_now_but_not_be_stopped(
    api: httpx.AsyncClient, mongo: Mongo, stack: RunningStack
) -> None:
    refused = await api.delete(f"/api/schedules/{SWEEP}")
    assert refused.status_code == 409, refused.text
    assert refused.json()["reason"] == "system-job"
    assert "system job" in refused.json()["error"]

    before = len(await firings_of(mongo, stack, REDRIVE))
    run = await api.post(f"/api/schedules/{REDRIVE}/run")
    assert run.status_code == 202, run.text
    firings = await eventually(
        lambda: firings_of(mongo, stack, REDRIVE),
        lambda found: len(found) == before + 1 and found[-1]["state"] == "done",
        timeout=10,
        what="the redrive ran",
    )
    assert firings[-1]["reason"] == "requested" and "redriven" in firings[-1]["detail"]
    assert (await schedules(api))[REDRIVE]["active"] is True


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
        assert {s["id"] for s in theirs["schedules"]} == {SWEEP, REDRIVE}
        assert theirs["total"] == 0
        assert (await other.delete("/api/schedules")).json() == {"stopped": 0}
    assert (await api.get(path)).json()["active"] is True
    assert (await api.delete(path)).status_code == 200


async def test_stopping_all_stops_only_the_tenants_active_schedules(
    api: httpx.AsyncClient,
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
    assert listed[SWEEP]["active"] is True and listed[REDRIVE]["active"] is True
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
