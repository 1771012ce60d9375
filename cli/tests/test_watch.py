"""The watch loop against a scripted API: it follows the counts, asks for the sweep once every
message ended (with the operator token: the sweep is a system job), and ends on the campaign's
status or its timeout."""

from __future__ import annotations

import io
import json
import re
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

import httpx
import pytest

from herald_cli.api import HeraldApi
from herald_cli.connection import Connection
from herald_cli.output import Output, console_for
from herald_cli.progress import Verdict
from herald_cli.watch import WatchOptions, watch_campaign
from herald_cli.watch_displays import JsonDisplay, LiveDisplay, LogDisplay

SWEEP = "sch_system-sweep"
OPERATOR_TOKEN = "operator-token"


@dataclass
class ScriptedHerald:
    """Serves a campaign whose counts move one step per poll; the sweep completes it."""

    steps: list[tuple[int, int, int]]
    """(total, pending, sent) per poll; the last one repeats."""
    name: str = "Sale"
    sweep_listed: bool = True
    sweep_running: bool = False
    """A sweep under way: a run asked for now is refused (409)."""
    polls: int = 0
    sweep_runs: int = 0
    completed: bool = False
    requests: list[str] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        self.requests.append(f"{request.method} {path}")
        if path == "/api/campaigns/cmp_1":
            status = "completed" if self.completed else "running"
            return httpx.Response(
                200,
                json={
                    "id": "cmp_1",
                    "name": self.name,
                    "status": status,
                    "contactCount": 3,
                    "run": 1,
                },
            )
        if path == "/api/messages/campaign/cmp_1/stats":
            total, pending, sent = self.steps[min(self.polls, len(self.steps) - 1)]
            self.polls += 1
            return httpx.Response(
                200,
                json={
                    "total": total,
                    "pending": pending,
                    "sent": sent,
                    "delivered": 0,
                    "failed": 0,
                    "successRate": "0.00",
                },
            )
        operator = request.headers.get("Authorization") == f"Bearer {OPERATOR_TOKEN}"
        if path.startswith("/api/admin/") and not operator:
            return httpx.Response(403, json={"error": "this route is for operators"})
        if path == "/api/admin/schedules":
            jobs = [{"id": SWEEP, "kind": "sweep", "system": True}] if self.sweep_listed else []
            return httpx.Response(200, json={"schedules": jobs})
        if path == f"/api/admin/schedules/{SWEEP}/run":
            if self.sweep_running:
                self.completed = True  # the sweep under way completes it
                return httpx.Response(
                    409, json={"error": "a run is in progress", "reason": "run-in-progress"}
                )
            self.sweep_runs += 1
            self.completed = True
            return httpx.Response(202, json={"id": SWEEP, "nextRunAt": "2026-11-29T12:05:00Z"})
        return httpx.Response(404, json={"error": "not found"})


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class Run:
    herald: ScriptedHerald
    api: HeraldApi
    operator_api: HeraldApi | None
    clock: FakeClock
    out: io.StringIO


@contextmanager
def scripted(herald: ScriptedHerald, *, tty: bool = False, operator: bool = True) -> Iterator[Run]:
    transport = httpx.MockTransport(herald.handle)
    api = HeraldApi(Connection("http://h.test", "t", "--token"), transport=transport)
    operator_api = (
        HeraldApi(Connection("http://h.test", OPERATOR_TOKEN, "--admin-token"), transport=transport)
        if operator
        else None
    )
    out = TerminalStream() if tty else io.StringIO()
    try:
        yield Run(herald, api, operator_api, FakeClock(), out)
    finally:
        api.close()
        if operator_api is not None:
            operator_api.close()


class TerminalStream(io.StringIO):
    encoding = "utf-8"

    def isatty(self) -> bool:
        return True


SENDING_THEN_ENDED = [(0, 0, 0), (3, 2, 1), (3, 0, 3)]


