"""The ``herald`` CLI against Herald as real processes, run as a user runs it: the installed
executable, as a subprocess.

The sweep runs at its production default (every five minutes), as under ``make up``: a watch
ends promptly only because it asks the scheduler for the sweep once every message ended, which
is what ``make demo`` relies on. Sends are paced (``HERALD_PACE_SCALE`` 0.1: ``fast`` gaps of
0.2-0.5 s, ``safe`` 1-3 s) so that a watch sees a campaign move and a pause finds one running.
"""

from __future__ import annotations

import asyncio
import json
import os
import pty
import re
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from herald_devstack.stack import venv_program
from tests.system import RunningStack, running_stack, stack_config

HERALD = venv_program("herald")

CLI_ENV = {
    "HERALD_PACE_SCALE": "0.1",
    "HERALD_SWEEP_CRON": "*/5 * * * *",
    "HERALD_SESSION_POLL_SECONDS": "1",
    "HERALD_CAMPAIGN_STATE_CACHE_SECONDS": "1",
}


@pytest.fixture(scope="package")
def stack(
    kafka_bootstrap: str, mongodb_url: str, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[RunningStack]:
    config = stack_config(
        kafka_bootstrap, mongodb_url, tmp_path_factory.mktemp("herald-cli"), CLI_ENV
    )
    with running_stack(config) as running:
        yield running


@dataclass(frozen=True)
class CliRun:
    argv: tuple[str, ...]
    code: int
    stdout: str
    stderr: str

    def json(self) -> Any:
        assert self.code == 0, self
        return json.loads(self.stdout)

    def json_lines(self) -> list[Any]:
        return [json.loads(line) for line in self.stdout.splitlines() if line.strip()]


async def run_herald(
    *args: str,
    env: Mapping[str, str],
    cwd: Path,
    stdin: bytes | None = None,
    timeout: float = 120,
) -> CliRun:
    """Run the installed ``herald`` with only ``env`` of Herald's variables set."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    process = await asyncio.create_subprocess_exec(
        HERALD,
        *args,
        stdin=asyncio.subprocess.PIPE if stdin is not None else asyncio.subprocess.DEVNULL,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
        env={**clean, **env},
        cwd=cwd,
    )
    try:
        out, err = await asyncio.wait_for(process.communicate(stdin), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise AssertionError(f"herald {' '.join(args)} still running after {timeout}s") from None
    assert process.returncode is not None
    return CliRun(args, process.returncode, out.decode(), err.decode())


async def run_herald_on_a_terminal(*args: str, env: Mapping[str, str], cwd: Path) -> str:
    """Run ``herald`` with its output on a pseudo-terminal 100 columns wide (an xterm); what it
    drew (``\r\n`` as ``\n``). For short runs: nobody reads the terminal until the end."""
    clean = {k: v for k, v in os.environ.items() if not k.startswith("HERALD_")}
    terminal_env = {
        **clean,
        **env,
        "COLUMNS": "100",
        "TERM": "xterm-256color",
        "PYTHONIOENCODING": "utf-8",
    }
    controller, terminal = pty.openpty()

    def run() -> int:
        completed = subprocess.run(
            [HERALD, *args],
            stdin=subprocess.DEVNULL,
            stdout=terminal,
            stderr=terminal,
            env=terminal_env,
            cwd=cwd,
            timeout=60,
            check=False,
        )
        return completed.returncode

    try:
        code = await asyncio.to_thread(run)
    finally:
        os.close(terminal)
    drawn = b""
    while True:
        try:
            chunk = os.read(controller, 4096)
        except OSError:  # EIO: the terminal side is closed and everything was read
            break
        if not chunk:
            break
        drawn += chunk
    os.close(controller)
    assert code == 0, drawn
    return drawn.decode().replace("\r\n", "\n")


class Herald:
    """Runs the CLI against the stack with a tenant's token, from an empty folder."""

    def __init__(self, stack: RunningStack, cwd: Path, token: str | None = None) -> None:
        self.env = {"HERALD_API_URL": stack.api, "HERALD_API_TOKEN": token or stack.token}
        self.cwd = cwd
        self._admin_token = stack.config.admin_token

    def keep_operator_token(self) -> None:
        """As ``make up`` does: the operator token in ``.local/admin-token``, where the watch
        finds it to ask for the sweep that marks a campaign completed (a system job)."""
        (self.cwd / ".local").mkdir(exist_ok=True)
        (self.cwd / ".local" / "admin-token").write_text(self._admin_token)

    async def __call__(
        self, *args: str, stdin: bytes | None = None, timeout: float = 120
    ) -> CliRun:
        return await run_herald(*args, env=self.env, cwd=self.cwd, stdin=stdin, timeout=timeout)


@pytest.fixture
def herald(stack: RunningStack, tmp_path: Path) -> Herald:
    return Herald(stack, tmp_path)


def terminal_screen(drawn: str) -> list[str]:
    """What a terminal shows once ``drawn`` is written: each line as last drawn (a live display
    redraws a line after a carriage return and an erase), without colours."""
    plain = re.sub(r"\x1b\[[0-9;?]*[A-Za-z]", "", drawn)
    return [line.split("\r")[-1] for line in plain.split("\n")]
