"""The Docker engine and the image for a test session, through the project's own scripts:
deploy/local/docker.sh (Debian's dockerd with the host's network left alone) and
deploy/local/image.sh (herald:<version> from the Dockerfile, on a base made from Debian where
the public Python image cannot be pulled)."""

from __future__ import annotations

import logging
import os
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
DOCKER_SCRIPT = ROOT / "deploy" / "local" / "docker.sh"
IMAGE_SCRIPT = ROOT / "deploy" / "local" / "image.sh"
INSTALL_TIMEOUT_S = 600
START_TIMEOUT_S = 120
# A cold build makes the Debian base (debootstrap) first, then the image.
BUILD_TIMEOUT_S = 1200

log = logging.getLogger("herald.tests.containers")


class EngineUnavailable(RuntimeError):
    """No Docker engine could be installed or started on this machine."""


@dataclass(frozen=True)
class DockerEngine:
    docker_host: str
    """``unix://…``: give it to clients explicitly (never through os.environ)."""
    state_dir: Path
    started_here: bool


def _script(
    script: Path, command: str, timeout: float, env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["bash", str(script), command],
        env={**os.environ, **(env or {})},
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def _value(output: str, key: str) -> str | None:
    for line in output.splitlines():
        if line.startswith(f"{key}="):
            return line.partition("=")[2].strip()
    return None


def _state_dir() -> Path:
    local = Path(os.environ.get("HERALD_LOCAL_DIR", ROOT / ".local"))
    return Path(os.environ.get("DOCKER_STATE_DIR", local / "docker"))


@contextmanager
def docker_engine() -> Iterator[DockerEngine]:
    """deploy/local/docker.sh's engine: installed when missing, started unless it runs, and
    stopped at the end when started here. Raises EngineUnavailable when it cannot start."""
    env = {"HERALD_OWNER_PID": str(os.getpid())}
    begin = time.monotonic()
    installed = _script(DOCKER_SCRIPT, "install", INSTALL_TIMEOUT_S, env)
    if installed.returncode != 0:
        raise EngineUnavailable(f"deploy/local/docker.sh install failed: {installed.stderr}")
    log.info("engine installed in %.1fs", time.monotonic() - begin)
    already = _script(DOCKER_SCRIPT, "status", START_TIMEOUT_S, env).returncode == 0
    started = _script(DOCKER_SCRIPT, "start", START_TIMEOUT_S, env)
    docker_host = _value(started.stdout, "DOCKER_HOST")
    if started.returncode != 0 or docker_host is None:
        raise EngineUnavailable(
            f"deploy/local/docker.sh start failed (exit {started.returncode}): "
            f"{started.stdout}{started.stderr}"
        )
    log.info("engine %s in %.1fs", "reused" if already else "started", time.monotonic() - begin)
    try:
        yield DockerEngine(docker_host, _state_dir(), started_here=not already)
    finally:
        if not already:
            stopped = _script(DOCKER_SCRIPT, "stop", START_TIMEOUT_S, env)
            assert stopped.returncode == 0, stopped.stdout + stopped.stderr


def build_image(engine: DockerEngine) -> str:
    """deploy/local/image.sh build on the engine; returns the image's name."""
    begin = time.monotonic()
    built = _script(IMAGE_SCRIPT, "build", BUILD_TIMEOUT_S, {"DOCKER_HOST": engine.docker_host})
    image = _value(built.stdout, "HERALD_IMAGE")
    assert built.returncode == 0 and image, (
        f"deploy/local/image.sh build failed (exit {built.returncode}):\n"
        f"{built.stdout}{built.stderr[-4000:]}"
    )
    log.info("image %s built in %.1fs", image, time.monotonic() - begin)
    return image


def mounts_under(folder: Path) -> list[str]:
    """Mount points inside ``folder``: what an engine left mounted."""
    points = [line.split()[4] for line in Path("/proc/self/mountinfo").read_text().splitlines()]
    return [point for point in points if point.startswith(f"{folder}/")]


def processes_under(folder: Path) -> list[str]:
    """Command lines of the live processes that name ``folder`` (the engine's dockerd,
    containerd and its shims all do): what an engine left running."""
    found = []
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
        except OSError:
            continue
        if str(folder) in cmdline:
            found.append(f"{proc.name}: {cmdline}")
    return found