def test_once_every_message_ended_the_sweep_is_asked_for_once_and_completes_it() -> None:
    with scripted(ScriptedHerald(SENDING_THEN_ENDED)) as r:
        result = watch_campaign(
            r.api,
            "cmp_1",
            WatchOptions(),
            LogDisplay(Output.on(r.out, io.StringIO())),
            clock=r.clock,
            sleep=r.clock.sleep,
            operator_api=r.operator_api,
        )
        assert result.verdict is Verdict.COMPLETED and not result.timed_out
        assert r.herald.sweep_runs == 1
        lines = r.out.getvalue().splitlines()
        assert [line.split("  ")[1] for line in lines[:3]] == [
            "running",
            "running",
            "completing",
        ]
        assert lines[3].startswith("every message ended: asked the scheduler to sweep now")
        assert lines[-1] == (
            "Campaign cmp_1 completed: 3 sent, 0 delivered, 0 failed, 0 pending of 3; "
            "success 0.00%."
        )


def test_without_sweep_requests_the_watch_waits_and_times_out() -> None:
    with scripted(ScriptedHerald(SENDING_THEN_ENDED)) as r:
        result = watch_campaign(
            r.api,
            "cmp_1",
            WatchOptions(interval=1, timeout=5, request_sweep=False),
            LogDisplay(Output.on(r.out, io.StringIO())),
            clock=r.clock,
            sleep=r.clock.sleep,
            operator_api=r.operator_api,
        )
        assert result.timed_out and result.verdict is Verdict.ALL_ENDED
        assert r.herald.sweep_runs == 0
        assert not any("schedules" in request for request in r.herald.requests)
        assert r.clock.now == 5


def test_a_sweep_that_cannot_be_asked_for_is_said_once_and_the_watch_goes_on() -> None:
    with scripted(ScriptedHerald(SENDING_THEN_ENDED, sweep_listed=False)) as r:
        result = watch_campaign(
            r.api,
            "cmp_1",
            WatchOptions(interval=1, timeout=30),
            LogDisplay(Output.on(r.out, io.StringIO())),
            clock=r.clock,
            sleep=r.clock.sleep,
            operator_api=r.operator_api,
        )
        assert result.timed_out
        notes = [line for line in r.out.getvalue().splitlines() if "sweep" in line]
        assert notes == [
            "cannot ask for the sweep (the scheduler lists no sweep job); the campaign is "
            "marked completed at the scheduler's next sweep"
        ]
        assert r.herald.requests.count("GET /api/admin/schedules") == 1


def test_without_the_operator_token_the_watch_says_the_next_sweep_completes_it() -> None:
    with scripted(ScriptedHerald(SENDING_THEN_ENDED), operator=False) as r:
        result = watch_campaign(
            r.api,
            "cmp_1",
            WatchOptions(interval=1, timeout=30),
            LogDisplay(Output.on(r.out, io.StringIO())),
            clock=r.clock,
            sleep=r.clock.sleep,
            operator_api=r.operator_api,
        )
        assert result.timed_out and result.verdict is Verdict.ALL_ENDED
        notes = [line for line in r.out.getvalue().splitlines() if "sweep" in line]
        assert notes == [
            "every message ended; the scheduler's next sweep marks the campaign completed (the "
            "sweep is an operator's job: with --admin-token or HERALD_ADMIN_TOKEN the watch "
            "asks for it now)"
        ]
        assert r.herald.sweep_runs == 0
        assert not any("schedules" in request for request in r.herald.requests)


def test_a_sweep_under_way_is_not_asked_for_again_and_completes_the_campaign() -> None:
    with scripted(ScriptedHerald(SENDING_THEN_ENDED, sweep_running=True)) as r:
        result = watch_campaign(
            r.api,
            "cmp_1",
            WatchOptions(),
            LogDisplay(Output.on(r.out, io.StringIO())),
            clock=r.clock,
            sleep=r.clock.sleep,
            operator_api=r.operator_api,
        )
        assert result.verdict is Verdict.COMPLETED and r.herald.sweep_runs == 0
        assert (
            "every message ended: the scheduler is sweeping now, which marks the campaign completed"
        ) in r.out.getvalue().splitlines()


