"""The real gateways, run for the tests the way deploy/local/real-gateways.sh runs them: each in
its own network namespace (it reaches nothing but its loopback), its API out through a unix
socket that socat bridges to a port of ours, and its webhooks back through a second bridge to a
receiver inside the test. Built once into .local/real-gateways (``make install`` does it; here
too when missing). Skipped, saying why, where they cannot run (no node, no npm registry, no
sources, no network namespaces)."""

from __future__ import annotations

import asyncio
import contextlib
import os
import signal
import subprocess
import time
import uuid
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest
import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from herald_devstack.processes import free_port, free_ports
from herald_devstack.waiting import eventually

TOP = Path(__file__).resolve().parents[2]
SCRIPT = TOP / "deploy" / "local" / "real-gateways.sh"
BUILT = TOP / ".local" / "real-gateways"
HOOK_BASE = "http://127.0.0.1:4000"
"""The receiver as a gateway sees it from inside its namespace (the script's bridge)."""
START_TIMEOUT = 90.0

pytestmark = pytest.mark.e2e


@dataclass(frozen=True)
class Hook:
    path: str
    headers: dict[str, str]
    body: bytes

    def json(self) -> dict[str, object]:
        import json

        parsed: dict[str, object] = json.loads(self.body)
        return parsed


@dataclass
class WebhookReceiver:
    """What the gateways post back, through the bridge; answers 200."""

    port: int = 0
    received: list[Hook] = field(default_factory=list)

    async def receive(self, request: Request) -> Response:
        self.received.append(
            Hook(
                request.url.path,
                {k.lower(): v for k, v in request.headers.items()},
                await request.body(),
            )
        )
        return JSONResponse({})

    def on(self, path: str) -> list[Hook]:
        return [hook for hook in self.received if hook.path == path]


@dataclass(frozen=True)
class RealGateway:
    name: str
    url: str
    api_key: str
    receiver: WebhookReceiver

    def hook_url(self, path: str) -> str:
        """The URL the gateway must be given to reach ``path`` on the receiver."""
        return f"{HOOK_BASE}{path}"


def _check() -> str | None:
    """Why the real gateways cannot run here (None: they can)."""
    done = subprocess.run(["bash", str(SCRIPT), "check"], capture_output=True, text=True)
    return None if done.returncode == 0 else (done.stdout + done.stderr).strip()


@pytest.fixture(scope="session")
def real_gateways_built() -> Path:
    """The gateways built (once; kept in .local/real-gateways), or the tests skipped."""
    why = _check()
    if why:
        print(f"\nreal gateways skipped: {why}")
        pytest.skip(f"real gateways cannot run here: {why}")
    built = subprocess.run(
        ["bash", str(SCRIPT), "install"], capture_output=True, text=True, timeout=900
    )
    assert built.returncode == 0, built.stdout + built.stderr
    return BUILT


@pytest.fixture(scope="session")
async def webhook_receiver() -> AsyncIterator[WebhookReceiver]:
    receiver = WebhookReceiver()
    app = Starlette(routes=[Route("/{path:path}", receiver.receive, methods=["POST"])])
    receiver.port = free_port()
    server = uvicorn.Server(
        uvicorn.Config(
            app, host="127.0.0.1", port=receiver.port, log_level="warning", lifespan="off"
        )
    )
    task = asyncio.create_task(server.serve())

    async def started() -> bool:
        if task.done():
            task.result()
        return server.started

    try:
        await eventually(started, bool, timeout=10, what="the webhook receiver listening")
        yield receiver
    finally:
        server.should_exit = True
        with contextlib.suppress(asyncio.CancelledError):
            await task


class Processes:
    """Processes this test session started, each in its own process group, stopped by id."""

    def __init__(self) -> None:
        self._started: list[subprocess.Popen[bytes]] = []

    def start(self, argv: list[str], log: Path, env: dict[str, str] | None = None) -> None:
        with log.open("ab") as out:
            process = subprocess.Popen(
                argv,
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
                env={**os.environ, **(env or {})},
            )
        self._started.append(process)

    def stop_all(self) -> None:
        for process in reversed(self._started):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(process.pid, signal.SIGTERM)
        deadline = time.monotonic() + 15
        for process in reversed(self._started):
            try:
                process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=5)


