"""``herald admin schedules``: the system jobs with the operator token, against an API answered
in memory."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest

from .running_herald import Herald

ADMIN = "--api http://herald.test --admin-token op-secret"
JOBS = [
    {
        "id": "sch_system-redrive",
        "kind": "redrive",
        "system": True,
        "cron": "0 * * * *",
        "timezone": "UTC",
        "active": True,
        "nextRunAt": "2026-11-29T13:00:00Z",
        "lastRunAt": "2026-11-29T12:00:00Z",
        "runRequestedAt": None,
    },
    {
        "id": "sch_system-sweep",
        "kind": "sweep",
        "system": True,
        "cron": "*/5 * * * *",
        "timezone": "UTC",
        "active": True,
        "nextRunAt": "2026-11-29T12:05:00Z",
        "lastRunAt": None,
        "runRequestedAt": None,
    },
]


@pytest.fixture(autouse=True)
def no_tokens_around(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name in ("HERALD_ADMIN_TOKEN", "HERALD_API_TOKEN", "HERALD_API_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_the_system_jobs_are_listed_with_the_operator_token(herald: Herald) -> None:
    herald.answer = lambda _: httpx.Response(200, json={"schedules": JOBS})
    assert herald(f"admin schedules list {ADMIN}", connected=False) == 0
    request = herald.requests[-1]
    assert (request.method, request.url.path) == ("GET", "/api/admin/schedules")
    assert request.headers["authorization"] == "Bearer op-secret"
    rows = [line.split() for line in herald.out.splitlines() if line.startswith("sch_")]
    assert [row[:2] for row in rows] == [
        ["sch_system-redrive", "redrive"],
        ["sch_system-sweep", "sweep"],
    ]
    assert herald(f"admin schedules list {ADMIN} --json", connected=False) == 0
    assert json.loads(herald.out) == {"schedules": JOBS}


def test_a_system_job_runs_now(herald: Herald) -> None:
    ran = {**JOBS[1], "runRequestedAt": "2026-11-29T12:01:00Z"}
    herald.answer = lambda _: httpx.Response(202, json=ran)
    assert herald(f"admin schedules run sch_system-sweep {ADMIN}", connected=False) == 0
    request = herald.requests[-1]
    assert (request.method, request.url.path) == (
        "POST",
        "/api/admin/schedules/sch_system-sweep/run",
    )
    assert herald.out.startswith("Asked the scheduler to run sch_system-sweep (sweep) now")


def test_a_run_in_progress_is_refused_with_the_apis_reason(herald: Herald) -> None:
    error = "a run of sch_system-redrive requested at 2026-11-29T12:01:00Z has not fired yet"
    herald.answer = lambda _: httpx.Response(
        409, json={"error": error, "reason": "run-in-progress"}
    )
    assert herald(f"admin schedules run sch_system-redrive {ADMIN}", connected=False) == 1
    assert error in herald.err


def test_without_the_operator_token_nothing_is_sent(herald: Herald) -> None:
    assert herald("admin schedules list --api http://herald.test", connected=False) == 2
    assert herald.requests == []
    assert "no operator token" in herald.err
