"""What the scale benchmark reads from the running system: the API routes' response times
(polled while the campaign sends), MongoDB's size of the ``messages`` collection, each
process's peak memory, and, on request, where a service spends its time (py-spy)."""

from __future__ import annotations

import asyncio
import contextlib
import shutil
import signal
import subprocess
import sys
import time
from collections.abc import Mapping
from pathlib import Path

import httpx

from herald_bench.proc_stats import memory_mb
from herald_bench.scale_figures import MessageStorage, RouteLatencies
from herald_infra.mongo.client import MESSAGES, Database

POLL_EVERY_SECONDS = 0.25
ROUTE_TIMEOUT_SECONDS = 30.0


def polled_routes(campaign_id: str) -> dict[str, str]:
    """The routes a user watches a campaign through, by the name the table gives them."""
    return {
        "campaign stats": f"/api/messages/campaign/{campaign_id}/stats",
        "campaign list": "/api/campaigns",
        "queue-stats": "/api/messages/queue-stats",
        "dead letters": "/api/dead-letters",
    }


class RoutePoller:
    """Calls each route again and again (one request in flight per route, a new one every
    ``every_seconds`` or as soon as the last answered if it took longer) until stopped, and
    keeps every response time, failures included."""

    def __init__(
        self, api: httpx.AsyncClient, routes: Mapping[str, str], every_seconds: float
    ) -> None:
        self._api = api
        self._routes = routes
        self._every = every_seconds
        self._seconds: dict[str, list[float]] = {name: [] for name in routes}
        self._failures: dict[str, int] = dict.fromkeys(routes, 0)
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [asyncio.create_task(self._poll(name)) for name in self._routes]

    async def _poll(self, name: str) -> None:
        path = self._routes[name]
        while True:
            started = time.perf_counter()
            try:
                answer = await self._api.get(path, timeout=ROUTE_TIMEOUT_SECONDS)
                failed = answer.status_code != 200
            except httpx.HTTPError:
                failed = True
            elapsed = time.perf_counter() - started
            self._seconds[name].append(elapsed)
            self._failures[name] += failed
            await asyncio.sleep(max(0.0, self._every - elapsed))

    async def stop(self) -> list[RouteLatencies]:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        return [
            RouteLatencies(name, tuple(self._seconds[name]), self._failures[name])
            for name in self._routes
        ]


async def message_storage(db: Database) -> MessageStorage:
    """``collStats`` of the ``messages`` collection."""
    stats = await db.command("collStats", MESSAGES)
    return MessageStorage(
        messages=int(stats["count"]),
        data_bytes=int(stats["size"]),
        storage_bytes=int(stats["storageSize"]),
        index_bytes=int(stats["totalIndexSize"]),
    )


def peak_memory(pids: Mapping[str, int | None]) -> dict[str, float]:
    """Each running process's peak resident memory (VmHWM), MB."""
    peaks = {name: memory_mb(pid, "VmHWM") for name, pid in pids.items()}
    return {name: mb for name, mb in peaks.items() if mb > 0}


def py_spy() -> str | None:
    """The py-spy program of this environment, or on the PATH."""
    beside = Path(sys.executable).with_name("py-spy")
    return str(beside) if beside.exists() else shutil.which("py-spy")


class Profile:
    """py-spy sampling one process (without stopping it) into a collapsed-stacks file."""

    def __init__(self, pid: int, output: Path) -> None:
        program = py_spy()
        if program is None:
            raise RuntimeError("py-spy is not installed (pip install py-spy)")
        self.output = output
        self._process = subprocess.Popen(
            [
                *(program, "record", "--pid", str(pid), "--output", str(output)),
                *("--format", "raw", "--nolineno", "--nonblocking", "--rate", "50"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=output.with_suffix(".log").open("wb"),
        )

    def stop(self) -> Path:
        """Stop sampling; the file of collapsed stacks."""
        self._process.send_signal(signal.SIGINT)
        try:
            self._process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            self._process.kill()
            self._process.wait()
        return self.output
