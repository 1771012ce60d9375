"""The real command line, started as a process."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import sys
import time
from pathlib import Path

import httpx
import pytest

STARTUP_DEADLINE_S = 20.0
EXIT_DEADLINE_S = 10.0


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _command() -> list[str]:
    script = Path(sys.executable).with_name("herald-gateway-simulator")
    if script.exists():
        return [str(script)]
    return [sys.executable, "-m", "herald_simulator"]


async def _wait_healthy(client: httpx.AsyncClient, proc: asyncio.subprocess.Process) -> None:
    deadline = time.monotonic() + STARTUP_DEADLINE_S
    while True:
        if proc.returncode is not None:
            raise AssertionError(f"simulator exited early ({proc.returncode})")
        try:
            if (await client.get("/healthz")).status_code == 200:
                return
        except httpx.TransportError:
            pass
        if time.monotonic() > deadline:
            raise AssertionError("simulator did not become healthy in time")
        await asyncio.sleep(0.05)  # poll interval, not a readiness guess


@pytest.mark.parametrize("stop_signal", [signal.SIGTERM, signal.SIGINT], ids=["SIGTERM", "SIGINT"])
async def test_cli_serves_and_stops_cleanly(stop_signal: signal.Signals) -> None:
    port = _free_port()
    env = {**os.environ, "SIM_API_KEY": "k3y", "SIM_SESSIONS": "default,fallback:WEBJS"}
    proc = await asyncio.create_subprocess_exec(
        *_command(),
        "--port",
        str(port),
        "--engine",
        "NOWEB",
        "--seed",
        "1",
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(
            base_url=f"http://127.0.0.1:{port}", headers={"X-Api-Key": "k3y"}, timeout=5.0
        ) as client:
            await _wait_healthy(client, proc)
            resp = await client.post(
                "/api/sendText",
                json={"session": "default", "chatId": "919876543210@c.us", "text": "hello"},
                headers={"X-Herald-Message-Id": "m1"},
            )
            assert resp.status_code == 201, resp.text
            assert resp.json()["key"]["remoteJid"] == "919876543210@c.us"
            summary = (await client.get("/_sim/sends")).json()
            assert summary["byMessage"] == {"m1": 1}
            fallback = (await client.get("/api/sessions/fallback")).json()
            assert fallback["engine"] == {"engine": "WEBJS"}
    finally:
        if proc.returncode is None:
            proc.send_signal(stop_signal)
        try:
            _, stderr_bytes = await asyncio.wait_for(proc.communicate(), EXIT_DEADLINE_S)
        except TimeoutError:
            proc.kill()
            await proc.communicate()
            raise
    stderr = stderr_bytes.decode()
    assert proc.returncode == 0, stderr
    started = [line for line in stderr.splitlines() if "listening on" in line]
    assert len(started) == 1, stderr
    assert f"http://127.0.0.1:{port}" in started[0]


async def test_cli_sigterm_does_not_wait_for_hanging_requests() -> None:
    port = _free_port()
    proc = await asyncio.create_subprocess_exec(
        *_command(),
        "--port",
        str(port),
        "--timeout-seconds",
        "120",
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            await _wait_healthy(client, proc)
            resp = await client.put("/_sim/config", json={"mode": "timeout"})
            assert resp.status_code == 200
            hanging = asyncio.ensure_future(
                client.post(
                    "/api/sendText",
                    json={"session": "default", "chatId": "919876543210@c.us", "text": "x"},
                )
            )
            # wait until the simulator has the request (it records it before hanging)
            deadline = time.monotonic() + STARTUP_DEADLINE_S
            while (await client.get("/_sim/sends")).json()["total"] == 0:
                assert time.monotonic() < deadline
                await asyncio.sleep(0.02)
            started = time.monotonic()
            proc.send_signal(signal.SIGTERM)
            answer = await asyncio.wait_for(hanging, EXIT_DEADLINE_S)
            assert answer.status_code == 503
            _, stderr_bytes = await asyncio.wait_for(proc.communicate(), EXIT_DEADLINE_S)
            assert time.monotonic() - started < 1.5  # below uvicorn's 2 s graceful timeout
    finally:
        if proc.returncode is None:
            proc.kill()
            await proc.communicate()
    stderr = stderr_bytes.decode()
    assert proc.returncode == 0, stderr
    assert "Traceback" not in stderr, stderr