@contextlib.contextmanager
def _serve(
    gateway: str,
    run_dir: Path,
    api_key: str,
    receiver: WebhookReceiver,
    pg_socket: Path | None = None,
    env: dict[str, str] | None = None,
) -> Iterator[str]:
    processes = Processes()
    port = free_port()
    log = run_dir / f"{gateway}.log"
    try:
        if pg_socket is not None:
            (run_dir / "pg.sock").symlink_to(pg_socket)
        processes.start(
            [
                "socat",
                f"UNIX-LISTEN:{run_dir}/hook.sock,fork,unlink-early",
                f"TCP:127.0.0.1:{receiver.port}",
            ],
            log,
        )
        processes.start(["bash", str(SCRIPT), "serve", gateway, str(run_dir), api_key], log, env)
        processes.start(
            [
                "socat",
                f"TCP-LISTEN:{port},bind=127.0.0.1,fork,reuseaddr",
                f"UNIX-CONNECT:{run_dir}/api.sock",
            ],
            log,
        )
        yield f"http://127.0.0.1:{port}"
    finally:
        processes.stop_all()


async def _ready(url: str, path: str, log: Path) -> None:
    async def answer() -> int:
        try:
            async with httpx.AsyncClient(timeout=3) as client:
                return (await client.get(f"{url}{path}")).status_code
        except httpx.HTTPError:
            return 0

    try:
        await eventually(answer, lambda code: code == 200, timeout=START_TIMEOUT, what=url)
    except AssertionError:
        tail = await asyncio.to_thread(_tail, log)
        raise AssertionError(f"{url} did not come up; its log ends:\n{tail}") from None


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-3000:] if log.exists() else ""


@pytest.fixture(scope="session")
async def real_waha(
    real_gateways_built: Path,
    webhook_receiver: WebhookReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[RealGateway]:
    """WAHA Core 2024.10.8 (NOWEB by default), its session ``default`` STOPPED at start."""
    run_dir = tmp_path_factory.mktemp("waha")
    key = f"waha-{uuid.uuid4().hex[:8]}"
    with _serve("waha", run_dir, key, webhook_receiver) as url:
        await _ready(url, "/api/server/version", run_dir / "waha.log")
        yield RealGateway("waha", url, key, webhook_receiver)
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await client.post("/api/sessions/default/stop")


WORKING_GATE = Path(__file__).with_name("waha_session_working.cjs")


@pytest.fixture(scope="session")
async def real_waha_past_the_gate(
    real_gateways_built: Path,
    webhook_receiver: WebhookReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[RealGateway]:
    """A second WAHA Core 2024.10.8 whose started session counts as WORKING
    (``waha_session_working.cjs``; offline it never is): what its engines answer on a
    WORKING session, through WAHA's own routes, engines and exception filter."""
    run_dir = tmp_path_factory.mktemp("waha-gate")
    key = f"waha-{uuid.uuid4().hex[:8]}"
    env = {"NODE_OPTIONS": f"--require {WORKING_GATE}"}
    with _serve("waha", run_dir, key, webhook_receiver, env=env) as url:
        await _ready(url, "/api/server/version", run_dir / "waha.log")
        async with httpx.AsyncClient(base_url=url, timeout=15) as client:
            started = await client.post("/api/sessions/default/start")
            assert started.status_code == 201, started.text
        yield RealGateway("waha", url, key, webhook_receiver)
        async with httpx.AsyncClient(base_url=url, timeout=10) as client:
            await client.post("/api/sessions/default/stop")


@pytest.fixture(scope="session")
def evolution_database(real_gateways_built: Path) -> Iterator[Path]:
    """A throw-away PostgreSQL with Evolution's migrations (its db.sh); yields its socket."""
    [pg_port] = free_ports(1)
    db = ["bash", str(real_gateways_built / "db.sh")]
    # One cluster under .local: a run that died may have left it up (on another port).
    subprocess.run([*db, "stop", str(real_gateways_built)], capture_output=True, timeout=60)
    started = subprocess.run(
        [*db, "start", str(real_gateways_built), str(pg_port)], capture_output=True, text=True
    )
    assert started.returncode == 0, started.stdout + started.stderr
    try:
        yield real_gateways_built / "pg" / f".s.PGSQL.{pg_port}"
    finally:
        subprocess.run([*db, "stop", str(real_gateways_built)], capture_output=True, timeout=60)


@pytest.fixture(scope="session")
async def real_evolution(
    evolution_database: Path,
    webhook_receiver: WebhookReceiver,
    tmp_path_factory: pytest.TempPathFactory,
) -> AsyncIterator[RealGateway]:
    """Evolution API 2.3.6 with its own throw-away PostgreSQL."""
    run_dir = tmp_path_factory.mktemp("evolution")
    key = f"evo-{uuid.uuid4().hex[:8]}"
    with _serve("evolution", run_dir, key, webhook_receiver, evolution_database) as url:
        await _ready(url, "/", run_dir / "evolution.log")
        yield RealGateway("evolution", url, key, webhook_receiver)
