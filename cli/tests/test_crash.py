"""A bug in herald shows as a Rich traceback, without the values of local variables: they
hold the API token."""

from __future__ import annotations

import os
import subprocess
import sys

CRASHING_RUN = """
import sys, httpx
from herald_cli.main import main

def answer(request):
    raise RuntimeError("a bug in herald")

argv = ["queue", "stats", "--api", "http://herald.test", "--token", "s3cret-token"]
sys.exit(main(argv, transport=httpx.MockTransport(answer)))
"""


def test_a_crash_is_a_rich_traceback_that_does_not_show_the_token() -> None:
    env = {**os.environ, "COLUMNS": "100"}
    env.pop("TYPER_STANDARD_TRACEBACK", None)
    crashed = subprocess.run(
        [sys.executable, "-c", CRASHING_RUN],
        capture_output=True,
        text=True,
        env=env,
        timeout=60,
        check=False,
    )
    assert crashed.returncode == 1
    assert "Traceback (most recent call last)" in crashed.stderr.splitlines()[0]
    assert "herald_cli/commands/queue.py" in crashed.stderr
    assert crashed.stderr.rstrip().endswith("RuntimeError: a bug in herald")
    assert "s3cret-token" not in crashed.stderr
