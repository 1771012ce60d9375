"""Metrics are served on a listener of their own, never on a service's HTTP port (which may be
public): the HTTP app has no ``/metrics``, the metrics app has nothing else, and a service
whose metrics port cannot be bound does not start."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import httpx
import pytest
from pydantic import ValidationError
from starlette.applications import Starlette

from herald_devstack.processes import free_port
from herald_infra.runtime.service_app import ServiceRuntime, create_http_app, metrics_app_of
from herald_infra.runtime.settings import HeraldSettings

# Nothing listens there: the runtime is built, never started (no Kafka or MongoDB is needed).
UNREACHABLE = HeraldSettings(
    kafka_bootstrap_servers="127.0.0.1:1", mongodb_url="mongodb://127.0.0.1:1/"
)


def client(app: Starlette) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://herald")


async def test_the_http_app_serves_no_metrics_and_the_metrics_app_only_metrics() -> None:
    runtime = ServiceRuntime.create("example", UNREACHABLE)
    refreshed: list[bool] = []

    async def refresh() -> None:
        refreshed.append(True)

    runtime.before_scrape.append(refresh)
    app = create_http_app(runtime)
    try:
        async with client(app) as http:
            assert (await http.get("/metrics")).status_code == 404
            assert (await http.get("/healthz")).status_code == 200
            paths = (await http.get("/openapi.json")).json()["paths"]
        assert "/metrics" not in paths
        assert refreshed == []

        async with client(metrics_app_of(app)) as metrics:
            scrape = await metrics.get("/metrics")
            others = [(await metrics.get(path)).status_code for path in ("/healthz", "/")]
            posted = await metrics.post("/metrics")
    finally:
        await runtime.client.close()
    assert scrape.status_code == 200
    assert scrape.headers["content-type"].startswith("text/plain")
    assert "herald_message_transitions_total" in scrape.text
    assert refreshed == [True]  # the scrape-time gauges were read before the answer
    assert others == [404, 404]
    assert posted.status_code == 405


def test_the_metrics_port_must_differ_from_the_http_port() -> None:
    with pytest.raises(ValidationError, match="HERALD_METRICS_PORT must differ"):
        HeraldSettings(http_port=9102, metrics_port=9102)
    assert HeraldSettings(http_port=9102, metrics_port=9402).metrics_port == 9402


def test_a_service_whose_metrics_port_is_taken_does_not_start(tmp_path: Path) -> None:
    http_port = free_port()
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        metrics_port = taken.getsockname()[1]
        done = subprocess.run(
            [str(Path(sys.executable).parent / "herald-dispatcher")],
            env={
                **os.environ,
                "HERALD_HTTP_PORT": str(http_port),
                "HERALD_METRICS_PORT": str(metrics_port),
                "HERALD_KAFKA_BOOTSTRAP_SERVERS": "127.0.0.1:1",
                "HERALD_MONGODB_URL": "mongodb://127.0.0.1:1/",
            },
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
            cwd=tmp_path,
        )
    assert done.returncode == 3, done.stdout + done.stderr
    assert str(metrics_port) in done.stdout + done.stderr
    # It stopped before the service started: nothing of Kafka or MongoDB was tried.
    assert "service started" not in done.stdout + done.stderr
