"""Every installed service command answers ``--help`` with its usage and exits at once, without
starting (no port bound, no Kafka or MongoDB needed), and refuses arguments it does not take."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

SERVICES = {
    "herald-campaign": (3000, 9401),
    "herald-dispatcher": (9102, 9402),
    "herald-primary-sender": (9103, 9403),
    "herald-fallback-sender": (9104, 9404),
    "herald-scheduler": (9105, 9405),
}
BIN = Path(sys.executable).parent


def command(name: str) -> str:
    path = shutil.which(name, path=str(BIN))
    assert path, f"{name} is not installed in {BIN} (make deps)"
    return path


@pytest.mark.parametrize(("name", "ports"), SERVICES.items())
def test_help_prints_usage_and_exits_without_starting(name: str, ports: tuple[int, int]) -> None:
    port, metrics_port = ports
    done = subprocess.run(
        [command(name), "--help"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"usage: {name}")
    assert f"HERALD_HTTP_PORT (default {port})" in done.stdout
    assert f"HERALD_METRICS_PORT (default {metrics_port}): /metrics" in done.stdout
    assert "HERALD_KAFKA_BOOTSTRAP_SERVERS" in done.stdout
    assert "Started" not in done.stderr and "Uvicorn running" not in done.stderr


@pytest.mark.parametrize("name", SERVICES)
def test_an_unknown_argument_fails_instead_of_being_ignored(name: str) -> None:
    done = subprocess.run(
        [command(name), "--port", "1"], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 2
    assert "unrecognized arguments" in done.stderr
