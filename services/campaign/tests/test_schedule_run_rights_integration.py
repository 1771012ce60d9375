"""Who runs which schedule, on the real Kafka and MongoDB (the campaign service alone; the
scheduler's part is tests/scheduling): a tenant its own schedules only, never a system job
(404, nothing requested); an operator the system jobs; and no run requested while the previous
one is in progress (409 ``run-in-progress``), whoever asks."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from pydantic import SecretStr

from herald_campaign.adapters.api_keys import register_api_key
from herald_core.schedules import Firing

from .conftest import (
    OTHER_TENANT,
    OTHER_TOKEN,
    RunningService,
    campaign_settings,
    campaign_with_contacts,
    running_service,
)

pytestmark = pytest.mark.integration

ADMIN_TOKEN = "campaign-it-admin-token"
REDRIVE = "sch_system-redrive"
SWEEP = "sch_system-sweep"
RETENTION = "sch_system-retention"


def system_job(kind: str, cron: str) -> dict[str, Any]:
    """A system job's document as the scheduler writes it at its start."""
    now = datetime.now(UTC).replace(microsecond=0)
    return {
        "_id": f"sch_system-{kind}",
        "kind": kind,
        "tenantId": None,
        "system": True,
        "cron": cron,
        "timezone": "UTC",
        "active": True,
        "nextRunAt": now + timedelta(hours=1),
        "updatedAt": now,
        "createdAt": now,
    }


@pytest.fixture(scope="module")
async def service(kafka_bootstrap: str, mongodb_url: str) -> AsyncIterator[RunningService]:
    settings = campaign_settings(kafka_bootstrap, mongodb_url, "run_rights").model_copy(
        update={"admin_token": SecretStr(ADMIN_TOKEN)}
    )
    async with running_service(settings) as svc:
        await register_api_key(svc.db, OTHER_TOKEN, OTHER_TENANT, "other")
        await svc.db["schedules"].insert_many(
            [
                system_job("redrive", "0 * * * *"),
                system_job("retention", "23 * * * *"),
                system_job("sweep", "*/5 * * * *"),
            ]
        )
        yield svc


@pytest.fixture
async def operator(service: RunningService) -> AsyncIterator[httpx.AsyncClient]:
    async with service.client_for(ADMIN_TOKEN) as client:
        yield client


@pytest.fixture
async def clean_jobs(service: RunningService) -> AsyncIterator[None]:
    """The system jobs with no run asked for or under way, before and after the test."""

    async def clean() -> None:
        await service.db["schedules"].update_many(
            {"tenantId": None}, {"$unset": {"runRequestedAt": ""}}
        )
        await service.db["schedule_firings"].delete_many({"scheduleId": {"$in": [REDRIVE, SWEEP]}})

    await clean()
    yield
    await clean()


async def stored(service: RunningService, schedule_id: str) -> Any:
    return await service.db["schedules"].find_one({"_id": schedule_id})


async def scheduled_cron_campaign(api: httpx.AsyncClient) -> dict[str, Any]:
    campaign_id = await campaign_with_contacts(api)
    sent = await api.post(f"/api/campaigns/{campaign_id}/send", json={"cron": "0 9 * * MON"})
    assert sent.status_code == 202, sent.text
    body: dict[str, Any] = sent.json()
    return body


async def fire(service: RunningService, schedule_id: str, *, state: str = "started") -> str:
    """What the scheduler does when it fires a requested run: the request gives way to a
    ``started`` firing (``done`` once its action ended)."""
    schedule = await stored(service, schedule_id)
    due = schedule.get("runRequestedAt") or datetime.now(UTC).replace(microsecond=0)
    firing = Firing(schedule_id, due)
    now = datetime.now(UTC).replace(microsecond=0)
    await service.db["schedule_firings"].insert_one(
        {
            "_id": firing.firing_id,
            "scheduleId": schedule_id,
            "kind": schedule["kind"],
            "scheduledFor": due,
            "reason": "requested",
            "firedAt": now,
            "state": state,
            "by": "scheduler-test",
            "attempts": 1,
        }
    )
    await service.db["schedules"].update_one(
        {"_id": schedule_id}, {"$unset": {"runRequestedAt": ""}, "$set": {"lastRunAt": now}}
    )
    return firing.firing_id


async def test_a_tenant_neither_sees_nor_reads_nor_stops_nor_runs_a_system_job(
    service: RunningService, clean_jobs: None
) -> None:
    listed = await service.client.get("/api/schedules")
    assert listed.status_code == 200, listed.text
    assert not any(s["id"] in (REDRIVE, RETENTION, SWEEP) for s in listed.json()["schedules"])
    for job in (REDRIVE, RETENTION, SWEEP):
        for method, path in [
            ("GET", f"/api/schedules/{job}"),
            ("DELETE", f"/api/schedules/{job}"),
            ("POST", f"/api/schedules/{job}/run"),
            ("POST", f"/api/schedules/{job}/run"),
        ]:
            response = await service.client.request(method, path)
            assert response.status_code == 404, (method, path, response.text)
            assert response.json() == {"error": "schedule not found"}
        document = await stored(service, job)
        assert document["active"] is True and document.get("runRequestedAt") is None
    for method, path in [
        ("GET", "/api/admin/schedules"),
        ("GET", f"/api/admin/schedules/{REDRIVE}"),
        ("POST", f"/api/admin/schedules/{REDRIVE}/run"),
    ]:
        response = await service.client.request(method, path)
        assert response.status_code == 403, (method, path, response.text)
    assert (await stored(service, REDRIVE)).get("runRequestedAt") is None


