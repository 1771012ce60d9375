"""promtool, Prometheus's checker, for the tests: installed into .local/bin by
deploy/local/promtool.sh (or prometheus.sh, `make tools-install`) out of Debian's prometheus
package."""

from __future__ import annotations

import functools
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
INSTALL = ROOT / "deploy" / "local" / "promtool.sh"


@functools.cache
def promtool() -> str:
    """The path of promtool, installed first when missing (idempotent, cached)."""
    result = subprocess.run(
        ["bash", str(INSTALL), "install"], capture_output=True, text=True, timeout=600
    )
    assert result.returncode == 0, result.stdout + result.stderr
    path = subprocess.run(
        ["bash", str(INSTALL), "path"], capture_output=True, text=True, check=True
    ).stdout.strip()
    return path


def check_metrics(exposition: str) -> subprocess.CompletedProcess[str]:
    """``promtool check metrics`` on a ``/metrics`` answer (lint of names, units, help)."""
    return subprocess.run(
        [promtool(), "check", "metrics"],
        input=exposition,
        capture_output=True,
        text=True,
        timeout=60,
    )


def check_rules(rule_file: Path) -> subprocess.CompletedProcess[str]:
    """``promtool check rules``: every expression parsed by Prometheus's own PromQL parser."""
    return subprocess.run(
        [promtool(), "check", "rules", str(rule_file)],
        capture_output=True,
        text=True,
        timeout=60,
    )


def run_rule_tests(test_file: Path) -> subprocess.CompletedProcess[str]:
    """``promtool test rules``: the alert rules a test file names, against its input series."""
    return subprocess.run(
        [promtool(), "test", "rules", str(test_file)],
        capture_output=True,
        text=True,
        timeout=120,
    )
