"""Background processes with pid files and log files, and waiting for them to be ready."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import httpx


@dataclass(frozen=True)
class ManagedProcess:
    """A long-running program started in the background, found again by its pid file."""

    name: str
    argv: Sequence[str]
    env: Mapping[str, str]
    run_dir: Path
    ready_url: str | None = None
    ready_service: str | None = None
    """When set, the ready answer must name this service (JSON ``service``): a port taken by
    another program, or a sibling given the same port, is not this process being ready."""

    @property
    def pid_path(self) -> Path:
        return self.run_dir / f"{self.name}.pid"

    @property
    def log_path(self) -> Path:
        return self.run_dir / f"{self.name}.log"

    def pid(self) -> int | None:
        """The pid of the running process, or None when it is not running."""
        try:
            pid = int(self.pid_path.read_text().strip())
        except (FileNotFoundError, ValueError):
            return None
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return None
        except PermissionError:
            return pid
        # A zombie still answers kill(0); it is not running.
        try:
            state = Path(f"/proc/{pid}/stat").read_text().split()[2]
        except (FileNotFoundError, IndexError):
            return pid
        return None if state == "Z" else pid

    def start(self) -> bool:
        """Start it unless it runs already; True when it was started now."""
        if self.pid() is not None:
            return False
        self.run_dir.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("ab") as log:
            process = subprocess.Popen(
                list(self.argv),
                env={**os.environ, **self.env},
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                start_new_session=True,
            )
        self.pid_path.write_text(str(process.pid))
        return True

    def signal(self, signum: int) -> None:
        pid = self.pid()
        if pid is not None:
            os.kill(pid, signum)

    def stop(self, timeout: float = 30.0) -> bool:
        """SIGTERM, wait up to ``timeout``, then SIGKILL; True if it was running."""
        pid = self.pid()
        if pid is None:
            self.pid_path.unlink(missing_ok=True)
            return False
        os.kill(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid() is None:
                break
            _reap(pid)
            time.sleep(0.1)
        else:
            os.kill(pid, signal.SIGKILL)
            _reap(pid)
        self.pid_path.unlink(missing_ok=True)
        return True

    def kill(self, timeout: float = 10.0) -> None:
        """SIGKILL at once: a crash, for tests. Returns once the process is gone, so that a
        ``start()`` right after starts a new one."""
        pid = self.pid()
        if pid is None:
            return
        os.kill(pid, signal.SIGKILL)
        deadline = time.monotonic() + timeout
        while self.pid() is not None:
            _reap(pid)
            if time.monotonic() > deadline:
                raise TimeoutError(f"{self.name} (pid {pid}) still runs after SIGKILL")
            time.sleep(0.02)
        _reap(pid)

    def is_ready(self) -> bool:
        if self.ready_url is None:
            return self.pid() is not None
        try:
            answer = httpx.get(self.ready_url, timeout=5)
        except httpx.HTTPError:
            return False
        if answer.status_code != 200:
            return False
        return self.ready_service is None or _service_named(answer) == self.ready_service

    def log_tail(self, lines: int = 30) -> str:
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except FileNotFoundError:
            return ""


def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on right now."""
    return free_ports(1)[0]


def free_ports(count: int) -> list[int]:
    """``count`` distinct TCP ports on 127.0.0.1 that nothing listens on right now. Each is
    held until all are chosen, so the kernel cannot hand out one of them twice."""
    with contextlib.ExitStack() as held:
        ports = []
        for _ in range(count):
            sock = held.enter_context(socket.socket())
            sock.bind(("127.0.0.1", 0))
            ports.append(int(sock.getsockname()[1]))
        return ports


def _service_named(answer: httpx.Response) -> object:
    try:
        body = answer.json()
    except ValueError:
        return None
    return body.get("service") if isinstance(body, dict) else None


def _reap(pid: int) -> None:
    """Collect a child that exited, so it does not linger as a zombie."""
    with contextlib.suppress(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)


class NotReady(RuntimeError):
    pass


def wait_ready(processes: Sequence[ManagedProcess], timeout: float) -> None:
    """Wait until every process answers its readiness URL; raises NotReady with its log tail."""
    deadline = time.monotonic() + timeout
    waiting = list(processes)
    while waiting:
        waiting = [p for p in waiting if not p.is_ready()]
        for process in waiting:
            if process.pid() is None:
                raise NotReady(f"{process.name} exited:\n{process.log_tail()}")
        if not waiting:
            return
        if time.monotonic() > deadline:
            names = ", ".join(p.name for p in waiting)
            tails = "\n".join(f"--- {p.name}\n{p.log_tail()}" for p in waiting)
            raise NotReady(f"not ready after {timeout:.0f}s: {names}\n{tails}")
        time.sleep(0.2)