async def test_an_operator_lists_reads_and_runs_the_system_jobs(
    service: RunningService, operator: httpx.AsyncClient, clean_jobs: None
) -> None:
    listed = await operator.get("/api/admin/schedules")
    assert listed.status_code == 200, listed.text
    jobs = listed.json()["schedules"]
    assert [(j["id"], j["kind"], j["system"], j["cron"]) for j in jobs] == [
        (REDRIVE, "redrive", True, "0 * * * *"),
        (RETENTION, "retention", True, "23 * * * *"),
        (SWEEP, "sweep", True, "*/5 * * * *"),
    ]
    one = await operator.get(f"/api/admin/schedules/{SWEEP}")
    assert one.status_code == 200 and one.json() == jobs[2], one.text

    run = await operator.post(f"/api/admin/schedules/{SWEEP}/run")
    assert run.status_code == 202, run.text
    requested = run.json()["runRequestedAt"]
    assert requested is not None
    assert (await stored(service, SWEEP))["runRequestedAt"] == datetime.fromisoformat(requested)

    # A tenant's schedule is not a system job; an unknown id is nothing.
    theirs = await scheduled_cron_campaign(service.client)
    for schedule_id in (theirs["scheduleId"], "sch_system-nope"):
        for method, path in [
            ("GET", f"/api/admin/schedules/{schedule_id}"),
            ("POST", f"/api/admin/schedules/{schedule_id}/run"),
        ]:
            response = await operator.request(method, path)
            assert response.status_code == 404, (method, path, response.text)
    assert (await stored(service, theirs["scheduleId"])).get("runRequestedAt") is None
    # The operator acts on no tenant's routes.
    assert (await operator.get("/api/schedules")).status_code == 403
    assert (
        await service.client.delete(f"/api/schedules/{theirs['scheduleId']}")
    ).status_code == 200


async def test_a_system_job_is_not_run_again_while_its_run_is_in_progress(
    service: RunningService, operator: httpx.AsyncClient, clean_jobs: None
) -> None:
    path = f"/api/admin/schedules/{REDRIVE}/run"
    first = await operator.post(path)
    assert first.status_code == 202, first.text

    # Asked for, not fired yet.
    waiting = await operator.post(path)
    assert waiting.status_code == 409, waiting.text
    assert waiting.json()["reason"] == "run-in-progress"
    assert "has not fired yet" in waiting.json()["error"]
    assert (await stored(service, REDRIVE))["runRequestedAt"] == datetime.fromisoformat(
        first.json()["runRequestedAt"]
    )

    # Fired, still running.
    firing_id = await fire(service, REDRIVE)
    running = await operator.post(path)
    assert running.status_code == 409, running.text
    assert running.json()["reason"] == "run-in-progress"
    assert f"firing {firing_id}" in running.json()["error"]
    assert (await stored(service, REDRIVE)).get("runRequestedAt") is None

    # A run on its cron counts as well: any started firing of the job.
    await service.db["schedule_firings"].update_one(
        {"_id": firing_id}, {"$set": {"reason": "scheduled"}}
    )
    assert (await operator.post(path)).status_code == 409

    # Ended: it may run again.
    await service.db["schedule_firings"].update_one(
        {"_id": firing_id}, {"$set": {"state": "done", "outcome": "done"}}
    )
    again = await operator.post(path)
    assert again.status_code == 202, again.text


async def test_a_tenants_schedule_is_not_run_again_while_its_run_is_in_progress(
    service: RunningService,
) -> None:
    api = service.client
    body = await scheduled_cron_campaign(api)
    schedule_id, campaign_id = body["scheduleId"], body["campaignId"]
    path = f"/api/schedules/{schedule_id}/run"
    first = await api.post(path)
    assert first.status_code == 202, first.text
    waiting = await api.post(path)
    assert waiting.status_code == 409 and waiting.json()["reason"] == "run-in-progress"

    firing_id = await fire(service, schedule_id)
    firing = await api.post(path)
    assert firing.status_code == 409 and f"firing {firing_id}" in firing.json()["error"]

    # The firing published its run start and the run began: the campaign sends until the
    # sweep ends its run.
    await service.db["schedule_firings"].update_one({"_id": firing_id}, {"$set": {"state": "done"}})
    await service.db["campaigns"].update_one(
        {"_id": campaign_id}, {"$set": {"status": "running", "run": 1}}
    )
    sending = await api.post(path)
    assert sending.status_code == 409, sending.text
    assert sending.json()["reason"] == "run-in-progress"
    assert "still sending" in sending.json()["error"]
    assert (await stored(service, schedule_id)).get("runRequestedAt") is None

    # The run over, the campaign waits for its next firing: a run may be asked for.
    await service.db["campaigns"].update_one(
        {"_id": campaign_id}, {"$set": {"status": "scheduled"}}
    )
    assert (await api.post(path)).status_code == 202
    # Another tenant still finds nothing there.
    async with service.client_for(OTHER_TOKEN) as other:
        assert (await other.post(path)).status_code == 404