def test_json_lines_one_per_change_and_the_last_says_the_outcome() -> None:
    with scripted(ScriptedHerald(SENDING_THEN_ENDED)) as r:
        watch_campaign(
            r.api,
            "cmp_1",
            WatchOptions(),
            JsonDisplay(Output.on(r.out, io.StringIO(), json=True)),
            clock=r.clock,
            sleep=r.clock.sleep,
            operator_api=r.operator_api,
        )
        lines = [json.loads(line) for line in r.out.getvalue().splitlines()]
        assert [line["state"] for line in lines] == [
            "sending",
            "sending",
            "all-ended",
            "completed",
            "completed",
        ]
        assert lines[-1]["outcome"] == "completed"
        assert lines[-1]["sent"] == 3 and lines[-1]["expected"] == 3


def screen(drawn: str) -> list[str]:
    """What a terminal shows at the end: each line as last drawn (Rich redraws the bar's line
    after a carriage return and an erase), without colours."""
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", drawn)
    return [line.split("\r")[-1] for line in plain.split("\n")]


@pytest.fixture
def terminal(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("COLUMNS", "100")
    monkeypatch.setenv("TERM", "xterm")
    for variable in ("NO_COLOR", "FORCE_COLOR", "TTY_COMPATIBLE", "TTY_INTERACTIVE"):
        monkeypatch.delenv(variable, raising=False)


@pytest.mark.usefixtures("terminal")
def test_a_terminal_gets_a_live_bar_then_the_outcome() -> None:
    with scripted(ScriptedHerald(SENDING_THEN_ENDED, name="Summer [Sale]"), tty=True) as r:
        watch_campaign(
            r.api,
            "cmp_1",
            WatchOptions(),
            LiveDisplay(console_for(r.out), clock=r.clock),
            clock=r.clock,
            sleep=r.clock.sleep,
            operator_api=r.operator_api,
        )
        drawn = r.out.getvalue()
        assert "\x1b[2K" in drawn  # redrawn in place
        lines = screen(drawn)
        bar, outcome, end = lines[-3:]
        assert re.fullmatch(
            r"Summer \[Sale\]  completed ━{30,} 100%  3/3  sent 3  failed 0  pending 0 *", bar
        ), bar
        # Notes are printed above the bar, which stays at the bottom until the end; a line
        # longer than the terminal is left for the terminal to wrap.
        assert (
            "every message ended: asked the scheduler to sweep now, which marks the campaign "
            "completed (its next sweep otherwise: 2026-11-29 12:05:00Z)"
        ) in lines[:-3]
        assert outcome == (
            "Campaign cmp_1 completed: 3 sent, 0 delivered, 0 failed, 0 pending of 3; "
            "success 0.00%."
        )
        assert end == ""


@pytest.mark.usefixtures("terminal")
def test_while_sending_the_bar_shows_the_rate_and_the_time_left() -> None:
    one_a_second = [(3, 3, 0), (3, 2, 1), (3, 1, 2)]
    with scripted(ScriptedHerald(one_a_second), tty=True) as r:
        watch_campaign(
            r.api,
            "cmp_1",
            WatchOptions(interval=1, timeout=2, request_sweep=False),
            LiveDisplay(console_for(r.out), clock=r.clock),
            clock=r.clock,
            sleep=r.clock.sleep,
            operator_api=r.operator_api,
        )
        bar = screen(r.out.getvalue())[-2]
        assert bar.startswith("Sale  running ")
        assert bar.rstrip().endswith("67%  2/3  sent 2  failed 0  pending 1 1.0/s  ETA 0:01")
